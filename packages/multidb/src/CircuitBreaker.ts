/**
 * Per-database circuit breaker: closed (eligible), open (not eligible for a grace period), half-open (the next health
 * check decides).
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, FiberHandle, Layer, type Scope, type Stream, SubscriptionRef } from "effect"

/**
 * The three states of a circuit.
 *
 * @since 0.1.0
 * @category models
 */
export type CircuitState = "closed" | "open" | "half-open"

/**
 * One database's circuit.
 *
 * @since 0.1.0
 * @category models
 */
export interface CircuitBreaker {
  readonly state: Effect.Effect<CircuitState>
  /** Opens the circuit and starts the grace period; a no-op when it is open already. */
  readonly open: Effect.Effect<void>
  /** Closes the circuit (the database is eligible again) and cancels a running grace period. */
  readonly close: Effect.Effect<void>
  /** Half-opens the circuit: the next health check decides between closed and open. */
  readonly halfOpen: Effect.Effect<void>
  /** The current state, then every state it changes to, in order: what the client follows to react to changes. */
  readonly changes: Stream.Stream<CircuitState>
}

/**
 * Options of `make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly gracePeriod: Duration.DurationInput
  readonly initialState?: CircuitState
  /** Called inside each transition; the client itself follows `changes` instead. */
  readonly onStateChange?: (from: CircuitState, to: CircuitState) => Effect.Effect<void>
}

/**
 * Builds a circuit. Opening it starts the grace period; when the grace period ends the circuit goes half-open.
 * The grace timer runs in the given scope and ends with it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<CircuitBreaker, never, Scope.Scope> =>
  Effect.gen(function* () {
    const gracePeriod = Duration.decode(options.gracePeriod)
    const onStateChange = options.onStateChange ?? (() => Effect.void)
    const state = yield* SubscriptionRef.make<CircuitState>(options.initialState ?? "closed")
    const graceTimer = yield* FiberHandle.make<void, never>()
    const lock = yield* Effect.makeSemaphore(1)

    const transition = (to: CircuitState, startGrace: boolean) =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          const from = yield* SubscriptionRef.get(state)
          if (from === to) return
          yield* SubscriptionRef.set(state, to)
          if (startGrace) {
            yield* FiberHandle.run(graceTimer, Effect.sleep(gracePeriod).pipe(Effect.zipRight(halfOpenAfterGrace)))
          } else {
            yield* FiberHandle.clear(graceTimer)
          }
          yield* onStateChange(from, to)
        })
      )

    const halfOpenAfterGrace: Effect.Effect<void> = Effect.suspend(() =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          const from = yield* SubscriptionRef.get(state)
          if (from !== "open") return
          yield* SubscriptionRef.set(state, "half-open")
          yield* onStateChange(from, "half-open")
        })
      )
    )

    if ((options.initialState ?? "closed") === "open") {
      yield* FiberHandle.run(graceTimer, Effect.sleep(gracePeriod).pipe(Effect.zipRight(halfOpenAfterGrace)))
    }

    return {
      state: SubscriptionRef.get(state),
      changes: state.changes,
      open: transition("open", true),
      close: transition("closed", false),
      halfOpen: transition("half-open", false)
    }
  })

/**
 * Builds the circuit of one database (by default `make` above). Replace it with a Layer to customise how circuits
 * behave.
 *
 * @since 0.1.0
 * @category tags
 */
export class CircuitBreakerFactory extends Context.Reference<CircuitBreakerFactory>()(
  "@effect-redis/multidb/CircuitBreaker",
  {
    defaultValue: (): {
      readonly make: (database: string, options: Options) => Effect.Effect<CircuitBreaker, never, Scope.Scope>
    } => ({ make: (_database, options) => make(options) })
  }
) {}

/**
 * The default circuit factory: `make` above for every database.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<CircuitBreakerFactory> = Layer.succeed(CircuitBreakerFactory, {
  make: (_database, options) => make(options)
})
