import { Effect, Option, PubSub, Ref, type Scope, Stream } from "effect"
import * as CircuitBreaker from "../CircuitBreaker.js"
import type * as DatabaseConfig from "../DatabaseConfig.js"
import * as ErrorClassifier from "../ErrorClassifier.js"
import * as FailoverStrategy from "../FailoverStrategy.js"
import * as FailureDetector from "../FailureDetector.js"
import * as HealthCheck from "../HealthCheck.js"
import type { MultiDbClient as Service } from "../MultiDbClient.js"
import type { MultiDbConfig } from "../MultiDbConfig.js"
import { type InitialHealthCheckFailed, InvalidRequest } from "../MultiDbError.js"
import type * as MultiDbEvent from "../MultiDbEvent.js"
import * as MultiDbEvents from "../MultiDbEvents.js"
import * as RedisConnection from "../RedisConnection.js"
import * as Database from "./database.js"
import * as Executor from "./executor.js"
import * as Management from "./management.js"
import * as PubSubManager from "./pubsub.js"
import * as Requests from "./requests.js"
import * as Startup from "./startup.js"
import * as Supervisor from "./supervisor.js"
import * as Telemetry from "./telemetry.js"

/**
 * Builds a client: resolves the services (each has a default), wires the databases, the supervisor, the executor,
 * the requests and runtime management together, and starts up. A command goes requests → executor → supervisor's
 * active database → its connection.
 */
export const make = (
  config: MultiDbConfig
): Effect.Effect<Service, InitialHealthCheckFailed | InvalidRequest, Scope.Scope | RedisConnection.RedisConnector> =>
  Effect.gen(function* () {
    const clientScope = yield* Effect.scope
    const events = yield* Effect.serviceOption(MultiDbEvents.MultiDbEvents).pipe(
      Effect.flatMap(Option.match({ onNone: () => MultiDbEvents.make(), onSome: Effect.succeed }))
    )
    const classifier = yield* ErrorClassifier.ErrorClassifier
    const strategy = yield* FailoverStrategy.FailoverStrategy
    const checksOverride = yield* Effect.serviceOption(HealthCheck.HealthChecks)
    const healthChecks = yield* Ref.make(Option.getOrElse(checksOverride, () => config.healthChecks))
    const publish = (event: MultiDbEvent.MultiDbEvent) => PubSub.publish(events, event)

    const telemetry = Telemetry.make(config.tracing, yield* Effect.clock)
    const supervisor = yield* Supervisor.make(config, strategy, events, telemetry)
    const environment: Database.Environment = {
      config,
      connector: yield* RedisConnection.RedisConnector,
      circuits: yield* CircuitBreaker.CircuitBreakerFactory,
      detectors: yield* FailureDetector.FailureDetectorFactory,
      healthChecks,
      healthDefaults: {
        probes: config.healthCheckProbes,
        probesDelay: config.healthCheckProbesDelay,
        timeout: config.healthCheckTimeout,
        policy: config.healthCheckPolicy
      },
      publish,
      signals: supervisor.signals,
      telemetry
    }
    let nextOrder = 0
    const createDatabase = (databaseConfig: DatabaseConfig.DatabaseConfig) =>
      Effect.suspend(() => Database.make(environment, databaseConfig, nextOrder++, clientScope))

    yield* Startup.start({ config, supervisor, strategy, healthChecks, createDatabase })

    const executor = Executor.make(config, supervisor, classifier, telemetry)
    const requests = Requests.make(executor.execute, executor.executeIsolated, executor.executeBlocking, telemetry)
    const management = yield* Management.make({ supervisor, healthChecks, createDatabase, publish, telemetry })
    const pubsub = yield* PubSubManager.make(supervisor.active, executor.retrySchedule)
    const subscribeTo = (kind: RedisConnection.SubscriptionKind) => (names: ReadonlyArray<string>) =>
      names.length === 0
        ? Stream.fail(new InvalidRequest({ reason: "subscribe needs at least one channel or pattern" }))
        : pubsub.subscribe(kind, names)

    const service: Service = {
      execute: executor.execute,
      ...requests,
      subscribe: subscribeTo("channel"),
      pSubscribe: subscribeTo("pattern"),
      sSubscribe: subscribeTo("shard"),
      events: Stream.fromPubSub(events),
      activeDatabase: Effect.map(supervisor.snapshot, (infos) => Option.fromNullable(infos.find((i) => i.active))),
      databases: supervisor.snapshot,
      activeChanges: supervisor.active.changes.pipe(Stream.map(Option.map((d) => d.id)), Stream.changes),
      ...management
    }
    return service
  })
