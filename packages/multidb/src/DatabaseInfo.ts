/**
 * A snapshot of one database as the client sees it.
 *
 * @since 0.1.0
 */
import type { Option } from "effect"
import type { CircuitState } from "./CircuitBreaker.js"
import type { Result } from "./HealthCheck.js"

/**
 * One database: its id, weight, position in the configuration, circuit state, last health result and whether it is
 * the active one.
 *
 * @since 0.1.0
 * @category models
 */
export interface DatabaseInfo {
  readonly id: string
  readonly weight: number
  /** Position in the configuration (added databases come last): breaks weight ties. */
  readonly order: number
  readonly circuit: CircuitState
  readonly lastHealthCheck: Option.Option<Result>
  readonly active: boolean
}
