/**
 * The typed errors every `MultiDbClient` effect can fail with.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { FailureCause } from "./FailureCause.js"

/**
 * No database is healthy right now, but failover attempts are not exhausted: retry later.
 *
 * @since 0.1.0
 * @category errors
 */
export class TemporarilyUnavailable extends Data.TaggedError("TemporarilyUnavailable")<{
  readonly attempt: number
  readonly maxAttempts: number
}> {
  override get message() {
    return `No database is available right now (failover attempt ${this.attempt} of ${this.maxAttempts}); this is temporary, retry the operation`
  }
}

/**
 * No database has been healthy for every failover attempt.
 *
 * @since 0.1.0
 * @category errors
 */
export class NoValidDatabase extends Data.TaggedError("NoValidDatabase")<{
  readonly attempts: number
  readonly reason?: string
}> {
  override get message() {
    return this.reason ?? `No database is healthy after ${this.attempts} failover attempts`
  }
}

/**
 * Too few databases passed the health check when the client started.
 *
 * @since 0.1.0
 * @category errors
 */
export class InitialHealthCheckFailed extends Data.TaggedError("InitialHealthCheckFailed")<{
  readonly policy: "all" | "majority" | "one"
  readonly healthy: ReadonlyArray<string>
  readonly unhealthy: ReadonlyArray<string>
  /** Why each unhealthy database failed its check, by id. */
  readonly causes: Readonly<Record<string, FailureCause>>
}> {
  override get message() {
    const unhealthy = this.unhealthy.map((id) => {
      const cause = this.causes[id]
      return cause === undefined ? id : `${id} (${cause})`
    })
    return `Initial health check failed (policy "${this.policy}"): healthy [${this.healthy.join(", ")}], unhealthy [${unhealthy.join(", ")}]`
  }
}

/**
 * A database did not pass its health check when one was required (manual switch, added database).
 *
 * @since 0.1.0
 * @category errors
 */
export class UnhealthyDatabase extends Data.TaggedError("UnhealthyDatabase")<{
  readonly database: string
  readonly cause?: string
  /** Why, typed (`failure.kind`: auth, tls, dns, refused, timeout, ...). */
  readonly failure?: FailureCause
}> {
  override get message() {
    return `Database "${this.database}" is unhealthy${this.cause === undefined ? "" : `: ${this.cause}`}`
  }
}

/**
 * A runtime-management call named a database id the client does not know.
 *
 * @since 0.1.0
 * @category errors
 */
export class DatabaseNotFound extends Data.TaggedError("DatabaseNotFound")<{
  readonly database: string
  readonly known: ReadonlyArray<string>
}> {
  override get message() {
    return `No database with id "${this.database}" (known: ${this.known.join(", ") || "none"})`
  }
}

/**
 * A request the client rejects before sending anything: bad arguments, an unsupported command, a duplicate id.
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRequest extends Data.TaggedError("InvalidRequest")<{
  readonly reason: string
}> {
  override get message() {
    return this.reason
  }
}

/**
 * The server answered with an error reply (e.g. `WRONGTYPE`): the database is fine, the command is not.
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisCommandError extends Data.TaggedError("RedisCommandError")<{
  readonly database: string
  readonly command: string
  readonly reply: string
  readonly cause?: unknown
}> {
  override get message() {
    return `${this.command} on "${this.database}" failed: ${this.reply}`
  }
}

/**
 * The database could not be reached or did not answer in time. `mayHaveExecuted` tells whether the command could have
 * been applied (it was sent and no reply came back); when it is `false` the command provably never ran.
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisConnectionError extends Data.TaggedError("RedisConnectionError")<{
  readonly database: string
  readonly command: string
  readonly mayHaveExecuted: boolean
  readonly reason: string
  readonly cause?: unknown
  /** Why, typed (`failure.kind`: refused, timeout, connection, auth, tls, dns, ...), credentials masked. */
  readonly failure?: FailureCause
}> {
  override get message() {
    return `${this.command} on "${this.database}" failed (${this.mayHaveExecuted ? "it may have executed" : "it was not executed"}): ${this.reason}`
  }
}

/**
 * A watched key changed before `EXEC`: the transaction was not applied. Not a database failure.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransactionAborted extends Data.TaggedError("TransactionAborted")<{
  readonly database: string
  readonly watched: ReadonlyArray<string>
}> {
  override get message() {
    return `Transaction on "${this.database}" aborted: a watched key changed (${this.watched.join(", ")})`
  }
}

/**
 * The client's scope has closed: every call made after that (or still waiting when it closed) fails with this at once,
 * without retrying. Build a new client to go on.
 *
 * @since 0.2.0
 * @category errors
 */
export class ClientClosed extends Data.TaggedError("ClientClosed")<{
  /** What was called: `GET`, `subscribe`, `MultiDbClient.removeDatabase`, ... */
  readonly operation: string
}> {
  override get message() {
    return `${this.operation} failed: the MultiDbClient is closed (its scope has ended)`
  }
}

/**
 * A runtime-management change could not be confirmed: the background fiber that owns the active database failed while
 * applying it, or did not answer within the bound (`managementTimeout`). The call never waits longer; the change may
 * have been applied in part (`databases` shows the state).
 *
 * @since 0.2.0
 * @category errors
 */
export class ManagementFailed extends Data.TaggedError("ManagementFailed")<{
  readonly operation: string
  readonly reason: string
  readonly cause?: unknown
}> {
  override get message() {
    return `${this.operation} could not be completed: ${this.reason}`
  }
}

/**
 * Every error a `MultiDbClient` operation can fail with.
 *
 * @since 0.1.0
 * @category models
 */
export type MultiDbError =
  | TemporarilyUnavailable
  | NoValidDatabase
  | InitialHealthCheckFailed
  | UnhealthyDatabase
  | DatabaseNotFound
  | InvalidRequest
  | RedisCommandError
  | RedisConnectionError
  | TransactionAborted
  | ClientClosed
  | ManagementFailed

/**
 * What a command, `execute`, a pipeline or a transaction can fail with: no database to run it on, a rejected request,
 * an error reply, a connection failure, a WATCH conflict, or a closed client. Never a start-up or runtime-management
 * error.
 *
 * @since 0.1.0
 * @category models
 */
export type CommandError =
  | TemporarilyUnavailable
  | NoValidDatabase
  | InvalidRequest
  | RedisCommandError
  | RedisConnectionError
  | TransactionAborted
  | ClientClosed

/**
 * What a subscription stream can fail with: no database to subscribe on (when it starts, or after moving the
 * subscription to a new active database was retried for the whole failover budget), a rejected request, a connection
 * failure, or a closed client.
 *
 * @since 0.1.0
 * @category models
 */
export type SubscriptionError =
  | TemporarilyUnavailable
  | NoValidDatabase
  | InvalidRequest
  | RedisConnectionError
  | ClientClosed
