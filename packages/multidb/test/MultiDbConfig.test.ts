import { inspect } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import {
  Cause,
  ConfigProvider,
  Duration,
  Effect,
  Either,
  Exit,
  Inspectable,
  Layer,
  Option,
  ParseResult,
  Redacted,
  Schema
} from "effect"
import * as DatabaseConfig from "../src/DatabaseConfig.js"
import * as HealthCheck from "../src/HealthCheck.js"
import * as MultiDbClient from "../src/MultiDbClient.js"
import * as MultiDbConfig from "../src/MultiDbConfig.js"

const minimal: MultiDbConfig.Input = { databases: [{ url: "redis://east.example.com:6380" }] }

const millis = (d: Duration.Duration) => Duration.toMillis(d)

/** Decodes `input`, expecting a ParseError; succeeds with its message and the paths it names. */
const decodeError = (input: unknown) =>
  Effect.gen(function* () {
    const error = yield* Effect.flip(MultiDbConfig.decode(input))
    expect(ParseResult.isParseError(error)).toBe(true)
    const paths = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => issue.path.join("."))
    return { message: error.message, paths }
  })

const withDatabase = (database: Record<string, unknown>) => ({ databases: [{ url: "redis://a:6379", ...database }] })

describe("MultiDbConfig.decode defaults (DESIGN §4)", () => {
  it.effect("failure detector: window 2 s, 1000 failures, rate 0.1", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.decode(minimal)
      expect(millis(config.failuresDetectionWindow)).toBe(2000)
      expect(config.minNumFailures).toBe(1000)
      expect(config.failureRateThreshold).toBe(0.1)
    })
  )

  it.effect("command retry: base 10 ms, cap 1 s, 10 retries; writes not retried", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.decode(minimal)
      expect(millis(config.commandRetry.base)).toBe(10)
      expect(millis(config.commandRetry.cap)).toBe(1000)
      expect(config.commandRetry.retries).toBe(10)
      expect(config.retryWrites).toBe(false)
    })
  )

  it.effect("hangs and outages: a 100 ms hang probe; a command waits up to 2 s for an eligible database", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.decode(minimal)
      expect(millis(config.hangProbeTimeout)).toBe(100)
      expect(millis(config.availabilityTimeout)).toBe(2000)
      const tuned = yield* MultiDbConfig.decode({ ...minimal, hangProbeTimeout: "250 millis", availabilityTimeout: 0 })
      expect(millis(tuned.hangProbeTimeout)).toBe(250)
      expect(millis(tuned.availabilityTimeout)).toBe(0)
    })
  )

  it.effect("failover: 10 attempts, 12 s apart; auto fallback every 30 s", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.decode(minimal)
      expect(config.failoverAttempts).toBe(10)
      expect(millis(config.failoverDelay)).toBe(12_000)
      expect(millis(config.autoFallbackInterval)).toBe(30_000)
    })
  )

  it.effect(
    "health checks: every 5 s, 3 probes 0.5 s apart, 3 s timeout, majority, PING; initial policy majority",
    () =>
      Effect.gen(function* () {
        const config = yield* MultiDbConfig.decode(minimal)
        expect(millis(config.healthCheckInterval)).toBe(5000)
        expect(config.healthCheckProbes).toBe(3)
        expect(millis(config.healthCheckProbesDelay)).toBe(500)
        expect(millis(config.healthCheckTimeout)).toBe(3000)
        expect(config.healthCheckPolicy).toBe("majority")
        expect(config.healthChecks).toEqual([HealthCheck.ping])
        expect(config.initialHealthCheckPolicy).toBe("majority")
      })
  )

  it.effect("database: weight 1, grace period 60 s, id host:port of its url", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.decode(minimal)
      const [database] = config.databases
      expect(database.weight).toBe(1)
      expect(millis(database.gracePeriod)).toBe(60_000)
      expect(database.id).toBe("east.example.com:6380")
      expect(database.healthCheckUrl).toBeUndefined()
    })
  )

  it.effect("the id takes port 6379 when the url has none", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.decode({ databases: [{ url: "redis://west.example.com" }] })
      expect(config.databases[0].id).toBe("west.example.com:6379")
    })
  )

  it.effect("the id of a cluster is host:port of its first root node", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.decode({
        databases: [{ cluster: { rootNodes: [{ url: "redis://n1:7000" }, { url: "redis://n2:7001" }] } }]
      })
      expect(config.databases[0].id).toBe("n1:7000")
      expect(config.databases[0].hosts).toEqual(["n1", "n2"])
    })
  )

  it.effect("the id of a database given by client options is host:port of its socket", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.decode({
        databases: [{ clientOptions: { socket: { host: "south", port: 6390 } } }]
      })
      expect(config.databases[0].id).toBe("south:6390")
    })
  )

  it.effect("explicit values win over the defaults", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.decode({
        databases: [{ id: "east", url: "redis://east:1", weight: 0.7, gracePeriod: "5 seconds" }],
        failuresDetectionWindow: "1 second",
        minNumFailures: 5,
        failureRateThreshold: 0.5,
        commandRetry: { base: "20 millis", cap: "2 seconds", retries: 3 },
        retryWrites: true,
        failoverAttempts: 3,
        failoverDelay: 1000,
        autoFallbackInterval: 0,
        healthCheckInterval: "1 second",
        healthCheckProbes: 5,
        healthCheckProbesDelay: "20 millis",
        healthCheckTimeout: "2 seconds",
        healthCheckPolicy: "all",
        initialHealthCheckPolicy: "one"
      })
      expect(config.databases[0].id).toBe("east")
      expect(config.databases[0].weight).toBe(0.7)
      expect(millis(config.databases[0].gracePeriod)).toBe(5000)
      expect(millis(config.failuresDetectionWindow)).toBe(1000)
      expect(config.minNumFailures).toBe(5)
      expect(config.failureRateThreshold).toBe(0.5)
      expect(millis(config.commandRetry.base)).toBe(20)
      expect(millis(config.commandRetry.cap)).toBe(2000)
      expect(config.commandRetry.retries).toBe(3)
      expect(config.retryWrites).toBe(true)
      expect(config.failoverAttempts).toBe(3)
      expect(millis(config.failoverDelay)).toBe(1000)
      expect(millis(config.autoFallbackInterval)).toBe(0)
      expect(millis(config.healthCheckInterval)).toBe(1000)
      expect(config.healthCheckProbes).toBe(5)
      expect(millis(config.healthCheckProbesDelay)).toBe(20)
      expect(millis(config.healthCheckTimeout)).toBe(2000)
      expect(config.healthCheckPolicy).toBe("all")
      expect(config.initialHealthCheckPolicy).toBe("one")
    })
  )

  it.effect("a custom list of health checks replaces the default PING", () =>
    Effect.gen(function* () {
      const custom = HealthCheck.make({ name: "custom", probe: () => Effect.succeed(true) })
      const config = yield* MultiDbConfig.decode({ ...minimal, healthChecks: [custom] })
      expect(config.healthChecks).toEqual([custom])
    })
  )

  it.effect("durations accept a Duration, a number of milliseconds and a numeric string", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.decode({
        ...minimal,
        healthCheckInterval: Duration.seconds(7),
        healthCheckTimeout: 1500,
        failoverDelay: "2500"
      })
      expect(millis(config.healthCheckInterval)).toBe(7000)
      expect(millis(config.healthCheckTimeout)).toBe(1500)
      expect(millis(config.failoverDelay)).toBe(2500)
    })
  )
})

describe("MultiDbConfig.decode rejects invalid input with a ParseError naming the path", () => {
  it.effect("an empty database list", () =>
    Effect.gen(function* () {
      const { message, paths } = yield* decodeError({ databases: [] })
      expect(message).toBe("databases: expected at least 1 item(s)")
      expect(paths[0]).toMatch(/^databases/)
    })
  )

  it.effect("a missing database list", () =>
    Effect.gen(function* () {
      const { message, paths } = yield* decodeError({})
      expect(message).toBe("databases: is required")
      expect(paths).toContain("databases")
    })
  )

  it.effect("weight -1", () =>
    Effect.gen(function* () {
      const { message, paths } = yield* decodeError(withDatabase({ weight: -1 }))
      expect(paths).toContain("databases.0.weight")
      expect(message).toBe("databases[0].weight: expected a number ≥ 0, got -1")
    })
  )

  it.effect('weight "heavy"', () =>
    Effect.gen(function* () {
      const { message, paths } = yield* decodeError(withDatabase({ weight: "heavy" }))
      expect(paths).toContain("databases.0.weight")
      expect(message).toContain('"heavy"')
    })
  )

  it.effect("a duplicate id, at the second database", () =>
    Effect.gen(function* () {
      const { message, paths } = yield* decodeError({
        databases: [
          { id: "east", url: "redis://a:1" },
          { id: "east", url: "redis://b:1" }
        ]
      })
      expect(paths).toEqual(["databases.1.id"])
      expect(message).toContain('duplicate database id "east"')
    })
  )

  it.effect("a duplicate defaulted id (two databases at the same host:port)", () =>
    Effect.gen(function* () {
      const { paths } = yield* decodeError({ databases: [{ url: "redis://a:1" }, { url: "redis://a:1/2" }] })
      expect(paths).toEqual(["databases.1.id"])
    })
  )

  it.effect("a malformed url", () =>
    Effect.gen(function* () {
      const { message, paths } = yield* decodeError({ databases: [{ url: "not a url" }] })
      expect(paths).toContain("databases.0.url")
      expect(message).toContain("malformed")
    })
  )

  it.effect("a url that is not redis:// or rediss://", () =>
    Effect.gen(function* () {
      const { message, paths } = yield* decodeError({ databases: [{ url: "http://a:1" }] })
      expect(paths).toContain("databases.0.url")
      expect(message).toContain("http:")
    })
  )

  it.effect("a database without any way to reach it", () =>
    Effect.gen(function* () {
      const { paths } = yield* decodeError({ databases: [{ weight: 1 }] })
      expect(paths).toContain("databases.0.url")
    })
  )

  it.effect("probes 0", () =>
    Effect.gen(function* () {
      const { message, paths } = yield* decodeError({ ...minimal, healthCheckProbes: 0 })
      expect(paths).toContain("healthCheckProbes")
      expect(message).toBe("healthCheckProbes: expected an integer ≥ 1, got 0")
    })
  )

  it.effect("a fractional number of probes", () =>
    Effect.gen(function* () {
      const { paths } = yield* decodeError({ ...minimal, healthCheckProbes: 2.5 })
      expect(paths).toContain("healthCheckProbes")
    })
  )

  it.effect("threshold 1.5", () =>
    Effect.gen(function* () {
      const { message, paths } = yield* decodeError({ ...minimal, failureRateThreshold: 1.5 })
      expect(paths).toContain("failureRateThreshold")
      expect(message).toContain("1.5")
    })
  )

  it.effect('a negative duration "-5 seconds"', () =>
    Effect.gen(function* () {
      const { message, paths } = yield* decodeError({ ...minimal, healthCheckInterval: "-5 seconds" })
      expect(paths).toContain("healthCheckInterval")
      expect(message).toContain('"-5 seconds"')
    })
  )

  it.effect('a negative grace period "-5 seconds" names the database', () =>
    Effect.gen(function* () {
      const { paths } = yield* decodeError(withDatabase({ gracePeriod: "-5 seconds" }))
      expect(paths).toContain("databases.0.gracePeriod")
    })
  )

  it.effect("a negative number of milliseconds", () =>
    Effect.gen(function* () {
      const { paths } = yield* decodeError({ ...minimal, failoverDelay: -5 })
      expect(paths).toContain("failoverDelay")
    })
  )

  it.effect("an unparsable duration", () =>
    Effect.gen(function* () {
      const { paths } = yield* decodeError({ ...minimal, healthCheckTimeout: "soon" })
      expect(paths).toContain("healthCheckTimeout")
    })
  )

  it.effect("a zero health-check interval", () =>
    Effect.gen(function* () {
      const { paths } = yield* decodeError({ ...minimal, healthCheckInterval: 0 })
      expect(paths).toContain("healthCheckInterval")
    })
  )

  it.effect("an unknown policy", () =>
    Effect.gen(function* () {
      const { paths } = yield* decodeError({ ...minimal, healthCheckPolicy: "most" })
      expect(paths).toContain("healthCheckPolicy")
    })
  )

  it.effect("an unknown initial policy", () =>
    Effect.gen(function* () {
      const { paths } = yield* decodeError({ ...minimal, initialHealthCheckPolicy: "any" })
      expect(paths).toContain("initialHealthCheckPolicy")
    })
  )

  it.effect("a health check that is not a HealthCheck", () =>
    Effect.gen(function* () {
      const { paths } = yield* decodeError({ ...minimal, healthChecks: [{ name: "no probe" }] })
      expect(paths[0]).toMatch(/^healthChecks/)
    })
  )

  it.effect("a cluster that also has a url", () =>
    Effect.gen(function* () {
      const { paths } = yield* decodeError({
        databases: [{ url: "redis://a:1", cluster: { rootNodes: [{ url: "redis://n1:7000" }] } }]
      })
      expect(paths).toContain("databases.0.cluster")
    })
  )
})

describe("DatabaseConfig.decode", () => {
  it.effect("fills the id from the url", () =>
    Effect.gen(function* () {
      const database = yield* DatabaseConfig.decode({ url: "rediss://secure.example.com:6390" })
      expect(database.id).toBe("secure.example.com:6390")
      expect(database.weight).toBe(1)
    })
  )

  it.effect("rejects a negative weight naming the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(DatabaseConfig.decode({ url: "redis://a:1", weight: -1 }))
      expect(error.message).toBe("weight: expected a number ≥ 0, got -1")
    })
  )
})

describe("MultiDbConfig.fromEnv", () => {
  const provider = (entries: Record<string, string>) =>
    ConfigProvider.fromMap(new Map(Object.entries(entries)), { pathDelim: "_" })

  it.effect("reads MULTIDB_DATABASES as a comma-separated list of url [id=..] [weight=..]", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.loadFromEnv.pipe(
        Effect.withConfigProvider(provider({ MULTIDB_DATABASES: "redis://a:1 id=a weight=1,redis://b:2 weight=0.5" }))
      )
      expect(config.databases.map((d) => [d.id, d.url, d.weight])).toEqual([
        ["a", "redis://a:1", 1],
        ["b:2", "redis://b:2", 0.5]
      ])
      expect(millis(config.healthCheckInterval)).toBe(5000)
    })
  )

  it.effect("a per-database duration may contain spaces (gracePeriod=10 seconds)", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.loadFromEnv.pipe(
        Effect.withConfigProvider(
          provider({ MULTIDB_DATABASES: "redis://a:1 gracePeriod=10 seconds weight=2, redis://b:2" })
        )
      )
      expect(config.databases.map((d) => [d.id, millis(d.gracePeriod), d.weight])).toEqual([
        ["a:1", 10_000, 2],
        ["b:2", 60_000, 1]
      ])
    })
  )

  it.effect("reads options such as MULTIDB_HEALTH_CHECK_INTERVAL", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.loadFromEnv.pipe(
        Effect.withConfigProvider(
          provider({
            MULTIDB_DATABASES: "redis://a:1 id=a weight=1,redis://b:2 weight=0.5",
            MULTIDB_HEALTH_CHECK_INTERVAL: "1 second",
            MULTIDB_MIN_NUM_FAILURES: "5",
            MULTIDB_HEALTH_CHECK_POLICY: "all",
            MULTIDB_RETRY_WRITES: "true"
          })
        )
      )
      expect(millis(config.healthCheckInterval)).toBe(1000)
      expect(config.minNumFailures).toBe(5)
      expect(config.healthCheckPolicy).toBe("all")
      expect(config.retryWrites).toBe(true)
    })
  )

  it.effect("reads gracePeriod (milliseconds) and healthCheckUrl per database", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.loadFromEnv.pipe(
        Effect.withConfigProvider(
          provider({
            MULTIDB_DATABASES: "redis://a:1 gracePeriod=10000 healthCheckUrl=https://cluster.example.com"
          })
        )
      )
      expect(millis(config.databases[0].gracePeriod)).toBe(10_000)
      expect(config.databases[0].healthCheckUrl).toBe("https://cluster.example.com")
    })
  )

  it.effect("fails with a ConfigError when MULTIDB_DATABASES is missing", () =>
    Effect.gen(function* () {
      const result = yield* MultiDbConfig.fromEnv.pipe(Effect.withConfigProvider(provider({})), Effect.either)
      expect(Either.isLeft(result)).toBe(true)
    })
  )

  it.effect("fails naming the entry when a weight is not a number", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        MultiDbConfig.fromEnv.pipe(
          Effect.withConfigProvider(provider({ MULTIDB_DATABASES: "redis://a:1 weight=heavy" }))
        )
      )
      expect(String(error)).toContain("MULTIDB_DATABASES[0].weight")
    })
  )

  it.effect("fails on an unknown key in an entry", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        MultiDbConfig.fromEnv.pipe(
          Effect.withConfigProvider(provider({ MULTIDB_DATABASES: "redis://a:1 colour=blue" }))
        )
      )
      expect(String(error)).toContain('unknown key "colour"')
    })
  )

  it.effect("an invalid option value fails decoding with a ParseError naming it", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        MultiDbConfig.loadFromEnv.pipe(
          Effect.withConfigProvider(
            provider({ MULTIDB_DATABASES: "redis://a:1", MULTIDB_FAILURE_RATE_THRESHOLD: "1.5" })
          )
        )
      )
      expect(ParseResult.isParseError(error)).toBe(true)
      expect(error.message).toBe("failureRateThreshold: expected a number between 0 and 1, got 1.5")
    })
  )
})

describe("every bad input is a typed error, never a throw or a defect (issue 13)", () => {
  it.effect(
    'a URL path that is not a database number ("/abc") is a ParseError, not "TypeError: Invalid pathname"',
    () =>
      Effect.gen(function* () {
        const { message, paths } = yield* decodeError({ databases: [{ url: "redis://a:1/abc" }] })
        expect(paths).toEqual(["databases.0.url"])
        expect(message).toBe(
          'databases[0].url: expected the URL\'s path to be a database number (redis://host:6379/0), got "/abc"'
        )
      })
  )

  it.effect("a database number as the path is accepted", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.decode({ databases: [{ url: "redis://a:1/3" }] })
      expect(config.databases[0].url).toBe("redis://a:1/3")
    })
  )

  it.effect('socket.host " " is a ParseError from decode, not a synchronous throw', () =>
    Effect.gen(function* () {
      const input = { databases: [{ clientOptions: { socket: { host: " " } } }] }
      const exit = yield* Effect.exit(Effect.suspend(() => MultiDbConfig.decode(input)))
      expect(Exit.isFailure(exit) && Cause.isFailType(exit.cause)).toBe(true)
      const { message } = yield* decodeError(input)
      expect(message).toBe("databases[0].clientOptions.socket.host: expected a non-empty host name")
    })
  )

  it.effect('socket.host " " fails the MultiDbClient.layer build with a ParseError', () =>
    Effect.gen(function* () {
      const exit = yield* Layer.build(
        MultiDbClient.layer({ databases: [{ clientOptions: { socket: { host: " " } } }] })
      ).pipe(Effect.scoped, Effect.exit)
      expect(Exit.isFailure(exit) && Cause.isFailType(exit.cause)).toBe(true)
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      expect(Option.map(error, (e) => e._tag)).toEqual(Option.some("ParseError"))
    })
  )

  it.effect("a socket port out of range and a tls flag that contradicts the URL are ParseErrors", () =>
    Effect.gen(function* () {
      const port = yield* decodeError({ databases: [{ clientOptions: { socket: { host: "a", port: 70000 } } }] })
      expect(port.paths).toEqual(["databases.0.clientOptions.socket.port"])
      const tls = yield* decodeError({
        databases: [{ url: "rediss://a:1", clientOptions: { socket: { tls: false } } }]
      })
      expect(tls.paths).toEqual(["databases.0.clientOptions.socket.tls"])
    })
  )

  it.effect("DatabaseConfig.decode (what addDatabase uses) fails with a ParseError on the same inputs", () =>
    Effect.gen(function* () {
      for (const input of [{ url: "redis://a:1/abc" }, { clientOptions: { socket: { host: " " } } }]) {
        const exit = yield* Effect.exit(Effect.suspend(() => DatabaseConfig.decode(input)))
        expect(Exit.isFailure(exit) && Cause.isFailType(exit.cause)).toBe(true)
      }
    })
  )

  it.effect("every message names the path README-style and stays short (no schema tree)", () =>
    Effect.gen(function* () {
      const { message } = yield* decodeError({
        databases: [{ url: "redis://a:1" }, { url: "redis://b:1", weight: "x" }]
      })
      expect(message).toBe('databases[1].weight: expected a number ≥ 0, got "x"')
      expect(message.split("\n")).toHaveLength(1)
    })
  )

  it.effect("several problems are listed one per line", () =>
    Effect.gen(function* () {
      const { message, paths } = yield* decodeError({
        databases: [{ url: "redis://a:1", weight: -1 }],
        healthCheckPolicy: "most"
      })
      expect(message.split("\n").sort()).toEqual(
        [
          'healthCheckPolicy: expected one of "all", "any", "majority", got "most"',
          "databases[0].weight: expected a number ≥ 0, got -1"
        ].sort()
      )
      expect(paths.sort()).toEqual(["databases.0.weight", "healthCheckPolicy"])
    })
  )

  it.effect("formatError gives the same short text for any ParseError of the config schema", () =>
    Effect.gen(function* () {
      const raw = yield* Effect.flip(Schema.decodeUnknown(MultiDbConfig.MultiDbConfig)(withDatabase({ weight: "x" })))
      expect(MultiDbConfig.formatError(raw)).toBe('databases[0].weight: expected a number ≥ 0, got "x"')
    })
  )
})

describe("unknown keys are rejected, naming the nearest known one (issue 13)", () => {
  it.effect("healthCheckIntervall → did you mean healthCheckInterval?", () =>
    Effect.gen(function* () {
      const { message, paths } = yield* decodeError({ ...minimal, healthCheckIntervall: "1 second" })
      expect(paths).toEqual(["healthCheckIntervall"])
      expect(message).toBe('healthCheckIntervall: unknown option, did you mean "healthCheckInterval"?')
    })
  )

  it.effect("wieght in a database → did you mean weight?", () =>
    Effect.gen(function* () {
      const { message } = yield* decodeError(withDatabase({ wieght: 2 }))
      expect(message).toBe('databases[0].wieght: unknown option, did you mean "weight"?')
    })
  )

  it.effect("a key far from every known one lists the known keys", () =>
    Effect.gen(function* () {
      const { message } = yield* decodeError({ ...minimal, commandRetry: { colour: "blue" } })
      expect(message).toBe("commandRetry.colour: unknown option (known: base, cap, retries)")
    })
  )

  it.effect("addDatabase's decode rejects unknown keys too", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(DatabaseConfig.decode({ url: "redis://a:1", gracePeriodd: "1 second" }))
      expect(error.message).toBe('gracePeriodd: unknown option, did you mean "gracePeriod"?')
    })
  )
})

describe("durations longer than a timer can hold are rejected (issue 13)", () => {
  it.effect('connectTimeout "30 days"', () =>
    Effect.gen(function* () {
      const { message } = yield* decodeError({ ...minimal, connectTimeout: "30 days" })
      expect(message).toBe(
        'connectTimeout: expected a duration of at most 24.8 days (the longest a timer can wait), got "30 days"'
      )
    })
  )

  it.effect("one millisecond over 2^31 - 1 is rejected, 2^31 - 1 itself is accepted", () =>
    Effect.gen(function* () {
      const { paths } = yield* decodeError(withDatabase({ gracePeriod: 2 ** 31 }))
      expect(paths).toEqual(["databases.0.gracePeriod"])
      const config = yield* MultiDbConfig.decode(withDatabase({ gracePeriod: 2 ** 31 - 1 }))
      expect(Duration.toMillis(config.databases[0].gracePeriod)).toBe(2 ** 31 - 1)
      expect(Duration.toMillis(MultiDbConfig.maximumDuration)).toBe(2 ** 31 - 1)
    })
  )

  it.effect("an infinite duration is rejected", () =>
    Effect.gen(function* () {
      const { paths } = yield* decodeError({ ...minimal, failoverDelay: Duration.infinity })
      expect(paths).toEqual(["failoverDelay"])
    })
  )
})

describe("secrets in the decoded config (issue 13)", () => {
  const urlSecret = "Url-pass-7f3a"
  const optionSecret = "Option-pass-91c2"
  const passphrase = "Key-passphrase-55e1"
  const input = {
    databases: [
      {
        id: "east",
        url: `redis://app:${urlSecret}@east:6379/2`,
        clientOptions: { password: optionSecret, socket: { passphrase } }
      },
      {
        id: "cluster",
        cluster: {
          rootNodes: [{ url: `redis://:${urlSecret}@n1:7000` }],
          options: { defaults: { password: optionSecret } }
        }
      }
    ]
  }
  const secrets = [urlSecret, optionSecret, passphrase]

  it.effect("passwords are Redacted and URLs masked in the decoded config", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.decode(input)
      const [east, cluster] = config.databases
      expect(east.url).toBe("redis://app:***@east:6379/2")
      const options = east.clientOptions as { password: unknown; socket: { passphrase: unknown } }
      expect(Redacted.isRedacted(options.password)).toBe(true)
      expect(Redacted.isRedacted(options.socket.passphrase)).toBe(true)
      expect(cluster!.cluster?.rootNodes[0]?.url).toBe("redis://:***@n1:7000")
      expect(
        Redacted.isRedacted((cluster!.cluster!.options as { defaults: { password: unknown } }).defaults.password)
      ).toBe(true)
    })
  )

  it.effect("printing, inspecting or serialising the decoded config shows no secret", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.decode(input)
      const shown = [String(config), JSON.stringify(config), inspect(config, { depth: 10 }), Inspectable.format(config)]
      for (const text of shown) for (const secret of secrets) expect(text).not.toContain(secret)
    })
  )

  it.effect("the connector still gets the real credentials", () =>
    Effect.gen(function* () {
      const config = yield* MultiDbConfig.decode(input)
      const [east, cluster] = config.databases
      expect(east.redisUrl).toBe(`redis://app:${urlSecret}@east:6379/2`)
      expect(east.redisOptions).toEqual({ password: optionSecret, socket: { passphrase } })
      expect(cluster!.clusterRootNodes).toEqual([{ url: `redis://:${urlSecret}@n1:7000` }])
      expect(cluster!.clusterOptions).toEqual({ defaults: { password: optionSecret } })
    })
  )

  it.effect("encoding a decoded database gives back the configured input", () =>
    Effect.gen(function* () {
      const database = yield* DatabaseConfig.decode(input.databases[0])
      const encoded = yield* Schema.encode(DatabaseConfig.FromInput)(database)
      expect(encoded).toMatchObject(input.databases[0]!)
    })
  )

  const leaky: ReadonlyArray<[string, unknown]> = [
    ["port 70000", { databases: [{ url: `redis://:${urlSecret}@a:70000` }] }],
    ["an http:// scheme", { databases: [{ url: `http://:${urlSecret}@a:1` }] }],
    ["an unbracketed IPv6 address", { databases: [{ url: `redis://:${urlSecret}@::1:6379` }] }],
    ["databases given as a string", { databases: `redis://:${urlSecret}@a:1` }],
    ["invalid cluster options", { databases: [{ cluster: { rootNodes: `redis://:${urlSecret}@a:1` } }] }],
    ["an invalid root node", { databases: [{ cluster: { rootNodes: [{ url: `redis://:${urlSecret}@a:99999` }] } }] }],
    [
      "a bad clientOptions url",
      { databases: [{ clientOptions: { url: `redis://:${urlSecret}@a:1/x`, password: optionSecret } }] }
    ],
    ["a path after the password", { databases: [{ url: `redis://:${urlSecret}@a:1/abc` }] }],
    ["an unknown key holding a URL", { databases: [{ url: "redis://a:1", uri: `redis://:${urlSecret}@a:1` }] }]
  ]
  for (const [name, bad] of leaky) {
    it.effect(`the ParseError for ${name} shows no password`, () =>
      Effect.gen(function* () {
        const error = yield* Effect.flip(MultiDbConfig.decode(bad))
        const shown = [
          error.message,
          String(error),
          JSON.stringify(error),
          inspect(error, { depth: 20 }),
          JSON.stringify(ParseResult.ArrayFormatter.formatErrorSync(error)),
          ParseResult.TreeFormatter.formatErrorSync(error)
        ]
        for (const text of shown) for (const secret of secrets) expect(text).not.toContain(secret)
      })
    )
  }
})

describe("MultiDbConfig.fromEnv is strict (issue 13)", () => {
  const provider = (entries: Record<string, string>) =>
    ConfigProvider.fromMap(new Map(Object.entries(entries)), { pathDelim: "_" })
  const envError = (entries: Record<string, string>) =>
    Effect.flip(MultiDbConfig.loadFromEnv.pipe(Effect.withConfigProvider(provider(entries)))).pipe(Effect.map(String))

  it.effect("weight=0x10 is not read as 16", () =>
    Effect.gen(function* () {
      const message = yield* envError({ MULTIDB_DATABASES: "redis://a:1 weight=0x10" })
      expect(message).toContain(
        'MULTIDB_DATABASES[0].weight: expected a decimal number ≥ 0 such as 1 or 0.5, got "0x10"'
      )
    })
  )

  it.effect('weight=1,5 names the weight, not a malformed URL "5"', () =>
    Effect.gen(function* () {
      const message = yield* envError({ MULTIDB_DATABASES: "redis://a:1 weight=1,5, redis://b:2" })
      expect(message).toContain(
        'MULTIDB_DATABASES[0].weight: expected a decimal number ≥ 0 such as 1 or 0.5, got "1,5"'
      )
    })
  )

  it.effect("numeric options take decimals only (MULTIDB_MIN_NUM_FAILURES=0x10)", () =>
    Effect.gen(function* () {
      const message = yield* envError({ MULTIDB_DATABASES: "redis://a:1", MULTIDB_MIN_NUM_FAILURES: "0x10" })
      expect(message).toContain('expected a decimal number, got "0x10"')
    })
  )

  it.effect("a misspelt per-database key names the nearest known one", () =>
    Effect.gen(function* () {
      const message = yield* envError({ MULTIDB_DATABASES: "redis://a:1 wieght=2" })
      expect(message).toContain('unknown key "wieght", did you mean "weight"?')
    })
  )

  it.effect("a bad port in MULTIDB_DATABASES shows no password", () =>
    Effect.gen(function* () {
      const message = yield* envError({ MULTIDB_DATABASES: "redis://:Env-secret-0a9@a:70000 id=a" })
      expect(message).toContain("databases[0].url")
      expect(message).not.toContain("Env-secret-0a9")
    })
  )

  it.effect("a malformed entry shows no password", () =>
    Effect.gen(function* () {
      const message = yield* envError({ MULTIDB_DATABASES: "redis://a:1 id=a x, redis://:Env-secret-0a9@b:1 junk" })
      expect(message).not.toContain("Env-secret-0a9")
    })
  )
})
