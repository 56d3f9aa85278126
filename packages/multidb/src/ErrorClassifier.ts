/**
 * Decides what an error from a database means: the server answered (the database is fine), the database is
 * unavailable (a failure, with whether the command may have run), or a WATCH conflict.
 *
 * @since 0.1.0
 */
import { Context, Layer } from "effect"
import * as internal from "./internal/classify.js"

/**
 * What an error says about its database and its command.
 *
 * @since 0.1.0
 * @category models
 */
export type Classification =
  /** The server replied with an error: counted as a success for the database; surfaces as `RedisCommandError`. */
  | { readonly _tag: "Reply"; readonly reply: string }
  /** The database could not serve the command: a failure; `mayHaveExecuted` is false when it provably never ran. */
  | { readonly _tag: "Unavailable"; readonly mayHaveExecuted: boolean; readonly reason: string }
  /** A watched key changed: the transaction was not applied; not a database failure. */
  | { readonly _tag: "WatchConflict" }
  /**
   * Thrown by the caller's own code inside `execute` (a `TypeError`, a bad argument), not by Redis or the network:
   * neither a success nor a failure of the database; it reaches the caller as a defect (`Effect.die`).
   */
  | { readonly _tag: "UserError" }

/**
 * Classifies errors thrown by node-redis (or by the in-memory connection); `classify` below unless replaced. Provide
 * another with a Layer to treat some errors differently.
 *
 * @since 0.1.0
 * @category tags
 */
export class ErrorClassifier extends Context.Reference<ErrorClassifier>()("@effect-redis/multidb/ErrorClassifier", {
  defaultValue: (): { readonly classify: (error: unknown) => Classification } => ({ classify: internal.classify })
}) {}

/**
 * The default classification: connection refused / reset / closed, timeouts, `LOADING`,
 * `MASTERDOWN`, `CLUSTERDOWN`, `TRYAGAIN`, `READONLY` and max-clients replies are failures; other error replies are
 * answers; anything that is neither a Redis reply nor a client, socket or system error is the caller's own
 * (`UserError`).
 *
 * @since 0.1.0
 * @category utils
 */
export const classify: (error: unknown) => Classification = internal.classify

/**
 * The default classifier as a layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<ErrorClassifier> = Layer.succeed(ErrorClassifier, { classify })
