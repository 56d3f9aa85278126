import { Duration, Effect, Schedule } from "effect"
import { createClient, createCluster, type RedisClientOptions, type RedisClusterOptions } from "redis"
import type { DatabaseConfig } from "../DatabaseConfig.js"
import type { ConnectOptions, RedisClient, RedisConnection, Subscriber, SubscriptionKind } from "../RedisConnection.js"
import { CommandAbandonedError, CommandTimeoutError } from "./classify.js"
import * as ClusterHealth from "./clusterHealth.js"
import { readOnlyCommands } from "./commands.js"

const isReadOnly = (command: string) => readOnlyCommands.has(command)

const reconnectStrategy = (retries: number) =>
  Math.min(50 * 2 ** Math.min(retries, 6), 2000) + Math.floor(Math.random() * 50)

export const clientOptions = (config: DatabaseConfig, options: ConnectOptions): RedisClientOptions => {
  const base = (config.clientOptions ?? {}) as RedisClientOptions
  const socket = (base.socket ?? {}) as Record<string, unknown>
  return {
    ...base,
    ...(config.url === undefined ? {} : { url: config.url }),
    disableOfflineQueue: true,
    // node-redis' own timeout (5 s by default) arms an AbortSignal timer per command and only covers the wait to be
    // written; the connection's deadlines (see `deadlines`) cover the whole command, so it is switched off.
    commandOptions: { ...base.commandOptions, timeout: 0 },
    socket: {
      connectTimeout: Duration.toMillis(options.connectTimeout),
      reconnectStrategy,
      ...socket
    } as RedisClientOptions["socket"]
  }
}

const pubSubMethods: Record<SubscriptionKind, readonly [string, string]> = {
  channel: ["subscribe", "unsubscribe"],
  pattern: ["pSubscribe", "pUnsubscribe"],
  shard: ["sSubscribe", "sUnsubscribe"]
}

type PubSubMethod = (name: string, listener?: (message: string, channel: string) => void) => Promise<void>

/** A node-redis client or cluster in pub/sub use, seen through `Subscriber`; `bounded` puts each call under a deadline. */
const subscriberOf = (
  connection: object,
  bounded: (call: () => Promise<void>) => Effect.Effect<void, unknown>
): Subscriber => {
  const method = (name: string) => (connection as Record<string, PubSubMethod>)[name]!.bind(connection)
  return {
    subscribe: (kind, name, listener) => bounded(() => method(pubSubMethods[kind][0])(name, listener)),
    unsubscribe: (kind, name) => bounded(() => method(pubSubMethods[kind][1])(name))
  }
}

/** Closes a client at once; one that is already closed is fine. */
const destroyQuietly = (connection: { readonly destroy: () => void }) =>
  Effect.sync(() => {
    try {
      connection.destroy()
    } catch {
      // already closed
    }
  })

interface Opened {
  readonly client: RedisClient
  /** Settles when the first connection attempt ends: ready, or its first error. */
  readonly firstAttempt: Promise<void>
}

const open = (options: RedisClientOptions, onLost: (() => void) | undefined) =>
  Effect.acquireRelease(
    Effect.sync((): Opened => {
      const client = createClient(options) as unknown as RedisClient
      let ready = false
      let settle: () => void = () => {}
      const firstAttempt = new Promise<void>((resolve) => {
        settle = resolve
      })
      client.on("error", () => {
        settle()
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
        settle()
      })
      client.connect().catch(() => {})
      return { client, firstAttempt }
    }),
    ({ client }) => destroyQuietly(client)
  )

interface Pending {
  readonly deadline: number
  settled: boolean
  readonly timeout: () => void
  readonly abandon: () => void
}

/**
 * node-redis' own command timeout only covers the wait to be written, not the wait for the reply, so a frozen server
 * would hold a command forever. Calls are tracked with a deadline, and one sweeper fiber per database fails the
 * overdue ones: per call the cost is a set insertion, not a timer.
 */
const deadlines = (timeout: Duration.Duration, database = "") =>
  Effect.gen(function* () {
    const timeoutMillis = Duration.toMillis(timeout)
    const pending = new Set<Pending>()
    // A missed deadline is evidence of a hang (the database is probed at once), so it is noticed within 20 ms.
    const resolution = Math.min(20, Math.max(5, timeoutMillis / 10))
    yield* Effect.forkScoped(
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          if (pending.size === 0) return
          const now = clock.unsafeCurrentTimeMillis()
          for (const entry of pending) {
            if (entry.deadline <= now) {
              pending.delete(entry)
              entry.settled = true
              entry.timeout()
            }
          }
        })
      ).pipe(Effect.repeat(Schedule.spaced(resolution)))
    )
    const clock = yield* Effect.clock
    /** Settles every pending call at once (the client moved away from the database). */
    const abandon = Effect.sync(() => {
      for (const entry of pending) {
        pending.delete(entry)
        entry.settled = true
        entry.abandon()
      }
    })
    const call = <A>(client: RedisClient, f: (client: RedisClient) => Promise<A>): Effect.Effect<A, unknown> =>
      Effect.async<A, unknown>((resume) => {
        const entry: Pending = {
          deadline: clock.unsafeCurrentTimeMillis() + timeoutMillis,
          settled: false,
          timeout: () => resume(Effect.fail(new CommandTimeoutError(timeoutMillis))),
          abandon: () => resume(Effect.fail(new CommandAbandonedError(database)))
        }
        pending.add(entry)
        let promise: Promise<A>
        try {
          promise = f(client)
        } catch (error) {
          promise = Promise.reject(error)
        }
        promise.then(
          (value) => {
            if (entry.settled) return
            entry.settled = true
            pending.delete(entry)
            resume(Effect.succeed(value))
          },
          (error) => {
            if (entry.settled) return
            entry.settled = true
            pending.delete(entry)
            resume(Effect.fail(error))
          }
        )
        // No canceler: returning one makes every call pay for an interruption handler. An interrupted call's entry
        // is dropped by the sweeper at its deadline, so memory stays bounded by rate × timeout.
      })
    return Object.assign(call, { abandon })
  })

export const connect = (config: DatabaseConfig, options: ConnectOptions) =>
  config.cluster === undefined ? connectStandalone(config, options) : connectCluster(config, options)

const newCluster = (options: RedisClusterOptions) => createCluster(options as RedisClusterOptions<{}, {}, {}, 3>)
type Cluster = ReturnType<typeof newCluster>

/**
 * A cluster client seen through the standalone interface: `sendCommand(args)` routes by the first key (`args[1]`).
 */
const asClient = (cluster: Cluster, readOnly: (command: string) => boolean): RedisClient =>
  new Proxy(cluster, {
    get: (target, property, receiver) => {
      if (property === "sendCommand") {
        return (args: ReadonlyArray<string | Buffer>) =>
          target.sendCommand(args[1], readOnly(String(args[0]).toUpperCase()), [...args])
      }
      const value = Reflect.get(target, property, receiver)
      return typeof value === "function" ? value.bind(target) : value
    }
  }) as unknown as RedisClient

const openCluster = (options: RedisClusterOptions) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const cluster: Cluster = newCluster(options)
      cluster.on("error", () => {})
      let settle: () => void = () => {}
      const firstAttempt = new Promise<void>((resolve) => {
        settle = resolve
      })
      cluster.connect().then(settle, settle)
      return { cluster, firstAttempt }
    }),
    ({ cluster }) => destroyQuietly(cluster)
  )

const connectCluster = (config: DatabaseConfig, options: ConnectOptions) =>
  Effect.gen(function* () {
    const withDeadline = yield* deadlines(options.commandTimeout, config.id)
    const base = (config.cluster?.options ?? {}) as Partial<RedisClusterOptions>
    const defaults = (base.defaults ?? {}) as Record<string, unknown>
    const clusterOptions = {
      ...base,
      rootNodes: config.cluster!.rootNodes.map((node) => ({ url: node.url })),
      defaults: {
        ...defaults,
        disableOfflineQueue: true,
        socket: {
          connectTimeout: Duration.toMillis(options.connectTimeout),
          reconnectStrategy,
          ...((defaults.socket ?? {}) as object)
        }
      }
    } as RedisClusterOptions
    const { cluster } = yield* openCluster(clusterOptions)
    const { cluster: healthCluster, firstAttempt } = yield* openCluster(clusterOptions)
    const client = asClient(cluster, isReadOnly)
    /** Every master answers and reports the cluster ready (see `clusterHealth`). */
    const ping = withDeadline(client, async () => {
      await firstAttempt
      await ClusterHealth.check(healthCluster as unknown as ClusterHealth.ClusterView)
    })
    const run = <A>(f: (client: RedisClient) => Promise<A>): Effect.Effect<A, unknown> => withDeadline(client, f)
    const subscriber = Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const sub = cluster.duplicate()
          sub.on("error", () => {})
          await sub.connect()
          return sub
        },
        catch: (error) => error
      }),
      destroyQuietly
    ).pipe(Effect.map((sub) => subscriberOf(sub, (call) => withDeadline(client, call))))
    const connection: RedisConnection = {
      database: config.id,
      run,
      abandon: withDeadline.abandon,
      runIsolated: () =>
        Effect.fail(
          new Error("WATCH transactions are not supported on a cluster database: use a transaction without watch")
        ),
      health: { ping, run: (f) => withDeadline(asClient(healthCluster, isReadOnly), f) },
      subscriber
    }
    return connection
  })

const connectStandalone = (config: DatabaseConfig, options: ConnectOptions) =>
  Effect.gen(function* () {
    const withDeadline = yield* deadlines(options.commandTimeout, config.id)
    const commandDeadline = yield* deadlines(options.commandTimeout, config.id)
    const redisOptions = clientOptions(config, options)
    const { client } = yield* open(redisOptions, options.onConnectionLost)
    const { client: healthClient, firstAttempt } = yield* open(redisOptions, undefined)
    const withConnectDeadline = yield* deadlines(options.connectTimeout)
    /**
     * PING. While the first connection attempt is still under way, wait for it (bounded by the connect timeout)
     * instead of failing as offline; the command timeout then bounds the PING itself.
     */
    const ping = Effect.zipRight(
      Effect.suspend(() =>
        healthClient.isReady ? Effect.void : withConnectDeadline(healthClient, () => firstAttempt)
      ),
      withDeadline(healthClient, (c) => c.ping())
    )
    const run =
      (target: RedisClient) =>
      <A>(f: (client: RedisClient) => Promise<A>): Effect.Effect<A, unknown> =>
        withDeadline(target, f)
    const runIsolated = <A>(f: (client: RedisClient) => Promise<A>): Effect.Effect<A, unknown> =>
      Effect.acquireUseRelease(
        Effect.tryPromise({
          try: async () => {
            const isolated = client.duplicate({
              socket: { ...redisOptions.socket, reconnectStrategy: false }
            } as RedisClientOptions) as unknown as RedisClient
            isolated.on("error", () => {})
            await isolated.connect()
            return isolated
          },
          catch: (error) => error
        }),
        (isolated) => withDeadline(isolated, f),
        destroyQuietly
      )
    const subscriber = Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          let connected = false
          const sub = client.duplicate({
            socket: {
              ...redisOptions.socket,
              // give up at once while connecting for the first time; afterwards reconnect (and resubscribe) as usual
              reconnectStrategy: (retries: number) => (connected ? reconnectStrategy(retries) : false)
            }
          } as RedisClientOptions) as unknown as RedisClient
          sub.on("error", () => {})
          await sub.connect()
          connected = true
          return sub
        },
        catch: (error) => error
      }),
      destroyQuietly
    ).pipe(Effect.map((sub) => subscriberOf(sub, (call) => withDeadline(sub, call))))
    const connection: RedisConnection = {
      subscriber,
      database: config.id,
      run: (f) => commandDeadline(client, f),
      runIsolated,
      abandon: commandDeadline.abandon,
      health: {
        ping,
        run: run(healthClient)
      }
    }
    return connection
  })
