import { Cause, Duration, Effect, Exit, Option, Pool, type Scope } from "effect"
import { createClient, createCluster, type RedisClientOptions, type RedisClusterOptions } from "redis"
import type { DatabaseConfig } from "../DatabaseConfig.js"
import type {
  ConnectOptions,
  Continuation,
  RedisClient,
  RedisConnection,
  Subscriber,
  SubscriptionKind
} from "../RedisConnection.js"
import {
  CommandAbandonedError,
  CommandTimeoutError,
  ConnectionReplacedError,
  NotSentError,
  SlotMapIncompleteError
} from "./classify.js"
import * as ClusterHealth from "./clusterHealth.js"
import { direct as directMark, directResp, firstKey, readOnlyCommands } from "./commands.js"
import * as FastPath from "./fastPath.js"

const isReadOnly = (command: string) => readOnlyCommands.has(command)

const reconnectStrategy = (retries: number) =>
  Math.min(50 * 2 ** Math.min(retries, 6), 2000) + Math.floor(Math.random() * 50)

export const clientOptions = (config: DatabaseConfig, options: ConnectOptions): RedisClientOptions => {
  const base = config.redisOptions ?? {}
  const socket = (base.socket ?? {}) as Record<string, unknown>
  return {
    ...base,
    ...(config.redisUrl === undefined ? {} : { url: config.redisUrl }),
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

/**
 * How long a connection may take to become ready (to connect, then to answer its handshake): a connection of its own
 * within this connects or fails, and a shared one not ready for longer is replaced.
 */
const readyLimit = (options: ConnectOptions): Duration.Duration =>
  Duration.sum(options.connectTimeout, options.commandTimeout)

/**
 * A client of its own (pub/sub, isolated, blocking), connected within `readyLimit`: a server that accepts the connection
 * but never answers the handshake (a frozen process) would otherwise hold the caller, and whatever it holds, for ever.
 * The client is destroyed with the scope, whether it connected or not.
 */
const connectOwn = <C extends { readonly connect: () => Promise<unknown>; readonly destroy: () => void }>(
  create: () => C,
  options: ConnectOptions
): Effect.Effect<C, unknown, Scope.Scope> => {
  const limit = readyLimit(options)
  return Effect.acquireRelease(Effect.sync(create), destroyQuietly).pipe(
    Effect.tap((client) =>
      Effect.tryPromise({ try: () => client.connect(), catch: (error) => error }).pipe(
        Effect.timeoutFail({
          duration: limit,
          onTimeout: () =>
            new NotSentError(`the connection was not ready within ${Duration.format(limit)} (connect timed out)`)
        })
      )
    )
  )
}

/** Closes a client at once; one that is already closed is fine. */
const destroyQuietly = (connection: { readonly destroy: () => void }) =>
  Effect.sync(() => {
    destroyNow(connection)
  })

const destroyNow = (connection: { readonly destroy: () => void }) => {
  try {
    connection.destroy()
  } catch {
    // already closed
  }
}

/**
 * One connection (a node-redis client, or a cluster client seen as one) that calls run on. When a call misses its
 * deadline, `overdue` replaces the connection: the client is destroyed (which also drops whatever reply it was still
 * reading) and a fresh one takes its place for the next calls.
 */
interface Target {
  readonly client: RedisClient
  /** Settles when the first connection attempt ends: ready, or its first error. */
  readonly firstAttempt: Promise<void>
  /** Set once the connection was replaced: its calls' `DisconnectsClientError`s mean "replaced". */
  replaced: boolean
  /** Whether calls rejected by the replacement can be told apart: written ones get `ConnectionReplacedError(true)`. */
  precise: boolean
  /** Called by the sweeper when a call on this target missed its deadline. */
  readonly overdue: () => void
  /** Since when (clock millis) the sweeper has seen this connection not ready. */
  notReadySince?: number | undefined
  /** Turns a call's rejection into the error that explains it (a cluster client's incomplete slot map). */
  readonly explain?: ((error: unknown) => unknown) | undefined
}

interface Queue {
  readonly flushWaitingForReply?: (error: Error) => void
}

/**
 * Destroys a replaced client. Commands already written get `ConnectionReplacedError(true)` first (through node-redis'
 * queue, when that version exposes it), so the `DisconnectsClientError`s that `destroy` gives the rest mean "never
 * written".
 */
const destroyReplaced = (target: Target) => {
  target.replaced = true
  try {
    const queue = (target.client as unknown as { _getQueue?: () => Queue })._getQueue?.()
    if (typeof queue?.flushWaitingForReply === "function") {
      queue.flushWaitingForReply(new ConnectionReplacedError(true))
      target.precise = true
    }
  } catch {
    target.precise = false
  }
  destroyNow(target.client)
}

const isDisconnect = (error: unknown) =>
  typeof error === "object" && error !== null && error.constructor?.name === "DisconnectsClientError"

interface Slot {
  current: Target
  closed: boolean
}

/**
 * A replaceable connection: `current()` is the client calls use now. `open` builds a fresh client (connecting in the
 * background); `onReplaced` is told each time a connection is replaced.
 */
const replaceable = (open: () => Opened, onReplaced: (() => void) | undefined) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const slot: Slot = { current: undefined as unknown as Target, closed: false }
      const make = (): Target => {
        const target: Target = {
          ...open(),
          replaced: false,
          precise: false,
          overdue: () => {
            if (slot.closed || slot.current !== target || target.replaced) return
            destroyReplaced(target)
            slot.current = make()
            onReplaced?.()
          }
        }
        return target
      }
      slot.current = make()
      return slot
    }),
    (slot) =>
      Effect.sync(() => {
        slot.closed = true
        destroyNow(slot.current.client)
      })
  )

type Opened = Omit<Target, "overdue" | "replaced" | "precise">

/** Where a client keeps its last connection error (socket, TLS, DNS, AUTH): the real reason behind "offline". */
const lastErrorKey = Symbol.for("@effect-redis/multidb/lastError")

const rememberError = (client: object, error: unknown) => {
  ;(client as { [lastErrorKey]?: unknown })[lastErrorKey] = error
}

/**
 * node-redis fails a call on a client that cannot connect with "The client is offline"; the error that explains it
 * came earlier, as an 'error' event. It is attached as the call's `cause` so that `FailureCause.fromError` finds it.
 */
const withLastError = (client: object, error: unknown): unknown => {
  const last = (client as { [lastErrorKey]?: unknown })[lastErrorKey]
  if (last === undefined || last === error || typeof error !== "object" || error === null) return error
  if ((error as { cause?: unknown }).cause === undefined) {
    try {
      ;(error as { cause?: unknown }).cause = last
    } catch {
      // a frozen error: keep it as it is
    }
  }
  return error
}

const isSocketClosed = (error: unknown) =>
  typeof error === "object" && error !== null && error.constructor?.name === "SocketClosedUnexpectedlyError"

const openClient = (options: RedisClientOptions, onLost: (() => void) | undefined) => (): Opened => {
  const client = createClient(options) as unknown as RedisClient
  const resp = directResp(options)
  if (resp !== undefined) (client as unknown as Record<symbol, number>)[directMark] = resp
  let ready = false
  let settle: () => void = () => {}
  const firstAttempt = new Promise<void>((resolve) => {
    settle = resolve
  })
  // Whether the current connection attempt has failed: its error is the reason, and what follows from it in the same
  // attempt does not hide it. node-redis 5 answers a TLS alert (a client certificate the server requires) by reporting
  // the dead connection ready, then "Socket closed unexpectedly"; a PING failing meanwhile as offline names the alert.
  let attemptFailed = false
  client.on("error", (error: unknown) => {
    if (!(attemptFailed && isSocketClosed(error))) rememberError(client, error)
    attemptFailed = true
    settle()
    if (ready) {
      ready = false
      onLost?.()
    }
  })
  client.on("end", () => {
    ready = false
  })
  client.on("reconnecting", () => {
    attemptFailed = false
  })
  client.on("ready", () => {
    if (!attemptFailed) rememberError(client, undefined)
    ready = true
    settle()
  })
  client.connect().catch(() => {})
  return { client, firstAttempt }
}

/**
 * One call awaiting its reply. A class rather than an object of closures: the healthy path allocates one entry per
 * call, and the rare timeout and abandon paths live on the prototype.
 */
export class Pending {
  settled = false
  /** Neighbours in `PendingCalls`' list while registered. */
  previous: Pending | undefined = undefined
  next: Pending | undefined = undefined
  constructor(
    readonly deadline: number,
    readonly resume: (effect: Effect.Effect<unknown, unknown>) => void,
    readonly target: Target,
    /** How the call continues (after a failure: `then.onFailure`). */
    readonly then: Continuation<unknown, unknown, unknown>
  ) {}
}

/**
 * The calls awaiting a reply, in the order they started: a doubly linked list through the entries themselves (adding
 * and removing cost a few pointer writes; a `Set` here cost about 5 µs of CPU per command at concurrency 64). All calls
 * of one list share one timeout, so the order they started in is the order of their deadlines: the first entry is the
 * next to run out, and the sweeper sleeps until then.
 */
export class PendingCalls {
  first: Pending | undefined = undefined
  private last: Pending | undefined = undefined
  size = 0
  add(entry: Pending) {
    entry.previous = this.last
    if (this.last === undefined) this.first = entry
    else this.last.next = entry
    this.last = entry
    this.size++
  }
  /** Unregisters an entry that `add` registered and that was not removed since. */
  delete(entry: Pending) {
    const { previous, next } = entry
    if (previous === undefined) this.first = next
    else previous.next = next
    if (next === undefined) this.last = previous
    else next.previous = previous
    entry.previous = undefined
    entry.next = undefined
    this.size--
  }
  /** Removes and settles, with `settle`, every entry whose deadline is `until` or earlier (all, without `until`). */
  settleUntil(settle: (entry: Pending) => void, until = Number.POSITIVE_INFINITY) {
    for (let entry = this.first; entry !== undefined && entry.deadline <= until; entry = this.first) {
      this.delete(entry)
      entry.settled = true
      settle(entry)
    }
  }
}

/** The continuation of a plain call: its result or its error, as they are. */
const direct: Continuation<unknown, unknown, unknown> = { onSuccess: Effect.succeed, onFailure: Effect.fail }

/** Where a call finds its connection: a replaceable `Slot`, or a `fixed` one. */
interface Source {
  readonly current: Target
}

/** A fixed connection for calls whose connection is not replaced on a deadline (pub/sub, isolated). */
const fixed = (client: RedisClient): Source => ({
  current: { client, firstAttempt: Promise.resolve(), replaced: false, precise: false, overdue: () => {} }
})

/**
 * node-redis' own command timeout only covers the wait to be written, not the wait for the reply, so a frozen server
 * would hold a command forever. Calls are tracked with a deadline, and one sweeper fiber per connection fails the
 * overdue ones and replaces their connection: per call the cost is an entry in a list, not a timer.
 */
const deadlines = (timeout: Duration.Duration, database = "", watched: ReadonlyArray<Slot> = [], notReadyLimit = 0) =>
  Effect.gen(function* () {
    const timeoutMillis = Duration.toMillis(timeout)
    const pending = new PendingCalls()
    // The sweeper sleeps until the first pending call's deadline (all share one timeout, so no later call runs out
    // before it), and looks again then: a missed deadline is noticed when it passes, and the process is not woken in
    // between (every timer wake-up costs CPU of its own, about 0.2 ms on the loaded bench machine). While no call is
    // pending it parks until the next one (`idle` set, `wake` closed). When it watches connections for readiness it
    // also looks every `watchMillis`.
    const watchMillis = Math.min(250, Math.max(20, notReadyLimit / 20))
    // deadlines on the monotonic clock the command path reads anyway (`FastPath.millisOf`)
    const now = FastPath.millisOf(yield* Effect.clock)
    const wake = yield* Effect.makeLatch(false)
    let idle = false
    // the rare endings of a call, on the sweeper's side: a pending entry carries nothing for them
    const timeoutCall = (entry: Pending) => {
      entry.resume(entry.then.onFailure(new CommandTimeoutError(timeoutMillis)))
      entry.target.overdue()
    }
    const abandonCall = (entry: Pending) => entry.resume(entry.then.onFailure(new CommandAbandonedError(database)))
    const sweep = Effect.sync(() => {
      // A connection that stays unready (e.g. its handshake reply never ends) is replaced too: nothing else
      // would ever cut it off, since commands fail at once while it is not ready.
      for (const slot of watched) {
        const target = slot.current
        if (target.client.isReady) {
          target.notReadySince = undefined
        } else if (target.notReadySince === undefined) {
          target.notReadySince = now()
        } else if (now() - target.notReadySince > notReadyLimit) {
          target.overdue()
        }
      }
      if (pending.size > 0) pending.settleUntil(timeoutCall, now())
      if (pending.size === 0 && !idle) {
        idle = true
        wake.unsafeClose()
      }
    })
    /** Until the first pending call's deadline (at least 1 ms away; at most `watchMillis` when watching). */
    const untilDeadline = Effect.suspend(() => {
      const first = pending.first
      const left = first === undefined ? timeoutMillis : first.deadline - now()
      const wait = Math.max(1, watched.length === 0 ? left : Math.min(left, watchMillis))
      return Effect.sleep(Duration.millis(wait))
    })
    /**
     * Until a call starts (then until its deadline). A sweeper that watches connections only sleeps, for `watchMillis`
     * (or the timeout, if shorter): no call can run out before it wakes, and no timeout race is forked every time.
     */
    const parked =
      watched.length === 0
        ? Effect.zipRight(wake.await, untilDeadline)
        : Effect.sleep(Duration.millis(Math.min(watchMillis, timeoutMillis)))
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.zipRight(
          Effect.suspend(() => (idle ? parked : untilDeadline)),
          sweep
        )
      )
    )
    /** Settles every pending call at once (the client moved away from the database). */
    const abandon = Effect.sync(() => pending.settleUntil(abandonCall))
    /**
     * Starts `f` on the connection that is current now (a retry gets the replacement) and resumes, exactly once, with
     * `then.onSuccess` or `then.onFailure`. No canceler: returning one makes every call pay for an interruption
     * handler; an interrupted call's entry is dropped by the sweeper at its deadline, so memory stays bounded by
     * rate × timeout.
     */
    const start = <A, B, E>(
      source: Source,
      f: (client: RedisClient) => Promise<A>,
      then: Continuation<A, B, E>,
      resume: (effect: Effect.Effect<B, E>) => void
    ): void => {
      const target = source.current
      const entry = new Pending(
        now() + timeoutMillis,
        resume as (effect: Effect.Effect<unknown, unknown>) => void,
        target,
        then as Continuation<unknown, unknown, unknown>
      )
      if (idle) {
        idle = false
        wake.unsafeOpen()
      }
      pending.add(entry)
      let promise: Promise<A>
      try {
        promise = f(target.client)
      } catch (error) {
        promise = Promise.reject(error)
      }
      promise.then(
        (value) => {
          if (entry.settled) return
          entry.settled = true
          pending.delete(entry)
          resume(then.onSuccess(value))
        },
        (error) => {
          if (entry.settled) return
          entry.settled = true
          pending.delete(entry)
          resume(
            then.onFailure(
              target.replaced && isDisconnect(error)
                ? new ConnectionReplacedError(!target.precise)
                : withLastError(target.client, target.explain === undefined ? error : target.explain(error))
            )
          )
        }
      )
    }
    /** Runs `f` on the connection that is current when the effect runs. */
    const call = <A>(source: Source, f: (client: RedisClient) => Promise<A>): Effect.Effect<A, unknown> =>
      Effect.async<A, unknown>((resume) => start(source, f, direct as Continuation<A, A, unknown>, resume))
    return Object.assign(call, { abandon, start })
  })

const isErrorReply = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) &&
  Option.match(Cause.failureOption(exit.cause), {
    onNone: () => false,
    onSome: (error) =>
      typeof error === "object" &&
      error !== null &&
      (error as { constructor?: { name?: string } }).constructor?.name === "ErrorReply"
  })

/**
 * Blocking commands run on a bounded pool of connections of their own. The deadline is the block plus the command
 * timeout (none for a block of 0); interrupting the call, or missing the deadline, destroys its connection (the
 * server would otherwise keep the command blocked, and hand it an element nobody reads). A connection that failed in
 * any other way than an error reply is not reused.
 */
const blockingPool = (
  openIsolated: Effect.Effect<RedisClient, unknown, Scope.Scope>,
  size: number,
  options: ConnectOptions
) =>
  Effect.gen(function* () {
    const pool = yield* Pool.makeWithTTL({ acquire: openIsolated, min: 0, max: size, timeToLive: "30 seconds" })
    const timeoutMillis = Duration.toMillis(options.commandTimeout)
    const waitMillis = Duration.toMillis(options.connectTimeout) + timeoutMillis
    /** A connection of the pool: opened (bounded by the connect timeout) or freed by another call within this. */
    const acquire = Effect.timeoutFail(Pool.get(pool), {
      duration: Duration.millis(waitMillis),
      onTimeout: () => new NotSentError(`no connection for blocking commands was free within ${waitMillis} ms`)
    })
    return <A>(f: (client: RedisClient) => Promise<A>, blockMillis: number): Effect.Effect<A, unknown> =>
      Effect.scoped(
        Effect.flatMap(acquire, (client) => {
          const call = Effect.async<A, unknown>((resume) => {
            let promise: Promise<A>
            try {
              promise = f(client)
            } catch (error) {
              promise = Promise.reject(error)
            }
            promise.then(
              (value) => resume(Effect.succeed(value)),
              (error) => resume(Effect.fail(error))
            )
            return Effect.sync(() => destroyNow(client))
          })
          const total = blockMillis + timeoutMillis
          const bounded = Number.isFinite(blockMillis)
            ? Effect.timeoutFail(call, {
                duration: Duration.millis(total),
                onTimeout: () => {
                  options.onConnectionLost()
                  return new CommandTimeoutError(total)
                }
              })
            : call
          return bounded.pipe(
            Effect.onExit((exit) =>
              Exit.isSuccess(exit) || isErrorReply(exit)
                ? Effect.void
                : Effect.zipRight(destroyQuietly(client), Pool.invalidate(pool, client))
            )
          )
        })
      )
  })

export const connect = (config: DatabaseConfig, options: ConnectOptions) =>
  config.cluster === undefined ? connectStandalone(config, options) : connectCluster(config, options)

const newCluster = (options: RedisClusterOptions) => createCluster(options as RedisClusterOptions<{}, {}, {}, 3>)
type Cluster = ReturnType<typeof newCluster>

/**
 * A cluster client seen through the standalone interface: `sendCommand(args)` goes to the node of the call's first
 * key (`firstKey`). Every command reads a method through this Proxy, so each method is bound once and kept.
 */
const asClient = (cluster: Cluster, readOnly: (command: string) => boolean): RedisClient => {
  const methods = new Map<PropertyKey, unknown>([
    [
      "sendCommand",
      (args: ReadonlyArray<string | Buffer>) =>
        cluster.sendCommand(firstKey(args), readOnly(String(args[0]).toUpperCase()), [...args])
    ]
  ])
  return new Proxy(cluster, {
    get: (target, property, receiver) => {
      const method = methods.get(property)
      if (method !== undefined) return method
      const value = Reflect.get(target, property, receiver)
      if (typeof value !== "function") return value
      const bound = value.bind(target)
      methods.set(property, bound)
      return bound
    }
  }) as unknown as RedisClient
}

const openCluster = (options: RedisClusterOptions) => (): Opened & { readonly cluster: Cluster } => {
  const cluster: Cluster = newCluster(options)
  cluster.on("error", (error: unknown) => rememberError(cluster, error))
  let settle: () => void = () => {}
  const firstAttempt = new Promise<void>((resolve) => {
    settle = resolve
  })
  cluster.connect().then(settle, settle)
  /** A `TypeError` from a client whose map has a hole is that hole, not a bug of the caller. */
  const explain = (error: unknown) => {
    if (!(error instanceof TypeError)) return error
    const unmapped = ClusterHealth.unmappedSlots(cluster.slots)
    return unmapped === undefined ? error : new SlotMapIncompleteError(unmapped, { cause: error })
  }
  return { cluster, client: asClient(cluster, isReadOnly), firstAttempt, explain }
}

const connectCluster = (config: DatabaseConfig, options: ConnectOptions) =>
  Effect.gen(function* () {
    const base = config.clusterOptions ?? {}
    const defaults = (base.defaults ?? {}) as Record<string, unknown>
    const clusterOptions = {
      ...base,
      rootNodes: config.clusterRootNodes.map((node) => ({ url: node.url })),
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
    const commands = yield* replaceable(openCluster(clusterOptions), options.onConnectionLost)
    const health = yield* replaceable(openCluster(clusterOptions), undefined)
    const notReadyLimit = Duration.toMillis(readyLimit(options))
    const withDeadline = yield* deadlines(options.commandTimeout, config.id, [health], notReadyLimit)
    const commandDeadline = yield* deadlines(options.commandTimeout, config.id, [commands], notReadyLimit)
    const clusterOf = (target: Target) => (target as Target & { readonly cluster: Cluster }).cluster
    /**
     * Every master answers and reports the cluster ready (see `clusterHealth`), and both clients know a node for
     * every slot. A client whose map has a hole is replaced (the new one discovers the cluster again) and the check
     * fails until the map is whole: traffic would otherwise come back to slots it cannot send to.
     */
    const ping = Effect.suspend(() => {
      const target = health.current
      const command = commands.current
      return withDeadline(health, async () => {
        await target.firstAttempt
        await ClusterHealth.check(clusterOf(target) as unknown as ClusterHealth.ClusterView)
        await command.firstAttempt
        for (const [name, checked] of [
          ["health-check", target],
          ["command", command]
        ] as const) {
          const unmapped = ClusterHealth.unmappedSlots(clusterOf(checked).slots)
          if (unmapped !== undefined) {
            checked.overdue()
            throw new ClusterHealth.ClusterNotReady(
              `the ${name} connection's map of the cluster has no node for ${unmapped} (reconnecting to discover it again)`
            )
          }
        }
      })
    })
    const run = <A>(f: (client: RedisClient) => Promise<A>): Effect.Effect<A, unknown> => commandDeadline(commands, f)
    const unsafeRun: NonNullable<RedisConnection["unsafeRun"]> = (f, then, resume) =>
      commandDeadline.start(commands, f, then, resume)
    const duplicate = connectOwn(() => {
      const sub = clusterOf(commands.current).duplicate()
      sub.on("error", () => {})
      return sub
    }, options)
    const subscriber = duplicate.pipe(
      Effect.map((sub) => subscriberOf(sub, (call) => withDeadline(fixed(sub as unknown as RedisClient), call)))
    )
    const runBlocking = yield* blockingPool(
      Effect.map(duplicate, (cluster) => asClient(cluster, isReadOnly)),
      options.blockingConnections ?? 8,
      options
    )
    const connection: RedisConnection = {
      database: config.id,
      run,
      unsafeRun,
      abandon: commandDeadline.abandon,
      runIsolated: () =>
        Effect.fail(
          new Error("WATCH transactions are not supported on a cluster database: use a transaction without watch")
        ),
      runBlocking,
      health: { ping, run: (f) => withDeadline(health, f) },
      subscriber
    }
    return connection
  })

const connectStandalone = (config: DatabaseConfig, options: ConnectOptions) =>
  Effect.gen(function* () {
    const redisOptions = clientOptions(config, options)
    const commands = yield* replaceable(openClient(redisOptions, options.onConnectionLost), options.onConnectionLost)
    const health = yield* replaceable(openClient(redisOptions, undefined), undefined)
    const notReadyLimit = Duration.toMillis(readyLimit(options))
    const withDeadline = yield* deadlines(options.commandTimeout, config.id, [health], notReadyLimit)
    const commandDeadline = yield* deadlines(options.commandTimeout, config.id, [commands], notReadyLimit)
    const withConnectDeadline = yield* deadlines(options.connectTimeout)
    /**
     * PING. While the first connection attempt is still under way, wait for it (bounded by the connect timeout)
     * instead of failing as offline; the command timeout then bounds the PING itself.
     */
    const ping = Effect.suspend(() => {
      const target = health.current
      return Effect.zipRight(
        target.client.isReady ? Effect.void : withConnectDeadline(fixed(target.client), () => target.firstAttempt),
        withDeadline(health, (c) => c.ping())
      )
    })
    const run = <A>(f: (client: RedisClient) => Promise<A>): Effect.Effect<A, unknown> => commandDeadline(commands, f)
    const unsafeRun: NonNullable<RedisConnection["unsafeRun"]> = (f, then, resume) =>
      commandDeadline.start(commands, f, then, resume)
    /** A connection of its own (not reconnecting), closed with the scope. */
    const isolated = connectOwn(() => {
      const client = createClient({
        ...redisOptions,
        socket: { ...redisOptions.socket, reconnectStrategy: false }
      } as RedisClientOptions) as unknown as RedisClient
      client.on("error", () => {})
      return client
    }, options)
    const runIsolated = <A>(f: (client: RedisClient) => Promise<A>): Effect.Effect<A, unknown> =>
      Effect.scoped(Effect.flatMap(isolated, (client) => withDeadline(fixed(client), f)))
    const runBlocking = yield* blockingPool(isolated, options.blockingConnections ?? 8, options)
    const subscriber = Effect.suspend(() => {
      let connected = false
      return connectOwn(() => {
        const sub = createClient({
          ...redisOptions,
          socket: {
            ...redisOptions.socket,
            // give up at once while connecting for the first time; afterwards reconnect (and resubscribe) as usual
            reconnectStrategy: (retries: number) => (connected ? reconnectStrategy(retries) : false)
          }
        } as RedisClientOptions) as unknown as RedisClient
        sub.on("error", () => {})
        return sub
      }, options).pipe(
        Effect.map((sub) => {
          connected = true
          return subscriberOf(sub, (call) => withDeadline(fixed(sub), call))
        })
      )
    })
    const connection: RedisConnection = {
      subscriber,
      database: config.id,
      run,
      unsafeRun,
      abandon: commandDeadline.abandon,
      runIsolated,
      runBlocking,
      health: {
        ping,
        run: (f) => withDeadline(health, f)
      }
    }
    return connection
  })
