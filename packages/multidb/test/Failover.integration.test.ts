import { describe, expect, it } from "@effect/vitest"
import { RedisServer } from "@effect-redis/testkit"
import { Effect, Fiber, Ref } from "effect"
import * as MultiDbClient from "../src/MultiDbClient.js"
import type { MultiDbError } from "../src/MultiDbError.js"
import { layer as nodeRedisLayer, RedisConnector } from "../src/RedisConnection.js"
import { activeId, collectEvents, waitFor } from "./integration.helpers.js"

const client = (input: Parameters<typeof MultiDbClient.fromInput>[0]) =>
  MultiDbClient.fromInput(input).pipe(Effect.provide(nodeRedisLayer))

/** Runs GETs at the given concurrency until stopped; counts successes and errors by tag. */
const readLoad = (redis: MultiDbClient.MultiDbClient, concurrency: number) =>
  Effect.gen(function* () {
    const ok = yield* Ref.make(0)
    const errors = yield* Ref.make<Array<MultiDbError>>([])
    const worker = (i: number) =>
      redis.commands.get(`key:${i}`).pipe(
        Effect.zipRight(Ref.update(ok, (n) => n + 1)),
        Effect.catchAll((e) => Ref.update(errors, (list) => [...list, e])),
        Effect.forever
      )
    const fiber = yield* Effect.forkScoped(
      Effect.forEach(
        Array.from({ length: concurrency }, (_, i) => i),
        worker,
        { concurrency: "unbounded", discard: true }
      )
    )
    return { ok, errors, stop: Fiber.interrupt(fiber) }
  })

describe("failover against real redis-server processes", () => {
  it.scopedLive("kill -9 of the active database under load: reads continue on the next one without errors", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* client({
        databases: [
          { id: "east", url: east.url, weight: 1 },
          { id: "west", url: west.url, weight: 0.5 }
        ]
      })
      const events = yield* collectEvents(redis)
      expect(yield* activeId(redis)).toBe("east")
      const load = yield* readLoad(redis, 16)
      yield* waitFor(
        "some traffic",
        Effect.map(Ref.get(load.ok), (n) => n > 200)
      )
      const killedAt = performance.now()
      yield* east.kill
      yield* waitFor(
        "failover to west",
        Effect.map(activeId(redis), (id) => id === "west")
      )
      const okAtSwitch = yield* Ref.get(load.ok)
      yield* waitFor(
        "reads served by west",
        Effect.map(Ref.get(load.ok), (n) => n > okAtSwitch + 200)
      )
      yield* load.stop
      const switched = events.find((e) => e.event._tag === "ActiveDatabaseChanged")
      expect(switched?.event).toMatchObject({ oldDatabase: "east", newDatabase: "west", reason: "automatic" })
      expect(yield* Ref.get(load.errors)).toEqual([])
      console.log(`kill -9 → ActiveDatabaseChanged after ${((switched!.at - killedAt) / 1000).toFixed(3)} s`)
    })
  )
})

void RedisConnector

describe("hangs, recovery and total outage against real redis-server processes", () => {
  it.scopedLive("SIGSTOP of the active database: failover within the command timeout plus one health round", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* client({
        databases: [
          { id: "east", url: east.url, weight: 1 },
          { id: "west", url: west.url, weight: 0.5 }
        ],
        commandTimeout: "500 millis",
        healthCheckInterval: "1 second",
        healthCheckTimeout: "500 millis",
        healthCheckProbesDelay: "100 millis"
      })
      yield* Effect.addFinalizer(() => east.resume)
      const events = yield* collectEvents(redis)
      const load = yield* readLoad(redis, 8)
      yield* waitFor(
        "some traffic",
        Effect.map(Ref.get(load.ok), (n) => n > 100)
      )
      const stoppedAt = performance.now()
      yield* east.stop
      yield* waitFor(
        "failover to west",
        Effect.map(activeId(redis), (id) => id === "west")
      )
      const okAtSwitch = yield* Ref.get(load.ok)
      yield* waitFor(
        "reads served by west",
        Effect.map(Ref.get(load.ok), (n) => n > okAtSwitch + 100)
      )
      yield* load.stop
      const switched = events.find((e) => e.event._tag === "ActiveDatabaseChanged")!
      const elapsed = (switched.at - stoppedAt) / 1000
      console.log(`SIGSTOP → ActiveDatabaseChanged after ${elapsed.toFixed(3)} s`)
      expect(elapsed).toBeLessThan(0.5 + 1 + 0.5 + 0.5)
      // reads are retried on west: none reached the caller
      expect(yield* Ref.get(load.errors)).toEqual([])
    })
  )

  it.scopedLive(
    "a write in flight when the database hangs surfaces mayHaveExecuted and is not replayed elsewhere",
    () =>
      Effect.gen(function* () {
        const east = yield* RedisServer.make()
        const west = yield* RedisServer.make()
        const redis = yield* client({
          databases: [
            { id: "east", url: east.url, weight: 1 },
            { id: "west", url: west.url, weight: 0.5 }
          ],
          commandTimeout: "300 millis",
          healthCheckInterval: "1 second",
          healthCheckTimeout: "300 millis",
          healthCheckProbesDelay: "50 millis"
        })
        yield* Effect.addFinalizer(() => east.resume)
        yield* east.stop
        const error = yield* Effect.flip(redis.commands.set("written-once", "1"))
        expect(error).toMatchObject({ _tag: "RedisConnectionError", database: "east", mayHaveExecuted: true })
        yield* waitFor(
          "failover to west",
          Effect.map(activeId(redis), (id) => id === "west")
        )
        expect(yield* redis.commands.get("written-once")).toBeNull()
      })
  )

  it.scopedLive("restart of the preferred database: traffic fails back after its grace period", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      const redis = yield* client({
        databases: [
          { id: "east", url: east.url, weight: 1, gracePeriod: "2 seconds" },
          { id: "west", url: west.url, weight: 0.5 }
        ],
        healthCheckInterval: "500 millis",
        healthCheckProbesDelay: "100 millis",
        autoFallbackInterval: "1 second"
      })
      const events = yield* collectEvents(redis)
      yield* east.kill
      yield* waitFor(
        "failover to west",
        Effect.map(activeId(redis), (id) => id === "west")
      )
      const openedAt = events.find((e) => e.event._tag === "CircuitStateChanged" && e.event.to === "open")!.at
      yield* east.restart
      const restartedAt = performance.now()
      yield* waitFor(
        "fail-back to east",
        Effect.map(activeId(redis), (id) => id === "east")
      )
      const back = events.find((e) => e.event._tag === "ActiveDatabaseChanged" && e.event.newDatabase === "east")!
      expect(back.event).toMatchObject({ oldDatabase: "west", reason: "fallback" })
      // never before the grace period ended
      expect(back.at - openedAt).toBeGreaterThanOrEqual(2000)
      console.log(
        `restart → fail-back after ${((back.at - restartedAt) / 1000).toFixed(3)} s (grace period 2 s from the failure)`
      )
      yield* redis.commands.set("after-failback", "1")
      expect(yield* redis.commands.get("after-failback")).toBe("1")
    })
  )

  it.scopedLive(
    "every database down: TemporarilyUnavailable, then NoValidDatabase, then service resumes by itself",
    () =>
      Effect.gen(function* () {
        const east = yield* RedisServer.make()
        const west = yield* RedisServer.make()
        const redis = yield* client({
          databases: [
            { id: "east", url: east.url, weight: 1, gracePeriod: "1 second" },
            { id: "west", url: west.url, weight: 0.5, gracePeriod: "1 second" }
          ],
          healthCheckInterval: "300 millis",
          healthCheckProbesDelay: "50 millis",
          failoverAttempts: 2,
          failoverDelay: "500 millis",
          commandRetry: { retries: 2 },
          // a command waits this long for a database before reporting the outage
          availabilityTimeout: "100 millis"
        })
        yield* east.kill
        yield* west.kill
        yield* waitFor(
          "no active database",
          Effect.map(redis.activeDatabase, (a) => a._tag === "None")
        )
        const first = yield* Effect.flip(redis.commands.get("k"))
        expect(first._tag).toBe("TemporarilyUnavailable")
        yield* waitFor(
          "NoValidDatabase",
          Effect.map(Effect.flip(redis.commands.get("k")), (e) => e._tag === "NoValidDatabase")
        )
        yield* west.restart
        yield* waitFor(
          "west serves again",
          Effect.map(activeId(redis), (id) => id === "west")
        )
        yield* redis.commands.set("k", "back")
        expect(yield* redis.commands.get("k")).toBe("back")
      })
  )
})
