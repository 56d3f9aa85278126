/**
 * The configuration of one database: how to reach it, its weight, its grace period, its REST API.
 *
 * @since 0.1.0
 */
import { Duration, ParseResult, Schema } from "effect"
import type { RedisClientOptions, RedisClusterOptions } from "redis"
import { DurationInput, HttpUrl, OptionsObject, RedisUrl, Weight } from "./internal/schemas.js"

const ClusterOptions = Schema.Struct({
  rootNodes: Schema.Array(Schema.Struct({ url: RedisUrl })).pipe(Schema.minItems(1)),
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
 * A fully defaulted, validated database configuration.
 *
 * @since 0.1.0
 */
export class DatabaseConfig extends Schema.Class<DatabaseConfig>("DatabaseConfig")({
  /** Unique name used by events, errors and the runtime-management calls; defaults to `host:port`. */
  id: Schema.NonEmptyTrimmedString,
  ...fields
}) {
  /** node-redis client options, typed. */
  get redisOptions(): RedisClientOptions | undefined {
    return this.clientOptions as RedisClientOptions | undefined
  }
  /** node-redis cluster options, typed. */
  get clusterOptions(): Partial<RedisClusterOptions> | undefined {
    return this.cluster?.options as Partial<RedisClusterOptions> | undefined
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

const endpoints = (config: {
  readonly url?: string | undefined
  readonly clientOptions?: object | undefined
  readonly cluster?: { readonly rootNodes: ReadonlyArray<{ readonly url: string }> } | undefined
}): ReadonlyArray<Endpoint> => {
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

const Input = Schema.Struct({ id: Schema.optional(Schema.NonEmptyTrimmedString), ...fields }).pipe(
  Schema.filter((input) => {
    const sources = [input.url, input.clientOptions, input.cluster].filter((s) => s !== undefined).length
    if (input.cluster !== undefined && (input.url !== undefined || input.clientOptions !== undefined)) {
      return { path: ["cluster"], message: "a database is either a cluster or a standalone url / clientOptions" }
    }
    if (sources === 0) return { path: ["url"], message: "a database needs a url, clientOptions or cluster" }
    const urlOption = (input.clientOptions as { url?: unknown } | undefined)?.url
    if (urlOption !== undefined && Schema.is(RedisUrl)(urlOption) === false) {
      return { path: ["clientOptions", "url"], message: "expected a redis:// or rediss:// URL" }
    }
    return true
  })
)

/**
 * Decodes a plain database description (the encoded form) into a `DatabaseConfig`, filling `id` with `host:port` when
 * it is missing.
 *
 * @since 0.1.0
 */
export const FromInput = Schema.transformOrFail(Input, Schema.typeSchema(DatabaseConfig), {
  strict: true,
  decode: (input) => {
    const first = endpoints(input)[0]!
    return ParseResult.succeed(new DatabaseConfig({ ...input, id: input.id ?? `${first.host}:${first.port}` }))
  },
  encode: (config) => ParseResult.succeed({ ...config })
}).annotations({ identifier: "DatabaseConfig" })

/**
 * The plain form of a database configuration: what `MultiDbClient.addDatabase` and the `databases` list take.
 *
 * @since 0.1.0
 */
export type Input = Schema.Schema.Encoded<typeof FromInput>

/**
 * Decodes and validates a plain database description; fails with a `ParseError` naming the offending path.
 *
 * @since 0.1.0
 */
export const decode = Schema.decodeUnknown(FromInput)
