import { describe, expect, it } from "@effect/vitest"
import { RedisServer } from "@effect-redis/testkit"
import { Effect, Fiber, Ref } from "effect"
import * as MultiDbClient from "../src/MultiDbClient.js"
import { layer as nodeRedisLayer } from "../src/RedisConnection.js"
import { activeId, waitFor } from "./integration.helpers.js"

/** redis-py's reference tuning mapped to our options (see issue 11), with a 1 s command timeout. */
const tuned = (east: string, west: string): Parameters<typeof MultiDbClient.fromInput>[0] => ({
  databases: [
    { id: "east", url: east, weight: 1, gracePeriod: "2 seconds" },
    { id: "west", url: west, weight: 0.5, gracePeriod: "2 seconds" }
  ],
  commandTimeout: "1 second",
  healthCheckInterval: "1 second",
  healthCheckProbes: 1,
  healthCheckProbesDelay: "100 millis",
  healthCheckTimeout: "1 second",
  autoFallbackInterval: "5 seconds",
  minNumFailures: 5,
  failuresDetectionWindow: "1 second",
  commandRetry: { base: "100 millis", cap: "1 second", retries: 3 },
  failoverAttempts: 10,
  failoverDelay: "1 second"
})

describe("a caller's retry loop cannot starve recovery", () => {
  it.scopedLive(
    "both databases frozen for 3 s under 4 fibers retrying every failure at once: served again soon after the resume",
    () =>
      Effect.gen(function* () {
        const east = yield* RedisServer.make()
        const west = yield* RedisServer.make()
        const redis = yield* MultiDbClient.fromInput(tuned(east.url, west.url)).pipe(Effect.provide(nodeRedisLayer))
        yield* Effect.addFinalizer(() => Effect.zipRight(east.resume, west.resume))
        const ok = yield* Ref.make(0)
        const failures = yield* Ref.make(0)
        const lastOk = yield* Ref.make(0)
        const worker = (i: number) =>
          redis.commands.set(`k:${i}`, "v").pipe(
            Effect.zipRight(Ref.update(ok, (n) => n + 1)),
            Effect.zipRight(Effect.sync(() => performance.now())),
            Effect.flatMap((at) => Ref.set(lastOk, at)),
            Effect.catchAll(() => Ref.update(failures, (n) => n + 1)),
            Effect.forever
          )
        const load = yield* Effect.forkScoped(
          Effect.forEach([0, 1, 2, 3], worker, { concurrency: "unbounded", discard: true })
        )
        yield* waitFor(
          "some traffic",
          Effect.map(Ref.get(ok), (n) => n > 100)
        )
        yield* east.stop
        yield* west.stop
        yield* waitFor(
          "no database active",
          Effect.map(activeId(redis), (id) => id === undefined),
          "10 seconds"
        )
        yield* Effect.sleep("3 seconds")
        const failedWhileFrozen = yield* Ref.get(failures)
        yield* east.resume
        yield* west.resume
        const resumedAt = performance.now()
        yield* waitFor(
          "a write served after the resume",
          Effect.map(Ref.get(lastOk), (at) => at > resumedAt),
          "10 seconds"
        )
        const recovery = ((yield* Ref.get(lastOk)) - resumedAt) / 1000
        const stopAsked = performance.now()
        yield* Fiber.interrupt(load)
        const stopped = (performance.now() - stopAsked) / 1000
        console.log(
          `frozen: ${failedWhileFrozen} failures reached the callers; first success ${recovery.toFixed(3)} s after the resume; stopped in ${stopped.toFixed(3)} s`
        )
        // A failure costs at least a timer: the loop cannot spin (millions of failures without a pause before).
        expect(failedWhileFrozen).toBeLessThan(200)
        // Grace period left (at most 2 s) plus one health-check round (1 s).
        expect(recovery).toBeLessThan(3)
        expect(stopped).toBeLessThan(0.5)
      }),
    60_000
  )
})
