/**
 * Everything the client reports about its databases: switches, circuit changes, health results, failures.
 *
 * @since 0.1.0
 */
import { Data } from "effect"
import type { CircuitState } from "./CircuitBreaker.js"
import type { FailureCause } from "./FailureCause.js"

/**
 * Why the active database changed.
 *
 * @since 0.1.0
 * @category models
 */
export type SwitchReason = "automatic" | "manual" | "fallback"

/**
 * The events of a `MultiDbClient`, as a tagged union.
 *
 * @since 0.1.0
 * @category models
 */
export type MultiDbEvent = Data.TaggedEnum<{
  /** `oldDatabase` is undefined for the first active database, chosen when the client starts. */
  ActiveDatabaseChanged: {
    readonly oldDatabase: string | undefined
    readonly newDatabase: string
    readonly reason: SwitchReason
  }
  CircuitStateChanged: { readonly database: string; readonly from: CircuitState; readonly to: CircuitState }
  HealthCheckCompleted: {
    readonly database: string
    readonly healthy: boolean
    readonly failbackAllowed: boolean
    /** What failed, in words. */
    readonly cause?: string
    /** What failed, typed (`failure.kind`: auth, tls, dns, refused, timeout, ...). */
    readonly failure?: FailureCause
  }
  CommandsFailed: { readonly database: string; readonly commands: ReadonlyArray<string>; readonly error: string }
  AllDatabasesUnavailable: { readonly attempt: number; readonly maxAttempts: number }
  DatabaseAdded: { readonly database: string; readonly weight: number }
  DatabaseRemoved: { readonly database: string }
  DatabaseWeightChanged: { readonly database: string; readonly from: number; readonly to: number }
}>

/**
 * Constructors and matchers for `MultiDbEvent` (`MultiDbEvent.ActiveDatabaseChanged({...})`, `$is`, `$match`).
 *
 * @since 0.1.0
 * @category utils
 */
export const {
  $is,
  $match,
  ActiveDatabaseChanged,
  AllDatabasesUnavailable,
  CircuitStateChanged,
  CommandsFailed,
  DatabaseAdded,
  DatabaseRemoved,
  DatabaseWeightChanged,
  HealthCheckCompleted
} = Data.taggedEnum<MultiDbEvent>()
