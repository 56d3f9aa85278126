import { Cause, Duration, Effect, Option } from "effect"
import type { Defaults, HealthCheck, Policy, Result, Target } from "../HealthCheck.js"

/** How many of `total` must pass under a policy: all of them, a strict majority, or one. */
export const quorum = (policy: "all" | "majority" | "any" | "one", total: number): number =>
  policy === "all" ? total : policy === "majority" ? Math.floor(total / 2) + 1 : 1

export const decide = (policy: Policy, probes: number, passed: number, failed: number): boolean | undefined => {
  switch (policy) {
    case "all":
      if (failed > 0) return false
      return passed >= probes ? true : undefined
    case "any":
      if (passed > 0) return true
      return failed >= probes ? false : undefined
    case "majority": {
      const needed = quorum("majority", probes)
      if (passed >= needed) return true
      if (failed > probes - needed) return false
      return undefined
    }
  }
}

const describe = (error: unknown): string => {
  if (error instanceof Error) return error.message || error.constructor.name
  if (typeof error === "object" && error !== null && "message" in error) return String(error.message)
  return String(error)
}

interface CheckOutcome {
  readonly passed: boolean
  readonly cause?: string
}

const runOne = (check: HealthCheck, target: Target, defaults: Defaults): Effect.Effect<CheckOutcome> => {
  const probes = check.probes ?? defaults.probes
  const policy = check.policy ?? defaults.policy
  const delay = check.probesDelay === undefined ? defaults.probesDelay : Duration.decode(check.probesDelay)
  const timeout = check.timeout === undefined ? defaults.timeout : Duration.decode(check.timeout)
  const loop = (passed: number, failed: number, lastCause: string | undefined): Effect.Effect<CheckOutcome> => {
    const verdict = decide(policy, probes, passed, failed)
    if (verdict !== undefined) {
      return Effect.succeed(verdict ? { passed: true } : { passed: false, cause: lastCause ?? "probe failed" })
    }
    const probe = check.probe(target).pipe(
      Effect.map((ok) => (ok ? Option.none<string>() : Option.some("probe answered unhealthy"))),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.interrupt : Effect.succeed(Option.some(describe(Cause.squash(cause))))
      )
    )
    const next = probe.pipe(
      Effect.flatMap((failure) =>
        Option.isNone(failure) ? loop(passed + 1, failed, lastCause) : loop(passed, failed + 1, failure.value)
      )
    )
    return passed + failed === 0 ? next : Effect.zipRight(Effect.sleep(delay), next)
  }
  return loop(0, 0, undefined).pipe(
    Effect.timeoutTo({
      duration: timeout,
      onSuccess: (outcome) => outcome,
      onTimeout: (): CheckOutcome => ({ passed: false, cause: `timed out after ${Duration.format(timeout)}` })
    }),
    Effect.map((outcome) => (outcome.passed ? outcome : { passed: false, cause: `${check.name}: ${outcome.cause}` }))
  )
}

export const run = (checks: ReadonlyArray<HealthCheck>, target: Target, defaults: Defaults): Effect.Effect<Result> =>
  Effect.forEach(checks, (check) => runOne(check, target, defaults).pipe(Effect.map((o) => [check, o] as const)), {
    concurrency: "unbounded"
  }).pipe(
    Effect.map((outcomes): Result => {
      const evicting = outcomes.find(([check, o]) => !o.passed && check.failbackOnly !== true)
      if (evicting !== undefined) {
        return { healthy: false, failbackAllowed: false, cause: evicting[1].cause! }
      }
      const blocking = outcomes.find(([, o]) => !o.passed)
      if (blocking !== undefined) {
        return { healthy: true, failbackAllowed: false, cause: blocking[1].cause! }
      }
      return { healthy: true, failbackAllowed: true }
    })
  )
