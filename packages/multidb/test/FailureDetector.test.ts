import { describe, expect, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import * as FailureDetector from "../src/FailureDetector.js"

/** Records `outcome` `times` times; succeeds with how many of those records tripped the detector. */
const recordMany = (detector: FailureDetector.FailureDetector, outcome: FailureDetector.Outcome, times: number) =>
  Effect.suspend(() => {
    let recorded = 0
    let trips = 0
    return Effect.whileLoop({
      while: () => recorded < times,
      body: () => detector.record(outcome),
      step: (tripped) => {
        recorded++
        if (tripped) trips++
      }
    }).pipe(Effect.map(() => trips))
  })

describe("FailureDetector", () => {
  it.effect("does not trip below minNumFailures even at a 100% failure rate", () =>
    Effect.gen(function* () {
      const detector = yield* FailureDetector.make({
        window: "2 seconds",
        minNumFailures: 5,
        failureRateThreshold: 0.1
      })
      expect(yield* recordMany(detector, "failure", 4)).toBe(0)
      expect(yield* detector.snapshot).toEqual({ successes: 0, failures: 4 })
    })
  )

  it.effect("trips on the failure that reaches minNumFailures when the rate is above the threshold", () =>
    Effect.gen(function* () {
      const detector = yield* FailureDetector.make({
        window: "2 seconds",
        minNumFailures: 5,
        failureRateThreshold: 0.1
      })
      expect(yield* recordMany(detector, "failure", 4)).toBe(0)
      expect(yield* detector.record("failure")).toBe(true)
    })
  )

  it.effect("does not trip when failures reach minNumFailures but the rate stays below the threshold", () =>
    Effect.gen(function* () {
      const detector = yield* FailureDetector.make({
        window: "2 seconds",
        minNumFailures: 2,
        failureRateThreshold: 0.5
      })
      yield* recordMany(detector, "success", 10)
      // 5 failures against 10 successes: rate 1/3 < 0.5.
      expect(yield* recordMany(detector, "failure", 5)).toBe(0)
      expect(yield* detector.snapshot).toEqual({ successes: 10, failures: 5 })
    })
  )

  it.effect(
    "counts the rate against all outcomes: trips exactly when failures / (failures + successes) reaches it",
    () =>
      Effect.gen(function* () {
        const detector = yield* FailureDetector.make({
          window: "2 seconds",
          minNumFailures: 2,
          failureRateThreshold: 0.5
        })
        yield* recordMany(detector, "success", 3)
        expect(yield* detector.record("failure")).toBe(false) // 1 / 4
        expect(yield* detector.record("failure")).toBe(false) // 2 / 5 = 0.4
        expect(yield* detector.record("failure")).toBe(true) // 3 / 6 = 0.5
      })
  )

  it.effect("a success never trips it", () =>
    Effect.gen(function* () {
      const detector = yield* FailureDetector.make({ window: "2 seconds", minNumFailures: 1, failureRateThreshold: 0 })
      expect(yield* recordMany(detector, "success", 100)).toBe(0)
    })
  )

  it.effect("reproduces redis-py's reaction table (5 successes, 2 failures)", () =>
    Effect.gen(function* () {
      // Sequence: 2 successes, 1 failure, 3 successes, 1 failure. Rate here is failures / all outcomes.
      const cases: ReadonlyArray<readonly [number, number, boolean]> = [
        [2, 0.2, true], // second failure: 2/7 >= 0.2
        [2, 0, true],
        [1, 0.3, true], // first failure: 1/3 >= 0.3
        [3, 0.1, false],
        [2, 0.3, false] // second failure: 2/7 < 0.3
      ]
      for (const [minNumFailures, failureRateThreshold, expected] of cases) {
        const detector = yield* FailureDetector.make({ window: "2 seconds", minNumFailures, failureRateThreshold })
        let tripped = false
        for (const outcome of ["success", "success", "failure", "success", "success", "success", "failure"] as const) {
          if (yield* detector.record(outcome)) tripped = true
        }
        expect({ minNumFailures, failureRateThreshold, tripped }).toEqual({
          minNumFailures,
          failureRateThreshold,
          tripped: expected
        })
      }
    })
  )

  it.effect("tripping resets the window", () =>
    Effect.gen(function* () {
      const detector = yield* FailureDetector.make({
        window: "2 seconds",
        minNumFailures: 3,
        failureRateThreshold: 0.1
      })
      expect(yield* recordMany(detector, "failure", 3)).toBe(1)
      expect(yield* detector.snapshot).toEqual({ successes: 0, failures: 0 })
      expect(yield* recordMany(detector, "failure", 2)).toBe(0)
      expect(yield* detector.record("failure")).toBe(true)
    })
  )

  it.effect("reset forgets every recorded outcome", () =>
    Effect.gen(function* () {
      const detector = yield* FailureDetector.make({
        window: "2 seconds",
        minNumFailures: 3,
        failureRateThreshold: 0.1
      })
      yield* recordMany(detector, "success", 4)
      yield* recordMany(detector, "failure", 2)
      yield* detector.reset
      expect(yield* detector.snapshot).toEqual({ successes: 0, failures: 0 })
      expect(yield* recordMany(detector, "failure", 2)).toBe(0)
      expect(yield* detector.record("failure")).toBe(true)
    })
  )

  it.effect("forgets outcomes once the window has rolled past them", () =>
    Effect.gen(function* () {
      const detector = yield* FailureDetector.make({
        window: "2 seconds",
        minNumFailures: 3,
        failureRateThreshold: 0.1
      })
      yield* recordMany(detector, "failure", 2)
      yield* TestClock.adjust("2500 millis")
      expect(yield* detector.snapshot).toEqual({ successes: 0, failures: 0 })
      expect(yield* detector.record("failure")).toBe(false)
      expect(yield* detector.snapshot).toEqual({ successes: 0, failures: 1 })
    })
  )

  it.effect("slides: failures spread over less than the window add up", () =>
    Effect.gen(function* () {
      const detector = yield* FailureDetector.make({
        window: "2 seconds",
        minNumFailures: 3,
        failureRateThreshold: 0.1
      })
      expect(yield* detector.record("failure")).toBe(false)
      yield* TestClock.adjust("900 millis")
      expect(yield* detector.record("failure")).toBe(false)
      yield* TestClock.adjust("900 millis")
      expect(yield* detector.record("failure")).toBe(true)
    })
  )

  it.effect("slides: only the oldest outcomes leave the window, the recent ones stay", () =>
    Effect.gen(function* () {
      const detector = yield* FailureDetector.make({
        window: "2 seconds",
        minNumFailures: 3,
        failureRateThreshold: 0.1
      })
      yield* detector.record("failure") // t = 0
      yield* TestClock.adjust("1 second")
      yield* detector.record("failure") // t = 1 s
      yield* TestClock.adjust("1100 millis") // t = 2.1 s: the first failure has left the window
      expect(yield* detector.snapshot).toEqual({ successes: 0, failures: 1 })
      expect(yield* detector.record("failure")).toBe(false)
      expect(yield* detector.snapshot).toEqual({ successes: 0, failures: 2 })
    })
  )

  it.effect("old successes stop diluting the rate once they leave the window", () =>
    Effect.gen(function* () {
      const detector = yield* FailureDetector.make({
        window: "2 seconds",
        minNumFailures: 2,
        failureRateThreshold: 0.5
      })
      yield* recordMany(detector, "success", 100)
      yield* TestClock.adjust("3 seconds")
      expect(yield* detector.record("failure")).toBe(false)
      expect(yield* detector.record("failure")).toBe(true)
    })
  )

  it.effect("a window rolled forward by a long idle period starts from zero (redis-py: no trip across windows)", () =>
    Effect.gen(function* () {
      const detector = yield* FailureDetector.make({ window: "300 millis", minNumFailures: 3, failureRateThreshold: 0 })
      yield* detector.record("success")
      yield* detector.record("failure")
      yield* TestClock.adjust("160 millis")
      yield* recordMany(detector, "success", 3)
      yield* detector.record("failure")
      yield* TestClock.adjust("160 millis")
      yield* detector.record("success")
      expect(yield* detector.record("failure")).toBe(false)
      yield* TestClock.adjust("400 millis")
      expect(yield* detector.snapshot).toEqual({ successes: 0, failures: 0 })
      yield* detector.record("success")
      expect(yield* detector.record("failure")).toBe(false)
      yield* detector.record("success")
      expect(yield* detector.record("failure")).toBe(false)
      yield* detector.record("success")
      expect(yield* detector.record("failure")).toBe(true)
    })
  )

  it.effect(
    "memory is bounded by its buckets: a million outcomes over many windows leave one window's counts and detection still works",
    () =>
      Effect.gen(function* () {
        // 10 buckets of 200 ms. Each step records 20 000 outcomes in a fresh bucket; 50 steps (5 windows) = 1e6 outcomes.
        const detector = yield* FailureDetector.make({
          window: "2 seconds",
          minNumFailures: 3,
          failureRateThreshold: 0.5,
          buckets: 10
        })
        let trips = 0
        for (let step = 0; step < 50; step++) {
          trips += yield* recordMany(detector, "success", 18_000)
          trips += yield* recordMany(detector, "failure", 2_000)
          const bucketsInWindow = Math.min(step + 1, 10)
          expect(yield* detector.snapshot).toEqual({
            successes: 18_000 * bucketsInWindow,
            failures: 2_000 * bucketsInWindow
          })
          yield* TestClock.adjust("200 millis")
        }
        expect(trips).toBe(0)
        yield* TestClock.adjust("2 seconds")
        expect(yield* detector.snapshot).toEqual({ successes: 0, failures: 0 })
        yield* detector.record("success")
        expect(yield* detector.record("failure")).toBe(false)
        expect(yield* detector.record("failure")).toBe(false) // 2 failures: below minNumFailures
        expect(yield* detector.record("failure")).toBe(true) // 3 of 4 outcomes
      })
  )

  it.effect("the default layer's factory builds detectors with the given options", () =>
    Effect.gen(function* () {
      const factory = yield* FailureDetector.FailureDetectorFactory
      const detector = yield* factory.make("east", { window: "1 second", minNumFailures: 2, failureRateThreshold: 1 })
      expect(yield* detector.record("failure")).toBe(false)
      expect(yield* detector.record("failure")).toBe(true)
    }).pipe(Effect.provide(FailureDetector.layer))
  )
})
