/**
 * Failover under load: two real redis-server processes (east weight 1, west weight 0.5), a steady GET/SET workload at
 * concurrency 16 through `MultiDbClient`, one fault on east, then its recovery. Every GET reads `bench:whoami`, whose
 * value differs per database, so each reply says which database served it.
 */
import { MultiDbClient, type MultiDbConfig, type MultiDbError, RedisConnection } from "@effect-redis/multidb"
import { FaultProxy, RedisServer, type TestkitError } from "@effect-redis/testkit"
import { Duration, Effect, Either, Fiber, type ParseResult, Schedule, Stream } from "effect"
import { createClient } from "redis"
import { type Summary, summarize } from "./Stats.js"

/** The faults injected on east. */
export type Fault = "kill" | "sigstop" | "blackhole" | "reset"

export const faults: ReadonlyArray<Fault> = ["kill", "sigstop", "blackhole", "reset"]

export const faultLabels: Record<Fault, string> = {
  kill: "kill -9",
  sigstop: "SIGSTOP",
  blackhole: "proxy blackhole",
  reset: "proxy reset + refuse"
}

/** What ends each fault. */
export const recoveryLabels: Record<Fault, string> = {
  kill: "restart on the same port",
  sigstop: "SIGCONT",
  blackhole: "proxy back to pass",
  reset: "proxy back to pass"
}

/** The two configurations measured. */
export type Profile = "defaults" | "tuned"

/** The tuned options, adapted from the "tuned" settings of the redis-py reference measurement. */
export const tunedOptions = {
  healthCheckInterval: "1 second",
  healthCheckProbes: 1,
  healthCheckTimeout: "500 millis",
  autoFallbackInterval: "5 seconds",
  minNumFailures: 5,
  failuresDetectionWindow: "1 second",
  commandRetry: { retries: 3, base: "50 millis", cap: "800 millis" },
  commandTimeout: "1 second"
} as const

/** The grace period of each database in the tuned configuration. */
export const tunedGracePeriod = "2 seconds"

/** The configuration of a profile, with east reachable at `eastUrl`. */
export const configFor = (profile: Profile, eastUrl: string, westUrl: string): MultiDbConfig.Input => {
  const grace = profile === "tuned" ? { gracePeriod: tunedGracePeriod } : {}
  return {
    databases: [
      { id: "east", url: eastUrl, weight: 1, ...grace },
      { id: "west", url: westUrl, weight: 0.5, ...grace }
    ],
    ...(profile === "tuned" ? tunedOptions : {})
  }
}

export interface ScenarioOptions {
  readonly fault: Fault
  readonly profile: Profile
  readonly repetition: number
  readonly concurrency: number
  /** Traffic served by east before the fault. */
  readonly warmup: Duration.DurationInput
  /** How long the fault is kept after the first command was served by west. */
  readonly hold: Duration.DurationInput
  /** Bound on the wait for the first command served by west. */
  readonly failoverBound: Duration.DurationInput
  /** Skip the recovery and fail-back part (failover only). */
  readonly measureFailback: boolean
  /** Bound on the wait for the first command served by east after the recovery. */
  readonly failbackBound: Duration.DurationInput
  /** Traffic kept after the fail-back, before stopping. */
  readonly tail: Duration.DurationInput
}

/** One scenario's figures; times in seconds, `null` when the event did not happen within its bound. */
export interface ScenarioResult {
  readonly fault: Fault
  readonly profile: Profile
  readonly repetition: number
  /** Fault → completion of the first GET answered by west. */
  readonly failoverSeconds: number | null
  /** Fault → `ActiveDatabaseChanged` east → west. */
  readonly switchSeconds: number | null
  /** Recovery complete → completion of the first GET answered by east. */
  readonly failbackSeconds: number | null
  /** Recovery complete → `ActiveDatabaseChanged` west → east. */
  readonly failbackSwitchSeconds: number | null
  /** What was left of east's grace period when the recovery completed (from its last `open` transition). */
  readonly graceLeftAtRecoverySeconds: number | null
  /** Duration of the recovery action itself (restart until PING answers, SIGCONT, proxy mode switch). */
  readonly recoverySeconds: number | null
  /** Errors that reached the caller from the fault to the end, by `GET|SET tag[ mayHaveExecuted]`. */
  readonly errors: Record<string, number>
  readonly failedGets: number
  readonly failedSets: number
  /** SET keys present on both databases: the caller got an error (told) or a success (not told). */
  readonly writesOnBoth: { readonly told: number; readonly untold: number }
  readonly operations: number
  /** GET latency, max, over the whole scenario (how long a caller could be blocked). */
  readonly maxGetMillis: number
}

/** State shared by the load fibers and the measuring fiber. */
interface LoadState {
  stopped: boolean
  readonly deadline: number
  readonly maxOperations: number
  operations: number
  faultAt: number
  recoveredAt: number
  firstWestAfterFault: number | undefined
  firstEastAfterRecovery: number | undefined
  maxGetMillis: number
  readonly errors: Map<string, number>
  readonly failedSetKeys: Set<string>
  failedGets: number
  failedSets: number
}

const whoamiKey = "bench:whoami"

const errorKey = (operation: string, error: MultiDbError.MultiDbError) =>
  `${operation} ${error._tag}${error._tag === "RedisConnectionError" ? (error.mayHaveExecuted ? " (mayHaveExecuted)" : " (not sent)") : ""}`

/** A plain node-redis client for set-up and checks, outside the client under test. */
const adminClient = (url: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const client = createClient({ url, commandOptions: { timeout: 5000 } })
      client.on("error", () => {})
      return client
    }).pipe(Effect.tap((client) => Effect.promise(() => client.connect()))),
    (client) => Effect.sync(() => client.destroy())
  )

type AdminClient = Effect.Effect.Success<ReturnType<typeof adminClient>>

const admin = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (error) => new Error(`${what}: ${String(error)}`) }).pipe(
    Effect.retry({ times: 20, schedule: Schedule.spaced("100 millis") }),
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`${what}: timed out`) })
  )

const keysOf = (client: AdminClient) =>
  admin("KEYS", () => client.keys("bench:w:*")).pipe(Effect.map((keys) => new Set(keys)))

/** Polls `condition` every 5 ms until it holds or `bound` passes; succeeds with whether it held. */
const waitUntil = (condition: () => boolean, bound: Duration.DurationInput) =>
  Effect.gen(function* () {
    const end = performance.now() + Duration.toMillis(Duration.decode(bound))
    while (!condition()) {
      if (performance.now() > end) return false
      yield* Effect.sleep("5 millis")
    }
    return true
  })

const seconds = (from: number, to: number | undefined) =>
  to === undefined || !Number.isFinite(from) ? null : (to - from) / 1000

/** Why a scenario could not run (not a measured failure: those are figures). */
export type ScenarioError =
  | TestkitError.TestkitError
  | MultiDbError.InitialHealthCheckFailed
  | ParseResult.ParseError
  | Error

/** Runs one scenario on fresh servers. */
export const scenario = (options: ScenarioOptions): Effect.Effect<ScenarioResult, ScenarioError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      yield* Effect.addFinalizer(() => east.resume)
      const proxy =
        options.fault === "blackhole" || options.fault === "reset"
          ? yield* FaultProxy.make({ target: east })
          : undefined
      const eastAdmin = yield* adminClient(east.url)
      const westAdmin = yield* adminClient(west.url)
      yield* admin("SET whoami east", () => eastAdmin.set(whoamiKey, "east"))
      yield* admin("SET whoami west", () => westAdmin.set(whoamiKey, "west"))

      const client = yield* MultiDbClient.fromInput(configFor(options.profile, proxy?.url ?? east.url, west.url)).pipe(
        Effect.provide(RedisConnection.layer)
      )

      const switches: Array<{ readonly at: number; readonly to: string }> = []
      const opened: Array<number> = []
      yield* client.events.pipe(
        Stream.runForEach((event) =>
          Effect.sync(() => {
            const at = performance.now()
            if (event._tag === "ActiveDatabaseChanged") switches.push({ at, to: event.newDatabase })
            if (event._tag === "CircuitStateChanged" && event.database === "east" && event.to === "open") {
              opened.push(at)
            }
          })
        ),
        Effect.forkScoped
      )

      const bound =
        Duration.toMillis(Duration.decode(options.warmup)) +
        Duration.toMillis(Duration.decode(options.failoverBound)) +
        Duration.toMillis(Duration.decode(options.hold)) +
        Duration.toMillis(Duration.decode(options.failbackBound)) +
        Duration.toMillis(Duration.decode(options.tail)) +
        30_000
      const state: LoadState = {
        stopped: false,
        deadline: performance.now() + bound,
        maxOperations: 50_000_000,
        operations: 0,
        faultAt: Number.POSITIVE_INFINITY,
        recoveredAt: Number.POSITIVE_INFINITY,
        firstWestAfterFault: undefined,
        firstEastAfterRecovery: undefined,
        maxGetMillis: 0,
        errors: new Map(),
        failedSetKeys: new Set(),
        failedGets: 0,
        failedSets: 0
      }
      const running = () =>
        !state.stopped && state.operations < state.maxOperations && performance.now() < state.deadline
      const countError = (operation: string, error: MultiDbError.MultiDbError, at: number) => {
        if (at < state.faultAt) return
        const key = errorKey(operation, error)
        state.errors.set(key, (state.errors.get(key) ?? 0) + 1)
      }

      const worker = (id: number) =>
        Effect.gen(function* () {
          let sequence = 0
          while (running()) {
            const started = performance.now()
            const read = yield* Effect.either(client.commands.get(whoamiKey))
            const at = performance.now()
            state.operations++
            state.maxGetMillis = Math.max(state.maxGetMillis, at - started)
            if (Either.isRight(read)) {
              // A restarted east has no whoami key yet: a null reply can only come from east.
              const servedBy = read.right === "west" ? "west" : "east"
              if (servedBy === "west" && at > state.faultAt && state.firstWestAfterFault === undefined) {
                state.firstWestAfterFault = at
              }
              if (servedBy === "east" && at > state.recoveredAt && state.firstEastAfterRecovery === undefined) {
                state.firstEastAfterRecovery = at
              }
            } else {
              if (at >= state.faultAt) state.failedGets++
              countError("GET", read.left, at)
              yield* Effect.sleep("5 millis")
            }
            const key = `bench:w:${id}:${sequence++}`
            const write = yield* Effect.either(client.commands.set(key, "1"))
            const writtenAt = performance.now()
            state.operations++
            if (Either.isLeft(write)) {
              state.failedSetKeys.add(key)
              if (writtenAt >= state.faultAt) state.failedSets++
              countError("SET", write.left, writtenAt)
              yield* Effect.sleep("5 millis")
            }
          }
        })
      const load = yield* Effect.forkScoped(
        Effect.all(
          Array.from({ length: options.concurrency }, (_, i) => worker(i)),
          { concurrency: "unbounded", discard: true }
        )
      )

      yield* Effect.sleep(options.warmup)

      // ---- the fault ----
      state.faultAt = performance.now()
      switch (options.fault) {
        case "kill":
          yield* east.kill
          break
        case "sigstop":
          yield* east.stop
          break
        case "blackhole":
          yield* proxy!.setMode(FaultProxy.Mode.blackhole)
          break
        case "reset":
          yield* proxy!.setMode(FaultProxy.Mode.refuse)
          yield* proxy!.resetConnections
          break
      }
      yield* waitUntil(() => state.firstWestAfterFault !== undefined, options.failoverBound)
      yield* Effect.sleep(options.hold)

      // ---- the recovery ----
      let recoverySeconds: number | null = null
      if (options.measureFailback) {
        const recoveryStart = performance.now()
        switch (options.fault) {
          case "kill":
            yield* east.restart
            break
          case "sigstop":
            yield* east.resume
            break
          case "blackhole":
          case "reset":
            yield* proxy!.setMode(FaultProxy.Mode.pass)
            break
        }
        state.recoveredAt = performance.now()
        recoverySeconds = (state.recoveredAt - recoveryStart) / 1000
        if (options.fault === "kill") {
          yield* admin("SET whoami east after restart", () => eastAdmin.set(whoamiKey, "east"))
        }
        yield* waitUntil(() => state.firstEastAfterRecovery !== undefined, options.failbackBound)
        yield* Effect.sleep(options.tail)
      }

      state.stopped = true
      yield* Fiber.join(load).pipe(Effect.timeout("30 seconds"), Effect.ignore)
      yield* Fiber.interrupt(load)

      // ---- writes applied on both databases ----
      let writesOnBoth = { told: 0, untold: 0 }
      if (options.measureFailback) {
        const onEast = yield* keysOf(eastAdmin)
        const onWest = yield* keysOf(westAdmin)
        for (const key of onEast) {
          if (!onWest.has(key)) continue
          if (state.failedSetKeys.has(key)) writesOnBoth = { ...writesOnBoth, told: writesOnBoth.told + 1 }
          else writesOnBoth = { ...writesOnBoth, untold: writesOnBoth.untold + 1 }
        }
      }

      const toWest = switches.find((s) => s.at > state.faultAt && s.to === "west")
      const toEast = switches.find((s) => s.at > state.recoveredAt && s.to === "east")
      const lastOpen = opened.filter((at) => at <= state.recoveredAt).at(-1)
      const gracePeriodMillis =
        options.profile === "tuned" ? Duration.toMillis(Duration.decode(tunedGracePeriod)) : 60_000
      const result: ScenarioResult = {
        fault: options.fault,
        profile: options.profile,
        repetition: options.repetition,
        failoverSeconds: seconds(state.faultAt, state.firstWestAfterFault),
        switchSeconds: seconds(state.faultAt, toWest?.at),
        failbackSeconds: options.measureFailback ? seconds(state.recoveredAt, state.firstEastAfterRecovery) : null,
        failbackSwitchSeconds: options.measureFailback ? seconds(state.recoveredAt, toEast?.at) : null,
        graceLeftAtRecoverySeconds:
          options.measureFailback && lastOpen !== undefined
            ? Math.max(0, (lastOpen + gracePeriodMillis - state.recoveredAt) / 1000)
            : null,
        recoverySeconds,
        errors: Object.fromEntries([...state.errors].sort(([a], [b]) => a.localeCompare(b))),
        failedGets: state.failedGets,
        failedSets: state.failedSets,
        writesOnBoth,
        operations: state.operations,
        maxGetMillis: state.maxGetMillis
      }
      return result
    })
  )

/** Figures of one fault under one profile, over its repetitions. */
export interface Aggregate {
  readonly fault: Fault
  readonly profile: Profile
  readonly failover: Summary
  readonly switch: Summary
  readonly failback: Summary
  readonly failbackSwitch: Summary
  readonly graceLeftAtRecovery: Summary
  readonly failedGets: Summary
  readonly failedSets: Summary
  /** Errors summed over the repetitions. */
  readonly errorsTotal: Record<string, number>
  readonly writesOnBothTotal: { readonly told: number; readonly untold: number }
  readonly maxGetMillis: Summary
  readonly repetitions: number
  readonly failbackRepetitions: number
}

/** Groups scenario results by profile and fault. */
export const aggregate = (results: ReadonlyArray<ScenarioResult>): ReadonlyArray<Aggregate> => {
  const out: Array<Aggregate> = []
  for (const profile of ["tuned", "defaults"] as const) {
    for (const fault of faults) {
      const rs = results.filter((r) => r.profile === profile && r.fault === fault)
      if (rs.length === 0) continue
      const withFailback = rs.filter((r) => r.recoverySeconds !== null)
      const errorsTotal: Record<string, number> = {}
      for (const r of rs) for (const [k, n] of Object.entries(r.errors)) errorsTotal[k] = (errorsTotal[k] ?? 0) + n
      out.push({
        fault,
        profile,
        failover: summarize(rs.map((r) => r.failoverSeconds)),
        switch: summarize(rs.map((r) => r.switchSeconds)),
        failback: summarize(withFailback.map((r) => r.failbackSeconds)),
        failbackSwitch: summarize(withFailback.map((r) => r.failbackSwitchSeconds)),
        graceLeftAtRecovery: summarize(withFailback.map((r) => r.graceLeftAtRecoverySeconds)),
        failedGets: summarize(rs.map((r) => r.failedGets)),
        failedSets: summarize(rs.map((r) => r.failedSets)),
        errorsTotal,
        writesOnBothTotal: withFailback.reduce(
          (acc, r) => ({ told: acc.told + r.writesOnBoth.told, untold: acc.untold + r.writesOnBoth.untold }),
          { told: 0, untold: 0 }
        ),
        maxGetMillis: summarize(rs.map((r) => r.maxGetMillis)),
        repetitions: rs.length,
        failbackRepetitions: withFailback.length
      })
    }
  }
  return out
}
