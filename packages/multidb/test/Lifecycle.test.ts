import { describe, expect, it } from "@effect/vitest"
import { Cause, Chunk, Context, Effect, Exit, Fiber, Option, Ref, Scope, Stream, TestClock } from "effect"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as HealthCheck from "../src/HealthCheck.js"
import * as InMemoryConnection from "../src/InMemoryConnection.js"
import * as MultiDbClient from "../src/MultiDbClient.js"
import type * as MultiDbConfig from "../src/MultiDbConfig.js"
import type * as RedisConnection from "../src/RedisConnection.js"
import { RedisConnector } from "../src/RedisConnection.js"
import { activeId, advance } from "./helpers.js"

/**
 * Issue 13, item 3 (lifecycle): after the scope closes every call fails at once with `ClientClosed`; removing a
 * database or closing the client never interrupts a caller; no management call waits without bound; interruption at
 * any step leaves nothing set or open; pub/sub moves are retried; a half-failed subscribe leaves nothing subscribed.
 */

const config = (overrides: Partial<MultiDbConfig.Input> = {}): MultiDbConfig.Input => ({
  databases: [
    { id: "east", url: "redis://east:6379", weight: 1 },
    { id: "west", url: "redis://west:6379", weight: 0.5 },
    { id: "south", url: "redis://south:6379", weight: 0.25 }
  ],
  commandTimeout: "100 millis",
  healthCheckProbes: 1,
  healthCheckTimeout: "1 hour",
  autoFallbackInterval: 0,
  ...overrides
})

type Connector = Context.Tag.Service<typeof RedisConnector>

/**
 * A client over in-memory databases, built in `scope`, with the connector wrapped by `wrap` and extra services (a
 * circuit factory, ...).
 */
const build = <R = never>(
  input: MultiDbConfig.Input,
  scope: Scope.Scope,
  options: { readonly wrap?: (connector: Connector) => Connector; readonly context?: Context.Context<R> } = {}
) =>
  Effect.gen(function* () {
    const { connector, registry } = yield* InMemoryConnection.make
    const fiber = yield* MultiDbClient.fromInput(input).pipe(
      Effect.provideService(RedisConnector, options.wrap === undefined ? connector : options.wrap(connector)),
      Effect.provide(options.context ?? (Context.empty() as Context.Context<R>)),
      Scope.extend(scope),
      Effect.fork
    )
    for (let i = 0; i < 1000 && fiber.unsafePoll() === null; i++) {
      yield* TestClock.adjust("50 millis")
      yield* Effect.yieldNow()
    }
    const client = yield* Fiber.join(fiber)
    return { client, db: registry.database }
  })

const setup = <R = never>(input: MultiDbConfig.Input, options: Parameters<typeof build<R>>[2] = {}) =>
  Effect.flatMap(Effect.scope, (scope) => build(input, scope, options))

/** Forks `effect`, lets other fibers run without moving the clock, and returns its exit; null while it still runs. */
const atOnce = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(effect)
    for (let i = 0; i < 50 && fiber.unsafePoll() === null; i++) yield* Effect.yieldNow()
    const exit = fiber.unsafePoll()
    if (exit === null) yield* Fiber.interrupt(fiber)
    return exit
  })

/** The tag of the error an exit failed with (`interrupted` for an interruption, `null` for a success). */
const failureTag = <A, E>(exit: Exit.Exit<A, E> | null) => {
  if (exit === null) return "still running"
  if (Exit.isSuccess(exit)) return null
  if (Cause.isInterruptedOnly(exit.cause)) return "interrupted"
  return Option.match(Cause.failureOption(exit.cause), {
    onNone: () => `defect: ${Cause.pretty(exit.cause)}`,
    onSome: (error) => (error as { _tag?: string })._tag ?? String(error)
  })
}

/** A network error that says the command may have run (a reset connection). */
const reset = () => Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })

/** A connector whose connections lack `abandon` (it is optional): calls left on a database run out by themselves. */
const withoutAbandon = (connector: Connector): Connector => ({
  connect: (databaseConfig, options) =>
    Effect.map(connector.connect(databaseConfig, options), (connection) => {
      const { abandon: _, ...rest } = connection
      return rest
    })
})

/** A connector whose pub/sub connections refuse `refused(database, name)` subscriptions. */
const refusingSubscriptions =
  (refused: (database: string, name: string) => boolean) =>
  (connector: Connector): Connector => ({
    connect: (databaseConfig, options) =>
      Effect.map(
        connector.connect(databaseConfig, options),
        (connection): RedisConnection.RedisConnection => ({
          ...connection,
          subscriber: Effect.map(connection.subscriber, (subscriber) => ({
            ...subscriber,
            subscribe: (kind, name, listener) =>
              refused(databaseConfig.id, name)
                ? Effect.fail(new Error(`NOPERM no permissions to access the '${name}' channel`))
                : subscriber.subscribe(kind, name, listener)
          }))
        })
      )
  })

describe("Lifecycle: after the client's scope closes", () => {
  it.effect("every call fails at once with ClientClosed", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { client } = yield* build(config(), scope)
      yield* Scope.close(scope, Exit.void)
      const calls: Record<string, Effect.Effect<unknown, unknown>> = {
        get: client.commands.get("k"),
        set: client.commands.set("k", "v"),
        execute: client.execute((redis) => redis.get("k")),
        sendCommand: client.sendCommand(["GET", "k"]),
        pipeline: client.pipeline((multi) => multi.get("k")),
        transaction: client.transaction((multi) => multi.set("k", "v")),
        watchedTransaction: client.transaction((multi) => multi.set("k", "v"), { watch: ["k"] }),
        subscribe: Stream.runDrain(client.subscribe(["news"])),
        pSubscribe: Stream.runDrain(client.pSubscribe(["news.*"])),
        checkHealth: client.checkHealth("east"),
        updateDatabaseWeight: client.updateDatabaseWeight("east", 2),
        removeDatabase: client.removeDatabase("west"),
        addDatabase: client.addDatabase({ id: "north", url: "redis://north:6379" }),
        addDatabaseSkippingCheck: client.addDatabase(
          { id: "north", url: "redis://north:6379" },
          { skipInitialHealthCheck: true }
        ),
        setActiveDatabase: client.setActiveDatabase("west"),
        addHealthCheck: client.addHealthCheck(HealthCheck.ping),
        activeDatabase: client.activeDatabase,
        databases: client.databases
      }
      const outcomes: Record<string, string | null> = {}
      for (const [name, call] of Object.entries(calls)) outcomes[name] = failureTag(yield* atOnce(call))
      expect(outcomes).toEqual(Object.fromEntries(Object.keys(calls).map((name) => [name, "ClientClosed"])))
    })
  )

  it.effect("events and activeChanges end when the client closes", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { client } = yield* build(config(), scope)
      const events = yield* Effect.fork(Stream.runDrain(client.events))
      const changes = yield* Effect.fork(Stream.runCollect(client.activeChanges))
      yield* Effect.yieldNow()
      yield* Scope.close(scope, Exit.void)
      expect(yield* Fiber.await(events)).toEqual(Exit.void)
      expect(Chunk.toArray(yield* Fiber.join(changes))).toEqual([Option.some("east")])
      expect(failureTag(yield* atOnce(Stream.runDrain(client.events)))).toBeNull()
    })
  )

  it.effect("a read retrying when the client closes ends at once with ClientClosed instead of retrying on", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { client, db } = yield* build(config(), scope)
      yield* db("east").failCommandsWith(reset())
      const read = yield* Effect.fork(client.commands.get("k"))
      yield* TestClock.adjust("5 millis") // the first attempt failed; the read waits for its first retry
      expect(read.unsafePoll()).toBeNull()
      const served = yield* db("east").commandsServed
      yield* Scope.close(scope, Exit.void)
      for (let i = 0; i < 20 && read.unsafePoll() === null; i++) yield* Effect.yieldNow()
      expect(failureTag(read.unsafePoll())).toBe("ClientClosed")
      yield* TestClock.adjust("10 seconds")
      expect(yield* db("east").commandsServed).toBe(served)
    })
  )

  it.effect("a subscription stream fails with ClientClosed when the client closes", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const { client, db } = yield* build(config(), scope)
      const stream = yield* Effect.fork(Stream.runDrain(client.subscribe(["news"])))
      yield* TestClock.adjust("1 millis")
      yield* Scope.close(scope, Exit.void)
      for (let i = 0; i < 20 && stream.unsafePoll() === null; i++) yield* Effect.yieldNow()
      expect(failureTag(stream.unsafePoll())).toBe("ClientClosed")
      expect(yield* db("east").openConnections).toBe(0)
    })
  )
})

describe("Lifecycle: removing a database never interrupts a caller", () => {
  it.scoped("checkHealth racing removeDatabase fails with DatabaseNotFound", () =>
    Effect.gen(function* () {
      const { client } = yield* setup(config({ healthCheckProbes: 2, healthCheckProbesDelay: "1 second" }))
      const check = yield* Effect.fork(client.checkHealth("west"))
      yield* TestClock.adjust("100 millis")
      expect(check.unsafePoll()).toBeNull()
      yield* client.removeDatabase("west")
      const exit = yield* Fiber.await(check)
      expect(failureTag(exit)).toBe("DatabaseNotFound")
    })
  )

  it.scoped("a read in flight on a removed database whose detector trips is retried on the new active database", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setup(config({ minNumFailures: 1 }), { wrap: withoutAbandon })
      db("east").data.set("k", "from-east")
      db("west").data.set("k", "from-west")
      yield* db("east").setCommandDelay("50 millis")
      const read = yield* Effect.fork(client.commands.get("k"))
      yield* TestClock.adjust("10 millis")
      yield* client.removeDatabase("east")
      expect(yield* activeId(client)).toBe("west")
      // the reply the read waits for turns out to be a reset: a failure, on a database that is gone
      yield* db("east").failCommandsWith(reset())
      yield* TestClock.adjust("40 millis")
      expect(yield* Fiber.await(read)).toEqual(Exit.succeed("from-west"))
    })
  )

  it.scoped("a write in flight on a removed database whose detector trips fails with RedisConnectionError", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setup(config({ minNumFailures: 1 }), { wrap: withoutAbandon })
      yield* db("east").setCommandDelay("50 millis")
      const write = yield* Effect.fork(client.commands.set("k", "v"))
      yield* TestClock.adjust("10 millis")
      yield* client.removeDatabase("east")
      yield* db("east").failCommandsWith(reset())
      yield* TestClock.adjust("40 millis")
      const exit = yield* Fiber.await(write)
      expect(failureTag(exit)).toBe("RedisConnectionError")
      expect(Exit.isFailure(exit) && Cause.failureOption(exit.cause)).toMatchObject(
        Option.some({ mayHaveExecuted: true, database: "east" })
      )
    })
  )

  it.scoped("health rounds go on after a database is removed during a round", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setup(
        config({ healthCheckProbes: 3, healthCheckProbesDelay: "500 millis", healthCheckInterval: "5 seconds" })
      )
      yield* advance(5200) // a round is under way: each check waits between its probes
      yield* client.removeDatabase("south")
      yield* advance(2000)
      const pings = yield* db("east").pings
      yield* advance(7000) // the next round
      expect(yield* db("east").pings).toBeGreaterThan(pings)
    })
  )
})

describe("Lifecycle: no management call waits without bound", () => {
  it.scoped("setActiveDatabase fails with ManagementFailed when the supervisor fails while switching", () =>
    Effect.gen(function* () {
      const broken = yield* Ref.make(false)
      // east's circuit dies on read once `broken` is set: the supervisor's switch away from east fails
      const circuits = Context.make(CircuitBreaker.CircuitBreakerFactory, {
        make: (database, options) =>
          Effect.map(
            CircuitBreaker.make(options),
            (circuit): CircuitBreaker.CircuitBreaker =>
              database !== "east"
                ? circuit
                : {
                    ...circuit,
                    state: Effect.flatMap(Ref.get(broken), (yes) =>
                      yes ? Effect.dieMessage("circuit state unavailable") : circuit.state
                    )
                  }
          )
      })
      const { client } = yield* setup(config(), { context: circuits })
      yield* Ref.set(broken, true)
      const exit = yield* atOnce(client.setActiveDatabase("west"))
      expect(failureTag(exit)).toBe("ManagementFailed")
    })
  )
})

describe("Lifecycle: interruption at any step leaves nothing set or open", () => {
  /** Interruption points: after each of `yields` turns of the other fibers, then at each `stepMillis` up to `millis`. */
  const points = (yields: number, millis: number, stepMillis: number) => [
    ...Array.from({ length: yields }, (_, i) => ({ yields: i, millis: 0 })),
    ...Array.from({ length: Math.floor(millis / stepMillis) }, (_, i) => ({ yields: 0, millis: (i + 1) * stepMillis }))
  ]

  /**
   * Forks `effect`, lets the other fibers take `yields` turns and the clock move `millis`, then interrupts it. A health
   * check in progress finishes its probe before it can be interrupted (its timeout races it uninterruptibly), so the
   * clock moves on while the interruption lands.
   */
  const interruptAt = <A, E>(effect: Effect.Effect<A, E>, at: { readonly yields: number; readonly millis: number }) =>
    Effect.gen(function* () {
      const call = yield* Effect.fork(effect)
      for (let i = 0; i < at.yields; i++) yield* Effect.yieldNow()
      if (at.millis > 0) yield* TestClock.adjust(at.millis)
      yield* Fiber.interruptFork(call)
      for (let i = 0; i < 20 && call.unsafePoll() === null; i++) yield* TestClock.adjust("50 millis")
      yield* Fiber.await(call)
      return `interrupted after ${at.yields} turns and ${at.millis} ms`
    })

  it.scoped("checkHealth interrupted at each step: the database is checked again afterwards", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setup(config({ healthCheckProbes: 2, healthCheckProbesDelay: "100 millis" }))
      for (const at of points(20, 150, 25)) {
        const where = yield* interruptAt(client.checkHealth("east"), at)
        yield* TestClock.adjust("300 millis") // a check still running ends; past the floor between two checks
        const pings = yield* db("east").pings
        const again = yield* Effect.fork(client.checkHealth("east"))
        yield* TestClock.adjust("300 millis")
        expect(again.unsafePoll(), where).toEqual(Exit.void)
        expect(yield* db("east").pings, where).toBeGreaterThan(pings)
      }
    })
  )

  it.scoped("addDatabase interrupted at each step: the database is either added or closed, and can be added", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setup(config({ healthCheckProbes: 2, healthCheckProbesDelay: "100 millis" }))
      for (const at of points(30, 250, 25)) {
        const where = yield* interruptAt(client.addDatabase({ id: "north", url: "redis://north:6379" }), at)
        const added = (yield* client.databases).some((d) => d.id === "north")
        if (added) {
          expect(yield* db("north").openConnections, where).toBe(1)
          yield* client.removeDatabase("north")
        }
        expect(yield* db("north").openConnections, where).toBe(0)
      }
      const added = yield* Effect.fork(client.addDatabase({ id: "north", url: "redis://north:6379" }))
      yield* TestClock.adjust("300 millis")
      expect(added.unsafePoll()).toEqual(Exit.void)
      const pings = yield* db("north").pings
      const check = yield* Effect.fork(client.checkHealth("north"))
      yield* TestClock.adjust("300 millis")
      expect(check.unsafePoll()).toEqual(Exit.void)
      expect(yield* db("north").pings).toBeGreaterThan(pings)
    })
  )

  it.scoped("removeDatabase interrupted at each step: the database is either kept or removed and closed", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setup(config())
      for (const at of points(20, 0, 1)) {
        const where = yield* interruptAt(client.removeDatabase("south"), at)
        const kept = (yield* client.databases).some((d) => d.id === "south")
        expect(yield* db("south").openConnections, where).toBe(kept ? 1 : 0)
        if (!kept) {
          const added = yield* Effect.fork(client.addDatabase({ id: "south", url: "redis://south:6379", weight: 0.25 }))
          yield* TestClock.adjust("100 millis")
          expect(added.unsafePoll(), where).toEqual(Exit.void)
        }
      }
    })
  )
})

describe("Lifecycle: pub/sub", () => {
  it.scoped("a move that fails is retried until the new active database takes the subscription", () =>
    Effect.gen(function* () {
      const refuse = yield* Ref.make(true)
      const { client, db } = yield* setup(config(), {
        wrap: refusingSubscriptions((database) => database === "west" && Effect.runSync(Ref.get(refuse)))
      })
      const received: Array<string> = []
      const stream = yield* client.subscribe(["news"]).pipe(
        Stream.runForEach((m) => Effect.sync(() => received.push(`${m.database}:${m.message}`))),
        Effect.fork
      )
      yield* TestClock.adjust("1 millis")
      yield* db("east").setBehaviour("down")
      yield* advance(1000)
      expect(yield* activeId(client)).toBe("west")
      yield* advance(15_000) // longer than the retries of one command
      yield* Ref.set(refuse, false)
      yield* advance(2000)
      expect(yield* client.commands.publish("news", "hello")).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(received).toEqual(["west:hello"])
      expect(stream.unsafePoll()).toBeNull()
    })
  )

  it.scoped("when no database takes the subscription for the whole failover budget, the stream fails typed", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setup(config({ failoverAttempts: 2, failoverDelay: "1 second" }), {
        wrap: refusingSubscriptions((database) => database !== "east")
      })
      const stream = yield* Effect.fork(Stream.runDrain(client.subscribe(["news"])))
      yield* TestClock.adjust("1 millis")
      yield* db("east").setBehaviour("down")
      yield* advance(1000)
      expect(stream.unsafePoll()).toBeNull()
      yield* advance(5000)
      expect(failureTag(stream.unsafePoll())).toBe("RedisConnectionError")
    })
  )

  it.scoped("a subscribe that fails half-way leaves none of its names subscribed", () =>
    Effect.gen(function* () {
      const { client } = yield* setup(config(), {
        wrap: refusingSubscriptions((_, name) => name === "forbidden")
      })
      const exit = yield* atOnce(Stream.runDrain(client.subscribe(["news", "sport", "forbidden"])))
      expect(failureTag(exit)).toBe("RedisConnectionError")
      expect(yield* client.commands.publish("news", "hello")).toBe(0)
      expect(yield* client.commands.publish("sport", "hello")).toBe(0)
      // a later subscription to the same names works
      const received: Array<string> = []
      yield* client.subscribe(["news"]).pipe(
        Stream.runForEach((m) => Effect.sync(() => received.push(m.message))),
        Effect.forkScoped
      )
      yield* TestClock.adjust("1 millis")
      expect(yield* client.commands.publish("news", "again")).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(received).toEqual(["again"])
    })
  )
})
