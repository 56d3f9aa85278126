/**
 * The scripted scenario: three local `redis-server` processes behind fault proxies, and the faults injected into them
 * at fixed times.
 *
 * @since 0.1.0
 */
import { FaultProxy, RedisServer, type TestkitError } from "@effect-redis/testkit"
import { Effect, type Scope } from "effect"
import type * as Recorder from "./Recorder.js"
import type { DemoDatabase } from "./Settings.js"
import type * as Timeline from "./Timeline.js"

/**
 * A local database: its server (to kill and restart) and the proxy the client goes through (to cut it off or slow it
 * down).
 *
 * @since 0.1.0
 */
export interface LocalDatabase extends DemoDatabase {
  readonly server: RedisServer.Service
  readonly proxy: FaultProxy.Service
}

/**
 * The three local databases, preferred first.
 *
 * @since 0.1.0
 */
export interface Local {
  readonly east: LocalDatabase
  readonly west: LocalDatabase
  readonly south: LocalDatabase
  readonly all: ReadonlyArray<LocalDatabase>
}

/**
 * The demo's databases and their weights.
 *
 * @since 0.1.0
 */
export const localDatabases = [
  { id: "east", weight: 1 },
  { id: "west", weight: 0.5 },
  { id: "south", weight: 0.25 }
] as const

/**
 * Starts the three servers (with an append-only file, so a write acknowledged before a `kill -9` is still there
 * after the restart: what is lost is then the client's doing, not the server's) and a fault proxy in front of each.
 * Closing the scope stops the proxies and kills the servers.
 *
 * @since 0.1.0
 */
export const startLocal: Effect.Effect<Local, TestkitError.TestkitError, Scope.Scope> = Effect.gen(function* () {
  const all = yield* Effect.forEach(
    localDatabases,
    (spec) =>
      Effect.gen(function* () {
        // appendfsync no: the reply to a write is sent after the AOF write(2), so SIGKILL cannot lose it
        const server = yield* RedisServer.make({ args: ["--appendonly", "yes", "--appendfsync", "no"] })
        const proxy = yield* FaultProxy.make({ target: server })
        return { ...spec, url: proxy.url, directUrl: server.url, server, proxy } satisfies LocalDatabase
      }),
    { concurrency: "unbounded" }
  )
  return { east: all[0]!, west: all[1]!, south: all[2]!, all }
})

/**
 * A fault, as the summary names it.
 *
 * @since 0.1.0
 */
export type FaultInfo = Omit<Timeline.Fault, "injectedAt" | "recoveredAt">

/**
 * One step of a script: at `at` ms, inject or lift a fault.
 *
 * @since 0.1.0
 */
export interface Action {
  readonly at: number
  readonly kind: "inject" | "recover"
  readonly fault: FaultInfo
  readonly label: string
  readonly run: Effect.Effect<void, TestkitError.TestkitError>
}

/**
 * A scenario: its steps and when the workload ends.
 *
 * @since 0.1.0
 */
export interface Script {
  readonly name: string
  readonly steps: ReadonlyArray<string>
  readonly actions: ReadonlyArray<Action>
  readonly endAt: number
}

const latency = { fixed: "40 millis", jitter: "10 millis" } as const
const latencyLabel = "+40 ms (±10 ms)"

/**
 * The full scenario (about 56 s of workload): the preferred database is killed; the next one, now serving, is cut off
 * by a black hole; it comes back; the preferred one is restarted and traffic fails back to it; then added latency on
 * it; then every database down at once, and recovery.
 *
 * @since 0.1.0
 */
export const full = (local: Local): Script => {
  const { east, west, south } = local
  const killEast: FaultInfo = { id: "kill-east", name: "kill -9 east", target: "east", failBackTo: "east" }
  const blackholeWest: FaultInfo = {
    id: "blackhole-west",
    name: "blackhole west",
    target: "west",
    failBackTo: "west"
  }
  const latencyEast: FaultInfo = {
    id: "latency-east",
    name: "latency east +40 ms",
    target: "east",
    failBackTo: "east"
  }
  const allDown: FaultInfo = { id: "all-down", name: "every database down", target: "*", failBackTo: "east" }
  return {
    name: "full",
    steps: [
      " 4 s  kill -9 east (the active database)      → traffic moves to west",
      " 9 s  blackhole west (now serving)            → traffic moves to south",
      "15 s  west reachable again                    → fail back to west (east is still down)",
      "21 s  east restarted                          → fail back to east",
      "28 s  +40 ms latency each way on east, for 7 s (below the command timeout: slower, no failover)",
      "40 s  every database killed                   → TemporarilyUnavailable, then NoValidDatabase",
      "48 s  every database restarted                → service resumes, east preferred",
      "56 s  end; acknowledged writes are read back"
    ],
    actions: [
      { at: 4_000, kind: "inject", fault: killEast, label: "kill -9 east", run: east.server.kill },
      {
        at: 9_000,
        kind: "inject",
        fault: blackholeWest,
        label: "blackhole west (nothing forwarded, nothing closed)",
        run: west.proxy.setMode(FaultProxy.Mode.blackhole)
      },
      {
        at: 15_000,
        kind: "recover",
        fault: blackholeWest,
        label: "west reachable again",
        run: west.proxy.setMode(FaultProxy.Mode.pass)
      },
      { at: 21_000, kind: "recover", fault: killEast, label: "east restarted", run: east.server.restart },
      {
        at: 28_000,
        kind: "inject",
        fault: latencyEast,
        label: `east ${latencyLabel} each way`,
        run: east.proxy.setMode(FaultProxy.Mode.latency(latency))
      },
      {
        at: 35_000,
        kind: "recover",
        fault: latencyEast,
        label: "east latency removed",
        run: east.proxy.setMode(FaultProxy.Mode.pass)
      },
      {
        at: 40_000,
        kind: "inject",
        fault: allDown,
        label: "kill -9 east, west and south",
        run: Effect.forEach([east, west, south], (d) => d.server.kill, { concurrency: "unbounded", discard: true })
      },
      {
        at: 48_000,
        kind: "recover",
        fault: allDown,
        label: "east, west and south restarted",
        run: Effect.forEach([east, west, south], (d) => d.server.restart, { concurrency: "unbounded", discard: true })
      }
    ],
    endAt: 56_000
  }
}

/**
 * A short scenario (about 10 s): the preferred database is killed, then restarted, and traffic fails back to it.
 *
 * @since 0.1.0
 */
export const quick = (local: Local): Script => {
  const killEast: FaultInfo = { id: "kill-east", name: "kill -9 east", target: "east", failBackTo: "east" }
  return {
    name: "quick",
    steps: [
      " 2 s  kill -9 east (the active database)  → traffic moves to west",
      " 5 s  east restarted                      → fail back to east",
      "10 s  end; acknowledged writes are read back"
    ],
    actions: [
      { at: 2_000, kind: "inject", fault: killEast, label: "kill -9 east", run: local.east.server.kill },
      { at: 5_000, kind: "recover", fault: killEast, label: "east restarted", run: local.east.server.restart }
    ],
    endAt: 10_000
  }
}

/**
 * Plays a script against the recorder's clock: waits for each step's time, runs it, records it and reports it.
 * A fault is recorded when its injection starts; a recovery once it is complete.
 *
 * @since 0.1.0
 */
export const play = (
  script: Script,
  recorder: Recorder.Recorder,
  report: (event: Timeline.TimelineEvent) => Effect.Effect<void>
): Effect.Effect<void, TestkitError.TestkitError> =>
  Effect.gen(function* () {
    const waitUntil = (at: number) => Effect.sleep(Math.max(0, at - recorder.now()))
    for (const action of [...script.actions].sort((a, b) => a.at - b.at)) {
      yield* waitUntil(action.at)
      if (action.kind === "inject") {
        // a fault counts from the moment it starts being injected
        recorder.faultInjected(action.fault)
        yield* report(recorder.event("fault", "Fault", action.label))
        yield* action.run
      } else {
        // a recovery counts from the moment it is complete (a restarted server answers PING)
        yield* action.run
        recorder.faultRecovered(action.fault.id)
        yield* report(recorder.event("recovery", "Recovery", action.label))
      }
    }
    yield* waitUntil(script.endAt)
  })
