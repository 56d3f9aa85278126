/**
 * Healthy-path overhead: the same GET/SET workload against one redis-server through plain node-redis promises (A),
 * node-redis wrapped in `Effect.tryPromise` (B), the same with node-redis' per-command timer off (B′, as
 * `MultiDbClient` configures node-redis) and `MultiDbClient` with two healthy databases (C), alternating in one process
 * (each round in an order of a Williams design: `roundOrders`). C runs with its defaults (tracing on, spans going to
 * Effect's built-in tracer, which keeps none); C₀ is C with `tracing: false`; C⁺ is C with its spans sent to an
 * OpenTelemetry SDK tracer (`@effect/opentelemetry`, a batch span processor and an exporter that drops them): the cost
 * of tracing for real.
 */
import { Tracer as OtelTracer } from "@effect/opentelemetry"
import { MultiDbClient, RedisConnection } from "@effect-redis/multidb"
import { RedisServer } from "@effect-redis/testkit"
import { BatchSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base"
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node"
import { Duration, Effect } from "effect"
import { createClient } from "redis"
import { minorGc } from "./Gc.js"
import { quantile, type Summary, summarize } from "./Stats.js"

/** The clients under test. */
export type ClientKind = "plain" | "effect" | "lean" | "multidb" | "untraced" | "otel"

export const clientKinds: ReadonlyArray<ClientKind> = ["plain", "effect", "lean", "multidb", "untraced", "otel"]

export const clientLabels: Record<ClientKind, string> = {
  plain: "A node-redis (promises)",
  effect: "B node-redis in Effect.tryPromise",
  lean: "B′ as B, node-redis timeout 0",
  multidb: "C MultiDbClient (2 databases)",
  untraced: "C₀ as C, tracing: false",
  otel: "C⁺ as C, spans to an OTel SDK"
}

export interface Options {
  /**
   * Operations per timed run (GET + SET count one each), by concurrency. Short runs at concurrency 1 keep the clients of
   * a round close in time; runs at 64 are longer, or most of a run would be its ramp-up and first collections.
   */
  readonly operations: Readonly<Record<number, number>>
  readonly warmupOperations: number
  readonly rounds: number
  readonly concurrencies: ReadonlyArray<number>
  /** The clients to run (default all three); fewer only for profiling one of them. */
  readonly clients?: ReadonlyArray<ClientKind>
  /** Bound on one run, whatever its operation count. */
  readonly runTimeout: Duration.DurationInput
}

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
  /** CPU time of this process (user + system) per operation: less sensitive to other load than ops/s. */
  readonly cpuMicrosPerOp: number
  /** The run hit its time bound before its operation count. */
  readonly truncated: boolean
}

export interface ClientFigures {
  readonly opsPerSecond: Summary
  readonly p50Millis: Summary
  readonly p99Millis: Summary
  readonly cpuMicrosPerOp: Summary
}

export interface ConcurrencyResult {
  readonly concurrency: number
  readonly clients: Record<ClientKind, ClientFigures>
  /** Each ratio: the median of the per-round ratios, with their range. */
  readonly ratios: {
    readonly multidbOverEffect: Summary
    /** Against B′: the Effect wrapper over node-redis configured like MultiDbClient's (no per-command timer). */
    readonly multidbOverLean: Summary
    readonly multidbOverPlain: Summary
    readonly effectOverPlain: Summary
    /** CPU time per operation of C over that of B (lower is better). */
    readonly cpuMultidbOverEffect: number | null
    /** CPU time per operation of C over that of B′. */
    readonly cpuMultidbOverLean: number | null
    /** C₀ (tracing off) against B′. */
    readonly untracedOverLean: Summary
    /** C⁺ (spans exported through an OpenTelemetry SDK) against B′. */
    readonly otelOverLean: Summary
    /** C and C⁺ against C₀: what tracing costs in throughput. */
    readonly multidbOverUntraced: Summary
    readonly otelOverUntraced: Summary
    /** CPU µs per operation that tracing adds: C − C₀ and C⁺ − C₀. */
    readonly tracingCpuMicros: number | null
    readonly otelCpuMicros: number | null
  }
}

export interface Result {
  readonly options: {
    readonly operations: Readonly<Record<number, number>>
    readonly warmupOperations: number
    readonly rounds: number
    readonly concurrencies: ReadonlyArray<number>
  }
  readonly byConcurrency: ReadonlyArray<ConcurrencyResult>
  readonly runs: ReadonlyArray<Run>
}

const keyCount = 1000
const keys = Array.from({ length: keyCount }, (_, i) => `bench:overhead:${i}`)
const value = "v".repeat(32)

/** Per-run bookkeeping shared by the workers of one run: the next operation and each operation's latency. */
interface Work {
  next: number
  readonly operations: number
  readonly deadline: number
  readonly latencies: Float64Array
}

const newWork = (operations: number, timeoutMillis: number): Work => ({
  next: 0,
  operations,
  deadline: performance.now() + timeoutMillis,
  latencies: new Float64Array(operations)
})

/** Claims the next GET/SET pair: the index of its SET (its GET is index + 1), or -1 when the run is over. */
const claim = (work: Work): number => {
  const i = work.next
  if (i + 1 >= work.operations || performance.now() > work.deadline) return -1
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

/** `items` in an order drawn from `seed` (a fixed sequence of draws: every run of the bench draws the same). */
const shuffled = <A>(items: ReadonlyArray<A>, seed: number): Array<A> => {
  let state = seed >>> 0
  const draw = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const order = [...items]
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(draw() * (i + 1))
    const swap = order[i]!
    order[i] = order[j]!
    order[j] = swap
  }
  return order
}

/**
 * A Williams design for `n` clients: orders (rows) in which every client follows every other one equally often (once
 * for an even `n`, in `n` rows; twice for an odd `n`, in `2n` rows). Row `r` is the first row shifted by `r`; the first
 * row is 0, 1, n−1, 2, n−2, …
 */
const williams = (n: number): Array<Array<number>> => {
  const first = Array.from({ length: n }, (_, j) => (j === 0 ? 0 : j % 2 === 1 ? (j + 1) / 2 : n - j / 2))
  const rows = Array.from({ length: n }, (_, r) => first.map((x) => (x + r) % n))
  return n % 2 === 0 ? rows : [...rows, ...rows.map((row) => [...row].reverse())]
}

/**
 * The order of the clients in each round. A client run right after another can pay for what that one left behind:
 * node-redis with its per-command timeout (A, B) arms an `AbortSignal.timeout` per command, whose timers and
 * finalizers (25 000 to 100 000 of them per run) fire during the runs that follow it, and C⁺ leaves spans to export.
 * So the orders come from a Williams design: over each block of rounds (6 for six clients) every client
 * follows every other one exactly once, the rows in a shuffled order per block; each round begins after an untimed
 * settling run of B′, so a round's first client follows the same one whichever it is. Shuffled orders drawn freely
 * did not balance this: in the 20 rounds of the previous method C and C₀ came right after A or B 9 times each, B′ 4.
 */
const roundOrders = <A>(items: ReadonlyArray<A>, rounds: number): Array<Array<A>> => {
  const rows = williams(items.length)
  const orders: Array<Array<A>> = []
  for (let block = 0; orders.length < rounds; block++) {
    for (const row of shuffled(rows, block + 1)) {
      if (orders.length < rounds) orders.push(row.map((i) => items[i]!))
    }
  }
  return orders
}

/**
 * Runs the overhead benchmark on fresh servers; `log` receives progress lines.
 */
export const run = (options: Options, log: (line: string) => void) =>
  Effect.scoped(
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const plain = yield* connectPlain(east.url)
      const wrapped = yield* connectPlain(east.url)
      const lean = yield* connectPlain(east.url, 0)
      const multidbClient = (tracing: boolean) =>
        MultiDbClient.fromInput({
          databases: [
            { id: "east", url: east.url, weight: 1 },
            { id: "west", url: west.url, weight: 0.5 }
          ],
          tracing
        }).pipe(Effect.provide(RedisConnection.layer))
      const multidb = yield* multidbClient(true)
      const untraced = yield* multidbClient(false)
      const tracer = yield* otelTracer

      const effectCommands: EffectCommands<unknown> = {
        set: (key, v) => Effect.tryPromise({ try: () => wrapped.set(key, v), catch: (error) => error }),
        get: (key) => Effect.tryPromise({ try: () => wrapped.get(key), catch: (error) => error })
      }
      const leanCommands: EffectCommands<unknown> = {
        set: (key, v) => Effect.tryPromise({ try: () => lean.set(key, v), catch: (error) => error }),
        get: (key) => Effect.tryPromise({ try: () => lean.get(key), catch: (error) => error })
      }
      const multidbCommands: EffectCommands<unknown> = {
        set: (key, v) => multidb.commands.set(key, v),
        get: (key) => multidb.commands.get(key)
      }
      const untracedCommands: EffectCommands<unknown> = {
        set: (key, v) => untraced.commands.set(key, v),
        get: (key) => untraced.commands.get(key)
      }
      const timeoutMillis = Duration.toMillis(Duration.decode(options.runTimeout))

      /**
       * One timed run, after a collection of the young generation (what the run before left behind). Not a full
       * collection: that made the next run recompile the optimized code it dropped (code whose embedded objects had
       * died), which a process serving traffic does not pay every few thousand commands; on this machine it added a
       * fixed ~0.2 s of CPU to every run, more for the client with more code on its path. What a run leaves in the old
       * generation is collected during the runs after it, which the round orders balance (`roundOrders`).
       */
      const once = (client: ClientKind, concurrency: number, operations: number, round: number) =>
        Effect.gen(function* () {
          minorGc()
          const work = newWork(operations, timeoutMillis)
          const start = performance.now()
          const cpuStart = process.cpuUsage()
          if (client === "plain") yield* Effect.promise(() => runPlain(plain, work, concurrency))
          else if (client === "otel") yield* Effect.withTracer(runEffect(multidbCommands, work, concurrency), tracer)
          else {
            const commands =
              client === "effect"
                ? effectCommands
                : client === "lean"
                  ? leanCommands
                  : client === "untraced"
                    ? untracedCommands
                    : multidbCommands
            yield* runEffect(commands, work, concurrency)
          }
          const seconds = (performance.now() - start) / 1000
          const cpu = process.cpuUsage(cpuStart)
          const done = work.next
          const result: Run = {
            client,
            concurrency,
            round,
            operations: done,
            seconds,
            opsPerSecond: done / seconds,
            p50Millis: quantile(work.latencies, done, 0.5),
            p99Millis: quantile(work.latencies, done, 0.99),
            cpuMicrosPerOp: (cpu.user + cpu.system) / done,
            truncated: done < operations - 1
          }
          return result
        })

      const runs: Array<Run> = []
      const selected = options.clients ?? clientKinds
      const orders = roundOrders(selected, options.rounds)
      const settler: ClientKind = selected.includes("lean") ? "lean" : selected[0]!
      for (const concurrency of options.concurrencies) {
        for (const client of selected) yield* once(client, concurrency, options.warmupOperations, -1)
        for (let round = 0; round < options.rounds; round++) {
          const order = orders[round]!
          yield* once(settler, concurrency, Math.min(2_000, options.warmupOperations), -1)
          const line: Array<string> = []
          for (const client of order) {
            const r = yield* once(client, concurrency, options.operations[concurrency]!, round)
            runs.push(r)
            line.push(`${client} ${Math.round(r.opsPerSecond)} ops/s`)
          }
          log(`  overhead c=${concurrency} round ${round + 1}/${options.rounds}: ${line.join(", ")}`)
        }
      }

      const byConcurrency = options.concurrencies.map((concurrency): ConcurrencyResult => {
        const of = (client: ClientKind) => runs.filter((r) => r.client === client && r.concurrency === concurrency)
        const figures = (client: ClientKind): ClientFigures => ({
          opsPerSecond: summarize(of(client).map((r) => r.opsPerSecond)),
          p50Millis: summarize(of(client).map((r) => r.p50Millis)),
          p99Millis: summarize(of(client).map((r) => r.p99Millis)),
          cpuMicrosPerOp: summarize(of(client).map((r) => r.cpuMicrosPerOp))
        })
        const clients = {
          plain: figures("plain"),
          effect: figures("effect"),
          lean: figures("lean"),
          multidb: figures("multidb"),
          untraced: figures("untraced"),
          otel: figures("otel")
        }
        const cpuDifference = (a: ClientKind, b: ClientKind) =>
          clients[a].cpuMicrosPerOp.median !== null && clients[b].cpuMicrosPerOp.median !== null
            ? clients[a].cpuMicrosPerOp.median - clients[b].cpuMicrosPerOp.median
            : null
        const ratio = (a: ClientKind, b: ClientKind): Summary => {
          const perRound = Array.from({ length: options.rounds }, (_, round) => {
            const x = of(a).find((r) => r.round === round)
            const y = of(b).find((r) => r.round === round)
            return x !== undefined && y !== undefined ? x.opsPerSecond / y.opsPerSecond : null
          })
          // The median of the per-round ratios: the machine's speed drifts between rounds (here by up to ±20 % within
          // a minute), and each round measures both clients within seconds of each other, so a drift cancels in its
          // ratio; a ratio of medians would compare throughputs taken at different times.
          return summarize(perRound)
        }
        return {
          concurrency,
          clients,
          ratios: {
            multidbOverEffect: ratio("multidb", "effect"),
            multidbOverLean: ratio("multidb", "lean"),
            multidbOverPlain: ratio("multidb", "plain"),
            effectOverPlain: ratio("effect", "plain"),
            cpuMultidbOverEffect:
              clients.multidb.cpuMicrosPerOp.median !== null && clients.effect.cpuMicrosPerOp.median !== null
                ? clients.multidb.cpuMicrosPerOp.median / clients.effect.cpuMicrosPerOp.median
                : null,
            cpuMultidbOverLean:
              clients.multidb.cpuMicrosPerOp.median !== null && clients.lean.cpuMicrosPerOp.median !== null
                ? clients.multidb.cpuMicrosPerOp.median / clients.lean.cpuMicrosPerOp.median
                : null,
            untracedOverLean: ratio("untraced", "lean"),
            otelOverLean: ratio("otel", "lean"),
            multidbOverUntraced: ratio("multidb", "untraced"),
            otelOverUntraced: ratio("otel", "untraced"),
            tracingCpuMicros: cpuDifference("multidb", "untraced"),
            otelCpuMicros: cpuDifference("otel", "untraced")
          }
        }
      })
      const result: Result = {
        options: {
          operations: options.operations,
          warmupOperations: options.warmupOperations,
          rounds: options.rounds,
          concurrencies: options.concurrencies
        },
        byConcurrency,
        runs
      }
      return result
    })
  )
