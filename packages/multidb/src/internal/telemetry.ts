/**
 * Spans, metrics and logs of a client, in one place: the engine calls these hooks and knows nothing of attribute
 * names. Spans follow OpenTelemetry's database semantic conventions; with `tracing: false` no span is made at all
 * (the hot path does not even enter `Effect.useSpan`), while metrics are always recorded.
 */
import {
  type Clock,
  Context,
  DefaultServices,
  Effect,
  Exit,
  Fiber,
  Metric,
  MetricKey,
  MetricLabel,
  Option,
  Tracer
} from "effect"
import type * as CircuitBreaker from "../CircuitBreaker.js"
import type * as DatabaseConfig from "../DatabaseConfig.js"
import type * as HealthCheck from "../HealthCheck.js"
import type { MultiDbError } from "../MultiDbError.js"
import type * as MultiDbEvent from "../MultiDbEvent.js"
import * as Metrics from "../MultiDbMetrics.js"
import { parseCall } from "./commands.js"
import * as FastPath from "./fastPath.js"

// ---- names ---------------------------------------------------------------------------------------------------------

/** Attribute names: OpenTelemetry's where one exists, the library's own under `multidb.`. */
export const Attr = {
  system: "db.system.name",
  operation: "db.operation.name",
  namespace: "db.namespace",
  address: "server.address",
  port: "server.port",
  errorType: "error.type",
  statusCode: "db.response.status_code",
  batchSize: "db.operation.batch.size",
  queryText: "db.query.text",
  database: "multidb.database",
  attempts: "multidb.attempts",
  attempt: "multidb.attempt",
  from: "multidb.from",
  to: "multidb.to",
  reason: "multidb.reason",
  cause: "multidb.cause",
  causeKind: "multidb.cause.kind",
  healthy: "multidb.healthy",
  circuitFrom: "multidb.circuit.from",
  circuitTo: "multidb.circuit.to",
  outcome: "multidb.outcome",
  unit: "unit"
} as const

/** Span names of the library's own work (commands are named by their operation). */
export const SpanName = {
  healthCheck: "MultiDbClient.healthCheck",
  failover: "MultiDbClient.failover",
  failback: "MultiDbClient.failback",
  switch: "MultiDbClient.switch"
} as const

/** Span event names. */
export const EventName = {
  retry: "multidb.retry",
  circuitChanged: "multidb.circuit_state_changed",
  detectorTripped: "multidb.detector_tripped",
  unavailable: "multidb.all_databases_unavailable"
} as const

// ---- options -------------------------------------------------------------------------------------------------------

/** What the client's `tracing` option decodes to. */
export type TracingOption = boolean | { readonly keys?: boolean | undefined }

/** The resolved tracing options. */
export interface TracingOptions {
  /** Spans for operations, health checks and switches. */
  readonly spans: boolean
  /** Record the keys of a command (as `db.query.text`, every other argument as `?`). */
  readonly keys: boolean
}

export const tracingOptions = (option: TracingOption | undefined): TracingOptions =>
  option === undefined || option === true
    ? { spans: true, keys: false }
    : option === false
      ? { spans: false, keys: false }
      : { spans: true, keys: option.keys === true }

// ---- databases -----------------------------------------------------------------------------------------------------

/** Where a database is reached, as the conventions name it. */
export interface Endpoint {
  readonly address: string
  readonly port: number
  /** The database index, as a string (`"0"` unless the URL or the options select another). */
  readonly namespace: string
}

const parseUrl = (url: string): Endpoint | undefined => {
  try {
    const parsed = new URL(url)
    const index = parsed.pathname.replace(/^\//, "")
    return {
      address: parsed.hostname.replace(/^\[|\]$/g, ""),
      port: parsed.port === "" ? 6379 : Number(parsed.port),
      namespace: /^\d+$/.test(index) ? String(Number(index)) : "0"
    }
  } catch {
    return undefined
  }
}

/** The endpoint of a database (the first root node of a cluster). Never includes credentials. */
export const endpointOf = (config: DatabaseConfig.DatabaseConfig): Endpoint => {
  const fallback: Endpoint = { address: "localhost", port: 6379, namespace: "0" }
  if (config.cluster !== undefined) {
    const first = config.cluster.rootNodes[0]
    return { ...(first === undefined ? fallback : (parseUrl(first.url) ?? fallback)), namespace: "0" }
  }
  const options = (config.clientOptions ?? {}) as { url?: unknown; socket?: unknown; database?: unknown }
  const url = config.url ?? (typeof options.url === "string" ? options.url : undefined)
  const fromUrl = url === undefined ? undefined : parseUrl(url)
  const socket = (options.socket ?? {}) as { host?: unknown; port?: unknown }
  const base: Endpoint = fromUrl ?? {
    address: typeof socket.host === "string" ? socket.host : fallback.address,
    port: typeof socket.port === "number" ? socket.port : fallback.port,
    namespace: "0"
  }
  return typeof options.database === "number" ? { ...base, namespace: String(options.database) } : base
}

/** The telemetry of one database: its attributes, and its duration histograms cached per operation and outcome. */
export interface DatabaseTelemetry {
  readonly id: string
  readonly endpoint: Endpoint
  /** Span attributes naming the database (server, namespace, id). */
  readonly attributes: Readonly<Record<string, string | number>>
  /** Histogram per `operation`, `operation\0errorType\0statusCode`. */
  readonly durations: Map<string, Metric.Metric.Histogram<number>>
}

export const databaseTelemetry = (config: DatabaseConfig.DatabaseConfig): DatabaseTelemetry => {
  const endpoint = endpointOf(config)
  return {
    id: config.id,
    endpoint,
    attributes: {
      [Attr.address]: endpoint.address,
      [Attr.port]: endpoint.port,
      [Attr.namespace]: endpoint.namespace,
      [Attr.database]: config.id
    },
    durations: new Map()
  }
}

const durationMetric = (
  database: DatabaseTelemetry | undefined,
  operation: string,
  errorType: string | undefined,
  statusCode: string | undefined
): Metric.Metric.Histogram<number> => {
  const labels = [
    MetricLabel.make(Attr.system, "redis"),
    MetricLabel.make(Attr.operation, operation),
    MetricLabel.make(Attr.unit, "s")
  ]
  if (database !== undefined) {
    labels.push(
      MetricLabel.make(Attr.namespace, database.endpoint.namespace),
      MetricLabel.make(Attr.address, database.endpoint.address),
      MetricLabel.make(Attr.port, String(database.endpoint.port)),
      MetricLabel.make(Attr.database, database.id)
    )
  }
  if (errorType !== undefined) labels.push(MetricLabel.make(Attr.errorType, errorType))
  if (statusCode !== undefined) labels.push(MetricLabel.make(Attr.statusCode, statusCode))
  // Tags baked into the key: `Metric.tagged` would rebuild the key and look it up in the registry on every update.
  return Metric.fromMetricKey(MetricKey.taggedWithLabels(Metrics.operationDurationKey, labels))
}

const cachedDuration = (
  noDatabase: Map<string, Metric.Metric.Histogram<number>>,
  database: DatabaseTelemetry | undefined,
  operation: string,
  errorType: string | undefined,
  statusCode: string | undefined
) => {
  const cache = database === undefined ? noDatabase : database.durations
  const key = errorType === undefined ? operation : `${operation}\u0000${errorType}\u0000${statusCode ?? ""}`
  let metric = cache.get(key)
  if (metric === undefined) {
    metric = durationMetric(database, operation, errorType, statusCode)
    cache.set(key, metric)
  }
  return metric
}

// ---- errors --------------------------------------------------------------------------------------------------------

/** `error.type` and `db.response.status_code` of a failed operation: the reply's prefix for an error reply. */
export const errorAttributes = (
  error: MultiDbError
): { readonly errorType: string; readonly statusCode: string | undefined } => {
  if (error._tag === "RedisCommandError") {
    const code = /^[A-Z][A-Z0-9_-]*/.exec(error.reply)?.[0] ?? "ERR"
    return { errorType: code, statusCode: code }
  }
  return { errorType: error._tag, statusCode: undefined }
}

/** A cause (a string, or a typed `{ kind, message }`) as span attributes. */
export const causeAttributes = (cause: unknown): Record<string, string> => {
  if (cause === undefined || cause === null) return {}
  if (typeof cause === "string") return { [Attr.cause]: cause }
  if (typeof cause === "object") {
    const { kind, message } = cause as { kind?: unknown; message?: unknown }
    return {
      ...(typeof message === "string" ? { [Attr.cause]: message } : {}),
      ...(typeof kind === "string" ? { [Attr.causeKind]: kind } : {})
    }
  }
  return { [Attr.cause]: String(cause) }
}

// ---- keys ----------------------------------------------------------------------------------------------------------

const argumentText = (value: unknown) => (Buffer.isBuffer(value) ? value.toString("utf8") : String(value))

/**
 * The `db.query.text` of a `commands.<method>(...args)` call with its keys shown and every other argument as `?`
 * (`SET user:1 ?`), or undefined when the command is not one node-redis describes.
 */
export const queryText = (method: string, args: ReadonlyArray<unknown>): string | undefined => {
  const parsed = parseCall(method, args)
  if (parsed === undefined) return undefined
  const keys = new Set(parsed.keys.map(argumentText))
  return parsed.redisArgs
    .map((word, i) => (i === 0 || keys.has(argumentText(word)) ? argumentText(word) : "?"))
    .join(" ")
}

// ---- operations ----------------------------------------------------------------------------------------------------

/** A kind of operation: its name and the span options made once for it. */
export interface Operation {
  readonly name: string
  readonly spanOptions: Tracer.SpanOptions
  /** The success histogram last used for this operation, and its database: steady traffic skips the lookup. */
  lastDatabase?: DatabaseTelemetry | undefined
  lastSuccess?: Metric.Metric.Histogram<number> | undefined
}

/** One operation in flight: when it started, its attempts, the database of the last attempt and its span. */
export interface Tracker {
  readonly operation: Operation
  /** Start time in milliseconds (fractional), on the clock of `make`. */
  readonly start: number
  attempts: number
  database: DatabaseTelemetry | undefined
  readonly span: Tracer.Span | undefined
}

/** The operation name of an engine command label: `PIPELINE(GET,SET)` is a `PIPELINE` of 2. */
export const parseCommandLabel = (label: string): { readonly name: string; readonly batchSize: number | undefined } => {
  const open = label.indexOf("(")
  if (open < 0 || !label.endsWith(")")) return { name: label, batchSize: undefined }
  const inner = label.slice(open + 1, -1)
  return { name: label.slice(0, open), batchSize: inner === "" ? 0 : inner.split(",").length }
}

/** The per-client telemetry hooks. */
export interface Telemetry {
  readonly options: TracingOptions
  /** The operation of an engine command label (cached). */
  readonly operation: (label: string) => Operation
  /** `db.query.text` of a `commands.<method>(...args)` call (keys only), when keys are recorded. */
  readonly queryText: (method: string, args: ReadonlyArray<unknown>) => string | undefined
  /**
   * Runs one operation in a client span, for an operation that `spannedHere` says gets one. The body makes the
   * operation's `Tracker` (started at `now()`, with that span) and reports its attempts through `attempt` /
   * `retrying` and its outcome through `succeeded` / `failed` (which record the duration histogram).
   */
  readonly instrument: <A, E>(
    operation: Operation,
    body: (span: Tracer.Span | undefined) => Effect.Effect<A, E>
  ) => Effect.Effect<A, E>
  /**
   * Whether an operation started now, synchronously inside a fiber (an `Effect.async` registration), gets a span:
   * spans are on and that fiber's tracer is not Effect's built-in one (which keeps none, so with it no span is made).
   * Lets the hot path decide without a step of its own; only then does it go through `instrument`.
   */
  readonly spannedHere: () => boolean
  /** The time, in milliseconds (fractional), that trackers start at. */
  readonly now: () => number
  /** An attempt starts on `database`. */
  readonly attempt: (tracker: Tracker, database: DatabaseTelemetry) => void
  /** The last attempt failed with a retryable error and will be retried. */
  readonly retrying: (tracker: Tracker, error: MultiDbError) => void
  /** The operation succeeded (`end`: when, from `now()`; read when not given). */
  readonly succeeded: (tracker: Tracker, end?: number) => void
  /** The operation failed for good. */
  readonly failed: (tracker: Tracker, error: MultiDbError) => void
  /** A span for a management call (none when tracing is off). */
  readonly span: (name: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * One health check of a database: span, duration histogram, debug log when unhealthy. `parent`: the span that
   * caused it, `"current"` for the caller's, none for a root span (a scheduled round).
   */
  readonly healthCheck: <E, R>(
    database: DatabaseTelemetry,
    check: Effect.Effect<HealthCheck.Result, E, R>,
    parent: Tracer.AnySpan | "current" | undefined
  ) => Effect.Effect<HealthCheck.Result, E, R>
  /** A switch of the active database: span, counter, log. `cause` says why the old database was left. */
  readonly switched: <E, R>(
    change: {
      readonly from: string | undefined
      readonly to: string
      readonly reason: MultiDbEvent.SwitchReason
      readonly cause?: unknown
      /** The span of the work that caused the switch; none: a root span. */
      readonly parent?: Tracer.AnySpan | undefined
    },
    effect: Effect.Effect<void, E, R>
  ) => Effect.Effect<void, E, R>
  /** A circuit changed state: gauge and log. */
  readonly circuitChanged: (
    database: string,
    from: CircuitBreaker.CircuitState,
    to: CircuitBreaker.CircuitState
  ) => Effect.Effect<void>
  /** A circuit is being changed by the work of `span` (a check, a failed command): an event on that span. */
  readonly circuitEvent: (
    span: Tracer.AnySpan | undefined,
    database: string,
    from: CircuitBreaker.CircuitState,
    to: CircuitBreaker.CircuitState
  ) => void
  /** A failure detector tripped during the work of `span`: counter, log, event on the span. */
  readonly detectorTripped: (database: DatabaseTelemetry, span: Tracer.AnySpan | undefined) => Effect.Effect<void>
  /** No database is available (attempt `attempt` of `maxAttempts`): gauge, log, event on `span`. */
  readonly unavailable: (attempt: number, maxAttempts: number, span?: Tracer.AnySpan) => Effect.Effect<void>
  /** A database is active again after `seconds` without one: counter, gauge, log. */
  readonly available: (database: string, seconds: number) => Effect.Effect<void>
  /** The current span, to hand to work done elsewhere (always none when tracing is off). */
  readonly currentSpan: Effect.Effect<Tracer.AnySpan | undefined>
}

const circuitGaugeValue = { closed: 0, "half-open": 1, open: 2 } as const

/** The extra tags of a metric update: one shared empty array (a fresh one would miss Effect's per-array hook cache). */
const noTags: Array<MetricLabel.MetricLabel> = []

/**
 * The tracer of a fiber. Effect's fiber runtime keeps it in `currentTracer` (refreshed whenever its services change);
 * reading that field costs a tenth of a microsecond less per command than looking it up in the fiber's services,
 * which remain the fallback.
 */
const tracerOf = (fiber: Fiber.RuntimeFiber<unknown, unknown>): Tracer.Tracer =>
  (fiber as { readonly currentTracer?: Tracer.Tracer }).currentTracer ??
  Context.get(fiber.getFiberRef(DefaultServices.currentServices), Tracer.Tracer)

/** Effect's default tracer, which records nothing anywhere: the tracer when no tracing layer is provided. */
const builtInTracer = Context.get(DefaultServices.liveServices, Tracer.Tracer)

/** The `db.query.text` of the command being run (its keys), set around it when the client records keys. */
export class QueryText extends Context.Reference<QueryText>()("@effect-redis/multidb/internal/QueryText", {
  defaultValue: (): string | undefined => undefined
}) {}

/**
 * The span of the work that asked for a health check (a failed command): the check's span becomes its child. Set by
 * the supervisor around `startCheck`; unset (a scheduled round, a grace period's end) the check starts a new trace.
 */
export class CheckParent extends Context.Reference<CheckParent>()("@effect-redis/multidb/internal/CheckParent", {
  defaultValue: (): Tracer.AnySpan | undefined => undefined
}) {}

export const make = (option: TracingOption | undefined, clock: Clock.Clock): Telemetry => {
  const options = tracingOptions(option)
  const operations = new Map<string, Operation>()
  /** Histograms of operations that found no database (no database attributes). */
  const noDatabase = new Map<string, Metric.Metric.Histogram<number>>()
  /** node-redis' command descriptions, loaded once when keys are recorded. */

  const operation = (label: string): Operation => {
    let op = operations.get(label)
    if (op === undefined) {
      const { name, batchSize } = parseCommandLabel(label)
      op = {
        name,
        spanOptions: {
          kind: "client",
          captureStackTrace: false,
          attributes: {
            [Attr.system]: "redis",
            [Attr.operation]: name,
            ...(batchSize === undefined ? {} : { [Attr.batchSize]: batchSize })
          }
        }
      }
      operations.set(label, op)
    }
    return op
  }

  // Durations: milliseconds on the client's clock (`FastPath.millisOf`); the end of a successful command is also when
  // the failure detector records it.
  const now = FastPath.millisOf(clock)
  const seconds = (tracker: Tracker, end = now()) => (end - tracker.start) / 1000

  const attempt = (tracker: Tracker, database: DatabaseTelemetry) => {
    tracker.attempts++
    tracker.database = database
    const span = tracker.span
    if (span !== undefined) {
      for (const key in database.attributes) span.attribute(key, database.attributes[key])
    }
  }

  const retrying = (tracker: Tracker, error: MultiDbError) => {
    const span = tracker.span
    if (span === undefined) return
    const { errorType } = errorAttributes(error)
    span.event(EventName.retry, clock.unsafeCurrentTimeNanos(), {
      [Attr.attempt]: tracker.attempts,
      [Attr.errorType]: errorType,
      ...(tracker.database === undefined ? {} : { [Attr.database]: tracker.database.id })
    })
  }

  const succeeded = (tracker: Tracker, end?: number) => {
    const op = tracker.operation
    let histogram = op.lastSuccess
    if (histogram === undefined || op.lastDatabase !== tracker.database) {
      histogram = cachedDuration(noDatabase, tracker.database, op.name, undefined, undefined)
      op.lastSuccess = histogram
      op.lastDatabase = tracker.database
    }
    histogram.unsafeUpdate(seconds(tracker, end), noTags)
    if (tracker.span !== undefined) tracker.span.attribute(Attr.attempts, tracker.attempts)
  }

  const failed = (tracker: Tracker, error: MultiDbError) => {
    const { errorType, statusCode } = errorAttributes(error)
    cachedDuration(noDatabase, tracker.database, tracker.operation.name, errorType, statusCode).unsafeUpdate(
      seconds(tracker),
      noTags
    )
    const span = tracker.span
    if (span !== undefined) {
      span.attribute(Attr.attempts, tracker.attempts)
      span.attribute(Attr.errorType, errorType)
      if (statusCode !== undefined) span.attribute(Attr.statusCode, statusCode)
    }
  }

  // Whether to make a span at all is `spannedHere`'s decision, taken where the operation starts.
  const instrument: Telemetry["instrument"] = options.keys
    ? (op, body) =>
        Effect.useSpan(op.name, op.spanOptions, (span) =>
          Effect.flatMap(QueryText, (query) => {
            if (query !== undefined) span.attribute(Attr.queryText, query)
            return body(span)
          })
        )
    : (op, body) => Effect.useSpan(op.name, op.spanOptions, body)

  const spannedHere = options.spans
    ? () => {
        const fiber = Option.getOrUndefined(Fiber.getCurrentFiber())
        return fiber === undefined || tracerOf(fiber) !== builtInTracer
      }
    : () => false

  const span: Telemetry["span"] = options.spans
    ? (name) => (effect) => Effect.withSpan(effect, name, { captureStackTrace: false })
    : () => (effect) => effect

  const healthCheck: Telemetry["healthCheck"] = (database, check, parent) => {
    const timed = Effect.gen(function* () {
      const start = clock.unsafeCurrentTimeNanos()
      const exit = yield* Effect.exit(check)
      const elapsed = Number(clock.unsafeCurrentTimeNanos() - start) / 1e9
      if (Exit.isSuccess(exit)) {
        const result = exit.value
        yield* Metric.update(
          Metric.taggedWithLabels(Metrics.healthCheckDuration, [
            MetricLabel.make(Attr.database, database.id),
            MetricLabel.make(Attr.healthy, String(result.healthy))
          ]),
          elapsed
        )
        if (options.spans) {
          yield* Effect.annotateCurrentSpan({ [Attr.healthy]: result.healthy, ...causeAttributes(result.cause) })
        }
        if (!result.healthy) {
          yield* Effect.logDebug("MultiDbClient: health check failed").pipe(
            Effect.annotateLogs({ database: database.id, ...causeLog(result.cause) })
          )
        }
      }
      return yield* exit
    })
    return options.spans
      ? Effect.withSpan(timed, SpanName.healthCheck, {
          kind: "internal",
          captureStackTrace: false,
          attributes: database.attributes,
          ...parentOption(parent)
        })
      : timed
  }

  const switched: Telemetry["switched"] = (change, effect) => {
    const annotations = {
      from: change.from ?? "none",
      to: change.to,
      reason: change.reason,
      ...causeLog(change.cause)
    }
    const log =
      change.reason === "automatic"
        ? Effect.logWarning("MultiDbClient: failed over")
        : change.reason === "fallback"
          ? Effect.logInfo("MultiDbClient: failed back")
          : Effect.logInfo("MultiDbClient: switched database on request")
    const body = effect.pipe(
      Effect.zipRight(
        Metric.increment(
          Metric.taggedWithLabels(Metrics.failovers, [
            MetricLabel.make(Attr.from, change.from ?? "none"),
            MetricLabel.make(Attr.to, change.to),
            MetricLabel.make(Attr.reason, change.reason)
          ])
        )
      ),
      Effect.zipRight(Effect.annotateLogs(log, annotations))
    )
    if (!options.spans) return body
    const name =
      change.reason === "automatic"
        ? SpanName.failover
        : change.reason === "fallback"
          ? SpanName.failback
          : SpanName.switch
    return Effect.withSpan(body, name, {
      kind: "internal",
      captureStackTrace: false,
      ...parentOption(change.parent),
      attributes: {
        [Attr.from]: change.from ?? "none",
        [Attr.to]: change.to,
        [Attr.reason]: change.reason,
        ...causeAttributes(change.cause)
      }
    })
  }

  const eventOn = (span: Tracer.AnySpan | undefined, name: string, attributes: Record<string, unknown>) => {
    if (options.spans && span !== undefined && span._tag === "Span") {
      span.event(name, clock.unsafeCurrentTimeNanos(), attributes)
    }
  }

  const circuitChanged: Telemetry["circuitChanged"] = (database, from, to) => {
    const log =
      to === "open"
        ? Effect.logWarning("MultiDbClient: circuit opened")
        : to === "closed"
          ? Effect.logInfo("MultiDbClient: circuit closed")
          : Effect.logDebug("MultiDbClient: circuit half-open")
    return Effect.zipRight(
      Metric.set(Metric.tagged(Metrics.circuitState, Attr.database, database), circuitGaugeValue[to]),
      Effect.annotateLogs(log, { database, from, to })
    )
  }

  const circuitEvent: Telemetry["circuitEvent"] = (span, database, from, to) =>
    eventOn(span, EventName.circuitChanged, {
      [Attr.database]: database,
      [Attr.circuitFrom]: from,
      [Attr.circuitTo]: to
    })

  const detectorTripped: Telemetry["detectorTripped"] = (database, span) =>
    Effect.zipRight(
      Metric.increment(Metric.tagged(Metrics.detectorTrips, Attr.database, database.id)),
      Effect.zipRight(
        Effect.annotateLogs(Effect.logWarning("MultiDbClient: failure detector tripped"), { database: database.id }),
        Effect.sync(() => eventOn(span, EventName.detectorTripped, { [Attr.database]: database.id }))
      )
    )

  const unavailable: Telemetry["unavailable"] = (attempt, maxAttempts, span) =>
    Effect.zipRight(
      Metric.set(Metrics.unavailable, 1),
      Effect.zipRight(
        Effect.annotateLogs(Effect.logError("MultiDbClient: all databases unavailable"), {
          attempt,
          maxAttempts
        }),
        Effect.sync(() =>
          eventOn(span, EventName.unavailable, { [Attr.attempt]: attempt, "multidb.max_attempts": maxAttempts })
        )
      )
    )

  const available: Telemetry["available"] = (database, elapsed) =>
    Effect.zipRight(
      Metric.set(Metrics.unavailable, 0),
      Effect.zipRight(
        Metric.incrementBy(Metrics.unavailableTime, elapsed),
        Effect.annotateLogs(Effect.logInfo("MultiDbClient: a database is available again"), {
          database,
          unavailableSeconds: elapsed
        })
      )
    )

  const currentSpan: Telemetry["currentSpan"] = options.spans
    ? Effect.map(Effect.option(Effect.currentSpan), Option.getOrUndefined)
    : Effect.succeed(undefined)

  return {
    queryText: (method, args) => (options.keys ? queryText(method, args) : undefined),
    currentSpan,
    options,
    operation,
    instrument,
    spannedHere,
    now,
    attempt,
    retrying,
    succeeded,
    failed,
    span,
    healthCheck,
    switched,
    circuitChanged,
    circuitEvent,
    detectorTripped,
    unavailable,
    available
  }
}

/** Span options placing a span under `parent`, under the current span, or at the root of a new trace. */
const parentOption = (parent: Tracer.AnySpan | "current" | undefined): Tracer.SpanOptions =>
  parent === "current" ? {} : parent === undefined ? { root: true } : { parent }

const causeLog = (cause: unknown): Record<string, string> => {
  const attributes = causeAttributes(cause)
  return {
    ...(attributes[Attr.cause] === undefined ? {} : { cause: attributes[Attr.cause] }),
    ...(attributes[Attr.causeKind] === undefined ? {} : { causeKind: attributes[Attr.causeKind] })
  }
}
