import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, PubSub, Queue } from "effect"
import * as MultiDbEvents from "../src/MultiDbEvents.js"
import { activeId, advance, recordEvents, setup, setupWith, threeDatabases } from "./helpers.js"

describe("MultiDbClient (in-memory, TestClock)", () => {
  it.scoped("routes commands to the highest-weighted healthy database", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setup(threeDatabases())
      yield* client.commands.set("k", "v")
      expect(db("east").data.get("k")).toBe("v")
      expect(db("west").data.get("k")).toBeUndefined()
      expect(yield* client.commands.get("k")).toBe("v")
      expect(yield* activeId(client)).toBe("east")
    })
  )

  it.scoped("fails over through three weights and back", () =>
    Effect.gen(function* () {
      const { client, db } = yield* setup(threeDatabases({ autoFallbackInterval: "30 seconds" }))
      const { events } = yield* recordEvents(client)
      yield* db("east").setBehaviour("down")
      yield* advance(6000)
      expect(yield* activeId(client)).toBe("west")
      yield* db("west").setBehaviour("down")
      yield* advance(6000)
      expect(yield* activeId(client)).toBe("south")
      yield* db("east").setBehaviour("up")
      yield* db("west").setBehaviour("up")
      yield* advance(120_000, 500)
      expect(yield* activeId(client)).toBe("east")
      const switches = events
        .filter((e) => e._tag === "ActiveDatabaseChanged")
        .map((e) => (e._tag === "ActiveDatabaseChanged" ? `${e.oldDatabase}->${e.newDatabase}:${e.reason}` : ""))
      expect(switches[0]).toBe("east->west:automatic")
      expect(switches[1]).toBe("west->south:automatic")
      expect(switches.at(-1)).toMatch(/->east:fallback$/)
    })
  )
})

describe("start-up event", () => {
  it.scoped("a listener attached before start learns the first active database", () =>
    Effect.gen(function* () {
      const bus = yield* MultiDbEvents.make()
      const subscription = yield* PubSub.subscribe(bus)
      yield* setupWith(threeDatabases({ initialHealthCheckPolicy: "one" }), {
        before: (db) => db("east").setBehaviour("down"),
        context: Context.make(MultiDbEvents.MultiDbEvents, bus)
      })
      const events = yield* Queue.takeAll(subscription)
      const first = Chunk.toReadonlyArray(events).find((e) => e._tag === "ActiveDatabaseChanged")
      expect(first).toMatchObject({ oldDatabase: undefined, newDatabase: "west", reason: "automatic" })
    })
  )
})
