/**
 * The metrics a `MultiDbClient` records, as Effect `Metric`s: read them with `Metric.value`, or export them with
 * `@effect/opentelemetry` (its metrics layer reads the `unit` tag as the instrument's unit).
 *
 * Names follow OpenTelemetry's conventions: dotted, lower case, durations in seconds. `db.client.operation.duration`
 * is the database-client histogram of the semantic conventions; the others are the library's own, under `multidb.`.
 * Every metric names its database with the `multidb.database` attribute (the database id), or `multidb.from` /
 * `multidb.to` for a switch.
 *
 * @since 0.1.0
 */
import { Metric, MetricBoundaries, MetricKey } from "effect"

/**
 * The bucket boundaries OpenTelemetry recommends for `db.client.operation.duration`, in seconds.
 *
 * @since 0.1.0
 * @category metrics
 */
export const operationDurationBoundaries: ReadonlyArray<number> = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]

/**
 * The key of `operationDuration` (untagged: the client adds the attributes of each operation).
 *
 * @since 0.1.0
 * @category metrics
 */
export const operationDurationKey = MetricKey.histogram(
  "db.client.operation.duration",
  MetricBoundaries.fromIterable(operationDurationBoundaries),
  "Duration of database client operations (a command, pipeline or transaction, retries included), in seconds"
)

/**
 * Duration of each command, pipeline and transaction, retries included, in seconds. Attributes: `db.system.name`
 * (`redis`), `db.operation.name`, `db.namespace`, `server.address`, `server.port`, `multidb.database` (the
 * database that served it), and on failure `error.type` (plus `db.response.status_code` for an error reply).
 *
 * @since 0.1.0
 * @category metrics
 */
export const operationDuration = Metric.fromMetricKey(operationDurationKey)

/**
 * The key of `commandAttempts`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const commandAttemptsKey = MetricKey.counter("multidb.command.attempts", {
  description: "Attempts of commands on each database, by outcome (success, reply_error, failure)",
  incremental: true
})

/**
 * Attempts of commands on each database (`multidb.database`), by `multidb.outcome`: `success`, `reply_error` (the
 * server answered with an error: the database is fine) or `failure` (counted by the failure detector). A retried
 * command counts once per attempt.
 *
 * @since 0.1.0
 * @category metrics
 */
export const commandAttempts = Metric.fromMetricKey(commandAttemptsKey)

/**
 * Switches of the active database, tagged `multidb.from`, `multidb.to` and `multidb.reason` (`automatic` for a
 * failover, `fallback` for a fail-back, `manual` for `setActiveDatabase`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const failovers = Metric.counter("multidb.failovers", {
  description: "Switches of the active database (failovers, fail-backs and manual switches)",
  incremental: true
})

/**
 * Circuit state per database (`multidb.database`): 0 closed, 1 half-open, 2 open.
 *
 * @since 0.1.0
 * @category metrics
 */
export const circuitState = Metric.gauge("multidb.circuit.state", {
  description: "Circuit state per database: 0 closed, 1 half-open, 2 open"
})

/**
 * Buckets of `healthCheckDuration`, in seconds.
 *
 * @since 0.1.0
 * @category metrics
 */
export const healthCheckDurationBoundaries: ReadonlyArray<number> = [
  0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
]

/**
 * Duration of one health check of one database (all its checks and probes), in seconds; tagged `multidb.database`
 * and `multidb.healthy` (`true` / `false`).
 *
 * @since 0.1.0
 * @category metrics
 */
export const healthCheckDuration: Metric.Metric.Histogram<number> = Metric.tagged(
  Metric.histogram(
    "multidb.health_check.duration",
    MetricBoundaries.fromIterable(healthCheckDurationBoundaries),
    "Duration of one health check of one database, in seconds"
  ),
  "unit",
  "s"
)

/**
 * Trips of a database's failure detector (enough failures in its window to open the circuit), tagged
 * `multidb.database`.
 *
 * @since 0.1.0
 * @category metrics
 */
export const detectorTrips = Metric.counter("multidb.detector.trips", {
  description: "Trips of the failure detector of a database",
  incremental: true
})

/**
 * Time spent with no database available (no active database: every call fails with `TemporarilyUnavailable` or
 * `NoValidDatabase`), in seconds; added when a database becomes active again.
 *
 * @since 0.1.0
 * @category metrics
 */
export const unavailableTime: Metric.Metric.Counter<number> = Metric.tagged(
  Metric.counter("multidb.unavailable.time", {
    description: "Time spent with no database available, in seconds",
    incremental: true
  }),
  "unit",
  "s"
)

/**
 * Whether no database is available right now: 1 while every call fails with `TemporarilyUnavailable` or
 * `NoValidDatabase`, 0 otherwise.
 *
 * @since 0.1.0
 * @category metrics
 */
export const unavailable = Metric.gauge("multidb.unavailable", {
  description: "1 while no database is available, 0 otherwise"
})
