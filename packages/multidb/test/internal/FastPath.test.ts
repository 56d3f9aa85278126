import { describe, expect, it } from "@effect/vitest"
import { Clock, Duration, Effect, TestClock } from "effect"
import * as FastPath from "../../src/internal/fastPath.js"

/** Busy-waits `millis` milliseconds on the monotonic clock (no macrotask boundary, so the burst goes on). */
const spinFor = (millis: number) => {
  const until = performance.now() + millis
  while (performance.now() < until) {
    // the monotonic clock moves on
  }
}

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

  it.live("work queued by a promise job after the reading (a fiber resumed by a reply) shares it", () =>
    Effect.gen(function* () {
      const now = FastPath.millisOf(yield* Effect.clock)
      // a reading taken after the spin would be at least 2 ms later
      const spinThenRead = () => {
        spinFor(2)
        return now()
      }
      // like a reply: read the clock, then resume a fiber (its scheduler queues a promise job, which runs the fiber)
      const read = yield* Effect.promise(
        () =>
          new Promise<[number, number, number]>((resolve) =>
            setImmediate(() => {
              const reply = now()
              Promise.resolve().then(() => {
                const nextCommand = spinThenRead()
                // a macrotask later: a burst of its own
                setImmediate(() => resolve([reply, nextCommand, spinThenRead()]))
              })
            })
          )
      )
      expect(read[1]).toBe(read[0])
      expect(read[2]).toBeGreaterThan(read[0] + 1)
    })
  )

  it.live("a burst's reading is forgotten once its microtasks have run, even without a timer", () =>
    Effect.gen(function* () {
      const now = FastPath.millisOf(yield* Effect.clock)
      const first = now()
      // a macrotask later (setImmediate): a new burst, so a new reading
      yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
      spinFor(2)
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
