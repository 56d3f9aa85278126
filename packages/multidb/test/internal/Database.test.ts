import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Option, Queue, TestClock } from "effect"
import { environment } from "./engine.helpers.js"

describe("internal/database", () => {
  it.scoped("follows its circuit: a change resets the detector, sets the gauge, is published and signalled", () =>
    Effect.gen(function* () {
      const { create, published, signals } = yield* environment({ minNumFailures: 5 })
      const east = yield* create(0)
      yield* east.detector.record("failure")
      expect((yield* east.detector.snapshot).failures).toBe(1)
      yield* east.circuit.open
      yield* TestClock.adjust(0)
      expect((yield* east.detector.snapshot).failures).toBe(0)
      expect(published.filter((e) => e._tag === "CircuitStateChanged")).toMatchObject([
        { database: "east", from: "closed", to: "open" }
      ])
      expect(Array.from(yield* Queue.takeAll(signals))).toContainEqual({ _tag: "Reevaluate" })
    })
  )

  it.scoped("a half-open circuit is decided by a check at once: a passing one closes it", () =>
    Effect.gen(function* () {
      const { create } = yield* environment()
      const east = yield* create(0)
      yield* east.circuit.open
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust(0)
      expect(yield* east.circuit.state).toBe("closed")
      expect(Option.isSome(yield* east.info(undefined).pipe(Effect.map((i) => i.lastHealthCheck)))).toBe(true)
    })
  )

  it.scoped("callers share one running check instead of starting another", () =>
    Effect.gen(function* () {
      const { create, registry } = yield* environment({ healthCheckProbes: 2, healthCheckProbesDelay: "1 second" })
      const east = yield* create(0)
      const before = yield* registry.database("east").pings
      const first = yield* east.startCheck
      const second = yield* east.startCheck
      expect(second).toBe(first)
      yield* TestClock.adjust("1 second")
      expect((yield* Deferred.await(first)).healthy).toBe(true)
      expect((yield* registry.database("east").pings) - before).toBe(2)
      expect(yield* east.startCheck).not.toBe(first)
    })
  )

  it.scoped("the hang probe opens the circuit when PING is not answered within hangProbeTimeout", () =>
    Effect.gen(function* () {
      const { create, registry, published } = yield* environment({ hangProbeTimeout: "200 millis" })
      const east = yield* create(0)
      yield* registry.database("east").setBehaviour("hanging")
      const probe = yield* Effect.fork(east.probe)
      yield* TestClock.adjust("199 millis")
      expect(yield* east.circuit.state).toBe("closed")
      yield* TestClock.adjust("1 millis")
      yield* probe.await
      expect(yield* east.circuit.state).toBe("open")
      expect(published.filter((e) => e._tag === "HealthCheckCompleted")).toMatchObject([
        { database: "east", healthy: false }
      ])
    })
  )

  it.scoped("the hang probe leaves the circuit closed when PING answers", () =>
    Effect.gen(function* () {
      const { create, registry } = yield* environment()
      const east = yield* create(0)
      yield* registry.database("east").setCommandDelay("5 seconds")
      yield* east.probe
      expect(yield* east.circuit.state).toBe("closed")
    })
  )

  it.scoped("a lost connection is a failure for the detector, and asks for a check", () =>
    Effect.gen(function* () {
      const { create, signals } = yield* environment({ minNumFailures: 5 })
      const east = yield* create(0)
      yield* east.connectionLost
      expect((yield* east.detector.snapshot).failures).toBe(1)
      expect(Array.from(yield* Queue.takeAll(signals))).toEqual([{ _tag: "Check", id: "east" }])
    })
  )

  it.scoped("failures trip the circuit once the detector's thresholds are crossed", () =>
    Effect.gen(function* () {
      const { create } = yield* environment({ minNumFailures: 2, failureRateThreshold: 0.5 })
      const east = yield* create(0)
      yield* east.recordFailure("GET", "refused")
      expect(yield* east.circuit.state).toBe("closed")
      yield* east.recordFailure("GET", "refused")
      expect(yield* east.circuit.state).toBe("open")
    })
  )
})
