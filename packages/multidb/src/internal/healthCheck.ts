import { Cause, Duration, Effect, Option } from "effect"
import * as FailureCause from "../FailureCause.js"
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

interface CheckOutcome {
  readonly passed: boolean
  readonly failure?: FailureCause.FailureCause
}

const runOne = (check: HealthCheck, target: Target, defaults: Defaults): Effect.Effect<CheckOutcome> => {
  const probes = check.probes ?? defaults.probes
  const policy = check.policy ?? defaults.policy
  const delay = check.probesDelay === undefined ? defaults.probesDelay : Duration.decode(check.probesDelay)
  const timeout = check.timeout === undefined ? defaults.timeout : Duration.decode(check.timeout)
  return Effect.suspend(() => {
    // the last probe failure: the reason a check that then times out gives, rather than the timeout alone
    let last: FailureCause.FailureCause | undefined
    const loop = (passed: number, failed: number): Effect.Effect<CheckOutcome> => {
      const verdict = decide(policy, probes, passed, failed)
      if (verdict !== undefined) {
        return Effect.succeed(
          verdict
            ? { passed: true }
            : { passed: false, failure: last ?? FailureCause.make("unhealthy", "probe failed") }
        )
      }
      const probe = check.probe(target).pipe(
        Effect.map((ok) =>
          ok
            ? Option.none<FailureCause.FailureCause>()
            : Option.some(FailureCause.make("unhealthy", "probe answered unhealthy"))
        ),
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause)
            ? Effect.interrupt
            : Effect.succeed(Option.some(FailureCause.fromError(Cause.squash(cause))))
        )
      )
      const next = probe.pipe(
        Effect.flatMap((failure) => {
          if (Option.isNone(failure)) return loop(passed + 1, failed)
          last = failure.value
          return loop(passed, failed + 1)
        })
      )
      return passed + failed === 0 ? next : Effect.zipRight(Effect.sleep(delay), next)
    }
    return loop(0, 0).pipe(
      Effect.timeoutTo({
        duration: timeout,
        onSuccess: (outcome) => outcome,
        onTimeout: (): CheckOutcome => ({
          passed: false,
          failure:
            last === undefined
              ? FailureCause.make("timeout", `timed out after ${Duration.format(timeout)}`)
              : FailureCause.make(last.kind, `${last.message} (then timed out after ${Duration.format(timeout)})`)
        })
      })
    )
  })
}

const describeFailure = (check: HealthCheck, failure: FailureCause.FailureCause | undefined) =>
  `${check.name}: ${failure === undefined ? "failed" : failure.toString()}`

export const run = (checks: ReadonlyArray<HealthCheck>, target: Target, defaults: Defaults): Effect.Effect<Result> =>
  Effect.forEach(checks, (check) => runOne(check, target, defaults).pipe(Effect.map((o) => [check, o] as const)), {
    concurrency: "unbounded"
  }).pipe(
    Effect.map((outcomes): Result => {
      // A failed check evicts the database, unless it only guards fail-back; then it only blocks fail-back.
      const failed =
        outcomes.find(([check, o]) => !o.passed && check.failbackOnly !== true) ?? outcomes.find(([, o]) => !o.passed)
      if (failed !== undefined) {
        const [check, o] = failed
        return {
          healthy: check.failbackOnly === true,
          failbackAllowed: false,
          cause: describeFailure(check, o.failure),
          ...(o.failure === undefined ? {} : { failure: o.failure })
        }
      }
      return { healthy: true, failbackAllowed: true }
    })
  )
