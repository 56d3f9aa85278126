/**
 * Chooses which database receives the traffic.
 *
 * @since 0.1.0
 */
import { Context, Layer, Option } from "effect"
import type { DatabaseInfo } from "./DatabaseInfo.js"

/**
 * A strategy: given every database, the id of the one to use, or none when no database may be used.
 *
 * @since 0.1.0
 * @category models
 */
export interface Strategy {
  readonly select: (databases: ReadonlyArray<DatabaseInfo>) => Option.Option<string>
}

/**
 * Whether a database may receive traffic: its circuit is closed and, unless it is the active one already, its last
 * health check allowed fail-back (a `failbackOnly` check such as the lag-aware one did not object).
 *
 * @since 0.1.0
 * @category utils
 */
export const isEligible = (database: DatabaseInfo): boolean =>
  database.circuit === "closed" &&
  (database.active || Option.match(database.lastHealthCheck, { onNone: () => true, onSome: (r) => r.failbackAllowed }))

/**
 * The default: the highest-weighted eligible database; ties go to the one configured first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const weightBased: Strategy = {
  select: (databases) => {
    let best: DatabaseInfo | undefined
    for (const database of databases) {
      if (!isEligible(database)) continue
      if (
        best === undefined ||
        database.weight > best.weight ||
        (database.weight === best.weight && database.order < best.order)
      ) {
        best = database
      }
    }
    return best === undefined ? Option.none() : Option.some(best.id)
  }
}

/**
 * The strategy service (weight-based unless replaced). Provide another with `FailoverStrategy.layer(strategy)`.
 *
 * @since 0.1.0
 * @category tags
 */
export class FailoverStrategy extends Context.Reference<FailoverStrategy>()("@effect-redis/multidb/FailoverStrategy", {
  defaultValue: (): Strategy => weightBased
}) {}

/**
 * A layer with the given strategy (the weight-based one by default).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (strategy: Strategy = weightBased): Layer.Layer<FailoverStrategy> =>
  Layer.succeed(FailoverStrategy, strategy)
