import { Effect, Exit, Option, Queue, type Schedule, Scope, Stream, type SubscriptionRef } from "effect"
import type { Message } from "../MultiDbClient.js"
import { RedisConnectionError, type SubscriptionError, TemporarilyUnavailable } from "../MultiDbError.js"
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
}

interface Current {
  readonly database: string
  readonly subscriber: Subscriber
  readonly scope: Scope.CloseableScope
}

const keyOf = (kind: SubscriptionKind, name: string) => `${kind}\u0000${name}`

const describe = (error: unknown) => (error instanceof Error ? error.message || error.constructor.name : String(error))

/**
 * Keeps every subscription on one pub/sub connection to the active database, and moves them all when the active
 * database changes: subscribe on the new database first, then drop the old connection. Moves and (un)subscriptions
 * are serialized, so a second failover during a move waits and no subscription is lost.
 */
export const make = <D extends PubSubDatabase>(
  active: SubscriptionRef.SubscriptionRef<Option.Option<D>>,
  retry: Schedule.Schedule<unknown, unknown>
) =>
  Effect.gen(function* () {
    const lock = yield* Effect.makeSemaphore(1)
    const registrations = new Map<string, Set<Registration>>()
    let current: Current | undefined

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
        return yield* opened.pipe(Effect.onError(() => Scope.close(scope, Exit.void)))
      })

    const close = (previous: Current | undefined) =>
      previous === undefined ? Effect.void : Scope.close(previous.scope, Exit.void)

    const moveTo = (database: D) =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          if (registrations.size === 0 || current?.database === database.id) return
          const next = yield* open(database).pipe(Effect.retry(retry), Effect.option)
          if (Option.isNone(next)) {
            return yield* Effect.logWarning(`pub/sub: could not move subscriptions to "${database.id}"`)
          }
          const previous = current
          current = next.value
          yield* close(previous)
        })
      )

    yield* active.changes.pipe(
      Stream.runForEach((database) => (Option.isSome(database) ? moveTo(database.value) : Effect.void)),
      Effect.forkScoped
    )
    yield* Effect.addFinalizer(() => Effect.suspend(() => close(current)))

    const register = (kind: SubscriptionKind, names: ReadonlyArray<string>, queue: Queue.Queue<Message>) =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          if (current === undefined) {
            const database = yield* active.get
            if (Option.isNone(database)) {
              return yield* new TemporarilyUnavailable({ attempt: 1, maxAttempts: 1 })
            }
            current = yield* open(database.value).pipe(
              Effect.mapError(
                (error) =>
                  new RedisConnectionError({
                    database: database.value.id,
                    command: "SUBSCRIBE",
                    mayHaveExecuted: false,
                    reason: describe(error),
                    cause: error
                  })
              )
            )
          }
          const added: Array<Registration> = []
          for (const name of names) {
            const key = keyOf(kind, name)
            const registration: Registration = { kind, name, queue }
            let set = registrations.get(key)
            if (set === undefined) {
              set = new Set()
              registrations.set(key, set)
              const live = current
              yield* live.subscriber.subscribe(kind, name, listener(kind, name, live.database)).pipe(
                Effect.mapError(
                  (error) =>
                    new RedisConnectionError({
                      database: live.database,
                      command: kind === "channel" ? "SUBSCRIBE" : kind === "pattern" ? "PSUBSCRIBE" : "SSUBSCRIBE",
                      mayHaveExecuted: false,
                      reason: describe(error),
                      cause: error
                    })
                ),
                Effect.tapError(() => Effect.sync(() => registrations.delete(key)))
              )
            }
            set.add(registration)
            added.push(registration)
          }
          return added
        })
      )

    const unregister = (added: ReadonlyArray<Registration>) =>
      lock.withPermits(1)(
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
            yield* close(previous)
          }
        })
      )

    const subscribe = (
      kind: SubscriptionKind,
      names: ReadonlyArray<string>
    ): Stream.Stream<Message, SubscriptionError> =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const queue = yield* Effect.acquireRelease(Queue.unbounded<Message>(), Queue.shutdown)
          yield* Effect.acquireRelease(register(kind, names, queue), unregister)
          return Stream.fromQueue(queue)
        })
      )

    return {
      subscribe,
      /** The database the subscriptions currently live on. */
      database: Effect.sync(() => current?.database)
    }
  })
