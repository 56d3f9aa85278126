import { Context, Effect, Fiber, Option, Stream, TestClock } from "effect"
import * as InMemoryConnection from "../src/InMemoryConnection.js"
import * as MultiDbClient from "../src/MultiDbClient.js"
import type * as MultiDbConfig from "../src/MultiDbConfig.js"
import type { MultiDbEvent } from "../src/MultiDbEvent.js"
import * as Events from "../src/MultiDbEvent.js"
import { RedisConnector } from "../src/RedisConnection.js"

/** Three in-memory databases, east 1.0, west 0.5, south 0.25, with fast, test-friendly options. */
export const threeDatabases = (overrides: Partial<MultiDbConfig.Input> = {}): MultiDbConfig.Input => ({
  databases: [
    { id: "east", url: "redis://east:6379", weight: 1 },
    { id: "west", url: "redis://west:6379", weight: 0.5 },
    { id: "south", url: "redis://south:6379", weight: 0.25 }
  ],
  commandTimeout: "100 millis",
  ...overrides
})

/** A client over in-memory databases, plus the registry to script them. */
export const setup = (input: MultiDbConfig.Input) =>
  Effect.gen(function* () {
    const { connector, registry } = yield* InMemoryConnection.make
    const fiber = yield* MultiDbClient.fromInput(input).pipe(
      Effect.provideService(RedisConnector, connector),
      Effect.forkScoped
    )
    // The initial health check pauses between probes: let the TestClock run until the client is up.
    for (let i = 0; i < 1000 && fiber.unsafePoll() === null; i++) {
      yield* TestClock.adjust("50 millis")
      yield* Effect.yieldNow()
    }
    const client = yield* Fiber.join(fiber)
    return { client, db: registry.database }
  })

/** The id of the active database. */
export const activeId = (client: MultiDbClient.MultiDbClient) =>
  Effect.map(client.activeDatabase, Option.match({ onNone: () => undefined, onSome: (d) => d.id }))

/** Collects events into an array from now on. */
export const recordEvents = (client: MultiDbClient.MultiDbClient) =>
  Effect.gen(function* () {
    const events: Array<MultiDbEvent> = []
    const fiber = yield* client.events.pipe(
      Stream.runForEach((e) => Effect.sync(() => events.push(e))),
      Effect.forkScoped
    )
    yield* Effect.yieldNow()
    return { events, fiber }
  })

/** Advances the TestClock in small steps, letting fibers run between them. */
export const advance = (millis: number, step = 50) =>
  Effect.gen(function* () {
    for (let t = 0; t < millis; t += step) {
      yield* TestClock.adjust(Math.min(step, millis - t))
      yield* Effect.yieldNow()
    }
  })

/** How `start` / `setupWith` prepare the client. */
export interface StartOptions<R> {
  /** Scripts the in-memory databases before the client starts (initial health check scenarios). */
  readonly before?: (db: (id: string) => InMemoryConnection.InMemoryDatabase) => Effect.Effect<void>
  /** Extra services the client picks up (a replacement `FailureDetectorFactory`, `ErrorClassifier`, ...). */
  readonly context?: Context.Context<R>
}

/** Starts a client over in-memory databases and succeeds with how the start ended, plus the registry. */
export const start = <R = never>(input: MultiDbConfig.Input, options: StartOptions<R> = {}) =>
  Effect.gen(function* () {
    const { connector, registry } = yield* InMemoryConnection.make
    if (options.before !== undefined) yield* options.before(registry.database)
    const make = MultiDbClient.fromInput(input).pipe(
      Effect.provideService(RedisConnector, connector),
      Effect.provide(options.context ?? (Context.empty() as Context.Context<R>))
    )
    const fiber = yield* Effect.forkScoped(make)
    for (let i = 0; i < 1000 && fiber.unsafePoll() === null; i++) {
      yield* TestClock.adjust("50 millis")
      yield* Effect.yieldNow()
    }
    const exit = yield* Fiber.await(fiber)
    return { exit, db: registry.database }
  })

/** Like `setup`, with the databases scripted before the client starts and extra services. */
export const setupWith = <R = never>(input: MultiDbConfig.Input, options: StartOptions<R> = {}) =>
  Effect.gen(function* () {
    const { exit, db } = yield* start(input, options)
    const client = yield* exit
    return { client, db }
  })

/** Forks `effect`, lets `millis` of TestClock time pass, and succeeds with its exit; dies if it is still running. */
export const runFor = <A, E>(effect: Effect.Effect<A, E>, millis: number) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.fork(effect)
    yield* TestClock.adjust(millis)
    const exit = fiber.unsafePoll()
    if (exit === null) {
      yield* Fiber.interrupt(fiber)
      return yield* Effect.dieMessage(`still running after ${millis} ms of TestClock time`)
    }
    return exit
  })

/** The events of one tag, typed. */
export const eventsTagged = <T extends MultiDbEvent["_tag"]>(events: ReadonlyArray<MultiDbEvent>, tag: T) =>
  events.filter(Events.$is(tag)) as Array<Extract<MultiDbEvent, { readonly _tag: T }>>

/** Every switch of the active database as "old->new:reason". */
export const switches = (events: ReadonlyArray<MultiDbEvent>) =>
  eventsTagged(events, "ActiveDatabaseChanged").map((e) => `${e.oldDatabase}->${e.newDatabase}:${e.reason}`)

/** Every circuit change of one database as "from->to". */
export const circuitChanges = (events: ReadonlyArray<MultiDbEvent>, database: string) =>
  eventsTagged(events, "CircuitStateChanged")
    .filter((e) => e.database === database)
    .map((e) => `${e.from}->${e.to}`)

/** The circuit state of one database. */
export const circuitOf = (client: MultiDbClient.MultiDbClient, id: string) =>
  Effect.map(client.databases, (list) => list.find((d) => d.id === id)?.circuit)
