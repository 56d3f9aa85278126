/**
 * The client timings of the demo: much shorter than the library's defaults, so that a failover, a grace period and a
 * fail-back each take a second or two and the whole scenario fits in about a minute.
 *
 * @since 0.1.0
 */
import type { DatabaseConfig, MultiDbConfig } from "@effect-redis/multidb"

/**
 * Client options (everything but the databases).
 *
 * @since 0.1.0
 */
export const clientTimings = {
  healthCheckInterval: "500 millis",
  healthCheckProbes: 2,
  healthCheckProbesDelay: "100 millis",
  healthCheckTimeout: "400 millis",
  commandTimeout: "300 millis",
  connectTimeout: "300 millis",
  autoFallbackInterval: "1 second",
  failoverDelay: "1 second",
  failoverAttempts: 5,
  failuresDetectionWindow: "1 second",
  minNumFailures: 20
} satisfies Partial<MultiDbConfig.Input>

/**
 * Per-database grace period: how long a failed database stays out of rotation.
 *
 * @since 0.1.0
 */
export const gracePeriod = "2 seconds" satisfies DatabaseConfig.Input["gracePeriod"]

/**
 * One database the demo talks to: `url` for the client (through a fault proxy in the scripted scenario) and
 * `directUrl` to read acknowledged writes back at the end.
 *
 * @since 0.1.0
 */
export interface DemoDatabase {
  readonly id: string
  readonly weight: number
  readonly url: string
  readonly directUrl: string
}

/**
 * The full client configuration for the given databases.
 *
 * @since 0.1.0
 */
export const clientConfig = (databases: ReadonlyArray<DemoDatabase>): MultiDbConfig.Input => ({
  ...clientTimings,
  // never empty here (the command line and the scenario name at least one); were it empty, decoding would fail
  databases: databases.map((database) => ({
    id: database.id,
    url: database.url,
    weight: database.weight,
    gracePeriod
  })) as unknown as MultiDbConfig.Input["databases"]
})

/**
 * The timings as printable `name value` pairs.
 *
 * @since 0.1.0
 */
export const describe = (): ReadonlyArray<readonly [string, string]> => [
  ...Object.entries(clientTimings).map(([name, value]) => [name, String(value)] as const),
  ["gracePeriod (each database)", gracePeriod],
  ["failureRateThreshold", "0.1 (default)"],
  ["commandRetry", "default: 10 retries, 10 ms → 1 s"]
]
