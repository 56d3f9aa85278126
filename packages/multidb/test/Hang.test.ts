import { describe, expect, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, Fiber, Option, TestClock } from "effect"
import * as FailureDetector from "../src/FailureDetector.js"
import type * as MultiDbConfig from "../src/MultiDbConfig.js"
import { activeId, circuitOf, eventsTagged, recordEvents, setupWith, switches } from "./helpers.js"

/**
 * Three in-memory databases (east 1.0, west 0.5, south 0.25), a 1 s command timeout, the default 100 ms hang probe,
 * no health rounds and a detector that never trips by itself: whatever moves traffic here is the hang evidence.
 */
const config = (overrides: Partial<MultiDbConfig.Input> = {}): MultiDbConfig.Input => ({
  databases: [
    { id: "east", url: "redis://east:6379", weight: 1, gracePeriod: "1 minute" },
    { id: "west", url: "redis://west:6379", weight: 0.5 },
    { id: "south", url: "redis://south:6379", weight: 0.25 }
  ],
  commandTimeout: "1 second",
  healthCheckProbes: 1,
  healthCheckInterval: "1 hour",
  healthCheckTimeout: "1 hour",
  autoFallbackInterval: 0,
  ...overrides
})

const failureOf = <A, E>(exit: Exit.Exit<A, E> | null) => {
  if (exit === null) throw new Error("still running")
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got ${JSON.stringify(exit.value)}`)
  return Option.getOrThrowWith(Cause.failureOption(exit.cause), () => new Error(Cause.pretty(exit.cause)))
}

describe("Hang: a missed deadline is evidence", () => {
  it.scoped("a frozen database loses the traffic within the command timeout plus the hang probe", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config())
      const { events } = yield* recordEvents(client)
      db("west").data.set("k", "from-west")
      yield* db("east").setBehaviour("hanging")
      const read = yield* Effect.fork(client.commands.get("k"))
      yield* TestClock.adjust("999 millis")
      expect(yield* activeId(client)).toBe("east")
      yield* TestClock.adjust("101 millis") // deadline at 1 s, the probe's bound at 1.1 s
      expect(yield* activeId(client)).toBe("west")
      expect(yield* circuitOf(client, "east")).toBe("open")
      expect(switches(events)).toEqual(["east->west:automatic"])
      yield* TestClock.adjust("100 millis") // the read's retry
      expect(read.unsafePoll()).toEqual(Exit.succeed("from-west"))
      const probe = eventsTagged(events, "HealthCheckCompleted").filter((e) => e.database === "east")
      expect(probe).toMatchObject([{ healthy: false }])
    })
  )

  it.scoped("a latency spike below the command timeout moves nothing and sends no probe", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config())
      const { events } = yield* recordEvents(client)
      yield* db("east").setCommandDelay("900 millis")
      const pings = yield* db("east").pings
      const write = yield* Effect.fork(client.commands.set("k", "v"))
      yield* TestClock.adjust("1 second")
      expect(write.unsafePoll()).toEqual(Exit.succeed("OK"))
      yield* TestClock.adjust("5 seconds")
      expect(yield* activeId(client)).toBe("east")
      expect(yield* db("east").pings).toBe(pings)
      expect(switches(events)).toEqual([])
    })
  )

  it.scoped("a command slow by nature times out, but PING answers: the database keeps the traffic", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config())
      const { events } = yield* recordEvents(client)
      yield* db("east").setCommandDelay("3 seconds")
      const pings = yield* db("east").pings
      const write = yield* Effect.fork(client.commands.set("k", "v"))
      yield* TestClock.adjust("1 second")
      expect(failureOf(write.unsafePoll())).toMatchObject({
        _tag: "RedisConnectionError",
        database: "east",
        mayHaveExecuted: true
      })
      yield* TestClock.adjust("5 seconds")
      // The hang probe, and the check every failure on the command path asks for.
      expect(yield* db("east").pings).toBe(pings + 2)
      expect(yield* activeId(client)).toBe("east")
      expect(yield* circuitOf(client, "east")).toBe("closed")
      expect(switches(events)).toEqual([])
    })
  )

  it.scoped(
    "calls in flight on the database traffic left are settled at once: reads retried, writes mayHaveExecuted",
    () =>
      Effect.gen(function* () {
        const { client, db } = yield* setupWith(config())
        db("west").data.set("k", "from-west")
        yield* db("east").setBehaviour("hanging")
        yield* Effect.fork(client.commands.get("first")) // misses its deadline at 1 s
        yield* TestClock.adjust("500 millis")
        const read = yield* Effect.fork(client.commands.get("k"))
        const write = yield* Effect.fork(client.commands.set("w", "v"))
        yield* TestClock.adjust("610 millis") // the switch at 1.1 s, long before their own deadlines at 1.5 s
        expect(yield* activeId(client)).toBe("west")
        expect(read.unsafePoll()).toEqual(Exit.succeed("from-west"))
        expect(failureOf(write.unsafePoll())).toMatchObject({
          _tag: "RedisConnectionError",
          database: "east",
          command: "SET",
          mayHaveExecuted: true
        })
        expect(db("west").data.has("w")).toBe(false)
      })
  )

  it.scoped("a hang probe that is answered late still counts as unanswered: hangProbeTimeout bounds it", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setupWith(config({ hangProbeTimeout: "300 millis" }))
      yield* db("east").setBehaviour("hanging")
      yield* Effect.fork(client.commands.get("k"))
      yield* TestClock.adjust("1200 millis")
      expect(yield* activeId(client)).toBe("east")
      yield* TestClock.adjust("110 millis")
      expect(yield* activeId(client)).toBe("west")
    })
  )
})

describe("Hang: a lost connection", () => {
  it.scoped("counts as a failure for the failure detector", () =>
    Effect.gen(function* () {
      const outcomes: Array<string> = []
      const context = Context.make(FailureDetector.FailureDetectorFactory, {
        make: (database, options) =>
          Effect.map(FailureDetector.make(options), (detector) => ({
            ...detector,
            record: (outcome: FailureDetector.Outcome) =>
              Effect.zipRight(
                Effect.sync(() => outcomes.push(`${database}:${outcome}`)),
                detector.record(outcome)
              )
          }))
      })
      const { db } = yield* setupWith(config(), { context })
      yield* db("east").setBehaviour("down")
      yield* TestClock.adjust("10 millis")
      expect(outcomes).toContain("east:failure")
    })
  )
})

describe("Hang: no eligible database", () => {
  const allDown = (overrides: Partial<MultiDbConfig.Input>) =>
    Effect.gen(function* () {
      const grace = "1 second"
      const { client, db } = yield* setupWith(
        config({
          databases: [
            { id: "east", url: "redis://east:6379", weight: 1, gracePeriod: grace },
            { id: "west", url: "redis://west:6379", weight: 0.5, gracePeriod: grace },
            { id: "south", url: "redis://south:6379", weight: 0.25, gracePeriod: grace }
          ],
          ...overrides
        })
      )
      for (const id of ["east", "west", "south"]) yield* db(id).setBehaviour("down")
      yield* TestClock.adjust("10 millis")
      expect(yield* client.activeDatabase).toEqual(Option.none())
      return { client, db }
    })

  it.scoped("a command waits for a database to become eligible and runs on it", () =>
    Effect.gen(function* () {
      const { client, db } = yield* allDown({ availabilityTimeout: "5 seconds" })
      db("west").data.set("k", "from-west")
      const read = yield* Effect.fork(client.commands.get("k"))
      yield* TestClock.adjust("500 millis")
      expect(read.unsafePoll()).toBeNull()
      yield* db("west").setBehaviour("up")
      yield* TestClock.adjust("600 millis") // west's grace period ends at 1.01 s; one check closes it
      expect(read.unsafePoll()).toEqual(Exit.succeed("from-west"))
    })
  )

  it.scoped("a command fails with TemporarilyUnavailable once availabilityTimeout passes without one", () =>
    Effect.gen(function* () {
      const { client } = yield* allDown({ availabilityTimeout: "500 millis" })
      const read = yield* Effect.fork(client.commands.get("k"))
      yield* TestClock.adjust("499 millis")
      expect(read.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      expect(failureOf(read.unsafePoll())).toMatchObject({ _tag: "TemporarilyUnavailable", attempt: 1 })
      yield* Fiber.interrupt(read)
    })
  )
})
