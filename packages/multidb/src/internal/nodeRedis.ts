import { Duration, Effect } from "effect"
import { createClient, type RedisClientOptions } from "redis"
import type { DatabaseConfig } from "../DatabaseConfig.js"
import type { ConnectOptions, RedisClient, RedisConnection } from "../RedisConnection.js"

const reconnectStrategy = (retries: number) =>
  Math.min(50 * 2 ** Math.min(retries, 6), 2000) + Math.floor(Math.random() * 50)

export const clientOptions = (config: DatabaseConfig, options: ConnectOptions): RedisClientOptions => {
  const base = (config.clientOptions ?? {}) as RedisClientOptions
  const socket = (base.socket ?? {}) as Record<string, unknown>
  return {
    ...base,
    ...(config.url === undefined ? {} : { url: config.url }),
    disableOfflineQueue: true,
    commandOptions: { timeout: Duration.toMillis(options.commandTimeout), ...base.commandOptions },
    socket: {
      connectTimeout: Duration.toMillis(options.connectTimeout),
      reconnectStrategy,
      ...socket
    } as RedisClientOptions["socket"]
  }
}

const open = (options: RedisClientOptions, onLost: (() => void) | undefined) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const client = createClient(options) as unknown as RedisClient
      let ready = false
      client.on("error", () => {
        if (ready) {
          ready = false
          onLost?.()
        }
      })
      client.on("end", () => {
        ready = false
      })
      client.on("ready", () => {
        ready = true
      })
      client.connect().catch(() => {})
      return client
    }),
    (client) =>
      Effect.sync(() => {
        try {
          client.destroy()
        } catch {
          // already closed
        }
      })
  )

export const connect = (config: DatabaseConfig, options: ConnectOptions) =>
  Effect.gen(function* () {
    const redisOptions = clientOptions(config, options)
    const client = yield* open(redisOptions, options.onConnectionLost)
    const healthClient = yield* open(redisOptions, undefined)
    const run =
      (target: RedisClient) =>
      <A>(f: (client: RedisClient) => Promise<A>): Effect.Effect<A, unknown> =>
        Effect.tryPromise({ try: () => f(target), catch: (error) => error })
    const connection: RedisConnection = {
      database: config.id,
      run: run(client),
      health: {
        ping: Effect.tryPromise({ try: () => healthClient.ping(), catch: (error) => error }),
        run: run(healthClient)
      }
    }
    return connection
  })
