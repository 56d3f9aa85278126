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
import type { RedisClientType, TypeMapping } from "redis"
import type * as DatabaseConfig from "./DatabaseConfig.js"
import type { DatabaseInfo } from "./DatabaseInfo.js"
import type * as HealthCheck from "./HealthCheck.js"
import * as internal from "./internal/client.js"
import * as MultiDbConfig from "./MultiDbConfig.js"
import type {
  ClientClosed,
  CommandError,
  DatabaseNotFound,
  InitialHealthCheckFailed,
  InvalidRequest,
  ManagementFailed,
  SubscriptionError,
  UnhealthyDatabase
} from "./MultiDbError.js"
import type { MultiDbEvent } from "./MultiDbEvent.js"
import * as RedisConnection from "./RedisConnection.js"

/**
 * How `execute` treats its call.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExecuteOptions {
  /** The call only reads: it may be retried even when it may have run. */
  readonly readOnly?: boolean
  /** Name used in errors and events (default `EXECUTE`). */
  readonly command?: string
}

/**
 * Members of a node-redis client that are not data commands: lifecycle, connection state (MULTI / WATCH, SELECT,
 * SUBSCRIBE…, AUTH, HELLO, MONITOR, …), client variants. `Commands` leaves them out, and `commands` refuses them at
 * run time with `InvalidRequest` naming the alternative.
 *
 * @since 0.1.0
 * @category models
 */
export type NotDataCommand =
  | "connect"
  | "disconnect"
  | "quit"
  | "QUIT"
  | "close"
  | "destroy"
  | "reset"
  | "resetIfDirty"
  | "duplicate"
  | "createPool"
  | "select"
  | "SELECT"
  | "monitor"
  | "MONITOR"
  | "multi"
  | "MULTI"
  | "Multi"
  | "watch"
  | "WATCH"
  | "unwatch"
  | "UNWATCH"
  | "subscribe"
  | "SUBSCRIBE"
  | "unsubscribe"
  | "UNSUBSCRIBE"
  | "pSubscribe"
  | "PSUBSCRIBE"
  | "pUnsubscribe"
  | "PUNSUBSCRIBE"
  | "sSubscribe"
  | "SSUBSCRIBE"
  | "sUnsubscribe"
  | "SUNSUBSCRIBE"
  | "auth"
  | "AUTH"
  | "hello"
  | "HELLO"
  | "reAuthenticate"
  | "clientTracking"
  | "CLIENT_TRACKING"
  | "clientCaching"
  | "CLIENT_CACHING"
  | "readonly"
  | "READONLY"
  | "asking"
  | "ASKING"
  | "sendCommand"
  | "withTypeMapping"
  | "withCommandOptions"
  | "withAbortSignal"
  | "asap"
  | "legacy"

/**
 * node-redis' data command methods (of `Client`), each returning an `Effect` of the reply type node-redis gives it.
 *
 * @since 0.1.0
 * @category models
 */
export type Commands<Client = RedisConnection.RedisClient> = {
  readonly [K in keyof Client as K extends string
    ? K extends NotDataCommand | `_${string}`
      ? never
      : Client[K] extends (...args: never) => Promise<unknown>
        ? K
        : never
    : never]: Client[K] extends (...args: infer P) => Promise<infer R>
    ? (...args: P) => Effect.Effect<R, CommandError>
    : never
}

/**
 * The node-redis client type with a type mapping applied (`RESP_TYPES.BLOB_STRING` → `Buffer`, …).
 *
 * @since 0.1.0
 * @category models
 */
export type MappedClient<TM extends TypeMapping> =
  RedisConnection.RedisClient extends RedisClientType<{}, {}, {}, infer RESP, {}>
    ? RedisClientType<{}, {}, {}, RESP, TM>
    : never

/**
 * `commands` and `sendCommand` with replies decoded through a type mapping.
 *
 * @since 0.1.0
 * @category models
 */
export interface MappedCommands<TM extends TypeMapping> {
  readonly commands: Commands<MappedClient<TM>>
  readonly sendCommand: (args: ReadonlyArray<string | Buffer>) => Effect.Effect<unknown, CommandError>
}

/**
 * A pub/sub message, with the database it came from.
 *
 * @since 0.1.0
 * @category models
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
 * @category models
 */
export type Multi = ReturnType<RedisConnection.RedisClient["multi"]>

/**
 * What a pipeline or transaction builder returns: a node-redis MULTI with commands queued.
 *
 * @since 0.1.0
 * @category models
 */
export interface Batch {
  readonly execTyped: (execAsPipeline?: boolean) => Promise<unknown>
}

/**
 * The replies of a batch, typed by node-redis.
 *
 * @since 0.1.0
 * @category models
 */
export type BatchReplies<M extends Batch> = Awaited<ReturnType<M["execTyped"]>>

/**
 * The client service.
 *
 * @since 0.1.0
 * @category models
 */
export interface MultiDbClient {
  /**
   * Runs one node-redis call on the active database, with failure detection, retry and failover. The client handed
   * to `f` is the command connection every fiber shares, an escape hatch for what `commands` cannot express. Do not
   * change its state or lifecycle: no `select`, `multi` / `watch` (use `transaction`), `subscribe` (use `subscribe`),
   * `monitor`, `auth` / `hello` / `reset`, `CLIENT REPLY`, `quit` / `disconnect` / `destroy`; do not send blocking
   * commands through it (BLPOP, XREAD BLOCK, WAIT…: use `commands` or `sendCommand`, which run them on connections
   * of their own). A call that misses the command timeout takes the connection down with it (a fresh one replaces
   * it).
   */
  readonly execute: <A>(
    f: (client: RedisConnection.RedisClient) => Promise<A>,
    options?: ExecuteOptions
  ) => Effect.Effect<A, CommandError>
  /**
   * The data commands of node-redis: `commands.get("k")`, `commands.hSet("h", "f", "v")`. Blocking commands (BLPOP,
   * XREAD with BLOCK, WAIT…) run on a bounded pool of connections of their own, with the block added to their
   * deadline. Connection-state commands are not here (see `NotDataCommand`).
   */
  readonly commands: Commands
  /**
   * A raw command: `sendCommand(["GET", "k"])`. Connection-state commands (MULTI, WATCH, SELECT, SUBSCRIBE, RESET,
   * AUTH, HELLO, CLIENT REPLY, MONITOR, QUIT…) fail with `InvalidRequest`; blocking ones run as in `commands`.
   */
  readonly sendCommand: (args: ReadonlyArray<string | Buffer>) => Effect.Effect<unknown, CommandError>
  /**
   * `commands` and `sendCommand` whose replies are decoded through a node-redis type mapping, typed accordingly:
   * `withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }).commands.get("k")` gives a `Buffer`.
   */
  readonly withTypeMapping: <const TM extends TypeMapping>(typeMapping: TM) => MappedCommands<TM>
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
  /** Every event from the moment the stream starts; it ends when the client closes. */
  readonly events: Stream.Stream<MultiDbEvent>
  /** The active database, or none while no database is available. */
  readonly activeDatabase: Effect.Effect<Option.Option<DatabaseInfo>, ClientClosed>
  /** Every database. */
  readonly databases: Effect.Effect<ReadonlyArray<DatabaseInfo>, ClientClosed>
  /** The id of the active database each time it changes (none while no database is available); ends when the client closes. */
  readonly activeChanges: Stream.Stream<Option.Option<string>>
  /**
   * Health-checks the database, then makes it the active one (auto fallback may later move away from it).
   * `ManagementFailed` if the switch could not be confirmed (never a wait without bound).
   */
  readonly setActiveDatabase: (
    id: string
  ) => Effect.Effect<void, DatabaseNotFound | UnhealthyDatabase | ManagementFailed | ClientClosed>
  /**
   * Adds a database (health-checked first unless `skipInitialHealthCheck`); it becomes active if it is the best. A call
   * that fails or is interrupted before the database is added leaves nothing open.
   */
  readonly addDatabase: (
    config: DatabaseConfig.Input,
    options?: { readonly skipInitialHealthCheck?: boolean }
  ) => Effect.Effect<void, InvalidRequest | UnhealthyDatabase | ManagementFailed | ClientClosed>
  /**
   * Removes a database and closes its connections; traffic moves first if it was the active one. Calls still running
   * on it end with a typed error (a read is retried on the new active database), never an interruption.
   */
  readonly removeDatabase: (
    id: string
  ) => Effect.Effect<void, DatabaseNotFound | InvalidRequest | ManagementFailed | ClientClosed>
  /** Changes a database's weight; the active database follows if another is now preferred. */
  readonly updateDatabaseWeight: (
    id: string,
    weight: number
  ) => Effect.Effect<void, DatabaseNotFound | InvalidRequest | ManagementFailed | ClientClosed>
  /** Adds a health check to every database's checks. */
  readonly addHealthCheck: (check: HealthCheck.HealthCheck) => Effect.Effect<void, InvalidRequest | ClientClosed>
  /**
   * Runs the health checks of one database now and applies the result; a check of it already running is awaited and
   * its result applied instead. `DatabaseNotFound` if the database is removed before the check ends.
   */
  readonly checkHealth: (id: string) => Effect.Effect<void, DatabaseNotFound | ClientClosed>
}

/**
 * The client service tag.
 *
 * @since 0.1.0
 * @category tags
 */
export const MultiDbClient = Context.GenericTag<MultiDbClient>("@effect-redis/multidb/MultiDbClient")

/**
 * Builds a client in the current scope: connects, runs the initial health check, starts the supervisor, the health
 * checks and the fallback timer. Closing the scope stops every fiber and closes every connection; from then on every
 * call fails at once with `ClientClosed` (calls still waiting end with it too, subscription streams fail with it, and
 * `events` / `activeChanges` end).
 *
 * @since 0.1.0
 * @category constructors
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
 * @category constructors
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
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { MultiDbClient } from "@effect-redis/multidb"
 *
 * const RedisLive = MultiDbClient.layer({
 *   databases: [
 *     { id: "east", url: "redis://east.example.com:6379", weight: 1 },
 *     { id: "west", url: "redis://west.example.com:6379", weight: 0.5 }
 *   ]
 * })
 *
 * const program = Effect.gen(function* () {
 *   const redis = yield* MultiDbClient.MultiDbClient
 *   yield* redis.commands.set("greeting", "hello")
 *   return yield* redis.commands.get("greeting")
 * })
 *
 * Effect.runPromise(program.pipe(Effect.provide(RedisLive)))
 * ```
 *
 * @since 0.1.0
 * @category layers
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
 * @category layers
 */
export const layerConfig = (
  config: Config.Config<MultiDbConfig.Input>
): Layer.Layer<
  MultiDbClient,
  InitialHealthCheckFailed | InvalidRequest | ParseResult.ParseError | ConfigError.ConfigError
> => connectorLayer(Layer.scoped(MultiDbClient, Effect.flatMap(config, fromInput)))
