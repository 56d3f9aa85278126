/**
 * The chaos soak: three durable local redis-servers (append-only, fsync always) behind fault proxies, a mixed
 * workload through one `MultiDbClient`, and a fault schedule that kills and restarts, freezes and thaws, black-holes,
 * resets, refuses and slows random databases (never all of them at once). At the end every fault is healed, the run
 * waits for traffic to return to the preferred database, and every acknowledged write is looked for in every database.
 *
 * @since 0.2.0
 */
import { MultiDbClient, type MultiDbConfig, MultiDbEvent, RedisConnection } from "@effect-redis/multidb"
import { FaultProxy, RedisServer } from "@effect-redis/testkit"
import { Cause, Clock, Duration, Effect, Exit, Fiber, Option, Random, Ref, Stream } from "effect"
import { createClient } from "redis"
import type { Figures, RssSample } from "./Report.js"
import { quantile } from "./Report.js"

/**
 * How a soak runs.
 *
 * @since 0.2.0
 */
export interface Options {
  /** How long the workload and the fault schedule run. */
  readonly duration: Duration.Duration
  /** Concurrent workload fibers. */
  readonly workers: number
  /** An operation still unresolved after this long counts as hung. */
  readonly hangBound: Duration.Duration
  /** Called with a progress line now and then. */
  readonly progress: (line: string) => Effect.Effect<void>
}

interface Database {
  readonly id: string
  readonly weight: number
  readonly server: RedisServer.Service
  readonly proxy: FaultProxy.Service
}

const ids = ["east", "west", "south"] as const
const weights = [1, 0.5, 0.25] as const

const faultKinds = ["kill", "freeze", "blackhole", "reset", "refuse", "latency"] as const
type FaultKind = (typeof faultKinds)[number]

/** Applies a fault to one database, holds it, then heals it. */
const applyFault = (database: Database, kind: FaultKind, hold: Duration.Duration) =>
  Effect.gen(function* () {
    switch (kind) {
      case "kill":
        yield* database.server.kill
        yield* Effect.sleep(hold)
        yield* database.server.restart.pipe(Effect.retry({ times: 3 }))
        return
      case "freeze":
        yield* database.server.stop
        yield* Effect.sleep(hold)
        yield* database.server.resume
        return
      case "blackhole":
        yield* database.proxy.setMode(FaultProxy.Mode.blackhole)
        yield* Effect.sleep(hold)
        yield* database.proxy.setMode(FaultProxy.Mode.pass)
        return
      case "reset":
        yield* database.proxy.resetConnections
        return
      case "refuse":
        yield* database.proxy.setMode(FaultProxy.Mode.refuse)
        yield* database.proxy.resetConnections
        yield* Effect.sleep(hold)
        yield* database.proxy.setMode(FaultProxy.Mode.pass)
        return
      case "latency":
        yield* database.proxy.setMode(FaultProxy.Mode.latency({ fixed: "150 millis", jitter: "400 millis" }))
        yield* Effect.sleep(hold)
        yield* database.proxy.setMode(FaultProxy.Mode.pass)
        return
    }
  })

/** Puts a database back to normal whatever state a fault left it in. */
const heal = (database: Database) =>
  Effect.gen(function* () {
    if (yield* database.server.isStopped) yield* database.server.resume
    if (!(yield* database.server.isRunning)) yield* database.server.restart.pipe(Effect.retry({ times: 3 }))
    yield* database.proxy.setMode(FaultProxy.Mode.pass)
  })

/** The key and value of write `n` of worker `w`; the value follows from the key, so only `n` is remembered. */
const writeKey = (worker: number, n: number) => `chaos:w${worker}:${n}`
const writeValue = (worker: number, n: number) => `v${worker}.${n}`

/** Looks for every acknowledged write in every database (directly, not through the proxies). */
const checkWrites = (databases: ReadonlyArray<Database>, acked: ReadonlyArray<ReadonlyArray<number>>) =>
  Effect.gen(function* () {
    const keys: Array<string> = []
    const values: Array<string> = []
    acked.forEach((list, worker) => {
      for (const n of list) {
        keys.push(writeKey(worker, n))
        values.push(writeValue(worker, n))
      }
    })
    const found = new Uint8Array(keys.length)
    let unreachable = 0
    for (const database of databases) {
      const ok = yield* Effect.tryPromise(async () => {
        const client = createClient({ url: database.server.url, socket: { reconnectStrategy: false } })
        client.on("error", () => {})
        await client.connect()
        try {
          for (let i = 0; i < keys.length; i += 1000) {
            const replies = await client.mGet(keys.slice(i, i + 1000))
            replies.forEach((reply, j) => {
              if (reply === values[i + j]) found[i + j] = 1
            })
          }
        } finally {
          client.destroy()
        }
      }).pipe(
        Effect.as(true),
        Effect.catchAll(() => Effect.succeed(false))
      )
      if (!ok) unreachable++
    }
    const missing = found.reduce((n, f) => n + (f === 0 ? 1 : 0), 0)
    // with a database unreachable, a write missing from the others might be on it: unchecked rather than missing
    return unreachable === 0 ? { missing, unchecked: 0 } : { missing: 0, unchecked: missing }
  })

const describeDefect = (cause: Cause.Cause<unknown>) => Cause.pretty(cause).split("\n").slice(0, 3).join(" | ")

/**
 * Runs the soak and returns its figures.
 *
 * @since 0.2.0
 */
export const run = (options: Options): Effect.Effect<Figures, unknown, never> =>
  Effect.scoped(
    Effect.gen(function* () {
      const unhandled: Array<string> = []
      const onRejection = (reason: unknown) => unhandled.push(`unhandled rejection: ${String(reason)}`)
      const onException = (error: unknown) => unhandled.push(`uncaught exception: ${String(error)}`)
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          process.on("unhandledRejection", onRejection)
          process.on("uncaughtException", onException)
        }),
        () =>
          Effect.sync(() => {
            process.off("unhandledRejection", onRejection)
            process.off("uncaughtException", onException)
          })
      )

      const databases: Array<Database> = []
      for (let i = 0; i < ids.length; i++) {
        const server = yield* RedisServer.make({ args: ["--appendonly", "yes", "--appendfsync", "always"] })
        const proxy = yield* FaultProxy.make({ target: server })
        databases.push({ id: ids[i]!, weight: weights[i]!, server, proxy })
      }
      yield* options.progress(
        `servers: ${databases.map((d) => `${d.id} 127.0.0.1:${d.server.port} (proxy ${d.proxy.port})`).join(", ")}`
      )

      const client = yield* MultiDbClient.fromInput({
        databases: databases.map((d) => ({
          id: d.id,
          url: d.proxy.url,
          weight: d.weight,
          gracePeriod: "2 seconds"
        })) as unknown as MultiDbConfig.Input["databases"],
        commandTimeout: "1 second",
        connectTimeout: "2 seconds",
        failuresDetectionWindow: "1 second",
        minNumFailures: 20,
        failureRateThreshold: 0.2,
        failoverAttempts: 5,
        failoverDelay: "500 millis",
        autoFallbackInterval: "2 seconds",
        healthCheckInterval: "1 second",
        healthCheckProbes: 3,
        healthCheckProbesDelay: "100 millis",
        healthCheckTimeout: "2 seconds",
        initialHealthCheckPolicy: "one"
      }).pipe(Effect.provideService(RedisConnection.RedisConnector, RedisConnection.nodeRedis))

      const switches = yield* Ref.make(0)
      yield* client.events.pipe(
        Stream.filter(MultiDbEvent.$is("ActiveDatabaseChanged")),
        Stream.runForEach(() => Ref.update(switches, (n) => n + 1)),
        Effect.forkScoped
      )

      const start = yield* Clock.currentTimeMillis
      const end = start + Duration.toMillis(options.duration)
      const latencies: Array<number> = []
      const failures: Record<string, number> = {}
      const defectSamples: Array<string> = []
      const faults: Record<string, number> = {}
      const acked: Array<Array<number>> = Array.from({ length: options.workers }, () => [])
      const rss: Array<RssSample> = []
      const counts = { started: 0, resolved: 0, hung: 0, succeeded: 0, defects: 0, mayHaveExecuted: 0 }

      /** Runs one operation under the hang bound and records how it ended. */
      const measure = <A, E>(op: Effect.Effect<A, E>, onSuccess: (a: A) => void = () => {}) =>
        Effect.gen(function* () {
          counts.started++
          const t0 = performance.now()
          const exit = yield* op.pipe(Effect.timeoutOption(options.hangBound), Effect.exit)
          const elapsed = performance.now() - t0
          if (Exit.isSuccess(exit)) {
            if (Option.isNone(exit.value)) {
              counts.hung++
              return
            }
            counts.resolved++
            counts.succeeded++
            latencies.push(elapsed)
            onSuccess(exit.value.value)
            return
          }
          counts.resolved++
          latencies.push(elapsed)
          const failure = Cause.failureOption(exit.cause)
          if (Option.isSome(failure) && !Cause.isDie(exit.cause)) {
            const error = failure.value as { _tag?: string; mayHaveExecuted?: boolean }
            const tag = error._tag ?? "unknown"
            failures[tag] = (failures[tag] ?? 0) + 1
            if (error.mayHaveExecuted === true) counts.mayHaveExecuted++
            return
          }
          counts.defects++
          if (defectSamples.length < 5) defectSamples.push(describeDefect(exit.cause))
        })

      const worker = (w: number) =>
        Effect.gen(function* () {
          let n = 0
          while ((yield* Clock.currentTimeMillis) < end) {
            const pick = yield* Random.nextIntBetween(0, 100)
            if (pick < 40) {
              const i = n++
              yield* measure(client.commands.set(writeKey(w, i), writeValue(w, i)), () => acked[w]!.push(i))
            } else if (pick < 70) {
              const list = acked[w]!
              const key = list.length === 0 ? "chaos:none" : writeKey(w, list[list.length - 1]!)
              yield* measure(client.commands.get(key))
            } else if (pick < 80) {
              yield* measure(client.commands.incr(`chaos:counter:${w}`))
            } else if (pick < 90) {
              const i = n++
              yield* measure(
                client.pipeline((p) => p.set(writeKey(w, i), writeValue(w, i)).get(writeKey(w, i))),
                () => acked[w]!.push(i)
              )
            } else {
              yield* measure(client.commands.hSet(`chaos:hash:${w}`, `f${n % 100}`, String(n)))
            }
            yield* Effect.sleep(Duration.millis(5 + (yield* Random.nextIntBetween(0, 15))))
          }
        })

      const faultSchedule = Effect.gen(function* () {
        while ((yield* Clock.currentTimeMillis) < end - 8_000) {
          yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(1_500, 5_000)))
          const first = databases[yield* Random.nextIntBetween(0, databases.length)]!
          const kind = faultKinds[yield* Random.nextIntBetween(0, faultKinds.length)]!
          const hold = Duration.millis(yield* Random.nextIntBetween(1_000, 5_000))
          const both = (yield* Random.nextIntBetween(0, 4)) === 0
          const others = databases.filter((d) => d !== first)
          const second = others[yield* Random.nextIntBetween(0, others.length)]!
          const secondKind = faultKinds[yield* Random.nextIntBetween(0, faultKinds.length)]!
          faults[kind] = (faults[kind] ?? 0) + 1
          if (both) faults[secondKind] = (faults[secondKind] ?? 0) + 1
          // at most two of the three databases are ever faulted at once
          yield* Effect.all(
            [applyFault(first, kind, hold), both ? applyFault(second, secondKind, hold) : Effect.void],
            { concurrency: "unbounded", discard: true }
          )
        }
      })

      const sampler = Effect.gen(function* () {
        while (true) {
          const now = yield* Clock.currentTimeMillis
          rss.push({ at: (now - start) / 1000, rss: process.memoryUsage().rss })
          if (rss.length % 6 === 0) {
            yield* options.progress(
              `  ${Math.round((now - start) / 1000)} s: ${counts.started} ops, ${counts.succeeded} ok, hung ${counts.hung}, defects ${counts.defects}, rss ${Math.round(process.memoryUsage().rss / 1048576)} MB`
            )
          }
          yield* Effect.sleep("5 seconds")
        }
      })

      const samplerFiber = yield* Effect.forkScoped(sampler)
      yield* Effect.all(
        [
          Effect.forEach(
            Array.from({ length: options.workers }, (_, w) => w),
            worker,
            {
              concurrency: "unbounded",
              discard: true
            }
          ),
          faultSchedule.pipe(Effect.ensuring(Effect.forEach(databases, heal, { discard: true }).pipe(Effect.orDie)))
        ],
        { concurrency: "unbounded", discard: true }
      )
      const seconds = ((yield* Clock.currentTimeMillis) - start) / 1000

      // every fault is healed: wait (bounded) for traffic to return to the preferred database, with light traffic
      const preferred = databases[0]!.id
      const deadline = (yield* Clock.currentTimeMillis) + 30_000
      let finalActive: string | undefined
      while ((yield* Clock.currentTimeMillis) < deadline) {
        yield* measure(client.commands.get("chaos:settle"))
        finalActive = Option.getOrUndefined(Option.map(yield* client.activeDatabase, (d) => d.id))
        if (finalActive === preferred) break
        yield* Effect.sleep("200 millis")
      }
      yield* Fiber.interrupt(samplerFiber)
      const written = yield* checkWrites(databases, acked)

      return {
        seconds,
        started: counts.started,
        resolved: counts.resolved,
        hung: counts.hung,
        succeeded: counts.succeeded,
        failures,
        defects: counts.defects,
        defectSamples,
        unhandled: unhandled.length,
        unhandledSamples: unhandled.slice(0, 5),
        acknowledgedWrites: acked.reduce((n, list) => n + list.length, 0),
        missingWrites: written.missing,
        uncheckedWrites: written.unchecked,
        mayHaveExecuted: counts.mayHaveExecuted,
        latency: {
          p50: quantile(latencies, 0.5),
          p99: quantile(latencies, 0.99),
          max: latencies.reduce((m, v) => Math.max(m, v), 0)
        },
        rss,
        faults,
        switches: yield* Ref.get(switches),
        preferred,
        finalActive
      } satisfies Figures
    })
  )
