import { describe, expect, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Option, PubSub, Queue, TestClock } from "effect"
import type { ManagementFailed, UnhealthyDatabase } from "../../src/MultiDbError.js"
import { supervised } from "./engine.helpers.js"

describe("internal/supervisor", () => {
  it.scoped("an opened circuit of the active database moves traffic to the strategy's pick", () =>
    Effect.gen(function* () {
      const { supervisor, east, west, events } = yield* supervised()
      const published = yield* PubSub.subscribe(events)
      yield* Effect.forkScoped(supervisor.run)
      yield* east.circuit.open
      yield* TestClock.adjust(0)
      expect(supervisor.current()).toBe(west)
      const changes = Array.from(yield* Queue.takeAll(published)).filter((e) => e._tag === "ActiveDatabaseChanged")
      expect(changes).toMatchObject([{ oldDatabase: "east", newDatabase: "west", reason: "automatic" }])
    })
  )

  it.scoped("calls in flight on a database traffic left because it failed are settled at once", () =>
    Effect.gen(function* () {
      const { supervisor, east, registry } = yield* supervised()
      yield* Effect.forkScoped(supervisor.run)
      yield* registry.database("east").setBehaviour("hanging")
      const call = yield* Effect.fork(east.connection.run((client) => client.get("k")))
      yield* TestClock.adjust("10 millis")
      yield* east.circuit.open
      yield* TestClock.adjust(0)
      const exit = yield* Fiber.await(call)
      expect(Exit.isFailure(exit) && String(exit.cause)).toContain("moved away")
    })
  )

  it.scoped("a manual switch away from a healthy database lets its calls finish", () =>
    Effect.gen(function* () {
      const { supervisor, east, west, registry } = yield* supervised()
      yield* Effect.forkScoped(supervisor.run)
      yield* registry.database("east").setCommandDelay("500 millis")
      const call = yield* Effect.fork(east.connection.run((client) => client.set("k", "v")))
      yield* TestClock.adjust("10 millis")
      const done = yield* Deferred.make<void, UnhealthyDatabase | ManagementFailed>()
      yield* supervisor.signals.offer({ _tag: "SetActive", database: west, done })
      yield* TestClock.adjust("490 millis")
      expect(yield* Fiber.await(call)).toEqual(Exit.succeed("OK"))
    })
  )

  it.scoped("with no eligible database, waiters wait up to their bound and wake when one comes", () =>
    Effect.gen(function* () {
      const { supervisor, east, west } = yield* supervised()
      yield* Effect.forkScoped(supervisor.run)
      yield* east.circuit.open
      yield* west.circuit.open
      yield* TestClock.adjust(0)
      expect(supervisor.current()).toBeUndefined()
      expect(yield* Effect.flip(supervisor.unavailableError)).toMatchObject({ _tag: "TemporarilyUnavailable" })
      const short = yield* Effect.fork(supervisor.awaitAvailable(Duration.millis(300)))
      const long = yield* Effect.fork(supervisor.awaitAvailable(Duration.seconds(5)))
      yield* TestClock.adjust("300 millis")
      expect(short.unsafePoll()).toEqual(Exit.succeed(false))
      expect(long.unsafePoll()).toBeNull()
      yield* west.circuit.close
      yield* TestClock.adjust(0)
      expect(long.unsafePoll()).toEqual(Exit.succeed(true))
      expect(supervisor.current()).toBe(west)
      expect(Option.isSome(yield* supervisor.active.get)).toBe(true)
    })
  )

  it.scoped("a zero bound does not wait, but still yields", () =>
    Effect.gen(function* () {
      const { supervisor } = yield* supervised()
      expect(yield* supervisor.awaitAvailable(Duration.zero)).toBe(false)
    })
  )
})
