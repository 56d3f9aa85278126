import { describe, expect, it } from "@effect/vitest"
import { RedisServer } from "@effect-redis/testkit"
import { Effect, Either } from "effect"
import * as MultiDbClient from "../src/MultiDbClient.js"
import { layer as nodeRedisLayer } from "../src/RedisConnection.js"
import { waitFor } from "./integration.helpers.js"
import { recordingTracer } from "./tracing.helpers.js"

describe("telemetry against real redis-servers", () => {
  it.scopedLive(
    "after a kill -9 of the active database, the failover span sits under the check that found it down",
    () => {
      const { tracer, spans } = recordingTracer()
      return Effect.gen(function* () {
        const east = yield* RedisServer.make()
        const west = yield* RedisServer.make()
        const redis = yield* MultiDbClient.fromInput({
          databases: [
            { id: "trace-east", url: east.url, weight: 1 },
            { id: "trace-west", url: west.url, weight: 0.5 }
          ],
          healthCheckInterval: "1 minute",
          healthCheckProbes: 1,
          commandTimeout: "500 millis",
          autoFallbackInterval: 0
        }).pipe(Effect.provide(nodeRedisLayer))
        yield* redis.commands.set("k", "v")
        yield* east.kill
        yield* waitFor(
          "a GET served by trace-west",
          Effect.sync(() =>
            spans.some((s) => s.name === "GET" && s.attributes.get("multidb.database") === "trace-west")
          ).pipe(Effect.tap((done) => (done ? Effect.void : Effect.either(redis.commands.get("k")))))
        )
        const failover = spans.find((s) => s.name === "MultiDbClient.failover")!
        expect(Object.fromEntries(failover.attributes)).toMatchObject({
          "multidb.from": "trace-east",
          "multidb.to": "trace-west",
          "multidb.reason": "automatic"
        })
        const check = spans.find((s) => s.spanId === failover.parentSpanId)!
        expect(check.name).toBe("MultiDbClient.healthCheck")
        expect(check.traceId).toBe(failover.traceId)
        expect(Object.fromEntries(check.attributes)).toMatchObject({
          "multidb.database": "trace-east",
          "multidb.healthy": false,
          "server.port": east.port
        })
        expect(String(check.attributes.get("multidb.cause"))).not.toBe("")
        expect(failover.attributes.get("multidb.cause")).toBe(check.attributes.get("multidb.cause"))
        expect(
          check.events.find(
            (e) => e.name === "multidb.circuit_state_changed" && e.attributes["multidb.circuit.to"] === "open"
          )
        ).toBeDefined()
        const servedByWest = spans.find(
          (s) => s.name === "GET" && s.attributes.get("multidb.database") === "trace-west"
        )!
        expect(servedByWest.attributes.get("server.port")).toBe(west.port)
        const lastGet = yield* Effect.either(redis.commands.get("k"))
        expect(Either.isRight(lastGet)).toBe(true)
      }).pipe(Effect.withTracer(tracer))
    }
  )
})
