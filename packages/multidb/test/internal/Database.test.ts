import { describe, expect, it } from "@effect/vitest"
import { Effect, Option, Queue, TestClock } from "effect"
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
