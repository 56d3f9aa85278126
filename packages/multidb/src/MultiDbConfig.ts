/**
 * The configuration of a `MultiDbClient`: its databases and every failover, detection and health-check option, with
 * the defaults of the design.
 *
 * @since 0.1.0
 */
import { Config, ConfigError, Duration, Effect, Either, type ParseResult, Schema } from "effect"
import * as DatabaseConfig from "./DatabaseConfig.js"
import { mask } from "./FailureCause.js"
import * as HealthCheck from "./HealthCheck.js"
import { nearest, simplify } from "./internal/configError.js"
import { quorum } from "./internal/healthCheck.js"
import { DurationInput, Fraction, IntAtLeast, maxTimerMillis, PositiveDuration } from "./internal/schemas.js"

/**
 * The floor on how often one database is health-checked: two checks of the same database start at least this far
 * apart, whatever the grace period, probe delay or failure-triggered checks ask for, so a zero grace period against a
 * database that stays down cannot turn into a busy loop.
 *
 * @since 0.2.0
 * @category constants
 */
export const minimumCheckSpacing: Duration.Duration = Duration.millis(100)

/**
 * The longest duration any option accepts: what a Node timer can hold (2^31 - 1 ms, about 24.8 days).
 *
 * @since 0.2.0
 * @category constants
 */
export const maximumDuration: Duration.Duration = Duration.millis(maxTimerMillis)

const HealthCheckSchema = Schema.declare(
  (u: unknown): u is HealthCheck.HealthCheck =>
    typeof u === "object" && u !== null && typeof (u as { probe?: unknown }).probe === "function",
  { identifier: "HealthCheck", description: "a HealthCheck (see HealthCheck.make)" }
)

const Policy = Schema.Literal("all", "any", "majority")

const CommandRetry = Schema.Struct({
  base: Schema.optionalWith(DurationInput, { default: () => Duration.millis(10) }),
  cap: Schema.optionalWith(DurationInput, { default: () => Duration.seconds(1) }),
  retries: Schema.optionalWith(IntAtLeast(0), { default: () => 10 })
})

const Databases = Schema.NonEmptyArray(DatabaseConfig.FromInput).pipe(
  Schema.filter((databases) => {
    const seen = new Set<string>()
    for (let i = 0; i < databases.length; i++) {
      const id = databases[i]!.id
      if (seen.has(id)) return { path: [i, "id"], message: `duplicate database id "${id}"` }
      seen.add(id)
    }
    return true
  }),
  Schema.annotations({ description: "a non-empty list of databases" })
)

/**
 * A fully defaulted, validated client configuration. Decode a plain object with `MultiDbConfig.decode`.
 *
 * @since 0.1.0
 * @category models
 */
export class MultiDbConfig extends Schema.Class<MultiDbConfig>("MultiDbConfig")(
  Schema.Struct({
    databases: Databases,
    /** Sliding window of the failure detector. */
    failuresDetectionWindow: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(2) }),
    /** Failures needed in the window to trip. */
    minNumFailures: Schema.optionalWith(IntAtLeast(1), { default: () => 1000 }),
    /** failures / (failures + successes) needed in the window to trip. */
    failureRateThreshold: Schema.optionalWith(Fraction, { default: () => 0.1 }),
    /** Retries of one command: exponential with jitter from `base`, capped at `cap`, at most `retries` times. */
    commandRetry: Schema.optionalWith(CommandRetry, {
      default: () => ({ base: Duration.millis(10), cap: Duration.seconds(1), retries: 10 })
    }),
    /** Retry commands that may have executed (writes) too; off by default so nothing is applied twice unknowingly. */
    retryWrites: Schema.optionalWith(Schema.Boolean, { default: () => false }),
    /** Bound on one command (node-redis command timeout). */
    commandTimeout: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(2) }),
    /**
     * How long a command waits for an eligible database while none is, before failing with `TemporarilyUnavailable`
     * (or `NoValidDatabase`); zero fails at once.
     */
    availabilityTimeout: Schema.optionalWith(DurationInput, { default: () => Duration.seconds(2) }),
    /**
     * Bound on the one PING sent to a database right after one of its commands missed its deadline: no answer within
     * it opens the database's circuit (capped by `healthCheckTimeout`). Raise it when PINGs take longer than this.
     */
    hangProbeTimeout: Schema.optionalWith(PositiveDuration, { default: () => Duration.millis(100) }),
    /** Bound on opening a connection. */
    connectTimeout: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(2) }),
    /** How many failover attempts report "no healthy database" as temporary. */
    failoverAttempts: Schema.optionalWith(IntAtLeast(0), { default: () => 10 }),
    /** Time between failover attempts. */
    failoverDelay: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(12) }),
    /** How often to fail back to a higher-weighted healthy database; zero disables. */
    autoFallbackInterval: Schema.optionalWith(DurationInput, { default: () => Duration.seconds(30) }),
    /** Between health-check rounds. */
    healthCheckInterval: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(5) }),
    /** Probes per check. */
    healthCheckProbes: Schema.optionalWith(IntAtLeast(1), { default: () => 3 }),
    /** Pause between probes. */
    healthCheckProbesDelay: Schema.optionalWith(DurationInput, { default: () => Duration.millis(500) }),
    /** Bound on one whole check. */
    healthCheckTimeout: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(3) }),
    /** How many probes must pass. */
    healthCheckPolicy: Schema.optionalWith(Policy, { default: () => "majority" as const }),
    /** The checks; all must pass. */
    healthChecks: Schema.optionalWith(Schema.Array(HealthCheckSchema), { default: () => [HealthCheck.ping] }),
    /** How many databases must be healthy for the client to start. */
    initialHealthCheckPolicy: Schema.optionalWith(Schema.Literal("all", "majority", "one"), {
      default: () => "majority" as const
    }),
    /**
     * Spans for commands, pipelines, transactions, health checks and switches (metrics are always recorded): `false`
     * makes none; `{ keys: true }` also records each command's keys (as `db.query.text`, other arguments as `?`).
     */
    tracing: Schema.optionalWith(
      Schema.Union(Schema.Boolean, Schema.Struct({ keys: Schema.optional(Schema.Boolean) })),
      {
        default: () => true
      }
    )
  }).pipe(
    Schema.filter((config) => {
      const needed = quorum(config.healthCheckPolicy, config.healthCheckProbes)
      const least = Duration.times(config.healthCheckProbesDelay, needed - 1)
      if (Duration.lessThanOrEqualTo(config.healthCheckTimeout, least)) {
        return {
          path: ["healthCheckTimeout"],
          message: `healthCheckTimeout (${Duration.format(config.healthCheckTimeout)}) leaves no time for a healthy verdict: policy "${config.healthCheckPolicy}" needs ${needed} passing probes ${Duration.format(config.healthCheckProbesDelay)} apart`
        }
      }
      return true
    })
  )
) {}

/**
 * The plain form of a configuration, as an application writes it.
 *
 * @since 0.1.0
 * @category models
 */
export type Input = Schema.Schema.Encoded<typeof MultiDbConfig>

/**
 * Decodes and validates a plain configuration. Unknown keys are rejected (naming the nearest known one). Fails with a
 * `ParseError` whose message lists each problem on a line of its own, path first
 * (`databases[1].weight: expected a number ≥ 0, got "x"`); credentials never appear in it.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (input: unknown): Effect.Effect<MultiDbConfig, ParseResult.ParseError> =>
  Schema.decodeUnknown(MultiDbConfig, DatabaseConfig.parseOptions)(input).pipe(Effect.mapError(simplify))

/**
 * The message of a configuration error, short and with credentials masked: one `path: reason` line per problem.
 *
 * @since 0.2.0
 * @category decoding
 */
export const formatError = (error: ParseResult.ParseError): string => simplify(error).message

const decimal = /^\d+(\.\d+)?$/

const parseDatabase = (entry: string, index: number): Either.Either<DatabaseConfig.Input, string> => {
  const at = `MULTIDB_DATABASES[${index}]`
  const trimmed = entry.trim()
  const [url] = trimmed.split(/\s+/, 1)
  if (url === undefined || url === "") return Either.left(`${at}: empty entry`)
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(url)) {
    return Either.left(`${at}: expected an entry to start with a redis:// URL, got "${url}"`)
  }
  const database: Record<string, unknown> = { url }
  const rest = trimmed.slice(url.length).trim()
  // key=value pairs; a value runs up to the next " key=" so that "gracePeriod=10 seconds" works
  const pairs = rest === "" ? [] : rest.split(/\s+(?=[A-Za-z]+=)/)
  for (const pair of pairs) {
    const equals = pair.indexOf("=")
    if (equals <= 0) return Either.left(`${at}: expected key=value, got "${pair}"`)
    const key = pair.slice(0, equals)
    const value = pair.slice(equals + 1).trim()
    if (key === "weight") {
      if (!decimal.test(value)) {
        return Either.left(`${at}.weight: expected a decimal number ≥ 0 such as 1 or 0.5, got "${value}"`)
      }
      database.weight = Number(value)
    } else if (key === "id" || key === "gracePeriod" || key === "healthCheckUrl") {
      database[key] = value
    } else {
      const known = ["id", "weight", "gracePeriod", "healthCheckUrl"]
      const suggestion = nearest(key, known)
      return Either.left(
        `${at}: unknown key "${key}"${suggestion === undefined ? ` (known: ${known.join(", ")})` : `, did you mean "${suggestion}"?`}`
      )
    }
  }
  return Either.right(database as DatabaseConfig.Input)
}

/** Entries are separated by commas that precede a URL, so a comma inside a value ("weight=1,5") stays in its entry. */
const splitEntries = (raw: string) => raw.split(/,(?=\s*[A-Za-z][A-Za-z0-9+.-]*:\/\/)/).filter((e) => e.trim() !== "")

const optionalDuration = (name: string) => Config.option(Config.string(name))
const optionalNumber = (name: string) =>
  Config.option(
    Config.string(name).pipe(
      Config.mapOrFail((raw) =>
        decimal.test(raw.trim())
          ? Either.right(Number(raw.trim()))
          : Either.left(ConfigError.InvalidData([], `expected a decimal number, got "${mask(raw)}"`))
      )
    )
  )

/**
 * Reads a configuration from environment variables (via Effect `Config`), all under the `MULTIDB_` prefix:
 * `MULTIDB_DATABASES` is a comma-separated list of `url [id=..] [weight=..] [gracePeriod=..] [healthCheckUrl=..]`;
 * every other option is `MULTIDB_` + its name in upper snake case (`MULTIDB_HEALTH_CHECK_INTERVAL="1 second"`).
 *
 * @since 0.1.0
 * @category environment
 */
export const fromEnv: Config.Config<Input> = Config.all({
  databases: Config.string("DATABASES").pipe(
    Config.mapOrFail((raw) => {
      const parsed = splitEntries(raw).map(parseDatabase)
      if (parsed.length === 0) return Either.left(ConfigError.InvalidData([], "MULTIDB_DATABASES: no database"))
      const bad = parsed.find(Either.isLeft)
      if (bad !== undefined) return Either.left(ConfigError.InvalidData([], mask(bad.left)))
      return Either.right(parsed.map((p) => (p as Either.Right<string, DatabaseConfig.Input>).right))
    })
  ),
  failuresDetectionWindow: optionalDuration("FAILURES_DETECTION_WINDOW"),
  minNumFailures: optionalNumber("MIN_NUM_FAILURES"),
  failureRateThreshold: optionalNumber("FAILURE_RATE_THRESHOLD"),
  retryWrites: Config.option(Config.boolean("RETRY_WRITES")),
  commandTimeout: optionalDuration("COMMAND_TIMEOUT"),
  availabilityTimeout: optionalDuration("AVAILABILITY_TIMEOUT"),
  hangProbeTimeout: optionalDuration("HANG_PROBE_TIMEOUT"),
  connectTimeout: optionalDuration("CONNECT_TIMEOUT"),
  failoverAttempts: optionalNumber("FAILOVER_ATTEMPTS"),
  failoverDelay: optionalDuration("FAILOVER_DELAY"),
  autoFallbackInterval: optionalDuration("AUTO_FALLBACK_INTERVAL"),
  healthCheckInterval: optionalDuration("HEALTH_CHECK_INTERVAL"),
  healthCheckProbes: optionalNumber("HEALTH_CHECK_PROBES"),
  healthCheckProbesDelay: optionalDuration("HEALTH_CHECK_PROBES_DELAY"),
  healthCheckTimeout: optionalDuration("HEALTH_CHECK_TIMEOUT"),
  healthCheckPolicy: Config.option(Config.literal("all", "any", "majority")("HEALTH_CHECK_POLICY")),
  initialHealthCheckPolicy: Config.option(Config.literal("all", "majority", "one")("INITIAL_HEALTH_CHECK_POLICY")),
  tracing: Config.option(Config.boolean("TRACING"))
}).pipe(
  Config.map((values) => {
    const input: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(values)) {
      if (key === "databases") input[key] = value
      else if (typeof value === "object" && value !== null && "_tag" in value) {
        if (value._tag === "Some") input[key] = (value as { value: unknown }).value
      }
    }
    return input as unknown as Input
  }),
  Config.nested("MULTIDB")
)

/**
 * Reads and decodes the configuration from environment variables in one step.
 *
 * @since 0.1.0
 * @category environment
 */
export const loadFromEnv = fromEnv.pipe(Effect.flatMap(decode))
