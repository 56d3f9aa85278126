import { describe, expect, it } from "@effect/vitest"
import { RedisServer } from "@effect-redis/testkit"
import { Effect, Metric, type MetricState, Stream } from "effect"
import * as MultiDbClient from "../src/MultiDbClient.js"
import * as Metrics from "../src/MultiDbMetrics.js"
import { layer as nodeRedisLayer } from "../src/RedisConnection.js"
import { activeId, advance, setup, threeDatabases } from "./helpers.js"
import { waitFor } from "./integration.helpers.js"

const counterValue = (metric: Metric.Metric.Counter<number>) =>
  Effect.map(Metric.value(metric), (state: MetricState.MetricState.Counter<number>) => state.count)

describe("metrics", () => {
  it.scoped("a failover counts in multidb.failovers with from, to and reason", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setup(
        threeDatabases({
          databases: [
            { id: "metrics-east", url: "redis://me:6379", weight: 1 },
            { id: "metrics-west", url: "redis://mw:6379", weight: 0.5 }
          ]
        })
      )
      const failovers = Metrics.failovers.pipe(
        Metric.tagged("multidb.from", "metrics-east"),
        Metric.tagged("multidb.to", "metrics-west"),
        Metric.tagged("multidb.reason", "automatic")
      ) as Metric.Metric.Counter<number>
      expect(yield* counterValue(failovers)).toBe(0)
      yield* db("metrics-east").setBehaviour("down")
      yield* advance(6000, 250)
      expect(yield* activeId(client)).toBe("metrics-west")
      expect(yield* counterValue(failovers)).toBe(1)
    })
  )

  it.scoped("command attempts are counted per database and outcome, circuit state is a gauge", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setup(
        threeDatabases({
          databases: [
            { id: "outcomes-east", url: "redis://oe:6379", weight: 1 },
            { id: "outcomes-west", url: "redis://ow:6379", weight: 0.5 }
          ]
        })
      )
      const success = Metrics.commandAttempts.pipe(
        Metric.tagged("multidb.database", "outcomes-east"),
        Metric.tagged("multidb.outcome", "success")
      ) as Metric.Metric.Counter<number>
      const replyError = Metrics.commandAttempts.pipe(
        Metric.tagged("multidb.database", "outcomes-east"),
        Metric.tagged("multidb.outcome", "reply_error")
      ) as Metric.Metric.Counter<number>
      yield* client.commands.set("k", "v")
      yield* client.commands.get("k")
      yield* Effect.flip(client.sendCommand(["NOSUCHCOMMAND"]))
      expect(yield* counterValue(success)).toBe(2)
      expect(yield* counterValue(replyError)).toBe(1)
      const gauge = Metric.tagged(Metrics.circuitState, "multidb.database", "outcomes-east")
      expect((yield* Metric.value(gauge)).value).toBe(0)
      yield* db("outcomes-east").setBehaviour("down")
      yield* advance(2000, 250)
      expect((yield* Metric.value(gauge)).value).toBe(2)
    })
  )
})

describe("secrets", () => {
  it.scopedLive("a password never appears in events, errors or database ids", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make({ password: "right-horse-battery" })
      const url = (password: string) => `redis://:${password}@127.0.0.1:${server.port}`
      const seen: Array<string> = []
      const redis = yield* MultiDbClient.fromInput({
        databases: [
          { id: "good", url: url("right-horse-battery"), weight: 1 },
          { url: url("wrong-staple-secret"), weight: 0.5 }
        ],
        initialHealthCheckPolicy: "one",
        healthCheckInterval: "200 millis",
        healthCheckProbesDelay: "20 millis"
      }).pipe(Effect.provide(nodeRedisLayer))
      yield* redis.events.pipe(
        Stream.runForEach((event) => Effect.sync(() => seen.push(JSON.stringify(event)))),
        Effect.forkScoped
      )
      yield* waitFor(
        "a health result of the database with the wrong password",
        Effect.sync(() => seen.some((e) => e.includes("HealthCheckCompleted") && e.includes("false")))
      )
      const databases = yield* redis.databases
      seen.push(JSON.stringify(databases))
      yield* server.kill
      const failure = yield* Effect.flip(redis.commands.set("k", "v"))
      seen.push(failure.message, JSON.stringify(failure))
      const all = seen.join("\n")
      expect(all).not.toContain("right-horse-battery")
      expect(all).not.toContain("wrong-staple-secret")
      expect(databases.map((d) => d.id)).toEqual(["good", `127.0.0.1:${server.port}`])
    })
  )
})
