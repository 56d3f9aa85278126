/**
 * OpenTelemetry: the spans and metrics of a `MultiDbClient` through `@effect/opentelemetry`'s `NodeSdk`.
 *
 * Every command, pipeline and transaction is a client span named by its operation (`SET`, `GET`, `PIPELINE`,
 * `MULTI`) with the database semantic conventions' attributes; health checks and switches of the active database
 * are spans too; `db.client.operation.duration` and the library's `multidb.*` metrics go to the metric reader. Here
 * the exporters keep everything in memory and the program prints it; an application would use OTLP exporters
 * (`@opentelemetry/exporter-trace-otlp-http`, ...) in the same places.
 *
 * Run it against two local servers (`redis-server --port 6379` and `redis-server --port 6380`), or point
 * `EAST_URL` / `WEST_URL` elsewhere:
 *
 *   npx tsx --conditions=source examples/opentelemetry.ts
 */
import { fileURLToPath } from "node:url"
import { NodeSdk } from "@effect/opentelemetry"
import { MultiDbClient, type MultiDbError } from "@effect-redis/multidb"
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  PeriodicExportingMetricReader,
  type ResourceMetrics
} from "@opentelemetry/sdk-metrics"
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, type ParseResult } from "effect"

/** The OpenTelemetry SDK as a layer, with in-memory exporters to read back what was recorded. */
export const makeTelemetry = () => {
  const spans = new InMemorySpanExporter()
  const metrics = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  // exports every 10 s (and on `forceFlush`, and once more when the layer closes)
  const reader = new PeriodicExportingMetricReader({ exporter: metrics, exportIntervalMillis: 10_000 })
  const layer = NodeSdk.layer(() => ({
    resource: { serviceName: "multidb-example" },
    spanProcessor: new SimpleSpanProcessor(spans),
    metricReader: reader
  }))
  /** What was recorded so far (the in-memory exporters forget everything when the SDK shuts down). */
  const read = Effect.promise(() => reader.forceFlush()).pipe(
    Effect.map(() => ({
      spans: spans.getFinishedSpans() as ReadonlyArray<ReadableSpan>,
      metrics: metrics.getMetrics() as ReadonlyArray<ResourceMetrics>
    }))
  )
  return { layer, read }
}

/** Some traffic: commands, a pipeline, a transaction, an error reply, and a manual switch and back. */
export const program: Effect.Effect<void, MultiDbError.MultiDbError, MultiDbClient.MultiDbClient> = Effect.gen(
  function* () {
    const redis = yield* MultiDbClient.MultiDbClient
    yield* redis.commands.set("greeting", "hello")
    yield* redis.commands.get("greeting")
    yield* redis.pipeline((p) => p.set("visits", "0").incr("visits"))
    yield* redis.transaction((multi) => multi.incr("visits").get("visits"))
    // an error reply: the server answered, the database is fine; the span says WRONGTYPE
    yield* Effect.ignore(redis.commands.lPush("greeting", "x"))
    yield* redis.setActiveDatabase("west")
    yield* redis.commands.get("greeting")
    yield* redis.setActiveDatabase("east")
  }
).pipe(Effect.withSpan("example"))

/** Runs `program` against two databases with the SDK; returns the finished spans and the exported metrics. */
export const run = (urls: {
  readonly east: string
  readonly west: string
}): Effect.Effect<
  { readonly spans: ReadonlyArray<ReadableSpan>; readonly metrics: ReadonlyArray<ResourceMetrics> },
  MultiDbError.MultiDbError | ParseResult.ParseError
> => {
  const telemetry = makeTelemetry()
  const RedisLive = MultiDbClient.layer({
    databases: [
      { id: "east", url: urls.east, weight: 1 },
      { id: "west", url: urls.west, weight: 0.5 }
    ],
    healthCheckProbes: 1
  })
  // the SDK first: the client and its background fibers (health checks, failovers) see its tracer
  return Effect.zipRight(program, telemetry.read).pipe(Effect.provide(Layer.provideMerge(RedisLive, telemetry.layer)))
}

const main = Effect.gen(function* () {
  const { spans, metrics } = yield* run({
    east: process.env["EAST_URL"] ?? "redis://127.0.0.1:6379",
    west: process.env["WEST_URL"] ?? "redis://127.0.0.1:6380"
  })
  for (const span of spans) {
    const attributes = Object.entries(span.attributes).map(([k, v]) => `${k}=${String(v)}`)
    yield* Effect.log(`span ${span.name} (${span.kind}) ${attributes.join(" ")}`)
  }
  const last = metrics.at(-1)
  for (const scope of last?.scopeMetrics ?? []) {
    for (const metric of scope.metrics) {
      yield* Effect.log(
        `metric ${metric.descriptor.name} [${metric.descriptor.unit}]: ${metric.dataPoints.length} series`
      )
    }
  }
})

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  Effect.runPromise(main).catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
}
