import { Effect, Fiber, Option, Stream, TestClock } from "effect"
import * as InMemoryConnection from "../src/InMemoryConnection.js"
import * as MultiDbClient from "../src/MultiDbClient.js"
import type * as MultiDbConfig from "../src/MultiDbConfig.js"
import type { MultiDbEvent } from "../src/MultiDbEvent.js"
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
