import { describe, expect, it } from "@effect/vitest"
import { RedisCluster, RedisServer } from "@effect-redis/testkit"
import { Effect, Option } from "effect"
import * as MultiDbClient from "../src/MultiDbClient.js"
import { layer as nodeRedisLayer } from "../src/RedisConnection.js"
import { activeId, collectEvents, waitFor } from "./integration.helpers.js"

describe("Redis Cluster databases", () => {
  it.scopedLive(
    "a cluster and a standalone database: commands across slots, failover to standalone and back",
    () =>
      Effect.gen(function* () {
        const cluster = yield* RedisCluster.make()
        const standby = yield* RedisServer.make()
        const redis = yield* MultiDbClient.fromInput({
          databases: [
            { id: "cluster", cluster: { rootNodes: cluster.rootNodes }, weight: 1, gracePeriod: "1 second" },
            { id: "standby", url: standby.url, weight: 0.5 }
          ],
          healthCheckInterval: "300 millis",
          healthCheckProbesDelay: "50 millis",
          autoFallbackInterval: "500 millis",
          commandTimeout: "500 millis"
        }).pipe(Effect.provide(nodeRedisLayer))
        const events = yield* collectEvents(redis)
        expect(yield* activeId(redis)).toBe("cluster")
        // keys spread over the three masters' slots
        for (const key of ["a", "b", "c", "d", "e", "f"]) yield* redis.commands.set(key, key.toUpperCase())
        expect(yield* Effect.forEach(["a", "b", "c", "d", "e", "f"], (k) => redis.commands.get(k))).toEqual([
          "A",
          "B",
          "C",
          "D",
          "E",
          "F"
        ])
        expect(yield* redis.sendCommand(["GET", "c"])).toBe("C")
        const replies = yield* redis.pipeline((p) => p.set("{t}1", "x").get("{t}1"))
        expect(replies).toEqual(["OK", "x"])

        // one master down: the health check asks every master, so the cluster database is unhealthy
        yield* cluster.nodes[1]!.kill
        yield* waitFor(
          "failover to the standalone database",
          Effect.map(activeId(redis), (id) => id === "standby")
        )
        expect(yield* redis.commands.set("during", "outage")).toBe("OK")
        const standbyInfo = (yield* redis.databases).find((d) => d.id === "cluster")!
        expect(Option.getOrThrow(standbyInfo.lastHealthCheck).healthy).toBe(false)

        yield* cluster.nodes[1]!.restart
        yield* cluster.awaitReady("20 seconds")
        yield* waitFor(
          "fail-back to the cluster",
          Effect.map(activeId(redis), (id) => id === "cluster"),
          "30 seconds"
        )
        expect(yield* redis.commands.get("a")).toBe("A")
        const switches = events.filter((e) => e.event._tag === "ActiveDatabaseChanged").map((e) => e.event)
        expect(switches).toMatchObject([
          { oldDatabase: "cluster", newDatabase: "standby", reason: "automatic" },
          { oldDatabase: "standby", newDatabase: "cluster", reason: "fallback" }
        ])
      }),
    90_000
  )

  it.scopedLive("an unreachable cluster fails the initial health check of a cluster-only configuration", () =>
    Effect.gen(function* () {
      const cluster = yield* RedisCluster.make()
      const rootNodes = cluster.rootNodes
      yield* Effect.forEach(cluster.nodes, (node) => node.kill)
      const error = yield* Effect.flip(
        MultiDbClient.fromInput({
          databases: [{ id: "cluster", cluster: { rootNodes } }],
          healthCheckTimeout: "1 second",
          healthCheckProbesDelay: "50 millis",
          connectTimeout: "300 millis"
        }).pipe(Effect.provide(nodeRedisLayer))
      )
      expect(error._tag).toBe("InitialHealthCheckFailed")
    })
  )
})
