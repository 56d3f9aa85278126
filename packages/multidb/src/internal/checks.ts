import { Data, Deferred, Duration, Effect, Exit, Option, Ref, Scope, type Tracer } from "effect"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import type * as DatabaseConfig from "../DatabaseConfig.js"
import * as FailureCause from "../FailureCause.js"
import * as HealthCheck from "../HealthCheck.js"
import { type MultiDbConfig, minimumCheckSpacing } from "../MultiDbConfig.js"
import * as MultiDbEvent from "../MultiDbEvent.js"
import type * as RedisConnection from "../RedisConnection.js"
import type { Environment } from "./database.js"
import * as Telemetry from "./telemetry.js"

/**
 * The health checks of one database: a check run for a caller, or started in the database's scope and shared by
 * everyone who asks while it runs, at least `minimumCheckSpacing` after the one before, its result applied to the
 * circuit; the checks that failures on the command path ask for, spaced by `triggeredCheckSpacing`; the short PING
 * after a missed deadline (`probe`). The database (`./database.ts`) holds the circuit they act on.
 */
export interface Checks {
  /** The last result, of a check or of the probe. */
  readonly lastHealth: Ref.Ref<Option.Option<HealthCheck.Result>>
  /** Runs the health checks without applying them (manual switch, added database), in the caller's span. */
  readonly runChecks: Effect.Effect<HealthCheck.Result>
  /**
   * Starts a check in the database's scope unless one is running, and hands back its outcome: several callers share
   * one check. The result is applied to the circuit. Fails with `DatabaseClosed` when the database is (or gets)
   * closed before the check ends; interrupting the caller never leaves a check marked running.
   */
  readonly startCheck: Effect.Effect<Deferred.Deferred<HealthCheck.Result, DatabaseClosed>>
  /** A failure on the command path (the work of `parent`): asks the supervisor for a check, at most every 250 ms. */
  readonly triggerCheckFor: (parent: Tracer.AnySpan | undefined) => Effect.Effect<void>
  /** One short PING after a command missed its deadline; no answer in time opens the circuit. */
  readonly probe: Effect.Effect<void>
}

/** What the checks of one database act on, from the database that holds them. */
export interface Target {
  readonly databaseConfig: DatabaseConfig.DatabaseConfig
  readonly health: RedisConnection.RedisConnection["health"]
  readonly circuit: CircuitBreaker.CircuitBreaker
  readonly telemetry: Telemetry.Telemetry
  readonly databaseTelemetry: Telemetry.DatabaseTelemetry
  /** The database's scope: started checks run in it, and end with `DatabaseClosed` when it closes. */
  readonly scope: Scope.Scope
  readonly isClosed: () => boolean
  /** Opens the circuit for `cause`, found by the work of `span`; nothing once the database is closed. */
  readonly open: (cause: unknown, span: Tracer.AnySpan | undefined) => Effect.Effect<void>
  /** Closes the circuit; nothing once the database is closed. */
  readonly close: Effect.Effect<void>
}

/** The database was closed (removed, or the client closed) before a check of it ended. */
export class DatabaseClosed extends Data.TaggedError("DatabaseClosed")<{ readonly database: string }> {}

/** Minimum time between two checks triggered by failures of one database. */
export const triggeredCheckSpacing = 250

/** Bound on the PING sent after a missed deadline: `hangProbeTimeout`, never more than a whole health check. */
export const hangProbeTimeout = (config: MultiDbConfig): Duration.Duration =>
  Duration.min(config.hangProbeTimeout, config.healthCheckTimeout)

/** The checks of one database; started checks run in `target.scope`, and its closing ends them. */
export const make = (
  env: Pick<Environment, "config" | "healthChecks" | "healthDefaults" | "publish" | "signals">,
  target: Target
): Effect.Effect<Checks> =>
  Effect.gen(function* () {
    const { config, publish, signals } = env
    const { circuit, close, databaseConfig, databaseTelemetry, health, isClosed, open, scope, telemetry } = target
    const id = databaseConfig.id
    const lastHealth = yield* Ref.make<Option.Option<HealthCheck.Result>>(Option.none())
    const lastTriggered = yield* Ref.make(Number.NEGATIVE_INFINITY)
    const running = yield* Ref.make<Option.Option<Deferred.Deferred<HealthCheck.Result, DatabaseClosed>>>(Option.none())
    const closedError = new DatabaseClosed({ database: id })
    // Runs when the scope closes (after the database marks itself closed): a check still marked running (even one
    // whose fiber was stopped before it began) ends with `DatabaseClosed`.
    yield* Scope.addFinalizer(
      scope,
      Effect.flatMap(
        Ref.getAndSet(running, Option.none()),
        Option.match({ onNone: () => Effect.void, onSome: (deferred) => Deferred.fail(deferred, closedError) })
      )
    )
    const probing = yield* Effect.makeSemaphore(1)

    const checkOnly = Effect.gen(function* () {
      const checks = yield* Ref.get(env.healthChecks)
      const result = yield* HealthCheck.run(
        checks,
        {
          database: id,
          hosts: databaseConfig.hosts,
          endpoints: databaseConfig.endpoints,
          healthCheckUrl: databaseConfig.healthCheckUrl,
          connection: health
        },
        env.healthDefaults
      )
      yield* Ref.set(lastHealth, Option.some(result))
      yield* publish(
        MultiDbEvent.HealthCheckCompleted({
          database: id,
          healthy: result.healthy,
          failbackAllowed: result.failbackAllowed,
          ...(result.cause === undefined ? {} : { cause: result.cause }),
          ...(result.failure === undefined ? {} : { failure: result.failure })
        })
      )
      return result
    })

    // A check asked for by a caller (management, start-up) is a child of the caller's span.
    const runChecks = telemetry.healthCheck(databaseTelemetry, checkOnly, "current")

    // A check started by the supervisor is a child of the work that asked for it (`CheckParent`), or a new trace. The
    // result is applied inside its span, so the circuit change and the switch it causes join its trace.
    const checkAndApply = Effect.flatMap(Telemetry.CheckParent, (parent) =>
      telemetry.healthCheck(
        databaseTelemetry,
        Effect.tap(checkOnly, (result) =>
          Effect.gen(function* () {
            const state = yield* circuit.state
            const span = yield* telemetry.currentSpan
            if (!result.healthy) {
              if (state !== "open") yield* open(result.cause ?? "health check failed", span)
            } else if (state === "half-open") {
              telemetry.circuitEvent(span, id, state, "closed")
              yield* close
            }
            yield* signals.offer({ _tag: "Reevaluate", parent: span })
          })
        ),
        parent
      )
    )

    // The floor on how often this database is checked: a check starts at least `minimumCheckSpacing` after the
    // previous one started, so a zero grace period against a database that stays down cannot become a busy loop.
    const lastCheckStart = yield* Ref.make(Number.NEGATIVE_INFINITY)
    const spacing = Duration.toMillis(minimumCheckSpacing)
    const spaced = Effect.zipRight(
      Effect.clockWith((clock) =>
        Effect.flatMap(Ref.get(lastCheckStart), (last) => {
          const wait = last + spacing - clock.unsafeCurrentTimeMillis()
          return wait > 0 ? Effect.sleep(Duration.millis(wait)) : Effect.void
        })
      ).pipe(Effect.zipRight(Effect.clockWith((clock) => Ref.set(lastCheckStart, clock.unsafeCurrentTimeMillis())))),
      checkAndApply
    )

    // Uninterruptible from marking a check running to forking it: an interrupted caller never leaves the mark set.
    const startCheck = Effect.uninterruptible(
      Effect.flatMap(Deferred.make<HealthCheck.Result, DatabaseClosed>(), (fresh) =>
        Effect.suspend(() => {
          if (isClosed()) return Effect.as(Deferred.fail(fresh, closedError), fresh)
          return Effect.flatMap(
            Ref.modify(
              running,
              (
                current: Option.Option<Deferred.Deferred<HealthCheck.Result, DatabaseClosed>>
              ): readonly [
                readonly [Deferred.Deferred<HealthCheck.Result, DatabaseClosed>, boolean],
                typeof current
              ] => (Option.isSome(current) ? [[current.value, false], current] : [[fresh, true], Option.some(fresh)])
            ),
            ([deferred, mine]) =>
              mine
                ? Effect.as(
                    Effect.forkIn(
                      spaced.pipe(
                        Effect.interruptible,
                        Effect.onExit((exit) =>
                          Effect.zipRight(
                            Ref.update(running, (current) =>
                              Option.isSome(current) && current.value === deferred ? Option.none() : current
                            ),
                            // the check's fiber is only ever interrupted by the closing of the database's scope
                            Exit.isInterrupted(exit)
                              ? Deferred.fail(deferred, closedError)
                              : Deferred.done(deferred, exit)
                          )
                        )
                      ),
                      scope
                    ),
                    deferred
                  )
                : Effect.succeed(deferred)
          )
        })
      )
    )

    const triggerCheckFor = (parent: Tracer.AnySpan | undefined) =>
      Effect.clockWith((clock) =>
        Effect.flatMap(Ref.get(lastTriggered), (last) => {
          const now = clock.unsafeCurrentTimeMillis()
          if (now - last < triggeredCheckSpacing) return Effect.void
          return Effect.zipRight(Ref.set(lastTriggered, now), signals.offer({ _tag: "Check", id, parent }))
        })
      )

    const probeBound = hangProbeTimeout(config)
    const probe = probing
      .withPermitsIfAvailable(1)(
        Effect.gen(function* () {
          if ((yield* circuit.state) !== "closed") return
          const answered = yield* health.ping.pipe(Effect.timeout(probeBound), Effect.isSuccess)
          if (answered || (yield* circuit.state) !== "closed") return
          const message = `a command missed its deadline and PING got no answer within ${Duration.format(probeBound)}`
          const result: HealthCheck.Result = {
            healthy: false,
            failbackAllowed: false,
            cause: message,
            failure: FailureCause.make("timeout", message)
          }
          yield* Ref.set(lastHealth, Option.some(result))
          yield* publish(
            MultiDbEvent.HealthCheckCompleted({
              database: id,
              healthy: false,
              failbackAllowed: false,
              cause: message,
              failure: result.failure!
            })
          )
          yield* open(result.cause, yield* Telemetry.CheckParent)
        })
      )
      .pipe(Effect.asVoid)

    return { lastHealth, runChecks, startCheck, triggerCheckFor, probe }
  })
