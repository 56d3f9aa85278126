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

const origin = performance.timeOrigin
/** The live clock's reading for the work running now; `undefined` once that work has ended. */
let current: number | undefined
const forget = () => {
  current = undefined
}
/**
 * Promise jobs schedule `forget` (through `forgetLater`). Node's `queueMicrotask` wraps each callback in an
 * `AsyncResource` (an async id, the init and destroy hooks, a bound function): 0.4–0.5 µs per macrotask that uses it,
 * measured on the bench machine, against 0.1–0.4 µs for a promise job; at concurrency 1 every command is a burst of its
 * own.
 */
const resolved = Promise.resolve()
/**
 * Schedules `forget` one round of promise jobs later. A reply resumes its fiber through the fiber's scheduler, itself
 * a promise job queued after the reading: forgetting at the first round would make the command that fiber sends next
 * read the clock again (a cold read between a reply and the next write costs about 0.3 µs here, not the 75 ns of a
 * warm one), at the second it shares the reading of the reply that woke it.
 */
const forgetLater = () => {
  resolved.then(forget)
}

/**
 * The live monotonic clock, read once per burst of work: the first reading is kept while the promise jobs queued before
 * it run, and then those queued up to then (one round more: `forgetLater`). Under load the replies of one socket read,
 * and the commands the resumed fibers send next, each share one reading instead of paying for a clock read apiece; a
 * command's start is then when its burst began (it is not written before the burst ends) and its end when its reply
 * was read.
 */
const burstNow = (): number => {
  if (current === undefined) {
    current = origin + performance.now()
    resolved.then(forgetLater)
  }
  return current
}

/**
 * Milliseconds (fractional) on `clock`, for durations, deadlines and time buckets. With the live clock, a monotonic
 * epoch (`performance.timeOrigin + performance.now()`, immune to wall-clock steps), read once per burst of work
 * (`burstNow`). With another clock (a TestClock), that clock's milliseconds. The command path reads it when a command
 * starts and when it ends, and hands the end to the failure detector.
 */
export const millisOf = (clock: Clock.Clock): (() => number) =>
  clock === liveClock ? burstNow : () => clock.unsafeCurrentTimeMillis()
