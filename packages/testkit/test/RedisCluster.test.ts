import { describe, expect, it } from "@effect/vitest"
import { RedisCluster } from "@effect-redis/testkit"
import { Effect } from "effect"
import { createCluster } from "redis"
import { connect, destroyQuietly } from "./helpers.js"

const clusterClient = (cluster: RedisCluster.Service) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = createCluster({ rootNodes: [...cluster.rootNodes] })
      client.on("error", () => {})
      await client.connect()
      return client
    }),
    (client) => Effect.sync(() => destroyQuietly(client))
  )

const keys = Array.from({ length: 30 }, (_, index) => `key:${index}`)

describe("RedisCluster", () => {
  it.scopedLive("starts three masters that cover every slot and serve keys across slots", () =>
    Effect.gen(function* () {
      const cluster = yield* RedisCluster.make()
      expect(cluster.nodes).toHaveLength(3)
      expect(new Set(cluster.nodes.map((node) => node.port)).size).toBe(3)
      expect(yield* cluster.states).toEqual(["ok", "ok", "ok"])
      const client = yield* clusterClient(cluster)
      const masters = client.masters.map((master) => master.port).sort()
      expect(masters).toEqual(cluster.nodes.map((node) => node.port).sort())
      yield* Effect.promise(() => Promise.all(keys.map((key) => client.set(key, key.toUpperCase()))))
      const values = yield* Effect.promise(() => Promise.all(keys.map((key) => client.get(key))))
      expect(values).toEqual(keys.map((key) => key.toUpperCase()))
      const sizes = yield* Effect.forEach(cluster.nodes, (node) =>
        Effect.flatMap(connect({ url: node.url }), ({ client }) => Effect.promise(() => client.dbSize()))
      )
      expect(sizes.every((size) => size > 0)).toBe(true)
      expect(sizes.reduce((total, size) => total + size, 0)).toBe(keys.length)
    })
  )

  it.scopedLive("a killed node rejoins after restart and the cluster is ok again", () =>
    Effect.gen(function* () {
      const cluster = yield* RedisCluster.make({ nodeTimeout: "1 second" })
      const node = cluster.nodes[1]!
      const before = yield* node.pid
      yield* node.kill
      const down = yield* cluster.states
      expect(down[1]).toBe("down")
      yield* node.restart
      expect(yield* node.pid).not.toBe(before)
      yield* cluster.awaitReady("20 seconds")
      expect(yield* cluster.states).toEqual(["ok", "ok", "ok"])
      const client = yield* clusterClient(cluster)
      yield* Effect.promise(() => Promise.all(keys.map((key) => client.set(key, "v"))))
      expect(yield* Effect.promise(() => Promise.all(keys.map((key) => client.get(key))))).toEqual(keys.map(() => "v"))
    })
  )
})
