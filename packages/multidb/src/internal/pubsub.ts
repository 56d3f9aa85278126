import {
  Deferred,
  type Duration,
  Effect,
  Exit,
  Option,
  Queue,
  Schedule,
  Scope,
  Stream,
  type SubscriptionRef
} from "effect"
import * as FailureCause from "../FailureCause.js"
import type { Message } from "../MultiDbClient.js"
import {
  type NoValidDatabase,
  RedisConnectionError,
  type SubscriptionError,
  type TemporarilyUnavailable
} from "../MultiDbError.js"
import type { RedisConnection, Subscriber, SubscriptionKind } from "../RedisConnection.js"

/** The part of a database the pub/sub manager needs. */
export interface PubSubDatabase {
  readonly id: string
  readonly connection: RedisConnection
}

interface Registration {
  readonly kind: SubscriptionKind
  readonly name: string
  readonly queue: Queue.Queue<Message>
  /** Failed when the subscription cannot be kept: its stream fails with the error. */
  readonly failed: Deferred.Deferred<never, SubscriptionError>
}

interface Current {
  readonly database: string
  readonly subscriber: Subscriber
  readonly scope: Scope.CloseableScope
}

/** How moves are retried and when they give up. */
export interface Options {
  /** Pause between two attempts of a move (unbounded; `budget` ends it). */
  readonly backoff: Schedule.Schedule<unknown, unknown>
  /** How long a move is retried before the subscriptions fail (the client's failover budget). */
  readonly budget: Duration.Duration
  /** Why no database is active: `TemporarilyUnavailable`, or `NoValidDatabase` once failover attempts are exhausted. */
  readonly unavailable: Effect.Effect<never, TemporarilyUnavailable | NoValidDatabase>
}

const keyOf = (kind: SubscriptionKind, name: string) => `${kind}\u0000${name}`

const describe = (error: unknown) => (error instanceof Error ? error.message || error.constructor.name : String(error))

const commandOf = (kind: SubscriptionKind) =>
  kind === "channel" ? "SUBSCRIBE" : kind === "pattern" ? "PSUBSCRIBE" : "SSUBSCRIBE"

const connectionError = (database: string, command: string) => (error: unknown) =>
  error instanceof RedisConnectionError
    ? error
    : new RedisConnectionError({
        database,
        command,
        mayHaveExecuted: false,
        reason: FailureCause.mask(describe(error)),
        cause: error,
        failure: FailureCause.fromError(error)
      })

/**
 * Keeps every subscription on one pub/sub connection to the active database, and moves them all when the active
 * database changes: subscribe on the new database first, then drop the old connection. Moves and (un)subscriptions
 * are serialized, so a second failover during a move waits and no subscription is lost. A move that fails is retried
 * (each attempt on the database active at that time) for the failover budget; only then do the streams fail. A
 * subscription that fails half-way leaves none of its names subscribed.
 */
export const make = <D extends PubSubDatabase>(
  active: SubscriptionRef.SubscriptionRef<Option.Option<D>>,
  options: Options
) =>
  Effect.gen(function* () {
    const lock = yield* Effect.makeSemaphore(1)
    const registrations = new Map<string, Set<Registration>>()
    let current: Current | undefined
    /** A move is under way: new names wait for it (it subscribes every registered name) instead of using `current`. */
    let moving = false
    /** Names were registered while a move was under way: the move reopens even on the database it is on. */
    let stale = false

    const listener = (kind: SubscriptionKind, name: string, database: string) => (message: string, channel: string) => {
      const set = registrations.get(keyOf(kind, name))
      if (set === undefined) return
      const delivered: Message =
        kind === "pattern" ? { channel, message, pattern: name, database } : { channel, message, database }
      for (const registration of set) Queue.unsafeOffer(registration.queue, delivered)
    }

    /** Opens a pub/sub connection to `database` with every current subscription on it. */
    const open = (database: D) =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const opened = Effect.gen(function* () {
          const subscriber = yield* database.connection.subscriber.pipe(Scope.extend(scope))
          for (const set of registrations.values()) {
            const first = set.values().next().value
            if (first === undefined) continue
            yield* subscriber.subscribe(first.kind, first.name, listener(first.kind, first.name, database.id))
          }
          return { database: database.id, subscriber, scope } satisfies Current
        })
        return yield* opened.pipe(
          Effect.mapError(connectionError(database.id, "SUBSCRIBE")),
          Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, Exit.void)))
        )
      })

    const close = (previous: Current | undefined) =>
      previous === undefined ? Effect.void : Scope.close(previous.scope, Exit.void)

    /**
     * One attempt: every subscription onto the database active now (nothing to do when it is there already). The move
     * ends under the lock: a name registered after that is subscribed by its own call, one registered before it is
     * subscribed by this attempt (`stale`).
     */
    const moveOnce = lock.withPermits(1)(
      Effect.gen(function* () {
        if (registrations.size > 0) {
          const target = yield* active.get
          if (Option.isNone(target)) return yield* options.unavailable
          if (current?.database !== target.value.id || stale) {
            stale = false
            const next = yield* open(target.value).pipe(Effect.tapError(() => Effect.sync(() => (stale = true))))
            const previous = current
            current = next
            yield* close(previous)
          }
        }
        moving = false
      })
    )

    /** Every stream ends with `error`: no database could take the subscriptions within the budget. */
    const failAll = (error: SubscriptionError) =>
      Effect.gen(function* () {
        yield* Effect.logWarning(`pub/sub: could not move the subscriptions: ${error.message}`)
        for (const set of registrations.values()) {
          for (const registration of set) yield* Deferred.fail(registration.failed, error)
        }
      })

    /** The move gave up: its end, under the lock like a successful one's, and every stream fails. */
    const giveUp = (error: SubscriptionError) =>
      lock.withPermits(1)(
        Effect.suspend(() => {
          moving = false
          return failAll(error)
        })
      )

    const moveSchedule = options.backoff.pipe(Schedule.upTo(options.budget))
    const move = Effect.suspend(() => {
      moving = true
      return moveOnce.pipe(Effect.retry(moveSchedule), Effect.catchAll(giveUp))
    })

    yield* active.changes.pipe(
      Stream.runForEach(() => move),
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() => Effect.suspend(() => close(current)))

    /** Takes registrations off the map, unsubscribing names nobody listens to any more; closes an idle connection. */
    const remove = (added: ReadonlyArray<Registration>) =>
      Effect.gen(function* () {
        for (const registration of added) {
          const key = keyOf(registration.kind, registration.name)
          const set = registrations.get(key)
          if (set === undefined) continue
          set.delete(registration)
          if (set.size === 0) {
            registrations.delete(key)
            if (current !== undefined)
              yield* Effect.ignore(current.subscriber.unsubscribe(registration.kind, registration.name))
          }
        }
        if (registrations.size === 0) {
          const previous = current
          current = undefined
          stale = false
          yield* close(previous)
        }
      })

    const register = (
      kind: SubscriptionKind,
      names: ReadonlyArray<string>,
      queue: Queue.Queue<Message>,
      failed: Deferred.Deferred<never, SubscriptionError>
    ) =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          const added: Array<Registration> = []
          const subscribeAll = Effect.gen(function* () {
            if (current === undefined) {
              const database = yield* active.get
              if (Option.isNone(database)) return yield* options.unavailable
              // registered first, so the new connection subscribes them
              for (const name of names) added.push(add(kind, name, queue, failed))
              current = yield* open(database.value)
              return
            }
            for (const name of names) {
              const key = keyOf(kind, name)
              const fresh = !registrations.has(key)
              added.push(add(kind, name, queue, failed))
              if (fresh && moving) stale = true
              else if (fresh) {
                const live = current
                yield* live.subscriber
                  .subscribe(kind, name, listener(kind, name, live.database))
                  .pipe(Effect.mapError(connectionError(live.database, commandOf(kind))))
              }
            }
          })
          // Half-way failures take back every name of this call: nothing stays subscribed for a dead stream.
          return yield* subscribeAll.pipe(
            Effect.onError(() => remove(added)),
            Effect.as(added)
          )
        })
      )

    const add = (
      kind: SubscriptionKind,
      name: string,
      queue: Queue.Queue<Message>,
      failed: Deferred.Deferred<never, SubscriptionError>
    ): Registration => {
      const key = keyOf(kind, name)
      const registration: Registration = { kind, name, queue, failed }
      let set = registrations.get(key)
      if (set === undefined) {
        set = new Set()
        registrations.set(key, set)
      }
      set.add(registration)
      return registration
    }

    const subscribe = (
      kind: SubscriptionKind,
      names: ReadonlyArray<string>
    ): Stream.Stream<Message, SubscriptionError> =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const queue = yield* Effect.acquireRelease(Queue.unbounded<Message>(), Queue.shutdown)
          const failed = yield* Deferred.make<never, SubscriptionError>()
          // Registering stays interruptible (an acquisition is not, by default): its waits are bounded by timeouts,
          // which work only where interruption does, and a half-done registration takes itself back.
          yield* Effect.acquireRelease(Effect.interruptible(register(kind, names, queue, failed)), (added) =>
            lock.withPermits(1)(remove(added))
          )
          return Stream.fromQueue(queue).pipe(Stream.interruptWhen(Deferred.await(failed)))
        })
      )

    return {
      subscribe,
      /** The database the subscriptions currently live on. */
      database: Effect.sync(() => current?.database),
      /** How many names are subscribed (for tests). */
      subscribed: Effect.sync(() => registrations.size)
    }
  })
