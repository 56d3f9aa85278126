import {
  Cause,
  Clock,
  Deferred,
  Duration,
  Effect,
  FiberHandle,
  Option,
  PubSub,
  Queue,
  Ref,
  SubscriptionRef,
  type Tracer
} from "effect"
import type { DatabaseInfo } from "../DatabaseInfo.js"
import type * as FailoverStrategy from "../FailoverStrategy.js"
import type { MultiDbConfig } from "../MultiDbConfig.js"
import { ManagementFailed, NoValidDatabase, TemporarilyUnavailable, UnhealthyDatabase } from "../MultiDbError.js"
import * as MultiDbEvent from "../MultiDbEvent.js"
import type { Database } from "./database.js"
import type { Signal } from "./signal.js"
import * as Telemetry from "./telemetry.js"

/**
 * The supervisor: the registry of databases and the only writer of the active database. One fiber takes signals
 * (circuit changes, lost connections, runtime changes, fallback ticks) and moves the traffic; while no database is
 * eligible it counts failover attempts, and it settles the calls left on a database it moved away from.
 */
export interface Supervisor {
  readonly signals: Queue.Queue<Signal>
  readonly databases: Ref.Ref<ReadonlyArray<Database>>
  /** The active database, streamed to pub/sub and `activeChanges`. */
  readonly active: SubscriptionRef.SubscriptionRef<Option.Option<Database>>
  /** The active database as a plain value, for the command path to read without an effect. */
  readonly current: () => Database | undefined
  readonly snapshot: Effect.Effect<ReadonlyArray<DatabaseInfo>>
  readonly byId: (id: string) => Effect.Effect<Database | undefined>
  /**
   * Completes when traffic next moves to another database: a retry waiting out its backoff for the database it just
   * failed on goes to the new one at once.
   */
  readonly awaitSwitch: Effect.Effect<void>
  /** Waits up to `bound` for an eligible database; `false` when none came. Always yields to the event loop. */
  readonly awaitAvailable: (bound: Duration.Duration) => Effect.Effect<boolean>
  /** `TemporarilyUnavailable` with the current failover attempt, or `NoValidDatabase` once they are exhausted. */
  readonly unavailableError: Effect.Effect<never, TemporarilyUnavailable | NoValidDatabase>
  /** Makes `database` active at start-up and announces it. */
  readonly start: (database: Database) => Effect.Effect<void>
  /** Handles signals until interrupted. */
  readonly run: Effect.Effect<never>
}

const describeCause = (cause: Cause.Cause<unknown>) => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error.message || error.name : String(error)
}

export const make = (
  config: MultiDbConfig,
  strategy: FailoverStrategy.Strategy,
  events: PubSub.PubSub<MultiDbEvent.MultiDbEvent>,
  telemetryOverride?: Telemetry.Telemetry
) =>
  Effect.gen(function* () {
    const telemetry = telemetryOverride ?? Telemetry.make(config.tracing, yield* Effect.clock)
    const publish = (event: MultiDbEvent.MultiDbEvent) => PubSub.publish(events, event)
    const signals = yield* Queue.unbounded<Signal>()
    const databases = yield* Ref.make<ReadonlyArray<Database>>([])
    const active = yield* SubscriptionRef.make<Option.Option<Database>>(Option.none())
    /** Failover attempt counter while no database is eligible. */
    const unavailable = yield* Ref.make<Option.Option<number>>(Option.none())
    const unavailableTicker = yield* FiberHandle.make<void, never>()
    /** Completed whenever a database is active; replaced by a fresh one when none is. */
    const available = yield* Ref.make(yield* Deferred.make<void>())
    yield* Effect.addFinalizer(() => FiberHandle.clear(unavailableTicker))
    let current: Database | undefined
    /** Completed, and replaced, at each switch to another database. */
    let switched = yield* Deferred.make<void>()
    let lastActiveId: string | undefined
    /** When the client last became unavailable (no active database), for `multidb.unavailable.time`. */
    let unavailableSince: bigint | undefined

    const setActive = (database: Database | undefined) =>
      Effect.zipRight(
        Effect.sync(() => {
          current = database
        }),
        SubscriptionRef.set(active, Option.fromNullable(database))
      )

    const snapshot = Effect.flatMap(Ref.get(databases), (list) =>
      Effect.forEach(list, (database) => database.info(current?.id))
    )
    const byId = (id: string) => Effect.map(Ref.get(databases), (list) => list.find((d) => d.id === id))

    /** Settles the calls still waiting on a database traffic left because it is no longer eligible. */
    const settle = (previous: Database) =>
      Effect.gen(function* () {
        const list = yield* Ref.get(databases)
        const eligible = list.includes(previous) && (yield* previous.circuit.state) === "closed"
        if (!eligible && previous.connection.abandon !== undefined) yield* previous.connection.abandon
      })

    /** Why traffic leaves `previous` for `database`, for the switch's span and log. */
    const switchCause = (previous: Database | undefined, database: Database, reason: MultiDbEvent.SwitchReason) =>
      Effect.gen(function* () {
        if (reason === "manual") return "setActiveDatabase"
        if (previous === undefined) return "no database was available"
        const state = yield* previous.circuit.state
        if (state !== "closed") return previous.lastOpened()?.cause ?? `circuit of ${previous.id} is ${state}`
        if (reason === "fallback") return `${database.id} is preferred and healthy`
        return `${database.id} is now the strategy's pick`
      })

    /** `parent`: the span of the work that caused the switch (none: the switch starts a new trace). */
    const switchTo = (database: Database, reason: MultiDbEvent.SwitchReason, parent: Tracer.AnySpan | undefined) =>
      Effect.gen(function* () {
        const previous = current
        yield* FiberHandle.clear(unavailableTicker)
        yield* Ref.set(unavailable, Option.none())
        if (previous === database) return
        const oldDatabase = previous?.id ?? lastActiveId
        const cause = yield* switchCause(previous, database, reason)
        yield* telemetry.switched(
          { from: oldDatabase, to: database.id, reason, cause, parent },
          Effect.gen(function* () {
            yield* setActive(database)
            yield* Effect.flatMap(Ref.get(available), (done) => Deferred.succeed(done, undefined))
            const done = switched
            switched = yield* Deferred.make<void>()
            yield* Deferred.succeed(done, undefined)
            lastActiveId = database.id
            if (unavailableSince !== undefined) {
              const now = yield* Clock.currentTimeNanos
              yield* telemetry.available(database.id, Number(now - unavailableSince) / 1e9)
              unavailableSince = undefined
            }
            yield* publish(MultiDbEvent.ActiveDatabaseChanged({ oldDatabase, newDatabase: database.id, reason }))
            if (previous !== undefined) yield* settle(previous)
          })
        )
      })

    const becomeUnavailable = (parent: Tracer.AnySpan | undefined) =>
      Effect.gen(function* () {
        const previous = current
        if (previous !== undefined) lastActiveId = previous.id
        yield* setActive(undefined)
        if (Option.isSome(yield* Ref.get(unavailable))) return
        if (yield* Effect.flatMap(Ref.get(available), Deferred.isDone))
          yield* Ref.set(available, yield* Deferred.make<void>())
        if (previous !== undefined) yield* settle(previous)
        yield* Ref.set(unavailable, Option.some(1))
        unavailableSince = yield* Clock.currentTimeNanos
        yield* telemetry.unavailable(1, config.failoverAttempts, parent)
        yield* publish(MultiDbEvent.AllDatabasesUnavailable({ attempt: 1, maxAttempts: config.failoverAttempts }))
        const tick = Effect.gen(function* () {
          const attempt = yield* Ref.updateAndGet(
            unavailable,
            Option.map((n) => n + 1)
          )
          if (Option.isSome(attempt) && attempt.value <= config.failoverAttempts + 1) {
            yield* telemetry.unavailable(attempt.value, config.failoverAttempts)
            yield* publish(
              MultiDbEvent.AllDatabasesUnavailable({ attempt: attempt.value, maxAttempts: config.failoverAttempts })
            )
          }
        })
        yield* FiberHandle.run(
          unavailableTicker,
          tick.pipe(
            Effect.delay(config.failoverDelay),
            Effect.repeat({ times: config.failoverAttempts }),
            Effect.asVoid
          )
        )
      })

    /** Keeps the active database if it is still eligible, otherwise (or when `best`) switches to the strategy's pick. */
    const reconcile = (best: boolean, reason: MultiDbEvent.SwitchReason, parent: Tracer.AnySpan | undefined) =>
      Effect.gen(function* () {
        const list = yield* Ref.get(databases)
        if (!best && current !== undefined && list.includes(current)) {
          if ((yield* current.circuit.state) === "closed") return
        }
        const pick = strategy.select(yield* snapshot)
        const database = Option.isSome(pick) ? list.find((d) => d.id === pick.value) : undefined
        if (database === undefined) return yield* becomeUnavailable(parent)
        yield* switchTo(database, reason, parent)
      })

    /**
     * After a runtime change concerning `candidate` (added, removed, re-weighted): move only when the active database
     * is no longer eligible, or when the change is about the active database or the strategy's new pick. A manual
     * choice is otherwise left alone (only auto fallback moves away from it).
     */
    const reconsider = (candidate: string, parent: Tracer.AnySpan | undefined) =>
      Effect.gen(function* () {
        const list = yield* Ref.get(databases)
        const pick = strategy.select(yield* snapshot)
        const valid = current !== undefined && list.includes(current) && (yield* current.circuit.state) === "closed"
        if (!valid || current === undefined) return yield* reconcile(false, "automatic", parent)
        if (Option.isNone(pick)) return
        if (pick.value === candidate || current.id === candidate) {
          const database = list.find((d) => d.id === pick.value)
          if (database !== undefined) yield* switchTo(database, "automatic", parent)
        }
      })

    const withDatabase = (id: string, f: (database: Database) => Effect.Effect<unknown>) =>
      Effect.flatMap(byId(id), (database) => (database === undefined ? Effect.void : Effect.asVoid(f(database))))

    const handle = (signal: Signal): Effect.Effect<void> => {
      const parent = signal.parent
      switch (signal._tag) {
        case "Reconsider":
          return reconsider(signal.candidate, parent).pipe(Effect.ensuring(Deferred.succeed(signal.done, undefined)))
        case "Reevaluate":
          return reconcile(false, "automatic", parent)
        case "SelectBest":
          return reconcile(true, signal.reason, parent)
        case "Check":
          // the check (forked by `startCheck`) is a child of the failed command that asked for it
          return withDatabase(signal.id, (database) =>
            Effect.provideService(database.startCheck, Telemetry.CheckParent, parent)
          )
        case "Suspect":
          return withDatabase(signal.id, (database) =>
            Effect.forkIn(Effect.provideService(database.probe, Telemetry.CheckParent, parent), database.scope)
          )
        case "ConnectionLost":
          return withDatabase(signal.id, (database) => database.connectionLost)
        case "SetActive":
          return Effect.gen(function* () {
            if (!(yield* Ref.get(databases)).includes(signal.database)) {
              return yield* Deferred.fail(
                signal.done,
                new UnhealthyDatabase({ database: signal.database.id, cause: "it was removed" })
              )
            }
            yield* switchTo(signal.database, "manual", parent)
            yield* Deferred.succeed(signal.done, undefined)
          }).pipe(
            // Whatever goes wrong in this step, the caller waiting on `done` is answered (a no-op when it was).
            Effect.onError((cause) =>
              Deferred.fail(
                signal.done,
                new ManagementFailed({
                  operation: "MultiDbClient.setActiveDatabase",
                  reason: `switching to "${signal.database.id}" failed: ${describeCause(cause)}`,
                  cause: Cause.squash(cause)
                })
              )
            )
          )
      }
    }

    const awaitAvailable = (bound: Duration.Duration): Effect.Effect<boolean> =>
      Duration.greaterThan(bound, Duration.zero)
        ? Effect.flatMap(Ref.get(available), (done) =>
            Effect.timeoutTo(Deferred.await(done), { duration: bound, onSuccess: () => true, onTimeout: () => false })
          )
        : Effect.as(Effect.sleep(Duration.zero), false)

    const supervisor: Supervisor = {
      signals,
      databases,
      active,
      current: () => current,
      awaitSwitch: Effect.suspend(() => Deferred.await(switched)),
      snapshot,
      byId,
      awaitAvailable,
      unavailableError: Effect.flatMap(
        Ref.get(unavailable),
        (attempt): Effect.Effect<never, TemporarilyUnavailable | NoValidDatabase> => {
          const n = Option.getOrElse(attempt, () => 1)
          return n > config.failoverAttempts
            ? Effect.fail(new NoValidDatabase({ attempts: config.failoverAttempts }))
            : Effect.fail(new TemporarilyUnavailable({ attempt: n, maxAttempts: config.failoverAttempts }))
        }
      ),
      start: (database) =>
        Effect.gen(function* () {
          yield* setActive(database)
          yield* Effect.flatMap(Ref.get(available), (done) => Deferred.succeed(done, undefined))
          lastActiveId = database.id
          // Listeners attached before start-up learn which database the traffic goes to first.
          yield* publish(
            MultiDbEvent.ActiveDatabaseChanged({
              oldDatabase: undefined,
              newDatabase: database.id,
              reason: "automatic"
            })
          )
        }),
      run: Queue.take(signals).pipe(
        Effect.flatMap(handle),
        Effect.catchAllCause((cause) => Effect.logError("MultiDbClient supervisor step failed", cause)),
        Effect.forever
      )
    }
    return supervisor
  })
