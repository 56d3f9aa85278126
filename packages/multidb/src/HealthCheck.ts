/**
 * Health checks: probes run on a dedicated connection per database, judged by a probe policy, bounded by a timeout.
 *
 * @since 0.1.0
 */
import { Context, type Duration, Effect, Layer } from "effect"
import type * as FailureCause from "./FailureCause.js"
import * as internal from "./internal/healthCheck.js"
import type { HealthConnection } from "./RedisConnection.js"

/**
 * How many probes of one check must pass: every one, at least one, or a strict majority.
 *
 * @since 0.1.0
 * @category models
 */
export type Policy = "all" | "any" | "majority"

/**
 * What a probe can look at: the database's id, the hosts (and, when known, host and port) it is reached at, its
 * REST API base (if any) and its dedicated health connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Target {
  readonly database: string
  readonly hosts: ReadonlyArray<string>
  /** Host and port of each address of the database (every root node of a cluster); `hosts` with their ports. */
  readonly endpoints?: ReadonlyArray<{ readonly host: string; readonly port: number }>
  readonly healthCheckUrl: string | undefined
  readonly connection: HealthConnection
}

/**
 * A health check. `probe` answers `true` when the database is healthy; a failure or `false` fails the probe. Unset
 * options take the client's `healthCheckProbes`, `healthCheckProbesDelay`, `healthCheckTimeout` and
 * `healthCheckPolicy`. A `failbackOnly` check never evicts the active database: it only decides whether traffic may
 * move (back) to a database.
 *
 * @since 0.1.0
 * @category models
 */
export interface HealthCheck {
  readonly name: string
  readonly probe: (target: Target) => Effect.Effect<boolean, unknown>
  readonly probes?: number
  readonly probesDelay?: Duration.DurationInput
  readonly timeout?: Duration.DurationInput
  readonly policy?: Policy
  readonly failbackOnly?: boolean
  /**
   * Checks, when the client starts or a database or check is added, that the check can work for a database (e.g.
   * the lag-aware check needs a `healthCheckUrl`); answers a problem, or `undefined` when all is well.
   */
  readonly validate?: (database: Omit<Target, "connection">) => string | undefined
}

/**
 * The probe settings every check falls back to.
 *
 * @since 0.1.0
 * @category models
 */
export interface Defaults {
  readonly probes: number
  readonly probesDelay: Duration.Duration
  readonly timeout: Duration.Duration
  readonly policy: Policy
}

/**
 * The outcome of running all checks on one database. `healthy` is false when a check that may evict failed;
 * `failbackAllowed` additionally needs every `failbackOnly` check to pass.
 *
 * @since 0.1.0
 * @category models
 */
export interface Result {
  readonly healthy: boolean
  readonly failbackAllowed: boolean
  /** What failed, in words (`ping: auth: WRONGPASS ...`). */
  readonly cause?: string
  /** What failed, typed: `kind` (auth, tls, dns, refused, timeout, ...) and the underlying message. */
  readonly failure?: FailureCause.FailureCause
}

/**
 * Builds a custom check, validating its options (`probes` must be an integer of at least 1).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (check: HealthCheck): HealthCheck => {
  if (check.probes !== undefined && (!Number.isInteger(check.probes) || check.probes < 1)) {
    throw new RangeError(`HealthCheck "${check.name}": probes must be an integer >= 1, got ${check.probes}`)
  }
  return check
}

/**
 * The default check: PING on the database's dedicated health connection. For a cluster, every master must answer
 * and report the cluster ready (`CLUSTER INFO`: `cluster_state:ok`, all 16384 slots assigned and served).
 *
 * @since 0.1.0
 * @category constructors
 */
export const ping: HealthCheck = make({
  name: "ping",
  probe: (target) => target.connection.ping.pipe(Effect.as(true))
})

/**
 * Runs the given checks on one database concurrently and combines them: all must pass. Each check's probes follow its
 * policy, stop as soon as the outcome is certain, and are bounded by its timeout.
 *
 * @since 0.1.0
 * @category utils
 */
export const run: (checks: ReadonlyArray<HealthCheck>, target: Target, defaults: Defaults) => Effect.Effect<Result> =
  internal.run

/**
 * Whether a probe sequence passes a policy, for `probes` probes of which the given ones have passed and failed so
 * far: `true` / `false` once certain, `undefined` while undecided.
 *
 * @since 0.1.0
 * @category utils
 */
export const decide: (policy: Policy, probes: number, passed: number, failed: number) => boolean | undefined =
  internal.decide

/**
 * The configuration problems the checks find in the databases (see `HealthCheck.validate`), one line each.
 *
 * @since 0.1.0
 * @category utils
 */
export const validate = (
  checks: ReadonlyArray<HealthCheck>,
  databases: ReadonlyArray<Omit<Target, "connection">>
): ReadonlyArray<string> =>
  checks.flatMap((check) =>
    databases.flatMap((database) => {
      const problem = check.validate?.(database)
      return problem === undefined ? [] : [`health check "${check.name}": ${problem}`]
    })
  )

/**
 * Overrides the list of health checks of every client built in its scope (instead of the config's `healthChecks`).
 *
 * @since 0.1.0
 * @category tags
 */
export class HealthChecks extends Context.Tag("@effect-redis/multidb/HealthChecks")<
  HealthChecks,
  ReadonlyArray<HealthCheck>
>() {}

/**
 * A layer replacing the health checks.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (checks: ReadonlyArray<HealthCheck>): Layer.Layer<HealthChecks> =>
  Layer.succeed(HealthChecks, checks)
