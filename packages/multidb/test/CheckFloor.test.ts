import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as MultiDbConfig from "../src/MultiDbConfig.js"
import { advance, recordEvents, setup, threeDatabases } from "./helpers.js"

describe("a floor on how often one database is checked (issue 13)", () => {
  it.scoped(
    "gracePeriod 0 and healthCheckProbesDelay 0 against a database that stays down: at most one check per 100 ms",
    () =>
      Effect.gen(function* () {
        expect(Duration.toMillis(MultiDbConfig.minimumCheckSpacing)).toBe(100)
        const { client, db } = yield* setup(
          threeDatabases({
            databases: [
              { id: "floor-east", url: "redis://fe:6379", weight: 1, gracePeriod: 0 },
              { id: "floor-west", url: "redis://fw:6379", weight: 0.5 }
            ],
            healthCheckProbesDelay: 0,
            healthCheckInterval: "10 seconds"
          })
        )
        const { events } = yield* recordEvents(client)
        yield* db("floor-east").setBehaviour("down")
        yield* advance(2000, 10)
        const checks = events.filter((e) => e._tag === "HealthCheckCompleted" && e.database === "floor-east")
        // 2 s at one check per 100 ms at most: 20, plus the one that may start at once
        expect(checks.length).toBeGreaterThan(2)
        expect(checks.length).toBeLessThanOrEqual(21)
      })
  )
})
