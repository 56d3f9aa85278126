/**
 * An in-memory `RedisConnector` whose databases a test scripts: up, down (connection refused), hanging (no answer),
 * failing with a chosen error, unhealthy to PING. Built for `TestClock` tests of the engine and of an application's
 * own failover handling; time only passes through Effect's `Clock`.
 *
 * @since 0.1.0
 */
import { Context, Data, Deferred, Duration, Effect, Layer, Ref, type Scope } from "effect"
import { ErrorReply } from "redis"
import type { DatabaseConfig } from "./DatabaseConfig.js"
import { CommandAbandonedError } from "./internal/classify.js"
import * as RedisConnection from "./RedisConnection.js"

/**
 * The command did not answer within the command timeout.
 *
 * @since 0.1.0
 * @category errors
 */
export class InMemoryTimeout extends Data.TaggedError("InMemoryTimeout")<{ readonly database: string }> {}

/**
 * The database refused the connection: the command was never sent.
 *
 * @since 0.1.0
 * @category errors
 */
export class InMemoryUnavailable extends Data.TaggedError("InMemoryUnavailable")<{ readonly database: string }> {}

/**
 * How a scripted database behaves.
 *
 * @since 0.1.0
 * @category models
 */
export type Behaviour =
  | "up"
  /** Connection refused: commands and pings fail at once, never sent. */
  | "down"
  /** Frozen: commands and pings never answer; the command timeout ends them. */
  | "hanging"

/**
 * One scripted database.
 *
 * @since 0.1.0
 * @category models
 */
export interface InMemoryDatabase {
  readonly id: string
  /** Its keys and values. */
  readonly data: Map<string, string>
  readonly setBehaviour: (behaviour: Behaviour) => Effect.Effect<void>
  /** Every command fails with this error (e.g. `new ErrorReply("LOADING ...")`) until set back to `undefined`. */
  readonly failCommandsWith: (error: unknown) => Effect.Effect<void>
  /**
   * Commands (not health probes) answer only after this long; one at or beyond the command timeout times out while
   * the database still answers PING (a command slow by nature). `Duration.zero` turns it off.
   */
  readonly setCommandDelay: (delay: Duration.DurationInput) => Effect.Effect<void>
  /** PING answers, but the health check reports this. */
  readonly setPingHealthy: (healthy: boolean) => Effect.Effect<void>
  /** Commands served (answered, successfully or with an error reply). */
  readonly commandsServed: Effect.Effect<number>
  /** Health probes answered. */
  readonly pings: Effect.Effect<number>
  /** Times its connections were opened and are still open. */
  readonly openConnections: Effect.Effect<number>
}

/**
 * The registry of scripted databases: `database(id)` returns (creating on first use) the database of that id.
 *
 * @since 0.1.0
 * @category tags
 */
export class InMemory extends Context.Tag("@effect-redis/multidb/InMemory")<
  InMemory,
  { readonly database: (id: string) => InMemoryDatabase }
>() {}

interface State {
  behaviour: Behaviour
  failWith: unknown
  commandDelay: Duration.Duration
  pingHealthy: boolean
  served: number
  pings: number
  open: number
  readonly data: Map<string, string>
  readonly lostListeners: Set<() => void>
  readonly subscriptions: Set<InMemorySubscription>
}

interface InMemorySubscription {
  readonly kind: RedisConnection.SubscriptionKind
  readonly name: string
  readonly listener: (message: string, channel: string) => void
}

const globToRegExp = (pattern: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replace(/\*/g, ".*")
      .replace(/\?/g, ".")}$`
  )

const deliver = (state: State, kind: "channel" | "shard", channel: string, message: string) => {
  let receivers = 0
  for (const sub of state.subscriptions) {
    const matches =
      sub.kind === "pattern"
        ? kind === "channel" && globToRegExp(sub.name).test(channel)
        : sub.kind === kind && sub.name === channel
    if (matches) {
      receivers++
      sub.listener(message, channel)
    }
  }
  return receivers
}

const execute = (state: State, args: ReadonlyArray<unknown>): unknown => {
  const data = state.data
  const [name, ...rest] = args.map((a) => (Buffer.isBuffer(a) ? a.toString() : String(a)))
  switch (name?.toUpperCase()) {
    case "PUBLISH":
      return deliver(state, "channel", rest[0]!, rest[1]!)
    case "SPUBLISH":
      return deliver(state, "shard", rest[0]!, rest[1]!)
    case "PING":
      return rest[0] ?? "PONG"
    case "ECHO":
      return rest[0] ?? ""
    case "GET":
      return data.get(rest[0]!) ?? null
    case "SET":
      data.set(rest[0]!, rest[1]!)
      return "OK"
    case "DEL": {
      let removed = 0
      for (const key of rest) if (data.delete(key)) removed++
      return removed
    }
    case "EXISTS":
      return rest.filter((k) => data.has(k)).length
    case "INCR": {
      const next = Number(data.get(rest[0]!) ?? "0") + 1
      if (!Number.isInteger(next)) throw new ErrorReply("ERR value is not an integer or out of range")
      data.set(rest[0]!, String(next))
      return next
    }
    case "MGET":
      return rest.map((k) => data.get(k) ?? null)
    case "DBSIZE":
      return data.size
    case "FLUSHALL":
      data.clear()
      return "OK"
    default:
      throw new ErrorReply(`ERR unknown command '${name}'`)
  }
}

const execNames = new Set(["exec", "execAsPipeline", "execTyped", "execAsPipelineTyped", "EXEC"])

/** A MULTI / pipeline stand-in: queues commands and runs them in order on `exec`. */
const fakeMulti = (run: (args: ReadonlyArray<unknown>) => Promise<unknown>) => {
  const queue: Array<ReadonlyArray<unknown>> = []
  const multi: unknown = new Proxy(
    {},
    {
      get: (_, property) => {
        if (typeof property !== "string" || property === "then") return undefined
        if (execNames.has(property)) {
          return async () => {
            const replies: Array<unknown> = []
            for (const args of queue) replies.push(await run(args))
            return replies
          }
        }
        if (property === "addCommand") {
          return (args: ReadonlyArray<unknown>) => {
            queue.push(args)
            return multi
          }
        }
        return (...args: Array<unknown>) => {
          queue.push([property, ...args])
          return multi
        }
      }
    }
  )
  return multi
}

const fakeClient = (state: State): RedisConnection.RedisClient => {
  const run = (args: ReadonlyArray<unknown>) => {
    if (state.failWith !== undefined) return Promise.reject(state.failWith)
    state.served++
    try {
      return Promise.resolve(execute(state, args))
    } catch (error) {
      return Promise.reject(error)
    }
  }
  return new Proxy(
    {},
    {
      get: (_, property) => {
        if (property === "sendCommand") return (args: ReadonlyArray<unknown>) => run(args)
        if (property === "multi") return () => fakeMulti(run)
        if (property === "watch" || property === "unwatch") return () => Promise.resolve("OK")
        if (typeof property !== "string" || property === "then") return undefined
        return (...args: Array<unknown>) => run([property, ...args])
      }
    }
  ) as RedisConnection.RedisClient
}

const connection = (
  state: State,
  config: DatabaseConfig,
  options: RedisConnection.ConnectOptions
): Effect.Effect<RedisConnection.RedisConnection, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      state.open++
      state.lostListeners.add(options.onConnectionLost)
      const client = fakeClient(state)
      /** Completed by `abandon`: every call waiting for its reply on the command connection fails at once. */
      let abandoned = Effect.runSync(Deferred.make<never, unknown>())
      const timedOut = Effect.fail(new InMemoryTimeout({ database: config.id }))
      const waitForReply = (delay: Duration.Duration, reply: Effect.Effect<unknown, unknown>, abandonable: boolean) => {
        const wait = Duration.lessThan(delay, options.commandTimeout)
          ? Effect.zipRight(Effect.sleep(delay), reply)
          : Effect.zipRight(Effect.sleep(options.commandTimeout), timedOut)
        return abandonable ? Effect.raceFirst(wait, Deferred.await(abandoned)) : wait
      }
      const gate = <A>(effect: Effect.Effect<A, unknown>, abandonable = false): Effect.Effect<A, unknown> =>
        Effect.suspend(() => {
          switch (state.behaviour) {
            case "down":
              return Effect.fail(new InMemoryUnavailable({ database: config.id }))
            case "hanging":
              return waitForReply(options.commandTimeout, timedOut, abandonable) as Effect.Effect<A, unknown>
            case "up":
              return abandonable && Duration.greaterThan(state.commandDelay, Duration.zero)
                ? (waitForReply(state.commandDelay, effect, true) as Effect.Effect<A, unknown>)
                : effect
          }
        })
      const run = <A>(f: (client: RedisConnection.RedisClient) => Promise<A>) =>
        gate(Effect.tryPromise({ try: () => f(client), catch: (error) => error }), true)
      const healthRun = <A>(f: (client: RedisConnection.RedisClient) => Promise<A>) =>
        gate(Effect.tryPromise({ try: () => f(client), catch: (error) => error }))
      const result: RedisConnection.RedisConnection = {
        database: config.id,
        run,
        runIsolated: run,
        abandon: Effect.suspend(() => {
          const previous = abandoned
          abandoned = Effect.runSync(Deferred.make<never, unknown>())
          return Deferred.fail(previous, new CommandAbandonedError(config.id))
        }).pipe(Effect.asVoid),
        subscriber: Effect.acquireRelease(
          gate(
            Effect.sync(() => {
              const mine = new Set<InMemorySubscription>()
              state.open++
              const subscriber: RedisConnection.Subscriber = {
                subscribe: (kind, name, listener) =>
                  gate(
                    Effect.sync(() => {
                      const sub = { kind, name, listener }
                      mine.add(sub)
                      state.subscriptions.add(sub)
                    })
                  ),
                unsubscribe: (kind, name) =>
                  gate(
                    Effect.sync(() => {
                      for (const sub of mine) {
                        if (sub.kind === kind && sub.name === name) {
                          mine.delete(sub)
                          state.subscriptions.delete(sub)
                        }
                      }
                    })
                  )
              }
              return { subscriber, mine }
            })
          ),
          ({ mine }) =>
            Effect.sync(() => {
              state.open--
              for (const sub of mine) state.subscriptions.delete(sub)
            })
        ).pipe(Effect.map(({ subscriber }) => subscriber)),
        health: {
          run: healthRun,
          ping: gate(
            Effect.suspend(() => {
              state.pings++
              return state.pingHealthy ? Effect.void : Effect.fail(new Error("PING answered unhealthy"))
            })
          )
        }
      }
      return result
    }),
    () =>
      Effect.sync(() => {
        state.open--
        state.lostListeners.delete(options.onConnectionLost)
      })
  )

/**
 * Builds a registry of scripted databases and a `RedisConnector` over it. Databases start up, with no keys.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.gen(function* () {
  const states = yield* Ref.make(new Map<string, State>())
  const stateOf = (id: string): State => {
    const map = Effect.runSync(Ref.get(states))
    let state = map.get(id)
    if (state === undefined) {
      state = {
        behaviour: "up",
        failWith: undefined,
        commandDelay: Duration.zero,
        pingHealthy: true,
        served: 0,
        pings: 0,
        open: 0,
        data: new Map(),
        lostListeners: new Set(),
        subscriptions: new Set()
      }
      map.set(id, state)
    }
    return state
  }
  const database = (id: string): InMemoryDatabase => {
    const state = stateOf(id)
    return {
      id,
      data: state.data,
      setBehaviour: (behaviour) =>
        Effect.sync(() => {
          const wasUp = state.behaviour === "up"
          state.behaviour = behaviour
          if (wasUp && behaviour === "down") for (const listener of state.lostListeners) listener()
        }),
      setCommandDelay: (delay) =>
        Effect.sync(() => {
          state.commandDelay = Duration.decode(delay)
        }),
      failCommandsWith: (error) =>
        Effect.sync(() => {
          state.failWith = error
        }),
      setPingHealthy: (healthy) =>
        Effect.sync(() => {
          state.pingHealthy = healthy
        }),
      commandsServed: Effect.sync(() => state.served),
      pings: Effect.sync(() => state.pings),
      openConnections: Effect.sync(() => state.open)
    }
  }
  const connector: Context.Tag.Service<RedisConnection.RedisConnector> = {
    connect: (config, options) => connection(stateOf(config.id), config, options)
  }
  return { registry: { database }, connector }
})

/**
 * The scripted databases and the connector over them, as one layer: provide it under `MultiDbClient.layer` in tests.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<InMemory | RedisConnection.RedisConnector> = Layer.effectContext(
  Effect.map(make, ({ connector, registry }) =>
    Context.make(InMemory, registry).pipe(Context.add(RedisConnection.RedisConnector, connector))
  )
)

/**
 * A command timeout shorter than the default, handy for tests: `"100 millis"`.
 *
 * @since 0.1.0
 * @category utils
 */
export const shortTimeout: Duration.Duration = Duration.millis(100)
