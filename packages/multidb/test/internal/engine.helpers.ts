import { Effect, PubSub, Queue, Ref } from "effect"
import * as CircuitBreaker from "../../src/CircuitBreaker.js"
import * as FailoverStrategy from "../../src/FailoverStrategy.js"
import * as FailureDetector from "../../src/FailureDetector.js"
import * as InMemoryConnection from "../../src/InMemoryConnection.js"
import * as Database from "../../src/internal/database.js"
import type { Signal } from "../../src/internal/signal.js"
import * as Supervisor from "../../src/internal/supervisor.js"
import * as MultiDbConfig from "../../src/MultiDbConfig.js"
import type { MultiDbEvent } from "../../src/MultiDbEvent.js"

/** A decoded configuration of in-memory databases east (1.0) and west (0.5), with one-probe checks. */
export const decodeConfig = (overrides: Partial<MultiDbConfig.Input> = {}) =>
  MultiDbConfig.decode({
    databases: [
      { id: "east", url: "redis://east:6379", weight: 1, gracePeriod: "1 second" },
      { id: "west", url: "redis://west:6379", weight: 0.5, gracePeriod: "1 second" }
    ],
    commandTimeout: "1 second",
    healthCheckProbes: 1,
    healthCheckTimeout: "1 hour",
    ...overrides
  }).pipe(Effect.orDie)

/** The pieces a database is built from, over in-memory connections, with the events and signals recorded. */
export const environment = (overrides: Partial<MultiDbConfig.Input> = {}) =>
  Effect.gen(function* () {
    const config = yield* decodeConfig(overrides)
    const { connector, registry } = yield* InMemoryConnection.make
    const events = yield* PubSub.unbounded<MultiDbEvent>()
    const published: Array<MultiDbEvent> = []
    const signals = yield* Queue.unbounded<Signal>()
    const env: Database.Environment = {
      config,
      connector,
      circuits: { make: (_, options) => CircuitBreaker.make(options) },
      detectors: { make: (_, options) => FailureDetector.make(options) },
      healthChecks: yield* Ref.make(config.healthChecks),
      healthDefaults: {
        probes: config.healthCheckProbes,
        probesDelay: config.healthCheckProbesDelay,
        timeout: config.healthCheckTimeout,
        policy: config.healthCheckPolicy
      },
      publish: (event) =>
        Effect.zipRight(
          Effect.sync(() => published.push(event)),
          PubSub.publish(events, event)
        ),
      signals
    }
    const scope = yield* Effect.scope
    const create = (index: number) => Database.make(env, config.databases[index]!, index, scope)
    return { config, env, registry, published, signals, events, create }
  })

/** A supervisor over east and west (east active), not yet taking signals. */
export const supervised = (overrides: Partial<MultiDbConfig.Input> = {}) =>
  Effect.gen(function* () {
    const base = yield* environment(overrides)
    const supervisor = yield* Supervisor.make(base.config, FailoverStrategy.weightBased, base.events)
    const env = { ...base.env, signals: supervisor.signals }
    const scope = yield* Effect.scope
    const east = yield* Database.make(env, base.config.databases[0]!, 0, scope)
    const west = yield* Database.make(env, base.config.databases[1]!, 1, scope)
    yield* Ref.set(supervisor.databases, [east, west])
    yield* supervisor.start(east)
    return { ...base, supervisor, east, west }
  })
