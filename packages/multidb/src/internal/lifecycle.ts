import { Deferred, Duration, Effect, Fiber } from "effect"
import { ClientClosed } from "../MultiDbError.js"

/**
 * Whether the client is still open. `close` runs first when the client's scope closes (before any connection or fiber
 * is stopped), so every call from then on, and every call still waiting, ends with `ClientClosed` at once instead of
 * hanging on a stopped fiber or retrying against closed connections.
 */
export interface Lifecycle {
  /** Plain read for the command path (no effect allocated). */
  readonly isClosed: () => boolean
  /** Completed when the client closes. */
  readonly closed: Deferred.Deferred<void>
  readonly close: Effect.Effect<void>
  /** Fails with `ClientClosed` when the client is closed, succeeds otherwise. */
  readonly check: (operation: string) => Effect.Effect<void, ClientClosed>
  /**
   * Runs `effect` unless the client is closed; if the client closes while it runs, the caller gets `ClientClosed` at
   * once (the effect is interrupted in the background, so its clean-up runs).
   */
  readonly guard: (
    operation: string
  ) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ClientClosed, R>
}

/** How long a management call waits for the supervisor to confirm a change before failing with `ManagementFailed`. */
export const managementTimeout: Duration.Duration = Duration.seconds(30)

export const make: Effect.Effect<Lifecycle> = Effect.map(Deferred.make<void>(), (closed) => {
  let isClosed = false
  const check = (operation: string): Effect.Effect<void, ClientClosed> =>
    Effect.suspend(() => (isClosed ? Effect.fail(new ClientClosed({ operation })) : Effect.void))
  const lifecycle: Lifecycle = {
    isClosed: () => isClosed,
    closed,
    close: Effect.suspend(() => {
      isClosed = true
      return Deferred.succeed(closed, undefined)
    }),
    check,
    guard:
      (operation) =>
      <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | ClientClosed, R> =>
        Effect.suspend(() =>
          isClosed
            ? Effect.fail(new ClientClosed({ operation }))
            : Effect.raceWith(effect, Deferred.await(closed), {
                onSelfDone: (exit, waiting) => Effect.zipRight(Fiber.interrupt(waiting), exit),
                onOtherDone: (_, running) =>
                  Effect.zipRight(Fiber.interruptFork(running), Effect.fail(new ClientClosed({ operation })))
              })
        )
  }
  return lifecycle
})
