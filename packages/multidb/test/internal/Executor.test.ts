import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, TestClock } from "effect"
import { ErrorReply } from "redis"
import * as ErrorClassifier from "../../src/ErrorClassifier.js"
import * as InMemoryConnection from "../../src/InMemoryConnection.js"
import * as Executor from "../../src/internal/executor.js"
import { supervised } from "./engine.helpers.js"

const setup = (overrides: Parameters<typeof supervised>[0] = {}) =>
  Effect.gen(function* () {
    const base = yield* supervised(overrides)
    yield* Effect.forkScoped(base.supervisor.run)
    const executor = Executor.make(base.config, base.supervisor, { classify: ErrorClassifier.classify })
    return { ...base, executor }
  })

describe("internal/executor", () => {
  it.scoped("a success is recorded on the database that served it", () =>
    Effect.gen(function* () {
      const { executor, east } = yield* setup()
      expect(yield* executor.execute((client) => client.set("k", "v"), { command: "SET" })).toBe("OK")
      expect((yield* east.detector.snapshot).successes).toBe(1)
    })
  )

  it.scoped("an error reply is a RedisCommandError and a success for the database", () =>
    Effect.gen(function* () {
      const { executor, east, registry } = yield* setup()
      yield* registry.database("east").failCommandsWith(new ErrorReply("WRONGTYPE nope"))
      const error = yield* Effect.flip(executor.execute((client) => client.get("k"), { command: "GET" }))
      expect(error).toMatchObject({ _tag: "RedisCommandError", database: "east", reply: "WRONGTYPE nope" })
      expect(yield* east.detector.snapshot).toEqual({ successes: 1, failures: 0 })
    })
  )

  it.scoped("a write that may have run is not retried; one never sent is retried after the backoff", () =>
    Effect.gen(function* () {
      const { executor, registry } = yield* setup({ commandRetry: { base: "1 second", cap: "1 second", retries: 1 } })
      let calls = 0
      yield* registry.database("east").failCommandsWith(new InMemoryConnection.InMemoryTimeout({ database: "east" }))
      const timedOut = yield* Effect.flip(
        executor.execute(() => {
          calls++
          return Promise.reject(new InMemoryConnection.InMemoryTimeout({ database: "east" }))
        })
      )
      expect(timedOut).toMatchObject({ _tag: "RedisConnectionError", mayHaveExecuted: true })
      expect(calls).toBe(1)
      const refused = yield* Effect.fork(
        executor.execute(() => {
          calls++
          return Promise.reject(new InMemoryConnection.InMemoryUnavailable({ database: "east" }))
        })
      )
      yield* TestClock.adjust("500 millis")
      expect(calls).toBe(2)
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.await(refused)).toMatchObject({ _tag: "Failure" })
      expect(calls).toBe(3)
    })
  )

  it.scoped("a retry after the active database changed runs on the new one at once, without the backoff", () =>
    Effect.gen(function* () {
      const { executor, east, registry } = yield* setup({ commandRetry: { base: "10 seconds", retries: 1 } })
      registry.database("west").data.set("k", "from-west")
      const databases: Array<string> = []
      const read = yield* Effect.fork(
        executor.execute(
          (client) =>
            client.get("k").then((value) => {
              if (value === null) throw new InMemoryConnection.InMemoryUnavailable({ database: "east" })
              return value
            }),
          { command: "GET", readOnly: true }
        )
      )
      yield* Effect.zipRight(
        east.circuit.open,
        Effect.sync(() => databases.push("opened"))
      )
      yield* TestClock.adjust(0)
      expect(yield* Fiber.await(read)).toEqual(Exit.succeed("from-west"))
    })
  )

  it.scoped("with no eligible database a call waits up to availabilityTimeout, then fails TemporarilyUnavailable", () =>
    Effect.gen(function* () {
      const { executor, east, west, registry } = yield* setup({ availabilityTimeout: "2 seconds" })
      for (const id of ["east", "west"]) yield* registry.database(id).setBehaviour("down")
      yield* east.circuit.open
      yield* west.circuit.open
      yield* TestClock.adjust(0)
      const call = yield* Effect.fork(executor.execute((client) => client.get("k")))
      yield* TestClock.adjust("1999 millis")
      expect(call.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.await(call)).toMatchObject({ _tag: "Failure" })
      expect(yield* Effect.flip(Fiber.join(call))).toMatchObject({ _tag: "TemporarilyUnavailable" })
    })
  )

  it.scoped("a missed deadline asks the supervisor to probe the database", () =>
    Effect.gen(function* () {
      const { executor, east, registry } = yield* setup()
      yield* registry.database("east").setBehaviour("hanging")
      const call = yield* Effect.fork(executor.execute((client) => client.set("k", "v")))
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("100 millis")
      expect(yield* east.circuit.state).toBe("open")
      yield* Fiber.interrupt(call)
    })
  )
})
