import { describe, expect, it } from "@effect/vitest"
import { RedisCluster, RedisServer } from "@effect-redis/testkit"
import { Effect, Option } from "effect"
import * as MultiDbClient from "../src/MultiDbClient.js"
import { layer as nodeRedisLayer } from "../src/RedisConnection.js"
import { activeId, collectEvents, plainClient, waitFor } from "./integration.helpers.js"

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

  it.scopedLive("raw commands whose first key is not their first argument go to the node that serves it", () =>
    Effect.gen(function* () {
      const cluster = yield* RedisCluster.make()
      const redis = yield* MultiDbClient.fromInput({
        databases: [{ id: "cluster", cluster: { rootNodes: cluster.rootNodes } }]
      }).pipe(Effect.provide(nodeRedisLayer))
      const admin = yield* Effect.forEach(cluster.nodes, (node) => plainClient(node.url))
      const ask = (args: ReadonlyArray<string>) => Effect.promise(() => admin[0]!.sendCommand([...args]))
      // which master serves a word's slot (masters hold contiguous ranges)
      const ranges = (yield* ask(["CLUSTER", "SLOTS"])) as unknown as ReadonlyArray<ReadonlyArray<unknown>>
      const servedBy = (word: string) =>
        Effect.map(ask(["CLUSTER", "KEYSLOT", word]), (slot) =>
          ranges.findIndex((range) => Number(range[0]) <= Number(slot) && Number(slot) <= Number(range[1]))
        )
      /** A key on another master than `word` (the word a router reading `args[1]` would route by). */
      const keyAwayFrom = (word: string, stem: string) =>
        Effect.gen(function* () {
          const avoid = yield* servedBy(word)
          for (let i = 0; ; i++) {
            const key = `${stem}${i}`
            if ((yield* servedBy(key)) !== avoid) return key
          }
        })
      const stream = yield* keyAwayFrom("COUNT", "stream")
      const list = yield* keyAwayFrom("1", "list")
      const zset = yield* keyAwayFrom("1", "zset")
      const script = "return redis.call('GET', KEYS[1])"
      const plain = yield* keyAwayFrom(script, "plain")
      const info = yield* keyAwayFrom("STREAM", "info")
      yield* Effect.forEach(admin, (client) => Effect.promise(() => client.sendCommand(["CONFIG", "RESETSTAT"])))

      yield* redis.sendCommand(["XADD", stream, "1-1", "f", "v"])
      expect(yield* redis.sendCommand(["XREAD", "COUNT", "1", "STREAMS", stream, "0"])).toBeTruthy()
      yield* redis.sendCommand(["RPUSH", list, "a"])
      expect(yield* redis.sendCommand(["BLMPOP", "1", "1", list, "LEFT"])).toEqual([list, ["a"]])
      yield* redis.sendCommand(["ZADD", zset, "1", "m"])
      expect(yield* redis.sendCommand(["ZMPOP", "1", zset, "MIN"])).toBeTruthy()
      yield* redis.sendCommand(["SET", plain, "x"])
      expect(yield* redis.sendCommand(["EVAL", script, "1", plain])).toBe("x")
      yield* redis.sendCommand(["XADD", info, "1-1", "f", "v"])
      expect(yield* redis.sendCommand(["XINFO", "STREAM", info])).toBeTruthy()

      // no node answered MOVED: every command went where its key lives at once
      const moved = yield* Effect.forEach(admin, (client) =>
        Effect.promise(async () => {
          const stats = String(await client.sendCommand(["INFO", "errorstats"]))
          return Number(/errorstat_MOVED:count=(\d+)/.exec(stats)?.[1] ?? 0)
        })
      )
      expect(moved).toEqual(cluster.nodes.map(() => 0))
    })
  )
})
