/**
 * The client: one logical Redis over several weighted databases, with failure detection, health checks, failover and
 * fail-back.
 *
 * @since 0.1.0
 */
import {
  type Config,
  type ConfigError,
  Context,
  Effect,
  Layer,
  type Option,
  type ParseResult,
  type Scope,
  type Stream
} from "effect"
import type * as DatabaseConfig from "./DatabaseConfig.js"
import type { DatabaseInfo } from "./DatabaseInfo.js"
import type * as HealthCheck from "./HealthCheck.js"
import * as internal from "./internal/client.js"
import * as MultiDbConfig from "./MultiDbConfig.js"
import type {
  CommandError,
  DatabaseNotFound,
  InitialHealthCheckFailed,
  InvalidRequest,
  SubscriptionError,
  UnhealthyDatabase
} from "./MultiDbError.js"
import type { MultiDbEvent } from "./MultiDbEvent.js"
import * as RedisConnection from "./RedisConnection.js"

/**
 * How `execute` treats its call.
 *
 * @since 0.1.0
 */
export interface ExecuteOptions {
  /** The call only reads: it may be retried even when it may have run. */
  readonly readOnly?: boolean
  /** Name used in errors and events (default `EXECUTE`). */
  readonly command?: string
}

type AnyFunction = (...args: never) => unknown

/**
 * node-redis' command methods, each returning an `Effect` of the same reply type.
 *
 * @since 0.1.0
 */
export type Commands = {
  readonly [K in keyof RedisConnection.RedisClient as RedisConnection.RedisClient[K] extends AnyFunction
    ? K extends `${string}`
      ? K
      : never
    : never]: RedisConnection.RedisClient[K] extends (...args: infer P) => Promise<infer R>
    ? (...args: P) => Effect.Effect<R, CommandError>
    : never
}

/**
 * A pub/sub message, with the database it came from.
 *
 * @since 0.1.0
 */
export interface Message {
  readonly channel: string
  readonly message: string
  /** The pattern that matched, for `pSubscribe`. */
  readonly pattern?: string
  readonly database: string
}

/**
 * A node-redis MULTI / pipeline builder.
 *
 * @since 0.1.0
 */
export type Multi = ReturnType<RedisConnection.RedisClient["multi"]>

/**
 * What a pipeline or transaction builder returns: a node-redis MULTI with commands queued.
 *
 * @since 0.1.0
 */
export interface Batch {
  readonly execTyped: (execAsPipeline?: boolean) => Promise<unknown>
}

/**
 * The replies of a batch, typed by node-redis.
 *
 * @since 0.1.0
 */
export type BatchReplies<M extends Batch> = Awaited<ReturnType<M["execTyped"]>>

/**
 * The client service.
 *
 * @since 0.1.0
 */
export interface MultiDbClient {
  /** Runs one node-redis call on the active database, with failure detection, retry and failover. */
  readonly execute: <A>(
    f: (client: RedisConnection.RedisClient) => Promise<A>,
    options?: ExecuteOptions
  ) => Effect.Effect<A, CommandError>
  /** The usual Redis commands: `commands.get("k")`, `commands.hSet("h", "f", "v")`. */
  readonly commands: Commands
  /** A raw command: `sendCommand(["GET", "k"])`. */
  readonly sendCommand: (args: ReadonlyArray<string | Buffer>) => Effect.Effect<unknown, CommandError>
  /**
   * Sends a batch of commands together to the active database; replies typed as node-redis types them. On a
   * connection failure the whole batch is retried only when every command only reads, when it provably was not sent,
   * or with `retryWrites`.
   */
  readonly pipeline: <M extends Batch>(build: (pipeline: Multi) => M) => Effect.Effect<BatchReplies<M>, CommandError>
  /**
   * MULTI / EXEC on the active database, applied all or nothing. With `watch`, the keys are watched on a connection
   * of its own first; `build` may read through the `client` it is given (that same connection); a change to a watched
   * key fails with `TransactionAborted`.
   */
  readonly transaction: <M extends Batch>(
    build: (transaction: Multi, client: RedisConnection.RedisClient) => M | Promise<M>,
    options?: { readonly watch?: ReadonlyArray<string> }
  ) => Effect.Effect<BatchReplies<M>, CommandError>
  /**
   * Messages of the given channels. The subscription follows the active database across failovers (subscribed on
   * the new database first, then dropped on the old); messages published during the switch can be lost. Stopping
   * the stream unsubscribes.
   */
  readonly subscribe: (channels: ReadonlyArray<string>) => Stream.Stream<Message, SubscriptionError>
  /** Like `subscribe`, for PSUBSCRIBE patterns (`news.*`); `pattern` is set on each message. */
  readonly pSubscribe: (patterns: ReadonlyArray<string>) => Stream.Stream<Message, SubscriptionError>
  /** Like `subscribe`, for SSUBSCRIBE shard channels. */
  readonly sSubscribe: (shardChannels: ReadonlyArray<string>) => Stream.Stream<Message, SubscriptionError>
  /** Every event from the moment the stream starts. */
  readonly events: Stream.Stream<MultiDbEvent>
  /** The active database, or none while no database is available. */
  readonly activeDatabase: Effect.Effect<Option.Option<DatabaseInfo>>
  /** Every database. */
  readonly databases: Effect.Effect<ReadonlyArray<DatabaseInfo>>
  /** The id of the active database each time it changes (none while no database is available). */
  readonly activeChanges: Stream.Stream<Option.Option<string>>
  /** Health-checks the database, then makes it the active one (auto fallback may later move away from it). */
  readonly setActiveDatabase: (id: string) => Effect.Effect<void, DatabaseNotFound | UnhealthyDatabase>
  /** Adds a database (health-checked first unless `skipInitialHealthCheck`); it becomes active if it is the best. */
  readonly addDatabase: (
    config: DatabaseConfig.Input,
    options?: { readonly skipInitialHealthCheck?: boolean }
  ) => Effect.Effect<void, InvalidRequest | UnhealthyDatabase>
  /** Removes a database and closes its connections; traffic moves first if it was the active one. */
  readonly removeDatabase: (id: string) => Effect.Effect<void, DatabaseNotFound | InvalidRequest>
  /** Changes a database's weight; the active database follows if another is now preferred. */
  readonly updateDatabaseWeight: (id: string, weight: number) => Effect.Effect<void, DatabaseNotFound | InvalidRequest>
  /** Adds a health check to every database's checks. */
  readonly addHealthCheck: (check: HealthCheck.HealthCheck) => Effect.Effect<void, InvalidRequest>
  /** Runs the health checks of one database now and applies the result. */
  readonly checkHealth: (id: string) => Effect.Effect<void, DatabaseNotFound>
}

/**
 * The client service tag.
 *
 * @since 0.1.0
 */
export const MultiDbClient = Context.GenericTag<MultiDbClient>("@effect-redis/multidb/MultiDbClient")

/**
 * Builds a client in the current scope: connects, runs the initial health check, starts the supervisor, the health
 * checks and the fallback timer. Closing the scope stops every fiber and closes every connection.
 *
 * @since 0.1.0
 */
export const make = (
  config: MultiDbConfig.MultiDbConfig
): Effect.Effect<
  MultiDbClient,
  InitialHealthCheckFailed | InvalidRequest,
  Scope.Scope | RedisConnection.RedisConnector
> => internal.make(config)

/**
 * Decodes a plain configuration, then builds the client (`make`).
 *
 * @since 0.1.0
 */
export const fromInput = (
  input: MultiDbConfig.Input
): Effect.Effect<
  MultiDbClient,
  InitialHealthCheckFailed | InvalidRequest | ParseResult.ParseError,
  Scope.Scope | RedisConnection.RedisConnector
> => Effect.flatMap(MultiDbConfig.decode(input), make)

const connectorLayer = <E, R>(layer: Layer.Layer<MultiDbClient, E, R | RedisConnection.RedisConnector>) =>
  Layer.provide(
    layer,
    Layer.effect(
      RedisConnection.RedisConnector,
      Effect.serviceOption(RedisConnection.RedisConnector).pipe(
        Effect.map((existing) => (existing._tag === "Some" ? existing.value : RedisConnection.nodeRedis))
      )
    )
  )

/**
 * The client as a layer, from a plain or decoded configuration. Uses node-redis unless a `RedisConnector` is
 * provided (e.g. `InMemoryConnection.layer` in tests).
 *
 * @since 0.1.0
 */
export const layer = (
  config: MultiDbConfig.Input | MultiDbConfig.MultiDbConfig
): Layer.Layer<MultiDbClient, InitialHealthCheckFailed | InvalidRequest | ParseResult.ParseError> =>
  connectorLayer(
    Layer.scoped(
      MultiDbClient,
      config instanceof MultiDbConfig.MultiDbConfig ? make(config) : fromInput(config as MultiDbConfig.Input)
    )
  )

/**
 * The client as a layer, with its configuration read from an Effect `Config` (for example
 * `MultiDbConfig.fromEnv`, which reads `MULTIDB_*` environment variables).
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config<MultiDbConfig.Input>
): Layer.Layer<
  MultiDbClient,
  InitialHealthCheckFailed | InvalidRequest | ParseResult.ParseError | ConfigError.ConfigError
> => connectorLayer(Layer.scoped(MultiDbClient, Effect.flatMap(config, fromInput)))
