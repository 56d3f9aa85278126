import { Deferred, Duration, Effect, ExecutionStrategy, Option, PubSub, Ref, Schedule, Scope, Stream } from "effect"
import * as CircuitBreaker from "../CircuitBreaker.js"
import type * as DatabaseConfig from "../DatabaseConfig.js"
import * as ErrorClassifier from "../ErrorClassifier.js"
import * as FailoverStrategy from "../FailoverStrategy.js"
import * as FailureDetector from "../FailureDetector.js"
import * as HealthCheck from "../HealthCheck.js"
import type { MultiDbClient as Service } from "../MultiDbClient.js"
import type { MultiDbConfig } from "../MultiDbConfig.js"
import { ClientClosed, type InitialHealthCheckFailed, InvalidRequest } from "../MultiDbError.js"
import type * as MultiDbEvent from "../MultiDbEvent.js"
import * as MultiDbEvents from "../MultiDbEvents.js"
import * as RedisConnection from "../RedisConnection.js"
import * as Database from "./database.js"
import * as Executor from "./executor.js"
import * as Lifecycle from "./lifecycle.js"
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
 *
 * Everything lives in a scope of its own under the caller's. The caller's scope holds two finalizers only: marking
 * the client closed, then closing that inner scope. So when the caller's scope closes, the client is closed first
 * (every call from then on, and every call still waiting, ends with `ClientClosed`), and only then are fibers stopped
 * and connections closed.
 */
export const make = (
  config: MultiDbConfig
): Effect.Effect<Service, InitialHealthCheckFailed | InvalidRequest, Scope.Scope | RedisConnection.RedisConnector> =>
  Effect.gen(function* () {
    const outer = yield* Effect.scope
    const clientScope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
    const lifecycle = yield* Lifecycle.make
    yield* Scope.addFinalizer(outer, lifecycle.close)
    return yield* build(config, clientScope, lifecycle).pipe(Scope.extend(clientScope))
  })

const build = (config: MultiDbConfig, clientScope: Scope.Scope, lifecycle: Lifecycle.Lifecycle) =>
  Effect.gen(function* () {
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

    const executor = Executor.make(config, supervisor, classifier, telemetry, lifecycle)
    const requests = Requests.make(executor.execute, executor.executeIsolated, executor.executeBlocking, telemetry)
    const management = yield* Management.make({
      supervisor,
      healthChecks,
      createDatabase,
      publish,
      telemetry,
      lifecycle
    })
    const pubsub = yield* PubSubManager.make(supervisor.active, {
      backoff: Schedule.exponential(config.commandRetry.base).pipe(
        Schedule.jittered,
        Schedule.modifyDelay((delay) => Duration.min(delay, config.commandRetry.cap))
      ),
      // as long as the client reports an outage as temporary
      budget: Duration.max(Duration.times(config.failoverDelay, config.failoverAttempts), Duration.seconds(1)),
      unavailable: supervisor.unavailableError
    })
    const closedError = (operation: string) =>
      Effect.zipRight(Deferred.await(lifecycle.closed), Effect.fail(new ClientClosed({ operation })))
    const subscribeTo = (kind: RedisConnection.SubscriptionKind) => (names: ReadonlyArray<string>) =>
      Stream.suspend(() => {
        const operation = kind === "channel" ? "subscribe" : kind === "pattern" ? "pSubscribe" : "sSubscribe"
        if (lifecycle.isClosed()) return Stream.fail(new ClientClosed({ operation }))
        if (names.length === 0) {
          return Stream.fail(new InvalidRequest({ reason: "subscribe needs at least one channel or pattern" }))
        }
        return pubsub.subscribe(kind, names).pipe(Stream.interruptWhen(closedError(operation)))
      })
    const read = <A>(operation: string, effect: Effect.Effect<A>) => Effect.zipRight(lifecycle.check(operation), effect)

    const service: Service = {
      execute: executor.execute,
      ...requests,
      subscribe: subscribeTo("channel"),
      pSubscribe: subscribeTo("pattern"),
      sSubscribe: subscribeTo("shard"),
      events: Stream.fromPubSub(events).pipe(Stream.interruptWhenDeferred(lifecycle.closed)),
      activeDatabase: read(
        "MultiDbClient.activeDatabase",
        Effect.map(supervisor.snapshot, (infos) => Option.fromNullable(infos.find((i) => i.active)))
      ),
      databases: read("MultiDbClient.databases", supervisor.snapshot),
      activeChanges: supervisor.active.changes.pipe(
        Stream.map(Option.map((d) => d.id)),
        Stream.changes,
        Stream.interruptWhenDeferred(lifecycle.closed)
      ),
      ...management
    }
    return service
  })
