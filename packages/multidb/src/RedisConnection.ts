/**
 * The small connection interface the engine talks to: run a node-redis call on the command connection, ping on a
 * dedicated health connection, close. node-redis is adapted to it (`layer`); `InMemoryConnection` implements it for
 * `TestClock` tests.
 *
 * @since 0.1.0
 */
import { Context, type Duration, type Effect, Layer, type Scope } from "effect"
import type { RedisClientType } from "redis"
import type { DatabaseConfig } from "./DatabaseConfig.js"
import * as internal from "./internal/nodeRedis.js"

/**
 * The node-redis client handed to `MultiDbClient.execute`.
 *
 * @since 0.1.0
 * @category models
 */
export type RedisClient = RedisClientType

/**
 * The dedicated connection health checks use; never the command connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface HealthConnection {
  readonly ping: Effect.Effect<void, unknown>
  readonly run: <A>(f: (client: RedisClient) => Promise<A>) => Effect.Effect<A, unknown>
}

/**
 * How a call of `RedisConnection.unsafeRun` continues: with its result, or with node-redis' error (also a missed
 * deadline or an abandoned call). Called as methods of the object.
 *
 * @since 0.2.0
 * @category models
 */
export interface Continuation<A, B, E> {
  readonly onSuccess: (value: A) => Effect.Effect<B, E>
  readonly onFailure: (error: unknown) => Effect.Effect<B, E>
}

/**
 * One database's connections.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisConnection {
  readonly database: string
  /** Runs one node-redis call (a command or a batch) on the command connection. Errors are node-redis' own. */
  readonly run: <A>(f: (client: RedisClient) => Promise<A>) => Effect.Effect<A, unknown>
  /**
   * Starts a call on the command connection outside any effect, like `run`, and resumes exactly once with
   * `then.onSuccess` (its result) or `then.onFailure` (node-redis' error, a missed deadline, an abandoned call). The
   * engine's hot path runs a whole command in one `Effect.async` with it. Optional: without it the engine uses `run`.
   */
  readonly unsafeRun?: <A, B, E>(
    f: (client: RedisClient) => Promise<A>,
    then: Continuation<A, B, E>,
    resume: (effect: Effect.Effect<B, E>) => void
  ) => void
  /**
   * Runs a call on a connection of its own, held for the whole call (WATCH / MULTI / EXEC need one), closed after.
   */
  readonly runIsolated: <A>(f: (client: RedisClient) => Promise<A>) => Effect.Effect<A, unknown>
  /**
   * Runs a blocking command (BLPOP, XREAD BLOCK, WAIT…) on a connection of a bounded pool kept for them, never on the
   * shared connection. `blockMillis` is how long the command may block (`Infinity`: for ever); the deadline is that
   * plus the command timeout. Interrupting the call closes its connection. Connectors without it fall back to
   * `runIsolated`.
   */
  readonly runBlocking?: <A>(f: (client: RedisClient) => Promise<A>, blockMillis: number) => Effect.Effect<A, unknown>
  readonly health: HealthConnection
  /** Opens a dedicated pub/sub connection to the database, closed with the scope. */
  readonly subscriber: Effect.Effect<Subscriber, unknown, Scope.Scope>
  /**
   * Settles at once every call still waiting for a reply on the command connection, failing it with
   * `CommandAbandonedError` (the client gave up on the database). Optional: without it such calls run out their own
   * deadlines.
   */
  readonly abandon?: Effect.Effect<void>
}

/**
 * What a subscription listens to: channels (SUBSCRIBE), patterns (PSUBSCRIBE) or shard channels (SSUBSCRIBE).
 *
 * @since 0.1.0
 * @category models
 */
export type SubscriptionKind = "channel" | "pattern" | "shard"

/**
 * A pub/sub connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Subscriber {
  readonly subscribe: (
    kind: SubscriptionKind,
    name: string,
    listener: (message: string, channel: string) => void
  ) => Effect.Effect<void, unknown>
  readonly unsubscribe: (kind: SubscriptionKind, name: string) => Effect.Effect<void, unknown>
}

/**
 * What the engine tells a connector.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  readonly commandTimeout: Duration.Duration
  readonly connectTimeout: Duration.Duration
  /**
   * Called (from outside any fiber) when the command connection to the database is lost, or replaced because a
   * command on it missed its deadline.
   */
  readonly onConnectionLost: () => void
  /** How many connections blocking commands may use at once (default 8). */
  readonly blockingConnections?: number
}

/**
 * Opens the connections of a database; they close when the scope closes.
 *
 * @since 0.1.0
 * @category tags
 */
export class RedisConnector extends Context.Tag("@effect-redis/multidb/RedisConnector")<
  RedisConnector,
  {
    readonly connect: (
      config: DatabaseConfig,
      options: ConnectOptions
    ) => Effect.Effect<RedisConnection, never, Scope.Scope>
  }
>() {}

/**
 * The node-redis connector: a command client and a health client per database, both without an offline queue, with
 * a command timeout, and reconnecting in the background with capped exponential backoff.
 *
 * @since 0.1.0
 * @category constructors
 */
export const nodeRedis: Context.Tag.Service<RedisConnector> = { connect: internal.connect }

/**
 * The node-redis connector as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<RedisConnector> = Layer.succeed(RedisConnector, nodeRedis)
