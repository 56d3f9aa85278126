import { describe, expect, it } from "@effect/vitest"
import { RedisServer } from "@effect-redis/testkit"
import { Effect } from "effect"
import * as MultiDbClient from "../src/MultiDbClient.js"
import { layer as nodeRedisLayer } from "../src/RedisConnection.js"
import { waitFor } from "./integration.helpers.js"

/** Open sockets and timers of this process, by kind. */
const resources = () => {
  const counts: Record<string, number> = {}
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1
  return { sockets: counts.TCPSocketWrap ?? 0, timers: counts.Timeout ?? 0 }
}

describe("resources", () => {
  it.scopedLive("closing the client's scope closes every connection and stops every timer", () =>
    Effect.gen(function* () {
      const east = yield* RedisServer.make()
      const west = yield* RedisServer.make()
      // measured inside waitFor, like the check at the end, so that waitFor's own timer counts in both
      let before = resources()
      yield* waitFor(
        "the testkit's own sockets to settle",
        Effect.sync(() => {
          before = resources()
          return before.sockets === 0
        })
      )
      let during = before
      yield* Effect.scoped(
        Effect.gen(function* () {
          const redis = yield* MultiDbClient.fromInput({
            databases: [
              { id: "east", url: east.url, weight: 1 },
              { id: "west", url: west.url, weight: 0.5 }
            ],
            healthCheckInterval: "100 millis",
            healthCheckProbesDelay: "10 millis",
            autoFallbackInterval: "100 millis"
          }).pipe(Effect.provide(nodeRedisLayer))
          yield* redis.commands.set("k", "v")
          yield* redis.transaction((tx) => tx.get("k"), { watch: ["k"] })
          yield* Effect.sleep("300 millis")
          during = resources()
        })
      )
      // two databases × (command + health connection)
      expect(during.sockets).toBeGreaterThanOrEqual(4)
      yield* waitFor(
        "sockets and timers back to what they were",
        Effect.sync(() => {
          const after = resources()
          return after.sockets <= before.sockets && after.timers <= before.timers
        }),
        "5 seconds"
      )
    })
  )
})
