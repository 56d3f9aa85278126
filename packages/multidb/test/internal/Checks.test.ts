import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, ExecutionStrategy, Exit, Option, Queue, Scope, TestClock } from "effect"
import * as CircuitBreaker from "../../src/CircuitBreaker.js"
import * as Checks from "../../src/internal/checks.js"
import * as Telemetry from "../../src/internal/telemetry.js"
import type * as MultiDbConfig from "../../src/MultiDbConfig.js"
import { environment } from "./engine.helpers.js"

/** The checks of east over an in-memory connection, with a circuit of their own; `opened`: why it was opened. */
const checked = (overrides: Partial<MultiDbConfig.Input> = {}) =>
  Effect.gen(function* () {
    const { config, env, published, registry, signals } = yield* environment(overrides)
    const databaseConfig = config.databases[0]!
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const connection = yield* env.connector
      .connect(databaseConfig, {
        commandTimeout: config.commandTimeout,
        connectTimeout: config.connectTimeout,
        onConnectionLost: () => {}
      })
      .pipe(Scope.extend(scope))
    const circuit = yield* CircuitBreaker.make({ gracePeriod: databaseConfig.gracePeriod }).pipe(Scope.extend(scope))
    let closed = false
    const guarded = (effect: Effect.Effect<void>) => Effect.suspend(() => (closed ? Effect.void : effect))
    const opened: Array<unknown> = []
    const checks = yield* Checks.make(env, {
      databaseConfig,
      health: connection.health,
      circuit,
      telemetry: Telemetry.make(config.tracing, yield* Effect.clock),
      databaseTelemetry: Telemetry.databaseTelemetry(databaseConfig),
      scope,
      isClosed: () => closed,
      open: (cause) =>
        guarded(
          Effect.zipRight(
            Effect.sync(() => opened.push(cause)),
            circuit.open
          )
        ),
      close: guarded(circuit.close)
    })
    yield* Scope.addFinalizer(
      scope,
      Effect.sync(() => {
        closed = true
      })
    )
    const east = registry.database("east")
    const signalled = Effect.map(Queue.takeAll(signals), (chunk) => Array.from(chunk))
    return { checks, circuit, east, opened, published, scope, signalled }
  })

describe("internal/checks", () => {
  it.scoped("callers share one running check; once it ends, the next caller starts another", () =>
    Effect.gen(function* () {
      const { checks, east } = yield* checked({ healthCheckProbes: 2, healthCheckProbesDelay: "1 second" })
      const first = yield* checks.startCheck
      expect(yield* checks.startCheck).toBe(first)
      yield* TestClock.adjust("1 second")
      expect((yield* Deferred.await(first)).healthy).toBe(true)
      expect(yield* east.pings).toBe(2)
      expect(yield* checks.startCheck).not.toBe(first)
    })
  )

  it.scoped("a failing check opens the circuit, a passing one closes a half-open circuit; each result is kept", () =>
    Effect.gen(function* () {
      const { checks, circuit, east, opened, published, signalled } = yield* checked()
      yield* east.setBehaviour("down")
      const failing = yield* Deferred.await(yield* checks.startCheck)
      expect(failing.healthy).toBe(false)
      expect(yield* circuit.state).toBe("open")
      expect(opened).toEqual([failing.cause])
      expect(Option.getOrUndefined(yield* checks.lastHealth)).toEqual(failing)
      expect(published.filter((e) => e._tag === "HealthCheckCompleted")).toMatchObject([{ healthy: false }])
      expect((yield* signalled).map((s) => s._tag)).toEqual(["Reevaluate"])

      yield* TestClock.adjust("1 second") // the grace period
      expect(yield* circuit.state).toBe("half-open")
      yield* east.setBehaviour("up")
      yield* TestClock.adjust("100 millis") // minimumCheckSpacing after the first check
      expect((yield* Deferred.await(yield* checks.startCheck)).healthy).toBe(true)
      expect(yield* circuit.state).toBe("closed")
      expect(Option.getOrUndefined(yield* checks.lastHealth)?.healthy).toBe(true)
      expect(opened).toHaveLength(1)
    })
  )

  it.scoped("checks of one database start at least minimumCheckSpacing apart", () =>
    Effect.gen(function* () {
      const { checks, east } = yield* checked()
      yield* Deferred.await(yield* checks.startCheck)
      expect(yield* east.pings).toBe(1)
      const second = yield* checks.startCheck
      yield* TestClock.adjust("99 millis")
      expect(yield* east.pings).toBe(1)
      expect(yield* Deferred.isDone(second)).toBe(false)
      yield* TestClock.adjust("1 millis")
      expect((yield* Deferred.await(second)).healthy).toBe(true)
      expect(yield* east.pings).toBe(2)
    })
  )

  it.scoped("failures on the command path ask for a check at most every triggeredCheckSpacing", () =>
    Effect.gen(function* () {
      const { checks, signalled } = yield* checked()
      yield* checks.triggerCheckFor(undefined)
      yield* checks.triggerCheckFor(undefined)
      expect(yield* signalled).toEqual([{ _tag: "Check", id: "east", parent: undefined }])
      yield* TestClock.adjust(Checks.triggeredCheckSpacing - 1)
      yield* checks.triggerCheckFor(undefined)
      expect(yield* signalled).toEqual([])
      yield* TestClock.adjust(1)
      yield* checks.triggerCheckFor(undefined)
      expect(yield* signalled).toEqual([{ _tag: "Check", id: "east", parent: undefined }])
    })
  )

  it.scoped("closing the database ends a running check with DatabaseClosed, and no check starts after", () =>
    Effect.gen(function* () {
      const { checks, east, scope } = yield* checked({ healthCheckProbes: 2, healthCheckProbesDelay: "1 second" })
      const running = yield* checks.startCheck
      yield* TestClock.adjust(0)
      yield* Scope.close(scope, Exit.void)
      expect(yield* Effect.flip(Deferred.await(running))).toEqual(new Checks.DatabaseClosed({ database: "east" }))
      const after = yield* checks.startCheck
      expect(yield* Effect.flip(Deferred.await(after))).toEqual(new Checks.DatabaseClosed({ database: "east" }))
      const pings = yield* east.pings
      yield* TestClock.adjust("10 seconds")
      expect(yield* east.pings).toBe(pings)
    })
  )

  it.scoped("the hang probe opens the circuit when PING is not answered within hangProbeTimeout", () =>
    Effect.gen(function* () {
      const { checks, circuit, east, published } = yield* checked({ hangProbeTimeout: "200 millis" })
      yield* east.setBehaviour("hanging")
      const probe = yield* Effect.fork(checks.probe)
      yield* TestClock.adjust("199 millis")
      expect(yield* circuit.state).toBe("closed")
      yield* TestClock.adjust("1 millis")
      yield* probe.await
      expect(yield* circuit.state).toBe("open")
      expect(published.filter((e) => e._tag === "HealthCheckCompleted")).toMatchObject([
        { database: "east", healthy: false }
      ])
      expect(Option.getOrUndefined(yield* checks.lastHealth)?.failure?.kind).toBe("timeout")
    })
  )

  it.scoped("the hang probe leaves the circuit closed when PING answers, however slow the commands", () =>
    Effect.gen(function* () {
      const { checks, circuit, east } = yield* checked()
      yield* east.setCommandDelay("5 seconds")
      yield* checks.probe
      expect(yield* circuit.state).toBe("closed")
      expect(yield* east.pings).toBe(1)
    })
  )
})
