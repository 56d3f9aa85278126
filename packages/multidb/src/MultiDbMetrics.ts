/**
 * The metrics a `MultiDbClient` records, as Effect `Metric`s: read them with `Metric.value` or export them with an
 * OpenTelemetry metrics layer.
 *
 * @since 0.1.0
 */
import { Metric, MetricBoundaries, MetricKey } from "effect"

/**
 * Switches of the active database, tagged `from`, `to` and `reason`.
 *
 * @since 0.1.0
 */
export const failovers = Metric.counter("multidb_failovers_total", {
  description: "Switches of the active database",
  incremental: true
})

/**
 * Circuit state per database (tag `database`): 0 closed, 1 half-open, 2 open.
 *
 * @since 0.1.0
 */
export const circuitState = Metric.gauge("multidb_circuit_state", {
  description: "Circuit state per database: 0 closed, 1 half-open, 2 open"
})

/**
 * Duration of one health check of one database, in milliseconds (tag `database`).
 *
 * @since 0.1.0
 */
export const healthCheckDuration = Metric.histogram(
  "multidb_health_check_duration_ms",
  MetricBoundaries.exponential({ start: 1, factor: 2, count: 14 }),
  "Duration of one health check of one database, in milliseconds"
)

/**
 * The key of `commandOutcomes`.
 *
 * @since 0.1.0
 */
export const commandOutcomesKey = MetricKey.counter("multidb_commands_total", {
  description: "Command outcomes per database",
  incremental: true
})

/**
 * Command outcomes per database (tags `database`, `outcome`: success, reply_error, failure).
 *
 * @since 0.1.0
 */
export const commandOutcomes = Metric.fromMetricKey(commandOutcomesKey)
