import {
  Clock,
  type Context,
  Deferred,
  Duration,
  Effect,
  ExecutionStrategy,
  Exit,
  Metric,
  MetricKey,
  MetricLabel,
  Option,
  type Queue,
  Ref,
  Scope,
  Stream
} from "effect"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import type * as DatabaseConfig from "../DatabaseConfig.js"
import type { DatabaseInfo } from "../DatabaseInfo.js"
import type * as FailureDetector from "../FailureDetector.js"
import * as HealthCheck from "../HealthCheck.js"
import type { MultiDbConfig } from "../MultiDbConfig.js"
import * as MultiDbEvent from "../MultiDbEvent.js"
import * as Metrics from "../MultiDbMetrics.js"
import type * as RedisConnection from "../RedisConnection.js"
import type { Signal } from "./signal.js"

/**
 * One database inside the client: its connections, circuit, failure detector, health state, metrics and the scope
 * they all live in. It follows its own circuit: every change resets the detector, sets the gauge, is published, and
 * asks the supervisor to look again; a half-open circuit is decided by a check right away.
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
  /** The server answered with an error reply: a success for the detector. */
  readonly recordReply: Effect.Effect<unknown>
  /** A command failed on this database: metric, event, detector (which may trip the circuit) and a check. */
  readonly recordFailure: (command: string, reason: string) => Effect.Effect<void>
  /** The command connection was lost or recycled: a failure for the detector, and a check. */
  readonly connectionLost: Effect.Effect<void>
  /** Runs the health checks without applying them (manual switch, added database). */
  readonly runChecks: Effect.Effect<HealthCheck.Result>
  /**
   * Starts a check of this database in its scope unless one is running, and hands back its outcome: several callers
   * share one check. The result is applied to the circuit.
   */
  readonly startCheck: Effect.Effect<Deferred.Deferred<HealthCheck.Result>>
  /** A failure on the command path: start a check, at most every `triggeredCheckSpacing`. */
  readonly triggerCheck: Effect.Effect<void>
  /** One short PING after a command missed its deadline; no answer in time opens the circuit. */
  readonly probe: Effect.Effect<void>
  readonly info: (activeId: string | undefined) => Effect.Effect<DatabaseInfo>
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
}

/** Minimum time between two checks triggered by failures of one database. */
export const triggeredCheckSpacing = 250

/** Bound on the PING sent after a missed deadline: `hangProbeTimeout`, never more than a whole health check. */
export const hangProbeTimeout = (config: MultiDbConfig): Duration.Duration =>
  Duration.min(config.hangProbeTimeout, config.healthCheckTimeout)

const circuitGaugeValue = { closed: 0, "half-open": 1, open: 2 } as const

/** Opens the connections of a database and builds its value, in a scope of its own under `parent`. */
export const make = (
  env: Environment,
  databaseConfig: DatabaseConfig.DatabaseConfig,
  order: number,
  parent: Scope.Scope
): Effect.Effect<Database> =>
  Effect.gen(function* () {
    const { config, publish, signals } = env
    const id = databaseConfig.id
    const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
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
        MetricKey.taggedWithLabels(Metrics.commandOutcomesKey, [
          MetricLabel.make("database", id),
          MetricLabel.make("outcome", name)
        ])
      )
    const successes = outcome("success")
    const replies = outcome("reply_error")
    const failures = outcome("failure")
    const gauge = Metric.tagged(Metrics.circuitState, "database", id)
    const lastHealth = yield* Ref.make<Option.Option<HealthCheck.Result>>(Option.none())
    const lastTriggered = yield* Ref.make(Number.NEGATIVE_INFINITY)
    const running = yield* Ref.make<Option.Option<Deferred.Deferred<HealthCheck.Result>>>(Option.none())
    const probing = yield* Effect.makeSemaphore(1)
    const weight = yield* Ref.make(databaseConfig.weight)

    const runChecks = Effect.gen(function* () {
      const checks = yield* Ref.get(env.healthChecks)
      const start = yield* Clock.currentTimeMillis
      const result = yield* HealthCheck.run(
        checks,
        {
          database: id,
          hosts: databaseConfig.hosts,
          endpoints: databaseConfig.endpoints,
          healthCheckUrl: databaseConfig.healthCheckUrl,
          connection: connection.health
        },
        env.healthDefaults
      )
      const end = yield* Clock.currentTimeMillis
      yield* Metric.update(Metric.tagged(Metrics.healthCheckDuration, "database", id), end - start)
      yield* Ref.set(lastHealth, Option.some(result))
      yield* publish(
        MultiDbEvent.HealthCheckCompleted({
          database: id,
          healthy: result.healthy,
          failbackAllowed: result.failbackAllowed,
          ...(result.cause === undefined ? {} : { cause: result.cause })
        })
      )
      return result
    })

    const checkAndApply = Effect.tap(runChecks, (result) =>
      Effect.gen(function* () {
        const state = yield* circuit.state
        if (!result.healthy) {
          if (state !== "open") yield* circuit.open
        } else if (state === "half-open") {
          yield* circuit.close
        }
        yield* signals.offer({ _tag: "Reevaluate" })
      })
    )

    const startCheck = Effect.flatMap(Deferred.make<HealthCheck.Result>(), (fresh) =>
      Effect.flatMap(
        Ref.modify(
          running,
          (
            current: Option.Option<Deferred.Deferred<HealthCheck.Result>>
          ): readonly [readonly [Deferred.Deferred<HealthCheck.Result>, boolean], typeof current] =>
            Option.isSome(current) ? [[current.value, false], current] : [[fresh, true], Option.some(fresh)]
        ),
        ([deferred, mine]) =>
          mine
            ? Effect.as(
                Effect.forkIn(
                  checkAndApply.pipe(
                    Effect.onExit((exit) =>
                      Effect.zipRight(Ref.set(running, Option.none()), Deferred.done(deferred, exit))
                    )
                  ),
                  scope
                ),
                deferred
              )
            : Effect.succeed(deferred)
      )
    )

    const triggerCheck = Effect.clockWith((clock) =>
      Effect.flatMap(Ref.get(lastTriggered), (last) => {
        const now = clock.unsafeCurrentTimeMillis()
        if (now - last < triggeredCheckSpacing) return Effect.void
        return Effect.zipRight(Ref.set(lastTriggered, now), signals.offer({ _tag: "Check", id }))
      })
    )

    const probeBound = hangProbeTimeout(config)
    const probe = probing
      .withPermitsIfAvailable(1)(
        Effect.gen(function* () {
          if ((yield* circuit.state) !== "closed") return
          const answered = yield* connection.health.ping.pipe(Effect.timeout(probeBound), Effect.isSuccess)
          if (answered || (yield* circuit.state) !== "closed") return
          const result: HealthCheck.Result = {
            healthy: false,
            failbackAllowed: false,
            cause: `a command missed its deadline and PING got no answer within ${Duration.format(probeBound)}`
          }
          yield* Ref.set(lastHealth, Option.some(result))
          yield* publish(MultiDbEvent.HealthCheckCompleted({ database: id, ...result, cause: result.cause! }))
          yield* circuit.open
        })
      )
      .pipe(Effect.asVoid)

    const failed = Effect.gen(function* () {
      const tripped = yield* detector.record("failure")
      if (tripped && (yield* circuit.state) === "closed") yield* circuit.open
      else yield* triggerCheck
    })
    const recordFailure = (command: string, reason: string) =>
      Effect.gen(function* () {
        failures.unsafeUpdate(1, [])
        yield* publish(MultiDbEvent.CommandsFailed({ database: id, commands: [command], error: reason }))
        yield* failed
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
          yield* Metric.set(gauge, circuitGaugeValue[to])
          yield* publish(MultiDbEvent.CircuitStateChanged({ database: id, from, to }))
          yield* signals.offer({ _tag: "Reevaluate" })
          if (to === "half-open") yield* startCheck
        })
      }),
      Effect.forkIn(scope)
    )

    const database: Database = {
      id,
      config: databaseConfig,
      order,
      weight,
      connection,
      circuit,
      detector,
      scope,
      lastHealth,
      recordSuccess: Effect.zipRight(
        detector.record("success"),
        Effect.sync(() => successes.unsafeUpdate(1, []))
      ),
      recordReply: Effect.zipRight(
        detector.record("success"),
        Effect.sync(() => replies.unsafeUpdate(1, []))
      ),
      recordFailure,
      connectionLost: failed,
      runChecks,
      startCheck,
      triggerCheck,
      probe,
      info: (activeId) =>
        Effect.all([circuit.state, Ref.get(weight), Ref.get(lastHealth)]).pipe(
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

/** Closes a database's scope: its connections, circuit timer and follower end. */
export const close = (database: Database): Effect.Effect<void> => Scope.close(database.scope, Exit.void)
