/**
 * Testing an application's failover handling without servers or waiting: the client runs over in-memory databases
 * (`InMemoryConnection`) and virtual time (`TestClock`). The same shape works in an `@effect/vitest` `it.effect`.
 *
 *   npx tsx --conditions=source examples/testing-failover.ts
 */
import { InMemoryConnection, MultiDbClient, MultiDbError } from "@effect-redis/multidb"
import { Effect, Fiber, Layer, Option, Schedule, TestClock, TestContext } from "effect"

/** The application code under test: saves a value, waiting out a moment with no database available. */
const saveGreeting = (value: string) =>
  Effect.gen(function* () {
    const redis = yield* MultiDbClient.MultiDbClient
    yield* redis.commands.set("greeting", value).pipe(
      Effect.retry({
        while: (error) => error instanceof MultiDbError.TemporarilyUnavailable,
        schedule: Schedule.spaced("1 second")
      })
    )
  })

/** Lets virtual time pass in small steps, so every sleeping fiber (health checks, retries) gets to run. */
const advance = (millis: number) =>
  Effect.gen(function* () {
    for (let t = 0; t < millis; t += 50) {
      yield* TestClock.adjust("50 millis")
      yield* Effect.yieldNow()
    }
  })

const check = (condition: boolean, what: string) =>
  condition ? Effect.log(`ok: ${what}`) : Effect.die(new Error(`failed: ${what}`))

const test = Effect.gen(function* () {
  const memory = yield* InMemoryConnection.InMemory
  const redis = yield* MultiDbClient.MultiDbClient
  const east = memory.database("east")
  const west = memory.database("west")

  yield* saveGreeting("hello")
  yield* check(east.data.get("greeting") === "hello", "written to east, the preferred database")

  yield* east.setBehaviour("down") // connection refused from now on
  const save = yield* Effect.fork(saveGreeting("hello again"))
  yield* advance(2_000)
  yield* Fiber.join(save)
  yield* check(west.data.get("greeting") === "hello again", "the write went to west once east was down")
  const active = yield* redis.activeDatabase
  yield* check(Option.isSome(active) && active.value.id === "west", "west is the active database")

  yield* east.setBehaviour("up")
  yield* advance(10_000) // the grace period, a health check and the fallback tick
  const back = yield* redis.activeDatabase
  yield* check(Option.isSome(back) && back.value.id === "east", "traffic failed back to east")
})

const TestRedis = MultiDbClient.layer({
  databases: [
    { id: "east", url: "redis://east:6379", weight: 1, gracePeriod: "2 seconds" },
    { id: "west", url: "redis://west:6379", weight: 0.5, gracePeriod: "2 seconds" }
  ],
  // one probe per check: the initial health check does not sleep, so the layer builds under the TestClock
  healthCheckProbes: 1,
  healthCheckInterval: "500 millis",
  autoFallbackInterval: "1 second",
  commandTimeout: InMemoryConnection.shortTimeout
}).pipe(Layer.provideMerge(InMemoryConnection.layer))

Effect.runPromise(test.pipe(Effect.provide(TestRedis), Effect.provide(TestContext.TestContext))).catch(
  (error: unknown) => {
    console.error(error)
    process.exitCode = 1
  }
)
