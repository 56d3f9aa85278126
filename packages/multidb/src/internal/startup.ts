import { Deferred, Duration, Effect, Option, Queue, Ref } from "effect"
import type * as DatabaseConfig from "../DatabaseConfig.js"
import type * as FailoverStrategy from "../FailoverStrategy.js"
import * as FailureCause from "../FailureCause.js"
import * as HealthCheck from "../HealthCheck.js"
import type { MultiDbConfig } from "../MultiDbConfig.js"
import { InitialHealthCheckFailed, InvalidRequest } from "../MultiDbError.js"
import type { Database } from "./database.js"
import { quorum } from "./healthCheck.js"
import { describeDatabase } from "./management.js"
import type { Supervisor } from "./supervisor.js"

/**
 * Start-up: validates the checks against the databases, connects them, runs the initial health check under
 * `initialHealthCheckPolicy`, makes the strategy's pick active, then starts the supervisor, the health rounds and the
 * fallback ticks in the client's scope.
 */
export const start = (options: {
  readonly config: MultiDbConfig
  readonly supervisor: Supervisor
  readonly strategy: FailoverStrategy.Strategy
  readonly healthChecks: Ref.Ref<ReadonlyArray<HealthCheck.HealthCheck>>
  readonly createDatabase: (config: DatabaseConfig.DatabaseConfig) => Effect.Effect<Database>
}) =>
  Effect.gen(function* () {
    const { config, supervisor } = options
    const problems = HealthCheck.validate(yield* Ref.get(options.healthChecks), config.databases.map(describeDatabase))
    if (problems.length > 0) {
      return yield* new InvalidRequest({ reason: `invalid configuration: ${problems.join("; ")}` })
    }
    const initial = yield* Effect.forEach(config.databases, options.createDatabase)
    yield* Ref.set(supervisor.databases, initial)
    const results = yield* Effect.forEach(initial, (database) => database.runChecks, { concurrency: "unbounded" })
    const healthy = initial.filter((_, i) => results[i]!.healthy)
    const unhealthy = initial.filter((_, i) => !results[i]!.healthy)
    const causes: Record<string, FailureCause.FailureCause> = {}
    initial.forEach((database, i) => {
      const result = results[i]!
      if (!result.healthy) causes[database.id] = result.failure ?? FailureCause.make("unhealthy", result.cause ?? "")
    })
    const failed = new InitialHealthCheckFailed({
      policy: config.initialHealthCheckPolicy,
      healthy: healthy.map((d) => d.id),
      unhealthy: unhealthy.map((d) => d.id),
      causes
    })
    if (healthy.length < quorum(config.initialHealthCheckPolicy, initial.length)) return yield* failed
    yield* Effect.forEach(unhealthy, (database) => database.circuit.open, { discard: true })
    const pick = options.strategy.select(yield* supervisor.snapshot)
    const first = Option.flatMap(pick, (id) => Option.fromNullable(initial.find((d) => d.id === id)))
    if (Option.isNone(first)) return yield* failed
    yield* supervisor.start(first.value)
    // Circuit changes made during start-up are decided above already.
    yield* Queue.takeAll(supervisor.signals)

    yield* Effect.forkScoped(supervisor.run)
    const round = Effect.flatMap(Ref.get(supervisor.databases), (list) =>
      // a database removed during the round ends its check with DatabaseClosed: the round goes on
      Effect.forEach(list, (database) => Effect.ignore(Effect.flatMap(database.startCheck, Deferred.await)), {
        concurrency: "unbounded",
        discard: true
      })
    )
    yield* Effect.forkScoped(round.pipe(Effect.delay(config.healthCheckInterval), Effect.forever))
    if (Duration.greaterThan(config.autoFallbackInterval, Duration.zero)) {
      yield* Effect.forkScoped(
        supervisor.signals
          .offer({ _tag: "SelectBest", reason: "fallback" })
          .pipe(Effect.delay(config.autoFallbackInterval), Effect.forever)
      )
    }
  })
