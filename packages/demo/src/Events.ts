/**
 * Turns the client's `MultiDbEvent`s into event-log lines: every switch, circuit change and "all unavailable" as it
 * happens; health results only when a database's health changes; failed commands grouped per database and
 * half-second, so an outage is a few lines rather than hundreds.
 *
 * @since 0.1.0
 */
import { MultiDbEvent } from "@effect-redis/multidb"
import { Effect, Schedule } from "effect"
import type * as Recorder from "./Recorder.js"
import type * as Timeline from "./Timeline.js"

/**
 * Consumes events; `flush` emits the grouped failed-command lines (run it periodically and at the end).
 *
 * @since 0.1.0
 */
export interface EventLog {
  readonly handle: (event: MultiDbEvent.MultiDbEvent) => Effect.Effect<void>
  readonly flush: Effect.Effect<void>
  /** `flush` every half second, until interrupted. */
  readonly flushLoop: Effect.Effect<never>
}

/**
 * An event log writing to `recorder` and passing each line to `report`.
 *
 * @since 0.1.0
 */
export const make = (
  recorder: Recorder.Recorder,
  report: (event: Timeline.TimelineEvent) => Effect.Effect<void>
): EventLog => {
  const healthy = new Map<string, boolean>()
  const failed = new Map<string, { count: number; reason: string }>()
  const emit = (kind: Timeline.EventKind, tag: string, label: string) => report(recorder.event(kind, tag, label))

  const handle = (event: MultiDbEvent.MultiDbEvent): Effect.Effect<void> =>
    MultiDbEvent.$match(event, {
      ActiveDatabaseChanged: (e) =>
        emit("switch", e._tag, `active database ${e.oldDatabase ?? "none"} → ${e.newDatabase} (${e.reason})`),
      CircuitStateChanged: (e) => emit("circuit", e._tag, `circuit ${e.database}: ${e.from} → ${e.to}`),
      HealthCheckCompleted: (e) => {
        const before = healthy.get(e.database) ?? true
        healthy.set(e.database, e.healthy)
        if (before === e.healthy) return Effect.void
        return emit(
          "health",
          e._tag,
          `health ${e.database}: ${e.healthy ? "healthy" : "unhealthy"}${e.cause === undefined ? "" : ` (${e.cause})`}`
        )
      },
      CommandsFailed: (e) =>
        Effect.sync(() => {
          const pending = failed.get(e.database) ?? { count: 0, reason: e.error }
          pending.count += e.commands.length
          pending.reason = e.error
          failed.set(e.database, pending)
        }),
      AllDatabasesUnavailable: (e) =>
        emit(
          "unavailable",
          e._tag,
          e.attempt > e.maxAttempts
            ? `no database available: failover attempts exhausted (${e.maxAttempts}), commands fail with NoValidDatabase`
            : `no database available (failover attempt ${e.attempt} of ${e.maxAttempts})`
        ),
      DatabaseAdded: (e) => emit("other", e._tag, `database ${e.database} added (weight ${e.weight})`),
      DatabaseRemoved: (e) => emit("other", e._tag, `database ${e.database} removed`),
      DatabaseWeightChanged: (e) => emit("other", e._tag, `database ${e.database} weight ${e.from} → ${e.to}`)
    })

  const flush = Effect.suspend(() => {
    const lines = [...failed.entries()]
    failed.clear()
    return Effect.forEach(
      lines,
      ([database, { count, reason }]) =>
        emit("failed", "CommandsFailed", `${count} command${count === 1 ? "" : "s"} failed on ${database}: ${reason}`),
      { discard: true }
    )
  })

  return {
    handle,
    flush,
    flushLoop: flush.pipe(Effect.repeat(Schedule.spaced("500 millis")), Effect.zipRight(Effect.never))
  }
}
