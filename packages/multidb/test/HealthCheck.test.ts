import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Fiber, TestClock } from "effect"
import * as HealthCheck from "../src/HealthCheck.js"

/** A probe answer: pass, fail, or an error raised by the probe. */
type Answer = boolean | Error

const defaults: HealthCheck.Defaults = {
  probes: 3,
  probesDelay: Duration.millis(500),
  timeout: Duration.seconds(3),
  policy: "majority"
}

const target = (pingOk = true): HealthCheck.Target => ({
  database: "east",
  hosts: ["east"],
  healthCheckUrl: undefined,
  connection: {
    ping: pingOk ? Effect.void : Effect.fail(new Error("connection refused")),
    run: () => Effect.die("the health connection's run is not used by these checks")
  }
})

/** A check answering the scripted sequence, counting its probe calls. */
const scripted = (
  name: string,
  answers: ReadonlyArray<Answer>,
  options: Partial<Omit<HealthCheck.HealthCheck, "name" | "probe">> = {}
) => {
  const calls = { count: 0 }
  const check = HealthCheck.make({
    name,
    probes: answers.length,
    ...options,
    probe: () =>
      Effect.suspend(() => {
        const answer = answers[calls.count++]
        if (answer === undefined) return Effect.die(`probe ${calls.count} of "${name}" was not scripted`)
        return answer instanceof Error ? Effect.fail(answer) : Effect.succeed(answer)
      })
  })
  return { check, calls }
}

/** Runs the checks to completion, letting the TestClock pass the probe delays. */
const runChecks = (
  checks: ReadonlyArray<HealthCheck.HealthCheck>,
  options: { readonly defaults?: HealthCheck.Defaults; readonly target?: HealthCheck.Target } = {}
) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(HealthCheck.run(checks, options.target ?? target(), options.defaults ?? defaults))
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

const T = true
const F = false

describe("HealthCheck.decide", () => {
  it("all: false at the first failure, true only when every probe passed", () => {
    expect(HealthCheck.decide("all", 3, 0, 0)).toBeUndefined()
    expect(HealthCheck.decide("all", 3, 2, 0)).toBeUndefined()
    expect(HealthCheck.decide("all", 3, 3, 0)).toBe(true)
    expect(HealthCheck.decide("all", 3, 0, 1)).toBe(false)
    expect(HealthCheck.decide("all", 3, 2, 1)).toBe(false)
  })

  it("any: true at the first pass, false only when every probe failed", () => {
    expect(HealthCheck.decide("any", 3, 0, 0)).toBeUndefined()
    expect(HealthCheck.decide("any", 3, 1, 0)).toBe(true)
    expect(HealthCheck.decide("any", 3, 0, 2)).toBeUndefined()
    expect(HealthCheck.decide("any", 3, 0, 3)).toBe(false)
  })

  it("majority of 3: two passes decide true, two failures decide false", () => {
    expect(HealthCheck.decide("majority", 3, 1, 1)).toBeUndefined()
    expect(HealthCheck.decide("majority", 3, 2, 0)).toBe(true)
    expect(HealthCheck.decide("majority", 3, 2, 1)).toBe(true)
    expect(HealthCheck.decide("majority", 3, 0, 2)).toBe(false)
    expect(HealthCheck.decide("majority", 3, 1, 2)).toBe(false)
  })

  it("majority of 4 is strict: three passes needed, two failures decide false", () => {
    expect(HealthCheck.decide("majority", 4, 2, 1)).toBeUndefined()
    expect(HealthCheck.decide("majority", 4, 2, 0)).toBeUndefined()
    expect(HealthCheck.decide("majority", 4, 3, 0)).toBe(true)
    expect(HealthCheck.decide("majority", 4, 3, 1)).toBe(true)
    expect(HealthCheck.decide("majority", 4, 2, 2)).toBe(false)
    expect(HealthCheck.decide("majority", 4, 0, 2)).toBe(false)
  })

  it("majority of 5 allows two failures", () => {
    expect(HealthCheck.decide("majority", 5, 1, 2)).toBeUndefined()
    expect(HealthCheck.decide("majority", 5, 3, 2)).toBe(true)
    expect(HealthCheck.decide("majority", 5, 2, 3)).toBe(false)
  })

  it("a single probe decides on its own under every policy", () => {
    for (const policy of ["all", "any", "majority"] as const) {
      expect(HealthCheck.decide(policy, 1, 1, 0)).toBe(true)
      expect(HealthCheck.decide(policy, 1, 0, 1)).toBe(false)
    }
  })
})

describe("HealthCheck.run policies (redis-py probe sequences)", () => {
  const cases: ReadonlyArray<readonly [HealthCheck.Policy, ReadonlyArray<boolean>, boolean]> = [
    ["majority", [T, F, F], false],
    ["majority", [T, F, T], true],
    ["majority", [T, T, F], true],
    ["majority", [T, T, F, F], false],
    ["majority", [F, T, T, T], true],
    ["majority", [T, F, T, T], true],
    ["all", [T, T, T], true],
    ["all", [T, T, F], false],
    ["any", [F, F, F], false],
    ["any", [F, T, T], true],
    ["any", [F, F, T], true]
  ]
  for (const [policy, answers, expected] of cases) {
    const sequence = answers.map((a) => (a ? "T" : "F")).join(",")
    it.effect(`${policy} of [${sequence}] is ${expected ? "healthy" : "unhealthy"}`, () =>
      Effect.gen(function* () {
        const { check } = scripted("probe", answers, { policy })
        const result = yield* runChecks([check])
        expect(result.healthy).toBe(expected)
        expect(result.failbackAllowed).toBe(expected)
      })
    )
  }

  it.effect("majority: [T,T,F] on one check and [T,F,T] on the other is healthy", () =>
    Effect.gen(function* () {
      const one = scripted("one", [T, T, F], { policy: "majority" })
      const two = scripted("two", [T, F, T], { policy: "majority" })
      expect(yield* runChecks([one.check, two.check])).toEqual({ healthy: true, failbackAllowed: true })
    })
  )

  it.effect("any: [F,F,F] on one check and [T,T,T] on the other is unhealthy (checks combine with AND)", () =>
    Effect.gen(function* () {
      const one = scripted("one", [F, F, F], { policy: "any" })
      const two = scripted("two", [T, T, T], { policy: "any" })
      const result = yield* runChecks([one.check, two.check])
      expect(result.healthy).toBe(false)
      expect(result.cause).toContain("one")
    })
  )

  it.effect("any: [F,T,T] and [F,F,T] are healthy", () =>
    Effect.gen(function* () {
      const one = scripted("one", [F, T, T], { policy: "any" })
      const two = scripted("two", [F, F, T], { policy: "any" })
      expect(yield* runChecks([one.check, two.check])).toEqual({ healthy: true, failbackAllowed: true })
    })
  )

  it.effect("all: every probe of two passing checks runs (3 each)", () =>
    Effect.gen(function* () {
      const one = scripted("one", [T, T, T], { policy: "all" })
      const two = scripted("two", [T, T, T], { policy: "all" })
      expect(yield* runChecks([one.check, two.check])).toEqual({ healthy: true, failbackAllowed: true })
      expect(one.calls.count).toBe(3)
      expect(two.calls.count).toBe(3)
    })
  )

  it.effect("the check's own policy overrides the default one", () =>
    Effect.gen(function* () {
      const { check } = scripted("strict", [T, T, F], { policy: "all" })
      expect((yield* runChecks([check], { defaults: { ...defaults, policy: "any" } })).healthy).toBe(false)
    })
  )

  it.effect("the default policy applies when the check has none", () =>
    Effect.gen(function* () {
      const { check } = scripted("lenient", [F, F, T])
      expect((yield* runChecks([check], { defaults: { ...defaults, policy: "any" } })).healthy).toBe(true)
    })
  )
})

describe("HealthCheck.run early decision", () => {
  it.effect("all stops at the first failed probe", () =>
    Effect.gen(function* () {
      const { check, calls } = scripted("probe", [F, T, T], { policy: "all" })
      expect((yield* runChecks([check])).healthy).toBe(false)
      expect(calls.count).toBe(1)
    })
  )

  it.effect("any stops at the first passing probe", () =>
    Effect.gen(function* () {
      const { check, calls } = scripted("probe", [F, T, F], { policy: "any" })
      expect((yield* runChecks([check])).healthy).toBe(true)
      expect(calls.count).toBe(2)
    })
  )

  it.effect("majority stops once a majority passed", () =>
    Effect.gen(function* () {
      const { check, calls } = scripted("probe", [T, T, F], { policy: "majority" })
      expect((yield* runChecks([check])).healthy).toBe(true)
      expect(calls.count).toBe(2)
    })
  )

  it.effect("majority stops once a majority can no longer pass", () =>
    Effect.gen(function* () {
      const { check, calls } = scripted("probe", [F, T, F, T, T], { policy: "majority", probes: 4 })
      expect((yield* runChecks([check])).healthy).toBe(false)
      expect(calls.count).toBe(3)
    })
  )

  it.effect("an early decision does not wait for the remaining probe delays", () =>
    Effect.gen(function* () {
      const { check } = scripted("probe", [F, T, T], { policy: "all" })
      const fiber = yield* Effect.fork(HealthCheck.run([check], target(), defaults))
      yield* TestClock.adjust("1 millis")
      expect(fiber.unsafePoll()).not.toBeNull()
      expect((yield* Fiber.join(fiber)).healthy).toBe(false)
    })
  )
})

describe("HealthCheck.run errors and timeouts", () => {
  it.effect("a probe error counts as a failure and its message appears in the cause", () =>
    Effect.gen(function* () {
      const { check } = scripted("probe", [T, T, new Error("connection reset by peer")], { policy: "all" })
      const result = yield* runChecks([check])
      expect(result.healthy).toBe(false)
      expect(result.failbackAllowed).toBe(false)
      expect(result.cause).toContain("connection reset by peer")
      expect(result.cause).toContain("probe")
    })
  )

  it.effect("majority: [T, error, error] is unhealthy", () =>
    Effect.gen(function* () {
      const boom = new Error("connection refused")
      const { check } = scripted("probe", [T, boom, boom], { policy: "majority" })
      const result = yield* runChecks([check])
      expect(result.healthy).toBe(false)
      expect(result.cause).toContain("connection refused")
    })
  )

  it.effect("majority of 4: [T, error, error, T] and [T, error, error, F] are unhealthy", () =>
    Effect.gen(function* () {
      const boom = new Error("connection refused")
      for (const last of [T, F]) {
        const { check } = scripted("probe", [T, boom, boom, last], { policy: "majority" })
        expect((yield* runChecks([check])).healthy).toBe(false)
      }
    })
  )

  it.effect("any: [F, F, error] is unhealthy and names the error", () =>
    Effect.gen(function* () {
      const { check } = scripted("probe", [F, F, new Error("max number of clients reached")], { policy: "any" })
      const result = yield* runChecks([check])
      expect(result.healthy).toBe(false)
      expect(result.cause).toContain("max number of clients reached")
    })
  )

  it.effect("any: errors before a passing probe do not matter", () =>
    Effect.gen(function* () {
      const { check } = scripted("probe", [new Error("boom"), T, F], { policy: "any" })
      expect(yield* runChecks([check])).toEqual({ healthy: true, failbackAllowed: true })
    })
  )

  it.effect("a probe that answers false gives a cause naming the check", () =>
    Effect.gen(function* () {
      const { check } = scripted("replication", [F], { policy: "all" })
      const result = yield* runChecks([check])
      expect(result.healthy).toBe(false)
      expect(result.cause).toContain("replication")
    })
  )

  it.effect("a defect in a probe counts as a failure too", () =>
    Effect.gen(function* () {
      const check = HealthCheck.make({ name: "buggy", probes: 1, probe: () => Effect.die(new Error("bug in probe")) })
      const result = yield* runChecks([check])
      expect(result.healthy).toBe(false)
      expect(result.cause).toContain("bug in probe")
    })
  )

  it.effect("a check that exceeds its timeout is unhealthy with a cause mentioning the timeout, at the timeout", () =>
    Effect.gen(function* () {
      const check = HealthCheck.make({
        name: "slow",
        probes: 1,
        timeout: "100 millis",
        probe: () => Effect.as(Effect.sleep("500 millis"), true)
      })
      const fiber = yield* Effect.fork(HealthCheck.run([check], target(), defaults))
      yield* TestClock.adjust("99 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      const result = yield* Fiber.join(fiber)
      expect(result.healthy).toBe(false)
      expect(result.cause).toMatch(/timed out/)
      expect(result.cause).toContain("slow")
    })
  )

  it.effect("a check that completes within its timeout is healthy", () =>
    Effect.gen(function* () {
      const check = HealthCheck.make({
        name: "quick",
        probes: 1,
        timeout: "1 second",
        probe: () => Effect.as(Effect.sleep("500 millis"), true)
      })
      expect(yield* runChecks([check])).toEqual({ healthy: true, failbackAllowed: true })
    })
  )

  it.effect("the timeout bounds the whole check, probe delays included", () =>
    Effect.gen(function* () {
      const { check, calls } = scripted("probe", [T, T, T], {
        policy: "all",
        probesDelay: "2 seconds",
        timeout: "3 seconds"
      })
      const result = yield* runChecks([check])
      expect(result.healthy).toBe(false)
      expect(result.cause).toMatch(/timed out/)
      expect(calls.count).toBe(2)
    })
  )

  it.effect("the default timeout applies to a check without one", () =>
    Effect.gen(function* () {
      const check = HealthCheck.make({ name: "hung", probes: 1, probe: () => Effect.never })
      const fiber = yield* Effect.fork(HealthCheck.run([check], target(), defaults))
      yield* TestClock.adjust("2999 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      expect((yield* Fiber.join(fiber)).cause).toMatch(/timed out/)
    })
  )

  it.effect(
    "a timed-out check does not hide a passing one: the result is unhealthy, decided at that check's timeout",
    () =>
      Effect.gen(function* () {
        const hung = HealthCheck.make({ name: "hung", probes: 1, timeout: "50 millis", probe: () => Effect.never })
        const fine = scripted("fine", [T], { policy: "all" })
        const fiber = yield* Effect.fork(HealthCheck.run([hung, fine.check], target(), defaults))
        yield* TestClock.adjust("50 millis")
        const result = yield* Fiber.join(fiber)
        expect(result.healthy).toBe(false)
        expect(result.cause).toContain("hung")
        expect(fine.calls.count).toBe(1)
      })
  )
})

describe("HealthCheck.run several checks", () => {
  it.effect("all checks must pass: one failing check makes the database unhealthy", () =>
    Effect.gen(function* () {
      const ok = scripted("ok", [T, T, T])
      const bad = scripted("bad", [F, F, F])
      const result = yield* runChecks([ok.check, bad.check])
      expect(result.healthy).toBe(false)
      expect(result.failbackAllowed).toBe(false)
      expect(result.cause).toContain("bad")
    })
  )

  it.effect("checks run concurrently: two checks of 3 probes 500 ms apart finish after 1 s, not 2 s", () =>
    Effect.gen(function* () {
      const one = scripted("one", [T, T, T], { policy: "all" })
      const two = scripted("two", [T, T, T], { policy: "all" })
      const fiber = yield* Effect.fork(HealthCheck.run([one.check, two.check], target(), defaults))
      yield* TestClock.adjust("1 second")
      expect(fiber.unsafePoll()).not.toBeNull()
      expect(yield* Fiber.join(fiber)).toEqual({ healthy: true, failbackAllowed: true })
    })
  )

  it.effect("no checks at all is healthy", () =>
    Effect.gen(function* () {
      expect(yield* runChecks([])).toEqual({ healthy: true, failbackAllowed: true })
    })
  )

  it.effect("a failing failbackOnly check keeps the database healthy but forbids fail-back", () =>
    Effect.gen(function* () {
      const ok = scripted("ping", [T, T, T])
      const lag = scripted("lag", [F, F, F], { failbackOnly: true })
      const result = yield* runChecks([ok.check, lag.check])
      expect(result.healthy).toBe(true)
      expect(result.failbackAllowed).toBe(false)
      expect(result.cause).toContain("lag")
    })
  )

  it.effect("a passing failbackOnly check allows fail-back", () =>
    Effect.gen(function* () {
      const lag = scripted("lag", [T, T, T], { failbackOnly: true })
      expect(yield* runChecks([lag.check])).toEqual({ healthy: true, failbackAllowed: true })
    })
  )

  it.effect("an evicting failure wins over a failbackOnly failure", () =>
    Effect.gen(function* () {
      const lag = scripted("lag", [F, F, F], { failbackOnly: true })
      const ping = scripted("ping", [F, F, F])
      const result = yield* runChecks([lag.check, ping.check])
      expect(result.healthy).toBe(false)
      expect(result.failbackAllowed).toBe(false)
      expect(result.cause).toContain("ping")
    })
  )
})

describe("HealthCheck.run probes and delays", () => {
  it.effect("probes are spaced by the probe delay, with no delay before the first or after the last", () =>
    Effect.gen(function* () {
      const { check, calls } = scripted("probe", [T, T, T], { policy: "all" })
      const fiber = yield* Effect.fork(HealthCheck.run([check], target(), defaults))
      yield* TestClock.adjust("0 millis")
      expect(calls.count).toBe(1)
      yield* TestClock.adjust("499 millis")
      expect(calls.count).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(calls.count).toBe(2)
      yield* TestClock.adjust("499 millis")
      expect(calls.count).toBe(2)
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      expect(calls.count).toBe(3)
      expect(fiber.unsafePoll()).not.toBeNull()
    })
  )

  it.effect("a check's own probes and delay override the defaults (5 probes, 20 ms apart)", () =>
    Effect.gen(function* () {
      const { check, calls } = scripted("custom", [T, T, T, T, T], {
        policy: "all",
        probes: 5,
        probesDelay: "20 millis"
      })
      const fiber = yield* Effect.fork(HealthCheck.run([check], target(), defaults))
      yield* TestClock.adjust("79 millis")
      expect(calls.count).toBe(4)
      yield* TestClock.adjust("1 millis")
      expect(calls.count).toBe(5)
      expect(yield* Fiber.join(fiber)).toEqual({ healthy: true, failbackAllowed: true })
    })
  )

  it.effect("the default number of probes applies to a check without one", () =>
    Effect.gen(function* () {
      let calls = 0
      const check = HealthCheck.make({ name: "counted", probe: () => Effect.sync(() => ++calls > 0) })
      yield* runChecks([check], { defaults: { ...defaults, probes: 4, policy: "all" } })
      expect(calls).toBe(4)
    })
  )

  it("make rejects a check with fewer than one probe", () => {
    expect(() => HealthCheck.make({ name: "none", probes: 0, probe: () => Effect.succeed(true) })).toThrow(/probes/)
    expect(() => HealthCheck.make({ name: "half", probes: 1.5, probe: () => Effect.succeed(true) })).toThrow(/probes/)
  })
})

describe("HealthCheck.ping", () => {
  it.effect("is healthy when PING answers", () =>
    Effect.gen(function* () {
      expect(yield* runChecks([HealthCheck.ping], { target: target(true) })).toEqual({
        healthy: true,
        failbackAllowed: true
      })
    })
  )

  it.effect("is unhealthy when PING fails, with the error in the cause", () =>
    Effect.gen(function* () {
      const result = yield* runChecks([HealthCheck.ping], { target: target(false) })
      expect(result.healthy).toBe(false)
      expect(result.cause).toContain("connection refused")
      expect(result.cause).toContain("ping")
    })
  )
})

describe("HealthCheck.layer", () => {
  it.effect("provides the given checks as the HealthChecks service", () =>
    Effect.gen(function* () {
      const { check } = scripted("custom", [T])
      const checks = yield* HealthCheck.HealthChecks.pipe(Effect.provide(HealthCheck.layer([check])))
      expect(checks).toEqual([check])
    })
  )
})
