/**
 * The end-of-run summary: for each fault, the time to fail over, the time to fail back, the operations that failed
 * (by error tag) and the acknowledged writes that were lost; plus totals for the whole run.
 *
 * @since 0.1.0
 */
import type * as Timeline from "./Timeline.js"

/**
 * The outcome of reading every acknowledged write back from the database that acknowledged it.
 *
 * @since 0.1.0
 */
export interface WriteCheck {
  /** Keys missing, or holding another value. */
  readonly lost: ReadonlySet<string>
  /** Keys that could not be read back (their database was unreachable at the end). */
  readonly unverified: ReadonlySet<string>
}

/**
 * One row of the table: a fault, or the whole run.
 *
 * @since 0.1.0
 */
export interface Row {
  readonly id: string
  readonly name: string
  readonly injectedAt?: number | undefined
  readonly recoveredAt?: number | undefined
  /** From the injection to the first operation served by another database. */
  readonly failoverMs?: number | undefined
  readonly failoverTo?: string | undefined
  /** From the recovery to the first operation served by the preferred database again. */
  readonly failBackMs?: number | undefined
  readonly failBackTo?: string | undefined
  readonly ops: number
  /** Failed operations by error tag, most frequent first. */
  readonly failed: ReadonlyArray<readonly [string, number]>
  readonly writesAcked: number
  /** `undefined` when the writes were not checked. */
  readonly writesLost: number | undefined
  readonly writesUnverified: number
  readonly notes: ReadonlyArray<string>
}

/**
 * The summary of a run.
 *
 * @since 0.1.0
 */
export interface Summary {
  readonly faults: ReadonlyArray<Row>
  readonly total: Row
  readonly pubsub: Timeline.PubSubCounts
  readonly opsByDatabase: ReadonlyArray<readonly [string, number]>
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(3)} s`

const countTags = (errors: ReadonlyArray<Timeline.OpError>) => {
  const counts = new Map<string, number>()
  for (const error of errors) counts.set(error.tag, (counts.get(error.tag) ?? 0) + 1)
  return [...counts.entries()].sort((a, b) => b[1] - a[1])
}

const within = <A extends { readonly at: number }>(items: ReadonlyArray<A>, from: number, to: number) =>
  items.filter((item) => item.at >= from && item.at < to)

const writeCounts = (writes: ReadonlyArray<Timeline.AckedWrite>, check: WriteCheck | undefined) => ({
  writesAcked: writes.length,
  writesLost: check === undefined ? undefined : writes.filter((w) => check.lost.has(w.key)).length,
  writesUnverified: check === undefined ? 0 : writes.filter((w) => check.unverified.has(w.key)).length
})

/**
 * Summarizes a run. A fault's window (for failed operations and writes) runs from its injection to the next fault's
 * injection, or the end of the run.
 *
 * @since 0.1.0
 */
export const summarize = (timeline: Timeline.Timeline, check?: WriteCheck): Summary => {
  const faults = [...timeline.faults].sort((a, b) => a.injectedAt - b.injectedAt)
  const rows = faults.map((fault, index): Row => {
    const windowEnd = faults[index + 1]?.injectedAt ?? timeline.durationMs
    const faultEnd = fault.recoveredAt ?? timeline.durationMs
    const notes: Array<string> = []
    let failoverMs: number | undefined
    let failoverTo: string | undefined
    if (fault.target === "*") {
      const unavailable = timeline.events.find((e) => e.tag === "AllDatabasesUnavailable" && e.at >= fault.injectedAt)
      if (unavailable !== undefined) {
        notes.push(`no database left: AllDatabasesUnavailable after ${seconds(unavailable.at - fault.injectedAt)}`)
      }
      const noValid = timeline.errors.find((e) => e.tag === "NoValidDatabase" && e.at >= fault.injectedAt)
      if (noValid !== undefined && noValid.at < faultEnd) {
        notes.push(`NoValidDatabase from ${seconds(noValid.at - fault.injectedAt)} (failover attempts exhausted)`)
      }
    } else {
      const moved = timeline.ops.find(
        (op) => op.at >= fault.injectedAt && op.at < faultEnd && op.database !== fault.target
      )
      if (moved !== undefined) {
        failoverMs = moved.at - fault.injectedAt
        failoverTo = moved.database
      } else {
        notes.push(`no failover: ${fault.target} kept serving`)
      }
    }
    let failBackMs: number | undefined
    if (fault.recoveredAt !== undefined && (failoverMs !== undefined || fault.target === "*")) {
      const recoveredAt = fault.recoveredAt
      const back = timeline.ops.find((op) => op.at >= recoveredAt && op.database === fault.failBackTo)
      if (back !== undefined) failBackMs = back.at - recoveredAt
      else notes.push(`no operation served by ${fault.failBackTo} after the recovery`)
      if (fault.target === "*") {
        const resumed = timeline.ops.find((op) => op.at >= recoveredAt)
        if (resumed !== undefined && resumed.database !== fault.failBackTo) {
          notes.push(`service resumed on ${resumed.database} after ${seconds(resumed.at - recoveredAt)}`)
        }
      }
    } else if (fault.recoveredAt === undefined) {
      notes.push("not lifted before the end")
    }
    return {
      id: fault.id,
      name: fault.name,
      injectedAt: fault.injectedAt,
      recoveredAt: fault.recoveredAt,
      failoverMs,
      failoverTo,
      failBackMs,
      failBackTo: failBackMs === undefined ? undefined : fault.failBackTo,
      ops: within(timeline.ops, fault.injectedAt, windowEnd).length,
      failed: countTags(within(timeline.errors, fault.injectedAt, windowEnd)),
      ...writeCounts(within(timeline.writes, fault.injectedAt, windowEnd), check),
      notes
    }
  })
  const opsByDatabase = timeline.databases.map(
    (d) => [d.id, timeline.ops.filter((op) => op.database === d.id).length] as const
  )
  const unverifiedNote =
    check !== undefined && check.unverified.size > 0
      ? [`${check.unverified.size} acknowledged writes could not be read back (database unreachable at the end)`]
      : []
  return {
    faults: rows,
    total: {
      id: "total",
      name: "whole run",
      ops: timeline.ops.length,
      failed: countTags(timeline.errors),
      ...writeCounts(timeline.writes, check),
      notes: unverifiedNote
    },
    pubsub: timeline.pubsub,
    opsByDatabase
  }
}

/**
 * How a row's cells read, as text (shared by the terminal table and the HTML report).
 *
 * @since 0.1.0
 */
export const cells = (
  row: Row
): { failover: string; failBack: string; failed: ReadonlyArray<string>; lost: string; ops: string } => {
  const failedTotal = row.failed.reduce((sum, [, n]) => sum + n, 0)
  return {
    failover:
      row.failoverMs !== undefined
        ? `${seconds(row.failoverMs)} → ${row.failoverTo}`
        : row.injectedAt === undefined
          ? ""
          : "—",
    failBack:
      row.failBackMs !== undefined
        ? `${seconds(row.failBackMs)} → ${row.failBackTo}`
        : row.injectedAt === undefined
          ? ""
          : "—",
    failed: failedTotal === 0 ? ["0"] : [`${failedTotal}:`, ...row.failed.map(([tag, n]) => `  ${tag} ${n}`)],
    lost:
      row.writesLost === undefined
        ? `not checked (of ${row.writesAcked})`
        : `${row.writesLost} of ${row.writesAcked}${row.writesUnverified > 0 ? ` (${row.writesUnverified} unverified)` : ""}`,
    ops: String(row.ops)
  }
}

/**
 * The header of the table.
 *
 * @since 0.1.0
 */
export const headers = [
  "fault",
  "time to failover",
  "time to fail back",
  "ops served",
  "ops failed",
  "acked writes lost"
]

/**
 * The summary as a text table (cells may span several lines), followed by notes.
 *
 * @since 0.1.0
 */
export const renderTable = (summary: Summary): string => {
  const rows = [...summary.faults, summary.total].map((row) => {
    const c = cells(row)
    return [[row.name], [c.failover], [c.failBack], [c.ops], c.failed, [c.lost]]
  })
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.flatMap((row) => row[i]!.map((line) => line.length)))
  )
  const format = (values: ReadonlyArray<string>) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join("  ")
      .trimEnd()
  const rule = widths.map((w) => "─".repeat(w)).join("  ")
  const lines = [format(headers), rule]
  rows.forEach((row, index) => {
    if (index === rows.length - 1 && index > 0) lines.push(rule)
    const height = Math.max(...row.map((cell) => cell.length))
    for (let i = 0; i < height; i++) lines.push(format(row.map((cell) => cell[i] ?? "")))
  })
  const notes = [...summary.faults, summary.total].flatMap((row) => row.notes.map((note) => `  ${row.name}: ${note}`))
  const served = summary.opsByDatabase.map(([id, n]) => `${id} ${n}`).join(", ")
  const lostPubSub = summary.pubsub.published - summary.pubsub.received
  return [
    ...lines,
    "",
    `operations served per database: ${served}`,
    `pub/sub: ${summary.pubsub.published} published (acknowledged), ${summary.pubsub.received} received` +
      (lostPubSub > 0
        ? ` (${lostPubSub} lost: pub/sub is fire-and-forget, messages sent during a switch can be lost)`
        : ""),
    ...(notes.length > 0 ? ["notes:", ...notes] : [])
  ].join("\n")
}
