import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Fiber, Option, PubSub, Queue, Scope, Stream, TestClock } from "effect"
import { ErrorReply } from "redis"
import * as FailureDetector from "../src/FailureDetector.js"
import * as HealthCheck from "../src/HealthCheck.js"
import * as InMemoryConnection from "../src/InMemoryConnection.js"
import type * as MultiDbClient from "../src/MultiDbClient.js"
import type * as MultiDbConfig from "../src/MultiDbConfig.js"
import * as MultiDbEvents from "../src/MultiDbEvents.js"
import {
  activeId,
  circuitChanges,
  circuitOf,
  eventsTagged,
  recordEvents as recordEventsFrom,
  runFor,
  setupWith,
  start,
  switches
} from "./helpers.js"

type DatabaseInput = MultiDbConfig.Input["databases"][number]

/**
 * Three in-memory databases (east 1.0, west 0.5, south 0.25) with one-probe health checks every second, a 100 ms
 * command timeout and auto fallback off, so each test turns on only what it exercises. `perDatabase` overrides one
 * database's options (e.g. its grace period). The health-check timeout is long because every check's timeout stays
 * scheduled on the TestClock, and each one firing costs real time; tests about timeouts set their own.
 */
const config = (
  overrides: Partial<MultiDbConfig.Input> = {},
  perDatabase: Partial<Record<"east" | "west" | "south", Partial<DatabaseInput>>> = {}
): MultiDbConfig.Input => ({
  databases: [
    { id: "east", url: "redis://east:6379", weight: 1, ...perDatabase.east },
    { id: "west", url: "redis://west:6379", weight: 0.5, ...perDatabase.west },
    { id: "south", url: "redis://south:6379", weight: 0.25, ...perDatabase.south }
  ],
  commandTimeout: "100 millis",
  healthCheckProbes: 1,
  healthCheckInterval: "1 second",
  healthCheckTimeout: "1 hour",
  autoFallbackInterval: 0,
  ...overrides
})

const ids = ["east", "west", "south"] as const

/** The client's background fibers start at TestClock time 0 (one-probe checks): rounds at 1 s, 2 s, ... */
const at = (millis: number) => TestClock.setTime(millis)

/** Lets every fiber (event recorders included) run until it waits, without moving the clock. */
const settle = TestClock.adjust(0)

/** Records the client's events, subscribed before anything else happens. */
const recordEvents = (client: MultiDbClient.MultiDbClient) => Effect.tap(recordEventsFrom(client), () => settle)

const connectionRefused = (database: string) => new InMemoryConnection.InMemoryUnavailable({ database })
const commandTimedOut = (database: string) => new InMemoryConnection.InMemoryTimeout({ database })

/** A failure-detector factory recording every outcome as "database:outcome" and counting resets. */
const spyDetectors = () => {
  const outcomes: Array<string> = []
  const resets: Record<string, number> = {}
  const context = Context.make(FailureDetector.FailureDetectorFactory, {
    make: (database, options) =>
      Effect.map(
        FailureDetector.make(options),
        (detector): FailureDetector.FailureDetector => ({
          ...detector,
          record: (outcome) =>
            Effect.zipRight(
              Effect.sync(() => outcomes.push(`${database}:${outcome}`)),
              detector.record(outcome)
            ),
          reset: Effect.zipRight(
            Effect.sync(() => {
              resets[database] = (resets[database] ?? 0) + 1
            }),
            detector.reset
          )
        })
      )
  })
  return { outcomes, resets, context }
}

const failureOf = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  return Option.getOrThrowWith(Cause.failureOption(exit.cause), () => new Error(Cause.pretty(exit.cause)))
}

describe("Engine: failover and fail-back", () => {
  it.scoped("an unhealthy health round opens the active database's circuit and moves traffic to the next weight", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config())
      const { events } = yield* recordEvents(client)
      yield* db("east").setPingHealthy(false)
      yield* at(900)
      expect(yield* activeId(client)).toBe("east")
      yield* at(1010)
      expect(yield* activeId(client)).toBe("west")
      expect(yield* circuitOf(client, "east")).toBe("open")
      expect(switches(events)).toEqual(["east->west:automatic"])
    })
  )

  it.scoped("a lost connection triggers a health check and failover at once, without waiting for a round", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config({ healthCheckInterval: "1 minute" }))
      const { events } = yield* recordEvents(client)
      yield* db("east").setBehaviour("down")
      yield* TestClock.adjust("10 millis")
      expect(yield* activeId(client)).toBe("west")
      expect(yield* circuitOf(client, "east")).toBe("open")
      expect(switches(events)).toEqual(["east->west:automatic"])
    })
  )

  it.scoped("serves each command from the active database after a failover", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config({ healthCheckInterval: "1 minute" }))
      db("west").data.set("k", "from-west")
      db("east").data.set("k", "from-east")
      expect(yield* client.commands.get("k")).toBe("from-east")
      yield* db("east").setBehaviour("down")
      yield* TestClock.adjust("10 millis")
      expect(yield* client.commands.get("k")).toBe("from-west")
      yield* client.commands.set("w", "1")
      expect(db("west").data.get("w")).toBe("1")
      expect(db("east").data.has("w")).toBe(false)
    })
  )

  it.scoped("fails back to a recovered database only at a fallback tick after its grace period", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(
        config(
          { autoFallbackInterval: "3 seconds", healthCheckInterval: "1 minute" },
          { east: { gracePeriod: "4 seconds" } }
        )
      )
      const { events } = yield* recordEvents(client)
      yield* db("east").setBehaviour("down") // t = 50 ms: east opens, grace period until 4.05 s
      yield* at(1000)
      yield* db("east").setBehaviour("up")
      yield* at(3500) // the 3 s tick fell inside the grace period
      expect(yield* circuitOf(client, "east")).toBe("open")
      expect(yield* activeId(client)).toBe("west")
      yield* at(4500) // grace period over: half-open, one check, closed, but no tick yet
      expect(yield* circuitOf(client, "east")).toBe("closed")
      expect(yield* activeId(client)).toBe("west")
      yield* at(5900)
      expect(yield* activeId(client)).toBe("west")
      yield* at(6100)
      expect(yield* activeId(client)).toBe("east")
      expect(switches(events)).toEqual(["east->west:automatic", "west->east:fallback"])
    })
  )

  it.scoped("never fails back when autoFallbackInterval is 0", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(
        config({ autoFallbackInterval: 0, healthCheckInterval: "1 minute" }, { east: { gracePeriod: "2 seconds" } })
      )
      const { events } = yield* recordEvents(client)
      yield* db("east").setBehaviour("down")
      yield* at(1000)
      yield* db("east").setBehaviour("up")
      yield* at(60_000)
      expect(yield* circuitOf(client, "east")).toBe("closed")
      expect(yield* activeId(client)).toBe("west")
      expect(switches(events)).toEqual(["east->west:automatic"])
    })
  )

  it.scoped("falls back to the preferred database through three weights and back", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(
        config(
          { autoFallbackInterval: "4 seconds" },
          { east: { gracePeriod: "2 seconds" }, west: { gracePeriod: "2 seconds" } }
        )
      )
      const { events } = yield* recordEvents(client)
      yield* db("east").setPingHealthy(false)
      yield* at(1500) // the round at 1 s opened east
      expect(yield* activeId(client)).toBe("west")
      yield* db("west").setPingHealthy(false)
      yield* at(2500) // the round at 2 s opened west
      expect(yield* activeId(client)).toBe("south")
      yield* db("east").setPingHealthy(true)
      yield* db("west").setPingHealthy(true)
      yield* at(4500) // east closed at 3 s, fallback tick at 4 s
      expect(yield* activeId(client)).toBe("east")
      expect(switches(events)).toEqual(["east->west:automatic", "west->south:automatic", "south->east:fallback"])
    })
  )

  it.scoped("a manually chosen database is left at the next fallback tick for the preferred one", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(
        config({ autoFallbackInterval: "3 seconds", healthCheckInterval: "1 minute" })
      )
      const { events } = yield* recordEvents(client)
      yield* client.setActiveDatabase("south")
      yield* at(2900)
      expect(yield* activeId(client)).toBe("south")
      yield* at(3100)
      expect(yield* activeId(client)).toBe("east")
      expect(switches(events)).toEqual(["east->south:manual", "south->east:fallback"])
    })
  )
})

describe("Engine: grace period", () => {
  it.scoped("an opened database is not used again before its grace period ends, even when healthy", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(
        config({ autoFallbackInterval: "2 seconds" }, { east: { gracePeriod: "3500 millis" } })
      )
      const { events } = yield* recordEvents(client)
      yield* db("east").setBehaviour("down") // opens at 50 ms, grace period until 3.55 s
      yield* at(1500)
      yield* db("east").setBehaviour("up")
      yield* at(3400) // healthy at the rounds of 2 and 3 s; fallback tick at 2 s
      expect(yield* circuitOf(client, "east")).toBe("open")
      expect(yield* activeId(client)).toBe("west")
      const eastHealthyDuringGrace = eventsTagged(events, "HealthCheckCompleted").filter(
        (e) => e.database === "east" && e.healthy
      )
      expect(eastHealthyDuringGrace.length).toBeGreaterThanOrEqual(2)
      yield* at(3900)
      expect(yield* circuitOf(client, "east")).toBe("closed")
      yield* at(4100) // fallback tick at 4 s
      expect(yield* activeId(client)).toBe("east")
    })
  )

  it.scoped("every circuit transition is published exactly once, however many rounds see the same state", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config({}, { east: { gracePeriod: "2 seconds" } }))
      const { events } = yield* recordEvents(client)
      yield* db("east").setBehaviour("down") // opens at 50 ms
      yield* at(5000) // half-open at 2.05 s and 4.05 s, still down each time; rounds every second
      yield* db("east").setBehaviour("up")
      yield* at(6500) // half-open at 6.05 s, now healthy
      expect(circuitChanges(events, "east")).toEqual([
        "closed->open",
        "open->half-open",
        "half-open->open",
        "open->half-open",
        "half-open->open",
        "open->half-open",
        "half-open->closed"
      ])
      expect(circuitChanges(events, "west")).toEqual([])
    })
  )

  it.scoped("a half-open database is decided by one health check right away, not at the next round", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(
        config({ healthCheckInterval: "1 minute" }, { east: { gracePeriod: "10 seconds" } })
      )
      yield* db("east").setBehaviour("down")
      yield* TestClock.adjust("10 millis")
      yield* db("east").setBehaviour("up")
      yield* at(10_100)
      expect(yield* circuitOf(client, "east")).toBe("closed")
    })
  )
})

describe("Engine: no database available", () => {
  it.scoped("reports TemporarilyUnavailable with an attempt growing every failoverDelay, then NoValidDatabase", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(
        config({
          failoverAttempts: 3,
          failoverDelay: "2 seconds",
          healthCheckInterval: "1 minute",
          availabilityTimeout: 0
        })
      )
      const { events } = yield* recordEvents(client)
      for (const id of ids) yield* db(id).setBehaviour("down")
      yield* TestClock.adjust("10 millis")
      const failure = Effect.flip(client.commands.get("k"))
      expect(yield* failure).toMatchObject({ _tag: "TemporarilyUnavailable", attempt: 1, maxAttempts: 3 })
      yield* TestClock.adjust("1 second")
      expect(yield* failure).toMatchObject({ _tag: "TemporarilyUnavailable", attempt: 1, maxAttempts: 3 })
      yield* TestClock.adjust("1 second")
      expect(yield* failure).toMatchObject({ _tag: "TemporarilyUnavailable", attempt: 2, maxAttempts: 3 })
      yield* TestClock.adjust("2 seconds")
      expect(yield* failure).toMatchObject({ _tag: "TemporarilyUnavailable", attempt: 3, maxAttempts: 3 })
      yield* TestClock.adjust("2 seconds")
      expect(yield* failure).toMatchObject({ _tag: "NoValidDatabase", attempts: 3 })
      yield* TestClock.adjust("5 seconds")
      expect(yield* failure).toMatchObject({ _tag: "NoValidDatabase", attempts: 3 })
      expect(eventsTagged(events, "AllDatabasesUnavailable").map((e) => [e.attempt, e.maxAttempts])).toEqual([
        [1, 3],
        [2, 3],
        [3, 3],
        [4, 3]
      ])
      expect(yield* client.activeDatabase).toEqual(Option.none())
    })
  )

  it.scoped("a write is refused as TemporarilyUnavailable too and never reaches any database", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config({ availabilityTimeout: 0 }))
      for (const id of ids) yield* db(id).setBehaviour("down")
      yield* TestClock.adjust("10 millis")
      for (const id of ids) yield* db(id).setBehaviour("up")
      const error = yield* Effect.flip(client.commands.set("k", "v"))
      expect(error._tag).toBe("TemporarilyUnavailable")
      for (const id of ids) expect(db(id).data.has("k")).toBe(false)
    })
  )

  it.scoped("service resumes by itself once a database returns, after its grace period and one check", () =>
    Effect.gen(function* () {
      const grace = { gracePeriod: "6 seconds" }
      const { client, db } = yield* setupWith(
        config(
          { failoverAttempts: 2, failoverDelay: "2 seconds", healthCheckInterval: "1 minute", availabilityTimeout: 0 },
          { east: grace, west: grace, south: grace }
        )
      )
      const { events } = yield* recordEvents(client)
      db("west").data.set("k", "from-west")
      for (const id of ids) yield* db(id).setBehaviour("down") // all open at 50 ms
      yield* at(3000)
      yield* db("west").setBehaviour("up")
      yield* at(5900) // attempts exhausted at 4.05 s
      expect((yield* Effect.flip(client.commands.get("k")))._tag).toBe("NoValidDatabase")
      yield* at(6200) // grace over at 6.05 s: west half-opens, passes its check, closes
      expect(yield* client.commands.get("k")).toBe("from-west")
      expect(yield* activeId(client)).toBe("west")
      const resumed = eventsTagged(events, "ActiveDatabaseChanged").at(-1)
      expect(resumed).toMatchObject({ newDatabase: "west", reason: "automatic" })
      expect(resumed?.oldDatabase).toBeDefined()
      // A new outage counts its attempts from 1 again.
      yield* db("west").setBehaviour("down")
      yield* TestClock.adjust("10 millis")
      expect(yield* Effect.flip(client.commands.get("k"))).toMatchObject({
        _tag: "TemporarilyUnavailable",
        attempt: 1
      })
    })
  )
})

describe("Engine: failure detection on the command path", () => {
  it.scoped("the failure detector trips the circuit and failover follows at once, before any health round", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config({ minNumFailures: 5, healthCheckInterval: "1 minute" }))
      const { events } = yield* recordEvents(client)
      db("west").data.set("k", "from-west")
      yield* db("east").failCommandsWith(connectionRefused("east")) // PING stays healthy
      const exit = yield* runFor(client.commands.get("k"), 2000)
      expect(exit).toEqual(Exit.succeed("from-west"))
      expect(yield* circuitOf(client, "east")).toBe("open")
      expect(yield* activeId(client)).toBe("west")
      expect(switches(events)).toEqual(["east->west:automatic"])
      expect(circuitChanges(events, "east")).toEqual(["closed->open"])
      expect(eventsTagged(events, "CommandsFailed").filter((e) => e.database === "east")).toHaveLength(5)
    })
  )

  it.scoped("fewer failures than minNumFailures do not trip; the one reaching it does", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(
        config({ minNumFailures: 5, healthCheckInterval: "1 minute", failuresDetectionWindow: "10 seconds" })
      )
      // A timed-out write is not retried: exactly one failure per call.
      yield* db("east").failCommandsWith(commandTimedOut("east"))
      for (let i = 0; i < 4; i++) {
        const error = yield* Effect.flip(client.commands.set("k", "v"))
        expect(error).toMatchObject({ _tag: "RedisConnectionError", database: "east", mayHaveExecuted: true })
      }
      expect(yield* circuitOf(client, "east")).toBe("closed")
      expect(yield* activeId(client)).toBe("east")
      yield* Effect.flip(client.commands.set("k", "v"))
      yield* TestClock.adjust("1 millis")
      expect(yield* circuitOf(client, "east")).toBe("open")
      expect(yield* activeId(client)).toBe("west")
    })
  )

  it.scoped("successes in the window keep the failure rate below the threshold: no trip", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(
        config({
          minNumFailures: 2,
          failureRateThreshold: 0.5,
          healthCheckInterval: "1 minute",
          failuresDetectionWindow: "10 seconds"
        })
      )
      for (let i = 0; i < 10; i++) yield* client.commands.get("k")
      yield* db("east").failCommandsWith(commandTimedOut("east"))
      for (let i = 0; i < 5; i++) yield* Effect.flip(client.commands.set("k", "v"))
      yield* TestClock.adjust("1 millis")
      expect(yield* circuitOf(client, "east")).toBe("closed")
      expect(yield* activeId(client)).toBe("east")
    })
  )

  it.scoped("an error reply such as WRONGTYPE surfaces as RedisCommandError and never trips the circuit", () =>
    Effect.gen(function* () {
      const spy = spyDetectors()
      const { client, db } = yield* setupWith(config({ minNumFailures: 1, healthCheckInterval: "1 minute" }), {
        context: spy.context
      })
      const { events } = yield* recordEvents(client)
      const reply = "WRONGTYPE Operation against a key holding the wrong kind of value"
      yield* db("east").failCommandsWith(new ErrorReply(reply))
      let calls = 0
      for (let i = 0; i < 10; i++) {
        const error = yield* Effect.flip(
          client.execute(
            (redis) => {
              calls++
              return redis.get("k")
            },
            { command: "GET", readOnly: true }
          )
        )
        expect(error).toMatchObject({ _tag: "RedisCommandError", database: "east", command: "GET", reply })
      }
      yield* TestClock.adjust("1 millis")
      expect(calls).toBe(10) // never retried
      expect(yield* circuitOf(client, "east")).toBe("closed")
      expect(yield* activeId(client)).toBe("east")
      expect(eventsTagged(events, "CommandsFailed")).toEqual([])
      expect(spy.outcomes.filter((o) => o === "east:failure")).toEqual([])
      expect(spy.outcomes.filter((o) => o === "east:success")).toHaveLength(10)
    })
  )

  it.scoped("a LOADING reply counts as a failure: the circuit trips and the read is served by the next database", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config({ minNumFailures: 3, healthCheckInterval: "1 minute" }))
      const { events } = yield* recordEvents(client)
      db("west").data.set("k", "from-west")
      yield* db("east").failCommandsWith(new ErrorReply("LOADING Redis is loading the dataset in memory"))
      const exit = yield* runFor(client.commands.get("k"), 2000)
      expect(exit).toEqual(Exit.succeed("from-west"))
      expect(yield* circuitOf(client, "east")).toBe("open")
      const failed = eventsTagged(events, "CommandsFailed").filter((e) => e.database === "east")
      expect(failed.length).toBe(3)
      expect(failed[0]?.error).toContain("LOADING")
    })
  )

  for (const reply of [
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'",
    "CLUSTERDOWN The cluster is down",
    "TRYAGAIN Multiple keys request during rehashing of slot",
    "ERR max number of clients reached"
  ]) {
    it.scoped(
      `a "${reply.split(" ")[0]}${reply.includes("max number") ? " max clients" : ""}" reply counts as a failure`,
      () =>
        Effect.gen(function* () {
          const { client, db } = yield* setupWith(
            config({ minNumFailures: 1, commandRetry: { retries: 0 }, healthCheckInterval: "1 minute" })
          )
          yield* db("east").failCommandsWith(new ErrorReply(reply))
          const error = yield* Effect.flip(client.commands.set("k", "v"))
          expect(error).toMatchObject({ _tag: "RedisConnectionError", database: "east", mayHaveExecuted: false })
          yield* settle
          expect(yield* circuitOf(client, "east")).toBe("open")
        })
    )
  }

  it.scoped("an interrupted caller is neutral: no outcome is recorded and no failure is reported", () =>
    Effect.gen(function* () {
      const spy = spyDetectors()
      const { client, db } = yield* setupWith(config({ healthCheckInterval: "1 minute" }), { context: spy.context })
      const { events } = yield* recordEvents(client)
      yield* db("east").setBehaviour("hanging")
      const fiber = yield* Effect.fork(client.commands.get("k"))
      yield* TestClock.adjust("50 millis")
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("1 second")
      expect(spy.outcomes.filter((o) => o.startsWith("east:"))).toEqual([])
      expect(eventsTagged(events, "CommandsFailed")).toEqual([])
      expect(yield* circuitOf(client, "east")).toBe("closed")
    })
  )

  it.scoped(
    "a circuit change resets the detector: failures from before an outage cannot trip the recovered database",
    () =>
      Effect.gen(function* () {
        const spy = spyDetectors()
        const { client, db } = yield* setupWith(
          config(
            {
              minNumFailures: 3,
              failuresDetectionWindow: "1 minute",
              autoFallbackInterval: "10 seconds",
              healthCheckInterval: "1 minute"
            },
            { east: { gracePeriod: "5 seconds" } }
          ),
          { context: spy.context }
        )
        yield* db("east").failCommandsWith(commandTimedOut("east"))
        yield* Effect.flip(client.commands.set("k", "v"))
        yield* Effect.flip(client.commands.set("k", "v")) // 2 failures of 3 recorded
        yield* db("east").failCommandsWith(undefined)
        yield* db("east").setBehaviour("down") // opens
        yield* at(1000)
        yield* db("east").setBehaviour("up")
        yield* at(10_500) // closed at ~5 s, fallback tick at 10 s
        expect(yield* activeId(client)).toBe("east")
        expect(spy.resets.east).toBeGreaterThanOrEqual(3) // closed->open, open->half-open, half-open->closed
        yield* db("east").failCommandsWith(commandTimedOut("east"))
        yield* Effect.flip(client.commands.set("k", "v"))
        yield* TestClock.adjust("1 millis")
        expect(yield* circuitOf(client, "east")).toBe("closed")
        yield* Effect.flip(client.commands.set("k", "v"))
        yield* Effect.flip(client.commands.set("k", "v"))
        yield* TestClock.adjust("1 millis")
        expect(yield* circuitOf(client, "east")).toBe("open")
      })
  )
})

/** A forked read through `execute` that counts its attempts (`calls()`). */
const countedGet = (client: MultiDbClient.MultiDbClient) =>
  Effect.gen(function* () {
    let calls = 0
    const fiber = yield* Effect.fork(
      client.execute(
        (redis) => {
          calls++
          return redis.get("k")
        },
        { command: "GET", readOnly: true }
      )
    )
    return { calls: () => calls, fiber }
  })

describe("Engine: retries", () => {
  it.scoped("a read that timed out on a hanging database is retried on the next database after failover", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config({ healthCheckInterval: "1 minute" }))
      db("west").data.set("k", "from-west")
      yield* db("east").setBehaviour("hanging")
      const exit = yield* runFor(client.commands.get("k"), 5000)
      expect(exit).toEqual(Exit.succeed("from-west"))
      expect(yield* activeId(client)).toBe("west")
    })
  )

  it.scoped(
    "a write that timed out surfaces RedisConnectionError with mayHaveExecuted and is not applied elsewhere",
    () =>
      Effect.gen(function* () {
        const { client, db } = yield* setupWith(config({ healthCheckInterval: "1 minute" }))
        yield* db("east").setBehaviour("hanging")
        const exit = yield* runFor(client.commands.set("k", "v"), 5000)
        expect(failureOf(exit)).toMatchObject({
          _tag: "RedisConnectionError",
          database: "east",
          command: "SET",
          mayHaveExecuted: true
        })
        yield* TestClock.adjust("10 seconds")
        expect(yield* activeId(client)).toBe("west")
        for (const id of ids) expect(db(id).data.has("k")).toBe(false)
      })
  )

  it.scoped("with retryWrites a write that timed out is retried on the next database", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config({ healthCheckInterval: "1 minute", retryWrites: true }))
      yield* db("east").setBehaviour("hanging")
      const exit = yield* runFor(client.commands.set("k", "v"), 5000)
      expect(exit).toEqual(Exit.succeed("OK"))
      expect(db("west").data.get("k")).toBe("v")
    })
  )

  it.scoped("a write that was never sent (connection refused) is retried and lands on the next database", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config({ minNumFailures: 3, healthCheckInterval: "1 minute" }))
      yield* db("east").failCommandsWith(connectionRefused("east"))
      const exit = yield* runFor(client.commands.set("k", "v"), 5000)
      expect(exit).toEqual(Exit.succeed("OK"))
      expect(db("west").data.get("k")).toBe("v")
      expect(db("east").data.has("k")).toBe(false)
    })
  )

  it.scoped("a write refused at once while the database is down is retried after the failover", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config({ healthCheckInterval: "1 minute" }))
      const { events } = yield* recordEvents(client)
      yield* db("east").setBehaviour("down")
      const exit = yield* runFor(client.commands.set("k", "v"), 5000)
      expect(exit).toEqual(Exit.succeed("OK"))
      expect(db("west").data.get("k")).toBe("v")
      // It did reach east first and was refused there.
      const refused = eventsTagged(events, "CommandsFailed").filter((e) => e.database === "east")
      expect(refused.length).toBeGreaterThanOrEqual(1)
      expect(refused.every((e) => e.commands.join() === "SET")).toBe(true)
    })
  )

  it.scoped("a command is attempted at most 1 + commandRetry.retries times", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config({ commandRetry: { retries: 3 }, healthCheckInterval: "1 minute" }))
      yield* db("east").failCommandsWith(connectionRefused("east"))
      let calls = 0
      const exit = yield* runFor(
        client.execute(
          (redis) => {
            calls++
            return redis.get("k")
          },
          { command: "GET", readOnly: true }
        ),
        30_000
      )
      expect(failureOf(exit)).toMatchObject({ _tag: "RedisConnectionError", mayHaveExecuted: false })
      expect(calls).toBe(4)
    })
  )

  it.scoped("the first retry waits for the backoff instead of following the failure at once", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(
        config({ commandRetry: { base: "1 second", cap: "1 second", retries: 2 }, healthCheckInterval: "1 minute" })
      )
      yield* db("east").failCommandsWith(connectionRefused("east"))
      const { calls, fiber } = yield* countedGet(client)
      yield* TestClock.adjust("500 millis") // jittered backoff: at least 0.8 s
      expect(calls()).toBe(1)
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.await(fiber)
      expect(calls()).toBe(3)
    })
  )
})

describe("Engine: retries follow the traffic", () => {
  it.scoped("a retry waiting out its backoff goes to the new database as soon as traffic moves there", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(
        config({
          commandRetry: { base: "5 seconds", cap: "5 seconds", retries: 2 },
          minNumFailures: 1000,
          healthCheckInterval: "1 minute"
        })
      )
      db("west").data.set("k", "from-west")
      yield* db("east").failCommandsWith(connectionRefused("east"))
      const { calls, fiber } = yield* countedGet(client)
      yield* TestClock.adjust("100 millis")
      expect(calls()).toBe(1) // failed on east, now in a backoff of at least 4 s
      yield* client.setActiveDatabase("west")
      yield* TestClock.adjust("10 millis")
      const exit = fiber.unsafePoll()
      expect(exit).toEqual(Exit.succeed("from-west"))
      expect(calls()).toBe(2)
    })
  )
})

describe("Engine: initial health check", () => {
  const unhealthy =
    (...names: ReadonlyArray<string>) =>
    (db: (id: string) => InMemoryConnection.InMemoryDatabase) =>
      Effect.forEach(names, (name) => db(name).setPingHealthy(false), { discard: true })

  it.scoped("policy all starts when every database is healthy", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config({ initialHealthCheckPolicy: "all" }))
      expect(yield* activeId(client)).toBe("east")
      expect((yield* client.databases).map((d) => d.circuit)).toEqual(["closed", "closed", "closed"])
    })
  )

  it.scoped("policy all fails with InitialHealthCheckFailed when one database is unhealthy", () =>
    Effect.gen(function* () {
      const { exit } = yield* start(config({ initialHealthCheckPolicy: "all" }), { before: unhealthy("south") })
      expect(failureOf(exit)).toMatchObject({
        _tag: "InitialHealthCheckFailed",
        policy: "all",
        healthy: ["east", "west"],
        unhealthy: ["south"]
      })
    })
  )

  it.scoped("policy majority starts with 2 of 3 healthy, on the best healthy one, the other's circuit open", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config({ initialHealthCheckPolicy: "majority" }), {
        before: unhealthy("east")
      })
      expect(yield* activeId(client)).toBe("west")
      expect((yield* client.databases).map((d) => d.circuit)).toEqual(["open", "closed", "closed"])
    })
  )

  it.scoped("policy majority fails with 1 of 3 healthy", () =>
    Effect.gen(function* () {
      const { exit } = yield* start(config({ initialHealthCheckPolicy: "majority" }), {
        before: unhealthy("east", "west")
      })
      expect(failureOf(exit)).toMatchObject({ _tag: "InitialHealthCheckFailed", policy: "majority" })
    })
  )

  it.scoped("the default initial policy is majority: 1 of 3 healthy does not start", () =>
    Effect.gen(function* () {
      const { exit } = yield* start(config(), { before: unhealthy("west", "south") })
      expect(failureOf(exit)).toMatchObject({
        _tag: "InitialHealthCheckFailed",
        policy: "majority",
        healthy: ["east"],
        unhealthy: ["west", "south"]
      })
    })
  )

  it.scoped("policy one starts when only the lowest-weighted database is healthy, and uses it", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config({ initialHealthCheckPolicy: "one" }), {
        before: unhealthy("east", "west")
      })
      expect(yield* activeId(client)).toBe("south")
      yield* client.commands.set("k", "v")
      expect(db("south").data.get("k")).toBe("v")
    })
  )

  it.scoped("policy one fails when no database is healthy", () =>
    Effect.gen(function* () {
      const { exit } = yield* start(config({ initialHealthCheckPolicy: "one" }), {
        before: unhealthy("east", "west", "south")
      })
      expect(failureOf(exit)).toMatchObject({ _tag: "InitialHealthCheckFailed", policy: "one", healthy: [] })
    })
  )

  it.scoped("a check that times out at start counts as unhealthy", () =>
    Effect.gen(function* () {
      const hung = HealthCheck.make({ name: "hung", timeout: "100 millis", probe: () => Effect.never })
      const { exit } = yield* start(config({ healthChecks: [hung], initialHealthCheckPolicy: "one" }))
      expect(failureOf(exit)).toMatchObject({ _tag: "InitialHealthCheckFailed", healthy: [] })
    })
  )

  it.scoped("the initial check runs every probe of every database (3 probes x 3 databases)", () =>
    Effect.gen(function* () {
      const { db } = yield* setupWith(config({ healthCheckProbes: 3, healthCheckPolicy: "all" }))
      for (const id of ids) expect(yield* db(id).pings).toBe(3)
    })
  )
})

describe("Engine: setActiveDatabase", () => {
  it.scoped("fails with DatabaseNotFound for an unknown id", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      const error = yield* Effect.flip(client.setActiveDatabase("nowhere"))
      expect(error).toMatchObject({ _tag: "DatabaseNotFound", database: "nowhere", known: ["east", "west", "south"] })
      expect(yield* activeId(client)).toBe("east")
    })
  )

  it.scoped("fails with UnhealthyDatabase for a database failing its health check, and keeps the active one", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config())
      const { events } = yield* recordEvents(client)
      yield* db("south").setPingHealthy(false)
      const error = yield* Effect.flip(client.setActiveDatabase("south"))
      yield* settle
      expect(error).toMatchObject({ _tag: "UnhealthyDatabase", database: "south" })
      expect(yield* activeId(client)).toBe("east")
      expect(switches(events)).toEqual([])
    })
  )

  it.scoped("switches to a healthy database with reason manual and publishes the change", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config())
      const { events } = yield* recordEvents(client)
      yield* client.setActiveDatabase("south")
      yield* settle
      expect(yield* activeId(client)).toBe("south")
      expect(switches(events)).toEqual(["east->south:manual"])
      yield* client.commands.set("k", "v")
      expect(db("south").data.get("k")).toBe("v")
      expect(db("east").data.has("k")).toBe(false)
    })
  )

  it.scoped("setting the active database again publishes nothing", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      const { events } = yield* recordEvents(client)
      yield* client.setActiveDatabase("east")
      yield* settle
      expect(yield* activeId(client)).toBe("east")
      expect(switches(events)).toEqual([])
    })
  )
})

describe("Engine: a manual choice stays until auto fallback moves it", () => {
  it.scoped("removing another database leaves the manually chosen database active", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      yield* client.setActiveDatabase("south")
      yield* client.removeDatabase("west")
      yield* settle
      expect(yield* activeId(client)).toBe("south")
    })
  )

  it.scoped("adding a database that is not the best leaves the manually chosen database active", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      yield* client.setActiveDatabase("south")
      yield* client.addDatabase({ id: "north", url: "redis://north:6379", weight: 0.1 })
      yield* settle
      expect(yield* activeId(client)).toBe("south")
    })
  )

  it.scoped("an eligible manual choice survives health rounds when auto fallback is off", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      yield* client.setActiveDatabase("south")
      yield* at(10_000)
      expect(yield* activeId(client)).toBe("south")
    })
  )
})

describe("Engine: addDatabase", () => {
  it.scoped("a database with a higher weight becomes active", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config())
      const { events } = yield* recordEvents(client)
      yield* client.addDatabase({ id: "north", url: "redis://north:6379", weight: 2 })
      yield* settle
      expect(yield* activeId(client)).toBe("north")
      expect(eventsTagged(events, "DatabaseAdded")).toMatchObject([{ database: "north", weight: 2 }])
      expect(switches(events)).toEqual(["east->north:automatic"])
      expect((yield* client.databases).map((d) => [d.id, d.order])).toEqual([
        ["east", 0],
        ["west", 1],
        ["south", 2],
        ["north", 3]
      ])
      expect(yield* db("north").pings).toBe(1) // health-checked before it was added
    })
  )

  it.scoped("a database with a lower weight is added without taking the traffic", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      const { events } = yield* recordEvents(client)
      yield* client.addDatabase({ id: "north", url: "redis://north:6379", weight: 0.1 })
      yield* settle
      expect(yield* activeId(client)).toBe("east")
      expect(switches(events)).toEqual([])
      expect((yield* client.databases).map((d) => d.id)).toContain("north")
    })
  )

  it.scoped("an unhealthy database fails with UnhealthyDatabase, is not added and its connections are closed", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config())
      const { events } = yield* recordEvents(client)
      yield* db("north").setPingHealthy(false)
      const error = yield* Effect.flip(client.addDatabase({ id: "north", url: "redis://north:6379", weight: 2 }))
      yield* settle
      expect(error).toMatchObject({ _tag: "UnhealthyDatabase", database: "north" })
      expect((yield* client.databases).map((d) => d.id)).toEqual(["east", "west", "south"])
      expect(yield* db("north").openConnections).toBe(0)
      expect(eventsTagged(events, "DatabaseAdded")).toEqual([])
      expect(yield* activeId(client)).toBe("east")
    })
  )

  it.scoped("skipInitialHealthCheck adds a database without checking it", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config())
      yield* db("north").setPingHealthy(false)
      yield* client.addDatabase(
        { id: "north", url: "redis://north:6379", weight: 0.1 },
        { skipInitialHealthCheck: true }
      )
      expect((yield* client.databases).map((d) => d.id)).toEqual(["east", "west", "south", "north"])
      expect(yield* db("north").pings).toBe(0)
    })
  )

  it.scoped("an added database takes part in the next health round", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config())
      yield* client.addDatabase(
        { id: "north", url: "redis://north:6379", weight: 0.1 },
        { skipInitialHealthCheck: true }
      )
      yield* db("north").setPingHealthy(false)
      yield* at(1100)
      expect(yield* circuitOf(client, "north")).toBe("open")
    })
  )

  it.scoped("a duplicate id fails with InvalidRequest", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      const error = yield* Effect.flip(client.addDatabase({ id: "west", url: "redis://elsewhere:6379" }))
      expect(error._tag).toBe("InvalidRequest")
      expect(error.message).toContain('"west"')
      expect((yield* client.databases).map((d) => d.id)).toEqual(["east", "west", "south"])
    })
  )

  it.scoped("a bad config fails with InvalidRequest naming the field", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      const error = yield* Effect.flip(client.addDatabase({ id: "north", url: "redis://north:6379", weight: -1 }))
      expect(error._tag).toBe("InvalidRequest")
      expect(error.message).toContain("weight")
      const badUrl = yield* Effect.flip(client.addDatabase({ id: "north", url: "not a url" }))
      expect(badUrl._tag).toBe("InvalidRequest")
      expect(badUrl.message).toContain("url")
    })
  )
})

describe("Engine: removeDatabase", () => {
  it.scoped("removing the active database moves traffic and closes its connections", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config())
      const { events } = yield* recordEvents(client)
      yield* client.removeDatabase("east")
      yield* settle
      expect(yield* activeId(client)).toBe("west")
      expect((yield* client.databases).map((d) => d.id)).toEqual(["west", "south"])
      expect(yield* db("east").openConnections).toBe(0)
      expect(eventsTagged(events, "DatabaseRemoved")).toMatchObject([{ database: "east" }])
      expect(switches(events)).toEqual(["east->west:automatic"])
      yield* client.commands.set("k", "v")
      expect(db("west").data.get("k")).toBe("v")
    })
  )

  it.scoped("a removed database is no longer health-checked", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config())
      yield* client.removeDatabase("south")
      const pings = yield* db("south").pings
      yield* at(10_000)
      expect(yield* db("south").pings).toBe(pings)
    })
  )

  it.scoped("removing the last database fails with InvalidRequest", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      yield* client.removeDatabase("south")
      yield* client.removeDatabase("west")
      const error = yield* Effect.flip(client.removeDatabase("east"))
      expect(error._tag).toBe("InvalidRequest")
      expect(yield* activeId(client)).toBe("east")
    })
  )

  it.scoped("removing an unknown database fails with DatabaseNotFound", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      const error = yield* Effect.flip(client.removeDatabase("nowhere"))
      expect(error).toMatchObject({ _tag: "DatabaseNotFound", database: "nowhere" })
    })
  )
})

describe("Engine: updateDatabaseWeight", () => {
  it.scoped("making another database the highest-weighted switches to it", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      const { events } = yield* recordEvents(client)
      yield* client.updateDatabaseWeight("west", 2)
      yield* settle
      expect(yield* activeId(client)).toBe("west")
      expect(eventsTagged(events, "DatabaseWeightChanged")).toMatchObject([{ database: "west", from: 0.5, to: 2 }])
      expect(switches(events)).toEqual(["east->west:automatic"])
      expect((yield* client.databases).find((d) => d.id === "west")?.weight).toBe(2)
    })
  )

  it.scoped("lowering the active database below another switches away from it", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      yield* client.updateDatabaseWeight("east", 0.1)
      expect(yield* activeId(client)).toBe("west")
    })
  )

  it.scoped("a weight tie keeps the database configured first", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      yield* client.updateDatabaseWeight("south", 1)
      expect(yield* activeId(client)).toBe("east")
    })
  )

  it.scoped("a bad weight fails with InvalidRequest and changes nothing", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      for (const weight of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
        const error = yield* Effect.flip(client.updateDatabaseWeight("west", weight))
        expect(error._tag).toBe("InvalidRequest")
      }
      expect((yield* client.databases).find((d) => d.id === "west")?.weight).toBe(0.5)
    })
  )

  it.scoped("an unknown database fails with DatabaseNotFound", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      const error = yield* Effect.flip(client.updateDatabaseWeight("nowhere", 1))
      expect(error._tag).toBe("DatabaseNotFound")
    })
  )
})

describe("Engine: addHealthCheck", () => {
  it.scoped("an added check's probes run on the next round, on every database", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      const probed: Array<string> = []
      yield* client.addHealthCheck(
        HealthCheck.make({
          name: "counted",
          probe: (target) =>
            Effect.sync(() => {
              probed.push(target.database)
              return true
            })
        })
      )
      expect(probed).toEqual([])
      yield* at(1010)
      expect([...probed].sort()).toEqual(["east", "south", "west"])
    })
  )

  it.scoped("an added check that fails evicts the database at the next round", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      yield* client.addHealthCheck(
        HealthCheck.make({ name: "replication", probe: (target) => Effect.succeed(target.database !== "east") })
      )
      yield* at(1010)
      expect(yield* circuitOf(client, "east")).toBe("open")
      expect(yield* activeId(client)).toBe("west")
    })
  )

  it.scoped("something that is not a check fails with InvalidRequest", () =>
    Effect.gen(function* () {
      const { client } = yield* setupWith(config())
      const error = yield* Effect.flip(client.addHealthCheck({ name: "broken" } as unknown as HealthCheck.HealthCheck))
      expect(error._tag).toBe("InvalidRequest")
    })
  )
})

describe("Engine: failbackOnly checks", () => {
  const lagCheck = (lagging: { value: boolean }) =>
    HealthCheck.make({
      name: "lag",
      failbackOnly: true,
      probe: (target) => Effect.sync(() => !(target.database === "east" && lagging.value))
    })

  it.scoped("a recovered database whose failbackOnly check fails is not failed back to until it passes", () =>
    Effect.gen(function* () {
      const lagging = { value: false }
      const { client, db } = yield* setupWith(
        config(
          { autoFallbackInterval: "3 seconds", healthChecks: [HealthCheck.ping, lagCheck(lagging)] },
          { east: { gracePeriod: "2 seconds" } }
        )
      )
      yield* db("east").setBehaviour("down")
      yield* at(1000)
      yield* db("east").setBehaviour("up")
      lagging.value = true
      yield* at(6500) // closed at 2.05 s, ticks at 3 s and 6 s
      expect(yield* circuitOf(client, "east")).toBe("closed")
      expect(yield* activeId(client)).toBe("west")
      lagging.value = false
      yield* at(9500) // round at 7 s allows fail-back, tick at 9 s
      expect(yield* activeId(client)).toBe("east")
    })
  )

  it.scoped("a failing failbackOnly check never evicts the active database", () =>
    Effect.gen(function* () {
      const lagging = { value: false }
      const { client } = yield* setupWith(
        config({ autoFallbackInterval: "3 seconds", healthChecks: [HealthCheck.ping, lagCheck(lagging)] })
      )
      const { events } = yield* recordEvents(client)
      lagging.value = true
      yield* at(7000)
      expect(yield* activeId(client)).toBe("east")
      expect(yield* circuitOf(client, "east")).toBe("closed")
      expect(switches(events)).toEqual([])
      const eastChecks = eventsTagged(events, "HealthCheckCompleted").filter((e) => e.database === "east")
      expect(eastChecks.at(-1)).toMatchObject({ healthy: true, failbackAllowed: false })
    })
  )
})

describe("Engine: health rounds", () => {
  it.scoped("publishes HealthCheckCompleted for every database each round, with the cause when unhealthy", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config())
      const { events } = yield* recordEvents(client)
      yield* db("south").setPingHealthy(false)
      yield* at(1010)
      const completed = eventsTagged(events, "HealthCheckCompleted")
      expect(completed.map((e) => [e.database, e.healthy]).sort()).toEqual([
        ["east", true],
        ["south", false],
        ["west", true]
      ])
      expect(completed.find((e) => e.database === "south")?.cause).toContain("PING answered unhealthy")
    })
  )

  it.scoped("rounds repeat every healthCheckInterval", () =>
    Effect.gen(function* () {
      const { db } = yield* setupWith(config({ healthCheckInterval: "5 seconds" }))
      const before = yield* db("west").pings
      yield* at(4900)
      expect(yield* db("west").pings).toBe(before)
      yield* at(5100)
      expect(yield* db("west").pings).toBe(before + 1)
      yield* at(15_100)
      expect(yield* db("west").pings).toBe(before + 3)
    })
  )

  it.scoped("a hung database does not delay the others' results past its own timeout", () =>
    Effect.gen(function* () {
      const hang = { value: false }
      const check = HealthCheck.make({
        name: "maybe-hung",
        timeout: "1 second",
        probe: (target) => (hang.value && target.database === "east" ? Effect.never : Effect.succeed(true))
      })
      const { client } = yield* setupWith(config({ healthCheckInterval: "5 seconds", healthChecks: [check] }))
      const { events } = yield* recordEvents(client)
      hang.value = true
      yield* at(5010)
      const early = eventsTagged(events, "HealthCheckCompleted")
      expect(early.map((e) => e.database).sort()).toEqual(["south", "west"])
      yield* at(6010)
      const east = eventsTagged(events, "HealthCheckCompleted").find((e) => e.database === "east")
      expect(east).toMatchObject({ healthy: false })
      expect(east?.cause).toMatch(/timed out/)
      expect(yield* activeId(client)).toBe("west")
    })
  )

  it.scoped("databases reports id, weight, order, circuit, last health result and the active flag", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config())
      yield* db("south").setPingHealthy(false)
      yield* at(1010)
      const infos = yield* client.databases
      expect(infos.map((d) => [d.id, d.weight, d.order, d.circuit, d.active])).toEqual([
        ["east", 1, 0, "closed", true],
        ["west", 0.5, 1, "closed", false],
        ["south", 0.25, 2, "open", false]
      ])
      expect(Option.getOrUndefined(infos[0]!.lastHealthCheck)).toEqual({ healthy: true, failbackAllowed: true })
      expect(Option.getOrUndefined(infos[2]!.lastHealthCheck)).toMatchObject({ healthy: false })
    })
  )
})

describe("Engine: events and concurrency", () => {
  it.scoped("concurrent callers during a switch see one ActiveDatabaseChanged and all succeed", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config({ minNumFailures: 5, healthCheckInterval: "1 minute" }))
      const { events } = yield* recordEvents(client)
      db("west").data.set("k", "from-west")
      yield* db("east").failCommandsWith(connectionRefused("east"))
      const exit = yield* runFor(
        Effect.all(
          Array.from({ length: 20 }, () => client.commands.get("k")),
          { concurrency: "unbounded" }
        ),
        5000
      )
      expect(exit).toEqual(Exit.succeed(Array.from({ length: 20 }, () => "from-west")))
      expect(switches(events)).toEqual(["east->west:automatic"])
    })
  )

  it.scoped("a subscriber that never reads does not block failover", () =>
    Effect.gen(function* () {
      // The library's event bus with room for 16 unread events per subscriber (4096 by default).
      const bus = yield* MultiDbEvents.make(16)
      const failures = 200
      const { client, db } = yield* setupWith(
        config({ minNumFailures: failures, failuresDetectionWindow: "1 minute", healthCheckInterval: "1 minute" }),
        { context: Context.make(MultiDbEvents.MultiDbEvents, bus) }
      )
      yield* client.events.pipe(
        Stream.runForEach(() => Effect.never),
        Effect.forkScoped
      )
      const { events } = yield* recordEvents(client)
      yield* db("east").failCommandsWith(commandTimedOut("east"))
      const exit = yield* runFor(
        Effect.forEach(Array.from({ length: failures }), () => Effect.either(client.commands.set("k", "v")), {
          discard: true
        }),
        1000
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      yield* TestClock.adjust("1 millis")
      expect(yield* activeId(client)).toBe("west")
      expect(switches(events)).toEqual(["east->west:automatic"])
    })
  )

  it.scoped(
    "AllDatabasesUnavailable, CircuitStateChanged and HealthCheckCompleted are published during an outage",
    () =>
      Effect.gen(function* () {
        const { client, db } = yield* setupWith(
          config({ failoverAttempts: 2, failoverDelay: "1 second", healthCheckInterval: "1 minute" })
        )
        const { events } = yield* recordEvents(client)
        for (const id of ids) yield* db(id).setBehaviour("down")
        yield* at(1500)
        for (const id of ids) expect(circuitChanges(events, id)).toEqual(["closed->open"])
        expect(eventsTagged(events, "AllDatabasesUnavailable")[0]).toMatchObject({ attempt: 1, maxAttempts: 2 })
        expect(eventsTagged(events, "HealthCheckCompleted").filter((e) => !e.healthy).length).toBeGreaterThanOrEqual(3)
      })
  )
})

describe("Engine: observing the client", () => {
  it.scoped("activeChanges emits the active database's id at each change", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config({ healthCheckInterval: "1 minute" }))
      const seen: Array<string | undefined> = []
      yield* client.activeChanges.pipe(
        Stream.runForEach((id) => Effect.sync(() => seen.push(Option.getOrUndefined(id)))),
        Effect.forkScoped
      )
      yield* settle
      yield* db("east").setBehaviour("down")
      yield* settle
      yield* client.setActiveDatabase("south")
      yield* settle
      expect(seen).toEqual(["east", "west", "south"])
    })
  )

  it.scoped("a listener attached to the MultiDbEvents bus before start sees the initial health check", () =>
    Effect.gen(function* () {
      const bus = yield* MultiDbEvents.make()
      const listener = yield* PubSub.subscribe(bus)
      yield* setupWith(config(), {
        before: (db) => db("south").setPingHealthy(false),
        context: Context.make(MultiDbEvents.MultiDbEvents, bus)
      })
      const seen = Array.from(yield* Queue.takeAll(listener))
      expect(
        eventsTagged(seen, "HealthCheckCompleted")
          .map((e) => [e.database, e.healthy])
          .sort()
      ).toEqual([
        ["east", true],
        ["south", false],
        ["west", true]
      ])
      expect(circuitChanges(seen, "south")).toEqual(["closed->open"])
    })
  )

  it.scoped("a database unhealthy at start is failed back to once healthy after its grace period", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(
        config(
          { autoFallbackInterval: "3 seconds", healthCheckInterval: "1 minute" },
          { east: { gracePeriod: "2 seconds" } }
        ),
        { before: (db) => db("east").setPingHealthy(false) }
      )
      expect(yield* activeId(client)).toBe("west")
      yield* db("east").setPingHealthy(true)
      yield* at(2500)
      expect(yield* circuitOf(client, "east")).toBe("closed")
      expect(yield* activeId(client)).toBe("west")
      yield* at(3100)
      expect(yield* activeId(client)).toBe("east")
    })
  )
})

describe("Engine: shutdown", () => {
  it.effect("closing the client's scope closes every connection and stops the background fibers", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { client, db } = yield* setupWith(config({ autoFallbackInterval: "10 seconds" })).pipe(Scope.extend(scope))
      yield* db("south").setBehaviour("down") // south's grace timer is pending
      yield* at(3000)
      for (const id of ids) expect(yield* db(id).openConnections).toBe(1)
      const { events } = yield* recordEvents(client).pipe(Scope.extend(scope))
      yield* Scope.close(scope, Exit.void)
      for (const id of ids) expect(yield* db(id).openConnections).toBe(0)
      const pings = yield* Effect.forEach(ids, (id) => db(id).pings)
      const seen = events.length
      yield* at(300_000)
      expect(yield* Effect.forEach(ids, (id) => db(id).pings)).toEqual(pings)
      expect(events.length).toBe(seen)
    })
  )
})
