import { Clock, Deferred, Duration, Effect, Schedule, type Tracer } from "effect"
import type * as ErrorClassifier from "../ErrorClassifier.js"
import * as FailureCause from "../FailureCause.js"
import type { ExecuteOptions } from "../MultiDbClient.js"
import type { MultiDbConfig } from "../MultiDbConfig.js"
import {
  ClientClosed,
  type CommandError,
  RedisCommandError,
  RedisConnectionError,
  TransactionAborted
} from "../MultiDbError.js"
import type * as RedisConnection from "../RedisConnection.js"
import type { RedisClient } from "../RedisConnection.js"
import { CommandAbandonedError, CommandTimeoutError } from "./classify.js"
import type { Database } from "./database.js"
import type { Lifecycle } from "./lifecycle.js"
import type { Supervisor } from "./supervisor.js"
import * as Telemetry from "./telemetry.js"

/**
 * The executor: runs one call on the active database and turns its outcome into a result. One attempt reads the
 * active database, runs the call under the connection's deadline, classifies a failure and records the outcome on the
 * database; a connection failure is retried (on the Schedule, or at once when the active database changed since) as
 * far as it is safe. While no database is eligible an attempt waits for one, up to `availabilityTimeout`. Once the
 * client is closed, no attempt starts and no retry waits: the call ends with `ClientClosed`.
 */
export interface Executor {
  readonly execute: <A>(
    f: (client: RedisClient) => Promise<A>,
    options?: ExecuteOptions
  ) => Effect.Effect<A, CommandError>
  /** Like `execute`, on a connection of its own held for the whole call (WATCH transactions). */
  readonly executeIsolated: <A>(
    f: (client: RedisClient) => Promise<A>,
    options?: ExecuteOptions
  ) => Effect.Effect<A, CommandError>
  /**
   * Like `execute`, for a blocking command (BLPOP, XREAD BLOCK, WAIT…) on a connection kept for them: `block` is how
   * long it blocks (milliseconds; `Infinity` for ever).
   */
  readonly executeBlocking: <A>(
    f: (client: RedisClient) => Promise<A>,
    options: ExecuteOptions,
    block: number
  ) => Effect.Effect<A, CommandError>
  /** The retry Schedule of one command (also used to move subscriptions). */
  readonly retrySchedule: Schedule.Schedule<unknown, unknown>
}

/**
 * Where a call runs: `undefined` on the shared command connection, `"isolated"` on a connection of its own, a number
 * on a blocking connection (how long the command blocks, in milliseconds; `Infinity` for ever).
 */
type Lane = undefined | "isolated" | number

const runOnLane = <A>(connection: Database["connection"], f: (client: RedisClient) => Promise<A>, lane: Lane) =>
  lane === undefined
    ? connection.run(f)
    : lane === "isolated" || connection.runBlocking === undefined
      ? connection.runIsolated(f)
      : connection.runBlocking(f, lane)

/** Whether a call ran out its deadline: evidence that its database may hang. */
const isDeadlineMiss = (error: unknown) =>
  error instanceof CommandTimeoutError || (error as { _tag?: unknown } | null)?._tag === "InMemoryTimeout"

export const make = (
  config: MultiDbConfig,
  supervisor: Supervisor,
  classifier: ErrorClassifier.ErrorClassifier["Type"],
  telemetry: Telemetry.Telemetry = Telemetry.make(config.tracing, Clock.make()),
  lifecycle?: Pick<Lifecycle, "isClosed" | "closed">
): Executor => {
  const isClosed = lifecycle?.isClosed ?? (() => false)
  /** Completes when the client closes (never, without a lifecycle). */
  const whenClosed = lifecycle === undefined ? Effect.never : Deferred.await(lifecycle.closed)

  const retrySchedule = Schedule.exponential(config.commandRetry.base).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((delay) => Duration.min(delay, config.commandRetry.cap)),
    Schedule.intersect(Schedule.recurs(config.commandRetry.retries))
  )

  const onError = (
    database: Database,
    error: unknown,
    command: string,
    tracker: Telemetry.Tracker
  ): Effect.Effect<never, CommandError> => {
    if (error instanceof CommandAbandonedError) {
      // Settled because traffic left the database: not an outcome of the database, already judged.
      return Effect.fail(
        new RedisConnectionError({
          database: database.id,
          command,
          mayHaveExecuted: true,
          reason: error.message,
          failure: FailureCause.make("connection", error.message)
        })
      )
    }
    const classification = classifier.classify(error)
    switch (classification._tag) {
      case "UserError":
        // thrown by the caller's own code: not an outcome of the database, so nothing is recorded
        return Effect.die(error)
      case "Reply":
        return Effect.zipRight(
          database.recordReply,
          Effect.fail(
            new RedisCommandError({ database: database.id, command, reply: classification.reply, cause: error })
          )
        )
      case "WatchConflict":
        return Effect.zipRight(
          database.detector.record("success"),
          Effect.fail(new TransactionAborted({ database: database.id, watched: [] }))
        )
      case "Unavailable":
        if (isDeadlineMiss(error)) {
          supervisor.signals.unsafeOffer({ _tag: "Suspect", id: database.id, parent: tracker.span })
        }
        return Effect.zipRight(
          database.recordFailure(command, classification.reason, tracker.span),
          Effect.fail(
            new RedisConnectionError({
              database: database.id,
              command,
              mayHaveExecuted: classification.mayHaveExecuted,
              reason: FailureCause.mask(classification.reason),
              cause: error,
              failure: FailureCause.fromError(error)
            })
          )
        )
    }
  }

  /**
   * One operation (a command, a batch) and its attempts: its telemetry tracker, and the continuation of its current
   * attempt (`onSuccess` / `onFailure`, handed to the connection's `unsafeRun`). One object per operation: the hot path
   * allocates no closure per attempt, and none for retries, which are only built once an attempt has failed.
   */
  class Operation<A> implements Telemetry.Tracker, RedisConnection.Continuation<A, A, CommandError> {
    attempts = 0
    database: Telemetry.DatabaseTelemetry | undefined = undefined
    /** The database of the current attempt. */
    on: Database | undefined = undefined
    /** Whether the current attempt is the first (its failure goes to `recover`; a retry's to the retry loop). */
    first = true
    constructor(
      readonly f: (client: RedisClient) => Promise<A>,
      readonly command: string,
      readonly lane: Lane,
      /** Whether a failure that may have executed is retried too (a read, or `retryWrites`). */
      readonly retryAnything: boolean,
      readonly operation: Telemetry.Operation,
      readonly start: number,
      readonly span: Tracer.Span | undefined
    ) {}
    onSuccess(value: A): Effect.Effect<A, CommandError> {
      const database = this.on!
      const recordSuccess = database.recordSuccessSync
      if (recordSuccess === undefined) {
        return Effect.map(database.recordSuccess, () => {
          telemetry.succeeded(this)
          return value
        })
      }
      const end = telemetry.now()
      recordSuccess(end)
      telemetry.succeeded(this, end)
      return Effect.succeed(value)
    }
    onFailure(error: unknown): Effect.Effect<A, CommandError> {
      const failed = onError(this.on!, error, this.command, this)
      return this.first ? Effect.catchAll(failed, recover(this)) : failed
    }
  }

  /** The client is closed: the operation ends (the first attempt's failure ends it here, a retry's in its loop). */
  const closedFailure = (op: Operation<unknown>): Effect.Effect<never, CommandError> => {
    const closed = new ClientClosed({ operation: op.command })
    return op.first ? failOperation(op, closed) : Effect.fail(closed)
  }

  /** No eligible database: wait for one (bounded), then run on it or report the outage. */
  const waitAndRun = <A>(op: Operation<A>): Effect.Effect<A, CommandError> =>
    Effect.flatMap(
      Effect.raceFirst(supervisor.awaitAvailable(config.availabilityTimeout), Effect.as(whenClosed, false)),
      (available) => {
        if (isClosed()) return closedFailure(op)
        const database = available ? supervisor.current() : undefined
        if (database !== undefined) return runOn(database, op)
        return op.first ? Effect.catchAll(supervisor.unavailableError, recover(op)) : supervisor.unavailableError
      }
    )

  /** An attempt of `op` begins on `database`. */
  const begin = (database: Database, op: Operation<unknown>) => {
    telemetry.attempt(op, database.telemetry)
    op.on = database
  }

  /** Starts an attempt on a connection that has `unsafeRun`, resuming through the operation's continuation. */
  const startOn = <A>(
    database: Database,
    op: Operation<A>,
    resume: (effect: Effect.Effect<A, CommandError>) => void
  ) => {
    begin(database, op)
    database.connection.unsafeRun!(op.f, op, resume)
  }

  /** One attempt on `database` (a retry, a waiting command, a lane of its own, a connection without `unsafeRun`). */
  const runOn = <A>(database: Database, op: Operation<A>): Effect.Effect<A, CommandError> => {
    const connection = database.connection
    if (op.lane === undefined && connection.unsafeRun !== undefined) {
      return Effect.async<A, CommandError>((resume) => startOn(database, op, resume))
    }
    begin(database, op)
    return Effect.matchEffect(runOnLane(connection, op.f, op.lane), {
      onSuccess: (value) => op.onSuccess(value),
      onFailure: (error) => op.onFailure(error)
    })
  }

  /** One attempt on the database active now (or, when none is, on the first to become eligible). */
  const attemptNow = <A>(op: Operation<A>): Effect.Effect<A, CommandError> => {
    if (isClosed()) return closedFailure(op)
    const database = supervisor.current()
    return database === undefined ? waitAndRun(op) : runOn(database, op)
  }

  /** Ends an operation with its last error. */
  const failOperation = (tracker: Telemetry.Tracker, error: CommandError): Effect.Effect<never, CommandError> =>
    Effect.suspend(() => {
      telemetry.failed(tracker, error)
      return Effect.fail(error)
    })

  const retryable = (op: Operation<unknown>, error: CommandError): error is RedisConnectionError =>
    error._tag === "RedisConnectionError" && (op.retryAnything || !error.mayHaveExecuted)

  /**
   * What an operation does with its first failure: retries it as far as it is safe (on the Schedule, or at once when
   * the active database changed since), or ends it.
   */
  const recover =
    <A>(op: Operation<A>) =>
    (error: CommandError): Effect.Effect<A, CommandError> => {
      const tracker: Telemetry.Tracker = op
      if (!retryable(op, error)) return failOperation(tracker, error)
      return Effect.flatMap(Schedule.driver(retrySchedule), (driver) => {
        let retriesLeft = config.commandRetry.retries
        op.first = false
        const once = Effect.suspend(() => attemptNow(op))
        const next = (failure: CommandError): Effect.Effect<A, CommandError> =>
          retryable(op, failure) ? retry(failure) : failOperation(tracker, failure)
        const again = (last: RedisConnectionError) => {
          telemetry.retrying(tracker, last)
          return Effect.catchAll(once, next)
        }
        const retry = (last: RedisConnectionError): Effect.Effect<A, CommandError> => {
          if (isClosed()) return failOperation(tracker, new ClientClosed({ operation: op.command }))
          if (retriesLeft <= 0) return failOperation(tracker, last)
          retriesLeft--
          // Traffic moved since the failure: the backoff was for the old database, the new one is tried at once.
          const moved = supervisor.current()
          if (moved !== undefined && moved.id !== last.database) return again(last)
          // The backoff ends early when traffic moves to another database (the retry goes there at once) or when
          // the client closes (the attempt after it then fails with ClientClosed).
          return Effect.matchEffect(
            Effect.raceFirst(driver.next(last), Effect.raceFirst(supervisor.awaitSwitch, whenClosed)),
            {
              onFailure: () => failOperation(tracker, last),
              onSuccess: () => again(last)
            }
          )
        }
        return retry(error)
      })
    }

  /** Picks the active database and starts the operation's first attempt on its connection. */
  const start = <A>(op: Operation<A>, resume: (effect: Effect.Effect<A, CommandError>) => void) => {
    const database = op.lane === undefined && !isClosed() ? supervisor.current() : undefined
    // anything else (no database, closed, a lane of its own, a connection without `unsafeRun`): the effect path
    if (database?.connection.unsafeRun === undefined) resume(attemptNow(op))
    else startOn(database, op, resume)
  }

  const run = <A>(
    f: (client: RedisClient) => Promise<A>,
    options: ExecuteOptions | undefined,
    lane: Lane
  ): Effect.Effect<A, CommandError> => {
    const command = options?.command ?? "EXECUTE"
    const retryAnything = config.retryWrites || options?.readOnly === true
    const operation = telemetry.operation(command)
    // The hot path: one `Effect.async` per command. Its registration runs inside the caller's fiber, so it sees that
    // fiber's tracer: only when a span may be made does the operation go through `instrument`.
    return Effect.async<A, CommandError>((resume) => {
      if (telemetry.spannedHere()) {
        resume(
          telemetry.instrument(operation, (span) =>
            Effect.async<A, CommandError>((inner) =>
              start(new Operation(f, command, lane, retryAnything, operation, telemetry.now(), span), inner)
            )
          )
        )
      } else {
        start(new Operation(f, command, lane, retryAnything, operation, telemetry.now(), undefined), resume)
      }
    })
  }

  return {
    execute: (f, options) => run(f, options, undefined),
    executeIsolated: (f, options) => run(f, options, "isolated"),
    executeBlocking: (f, options, block) => run(f, options, block),
    retrySchedule
  }
}
