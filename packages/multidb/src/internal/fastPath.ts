import { Clock, Context, DefaultServices } from "effect"

/**
 * What the hot path may call without building an effect. The built-in failure detector carries a synchronous way to
 * record a success under this key; a detector from another factory does not, and its `record` effect is run instead.
 */
export const recordSuccessSync: unique symbol = Symbol.for("@effect-redis/multidb/FailureDetector/recordSuccessSync")

/** A detector that may carry `recordSuccessSync`. */
export interface MaybeSync {
  /** `at`: when the command ended (`millisOf` the detector's clock); read from the clock when not given. */
  readonly [recordSuccessSync]?: (at?: number) => void
}

/** Effect's live clock: the clock unless a test (or an application) replaced it. */
const liveClock = Context.get(DefaultServices.liveServices, Clock.Clock)

/**
 * Milliseconds (fractional) on `clock`, for durations and time buckets. With the live clock, a monotonic epoch
 * (`performance.timeOrigin + performance.now()`): cheaper than the bigint nanoseconds read, and immune to wall-clock
 * steps. With another clock (a TestClock), that clock's milliseconds. The command path reads it once when a command
 * starts and once when it ends, and hands the end to the failure detector.
 */
export const millisOf = (clock: Clock.Clock): (() => number) => {
  if (clock !== liveClock) return () => clock.unsafeCurrentTimeMillis()
  const origin = performance.timeOrigin
  return () => origin + performance.now()
}
