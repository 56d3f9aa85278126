import { Duration, Effect, Schedule } from "effect"
import { createClient, type RedisClientOptions } from "redis"

/** Destroys a node-redis client; node-redis 5 throws when it is closed already, 6 does not. */
export const destroyQuietly = (client: { destroy: () => void }) => {
  try {
    client.destroy()
  } catch {
    // already closed
  }
}

/** A connected node-redis client whose 'error' events are collected; destroyed when the scope closes. */
export const connect = (options: RedisClientOptions) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const errors: Array<Error> = []
      const client = createClient(options)
      client.on("error", (error: Error) => errors.push(error))
      await client.connect()
      return { client, errors }
    }),
    ({ client }) => Effect.sync(() => destroyQuietly(client))
  )

/**
 * The error a new node-redis connection fails with (no reconnects), or "connected". A PING follows the handshake:
 * node-redis 5 ignores the errors of its handshake's `CLIENT SETINFO`, so a missing password shows only then.
 */
export const connectError = (options: RedisClientOptions) =>
  Effect.promise(async () => {
    const client = createClient({ ...options, socket: { ...options.socket, reconnectStrategy: false } })
    client.on("error", () => {})
    try {
      await client.connect()
      await client.ping()
      return "connected" as const
    } catch (error) {
      return error as Error & { readonly code?: string }
    } finally {
      destroyQuietly(client)
    }
  })

/** Runs a promise-returning function and returns its rejection (or "resolved"). */
export const rejection = <A>(f: () => Promise<A>) =>
  Effect.promise(() =>
    f().then(
      () => "resolved" as const,
      (error: unknown) => error as Error & { readonly code?: string }
    )
  )

/** Polls `condition` every 20 ms until it holds; dies after `bound`. */
export const waitUntil = (
  condition: Effect.Effect<boolean> | (() => boolean),
  bound: Duration.DurationInput = "10 seconds"
) =>
  (typeof condition === "function" ? Effect.sync(condition) : condition).pipe(
    Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (holds) => holds }),
    Effect.timeoutFail({
      duration: bound,
      onTimeout: () => new Error(`condition not met within ${Duration.format(Duration.decode(bound))}`)
    }),
    Effect.orDie,
    Effect.asVoid
  )

/** True while a process with this pid exists. */
export const processExists = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
