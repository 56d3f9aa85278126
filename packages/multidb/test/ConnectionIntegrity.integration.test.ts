import { describe, expect, it } from "@effect/vitest"
import { RedisServer } from "@effect-redis/testkit"
import { Effect, Either, Fiber, Option } from "effect"
import { RESP_TYPES } from "redis"
import * as MultiDbClient from "../src/MultiDbClient.js"
import { layer as nodeRedisLayer } from "../src/RedisConnection.js"
import * as HostileProxy from "./hostileProxy.js"
import { activeId, plainClient, waitFor } from "./integration.helpers.js"

const commandTimeoutMillis = 1000
const connectTimeoutMillis = 2000

const twoDatabases = (eastUrl: string, westUrl: string, hangProbeTimeout = "100 millis") =>
  MultiDbClient.fromInput({
    databases: [
      { id: "east", url: eastUrl, weight: 1 },
      { id: "west", url: westUrl, weight: 0.5 }
    ],
    healthCheckInterval: "300 millis",
    healthCheckProbesDelay: "50 millis",
    commandTimeout: `${commandTimeoutMillis} millis`,
    connectTimeout: `${connectTimeoutMillis} millis`,
    hangProbeTimeout
  }).pipe(Effect.provide(nodeRedisLayer))

type Plain = Effect.Effect.Success<ReturnType<typeof plainClient>>

const blockedClients = (client: Plain) =>
  Effect.promise(async () => {
    const info = await client.info("clients")
    return Number(/blocked_clients:(\d+)/.exec(info)?.[1] ?? "-1")
  })

/**
 * `fibers` fibers issuing GETs back to back until `stop` is set; each outcome is recorded with its time and how long
 * it took. Bounded by `maxMillis`.
 */
const readers = (
  redis: MultiDbClient.MultiDbClient,
  key: string,
  fibers: number,
  maxMillis: number,
  stop: { done: boolean }
) =>
  Effect.gen(function* () {
    const outcomes: Array<{ fiber: number; at: number; took: number; ok: boolean; value: unknown }> = []
    const started = performance.now()
    const loop = (fiber: number) =>
      Effect.gen(function* () {
        while (!stop.done && performance.now() - started < maxMillis) {
          const at = performance.now()
          const result = yield* Effect.either(redis.commands.get(key))
          const end = performance.now()
          outcomes.push({
            fiber,
            at: end,
            took: end - at,
            ok: Either.isRight(result),
            value: Either.isRight(result) ? result.right : result.left._tag
          })
          yield* Effect.sleep("5 millis")
        }
      })
    const all = yield* Effect.forkScoped(
      Effect.forEach(
        Array.from({ length: fibers }, (_, i) => i),
        loop,
        { concurrency: "unbounded", discard: true }
      )
    )
    return { outcomes, all }
  })

/** Samples this process's RSS every 20 ms; `peak` is the highest seen. */
const rssSampler = Effect.gen(function* () {
  const state = { baseline: process.memoryUsage().rss, peak: process.memoryUsage().rss }
  yield* Effect.forkScoped(
    Effect.sync(() => {
      state.peak = Math.max(state.peak, process.memoryUsage().rss)
    }).pipe(Effect.zipRight(Effect.sleep("20 millis")), Effect.forever)
  )
  return state
})

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024)

describe("a reply that never ends", () => {
  it.scopedLive(
    "the connection is cut at the deadline, memory stays bounded, and traffic moves to the next database",
    () =>
      Effect.gen(function* () {
        const eastServer = yield* RedisServer.make()
        const west = yield* RedisServer.make()
        const proxy = yield* HostileProxy.make(eastServer.port, { chunk: 128 * 1024, everyMillis: 5 })
        const eastPlain = yield* plainClient(eastServer.url)
        const westPlain = yield* plainClient(west.url)
        yield* Effect.promise(() => eastPlain.set("k", "east"))
        yield* Effect.promise(() => westPlain.set("k", "west"))
        const redis = yield* twoDatabases(proxy.url, west.url)
        expect(yield* redis.commands.get("k")).toBe("east")

        const memory = yield* rssSampler
        const stop = { done: false }
        const { outcomes } = yield* readers(redis, "k", 4, 20_000, stop)
        yield* waitFor(
          "reads served by east",
          Effect.sync(() => outcomes.some((o) => o.value === "east"))
        )
        const hostileAt = performance.now()
        yield* proxy.hostile
        yield* waitFor(
          "every reader served by west",
          Effect.sync(() => [0, 1, 2, 3].every((f) => outcomes.some((o) => o.fiber === f && o.value === "west")))
        )
        const recovered = Math.max(
          ...[0, 1, 2, 3].map((f) => outcomes.find((o) => o.fiber === f && o.value === "west")!.at)
        )
        expect(yield* activeId(redis)).toBe("west")
        // Keep the hostile database under health checks for a while: each of its connections must be cut.
        yield* Effect.sleep("5 seconds")
        stop.done = true
        const now = performance.now()
        const limit = connectTimeoutMillis + commandTimeoutMillis + 1000
        const sockets = proxy.sockets
        expect(sockets.length).toBeGreaterThan(0)
        let checked = 0
        for (const socket of sockets) {
          if (now - socket.startedAt > limit) {
            checked++
            expect(socket.closedAt).toBeDefined()
            expect(socket.closedAt! - socket.startedAt).toBeLessThan(limit)
          }
        }
        expect(checked).toBeGreaterThan(0)
        const streamed = sockets.reduce((sum, s) => sum + s.sent, 0)
        const peakGrowth = memory.peak - memory.baseline
        console.log(
          `endless reply: every reader served again after ${((recovered - hostileAt) / 1000).toFixed(3)} s; ` +
            `${sockets.length} hostile connections cut, ${mb(streamed)} MB streamed at them; ` +
            `RSS baseline ${mb(memory.baseline)} MB, peak ${mb(memory.peak)} MB (+${mb(peakGrowth)} MB)`
        )
        // Without the cut every hostile connection would hold all it was sent.
        expect(peakGrowth).toBeLessThan(Math.max(300 * 1024 * 1024, streamed / 2))
        expect(peakGrowth).toBeLessThan(400 * 1024 * 1024)
        const afterRecovery = outcomes.filter((o) => o.at > recovered + 50)
        expect(afterRecovery.length).toBeGreaterThan(20)
        expect(afterRecovery.every((o) => o.ok && o.value === "west")).toBe(true)
      }),
    60_000
  )
})

describe("a command that misses its deadline", () => {
  it.scopedLive(
    "takes the shared connection with it: written commands behind it fail as such, reads are retried, the server's blocked connection is closed",
    () =>
      Effect.gen(function* () {
        const east = yield* RedisServer.make()
        const west = yield* RedisServer.make()
        const plain = yield* plainClient(east.url)
        yield* Effect.promise(() => plain.set("k", "v"))
        // East is healthy: only its shared connection is stuck. The PING that follows the missed deadline gets a
        // second, not 100 ms, so that a loaded machine cannot turn it into a failover this test is not about.
        const redis = yield* twoDatabases(east.url, west.url, "1 second")
        // The escape hatch lets a BLPOP through onto the shared connection.
        const stuck = yield* Effect.fork(
          Effect.either(redis.execute((client) => client.blPop("nothing", 0), { command: "BLPOP" }))
        )
        yield* waitFor(
          "BLPOP blocked on the server",
          Effect.map(blockedClients(plain), (n) => n === 1)
        )
        const write = yield* Effect.fork(Effect.either(redis.commands.set("w", "1")))
        const read = yield* Effect.fork(Effect.either(redis.commands.get("k")))
        const started = performance.now()
        const stuckResult = yield* Fiber.join(stuck)
        expect(Either.isLeft(stuckResult) && stuckResult.left._tag).toBe("RedisConnectionError")
        const writeResult = yield* Fiber.join(write)
        expect(Either.isLeft(writeResult)).toBe(true)
        if (Either.isLeft(writeResult)) {
          expect(writeResult.left).toMatchObject({ _tag: "RedisConnectionError", mayHaveExecuted: true })
        }
        expect(yield* Fiber.join(read)).toEqual(Either.right("v"))
        const readBack = performance.now()
        // the replaced connection is closed on the server: nothing stays blocked
        yield* waitFor(
          "no blocked client left",
          Effect.map(blockedClients(plain), (n) => n === 0),
          "2 seconds"
        )
        expect(yield* redis.commands.get("k")).toBe("v")
        expect(readBack - started).toBeLessThan(commandTimeoutMillis + 2000)
        expect(yield* activeId(redis)).toBe("east")
      }),
    30_000
  )
})

describe("blocking commands", () => {
  it.scopedLive(
    "BLPOP with a block of 0 runs on a connection of its own: other fibers are not held up and no failover happens",
    () =>
      Effect.gen(function* () {
        const east = yield* RedisServer.make()
        const west = yield* RedisServer.make()
        const plain = yield* plainClient(east.url)
        yield* Effect.promise(() => plain.set("k", "east"))
        const redis = yield* twoDatabases(east.url, west.url)
        const memory = yield* rssSampler
        const popped = yield* Effect.fork(redis.commands.blPop("jobs", 0))
        const raw = yield* Effect.fork(redis.sendCommand(["BRPOP", "jobs2", "0"]))
        const blockedAt = performance.now()
        yield* waitFor(
          "both blocked on the server",
          Effect.map(blockedClients(plain), (n) => n === 2)
        )
        const stop = { done: false }
        const { outcomes } = yield* readers(redis, "k", 4, 10_000, stop)
        // Run past several command timeouts while both stay blocked.
        yield* Effect.sleep(`${commandTimeoutMillis * 4} millis`)
        stop.done = true
        expect(outcomes.length).toBeGreaterThan(20)
        expect(outcomes.every((o) => o.ok && o.value === "east")).toBe(true)
        const slowest = Math.max(...outcomes.map((o) => o.took))
        const first = Math.min(...outcomes.map((o) => o.at)) - blockedAt
        expect(slowest).toBeLessThan(commandTimeoutMillis)
        expect(yield* activeId(redis)).toBe("east")
        expect(yield* blockedClients(plain)).toBe(2)
        yield* Effect.promise(() => plain.lPush("jobs", "job-1"))
        yield* Effect.promise(() => plain.lPush("jobs2", "job-2"))
        expect(yield* Fiber.join(popped)).toEqual({ key: "jobs", element: "job-1" })
        expect(yield* Fiber.join(raw)).toEqual(["jobs2", "job-2"])
        console.log(
          `blocking command: other fibers' first read ${first.toFixed(0)} ms after the blocks started, ` +
            `slowest of ${outcomes.length} reads ${slowest.toFixed(1)} ms; ` +
            `RSS peak ${mb(memory.peak)} MB (+${mb(memory.peak - memory.baseline)} MB)`
        )
      }),
    30_000
  )

  it.scopedLive("a block longer than the command timeout is waited for in full", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* twoDatabases(east.url, west.url)
      const started = performance.now()
      expect(yield* redis.commands.blPop("empty", 1.5)).toBeNull()
      expect(performance.now() - started).toBeGreaterThan(1400)
      const xStarted = performance.now()
      const streams = yield* redis.commands.xRead({ key: "stream", id: "$" }, { BLOCK: 1300 })
      expect(streams).toBeNull()
      expect(performance.now() - xStarted).toBeGreaterThan(1200)
      expect(yield* activeId(redis)).toBe("east")
    })
  )

  it.scopedLive("interrupting a block of 0 closes its connection, so a later push is not swallowed", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const plain = yield* plainClient(east.url)
      const redis = yield* twoDatabases(east.url, west.url)
      const waiting = yield* Effect.fork(redis.commands.blPop("queue", 0))
      yield* waitFor(
        "blocked on the server",
        Effect.map(blockedClients(plain), (n) => n === 1)
      )
      yield* Fiber.interrupt(waiting)
      yield* waitFor(
        "unblocked on the server",
        Effect.map(blockedClients(plain), (n) => n === 0),
        "2 seconds"
      )
      yield* Effect.promise(() => plain.lPush("queue", "kept"))
      expect(yield* Effect.promise(() => plain.lRange("queue", 0, -1))).toEqual(["kept"])
      // the pool is not left short: the next blocking command gets a connection
      expect(yield* redis.commands.blPop("queue", 1)).toEqual({ key: "queue", element: "kept" })
    })
  )
})

describe("connection-state commands", () => {
  it.scopedLive("are refused with InvalidRequest naming the alternative, and the shared connection stays usable", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make({ password: "s3cret" })
      const west = yield* RedisServer.make({ password: "s3cret" })
      const redis = yield* twoDatabases(east.url, west.url)
      yield* redis.commands.set("k", "v")
      const raw: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp]> = [
        [["MULTI"], /transaction/],
        [["exec"], /transaction/],
        [["WATCH", "k"], /transaction/],
        [["SELECT", "5"], /url|database/],
        [["RESET"], /connections/],
        [["CLIENT", "REPLY", "OFF"], /replies/],
        [["client", "tracking", "on"], /clientSideCache/],
        [["SUBSCRIBE", "c"], /subscribe/],
        [["PSUBSCRIBE", "c*"], /subscribe/],
        [["MONITOR"], /client of your own/],
        [["QUIT"], /scope/],
        [["AUTH", "x"], /credentials/],
        [["HELLO", "3"], /protocol/]
      ]
      for (const [args, alternative] of raw) {
        const error = yield* Effect.flip(redis.sendCommand(args))
        expect(error._tag).toBe("InvalidRequest")
        expect(error.message).toMatch(alternative)
      }
      const members = redis.commands as unknown as Record<string, (...args: Array<unknown>) => Effect.Effect<unknown>>
      for (const member of ["select", "quit", "destroy", "disconnect", "multi", "subscribe", "monitor", "duplicate"]) {
        const error = yield* Effect.flip(members[member]!(1))
        expect(error).toMatchObject({ _tag: "InvalidRequest" })
      }
      const batch = yield* Effect.flip(redis.pipeline((p) => p.select(2).get("k")))
      expect(batch._tag).toBe("InvalidRequest")
      // nothing changed the shared connection: reads still see database 0, replies are not QUEUED
      expect(yield* redis.commands.get("k")).toBe("v")
      expect(yield* redis.sendCommand(["GET", "k"])).toBe("v")
      expect(yield* activeId(redis)).toBe("east")
    })
  )

  it.scopedLive("commands is not a thenable: awaiting it settles", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* twoDatabases(east.url, west.url)
      const awaited = yield* Effect.promise(async () => {
        const commands = await redis.commands
        return commands
      }).pipe(Effect.timeout("2 seconds"))
      expect(awaited).toBe(redis.commands)
      expect("then" in redis.commands).toBe(false)
      expect(yield* awaited.ping()).toBe("PONG")
    })
  )
})

describe("binary data", () => {
  it.scopedLive("all 256 byte values round-trip as Buffers through withTypeMapping, commands and sendCommand", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* twoDatabases(east.url, west.url)
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
      const binary = redis.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer })
      expect(yield* redis.commands.set(bytes, bytes)).toBe("OK")
      const value: Buffer | null = yield* binary.commands.get(bytes)
      expect(Buffer.isBuffer(value)).toBe(true)
      expect(value!.equals(bytes)).toBe(true)
      yield* redis.sendCommand([Buffer.from("SET"), Buffer.from("raw"), bytes])
      const raw = yield* binary.sendCommand(["GET", "raw"])
      expect(Buffer.isBuffer(raw) && raw.equals(bytes)).toBe(true)
      const hash = yield* binary.commands.hGetAll("nothing")
      expect(hash).toEqual({})
      // without a mapping, strings as before
      expect(typeof (yield* redis.commands.get("raw"))).toBe("string")
      expect(Option.isSome(yield* redis.activeDatabase)).toBe(true)
    })
  )
})

describe("the type of commands", () => {
  type Has<K extends string> = K extends keyof MultiDbClient.Commands ? true : false
  it("holds data commands only (checked by the compiler)", () => {
    const absent: ReadonlyArray<false> = [
      false as Has<"connect">,
      false as Has<"disconnect">,
      false as Has<"quit">,
      false as Has<"close">,
      false as Has<"destroy">,
      false as Has<"select">,
      false as Has<"subscribe">,
      false as Has<"pSubscribe">,
      false as Has<"monitor">,
      false as Has<"multi">,
      false as Has<"watch">,
      false as Has<"auth">,
      false as Has<"hello">,
      false as Has<"reset">,
      false as Has<"duplicate">,
      false as Has<"sendCommand">,
      false as Has<"then">
    ]
    const present: ReadonlyArray<true> = [
      true as Has<"get">,
      true as Has<"set">,
      true as Has<"blPop">,
      true as Has<"sortRo">,
      true as Has<"xInfoStream">
    ]
    expect(absent.every((x) => x === false) && present.every((x) => x === true)).toBe(true)
  })
})
