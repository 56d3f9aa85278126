/**
 * Records a run as it happens (operations, errors, acknowledged writes, events, faults) and answers the live display's
 * questions (ops/s over the last second, errors by type). One recorder per run; `timeline` freezes it.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type * as Timeline from "./Timeline.js"

/**
 * A run's recorder.
 *
 * @since 0.1.0
 */
export interface Recorder {
  /** Milliseconds since the run started. */
  readonly now: () => number
  readonly opServed: (database: string, kind: Timeline.Op["kind"]) => void
  readonly opFailed: (tag: string) => void
  readonly writeAcked: (key: string, value: string, database: string) => void
  readonly event: (kind: Timeline.EventKind, tag: string, label: string) => Timeline.TimelineEvent
  readonly faultInjected: (fault: Omit<Timeline.Fault, "injectedAt" | "recoveredAt">) => void
  readonly faultRecovered: (id: string) => void
  readonly published: () => void
  readonly received: (database: string) => void
  /** Operations served over the last second. */
  readonly opsLastSecond: () => number
  /** Failed operations so far, by error tag. */
  readonly errorsByTag: () => ReadonlyMap<string, number>
  readonly pubsub: () => Timeline.PubSubCounts
  /** The run so far, as plain data; `until` ends it earlier than now (when the workload stopped). */
  readonly timeline: (until?: number) => Timeline.Timeline
}

/**
 * A recorder whose clock starts now. It uses `performance.now()`: the demo measures real failover times.
 *
 * @since 0.1.0
 */
export const make = (databases: ReadonlyArray<Timeline.Database>): Effect.Effect<Recorder> =>
  Effect.sync(() => {
    const start = performance.now()
    const now = () => performance.now() - start
    const ops: Array<Timeline.Op> = []
    const errors: Array<Timeline.OpError> = []
    const writes: Array<Timeline.AckedWrite> = []
    const events: Array<Timeline.TimelineEvent> = []
    const faults: Array<Timeline.Fault> = []
    const errorCounts = new Map<string, number>()
    const receivedBy: Record<string, number> = {}
    let published = 0
    let received = 0
    /** Index of the first op inside the last second, moved forward as time passes. */
    let recentFrom = 0

    return {
      now,
      opServed: (database, kind) => {
        ops.push({ at: now(), database, kind })
      },
      opFailed: (tag) => {
        errors.push({ at: now(), tag })
        errorCounts.set(tag, (errorCounts.get(tag) ?? 0) + 1)
      },
      writeAcked: (key, value, database) => {
        writes.push({ at: now(), key, value, database })
      },
      event: (kind, tag, label) => {
        const event = { at: now(), kind, tag, label }
        events.push(event)
        return event
      },
      faultInjected: (fault) => {
        faults.push({ ...fault, injectedAt: now() })
      },
      faultRecovered: (id) => {
        const index = faults.findIndex((fault) => fault.id === id)
        if (index >= 0) faults[index] = { ...faults[index]!, recoveredAt: now() }
      },
      published: () => {
        published++
      },
      received: (database) => {
        received++
        receivedBy[database] = (receivedBy[database] ?? 0) + 1
      },
      opsLastSecond: () => {
        const from = now() - 1000
        while (recentFrom < ops.length && ops[recentFrom]!.at < from) recentFrom++
        return ops.length - recentFrom
      },
      errorsByTag: () => errorCounts,
      pubsub: () => ({ published, received, receivedBy: { ...receivedBy } }),
      timeline: (until) => ({
        databases,
        durationMs: until ?? now(),
        ops: [...ops],
        errors: [...errors],
        writes: [...writes],
        events: [...events],
        faults: [...faults],
        pubsub: { published, received, receivedBy: { ...receivedBy } }
      })
    }
  })
