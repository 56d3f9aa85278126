import { describe, expect, it } from "@effect/vitest"
import { RedisServer } from "@effect-redis/testkit"
import { Cause, Effect, Exit, Fiber, Option, Scope, Stream } from "effect"
import * as MultiDbClient from "../src/MultiDbClient.js"
import { nodeRedis, layer as nodeRedisLayer, RedisConnector } from "../src/RedisConnection.js"
import { activeId, plainClient, waitFor } from "./integration.helpers.js"

/** Issue 13, item 3 (lifecycle) against real redis-server processes. */

const client = (input: Parameters<typeof MultiDbClient.fromInput>[0]) =>
  MultiDbClient.fromInput(input).pipe(Effect.provide(nodeRedisLayer))

/** node-redis without `abandon` (it is optional): a call left on a removed database ends when its client is closed. */
const withoutAbandon = (input: Parameters<typeof MultiDbClient.fromInput>[0]) =>
  MultiDbClient.fromInput(input).pipe(
    Effect.provideService(RedisConnector, {
      connect: (config, options) =>
        Effect.map(nodeRedis.connect(config, options), (connection) => {
          const { abandon: _, ...rest } = connection
          return rest
        })
    })
  )

const tagOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Exit.isSuccess(exit)
    ? "success"
    : Cause.isInterruptedOnly(exit.cause)
      ? "interrupted"
      : Option.match(Cause.failureOption(exit.cause), {
          onNone: () => `defect: ${Cause.pretty(exit.cause)}`,
          onSome: (error) => (error as { _tag?: string })._tag ?? String(error)
        })

/** Whether `channel` has `count` subscribers on the server of `plain`. */
const subscribers = (
  plain: { readonly sendCommand: (args: Array<string>) => Promise<unknown> },
  channel: string,
  count: number
) =>
  Effect.map(
    Effect.promise(() => plain.sendCommand(["PUBSUB", "NUMSUB", channel]) as Promise<Array<unknown>>),
    (reply) => Number(reply[1]) === count
  )

/** Runs `effect` live and gives its outcome's tag and how long it took (ms). */
const timed = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const start = performance.now()
    const exit = yield* Effect.exit(effect.pipe(Effect.timeout("10 seconds")))
    return { tag: tagOf(exit), millis: performance.now() - start }
  })

describe("lifecycle against real redis-server processes", () => {
  it.scopedLive("after the scope closes every call fails at once with ClientClosed; a read in flight ends typed", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const scope = yield* Scope.make()
      const redis = yield* client({
        databases: [
          { id: "east", url: east.url, weight: 1 },
          { id: "west", url: west.url, weight: 0.5 }
        ],
        commandTimeout: "5 seconds"
      }).pipe(Scope.extend(scope))
      yield* redis.commands.set("k", "v")
      // a read waits for a reply from a frozen server when the client closes
      yield* east.stop
      const inFlight = yield* Effect.fork(timed(redis.commands.get("k")))
      yield* Effect.sleep("100 millis")
      const closedAt = performance.now()
      yield* Scope.close(scope, Exit.void)
      const read = yield* Fiber.join(inFlight)
      yield* east.resume
      expect(read.tag).toBe("ClientClosed")
      expect(performance.now() - closedAt).toBeLessThan(1000)

      const calls: Record<string, Effect.Effect<unknown, unknown>> = {
        get: redis.commands.get("k"),
        set: redis.commands.set("k", "v"),
        pipeline: redis.pipeline((multi) => multi.get("k")),
        transaction: redis.transaction((multi) => multi.set("k", "v"), { watch: ["k"] }),
        subscribe: Stream.runDrain(redis.subscribe(["news"])),
        checkHealth: redis.checkHealth("west"),
        updateDatabaseWeight: redis.updateDatabaseWeight("west", 2),
        removeDatabase: redis.removeDatabase("west"),
        addDatabase: redis.addDatabase({ id: "north", url: west.url }, { skipInitialHealthCheck: true }),
        setActiveDatabase: redis.setActiveDatabase("west"),
        databases: redis.databases
      }
      for (const [name, call] of Object.entries(calls)) {
        const outcome = yield* timed(call)
        expect({ name, tag: outcome.tag }).toEqual({ name, tag: "ClientClosed" })
        expect(outcome.millis, name).toBeLessThan(100)
      }
    })
  )

  it.scopedLive("checkHealth racing removeDatabase fails with DatabaseNotFound, not an interruption", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* client({
        databases: [
          { id: "east", url: east.url, weight: 1 },
          { id: "west", url: west.url, weight: 0.5 }
        ],
        healthCheckProbes: 3,
        healthCheckProbesDelay: "300 millis"
      })
      const check = yield* Effect.fork(Effect.exit(redis.checkHealth("west")))
      yield* Effect.sleep("100 millis")
      yield* redis.removeDatabase("west")
      expect(tagOf(yield* Fiber.join(check))).toBe("DatabaseNotFound")
    })
  )

  it.scopedLive(
    "a read in flight on a removed database whose detector trips is served by the new active database",
    () =>
      Effect.gen(function* () {
        const east = yield* RedisServer.make()
        const west = yield* RedisServer.make()
        const redis = yield* withoutAbandon({
          databases: [
            { id: "east", url: east.url, weight: 1 },
            { id: "west", url: west.url, weight: 0.5 }
          ],
          minNumFailures: 1,
          commandTimeout: "5 seconds"
        })
        const westPlain = yield* plainClient(west.url)
        yield* Effect.promise(() => westPlain.set("k", "from-west"))
        yield* east.stop
        const read = yield* Effect.fork(Effect.exit(redis.commands.get("k")))
        yield* Effect.sleep("100 millis")
        yield* redis.removeDatabase("east")
        const exit = yield* Fiber.join(read)
        yield* east.resume
        expect(exit).toEqual(Exit.succeed("from-west"))
        expect(yield* activeId(redis)).toBe("west")
      })
  )

  it.scopedLive("a pub/sub move refused by the new active database is retried until it takes the subscription", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const westPlain = yield* plainClient(west.url)
      // west refuses every channel to the default user: SUBSCRIBE fails with NOPERM, commands still work
      yield* Effect.promise(() => westPlain.sendCommand(["ACL", "SETUSER", "default", "resetchannels"]))
      const redis = yield* client({
        databases: [
          { id: "east", url: east.url, weight: 1 },
          { id: "west", url: west.url, weight: 0.5 }
        ]
      })
      const received: Array<string> = []
      const stream = yield* redis.subscribe(["news"]).pipe(
        Stream.runForEach((m) => Effect.sync(() => received.push(`${m.database}:${m.message}`))),
        Effect.forkScoped
      )
      const eastPlain = yield* plainClient(east.url)
      yield* waitFor("the subscription on east", subscribers(eastPlain, "news", 1))
      yield* east.kill
      yield* waitFor(
        "failover to west",
        Effect.map(activeId(redis), (id) => id === "west")
      )
      yield* Effect.sleep("7 seconds") // moves are refused meanwhile, for longer than the retries of one command
      expect(stream.unsafePoll()).toBeNull()
      yield* Effect.promise(() => westPlain.sendCommand(["ACL", "SETUSER", "default", "allchannels"]))
      yield* waitFor("the subscription moved to west", subscribers(westPlain, "news", 1))
      yield* Effect.promise(() => westPlain.publish("news", "hello"))
      yield* waitFor(
        "the message from west",
        Effect.sync(() => received.includes("west:hello"))
      )
    })
  )
})
