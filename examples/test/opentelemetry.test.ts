import { describe, expect, it } from "@effect/vitest"
import { RedisServer } from "@effect-redis/testkit"
import { SpanKind, SpanStatusCode } from "@opentelemetry/api"
import { DataPointType, type HistogramMetricData, type MetricData } from "@opentelemetry/sdk-metrics"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { Effect } from "effect"
import { run } from "../opentelemetry.js"

const named = (spans: ReadonlyArray<ReadableSpan>, name: string) => spans.filter((s) => s.name === name)

const only = (spans: ReadonlyArray<ReadableSpan>, name: string) => {
  const found = named(spans, name)
  expect(found.map((s) => s.name)).toEqual([name])
  return found[0]!
}

describe("examples/opentelemetry.ts", () => {
  it.scopedLive("exports a client span per command, pipeline and transaction, and the operation histogram", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const { spans, metrics } = yield* run({ east: east.url, west: west.url })

      const root = only(spans, "example")
      const set = only(spans, "SET")
      expect(set.kind).toBe(SpanKind.CLIENT)
      expect(set.parentSpanContext?.spanId).toBe(root.spanContext().spanId)
      expect(set.attributes).toEqual({
        "db.system.name": "redis",
        "db.operation.name": "SET",
        "db.namespace": "0",
        "server.address": "127.0.0.1",
        "server.port": east.port,
        "multidb.database": "east",
        "multidb.attempts": 1
      })
      expect(set.status.code).not.toBe(SpanStatusCode.ERROR)

      const pipeline = only(spans, "PIPELINE")
      expect(pipeline.attributes["db.operation.batch.size"]).toBe(2)
      expect(pipeline.attributes["db.operation.name"]).toBe("PIPELINE")
      const multi = only(spans, "MULTI")
      expect(multi.attributes["db.operation.batch.size"]).toBe(2)

      const lPush = only(spans, "LPUSH")
      expect(lPush.status.code).toBe(SpanStatusCode.ERROR)
      expect(lPush.attributes["error.type"]).toBe("WRONGTYPE")
      expect(lPush.attributes["db.response.status_code"]).toBe("WRONGTYPE")

      // the GET after the manual switch was served by west
      const gets = named(spans, "GET")
      expect(gets.map((s) => [s.attributes["multidb.database"], s.attributes["server.port"]])).toEqual([
        ["east", east.port],
        ["west", west.port]
      ])

      // no argument values, and keys are off by default
      const everything = JSON.stringify(spans.map((s) => s.attributes))
      expect(everything).not.toContain("greeting")
      expect(everything).not.toContain("hello")

      // health checks per database, with their result
      const checks = named(spans, "MultiDbClient.healthCheck")
      expect(new Set(checks.map((s) => s.attributes["multidb.database"]))).toEqual(new Set(["east", "west"]))
      expect(checks.every((s) => s.attributes["multidb.healthy"] === true)).toBe(true)

      // the manual switches, under the setActiveDatabase span that asked for them
      const switches = named(spans, "MultiDbClient.switch")
      expect(switches.map((s) => [s.attributes["multidb.from"], s.attributes["multidb.to"]])).toEqual([
        ["east", "west"],
        ["west", "east"]
      ])
      expect(switches[0]!.attributes["multidb.reason"]).toBe("manual")
      const setActive = named(spans, "MultiDbClient.setActiveDatabase")
      expect(switches[0]!.parentSpanContext?.spanId).toBe(setActive[0]!.spanContext().spanId)

      // metrics: the histogram of the conventions, in seconds, with the span's attributes
      const all: Array<MetricData> = metrics.at(-1)!.scopeMetrics.flatMap((s) => s.metrics)
      const metric = (name: string) => {
        const found = all.find((m) => m.descriptor.name === name)
        expect(found, name).toBeDefined()
        return found!
      }
      const duration = metric("db.client.operation.duration") as HistogramMetricData
      expect(duration.dataPointType).toBe(DataPointType.HISTOGRAM)
      expect(duration.descriptor.unit).toBe("s")
      const getPoint = duration.dataPoints.find(
        (p) => p.attributes["db.operation.name"] === "GET" && p.attributes["multidb.database"] === "east"
      )
      expect(getPoint?.attributes).toMatchObject({
        "db.system.name": "redis",
        "db.namespace": "0",
        "server.address": "127.0.0.1",
        "server.port": String(east.port)
      })
      expect(getPoint?.value.count).toBe(1)
      expect(getPoint?.value.buckets.boundaries).toEqual([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10])
      const lPushPoint = duration.dataPoints.find((p) => p.attributes["db.operation.name"] === "LPUSH")
      expect(lPushPoint?.attributes["error.type"]).toBe("WRONGTYPE")

      const failovers = metric("multidb.failovers")
      expect(
        failovers.dataPoints.map((p) => [p.attributes["multidb.from"], p.attributes["multidb.to"], p.value])
      ).toEqual(
        expect.arrayContaining([
          ["east", "west", 1],
          ["west", "east", 1]
        ])
      )
      expect(metric("multidb.health_check.duration").descriptor.unit).toBe("s")
      expect(
        metric("multidb.circuit.state")
          .dataPoints.map((p) => p.attributes["multidb.database"])
          .sort()
      ).toEqual(["east", "west"])
      expect(metric("multidb.command.attempts").dataPoints.length).toBeGreaterThan(0)
    })
  )
})
