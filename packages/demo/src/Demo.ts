/**
 * One demo run: builds the client over the given databases, runs the workload with the live display while the
 * scenario plays (or for a fixed time), then reads the acknowledged writes back, prints the summary and writes the
 * HTML report.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { FailureCause, MultiDbClient, type MultiDbError, RedisConnection } from "@effect-redis/multidb"
import type { TestkitError } from "@effect-redis/testkit"
import {
  Duration,
  Effect,
  ExecutionStrategy,
  Exit,
  Fiber,
  Logger,
  type ParseResult,
  Schedule,
  Scope,
  Stream
} from "effect"
import * as AckedWrites from "./AckedWrites.js"
import * as Display from "./Display.js"
import * as Events from "./Events.js"
import * as Recorder from "./Recorder.js"
import * as Report from "./Report.js"
import * as Scenario from "./Scenario.js"
import * as Settings from "./Settings.js"
import * as Summary from "./Summary.js"
import type * as Timeline from "./Timeline.js"
import * as Workload from "./Workload.js"

/**
 * What to run.
 *
 * @since 0.1.0
 */
export interface Options {
  readonly title: string
  readonly databases: ReadonlyArray<Settings.DemoDatabase>
  /** The client settings (the scripted scenario's short timings, or the library's defaults with overrides). */
  readonly settings: Settings.ClientSettings
  /** The faults to inject; without one the workload runs for `duration`. */
  readonly script?: Scenario.Script | undefined
  readonly duration?: Duration.DurationInput | undefined
  /** Where to write the HTML report; none when undefined. */
  readonly reportPath?: string | undefined
  readonly display: Display.Display
  /** Wait until every database is healthy and the first one active before starting the workload. */
  readonly waitUntilAllHealthy?: boolean | undefined
  /** Overrides of the workload's shape. */
  readonly workload?: Partial<Workload.Options> | undefined
}

/**
 * What a run produced.
 *
 * @since 0.1.0
 */
export interface Result {
  readonly timeline: Timeline.Timeline
  readonly summary: Summary.Summary
  readonly reportPath: string | undefined
}

/**
 * Errors a run can end with.
 *
 * @since 0.1.0
 */
export type Error =
  | MultiDbError.InitialHealthCheckFailed
  | MultiDbError.InvalidRequest
  | MultiDbError.ClientClosed
  | ParseResult.ParseError
  | TestkitError.TestkitError

const header = (options: Options) => {
  const lines = [
    `${options.title}`,
    "",
    "databases:",
    ...options.databases.map(
      (d) =>
        `  ${d.id.padEnd(8)} weight ${String(d.weight).padEnd(5)} ${FailureCause.mask(d.url)}${d.url === d.directUrl ? "" : "  (fault proxy)"}`
    ),
    `client settings (${options.settings.label}):`,
    ...Settings.describe(options.settings).map(([name, value]) => `  ${name.padEnd(28)} ${value}`)
  ]
  if (options.script !== undefined)
    lines.push(`scenario "${options.script.name}":`, ...options.script.steps.map((s) => `  ${s}`))
  else
    lines.push(`workload for ${Duration.format(Duration.decode(options.duration ?? "30 seconds"))}, no fault injection`)
  const abbreviations = Object.entries(Display.errorAbbreviations).map(([tag, short]) => `${short} = ${tag}`)
  lines.push(`status line: pub/sub = received/published; errors: ${abbreviations.join(", ")}`, "")
  return lines.join("\n")
}

/**
 * Builds the client in the current scope. A failed start (the initial health check can miss its deadline on a busy
 * machine) closes what it opened and is tried again, twice.
 */
const startClient = (options: Options, display: Display.Display) =>
  Effect.uninterruptibleMask((restore) =>
    Effect.gen(function* () {
      const child = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
      return yield* restore(
        MultiDbClient.fromInput(Settings.clientConfig(options.settings, options.databases)).pipe(
          Effect.provide(RedisConnection.layer),
          Scope.extend(child)
        )
      ).pipe(Effect.onError((cause) => Scope.close(child, Exit.failCause(cause))))
    })
  ).pipe(
    Effect.tapError((error) => display.line(`client start failed: ${error.message}`)),
    Effect.retry({
      times: 2,
      while: (error) => error._tag === "InitialHealthCheckFailed"
    })
  )

/** Waits (at most 10 s) until every circuit is closed and the preferred database is active. */
const untilAllHealthy = (client: MultiDbClient.MultiDbClient, preferred: string, display: Display.Display) =>
  client.databases.pipe(
    Effect.map((databases) => databases.every((d) => d.circuit === "closed" && d.active === (d.id === preferred))),
    Effect.repeat({ schedule: Schedule.spaced("50 millis"), until: (ready) => ready }),
    Effect.timeout("10 seconds"),
    Effect.catchAll(() => display.line("warning: not every database is healthy yet; starting anyway"))
  )

/**
 * Runs the demo; the client (and anything else in the scope, such as local servers) closes with the scope.
 *
 * @since 0.1.0
 */
export const run = (options: Options): Effect.Effect<Result, Error, Scope.Scope> => {
  const { display } = options
  // The library's own log lines (warnings) go through the display, stamped with the run's clock once it started.
  const clock = { now: () => 0 }
  const logger = Logger.make(({ logLevel, message }) =>
    display.log(clock.now(), logLevel.label, (Array.isArray(message) ? message : [message]).map(String).join(" "))
  )
  return Effect.gen(function* () {
    yield* display.line(header(options))
    const client = yield* startClient(options, display)
    if (options.waitUntilAllHealthy === true) yield* untilAllHealthy(client, options.databases[0]!.id, display)
    const recorder = yield* Recorder.make(options.databases.map((d) => ({ id: d.id, weight: d.weight })))
    clock.now = recorder.now
    const eventLog = Events.make(recorder, display.event)
    const runId = Math.random().toString(36).slice(2, 8)
    const workload = { ...Workload.defaults(`demo:${runId}`), ...options.workload }

    const status = Effect.gen(function* () {
      const active = yield* client.activeDatabase
      const databases = yield* client.databases
      yield* display.status({
        elapsedMs: recorder.now(),
        active: active._tag === "Some" ? active.value.id : undefined,
        opsPerSecond: recorder.opsLastSecond(),
        errors: recorder.errorsByTag(),
        circuits: databases.map((d) => ({ id: d.id, circuit: d.circuit })),
        pubsub: recorder.pubsub()
      })
    })

    let endedAt: number | undefined
    yield* Effect.scoped(
      Effect.gen(function* () {
        yield* client.events.pipe(Stream.runForEach(eventLog.handle), Effect.forkScoped)
        yield* Effect.forkScoped(eventLog.flushLoop)
        yield* Effect.forkScoped(Workload.subscriber(client, recorder, workload))
        const traffic = yield* Effect.forkScoped(Workload.traffic(client, options.databases, recorder, workload))
        yield* Effect.forkScoped(status.pipe(Effect.zipRight(Effect.sleep(display.statusEvery)), Effect.forever))
        if (options.script !== undefined) yield* Scenario.play(options.script, recorder, display.event)
        else yield* Effect.sleep(options.duration ?? "30 seconds")
        endedAt = recorder.now()
        yield* Fiber.interrupt(traffic)
        // the last messages published are still on their way to the subscriber
        yield* Effect.sleep("300 millis")
      })
    )
    yield* eventLog.flush
    yield* status
    yield* display.end

    const timeline = recorder.timeline(endedAt)
    yield* display.line(
      `\nreading ${timeline.writes.length} acknowledged writes back from the databases that acknowledged them…`
    )
    const check = yield* AckedWrites.check(timeline.writes, new Map(options.databases.map((d) => [d.id, d.directUrl])))
    const summary = Summary.summarize(timeline, check)
    yield* display.line(`\n${Summary.renderTable(summary)}\n`)

    let reportPath: string | undefined
    if (options.reportPath !== undefined) {
      const target = path.resolve(options.reportPath)
      const html = Report.render({
        title: options.title,
        generatedAt: new Date(),
        timeline,
        summary,
        settings: Settings.describe(options.settings),
        scenario: options.script?.steps
      })
      const written = yield* Effect.tryPromise(() => fs.writeFile(target, html, "utf8")).pipe(Effect.either)
      if (written._tag === "Right") {
        reportPath = target
        yield* display.line(`report: ${target}`)
      } else {
        yield* display.line(`could not write the report to ${target}: ${String(written.left.cause)}`)
      }
    }
    return { timeline, summary, reportPath }
  }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
}

/**
 * The scripted scenario on three local databases (started here, stopped with the scope).
 *
 * @since 0.1.0
 */
export const runScripted = (options: {
  readonly scenario: "full" | "quick"
  readonly reportPath: string | undefined
  readonly display: Display.Display
}): Effect.Effect<Result, Error, Scope.Scope> =>
  Effect.gen(function* () {
    yield* options.display.line("starting three local redis-server processes behind fault proxies…")
    const local = yield* Scenario.startLocal
    const script = options.scenario === "quick" ? Scenario.quick(local) : Scenario.full(local)
    return yield* run({
      title: `effect-redis-multidb failover demo (scenario "${script.name}")`,
      databases: local.all,
      settings: Settings.scripted,
      script,
      reportPath: options.reportPath,
      display: options.display,
      waitUntilAllHealthy: true
    })
  })
