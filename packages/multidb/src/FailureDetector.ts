/**
 * Per-database failure detector over a sliding time window, kept in a fixed number of time buckets so its memory does
 * not grow with traffic.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer } from "effect"
import * as FastPath from "./internal/fastPath.js"

/**
 * What one command taught about its database. A `neutral` outcome (an interrupted caller) is not recorded.
 *
 * @since 0.1.0
 * @category models
 */
export type Outcome = "success" | "failure"

/**
 * Counts in the current window.
 *
 * @since 0.1.0
 * @category models
 */
export interface Snapshot {
  readonly successes: number
  readonly failures: number
}

/**
 * One database's detector.
 *
 * @since 0.1.0
 * @category models
 */
export interface FailureDetector {
  /** Records an outcome; succeeds with `true` when this failure makes the window cross both thresholds. */
  readonly record: (outcome: Outcome) => Effect.Effect<boolean>
  /** Forgets every recorded outcome (the database's circuit changed state). */
  readonly reset: Effect.Effect<void>
  readonly snapshot: Effect.Effect<Snapshot>
}

/**
 * Options of `make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly window: Duration.DurationInput
  readonly minNumFailures: number
  readonly failureRateThreshold: number
  /** How many buckets the window is cut into (default 10): the window slides in steps of `window / buckets`. */
  readonly buckets?: number
}

/**
 * Builds a detector. It trips when, within the window, failures >= `minNumFailures` and
 * failures / (failures + successes) >= `failureRateThreshold`; tripping resets it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<FailureDetector> =>
  // The clock is read once, when the detector is made (a TestClock then too): recording reads no service per command.
  Effect.clockWith((clock) =>
    Effect.sync(() => {
      const now = FastPath.millisOf(clock)
      const bucketCount = Math.max(1, Math.floor(options.buckets ?? 10))
      const bucketMillis = Math.max(1, Duration.toMillis(options.window) / bucketCount)
      // Bucket i holds the counts of time slot epochs[i]; a slot older than the window is stale and is overwritten.
      const epochs = new Float64Array(bucketCount).fill(-1)
      const successes = new Float64Array(bucketCount)
      const failures = new Float64Array(bucketCount)

      /** The bucket index of time `now`, cleared first when it still holds an older slot. */
      const slotOf = (now: number) => {
        const epoch = Math.floor(now / bucketMillis)
        const index = epoch % bucketCount
        if (epochs[index] !== epoch) {
          epochs[index] = epoch
          successes[index] = 0
          failures[index] = 0
        }
        return index
      }

      const totals = (epoch: number): Snapshot => {
        let s = 0
        let f = 0
        for (let i = 0; i < bucketCount; i++) {
          if (epochs[i]! > epoch - bucketCount) {
            s += successes[i]!
            f += failures[i]!
          }
        }
        return { successes: s, failures: f }
      }

      const clear = () => {
        epochs.fill(-1)
        successes.fill(0)
        failures.fill(0)
      }

      // Both effects are built once: recording an outcome (every command does) allocates no effect.
      const succeeded = (at?: number) => {
        successes[slotOf(at ?? now())]! += 1
      }
      const recordSuccess: Effect.Effect<boolean> = Effect.sync(() => {
        succeeded()
        return false
      })
      const recordFailure: Effect.Effect<boolean> = Effect.sync(() => {
        const at = now()
        failures[slotOf(at)]! += 1
        const t = totals(Math.floor(at / bucketMillis))
        const tripped =
          t.failures >= options.minNumFailures &&
          t.failures / (t.failures + t.successes) >= options.failureRateThreshold
        if (tripped) clear()
        return tripped
      })
      const record = (outcome: Outcome) => (outcome === "success" ? recordSuccess : recordFailure)

      const detector: FailureDetector & FastPath.MaybeSync = {
        record,
        reset: Effect.sync(clear),
        snapshot: Effect.sync(() => totals(Math.floor(now() / bucketMillis))),
        // the command path records a success with a plain call, not an effect
        [FastPath.recordSuccessSync]: succeeded
      }
      return detector
    })
  )

/**
 * Builds the detector of one database (by default `make` above). Replace it with a Layer to detect failures
 * differently.
 *
 * @since 0.1.0
 * @category tags
 */
export class FailureDetectorFactory extends Context.Reference<FailureDetectorFactory>()(
  "@effect-redis/multidb/FailureDetector",
  {
    defaultValue: (): { readonly make: (database: string, options: Options) => Effect.Effect<FailureDetector> } => ({
      make: (_database, options) => make(options)
    })
  }
) {}

/**
 * The default detector factory: `make` above for every database.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<FailureDetectorFactory> = Layer.succeed(FailureDetectorFactory, {
  make: (_database, options) => make(options)
})
