/**
 * `npm run bench`: healthy-path overhead, failover under load and memory of `@effect-redis/multidb` against real
 * redis-server processes on 127.0.0.1. Prints tables and writes JSON (`bench-results.json` at the repository root; a
 * full run also writes `packages/bench/results/latest.json`).
 *
 * Options: `--quick` (tiny counts, one repetition, tuned configuration only: a smoke test for CI),
 * `--only overhead,failover,memory`, `--rounds N` (overhead rounds), `--operations N` (overhead operations per run),
 * `--shared-process` (the overhead clients all in this process, not one process each), `--reps N` (failover
 * repetitions).
 */
import { execFileSync, spawn } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { RedisBinary } from "@effect-redis/testkit"
import { Cause, Duration, Effect, Exit, Fiber, FiberId } from "effect"
import * as Failover from "./Failover.js"
import type * as Memory from "./Memory.js"
import * as Overhead from "./Overhead.js"
import { formatSummary, mib, type Summary, table } from "./Stats.js"

const here = path.dirname(fileURLToPath(import.meta.url))
/** This package's directory: `here` is its `src` (run with tsx) or `build/src` (compiled, as `npm run bench` runs). */
const packageRoot = path.resolve(here, path.basename(path.dirname(here)) === "build" ? "../.." : "..")
const repoRoot = path.resolve(packageRoot, "../..")

// ---- options ---------------------------------------------------------------------------------------------------

const argv = process.argv.slice(2)
const flag = (name: string) => argv.includes(name)
const value = (name: string) => {
  const at = argv.indexOf(name)
  return at >= 0 ? argv[at + 1] : undefined
}
const quick = flag("--quick")
const only = new Set((value("--only") ?? "overhead,failover,memory").split(",").map((s) => s.trim()))
const reps = Number(value("--reps") ?? (quick ? 1 : 5))
const rounds = Number(value("--rounds") ?? (quick ? 1 : 24))
const operationsFlag = value("--operations")
/** `--shared-process`: the overhead clients all in this process instead of one process each. */
const sharedProcess = flag("--shared-process")

const plan = {
  mode: quick ? "quick" : "full",
  overhead: {
    operations:
      operationsFlag === undefined
        ? { 1: quick ? 4_000 : 25_000, 64: quick ? 4_000 : 100_000 }
        : { 1: Number(operationsFlag), 64: Number(operationsFlag) },
    warmupOperations: quick ? 1_000 : 10_000,
    rounds,
    concurrencies: [1, 64],
    slices: quick ? 2 : 10,
    sliceTimeout: (quick ? "10 seconds" : "60 seconds") as Duration.DurationInput,
    processes: (sharedProcess ? "shared" : "own") as Overhead.Processes
  },
  failover: {
    concurrency: 16,
    repetitions: reps,
    /** Failover and fail-back with the defaults take 60 s of grace period plus up to 30 s of fallback tick. */
    defaultFailbackRepetitions: quick ? 0 : 1,
    profiles: (quick ? ["tuned"] : ["tuned", "defaults"]) as ReadonlyArray<Failover.Profile>
  },
  memory: {
    outcomes: quick ? 1_000_000 : 10_000_000,
    simulatedMinutes: quick ? 1 : 60,
    databases: 50
  }
}

const log = (line: string) => process.stdout.write(`${line}\n`)

// ---- machine ---------------------------------------------------------------------------------------------------

const machine = Effect.gen(function* () {
  const binary = yield* RedisBinary.make()
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model ?? "unknown",
    cpus: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    redisServer: binary.version,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100)
  }
})

/** The library's commit, and whether its sources differ from it (best effort: empty outside a git checkout). */
const libraryVersion = () => {
  const git = (...args: Array<string>) => {
    try {
      return execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
    } catch {
      return ""
    }
  }
  return {
    commit: git("rev-parse", "--short", "HEAD"),
    uncommittedChanges: git("status", "--porcelain", "--", "packages/multidb/src") !== ""
  }
}

// ---- failover plan ---------------------------------------------------------------------------------------------

const scenarioOptions = (
  fault: Failover.Fault,
  profile: Failover.Profile,
  repetition: number,
  measureFailback: boolean
): Failover.ScenarioOptions => ({
  fault,
  profile,
  repetition,
  concurrency: plan.failover.concurrency,
  warmup: "500 millis",
  hold: quick ? "500 millis" : "1 second",
  failoverBound: profile === "tuned" ? "20 seconds" : "60 seconds",
  measureFailback,
  failbackBound: profile === "tuned" ? "30 seconds" : "200 seconds",
  tail: "300 millis"
})

/** Every fault, `repetitions` times, with one profile; with the defaults without fail-back (see `defaultFailback`). */
const failoverSection = (profile: Failover.Profile) =>
  Effect.gen(function* () {
    const results: Array<Failover.ScenarioResult> = []
    for (let repetition = 0; repetition < plan.failover.repetitions; repetition++) {
      for (const fault of Failover.faults) {
        const measureFailback = profile === "tuned"
        const r = yield* Failover.scenario(scenarioOptions(fault, profile, repetition, measureFailback))
        results.push(r)
        log(
          `  ${profile} ${Failover.faultLabels[fault]} #${repetition + 1}: failover ${fmt(r.failoverSeconds)} s, ` +
            `fail-back ${r.recoverySeconds === null ? "not measured" : `${fmt(r.failbackSeconds)} s`}, ` +
            `failed GET ${r.failedGets} / SET ${r.failedSets}`
        )
      }
    }
    return results
  })

/** With the defaults, one repetition of each fault with fail-back, all four at once (they mostly wait on timers). */
const defaultFailback = Effect.forEach(
  Array.from({ length: plan.failover.defaultFailbackRepetitions }, (_, i) => i),
  (repetition) =>
    Effect.forEach(
      Failover.faults,
      (fault) =>
        Failover.scenario(scenarioOptions(fault, "defaults", repetition, true)).pipe(
          Effect.tap((r) =>
            Effect.sync(() =>
              log(`  defaults ${Failover.faultLabels[fault]} fail-back #${repetition + 1}: ${fmt(r.failbackSeconds)} s`)
            )
          )
        ),
      { concurrency: "unbounded" }
    ),
  { concurrency: 1 }
).pipe(Effect.map((all) => all.flat()))

// ---- memory (child process) ------------------------------------------------------------------------------------

interface MemoryResult {
  readonly detector: Memory.DetectorResult
  readonly healthChecks: Memory.HealthResult
}

const memorySection = (bound: Duration.DurationInput) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      spawn(
        process.execPath,
        [
          ...process.execArgv,
          // the same form as this file: compiled (`npm run bench`) or the TypeScript source (run with tsx)
          path.join(here, `MemoryMain${path.extname(fileURLToPath(import.meta.url))}`),
          String(plan.memory.outcomes),
          String(plan.memory.simulatedMinutes),
          String(plan.memory.databases)
        ],
        { stdio: ["ignore", "pipe", "inherit"] }
      )
    ),
    (child) =>
      Effect.sync(() => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
      })
  ).pipe(
    Effect.flatMap((child) =>
      Effect.async<MemoryResult, Error>((resume) => {
        let output = ""
        child.stdout?.on("data", (chunk: Buffer) => {
          output += chunk.toString("utf8")
        })
        child.on("error", (error) => resume(Effect.fail(error)))
        child.on("close", (code, signal) => {
          if (code !== 0) return resume(Effect.fail(new Error(`memory benchmark exited with ${code ?? signal}`)))
          try {
            resume(Effect.succeed(JSON.parse(output.trim().split("\n").at(-1)!) as MemoryResult))
          } catch (error) {
            resume(Effect.fail(new Error(`memory benchmark printed no result: ${String(error)}`)))
          }
        })
      })
    ),
    Effect.timeoutFail({ duration: bound, onTimeout: () => new Error("memory benchmark timed out") }),
    Effect.scoped
  )

// ---- rendering -------------------------------------------------------------------------------------------------

const fmt = (n: number | null | undefined, digits = 3) => (n === null || n === undefined ? "n/a" : n.toFixed(digits))
const fs2 = (s: Summary) => formatSummary(s, 2)
const fs3 = (s: Summary) => formatSummary(s, 3)

const renderOverhead = (result: Overhead.Result) => {
  const lines: Array<string> = []
  lines.push(
    `${result.options.processes === "own" ? "each client in a process of its own" : "all clients in one process"}, ` +
      `the runs of a round alternating in ${result.options.slices} slices`
  )
  for (const c of result.byConcurrency) {
    lines.push(`concurrency ${c.concurrency}`)
    lines.push(
      table(
        ["client", "ops/s", "p50 ms", "p99 ms", "CPU µs/op"],
        Overhead.clientKinds.map((k) => [
          Overhead.clientLabels[k],
          formatSummary(c.clients[k].opsPerSecond, 0),
          fs3(c.clients[k].p50Millis),
          fs3(c.clients[k].p99Millis),
          formatSummary(c.clients[k].cpuMicrosPerOp, 1)
        ])
      )
    )
    lines.push(
      `ratios (median [range] of per-round ratios of ops/s): C/B ${fs3(c.ratios.multidbOverEffect)}, ` +
        `C/B′ ${fs3(c.ratios.multidbOverLean)}, ` +
        `C/A ${fs3(c.ratios.multidbOverPlain)}, B/A ${fs3(c.ratios.effectOverPlain)}; ` +
        `CPU per op C÷B ${fmt(c.ratios.cpuMultidbOverEffect, 2)}, C÷B′ ${fmt(c.ratios.cpuMultidbOverLean, 2)}`
    )
    lines.push(
      `tracing: C₀/B′ ${fs3(c.ratios.untracedOverLean)} (off), C/B′ ${fs3(c.ratios.multidbOverLean)} (on), ` +
        `C⁺/B′ ${fs3(c.ratios.otelOverLean)} (on, OTel SDK); C/C₀ ${fs3(c.ratios.multidbOverUntraced)}, ` +
        `C⁺/C₀ ${fs3(c.ratios.otelOverUntraced)}; CPU µs/op added: ${fmt(c.ratios.tracingCpuMicros, 1)} (C − C₀), ` +
        `${fmt(c.ratios.otelCpuMicros, 1)} (C⁺ − C₀)`
    )
    lines.push("")
  }
  return lines.join("\n")
}

const errorsText = (errors: Record<string, number>) =>
  Object.keys(errors).length === 0
    ? "none"
    : Object.entries(errors)
        .map(([k, n]) => `${k} ×${n}`)
        .join("; ")

const renderFailover = (aggregates: ReadonlyArray<Failover.Aggregate>) => {
  const lines: Array<string> = []
  for (const profile of ["tuned", "defaults"] as const) {
    const rows = aggregates.filter((a) => a.profile === profile)
    if (rows.length === 0) continue
    lines.push(`${profile} (median [min–max] over ${rows[0]!.repetitions} repetitions, seconds)`)
    lines.push(
      table(
        [
          "fault",
          "→ first GET on west",
          "→ switch event",
          "failed GET",
          "failed SET",
          "fail-back → first GET on east",
          "grace left",
          "written twice told/untold"
        ],
        rows.map((a) => [
          Failover.faultLabels[a.fault],
          fs3(a.failover),
          fs3(a.switch),
          formatSummary(a.failedGets, 0),
          formatSummary(a.failedSets, 0),
          a.failbackRepetitions === 0 ? "not measured" : `${fs2(a.failback)} (n=${a.failbackRepetitions})`,
          a.failbackRepetitions === 0 ? "" : fs2(a.graceLeftAtRecovery),
          a.failbackRepetitions === 0 ? "" : `${a.writesOnBothTotal.told}/${a.writesOnBothTotal.untold}`
        ])
      )
    )
    for (const a of rows)
      lines.push(`  errors to the caller, ${Failover.faultLabels[a.fault]}: ${errorsText(a.errorsTotal)}`)
    lines.push("")
  }
  return lines.join("\n")
}

const renderMemory = (m: MemoryResult) => {
  const d = m.detector
  const h = m.healthChecks
  return [
    table(
      ["measurement", "heap before", "heap after", "growth", "notes"],
      [
        [
          `failure detector, ${(d.outcomes / 1e6).toFixed(0)}M outcomes`,
          mib(d.heapBeforeBytes),
          mib(d.heapAfterBytes),
          mib(d.growthBytes),
          `${d.failures} failures, ${d.trips} trips, ${d.seconds.toFixed(1)} s`
        ],
        [
          `${h.databases} databases, ${h.simulatedMinutes} simulated min`,
          mib(h.heapBaselineBytes),
          mib(h.heapAfterBytes),
          mib(h.growthBytes),
          `${h.pings} probes, ${h.switches} switches, ${h.seconds.toFixed(0)} s`
        ]
      ]
    ),
    `  detector heap samples (MiB): ${d.samples.map((s) => (s.heapUsedBytes / 1048576).toFixed(2)).join(" ")}; ` +
      `trend after the first sample ${(d.slopeBytesPerMillion / 1024).toFixed(1)} KiB per million outcomes`,
    `  health heap samples (MiB, every ${(h.samples[1]?.at ?? 0) - (h.samples[0]?.at ?? 0)} simulated min): ${h.samples.map((s) => (s.heapUsedBytes / 1048576).toFixed(2)).join(" ")}; ` +
      `trend ${(h.slopeBytesPerMinute / 1024).toFixed(1)} KiB per simulated minute`,
    ""
  ].join("\n")
}

// ---- targets (beat redis-py's measured figures)----------------------------------------------------------------------

interface Target {
  readonly figure: string
  readonly target: string
  readonly measured: string
  readonly pass: boolean | null
}

const targets = (
  overhead: Overhead.Result | undefined,
  aggregates: ReadonlyArray<Failover.Aggregate>,
  scenarios: ReadonlyArray<Failover.ScenarioResult>,
  memory: MemoryResult | undefined
): ReadonlyArray<Target> => {
  const out: Array<Target> = []
  for (const c of overhead?.byConcurrency ?? []) {
    const r = c.ratios.multidbOverEffect.median
    out.push({
      figure: `healthy path C/B, concurrency ${c.concurrency}`,
      target: ">= 0.95",
      measured: fmt(r),
      pass: r === null ? null : r >= 0.95
    })
    const lean = c.ratios.multidbOverLean.median
    out.push({
      figure: `healthy path C/B′ (node-redis timer off in both), concurrency ${c.concurrency}`,
      target: ">= 0.95",
      measured: fmt(lean),
      pass: lean === null ? null : lean >= 0.95
    })
    const untraced = c.ratios.untracedOverLean.median
    out.push({
      figure: `healthy path C₀/B′ (tracing: false), concurrency ${c.concurrency}`,
      target: ">= 0.95",
      measured: fmt(untraced),
      pass: untraced === null ? null : untraced >= 0.95
    })
  }
  const find = (profile: Failover.Profile, fault: Failover.Fault) =>
    aggregates.find((a) => a.profile === profile && a.fault === fault)
  const commandTimeout = {
    defaults: 2,
    tuned: Duration.toSeconds(Duration.decode(Failover.tunedOptions.commandTimeout))
  }
  for (const profile of ["defaults", "tuned"] as const) {
    const kill = find(profile, "kill")
    if (kill !== undefined) {
      const bound = profile === "defaults" ? 1 : 0.1
      out.push({
        figure: `kill -9 → first command on west (${profile})`,
        target: `<= ${bound} s`,
        measured: fs3(kill.failover),
        pass: kill.failover.median === null ? null : kill.failover.median <= bound
      })
    }
    for (const fault of ["sigstop", "blackhole"] as const) {
      const a = find(profile, fault)
      if (a === undefined) continue
      const bound = commandTimeout[profile] + 0.2
      out.push({
        figure: `${Failover.faultLabels[fault]} → first command on west (${profile})`,
        target: `<= ${bound.toFixed(1)} s (command timeout + 0.2 s)`,
        measured: fs3(a.failover),
        pass: a.failover.median === null ? null : a.failover.median <= bound
      })
    }
    const hard = aggregates.filter((a) => a.profile === profile && (a.fault === "kill" || a.fault === "reset"))
    if (hard.length > 0) {
      const readErrors = hard.reduce(
        (n, a) =>
          n +
          Object.entries(a.errorsTotal)
            .filter(([k]) => k.startsWith("GET"))
            .reduce((m, [, v]) => m + v, 0),
        0
      )
      const badWrites = hard.reduce(
        (n, a) =>
          n +
          Object.entries(a.errorsTotal)
            .filter(([k]) => k.startsWith("SET") && !k.includes("RedisConnectionError (mayHaveExecuted)"))
            .reduce((m, [, v]) => m + v, 0),
        0
      )
      out.push({
        figure: `errors to the caller in hard failovers (${profile}): reads; writes other than mayHaveExecuted`,
        target: "0; 0",
        measured: `${readErrors}; ${badWrites}`,
        pass: readErrors === 0 && badWrites === 0
      })
    }
  }
  const measuredBack = scenarios.filter((s) => s.recoverySeconds !== null)
  if (measuredBack.length > 0) {
    const untold = measuredBack.reduce((n, s) => n + s.writesOnBoth.untold, 0)
    out.push({
      figure: "writes applied twice without the caller being told",
      target: "0",
      measured: String(untold),
      pass: untold === 0
    })
    const late = measuredBack.filter((s) => {
      const interval = s.profile === "tuned" ? 1 : 5
      const timeout = s.profile === "tuned" ? 0.5 : 3
      const fallback = s.profile === "tuned" ? 5 : 30
      const bound = (s.graceLeftAtRecoverySeconds ?? 0) + interval + timeout + fallback
      return s.failbackSeconds === null || s.failbackSeconds > bound
    })
    out.push({
      figure: "recovery → first GET on east, every scenario",
      target: "<= grace left + health interval + health timeout + fallback interval",
      measured: `${measuredBack.length - late.length} of ${measuredBack.length} within`,
      pass: late.length === 0
    })
  }
  if (memory !== undefined) {
    const d = memory.detector
    const afterFirst = d.samples[1]?.heapUsedBytes ?? d.heapBeforeBytes
    const last = d.samples.at(-1)?.heapUsedBytes ?? d.heapAfterBytes
    const growthAfterFirstMillion = last - afterFirst
    out.push({
      figure: "failure-detector heap growth from its first to its last million outcomes",
      target: "bounded (< 1 MiB)",
      measured: mib(growthAfterFirstMillion),
      pass: growthAfterFirstMillion < 1024 * 1024
    })
    const h = memory.healthChecks
    out.push({
      figure: `heap growth over ${h.simulatedMinutes} simulated minutes, ${h.databases} databases`,
      target: "bounded (< 2 MiB)",
      measured: `${mib(h.growthBytes)} (trend ${(h.slopeBytesPerMinute / 1024).toFixed(1)} KiB/min)`,
      pass: h.growthBytes < 2 * 1024 * 1024
    })
  }
  return out
}

// ---- program ---------------------------------------------------------------------------------------------------

const program = Effect.gen(function* () {
  const started = performance.now()
  const info = yield* machine
  const library = libraryVersion()
  log(
    `effect-redis-multidb benchmarks (${plan.mode}) on ${info.cpus} × ${info.cpuModel}, ${info.memoryGiB} GiB, ` +
      `node ${info.node}, redis-server ${info.redisServer}, load average ${info.loadAverageAtStart.join(" ")}; ` +
      `library at ${library.commit || "?"}${library.uncommittedChanges ? " with uncommitted changes" : ""}`
  )
  const timings: Record<string, number> = {}
  const timed = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) =>
    Effect.gen(function* () {
      const t0 = performance.now()
      log(`\n== ${name} ==`)
      const a = yield* effect
      timings[name] = Math.round((performance.now() - t0) / 100) / 10
      return a
    })

  const overhead = only.has("overhead") ? yield* timed("overhead", Overhead.run(plan.overhead, log)) : undefined
  if (overhead !== undefined) log(`\n${renderOverhead(overhead)}`)

  let scenarios: Array<Failover.ScenarioResult> = []
  let memory: MemoryResult | undefined
  const memoryBound = quick ? "2 minutes" : "20 minutes"
  if (only.has("failover")) {
    // --quick is a smoke test that must stay well under a minute: its memory child runs alongside.
    const quickMemory = quick && only.has("memory") ? yield* Effect.fork(memorySection(memoryBound)) : undefined
    scenarios = [...(yield* timed("failover, tuned", failoverSection("tuned")))]
    if (quickMemory !== undefined) memory = yield* timed("memory (finishing)", Fiber.join(quickMemory))
    if (plan.failover.profiles.includes("defaults")) {
      // The defaults section is bound by timers (2 s command timeout, 0.5 s probe pauses, 60 s grace period, 30 s
      // fallback tick) and the memory child mostly waits on the TestClock's timers, with a heap of its own: running
      // them at once saves minutes. The tuned figures, down to tens of milliseconds, are measured alone.
      const memoryFiber = only.has("memory") ? yield* Effect.fork(memorySection(memoryBound)) : undefined
      scenarios = [...scenarios, ...(yield* timed("failover, defaults", failoverSection("defaults")))]
      if (plan.failover.defaultFailbackRepetitions > 0) {
        scenarios = [...scenarios, ...(yield* timed("fail-back, defaults (4 faults at once)", defaultFailback))]
      }
      if (memoryFiber !== undefined) memory = yield* timed("memory (finishing)", Fiber.join(memoryFiber))
    }
  }
  if (only.has("memory") && memory === undefined) memory = yield* timed("memory", memorySection(memoryBound))

  const failoverOnly = scenarios.filter((s) => s.profile === "tuned" || s.recoverySeconds === null)
  const failbackDefaults = scenarios.filter((s) => s.profile === "defaults" && s.recoverySeconds !== null)
  const aggregates = Failover.aggregate(failoverOnly).map((a) => {
    if (a.profile !== "defaults") return a
    const back = Failover.aggregate(failbackDefaults).find((b) => b.fault === a.fault)
    return back === undefined
      ? a
      : {
          ...a,
          failback: back.failback,
          failbackSwitch: back.failbackSwitch,
          graceLeftAtRecovery: back.graceLeftAtRecovery,
          writesOnBothTotal: back.writesOnBothTotal,
          failbackRepetitions: back.failbackRepetitions
        }
  })
  if (scenarios.length > 0) log(`\n${renderFailover(aggregates)}`)
  if (memory !== undefined) log(`\n${renderMemory(memory)}`)

  const checked = targets(overhead, aggregates, scenarios, memory)
  log(
    `\n${table(
      ["target (redis-py beaten)", "target", "measured", "verdict"],
      checked.map((t) => [t.figure, t.target, t.measured, t.pass === null ? "n/a" : t.pass ? "PASS" : "MISS"]),
      { leftAligned: true }
    )}`
  )

  const totalSeconds = Math.round((performance.now() - started) / 100) / 10
  const output = {
    generatedAt: new Date().toISOString(),
    mode: plan.mode,
    machine: { ...info, loadAverageAtEnd: os.loadavg().map((l) => Math.round(l * 100) / 100) },
    library,
    plan,
    tunedConfig: { ...Failover.tunedOptions, gracePeriod: Failover.tunedGracePeriod },
    durationsSeconds: { ...timings, total: totalSeconds },
    overhead,
    failover: { aggregates, scenarios },
    memory,
    targets: checked
  }
  const json = `${JSON.stringify(output, null, 2)}\n`
  const files = [path.join(repoRoot, "bench-results.json")]
  if (!quick && only.size === 3) files.push(path.join(packageRoot, "results", "latest.json"))
  for (const file of files) {
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, json)
  }
  log(`\nfinished in ${totalSeconds} s; wrote ${files.map((f) => path.relative(process.cwd(), f)).join(", ")}`)
})

const fiber = Effect.runFork(program)
const stop = () => {
  process.exitCode = 130
  fiber.unsafeInterruptAsFork(FiberId.none)
}
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
fiber.addObserver((exit) => {
  if (Exit.isFailure(exit)) {
    if (Exit.isInterrupted(exit)) process.stderr.write("interrupted: servers, proxies and clients closed\n")
    else {
      process.stderr.write(`benchmark failed:\n${Cause.pretty(exit.cause)}\n`)
      process.exitCode = 1
    }
  }
  // node-redis sockets and servers are closed by now; do not wait on anything else.
  process.exit(process.exitCode ?? 0)
})
