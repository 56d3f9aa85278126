/**
 * What one demo run recorded, as plain data: every operation served (and by which database), every failed operation,
 * every acknowledged write, the client's events and the injected faults. The summary and the HTML report are pure
 * functions of it, so both can be tested with a synthetic timeline.
 *
 * Times are milliseconds since the workload started.
 *
 * @since 0.1.0
 */

/**
 * A database of the run.
 *
 * @since 0.1.0
 */
export interface Database {
  readonly id: string
  readonly weight: number
}

/**
 * One operation that succeeded, with the database that served it.
 *
 * @since 0.1.0
 */
export interface Op {
  readonly at: number
  readonly database: string
  readonly kind: "read" | "write"
}

/**
 * One operation that failed, by the tag of its `MultiDbError`.
 *
 * @since 0.1.0
 */
export interface OpError {
  readonly at: number
  readonly tag: string
}

/**
 * A write the client acknowledged: `key` should hold `value` on `database`.
 *
 * @since 0.1.0
 */
export interface AckedWrite {
  readonly at: number
  readonly key: string
  readonly value: string
  readonly database: string
}

/**
 * What kind of thing happened: a scenario action or a client event.
 *
 * @since 0.1.0
 */
export type EventKind = "fault" | "recovery" | "switch" | "circuit" | "health" | "failed" | "unavailable" | "other"

/**
 * One line of the event log, and one marker on the chart.
 *
 * @since 0.1.0
 */
export interface TimelineEvent {
  readonly at: number
  readonly kind: EventKind
  /** The `MultiDbEvent` tag, or `Fault` / `Recovery` for scenario actions. */
  readonly tag: string
  readonly label: string
}

/**
 * One injected fault: when it was in place, when it was lifted, and which database should serve again afterwards.
 *
 * @since 0.1.0
 */
export interface Fault {
  readonly id: string
  readonly name: string
  /** The database the fault hits, or `*` when it hits every database. */
  readonly target: string
  /** The database expected to serve once the fault is lifted (the preferred one among the healthy). */
  readonly failBackTo: string
  readonly injectedAt: number
  readonly recoveredAt?: number | undefined
}

/**
 * Pub/sub counters: messages published (acknowledged) and received, by the database they came from.
 *
 * @since 0.1.0
 */
export interface PubSubCounts {
  readonly published: number
  readonly received: number
  readonly receivedBy: Readonly<Record<string, number>>
}

/**
 * A whole run.
 *
 * @since 0.1.0
 */
export interface Timeline {
  readonly databases: ReadonlyArray<Database>
  readonly durationMs: number
  readonly ops: ReadonlyArray<Op>
  readonly errors: ReadonlyArray<OpError>
  readonly writes: ReadonlyArray<AckedWrite>
  readonly events: ReadonlyArray<TimelineEvent>
  readonly faults: ReadonlyArray<Fault>
  readonly pubsub: PubSubCounts
}

/**
 * Counts of `items` per whole bucket of `bucketMs` within `[0, durationMs)`.
 *
 * @since 0.1.0
 */
export const bucketCounts = (
  items: Iterable<{ readonly at: number }>,
  durationMs: number,
  bucketMs: number
): Array<number> => {
  // whole buckets only: a last, partial bucket would read as a drop in the rate
  const counts = new Array<number>(Math.max(1, Math.floor(durationMs / bucketMs))).fill(0)
  for (const item of items) {
    const index = Math.floor(item.at / bucketMs)
    if (index >= 0 && index < counts.length) counts[index]!++
  }
  return counts
}

/**
 * Operations per second served by each database, per bucket of `bucketMs`.
 *
 * @since 0.1.0
 */
export const opsPerSecond = (timeline: Timeline, bucketMs: number): Record<string, Array<number>> => {
  const series: Record<string, Array<number>> = {}
  for (const database of timeline.databases) {
    series[database.id] = bucketCounts(
      timeline.ops.filter((op) => op.database === database.id),
      timeline.durationMs,
      bucketMs
    ).map((n) => (n * 1000) / bucketMs)
  }
  return series
}

/**
 * Failed operations per second, per bucket of `bucketMs`.
 *
 * @since 0.1.0
 */
export const errorsPerSecond = (timeline: Timeline, bucketMs: number): Array<number> =>
  bucketCounts(timeline.errors, timeline.durationMs, bucketMs).map((n) => (n * 1000) / bucketMs)
