/**
 * The configuration of one database: how to reach it, its weight, its grace period, its REST API.
 *
 * @since 0.1.0
 */
import { Duration, Effect, ParseResult, Redacted, Schema } from "effect"
import type { RedisClientOptions, RedisClusterOptions } from "redis"
import { mask } from "./FailureCause.js"
import { simplify } from "./internal/configError.js"
import { DurationInput, HttpUrl, OptionsObject, RedisUrl, redisUrlProblem, Weight } from "./internal/schemas.js"

const ClusterOptions = Schema.Struct({
  rootNodes: Schema.Array(Schema.Struct({ url: RedisUrl })).pipe(
    Schema.minItems(1),
    Schema.annotations({ description: "a non-empty list of { url }" })
  ),
  options: Schema.optional(OptionsObject)
})

const fields = {
  /** `redis://` or `rediss://` URL of a standalone database. */
  url: Schema.optional(RedisUrl),
  /** node-redis `createClient` options (merged over `url`). */
  clientOptions: Schema.optional(OptionsObject),
  /** A Redis Cluster database: root nodes plus node-redis `createCluster` options. */
  cluster: Schema.optional(ClusterOptions),
  /** Higher is preferred; ties keep config order. */
  weight: Schema.optionalWith(Weight, { default: () => 1 }),
  /** How long an OPEN circuit stays OPEN, whatever health checks say. */
  gracePeriod: Schema.optionalWith(DurationInput, { default: () => Duration.seconds(60) }),
  /** Redis Software REST API base (`https://cluster.example.com`), for the lag-aware health check. */
  healthCheckUrl: Schema.optional(HttpUrl)
}

/**
 * How a database is reached, exactly as configured (credentials included).
 *
 * @since 0.2.0
 * @category models
 */
export interface Connection {
  readonly url?: string | undefined
  readonly clientOptions?: object | undefined
  readonly cluster?:
    | { readonly rootNodes: ReadonlyArray<{ readonly url: string }>; readonly options?: object | undefined }
    | undefined
}

/**
 * A fully defaulted, validated database configuration. Its `url`, `clientOptions` and `cluster` are shown with
 * credentials masked (passwords, key passphrases and private keys are `Redacted`), so the config can be logged; the
 * connector reads the real values through `redisUrl`, `redisOptions`, `clusterRootNodes` and `clusterOptions`.
 *
 * @since 0.1.0
 * @category models
 */
export class DatabaseConfig extends Schema.Class<DatabaseConfig>("DatabaseConfig")({
  /** Unique name used by events, errors and the runtime-management calls; defaults to `host:port`. */
  id: Schema.NonEmptyTrimmedString,
  ...fields,
  /** The connection fields as configured, credentials included. */
  connection: Schema.RedactedFromSelf(Schema.Any as Schema.Schema<Connection>)
}) {
  /** The standalone URL, credentials included. */
  get redisUrl(): string | undefined {
    return Redacted.value(this.connection).url
  }
  /** node-redis client options, typed, credentials included. */
  get redisOptions(): RedisClientOptions | undefined {
    return Redacted.value(this.connection).clientOptions as RedisClientOptions | undefined
  }
  /** The cluster's root-node URLs, credentials included. */
  get clusterRootNodes(): ReadonlyArray<{ readonly url: string }> {
    return Redacted.value(this.connection).cluster?.rootNodes ?? []
  }
  /** node-redis cluster options, typed, credentials included. */
  get clusterOptions(): Partial<RedisClusterOptions> | undefined {
    return Redacted.value(this.connection).cluster?.options as Partial<RedisClusterOptions> | undefined
  }
  /** The host names this database is reached at (every root node for a cluster). */
  get hosts(): ReadonlyArray<string> {
    return endpoints(this).map((e) => e.host)
  }
  /** Host and port of each address this database is reached at (every root node for a cluster). */
  get endpoints(): ReadonlyArray<{ readonly host: string; readonly port: number }> {
    return endpoints(this)
  }
}

interface Endpoint {
  readonly host: string
  readonly port: number
}

const fromUrl = (url: string): Endpoint => {
  const parsed = new URL(url)
  const host = parsed.hostname.replace(/^\[|\]$/g, "")
  return { host, port: parsed.port === "" ? 6379 : Number(parsed.port) }
}

const endpoints = (config: Connection): ReadonlyArray<Endpoint> => {
  if (config.cluster !== undefined) return config.cluster.rootNodes.map((node) => fromUrl(node.url))
  if (config.url !== undefined) return [fromUrl(config.url)]
  const options = (config.clientOptions ?? {}) as { url?: unknown; socket?: unknown }
  if (typeof options.url === "string") return [fromUrl(options.url)]
  const socket = (options.socket ?? {}) as { host?: unknown; port?: unknown }
  return [
    {
      host: typeof socket.host === "string" ? socket.host : "localhost",
      port: typeof socket.port === "number" ? socket.port : 6379
    }
  ]
}

const secretKeys = new Set(["password", "passphrase", "key", "pfx"])

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== "object" || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** A copy for display: secrets `Redacted`, URL credentials masked; anything but plain objects and lists kept as is. */
const redactSecrets = (value: unknown, depth = 0): unknown => {
  if (typeof value === "string") return mask(value)
  if (depth > 6) return value
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1))
  if (!isPlainObject(value)) return value
  const out: Record<string, unknown> = {}
  for (const [key, inner] of Object.entries(value)) {
    out[key] =
      secretKeys.has(key) && inner !== undefined && !Redacted.isRedacted(inner)
        ? Redacted.make(inner)
        : redactSecrets(inner, depth + 1)
  }
  return out
}

/** Why node-redis would refuse these client options (it throws where we want a typed error), or undefined. */
const socketProblem = (options: Record<string, unknown>, url: string | undefined): PathProblem | undefined => {
  const socket = options.socket
  if (socket === undefined) return undefined
  if (!isPlainObject(socket)) return problem(["clientOptions", "socket"], "expected an object")
  if (socket.host !== undefined && (typeof socket.host !== "string" || socket.host.trim() === "")) {
    return problem(["clientOptions", "socket", "host"], "expected a non-empty host name")
  }
  if (
    socket.port !== undefined &&
    (typeof socket.port !== "number" || !Number.isInteger(socket.port) || socket.port < 0 || socket.port > 65535)
  ) {
    return problem(["clientOptions", "socket", "port"], "expected a port number between 0 and 65535")
  }
  if (url !== undefined && socket.tls !== undefined && socket.tls !== url.startsWith("rediss:")) {
    return problem(
      ["clientOptions", "socket", "tls"],
      `tls: ${String(socket.tls)} contradicts the ${url.startsWith("rediss:") ? "rediss" : "redis"}:// URL`
    )
  }
  return undefined
}

interface PathProblem {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

const problem = (path: ReadonlyArray<PropertyKey>, message: string): PathProblem => ({ path, message })

const Input = Schema.Struct({ id: Schema.optional(Schema.NonEmptyTrimmedString), ...fields }).pipe(
  Schema.filter((input) => {
    const sources = [input.url, input.clientOptions, input.cluster].filter((s) => s !== undefined).length
    if (input.cluster !== undefined && (input.url !== undefined || input.clientOptions !== undefined)) {
      return { path: ["cluster"], message: "a database is either a cluster or a standalone url / clientOptions" }
    }
    if (sources === 0) return { path: ["url"], message: "a database needs a url, clientOptions or cluster" }
    if (input.clientOptions !== undefined) {
      const options = input.clientOptions as Record<string, unknown>
      const urlOption = options.url
      if (urlOption !== undefined) {
        const urlProblem = typeof urlOption === "string" ? redisUrlProblem(urlOption) : "expected a redis:// URL"
        if (urlProblem !== undefined) return problem(["clientOptions", "url"], urlProblem)
      }
      const effectiveUrl = input.url ?? (typeof urlOption === "string" ? urlOption : undefined)
      const bad = socketProblem(options, effectiveUrl)
      if (bad !== undefined) return bad
    }
    if (input.cluster?.options !== undefined) {
      const defaults = (input.cluster.options as { defaults?: unknown }).defaults
      if (defaults !== undefined && !isPlainObject(defaults)) {
        return problem(["cluster", "options", "defaults"], "expected an object")
      }
    }
    return true
  })
)

/**
 * Decodes a plain database description (the encoded form) into a `DatabaseConfig`, filling `id` with `host:port` when
 * it is missing.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FromInput = Schema.transformOrFail(Input, Schema.typeSchema(DatabaseConfig), {
  strict: true,
  decode: (input, _, ast) => {
    const first = endpoints(input)[0]!
    const id = input.id ?? `${first.host}:${first.port}`
    if (id.trim() !== id || id === "") {
      return ParseResult.fail(
        new ParseResult.Type(ast, undefined, `cannot name the database by its host: give it an id`)
      )
    }
    const connection: Connection = {
      ...(input.url === undefined ? {} : { url: input.url }),
      ...(input.clientOptions === undefined ? {} : { clientOptions: input.clientOptions }),
      ...(input.cluster === undefined ? {} : { cluster: input.cluster })
    }
    return ParseResult.try({
      try: () =>
        new DatabaseConfig({
          ...input,
          ...(redactSecrets(connection) as Connection as {}),
          id,
          connection: Redacted.make(connection)
        }),
      catch: (error) =>
        new ParseResult.Type(ast, undefined, `invalid database: ${mask(error instanceof Error ? error.message : "")}`)
    })
  },
  encode: ({ connection, ...config }) => {
    const { id, weight, gracePeriod, healthCheckUrl } = config
    return ParseResult.succeed({
      id,
      weight,
      gracePeriod,
      ...(healthCheckUrl === undefined ? {} : { healthCheckUrl }),
      ...(Redacted.value(connection) as Pick<typeof Input.Type, "url" | "clientOptions" | "cluster">)
    })
  }
}).annotations({ identifier: "DatabaseConfig" })

/**
 * The plain form of a database configuration: what `MultiDbClient.addDatabase` and the `databases` list take.
 *
 * @since 0.1.0
 * @category models
 */
export type Input = Schema.Schema.Encoded<typeof FromInput>

/**
 * Parse options of every configuration decode: all problems at once, and unknown keys are errors (a misspelt option
 * would otherwise be silently ignored).
 *
 * @since 0.2.0
 * @category decoding
 */
export const parseOptions = { errors: "all", onExcessProperty: "error" } as const

/**
 * Decodes and validates a plain database description. Fails with a `ParseError` whose message names each offending
 * path with a short reason (`weight: expected a number ≥ 0, got -1`); credentials never appear in it.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decode = (input: unknown): Effect.Effect<DatabaseConfig, ParseResult.ParseError> =>
  Schema.decodeUnknown(FromInput, parseOptions)(input).pipe(Effect.mapError(simplify))
