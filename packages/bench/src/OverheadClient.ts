/**
 * One client of the overhead benchmark and its timed runs: the same GET/SET workload through plain node-redis
 * promises (A), node-redis in `Effect.tryPromise` (B), the same with node-redis' per-command timer off (B′), or
 * `MultiDbClient` with two healthy databases (C; C₀ with `tracing: false`; C⁺ with its spans sent to an OpenTelemetry
 * SDK tracer). `Overhead` runs each in a process of its own (`OverheadWorker`), or all in one process.
 */
import { Tracer as OtelTracer } from "@effect/opentelemetry"
import { MultiDbClient, RedisConnection } from "@effect-redis/multidb"
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base"
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node"
import { Effect, type Scope } from "effect"
import { createClient } from "redis"
import { minorGc } from "./Gc.js"
import { quantile } from "./Stats.js"

/** The clients under test. */
export type ClientKind = "plain" | "effect" | "lean" | "multidb" | "untraced" | "otel"

export const clientKinds: ReadonlyArray<ClientKind> = ["plain", "effect", "lean", "multidb", "untraced", "otel"]

/** One timed run of one client. */
export interface Run {
  readonly client: ClientKind
  readonly concurrency: number
  readonly round: number
  readonly operations: number
  readonly seconds: number
  readonly opsPerSecond: number
  readonly p50Millis: number
  readonly p99Millis: number
  /** CPU time of the client's process (user + system) per operation: less sensitive to other load than ops/s. */
  readonly cpuMicrosPerOp: number
  /** The run hit its time bound before its operation count. */
  readonly truncated: boolean
}

/** What a run is asked to do. */
export interface RunRequest {
  readonly concurrency: number
  readonly operations: number
  /** The round it belongs to (-1: warm-up). */
  readonly round: number
}

/**
 * A client ready to run. A run is timed in slices, so that the runs of one round can alternate slice by slice and
 * the machine's changes of speed (steps of up to ±20 % every few seconds here) fall on all of them alike.
 */
export interface ClientRunner {
  readonly client: ClientKind
  /** Begins a run: nothing is sent until its slices. */
  readonly begin: (request: RunRequest) => Effect.Effect<void, Error>
  /** Sends the next `operations` of the run begun last (fewer when the run has fewer left). */
  readonly slice: (operations: number) => Effect.Effect<void, Error>
  /** Ends the run begun last: its figures over the time of its slices. */
  readonly finish: Effect.Effect<Run, Error>
}

/** The servers the clients talk to: every client uses `east`; C, C₀ and C⁺ have `west` as their second database. */
export interface Servers {
  readonly east: string
  readonly west: string
}

const keyCount = 1000
const keys = Array.from({ length: keyCount }, (_, i) => `bench:overhead:${i}`)
const value = "v".repeat(32)

/** Per-run bookkeeping shared by the workers of one run: the next operation and each operation's latency. */
interface Work {
  next: number
  /** Where the current slice ends. */
  limit: number
  /** When the current slice must end, whatever its operation count. */
  deadline: number
  readonly latencies: Float64Array
}

/** Claims the next GET/SET pair: the index of its SET (its GET is index + 1), or -1 when the slice is over. */
const claim = (work: Work): number => {
  const i = work.next
  if (i + 1 >= work.limit || performance.now() > work.deadline) return -1
  work.next = i + 2
  return i
}

/** The plain node-redis client type, as `createClient({ url })` returns it. */
type PlainClient = ReturnType<typeof createClient<{}, {}, {}, 3, {}>>

const runPlain = (client: PlainClient, work: Work, concurrency: number) => {
  const worker = async () => {
    for (let i = claim(work); i >= 0; i = claim(work)) {
      const key = keys[(i >> 1) % keyCount]!
      const t0 = performance.now()
      await client.set(key, value)
      const t1 = performance.now()
      await client.get(key)
      work.latencies[i] = t1 - t0
      work.latencies[i + 1] = performance.now() - t1
    }
  }
  return Promise.all(Array.from({ length: concurrency }, worker))
}

interface EffectCommands<E> {
  readonly set: (key: string, value: string) => Effect.Effect<unknown, E>
  readonly get: (key: string) => Effect.Effect<unknown, E>
}

const runEffect = <E>(commands: EffectCommands<E>, work: Work, concurrency: number) => {
  const worker = Effect.gen(function* () {
    for (let i = claim(work); i >= 0; i = claim(work)) {
      const key = keys[(i >> 1) % keyCount]!
      const t0 = performance.now()
      yield* commands.set(key, value)
      const t1 = performance.now()
      yield* commands.get(key)
      work.latencies[i] = t1 - t0
      work.latencies[i + 1] = performance.now() - t1
    }
  })
  return Effect.all(
    Array.from({ length: concurrency }, () => worker),
    { concurrency: "unbounded", discard: true }
  )
}

/** A connected node-redis client; `timeout` overrides node-redis' per-command timeout (5 s by default, 0 = none). */
const connectPlain = (url: string, timeout?: number) =>
  Effect.acquireRelease(
    Effect.promise(async (): Promise<PlainClient> => {
      const client: PlainClient = createClient(
        timeout === undefined ? { url } : { url, commandOptions: { timeout } }
      ) as PlainClient
      client.on("error", () => {})
      await client.connect()
      return client
    }),
    (client) => Effect.sync(() => client.destroy())
  )

/** An OpenTelemetry span exporter that drops what it is given (the cost of export is not the library's). */
class DroppingExporter implements SpanExporter {
  export(_spans: Array<ReadableSpan>, done: Parameters<SpanExporter["export"]>[1]) {
    done({ code: 0 }) // ExportResultCode.SUCCESS
  }
  shutdown() {
    return Promise.resolve()
  }
}

/** An Effect tracer backed by an OpenTelemetry SDK tracer provider, shut down with the scope. */
const otelTracer = Effect.gen(function* () {
  const provider = yield* Effect.acquireRelease(
    Effect.sync(() => new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(new DroppingExporter())] })),
    (provider) => Effect.promise(() => provider.shutdown())
  )
  return yield* Effect.provideService(OtelTracer.make, OtelTracer.OtelTracer, provider.getTracer("bench"))
})

const multidbClient = (servers: Servers, tracing: boolean) =>
  MultiDbClient.fromInput({
    databases: [
      { id: "east", url: servers.east, weight: 1 },
      { id: "west", url: servers.west, weight: 0.5 }
    ],
    tracing
  }).pipe(Effect.provide(RedisConnection.layer))

const tryPromiseCommands = (client: PlainClient): EffectCommands<unknown> => ({
  set: (key, v) => Effect.tryPromise({ try: () => client.set(key, v), catch: (error) => error }),
  get: (key) => Effect.tryPromise({ try: () => client.get(key), catch: (error) => error })
})

const multidbCommands = (client: MultiDbClient.MultiDbClient): EffectCommands<unknown> => ({
  set: (key, v) => client.commands.set(key, v),
  get: (key) => client.commands.get(key)
})

/** How one run of a client drives its workload. */
type Drive = (work: Work, concurrency: number) => Effect.Effect<void, unknown>

const workload = (client: ClientKind, servers: Servers): Effect.Effect<Drive, never, Scope.Scope> => {
  switch (client) {
    case "plain":
      return Effect.map(
        connectPlain(servers.east),
        (plain): Drive =>
          (work, concurrency) =>
            Effect.promise(() => runPlain(plain, work, concurrency))
      )
    case "effect":
    case "lean":
      return Effect.map(connectPlain(servers.east, client === "lean" ? 0 : undefined), (plain): Drive => {
        const commands = tryPromiseCommands(plain)
        return (work, concurrency) => runEffect(commands, work, concurrency)
      })
    case "multidb":
    case "untraced":
      return Effect.map(Effect.orDie(multidbClient(servers, client === "multidb")), (multidb): Drive => {
        const commands = multidbCommands(multidb)
        return (work, concurrency) => runEffect(commands, work, concurrency)
      })
    case "otel":
      return Effect.map(
        Effect.all([Effect.orDie(multidbClient(servers, true)), otelTracer]),
        ([multidb, tracer]): Drive => {
          const commands = multidbCommands(multidb)
          return (work, concurrency) => Effect.withTracer(runEffect(commands, work, concurrency), tracer)
        }
      )
  }
}

/**
 * A client in this process, connected for the scope. Each run begins with a collection of the young generation (what
 * the run before left behind), outside its timed slices. Not a full collection: that made the next run recompile the
 * optimized code it dropped (code whose embedded objects had died), which a process serving traffic does not pay every
 * few thousand commands; on the bench machine it added a fixed ~0.2 s of CPU to every run, more for the client with
 * more code on its path.
 */
export const local = (
  client: ClientKind,
  servers: Servers,
  sliceTimeoutMillis: number
): Effect.Effect<ClientRunner, never, Scope.Scope> =>
  Effect.map(workload(client, servers), (drive): ClientRunner => {
    let current: { readonly request: RunRequest; readonly work: Work; seconds: number; cpuMicros: number } | undefined
    const ongoing = Effect.suspend(() =>
      current === undefined ? Effect.fail(new Error(`${client}: no run begun`)) : Effect.succeed(current)
    )
    return {
      client,
      begin: (request) =>
        Effect.sync(() => {
          minorGc()
          const work: Work = { next: 0, limit: 0, deadline: 0, latencies: new Float64Array(request.operations) }
          current = { request, work, seconds: 0, cpuMicros: 0 }
        }),
      slice: (operations) =>
        Effect.flatMap(ongoing, (run) =>
          Effect.suspend(() => {
            const { work } = run
            work.limit = Math.min(work.next + operations, run.request.operations)
            work.deadline = performance.now() + sliceTimeoutMillis
            const start = performance.now()
            const cpuStart = process.cpuUsage()
            return drive(work, run.request.concurrency).pipe(
              Effect.mapError((error) => (error instanceof Error ? error : new Error(`${client}: ${String(error)}`))),
              Effect.tap(() => {
                const cpu = process.cpuUsage(cpuStart)
                run.seconds += (performance.now() - start) / 1000
                run.cpuMicros += cpu.user + cpu.system
              })
            )
          })
        ),
      finish: Effect.map(ongoing, ({ cpuMicros, request, seconds, work }) => {
        current = undefined
        const done = work.next
        const result: Run = {
          client,
          concurrency: request.concurrency,
          round: request.round,
          operations: done,
          seconds,
          opsPerSecond: done / seconds,
          p50Millis: quantile(work.latencies, done, 0.5),
          p99Millis: quantile(work.latencies, done, 0.99),
          cpuMicrosPerOp: cpuMicros / done,
          // short of its count only when a slice ran into its time bound (the next ones start where it stopped)
          truncated: done < request.operations - 1
        }
        return result
      })
    }
  })
