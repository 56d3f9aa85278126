/**
 * What the hot path may call without building an effect. The built-in failure detector carries a synchronous way to
 * record a success under this key; a detector from another factory does not, and its `record` effect is run instead.
 */
export const recordSuccessSync: unique symbol = Symbol.for("@effect-redis/multidb/FailureDetector/recordSuccessSync")

/** A detector that may carry `recordSuccessSync`. */
export interface MaybeSync {
  readonly [recordSuccessSync]?: () => void
}
