import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { RedisServer } from "@effect-redis/testkit"
import { Duration, Effect, Either } from "effect"
import * as Args from "../src/Args.js"
import * as Demo from "../src/Demo.js"
import * as Display from "../src/Display.js"
import * as Report from "../src/Report.js"
import * as Settings from "../src/Settings.js"
import * as Summary from "../src/Summary.js"
import type * as Timeline from "../src/Timeline.js"

/** A run of 20 s: east serves, is killed at 4 s (west takes over at 4.05 s), restarted at 10 s (back at 12.5 s). */
const syntheticTimeline = (): Timeline.Timeline => {
  const ops: Array<Timeline.Op> = []
  for (let at = 0; at < 20_000; at += 10) {
    const database = at < 4_000 ? "east" : at < 4_050 ? undefined : at < 12_500 ? "west" : "east"
    if (database !== undefined) ops.push({ at, database, kind: at % 20 === 0 ? "read" : "write" })
  }
  const writes: Array<Timeline.AckedWrite> = ops
    .filter((op) => op.kind === "write")
    .map((op, i) => ({ at: op.at, key: `k:${i}`, value: String(i), database: op.database }))
  const events: Array<Timeline.TimelineEvent> = [
    { at: 4_000, kind: "fault", tag: "Fault", label: "kill -9 east" },
    { at: 4_010, kind: "circuit", tag: "CircuitStateChanged", label: "circuit east: closed → open" },
    { at: 4_020, kind: "switch", tag: "ActiveDatabaseChanged", label: "active database east → west (automatic)" },
    { at: 4_030, kind: "failed", tag: "CommandsFailed", label: "3 commands failed on east: <ECONNRESET>" },
    { at: 10_000, kind: "recovery", tag: "Recovery", label: "east restarted" },
    { at: 10_500, kind: "health", tag: "HealthCheckCompleted", label: "health east: healthy" },
    { at: 12_490, kind: "switch", tag: "ActiveDatabaseChanged", label: "active database west → east (fallback)" },
    { at: 15_000, kind: "fault", tag: "Fault", label: "latency" },
    { at: 17_000, kind: "recovery", tag: "Recovery", label: "latency removed" }
  ]
  return {
    databases: [
      { id: "east", weight: 1 },
      { id: "west", weight: 0.5 },
      { id: "south", weight: 0.25 }
    ],
    durationMs: 20_000,
    ops,
    errors: [
      { at: 4_001, tag: "RedisConnectionError" },
      { at: 4_002, tag: "RedisConnectionError" },
      { at: 15_500, tag: "TemporarilyUnavailable" }
    ],
    writes,
    events,
    faults: [
      {
        id: "kill-east",
        name: "kill -9 east",
        target: "east",
        failBackTo: "east",
        injectedAt: 4_000,
        recoveredAt: 10_000
      },
      {
        id: "latency-east",
        name: "latency east",
        target: "east",
        failBackTo: "east",
        injectedAt: 15_000,
        recoveredAt: 17_000
      }
    ],
    pubsub: { published: 200, received: 199, receivedBy: { east: 120, west: 79 } }
  }
}

/** Every element of an SVG/HTML fragment, checked for balance: a tiny parser, enough to catch broken markup. */
const parseElements = (markup: string) => {
  const elements: Array<{ readonly name: string; readonly attributes: Record<string, string> }> = []
  const stack: Array<string> = []
  const tag = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>/g
  for (const match of markup.matchAll(tag)) {
    const [, closing, name, rawAttributes, selfClosing] = match
    if (closing === "/") {
      expect(stack.pop(), `closing </${name}>`).toBe(name)
      continue
    }
    const attributes: Record<string, string> = {}
    for (const [, key, value] of rawAttributes!.matchAll(/([\w:-]+)="([^"]*)"/g)) attributes[key!] = value!
    elements.push({ name: name!, attributes })
    if (selfClosing !== "/") stack.push(name!)
  }
  expect(stack).toEqual([])
  return elements
}

const renderSynthetic = () => {
  const timeline = syntheticTimeline()
  const summary = Summary.summarize(timeline, { lost: new Set(["k:3", "k:500"]), unverified: new Set() })
  const html = Report.render({
    title: "synthetic <run>",
    generatedAt: new Date(0),
    timeline,
    summary,
    settings: [["commandTimeout", "300 millis"]],
    scenario: ["4 s kill"]
  })
  return { timeline, summary, html }
}

const svgOf = (html: string) => {
  const svg = /<svg[\s\S]*<\/svg>/.exec(html)
  expect(svg).not.toBeNull()
  return svg![0]
}

describe("report", () => {
  it("draws one series per database, a marker per event and a span per fault", () => {
    const { timeline, html } = renderSynthetic()
    const elements = parseElements(svgOf(html))
    const series = elements.filter((e) => e.attributes["data-series"] !== undefined)
    expect(series.map((e) => e.attributes["data-series"])).toEqual(["east", "west", "south"])
    expect(
      series.every((e) => e.name === "path" && /^M[\d.]+,[\d.]+( L[\d.]+,[\d.]+)+$/.test(e.attributes["d"]!))
    ).toBe(true)
    const markers = elements.filter((e) => e.attributes["data-event"] !== undefined)
    expect(markers.map((e) => e.attributes["data-event"])).toEqual(timeline.events.map((e) => e.tag))
    expect(markers.map((e) => Number(e.attributes["data-at"]))).toEqual(timeline.events.map((e) => e.at / 1000))
    expect(
      elements.filter((e) => e.attributes["data-fault"] !== undefined).map((e) => e.attributes["data-fault"])
    ).toEqual(["kill-east", "latency-east"])
  })

  it("plots what each database served: west carries the traffic while east is down", () => {
    const { html } = renderSynthetic()
    const elements = parseElements(svgOf(html))
    const points = (id: string) =>
      [
        ...elements.find((e) => e.attributes["data-series"] === id)!.attributes["d"]!.matchAll(/([\d.]+),([\d.]+)/g)
      ].map(([, x, y]) => ({ x: Number(x), y: Number(y) }))
    const baseline = Math.max(...points("south").map((p) => p.y)) // south served nothing: its line is the zero line
    expect(points("south").every((p) => p.y === baseline)).toBe(true)
    expect(points("east")).toHaveLength(40) // 20 s in 500 ms buckets
    const middle = 16 // bucket 8 s – 8.5 s
    expect(points("west")[middle]!.y).toBeLessThan(baseline)
    expect(points("east")[middle]!.y).toBe(baseline)
  })

  it("has a summary row per fault with failover, fail-back, failures and lost writes", () => {
    const { html, timeline } = renderSynthetic()
    const rows = [...html.matchAll(/<tr data-fault-row="([^"]+)">([\s\S]*?)<\/tr>/g)]
    expect(rows.map((r) => r[1])).toEqual(["kill-east", "latency-east"])
    expect(rows[0]![2]).toContain("0.050 s → west")
    expect(rows[0]![2]).toContain("2.500 s → east")
    expect(rows[0]![2]).toContain("RedisConnectionError 2")
    expect(rows[1]![2]).toContain("TemporarilyUnavailable 1")
    expect(html).toMatch(new RegExp(`<tr data-total-row>[\\s\\S]*?2 of ${timeline.writes.length}<`))
  })

  it("is one self-contained page with escaped text", () => {
    const { html } = renderSynthetic()
    expect(html.startsWith("<!doctype html>")).toBe(true)
    expect(html).not.toMatch(/<script|<link|\ssrc=|href="http/)
    expect(html).toContain("synthetic &lt;run&gt;")
    expect(html).toContain("&lt;ECONNRESET&gt;")
  })
})

describe("summary", () => {
  it("measures failover to the first operation served elsewhere and fail-back to the first served by the preferred", () => {
    const timeline = syntheticTimeline()
    const summary = Summary.summarize(timeline)
    const [kill, latency] = summary.faults
    expect(kill).toMatchObject({ failoverMs: 50, failoverTo: "west", failBackMs: 2_500, failBackTo: "east" })
    expect(kill!.failed).toEqual([["RedisConnectionError", 2]])
    expect(latency).toMatchObject({ failoverMs: undefined, failBackMs: undefined, writesLost: undefined })
    expect(latency!.notes).toEqual(["no failover: east kept serving"])
    expect(summary.total.failed).toEqual([
      ["RedisConnectionError", 2],
      ["TemporarilyUnavailable", 1]
    ])
  })

  it("counts a write as lost in the window of the fault it was acknowledged in", () => {
    const timeline = syntheticTimeline()
    const late = timeline.writes.find((w) => w.at >= 15_000)!
    const summary = Summary.summarize(timeline, { lost: new Set([late.key]), unverified: new Set() })
    expect(summary.faults.map((f) => f.writesLost)).toEqual([0, 1])
    expect(summary.total.writesLost).toBe(1)
    expect(Summary.renderTable(summary)).toMatch(/latency east .* 1 of \d+/)
  })
})

describe("command line", () => {
  it("runs the scripted scenario without arguments", () => {
    expect(Args.parse([])).toEqual(Either.right({ _tag: "Scripted", scenario: "full", reportPath: undefined }))
  })

  it("reads repeated --database url=weight and a duration", () => {
    const parsed = Args.parse([
      "--database",
      "redis://10.0.0.1:6379=1.0",
      "--database=redis://:secret@10.0.0.2:6380=0.5",
      "--duration",
      "45s"
    ])
    expect(Either.isRight(parsed)).toBe(true)
    const args = Either.getOrThrow(parsed)
    expect(args._tag).toBe("Databases")
    if (args._tag !== "Databases") return
    expect(args.databases).toEqual([
      { id: "10.0.0.1:6379", url: "redis://10.0.0.1:6379", weight: 1 },
      { id: "10.0.0.2:6380", url: "redis://:secret@10.0.0.2:6380", weight: 0.5 }
    ])
    expect(args.report).toBeUndefined()
    expect(args.overrides).toEqual({})
  })

  it("reads client settings for a --database run and refuses them for the scenario", () => {
    const parsed = Args.parse([
      "--database",
      "redis://h:1",
      "--command-timeout",
      "1500ms",
      "--health-check-interval=10s",
      "--health-check-probes",
      "1",
      "--fallback-interval",
      "0"
    ])
    const args = Either.getOrThrow(parsed)
    if (args._tag !== "Databases") throw new Error(`expected a --database run, got ${args._tag}`)
    expect(args.overrides).toEqual({
      commandTimeout: Duration.millis(1500),
      healthCheckInterval: Duration.seconds(10),
      healthCheckProbes: 1,
      autoFallbackInterval: Duration.zero
    })
    const scenario = Args.parse(["--command-timeout", "1s"])
    expect(Either.isLeft(scenario) && scenario.left.reason).toMatch(/apply to --database runs only/)
    const probes = Args.parse(["--database", "redis://h:1", "--health-check-probes", "0"])
    expect(Either.isLeft(probes) && probes.left.reason).toMatch(/--health-check-probes 0: expected a whole number/)
  })

  it("uses the library's defaults against the user's databases, marking what was overridden", () => {
    const described = new Map(Settings.describe(Settings.forUser({ healthCheckInterval: Duration.seconds(10) })))
    expect(described.get("commandTimeout")).toBe("2s")
    expect(described.get("healthCheckTimeout")).toBe("3s")
    expect(described.get("healthCheckProbes")).toBe("3")
    expect(described.get("gracePeriod (each database)")).toBe("1m")
    expect(described.get("healthCheckInterval")).toBe("10s *")
    const scripted = new Map(Settings.describe(Settings.scripted))
    expect(scripted.get("commandTimeout")).toBe("300ms *")
  })

  it("rejects a weight that is not a number", () => {
    const parsed = Args.parse(["--database", "redis://h:1=heavy"])
    expect(Either.isLeft(parsed) && parsed.left.reason).toMatch(/weight must be a number/)
  })
})

describe("a --database run against a real server", () => {
  it.live(
    "prints the settings in use and never the password, and runs the workload",
    () =>
      Effect.gen(function* () {
        let output = ""
        const display = Display.make({
          isTTY: false,
          color: false,
          columns: () => 200,
          write: (text) => {
            output += text
          }
        })
        const result = yield* Effect.scoped(
          Effect.gen(function* () {
            const server = yield* RedisServer.make({ password: "demo-pass-4711" })
            return yield* Demo.run({
              title: "own databases",
              databases: [{ id: "mine", weight: 1, url: server.url, directUrl: server.url }],
              settings: Settings.forUser({ healthCheckProbes: 1 }),
              duration: "2 seconds",
              display
            })
          })
        )
        expect(output).toMatch(/client settings \(the library's defaults/)
        expect(output).toMatch(/commandTimeout +2s\n/)
        expect(output).toMatch(/healthCheckProbes +1 \*/)
        expect(output).toContain("redis://:***@127.0.0.1:")
        expect(output).not.toContain("demo-pass-4711")
        expect(result.summary.total.writesAcked).toBeGreaterThan(10)
      }),
    60_000
  )
})

describe("the quick scenario against real servers", () => {
  it.live(
    "kills and restarts east, writes a report with three series and a marker per event, leaves no server",
    () =>
      Effect.gen(function* () {
        const dir = yield* Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "demo-report-")))
        const reportPath = path.join(dir, "failover-report.html")
        let output = ""
        const display = Display.make({
          isTTY: false,
          color: false,
          columns: () => 200,
          write: (text) => {
            output += text
          }
        })
        const result = yield* Effect.scoped(Demo.runScripted({ scenario: "quick", reportPath, display }))
        expect(yield* RedisServer.leftoverProcesses).toEqual([])

        const [kill] = result.summary.faults
        expect(kill).toMatchObject({ id: "kill-east", failoverTo: "west", failBackTo: "east", writesLost: 0 })
        expect(kill!.failoverMs).toBeLessThan(2_000)
        expect(result.summary.total.writesAcked).toBeGreaterThan(100)
        expect(output).toMatch(/FAULT +kill -9 east/)
        expect(output).toMatch(/SWITCH +active database east → west/)
        expect(output).toMatch(/active (east|west) │ +\d+ ops\/s/)
        expect(output).toContain("acked writes lost")

        const html = yield* Effect.promise(() => fs.readFile(reportPath, "utf8"))
        const elements = parseElements(svgOf(html))
        expect(elements.filter((e) => e.attributes["data-series"] !== undefined)).toHaveLength(3)
        expect(elements.filter((e) => e.attributes["data-event"] !== undefined)).toHaveLength(
          result.timeline.events.length
        )
        expect(html).toContain('<tr data-fault-row="kill-east">')
        yield* Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
      }),
    60_000
  )
})
