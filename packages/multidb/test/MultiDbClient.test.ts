import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { activeId, advance, recordEvents, setup, threeDatabases } from "./helpers.js"

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
