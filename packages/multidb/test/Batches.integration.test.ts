import { describe, expect, it } from "@effect/vitest"
import { RedisServer } from "@effect-redis/testkit"
import { Chunk, Deferred, Effect, Fiber, Stream } from "effect"
import * as MultiDbClient from "../src/MultiDbClient.js"
import { layer as nodeRedisLayer } from "../src/RedisConnection.js"
import { activeId, plainClient, waitFor } from "./integration.helpers.js"

const twoDatabases = (
  east: RedisServer.Service,
  west: RedisServer.Service,
  extra: Partial<Parameters<typeof MultiDbClient.fromInput>[0]> = {}
) =>
  MultiDbClient.fromInput({
    databases: [
      { id: "east", url: east.url, weight: 1 },
      { id: "west", url: west.url, weight: 0.5 }
    ],
    healthCheckInterval: "300 millis",
    healthCheckProbesDelay: "50 millis",
    commandTimeout: "500 millis",
    ...extra
  }).pipe(Effect.provide(nodeRedisLayer))

/**
 * A client over east and west whose active database, east, is then frozen (SIGSTOP: the kernel still accepts
 * connections, the handshake is never answered); connections of their own give up after 1 s.
 */
const frozenEast = Effect.gen(function* () {
  const east = yield* RedisServer.make()
  const west = yield* RedisServer.make()
  const redis = yield* twoDatabases(east, west, { connectTimeout: "500 millis" })
  yield* Effect.addFinalizer(() => east.resume)
  yield* east.stop
  return { redis, west }
})

describe("pipelines", () => {
  it.scopedLive("a pipeline's commands are sent together to the active database, replies typed", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* twoDatabases(east, west)
      const replies = yield* redis.pipeline((p) => p.set("a", "1").incr("a").get("a"))
      expect(replies).toEqual(["OK", 2, "2"])
      const direct = yield* plainClient(east.url)
      expect(yield* Effect.promise(() => direct.get("a"))).toBe("2")
    })
  )

  it.scopedLive("a read-only pipeline is retried on the next database when the active one dies", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* twoDatabases(east, west)
      const westClient = yield* plainClient(west.url)
      yield* Effect.promise(() => westClient.set("r", "west"))
      yield* east.kill
      const replies = yield* redis.pipeline((p) => p.get("r").exists("r"))
      expect(replies).toEqual(["west", 1])
    })
  )

  it.scopedLive("a write pipeline cut by a hang surfaces mayHaveExecuted instead of being replayed", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* twoDatabases(east, west)
      yield* Effect.addFinalizer(() => east.resume)
      yield* east.stop
      const error = yield* Effect.flip(redis.pipeline((p) => p.set("w", "1").incr("n")))
      expect(error).toMatchObject({ _tag: "RedisConnectionError", mayHaveExecuted: true })
      yield* waitFor(
        "failover",
        Effect.map(activeId(redis), (id) => id === "west")
      )
      expect(yield* redis.commands.get("w")).toBeNull()
    })
  )

  it.scopedLive("HIMPORT commands are refused with a reason, in commands and pipelines", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* twoDatabases(east, west)
      const raw = yield* Effect.flip(redis.sendCommand(["HIMPORT.PREPARE", "k"]))
      expect(raw._tag).toBe("InvalidRequest")
      expect(raw.message).toMatch(/one member.*failover/)
      const batched = yield* Effect.flip(
        redis.pipeline((p) => p.addCommand(["HIMPORT.SET", "k", "f", "v"]) as unknown as typeof p)
      )
      expect(batched._tag).toBe("InvalidRequest")
    })
  )
})

describe("transactions", () => {
  it.scopedLive("MULTI/EXEC applies every command on the active database", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* twoDatabases(east, west)
      const replies = yield* redis.transaction((tx) => tx.set("t", "1").incrBy("t", 4))
      expect(replies).toEqual(["OK", 5])
    })
  )

  it.scopedLive("a watched key changed by another client aborts the transaction without tripping anything", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* twoDatabases(east, west)
      const other = yield* plainClient(east.url)
      yield* redis.commands.set("balance", "10")
      const error = yield* Effect.flip(
        redis.transaction(
          async (tx, client) => {
            const balance = Number(await client.get("balance"))
            await other.set("balance", "0") // a conflicting write between WATCH and EXEC
            return tx.set("balance", String(balance - 5))
          },
          { watch: ["balance"] }
        )
      )
      expect(error).toMatchObject({ _tag: "TransactionAborted", database: "east", watched: ["balance"] })
      expect(yield* redis.commands.get("balance")).toBe("0")
      const databases = yield* redis.databases
      expect(databases.map((d) => d.circuit)).toEqual(["closed", "closed"])
    })
  )

  it.scopedLive(
    "killed between WATCH and EXEC: EXEC provably never ran, so the whole transaction runs on the next database",
    () =>
      Effect.gen(function* () {
        const east = yield* RedisServer.make()
        const west = yield* RedisServer.make()
        const redis = yield* twoDatabases(east, west)
        let attempts = 0
        const replies = yield* redis.transaction(
          async (tx, client) => {
            attempts++
            if (attempts === 1) {
              await Effect.runPromise(east.kill)
              // let the transaction's connection notice the close, so that EXEC is refused before being written
              for (let i = 0; i < 200 && client.isReady; i++) await new Promise((resolve) => setTimeout(resolve, 10))
            }
            return tx.set("x", "1").set("y", "2")
          },
          { watch: ["x"] }
        )
        expect(replies).toEqual(["OK", "OK"])
        expect(attempts).toBeGreaterThanOrEqual(2)
        const westClient = yield* plainClient(west.url)
        expect(yield* Effect.promise(() => westClient.mGet(["x", "y"]))).toEqual(["1", "2"])
      })
  )

  it.scopedLive("frozen between WATCH and EXEC: the caller learns mayHaveExecuted and it applies all or nothing", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* twoDatabases(east, west)
      yield* Effect.addFinalizer(() => east.resume)
      const error = yield* Effect.flip(
        redis.transaction(
          async (tx) => {
            await Effect.runPromise(east.stop)
            return tx.set("x", "1").set("y", "2")
          },
          { watch: ["x"] }
        )
      )
      expect(error).toMatchObject({ _tag: "RedisConnectionError", database: "east", mayHaveExecuted: true })
      yield* waitFor(
        "failover",
        Effect.map(activeId(redis), (id) => id === "west")
      )
      expect(yield* redis.commands.mGet(["x", "y"])).toEqual([null, null])
      yield* east.resume
      const eastClient = yield* plainClient(east.url)
      const applied = yield* Effect.promise(() => eastClient.exists(["x", "y"]))
      expect([0, 2]).toContain(applied)
    })
  )
  it.scopedLive("a WATCH transaction begun on a frozen database runs on the next instead of waiting to connect", () =>
    Effect.gen(function* () {
      const { redis, west } = yield* frozenEast
      const replies = yield* redis
        .transaction((tx) => tx.set("x", "1"), { watch: ["x"] })
        .pipe(
          Effect.timeoutFail({
            duration: "10 seconds",
            onTimeout: () => new Error("the transaction still waits for its connection to the frozen database")
          })
        )
      expect(replies).toEqual(["OK"])
      expect(yield* activeId(redis)).toBe("west")
      const westClient = yield* plainClient(west.url)
      expect(yield* Effect.promise(() => westClient.get("x"))).toBe("1")
    })
  )
})

describe("pub/sub across failover", () => {
  it.scopedLive("a subscription keeps receiving after the active database is killed", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* twoDatabases(east, west)
      const received: Array<string> = []
      const subscribed = yield* Deferred.make<void>()
      const fiber = yield* redis.subscribe(["news"]).pipe(
        Stream.tap((m) => Effect.sync(() => received.push(`${m.database}:${m.message}`))),
        Stream.runDrain,
        Effect.forkScoped
      )
      yield* waitFor(
        "the subscription to be live",
        Effect.map(redis.commands.publish("news", "before"), (n) => n === 1)
      )
      yield* Deferred.succeed(subscribed, undefined)
      yield* waitFor(
        "the first message",
        Effect.sync(() => received.some((r) => r.endsWith(":before")))
      )
      yield* east.kill
      yield* waitFor(
        "failover",
        Effect.map(activeId(redis), (id) => id === "west")
      )
      yield* waitFor(
        "the subscription to move to west",
        Effect.map(redis.commands.publish("news", "after"), (n) => n === 1)
      )
      yield* waitFor(
        "a message published on west",
        Effect.sync(() => received.includes("west:after"))
      )
      yield* Fiber.interrupt(fiber)
      // the consumer stopped: nothing is subscribed on west any more
      const westClient = yield* plainClient(west.url)
      yield* waitFor(
        "unsubscribe",
        Effect.map(
          Effect.promise(() => westClient.pubSubNumSub("news")),
          (counts) => counts.news === 0
        )
      )
    })
  )

  it.scopedLive("patterns and several subscribers share one connection and all move", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* twoDatabases(east, west)
      const a = yield* redis.pSubscribe(["orders.*"]).pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      const b = yield* redis.subscribe(["orders.eu", "orders.us"]).pipe(Stream.take(2), Stream.runCollect, Effect.fork)
      // PUBSUB NUMPAT / NUMSUB on the active database tell when both subscriptions are in place; probing with
      // publishes instead would feed the take(2) streams extra messages
      const subscribed = Effect.map(
        Effect.all([redis.sendCommand(["PUBSUB", "NUMPAT"]), redis.sendCommand(["PUBSUB", "NUMSUB", "orders.us"])]),
        ([patterns, channels]) => patterns === 1 && (channels as ReadonlyArray<unknown>)[1] === 1
      )
      yield* waitFor("both live on east", subscribed)
      expect(yield* redis.commands.publish("orders.eu", "1")).toBe(2)
      yield* east.kill
      yield* waitFor(
        "failover",
        Effect.map(activeId(redis), (id) => id === "west")
      )
      yield* waitFor("both moved to west", subscribed)
      expect(yield* redis.commands.publish("orders.us", "2")).toBe(2)
      // bounded: a lost message fails here with what each stream had, instead of running into the test's timeout
      const joined = yield* Effect.all([Fiber.join(a), Fiber.join(b)]).pipe(
        Effect.timeoutFail({
          duration: "10 seconds",
          onTimeout: () =>
            new Error(
              `a subscriber is missing a message: pattern stream ${a.unsafePoll() === null ? "open" : "done"}, ` +
                `channel stream ${b.unsafePoll() === null ? "open" : "done"}`
            )
        })
      )
      const fromPattern = Chunk.toReadonlyArray(joined[0])
      const fromChannels = Chunk.toReadonlyArray(joined[1])
      expect(fromPattern.map((m) => [m.database, m.channel, m.pattern])).toEqual([
        ["east", "orders.eu", "orders.*"],
        ["west", "orders.us", "orders.*"]
      ])
      expect(fromChannels.map((m) => [m.database, m.channel])).toEqual([
        ["east", "orders.eu"],
        ["west", "orders.us"]
      ])
    })
  )

  it.scopedLive("a subscription made while the active database is frozen fails typed instead of hanging", () =>
    Effect.gen(function* () {
      const { redis } = yield* frozenEast
      const error = yield* redis.subscribe(["news"]).pipe(
        Stream.runDrain,
        Effect.flip,
        Effect.timeoutFail({
          duration: "10 seconds",
          onTimeout: () => new Error("the subscription still waits for its connection to the frozen database")
        })
      )
      expect(error).toMatchObject({ _tag: "RedisConnectionError", database: "east", mayHaveExecuted: false })
      expect(error.message).toMatch(/not ready within/)
      yield* waitFor(
        "failover",
        Effect.map(activeId(redis), (id) => id === "west")
      )
      // the failed subscription left nothing behind: a new one works on the next database
      const received = yield* redis.subscribe(["news"]).pipe(Stream.take(1), Stream.runCollect, Effect.fork)
      yield* waitFor(
        "the new subscription",
        Effect.map(redis.commands.publish("news", "hello"), (n) => n === 1)
      )
      const [message] = Chunk.toReadonlyArray(yield* Fiber.join(received))
      expect([message?.database, message?.message]).toEqual(["west", "hello"])
    })
  )
})
