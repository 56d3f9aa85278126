import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope, Stream, TestClock } from "effect"
import * as CircuitBreaker from "../src/CircuitBreaker.js"

/** A circuit whose state changes are recorded as "from->to". */
const recorded = (options: Partial<CircuitBreaker.Options> = {}) =>
  Effect.gen(function* () {
    const changes: Array<string> = []
    const breaker = yield* CircuitBreaker.make({
      gracePeriod: "60 seconds",
      ...options,
      onStateChange: (from, to) =>
        Effect.sync(() => {
          changes.push(`${from}->${to}`)
        })
    })
    return { breaker, changes }
  })

describe("CircuitBreaker", () => {
  it.scoped("starts closed", () =>
    Effect.gen(function* () {
      const { breaker, changes } = yield* recorded()
      expect(yield* breaker.state).toBe("closed")
      expect(changes).toEqual([])
    })
  )

  it.scoped("stays open until the grace period ends, then goes half-open", () =>
    Effect.gen(function* () {
      const { breaker } = yield* recorded({ gracePeriod: "60 seconds" })
      yield* breaker.open
      expect(yield* breaker.state).toBe("open")
      yield* TestClock.adjust("59 seconds")
      expect(yield* breaker.state).toBe("open")
      yield* TestClock.adjust("999 millis")
      expect(yield* breaker.state).toBe("open")
      yield* TestClock.adjust("1 millis")
      expect(yield* breaker.state).toBe("half-open")
    })
  )

  it.scoped("uses its own grace period", () =>
    Effect.gen(function* () {
      const { breaker } = yield* recorded({ gracePeriod: "5 seconds" })
      yield* breaker.open
      yield* TestClock.adjust("4 seconds")
      expect(yield* breaker.state).toBe("open")
      yield* TestClock.adjust("1 second")
      expect(yield* breaker.state).toBe("half-open")
    })
  )

  it.scoped("reports closed->open, then open->half-open when the grace period ends, each exactly once", () =>
    Effect.gen(function* () {
      const { breaker, changes } = yield* recorded()
      yield* breaker.open
      expect(changes).toEqual(["closed->open"])
      yield* TestClock.adjust("10 minutes")
      expect(changes).toEqual(["closed->open", "open->half-open"])
    })
  )

  it.scoped("closing cancels the grace timer: the circuit stays closed after the grace period would have ended", () =>
    Effect.gen(function* () {
      const { breaker, changes } = yield* recorded()
      yield* breaker.open
      yield* TestClock.adjust("30 seconds")
      yield* breaker.close
      yield* TestClock.adjust("10 minutes")
      expect(yield* breaker.state).toBe("closed")
      expect(changes).toEqual(["closed->open", "open->closed"])
    })
  )

  it.scoped("opening an open circuit is a no-op: no event and the grace period is not restarted", () =>
    Effect.gen(function* () {
      const { breaker, changes } = yield* recorded()
      yield* breaker.open
      yield* TestClock.adjust("40 seconds")
      yield* breaker.open
      expect(changes).toEqual(["closed->open"])
      yield* TestClock.adjust("20 seconds")
      expect(yield* breaker.state).toBe("half-open")
      expect(changes).toEqual(["closed->open", "open->half-open"])
    })
  )

  it.scoped("closing a closed circuit and half-opening a half-open circuit report nothing", () =>
    Effect.gen(function* () {
      const { breaker, changes } = yield* recorded()
      yield* breaker.close
      expect(changes).toEqual([])
      yield* breaker.halfOpen
      yield* breaker.halfOpen
      expect(changes).toEqual(["closed->half-open"])
    })
  )

  it.scoped("half-open -> closed after a passing check makes the circuit eligible again for good", () =>
    Effect.gen(function* () {
      const { breaker, changes } = yield* recorded()
      yield* breaker.open
      yield* TestClock.adjust("60 seconds")
      yield* breaker.close
      yield* TestClock.adjust("10 minutes")
      expect(yield* breaker.state).toBe("closed")
      expect(changes).toEqual(["closed->open", "open->half-open", "half-open->closed"])
    })
  )

  it.scoped("half-open -> open starts a new full grace period", () =>
    Effect.gen(function* () {
      const { breaker, changes } = yield* recorded()
      yield* breaker.open
      yield* TestClock.adjust("60 seconds")
      expect(yield* breaker.state).toBe("half-open")
      yield* breaker.open
      yield* TestClock.adjust("59 seconds")
      expect(yield* breaker.state).toBe("open")
      yield* TestClock.adjust("1 second")
      expect(yield* breaker.state).toBe("half-open")
      expect(changes).toEqual(["closed->open", "open->half-open", "half-open->open", "open->half-open"])
    })
  )

  it.scoped("half-opening an open circuit explicitly cancels its grace timer", () =>
    Effect.gen(function* () {
      const { breaker, changes } = yield* recorded()
      yield* breaker.open
      yield* breaker.halfOpen
      yield* breaker.close
      yield* TestClock.adjust("10 minutes")
      expect(yield* breaker.state).toBe("closed")
      expect(changes).toEqual(["closed->open", "open->half-open", "half-open->closed"])
    })
  )

  it.scoped("a circuit created open runs its grace period from creation", () =>
    Effect.gen(function* () {
      const { breaker, changes } = yield* recorded({ initialState: "open", gracePeriod: "10 seconds" })
      expect(yield* breaker.state).toBe("open")
      yield* TestClock.adjust("9 seconds")
      expect(yield* breaker.state).toBe("open")
      yield* TestClock.adjust("1 second")
      expect(yield* breaker.state).toBe("half-open")
      expect(changes).toEqual(["open->half-open"])
    })
  )

  it.effect("closing the circuit's scope stops its grace timer", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { breaker, changes } = yield* recorded().pipe(Scope.extend(scope))
      yield* breaker.open
      yield* Scope.close(scope, Exit.void)
      yield* TestClock.adjust("10 minutes")
      expect(yield* breaker.state).toBe("open")
      expect(changes).toEqual(["closed->open"])
    })
  )

  it.scoped("concurrent opens report a single transition", () =>
    Effect.gen(function* () {
      const { breaker, changes } = yield* recorded()
      yield* Effect.all(
        Array.from({ length: 20 }, () => breaker.open),
        { concurrency: "unbounded" }
      )
      expect(changes).toEqual(["closed->open"])
      expect(yield* breaker.state).toBe("open")
    })
  )

  it.scoped("the default layer's factory builds circuits with the given grace period", () =>
    Effect.gen(function* () {
      const factory = yield* CircuitBreaker.CircuitBreakerFactory
      const breaker = yield* factory.make("east", { gracePeriod: "2 seconds" })
      yield* breaker.open
      yield* TestClock.adjust("2 seconds")
      expect(yield* breaker.state).toBe("half-open")
    }).pipe(Effect.provide(CircuitBreaker.layer))
  )

  it.scoped("changes streams the current state, then every transition in order", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ gracePeriod: "1 second" })
      const seen: Array<CircuitBreaker.CircuitState> = []
      yield* breaker.changes.pipe(
        Stream.runForEach((state) => Effect.sync(() => seen.push(state))),
        Effect.forkScoped
      )
      yield* TestClock.adjust(0)
      yield* breaker.open
      yield* TestClock.adjust("1 second")
      yield* breaker.close
      yield* TestClock.adjust(0)
      expect(seen).toEqual(["closed", "open", "half-open", "closed"])
    })
  )
})
