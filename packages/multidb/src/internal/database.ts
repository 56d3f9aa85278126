import {
  Cause,
  type Context,
  type Deferred,
  Effect,
  ExecutionStrategy,
  Exit,
  Metric,
  MetricKey,
  MetricLabel,
  type Option,
  type Queue,
  Ref,
  Scope,
  Stream,
  type Tracer
} from "effect"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import type * as DatabaseConfig from "../DatabaseConfig.js"
import type { DatabaseInfo } from "../DatabaseInfo.js"
import type * as FailureDetector from "../FailureDetector.js"
import type * as HealthCheck from "../HealthCheck.js"
import type { MultiDbConfig } from "../MultiDbConfig.js"
import * as MultiDbEvent from "../MultiDbEvent.js"
import * as Metrics from "../MultiDbMetrics.js"
import type * as RedisConnection from "../RedisConnection.js"
import * as Checks from "./checks.js"
import * as FastPath from "./fastPath.js"
import type { Signal } from "./signal.js"
import * as Telemetry from "./telemetry.js"

/**
 * One database inside the client: its connections, circuit, failure detector, health checks (`./checks.ts`), metrics
 * and the scope they all live in. It follows its own circuit: every change resets the detector, sets the gauge, is
 * published, and asks the supervisor to look again; a half-open circuit is decided by a check right away.
 */
export interface Database {
  readonly id: string
  readonly config: DatabaseConfig.DatabaseConfig
  /** Position in configuration order (ties of weight keep the first). */
  readonly order: number
  readonly weight: Ref.Ref<number>
  readonly connection: RedisConnection.RedisConnection
  readonly circuit: CircuitBreaker.CircuitBreaker
  readonly detector: FailureDetector.FailureDetector
  readonly scope: Scope.CloseableScope
  readonly lastHealth: Ref.Ref<Option.Option<HealthCheck.Result>>
  /** A command succeeded: detector and metric. Built once: the healthy path allocates no effect for it. */
  readonly recordSuccess: Effect.Effect<unknown>
  /**
   * The same without an effect, when the detector allows it (the built-in one does): the hot path calls it with when
   * the command ended (milliseconds on the client's clock, `FastPath.millisOf`).
   */
  readonly recordSuccessSync: ((at: number) => void) | undefined
  /** The server answered with an error reply: a success for the detector. */
  readonly recordReply: Effect.Effect<unknown>
  /**
   * A command failed on this database: metric, event, detector (which may trip the circuit) and a check. `span`: the
   * command's span, parent of what the failure causes.
   */
  readonly recordFailure: (command: string, reason: string, span?: Tracer.AnySpan) => Effect.Effect<void>
  /** The command connection was lost or recycled: a failure for the detector, and a check. */
  readonly connectionLost: Effect.Effect<void>
  /** Runs the health checks without applying them (manual switch, added database): `Checks.runChecks`. */
  readonly runChecks: Effect.Effect<HealthCheck.Result>
  /** Starts a check unless one is running, shared by every caller meanwhile: `Checks.startCheck`. */
  readonly startCheck: Effect.Effect<Deferred.Deferred<HealthCheck.Result, Checks.DatabaseClosed>>
  /** Whether the database has been closed (removed, or the client closed). */
  readonly isClosed: () => boolean
  /** A failure on the command path: start a check, at most every `triggeredCheckSpacing`. */
  readonly triggerCheck: Effect.Effect<void>
  /** One short PING after a command missed its deadline; no answer in time opens the circuit: `Checks.probe`. */
  readonly probe: Effect.Effect<void>
  readonly info: (activeId: string | undefined) => Effect.Effect<DatabaseInfo>
  /** Its attributes and cached metrics for spans and `db.client.operation.duration`. */
  readonly telemetry: Telemetry.DatabaseTelemetry
  /** Why its circuit last opened, and the span of the work that opened it (the switch it causes joins that trace). */
  readonly lastOpened: () => Opened | undefined
}

/** Why a circuit opened: a check's cause, the failure detector, a missed deadline; and the span of that work. */
export interface Opened {
  readonly cause: unknown
  readonly span: Tracer.AnySpan | undefined
}

/** What a database needs from the client around it. */
export interface Environment {
  readonly config: MultiDbConfig
  readonly connector: Context.Tag.Service<typeof RedisConnection.RedisConnector>
  readonly circuits: Context.Tag.Service<typeof CircuitBreaker.CircuitBreakerFactory>
  readonly detectors: Context.Tag.Service<typeof FailureDetector.FailureDetectorFactory>
  readonly healthChecks: Ref.Ref<ReadonlyArray<HealthCheck.HealthCheck>>
  readonly healthDefaults: HealthCheck.Defaults
  readonly publish: (event: MultiDbEvent.MultiDbEvent) => Effect.Effect<unknown>
  readonly signals: Queue.Queue<Signal>
  /** The client's spans, metrics and logs (default: tracing as configured, the live clock). */
  readonly telemetry?: Telemetry.Telemetry
}

/** The extra tags of a metric update whose tags are baked into its key: one array for every command. */
const noTags: Array<MetricLabel.MetricLabel> = []

const circuitGaugeValue = { closed: 0, "half-open": 1, open: 2 } as const

/**
 * Runs `effect` on a database unless it is closed. A circuit or timer of a closed database reports an interruption
 * (a fiber handle of a closed scope does); that is not the caller's interruption, so it is dropped here: removing a
 * database never interrupts a command or check that was still running on it.
 */
const unlessClosed =
  (isClosed: () => boolean) =>
  (effect: Effect.Effect<void>): Effect.Effect<void> =>
    Effect.suspend(() =>
      isClosed()
        ? Effect.void
        : Effect.catchAllCause(effect, (cause) =>
            Cause.isInterruptedOnly(cause) ? Effect.void : Effect.failCause(cause)
          )
    )

/**
 * Opens the connections of a database and builds its value, in a scope of its own under `parent`. Interrupted or
 * failing half-way, it closes that scope (and whatever it opened) before returning.
 */
export const make = (
  env: Environment,
  databaseConfig: DatabaseConfig.DatabaseConfig,
  order: number,
  parent: Scope.Scope
): Effect.Effect<Database> =>
  Effect.uninterruptibleMask((restore) =>
    Effect.flatMap(Scope.fork(parent, ExecutionStrategy.sequential), (scope) =>
      restore(build(env, databaseConfig, order, scope)).pipe(
        Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, Exit.void)))
      )
    )
  )

const build = (
  env: Environment,
  databaseConfig: DatabaseConfig.DatabaseConfig,
  order: number,
  scope: Scope.CloseableScope
): Effect.Effect<Database> =>
  Effect.gen(function* () {
    const { config, publish, signals } = env
    const telemetry = env.telemetry ?? Telemetry.make(config.tracing, yield* Effect.clock)
    const id = databaseConfig.id
    const databaseTelemetry = Telemetry.databaseTelemetry(databaseConfig)
    let closed = false
    const isClosed = () => closed
    const guarded = unlessClosed(isClosed)
    let opened: Opened | undefined
    /** Opens the circuit for `cause`, found by the work of `span`: remembered for the switch, an event on the span. */
    const open = (cause: unknown, span: Tracer.AnySpan | undefined) =>
      guarded(
        Effect.flatMap(circuit.state, (from) => {
          opened = { cause, span }
          telemetry.circuitEvent(span, id, from, "open")
          return circuit.open
        })
      )
    const detector = yield* env.detectors.make(id, {
      window: config.failuresDetectionWindow,
      minNumFailures: config.minNumFailures,
      failureRateThreshold: config.failureRateThreshold
    })
    const circuit = yield* env.circuits.make(id, { gracePeriod: databaseConfig.gracePeriod }).pipe(Scope.extend(scope))
    const connection = yield* env.connector
      .connect(databaseConfig, {
        commandTimeout: config.commandTimeout,
        connectTimeout: config.connectTimeout,
        onConnectionLost: () => {
          signals.unsafeOffer({ _tag: "ConnectionLost", id })
        }
      })
      .pipe(Scope.extend(scope))
    // Tags baked into the key: the tagged-metric path would rebuild the key and look it up on every command.
    const outcome = (name: string) =>
      Metric.fromMetricKey(
        MetricKey.taggedWithLabels(Metrics.commandAttemptsKey, [
          MetricLabel.make(Telemetry.Attr.database, id),
          MetricLabel.make(Telemetry.Attr.outcome, name)
        ])
      )
    const successes = outcome("success")
    const replies = outcome("reply_error")
    const failures = outcome("failure")
    const gauge = Metric.tagged(Metrics.circuitState, Telemetry.Attr.database, id)
    const checks = yield* Checks.make(env, {
      databaseConfig,
      health: connection.health,
      circuit,
      telemetry,
      databaseTelemetry,
      scope,
      isClosed,
      open,
      close: guarded(circuit.close)
    })
    // Added after the checks' finalizer, so it runs before it: from then on no check starts, and the one still running
    // ends with `DatabaseClosed`.
    yield* Scope.addFinalizer(
      scope,
      Effect.sync(() => {
        closed = true
      })
    )
    const weight = yield* Ref.make(databaseConfig.weight)

    /** A failure for the detector; `span`: the work that failed (the parent of the check or switch it causes). */
    const failed = (reason: string, span: Tracer.AnySpan | undefined) =>
      Effect.gen(function* () {
        const tripped = yield* detector.record("failure")
        if (tripped && (yield* circuit.state) === "closed") {
          yield* telemetry.detectorTripped(databaseTelemetry, span)
          yield* open(`failure detector tripped (last failure: ${reason})`, span)
        } else yield* checks.triggerCheckFor(span)
      })
    const recordFailure = (command: string, reason: string, span?: Tracer.AnySpan) =>
      Effect.gen(function* () {
        failures.unsafeUpdate(1, noTags)
        yield* publish(MultiDbEvent.CommandsFailed({ database: id, commands: [command], error: reason }))
        yield* failed(reason, span)
      })

    // The circuit's changes, followed for as long as the database lives. The first element is the state at the time
    // the stream starts: compared with the state the database was created with, so an early change is not missed.
    let seen = yield* circuit.state
    yield* Metric.set(gauge, circuitGaugeValue[seen])
    yield* circuit.changes.pipe(
      Stream.runForEach((to) => {
        const from = seen
        if (from === to) return Effect.void
        seen = to
        return Effect.gen(function* () {
          yield* detector.reset
          yield* telemetry.circuitChanged(id, from, to)
          yield* publish(MultiDbEvent.CircuitStateChanged({ database: id, from, to }))
          // An opening joins the trace of the work that opened it: the switch it causes is that work's child.
          yield* signals.offer({ _tag: "Reevaluate", parent: to === "open" ? opened?.span : undefined })
          if (to === "half-open") yield* checks.startCheck
        })
      }),
      Effect.forkIn(scope)
    )

    const syncSuccess = (detector as FastPath.MaybeSync)[FastPath.recordSuccessSync]
    const database: Database = {
      id,
      config: databaseConfig,
      order,
      weight,
      connection,
      circuit,
      detector,
      scope,
      lastHealth: checks.lastHealth,
      recordSuccess: Effect.zipRight(
        detector.record("success"),
        Effect.sync(() => successes.unsafeUpdate(1, noTags))
      ),
      recordSuccessSync:
        syncSuccess === undefined
          ? undefined
          : (at: number) => {
              syncSuccess(at)
              successes.unsafeUpdate(1, noTags)
            },
      recordReply: Effect.zipRight(
        detector.record("success"),
        Effect.sync(() => replies.unsafeUpdate(1, noTags))
      ),
      recordFailure,
      connectionLost: failed("connection lost", undefined),
      runChecks: checks.runChecks,
      startCheck: checks.startCheck,
      isClosed,
      triggerCheck: checks.triggerCheckFor(undefined),
      probe: checks.probe,
      telemetry: databaseTelemetry,
      lastOpened: () => opened,
      info: (activeId) =>
        Effect.all([circuit.state, Ref.get(weight), Ref.get(checks.lastHealth)]).pipe(
          Effect.map(
            ([state, w, health]): DatabaseInfo => ({
              id,
              weight: w,
              order,
              circuit: state,
              lastHealthCheck: health,
              active: id === activeId
            })
          )
        )
    }
    return database
  })

/** Closes a database's scope: its connections, circuit timer and follower end; a check still running ends. */
export const close = (database: Database): Effect.Effect<void> => Scope.close(database.scope, Exit.void)
