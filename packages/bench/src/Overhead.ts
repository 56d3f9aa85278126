/**
 * Healthy-path overhead: the same GET/SET workload against one redis-server through plain node-redis promises (A),
 * node-redis wrapped in `Effect.tryPromise` (B), the same with node-redis' per-command timer off (B′, as
 * `MultiDbClient` configures node-redis) and `MultiDbClient` with two healthy databases (C), each in a process of its
 * own (`OverheadWorker`; or all in this one: `processes: "shared"`), their runs alternating (each round in an order of
 * a Williams design: `roundOrders`). C runs with its defaults (tracing on, spans going to Effect's built-in tracer,
 * which keeps none); C₀ is C with `tracing: false`; C⁺ is C with its spans sent to an OpenTelemetry SDK tracer
 * (`@effect/opentelemetry`, a batch span processor and an exporter that drops them): the cost of tracing for real.
 */
import { type ChildProcess, fork } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { RedisServer } from "@effect-redis/testkit"
import { Duration, Effect, type Scope } from "effect"
import {
  type ClientKind,
  type ClientRunner,
  clientKinds,
  local,
  type Run,
  type RunRequest,
  type Servers
} from "./OverheadClient.js"
import type { Reply, Request } from "./OverheadProtocol.js"
import { type Summary, summarize } from "./Stats.js"

export { type ClientKind, clientKinds, type Run } from "./OverheadClient.js"

export const clientLabels: Record<ClientKind, string> = {
  plain: "A node-redis (promises)",
  effect: "B node-redis in Effect.tryPromise",
  lean: "B′ as B, node-redis timeout 0",
  multidb: "C MultiDbClient (2 databases)",
  untraced: "C₀ as C, tracing: false",
  otel: "C⁺ as C, spans to an OTel SDK"
}

/** Where the clients run: each in a process of its own, or all in the bench's. */
export type Processes = "own" | "shared"

export interface Options {
  /**
   * Operations per timed run (GET + SET count one each), by concurrency. Short runs at concurrency 1 keep the clients of
   * a round close in time; runs at 64 are longer, or most of a run would be its ramp-up and first collections.
   */
  readonly operations: Readonly<Record<number, number>>
  readonly warmupOperations: number
  readonly rounds: number
  readonly concurrencies: ReadonlyArray<number>
  /** The clients to run (default all six); fewer only for profiling some of them. */
  readonly clients?: ReadonlyArray<ClientKind>
  /**
   * Where the clients run: each in a process of its own (`"own"`, the default: as an application runs one client), or
   * all in this process (`"shared"`: each client's figures then include what the others leave in the JIT and the heap).
   */
  readonly processes?: Processes
  /** Slices per run: the runs of a round alternate slice by slice (`ClientRunner`). */
  readonly slices: number
  /** Bound on one slice, whatever its operation count. */
  readonly sliceTimeout: Duration.DurationInput
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
    readonly processes: Processes
    readonly slices: number
  }
  readonly byConcurrency: ReadonlyArray<ConcurrencyResult>
  readonly runs: ReadonlyArray<Run>
}

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
 * The order of the clients in each round (and in each of its slices). A client run right after another can pay for
 * what that one left behind: in one process (`processes: "shared"`), node-redis with its per-command timeout (A, B)
 * arms an `AbortSignal.timeout` per command, whose timers and finalizers fire during the runs that follow it, and C⁺
 * leaves spans to export; in processes of their own, the caches the one before used. So the orders come from a
 * Williams design: over each block of rounds (6 for six clients) every client follows every other one exactly once,
 * the rows in a shuffled order per block. Shuffled orders drawn freely did not balance this: in the 20 rounds of an
 * earlier method C and C₀ came right after A or B 9 times each, B′ 4.
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

/** The worker's file, in the same form as this one: compiled (`npm run bench`) or the TypeScript source (tsx). */
const workerPath = path.join(
  path.dirname(fileURLToPath(import.meta.url)),
  `OverheadWorker${path.extname(fileURLToPath(import.meta.url))}`
)

/** How long a worker may take to connect, or a run to report beyond its own time bound. */
const workerGraceMillis = 60_000

/** Waits for the worker's next reply; fails when it exits, fails or stays silent for `millis`. */
const nextReply = (child: ChildProcess, client: ClientKind, millis: number) =>
  Effect.async<Reply, Error>((resume) => {
    const done = () => {
      child.off("message", onMessage)
      child.off("exit", onExit)
      clearTimeout(timer)
    }
    const onMessage = (reply: Reply) => {
      done()
      resume(
        reply.type === "error"
          ? Effect.fail(new Error(`the ${client} worker failed: ${reply.message}`))
          : Effect.succeed(reply)
      )
    }
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      done()
      resume(Effect.fail(new Error(`the ${client} worker exited (${code ?? signal}) before it replied`)))
    }
    const timer = setTimeout(() => {
      done()
      resume(Effect.fail(new Error(`the ${client} worker did not reply within ${millis} ms`)))
    }, millis)
    child.on("message", onMessage)
    child.once("exit", onExit)
  })

/**
 * A client in a process of its own (`OverheadWorker`), connected when this returns; closed, or killed if it does not
 * end within 10 s, with the scope.
 */
const remote = (
  client: ClientKind,
  servers: Servers,
  sliceTimeoutMillis: number
): Effect.Effect<ClientRunner, Error, Scope.Scope> =>
  Effect.gen(function* () {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        fork(workerPath, [client, servers.east, servers.west, String(sliceTimeoutMillis)], {
          execArgv: [...process.execArgv.filter((arg) => arg !== "--expose-gc"), "--expose-gc"],
          stdio: ["ignore", "inherit", "inherit", "ipc"]
        })
      ),
      (child) =>
        Effect.async<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          const kill = setTimeout(() => child.kill("SIGKILL"), 10_000)
          child.once("exit", () => {
            clearTimeout(kill)
            resume(Effect.void)
          })
          if (child.connected) child.send({ type: "close" } satisfies Request)
          else child.kill("SIGKILL")
        })
    )
    const ready = yield* nextReply(child, client, workerGraceMillis)
    if (ready.type !== "ready") return yield* Effect.fail(new Error(`the ${client} worker sent ${ready.type} first`))
    /** Sends `message` and waits for the reply it expects. */
    const exchange = <T extends Reply["type"]>(message: Request, expected: T) =>
      Effect.zipRight(
        Effect.sync(() => child.send(message)),
        Effect.flatMap(nextReply(child, client, sliceTimeoutMillis + workerGraceMillis), (reply) =>
          reply.type === expected
            ? Effect.succeed(reply as Extract<Reply, { readonly type: T }>)
            : Effect.fail(new Error(`the ${client} worker sent ${reply.type}, not ${expected}`))
        )
      )
    return {
      client,
      begin: (run) => Effect.asVoid(exchange({ type: "begin", ...run }, "done")),
      slice: (operations) => Effect.asVoid(exchange({ type: "slice", operations }, "done")),
      finish: Effect.map(exchange({ type: "finish" }, "result"), (reply) => reply.run)
    }
  })

/**
 * Runs the overhead benchmark on fresh servers; `log` receives progress lines.
 */
export const run = (options: Options, log: (line: string) => void) =>
  Effect.scoped(
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const servers: Servers = { east: east.url, west: west.url }
      const timeoutMillis = Duration.toMillis(Duration.decode(options.sliceTimeout))
      const selected = options.clients ?? clientKinds
      const runners = new Map<ClientKind, ClientRunner>()
      for (const client of selected) {
        runners.set(
          client,
          options.processes === "shared"
            ? yield* local(client, servers, timeoutMillis)
            : yield* remote(client, servers, timeoutMillis)
        )
      }
      /**
       * The runs of `order`, one each, `operations` long, timed in `slices` slices alternating in that order: each
       * client's run is spread over the same stretch of time as the others'.
       */
      const alternating = (order: ReadonlyArray<ClientKind>, request: RunRequest, slices: number) =>
        Effect.gen(function* () {
          const clients = order.map((client) => runners.get(client)!)
          for (const client of clients) yield* client.begin(request)
          // whole GET/SET pairs per slice; the last slice takes what is left
          const perSlice = 2 * Math.ceil(request.operations / slices / 2)
          for (let slice = 0; slice < slices; slice++) {
            for (const client of clients) yield* client.slice(perSlice)
          }
          return yield* Effect.forEach(clients, (client) => client.finish)
        })

      const runs: Array<Run> = []
      const orders = roundOrders(selected, options.rounds)
      for (const concurrency of options.concurrencies) {
        // warm-up: every client in turn, one slice each
        yield* alternating(selected, { concurrency, operations: options.warmupOperations, round: -1 }, 1)
        for (let round = 0; round < options.rounds; round++) {
          const order = orders[round]!
          const request = { concurrency, operations: options.operations[concurrency]!, round }
          const results = yield* alternating(order, request, options.slices)
          runs.push(...results)
          const line = results.map((r) => `${r.client} ${Math.round(r.opsPerSecond)} ops/s`)
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
          concurrencies: options.concurrencies,
          processes: options.processes ?? "own",
          slices: options.slices
        },
        byConcurrency,
        runs
      }
      return result
    })
  )
