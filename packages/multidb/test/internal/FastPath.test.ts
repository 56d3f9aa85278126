import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, TestClock } from "effect"
import * as FastPath from "../../src/internal/fastPath.js"

describe("FastPath.millisOf", () => {
  it.live("the live clock is read once per burst of work, and again in the next one", () =>
    Effect.gen(function* () {
      const now = FastPath.millisOf(yield* Effect.clock)
      // a promise job queued before the first reading runs before that reading is forgotten: the same burst
      const queuedBefore = Promise.resolve().then(() => now())
      const first = now()
      for (let i = 0; i < 1000; i++) expect(now()).toBe(first)
      expect(yield* Effect.promise(() => queuedBefore)).toBe(first)
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
      const later = now()
      expect(later - first).toBeGreaterThanOrEqual(15)
      // monotonic epoch: on the scale of Date.now, and not behind it by more than the burst it was read in
      expect(Math.abs(later - Date.now())).toBeLessThan(1000)
    })
  )

  it.live("a burst's reading is forgotten once its microtasks have run, even without a timer", () =>
    Effect.gen(function* () {
      const now = FastPath.millisOf(yield* Effect.clock)
      const first = now()
      // a macrotask later (setImmediate): a new burst, so a new reading
      yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
      const spin = performance.now() + 2
      while (performance.now() < spin) {
        // let the monotonic clock move on by 2 ms
      }
      expect(now()).toBeGreaterThan(first + 1)
    })
  )

  it.effect("another clock (a TestClock) is read on every call", () =>
    Effect.gen(function* () {
      const clock = yield* Effect.clock
      const now = FastPath.millisOf(clock)
      expect(now()).toBe(clock.unsafeCurrentTimeMillis())
      yield* TestClock.adjust(Duration.millis(1234))
      expect(now()).toBe(yield* Clock.currentTimeMillis)
      expect(now()).toBe(1234)
    })
  )
})
