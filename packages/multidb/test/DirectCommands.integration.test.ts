import * as diagnostics from "node:diagnostics_channel"
import { describe, expect, it } from "@effect/vitest"
import { RedisServer } from "@effect-redis/testkit"
import { Effect } from "effect"
import { RESP_TYPES } from "redis"
import * as MultiDbClient from "../src/MultiDbClient.js"
import { layer as nodeRedisLayer } from "../src/RedisConnection.js"
import { plainClient } from "./integration.helpers.js"

/**
 * Typed commands are sent the direct way (parse, send, transform the reply: what node-redis' method does, without its
 * async wrappers). Their replies must be exactly the method's, for every kind of reply transform, with and without a
 * type mapping; and node-redis' reply events must still reach whoever listens for them.
 */

type Call = readonly [method: string, args: ReadonlyArray<unknown>]

/** Calls whose replies node-redis transforms in different ways (objects, maps, tuples, numbers, booleans). */
const calls: ReadonlyArray<Call> = [
  ["set", ["s", "v"]],
  ["get", ["s"]],
  ["get", ["missing"]],
  ["set", ["n", "10", { GET: true }]],
  ["incrBy", ["n", 5]],
  ["incrByFloat", ["f", 1.5]],
  ["exists", [["s", "n", "missing"]]],
  ["hSet", ["h", { a: "1", b: "2" }]],
  ["hGetAll", ["h"]],
  ["hGetAll", ["missing"]],
  ["hExists", ["h", "a"]],
  [
    "zAdd",
    [
      "z",
      [
        { score: 1, value: "one" },
        { score: 2.5, value: "two" }
      ]
    ]
  ],
  ["zRangeWithScores", ["z", 0, -1]],
  ["zScore", ["z", "two"]],
  ["zPopMax", ["z"]],
  ["lPush", ["l", ["x", "y", "z"]]],
  ["lRange", ["l", 0, -1]],
  ["mGet", [["s", "missing", "n"]]],
  ["sAdd", ["set", ["a", "b"]]],
  ["sIsMember", ["set", "a"]],
  ["smIsMember", ["set", ["a", "c"]]],
  ["ttl", ["s"]],
  ["type", ["h"]],
  ["geoAdd", ["g", { longitude: 13.361389, latitude: 38.115556, member: "Palermo" }]],
  ["geoPos", ["g", ["Palermo", "nowhere"]]],
  ["configGet", ["maxmemory*"]],
  ["xAdd", ["x", "1-1", { field: "value" }]],
  ["xRange", ["x", "-", "+"]],
  ["hVals", ["h"]],
  ["objectEncoding", ["h"]],
  ["memoryUsage", ["s"]],
  ["echo", ["hello"]],
  ["dbSize", []]
]

/** Runs `calls` one after another through `run`, each reply (or error message) in order. */
const replies = (run: (method: string, args: ReadonlyArray<unknown>) => Promise<unknown>) =>
  Effect.promise(async () => {
    const out: Array<unknown> = []
    for (const [method, args] of calls) {
      try {
        const reply = await run(method, args)
        out.push(reply)
      } catch (error) {
        out.push(`error: ${(error as Error).message}`)
      }
    }
    return out
  })

/** A client over one server, and a plain node-redis client to a second server for reference. */
const besideReference = Effect.gen(function* () {
  const mine = yield* RedisServer.make()
  const reference = yield* RedisServer.make()
  const redis = yield* MultiDbClient.fromInput({ databases: [{ id: "only", url: mine.url, weight: 1 }] }).pipe(
    Effect.provide(nodeRedisLayer)
  )
  const plain = yield* plainClient(reference.url)
  return { redis, plain }
})

describe("typed commands sent the direct way", () => {
  it.scopedLive("reply exactly as node-redis' methods do, for every kind of reply transform", () =>
    Effect.gen(function* () {
      const { redis, plain } = yield* besideReference
      const commands = redis.commands as unknown as Record<
        string,
        (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>
      >
      const viaClient = yield* replies((method, args) =>
        Effect.runPromise(Effect.either(commands[method]!(...args))).then((either) =>
          either._tag === "Right" ? either.right : Promise.reject(either.left)
        )
      )
      const viaNodeRedis = yield* replies((method, args) =>
        (plain as unknown as Record<string, (...a: ReadonlyArray<unknown>) => Promise<unknown>>)[method]!(...args)
      )
      expect(viaClient).toEqual(viaNodeRedis)
      // the comparison covered transformed replies, not only strings
      expect(viaClient[calls.findIndex(([m]) => m === "hGetAll")]).toEqual({ a: "1", b: "2" })
      expect(viaClient[calls.findIndex(([m]) => m === "zRangeWithScores")]).toEqual([
        { value: "one", score: 1 },
        { value: "two", score: 2.5 }
      ])
    })
  )

  it.scopedLive("a type mapping applies to the reply and to its transform as it does in node-redis", () =>
    Effect.gen(function* () {
      const { redis, plain } = yield* besideReference
      const mapping = { [RESP_TYPES.BLOB_STRING]: Buffer, [RESP_TYPES.MAP]: Map }
      yield* redis.commands.hSet("h", { a: "1" })
      yield* redis.commands.zAdd("z", { score: 1, value: "one" })
      yield* Effect.promise(() => plain.hSet("h", { a: "1" }))
      yield* Effect.promise(() => plain.zAdd("z", { score: 1, value: "one" }))
      const binary = redis.withTypeMapping(mapping).commands
      const plainBinary = plain.withTypeMapping(mapping)
      expect(yield* binary.hGet("h", "a")).toEqual(Buffer.from("1"))
      const all = yield* binary.hGetAll("h")
      expect(all).toBeInstanceOf(Map)
      expect(all).toEqual(yield* Effect.promise(() => plainBinary.hGetAll("h")))
      expect(yield* binary.zRangeWithScores("z", 0, -1)).toEqual(
        yield* Effect.promise(() => plainBinary.zRangeWithScores("z", 0, -1))
      )
    })
  )

  it.scopedLive("node-redis' reply events still reach a listener", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make()
      const redis = yield* MultiDbClient.fromInput({ databases: [{ id: "only", url: server.url, weight: 1 }] }).pipe(
        Effect.provide(nodeRedisLayer)
      )
      const seen: Array<unknown> = []
      const listener = (message: unknown) => seen.push(message)
      const channel = diagnostics.channel("node-redis:command:reply")
      yield* Effect.acquireRelease(
        Effect.sync(() => channel.subscribe(listener)),
        () => Effect.sync(() => channel.unsubscribe(listener))
      )
      // whether this node-redis publishes reply events at all (6 does, 5 does not): ask it directly
      const plain = yield* plainClient(server.url)
      yield* Effect.promise(() => plain.ping())
      const publishes = seen.length > 0
      seen.length = 0
      yield* redis.commands.set("k", "v")
      expect(yield* redis.commands.get("k")).toBe("v")
      const published = seen as Array<{ readonly args?: ReadonlyArray<string>; readonly reply?: unknown }>
      if (publishes) expect(published.some((m) => m.args?.[0] === "GET" && m.reply === "v")).toBe(true)
      else expect(published).toEqual([])
    })
  )
})
