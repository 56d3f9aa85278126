/**
 * The client settings of the demo. The scripted scenario uses timings much shorter than the library's defaults, so
 * that a failover, a grace period and a fail-back each take a second or two and the whole scenario fits in about a
 * minute. A run against the user's own databases uses the library's defaults (short timeouts would cause false
 * failovers against remote databases), with the overrides given on the command line.
 *
 * @since 0.1.0
 */
import { type DatabaseConfig, FailureCause, MultiDbConfig } from "@effect-redis/multidb"
import { Duration, Either, Schema } from "effect"

/**
 * Client options the command line can set (everything else keeps the library's default).
 *
 * @since 0.2.0
 */
export interface Overrides {
  readonly commandTimeout?: Duration.Duration
  readonly connectTimeout?: Duration.Duration
  readonly healthCheckInterval?: Duration.Duration
  readonly healthCheckTimeout?: Duration.Duration
  readonly healthCheckProbes?: number
  readonly healthCheckProbesDelay?: Duration.Duration
  readonly autoFallbackInterval?: Duration.Duration
  readonly gracePeriod?: Duration.Duration
}

/**
 * Which settings a run uses and how to introduce them.
 *
 * @since 0.2.0
 */
export interface ClientSettings {
  readonly label: string
  /** Client options (everything but the databases). */
  readonly options: Partial<MultiDbConfig.Input>
  /** Per-database grace period; `undefined`: the library's default. */
  readonly gracePeriod: DatabaseConfig.Input["gracePeriod"] | undefined
  /** Names of the options set explicitly (marked in the printed settings). */
  readonly given: ReadonlyArray<string>
}

/**
 * The scripted scenario's timings.
 *
 * @since 0.1.0
 */
export const scripted: ClientSettings = {
  label: "demo-friendly, much shorter than the defaults",
  options: {
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
  },
  gracePeriod: "2 seconds",
  given: [
    "healthCheckInterval",
    "healthCheckProbes",
    "healthCheckProbesDelay",
    "healthCheckTimeout",
    "commandTimeout",
    "connectTimeout",
    "autoFallbackInterval",
    "failoverDelay",
    "failoverAttempts",
    "failuresDetectionWindow",
    "minNumFailures",
    "gracePeriod"
  ]
}

const millis = (duration: Duration.Duration) => Duration.toMillis(duration)

/**
 * The library's defaults with the command line's overrides, for runs against the user's databases.
 *
 * @since 0.2.0
 */
export const forUser = (overrides: Overrides): ClientSettings => {
  const { gracePeriod, ...rest } = overrides
  const options: Record<string, number> = {}
  for (const [name, value] of Object.entries(rest)) {
    if (value !== undefined) options[name] = Duration.isDuration(value) ? millis(value) : value
  }
  return {
    label: "the library's defaults, with your overrides marked *",
    options: options as Partial<MultiDbConfig.Input>,
    gracePeriod: gracePeriod === undefined ? undefined : millis(gracePeriod),
    given: Object.keys(overrides).filter((name) => overrides[name as keyof Overrides] !== undefined)
  }
}

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
export const clientConfig = (
  settings: ClientSettings,
  databases: ReadonlyArray<DemoDatabase>
): MultiDbConfig.Input => ({
  ...settings.options,
  // never empty here (the command line and the scenario name at least one); were it empty, decoding would fail
  databases: databases.map((database) => ({
    id: database.id,
    url: database.url,
    weight: database.weight,
    ...(settings.gracePeriod === undefined ? {} : { gracePeriod: settings.gracePeriod })
  })) as unknown as MultiDbConfig.Input["databases"]
})

const shown = [
  "commandTimeout",
  "connectTimeout",
  "healthCheckInterval",
  "healthCheckProbes",
  "healthCheckProbesDelay",
  "healthCheckTimeout",
  "healthCheckPolicy",
  "autoFallbackInterval",
  "failoverAttempts",
  "failoverDelay",
  "failuresDetectionWindow",
  "minNumFailures",
  "failureRateThreshold"
] as const

const show = (value: unknown): string => {
  if (Duration.isDuration(value)) return Duration.format(value)
  return String(value)
}

/**
 * The settings in use as printable `name value` pairs: the decoded configuration, so defaults show their real values.
 *
 * @since 0.1.0
 */
export const describe = (settings: ClientSettings): ReadonlyArray<readonly [string, string]> => {
  const decoded = Schema.decodeUnknownEither(MultiDbConfig.MultiDbConfig)(
    clientConfig(settings, [{ id: "probe", weight: 1, url: "redis://127.0.0.1:6379", directUrl: "" }])
  )
  if (Either.isLeft(decoded)) return [["settings", `invalid: ${FailureCause.mask(decoded.left.message)}`]]
  const config = decoded.right
  const mark = (name: string) => (settings.given.includes(name) ? " *" : "")
  const retry = config.commandRetry
  return [
    ...shown.map((name) => [name, `${show(config[name])}${mark(name)}`] as const),
    ["gracePeriod (each database)", `${show(config.databases[0]!.gracePeriod)}${mark("gracePeriod")}`],
    [
      "commandRetry",
      `${retry.retries} retries, ${Duration.format(retry.base)} → ${Duration.format(retry.cap)}, jittered`
    ]
  ]
}
