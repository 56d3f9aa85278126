import type { Deferred, Tracer } from "effect"
import type { ManagementFailed, UnhealthyDatabase } from "../MultiDbError.js"
import type { SwitchReason } from "../MultiDbEvent.js"
import type { Database } from "./database.js"

/**
 * What the supervisor is asked to do. Every change of the active database goes through it. `parent`: the span of the
 * work that sent the signal (a check, a failed command, a management call), so that the switch or check it causes
 * joins that trace.
 */
export type Signal = {
  readonly parent?: Tracer.AnySpan | undefined
} /** Keep the active database if it is still eligible, otherwise move to the strategy's pick. */ & (
  | { readonly _tag: "Reevaluate" }
  /** Move to the strategy's pick even when the active database is eligible (auto fallback). */
  | { readonly _tag: "SelectBest"; readonly reason: SwitchReason }
  /** A runtime change concerning `candidate` (added, removed, re-weighted). */
  | { readonly _tag: "Reconsider"; readonly candidate: string; readonly done: Deferred.Deferred<void> }
  /** A manual switch to a database that passed its health check. */
  | {
      readonly _tag: "SetActive"
      readonly database: Database
      readonly done: Deferred.Deferred<void, UnhealthyDatabase | ManagementFailed>
    }
  /** The command connection of a database was lost or recycled. */
  | { readonly _tag: "ConnectionLost"; readonly id: string }
  /** A command failed on a database: check it soon. */
  | { readonly _tag: "Check"; readonly id: string }
  /** A command missed its deadline on a database: probe it once, now. */
  | { readonly _tag: "Suspect"; readonly id: string }
)
