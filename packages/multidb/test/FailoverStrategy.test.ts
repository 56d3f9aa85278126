import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import type { DatabaseInfo } from "../src/DatabaseInfo.js"
import * as FailoverStrategy from "../src/FailoverStrategy.js"
import type * as HealthCheck from "../src/HealthCheck.js"

let nextOrder = 0

const database = (id: string, weight: number, overrides: Partial<DatabaseInfo> = {}): DatabaseInfo => ({
  id,
  weight,
  order: nextOrder++,
  circuit: "closed",
  lastHealthCheck: Option.none(),
  active: false,
  ...overrides
})

const health = (result: HealthCheck.Result): Option.Option<HealthCheck.Result> => Option.some(result)
const lagging = health({ healthy: true, failbackAllowed: false, cause: "lag: replication lag above tolerance" })

const select = (databases: ReadonlyArray<DatabaseInfo>) =>
  Option.getOrUndefined(FailoverStrategy.weightBased.select(databases))

describe("FailoverStrategy.weightBased", () => {
  it("picks the highest-weighted closed database", () => {
    expect(select([database("a", 0.2), database("b", 0.7), database("c", 0.5)])).toBe("b")
  })

  it("skips an open highest-weighted database (redis-py: 0.7 open -> 0.5)", () => {
    expect(select([database("a", 0.2), database("b", 0.7, { circuit: "open" }), database("c", 0.5)])).toBe("c")
  })

  it("does not consider a half-open database eligible", () => {
    expect(select([database("a", 0.2), database("b", 0.7, { circuit: "half-open" }), database("c", 0.5)])).toBe("c")
  })

  it("breaks weight ties by configuration order, whatever the list order", () => {
    const first = database("first", 1, { order: 0 })
    const second = database("second", 1, { order: 1 })
    const third = database("third", 1, { order: 2 })
    expect(select([first, second, third])).toBe("first")
    expect(select([third, second, first])).toBe("first")
    expect(select([third, second])).toBe("second")
  })

  it("prefers a higher weight over an earlier configuration order", () => {
    expect(select([database("early", 0.5, { order: 0 }), database("late", 0.6, { order: 9 })])).toBe("late")
  })

  it("selects nothing when every database is open or half-open", () => {
    expect(
      FailoverStrategy.weightBased.select([
        database("a", 1, { circuit: "open" }),
        database("b", 0.5, { circuit: "half-open" })
      ])
    ).toEqual(Option.none())
  })

  it("selects nothing from an empty list", () => {
    expect(FailoverStrategy.weightBased.select([])).toEqual(Option.none())
  })

  it("selects a weight-zero database when it is the only eligible one", () => {
    expect(select([database("a", 1, { circuit: "open" }), database("zero", 0)])).toBe("zero")
  })

  it("skips a non-active database whose last health check forbade fail-back", () => {
    expect(
      select([database("preferred", 1, { lastHealthCheck: lagging }), database("current", 0.5, { active: true })])
    ).toBe("current")
  })

  it("keeps the active database eligible even when its last health check forbade fail-back", () => {
    expect(select([database("preferred", 1, { active: true, lastHealthCheck: lagging }), database("other", 0.5)])).toBe(
      "preferred"
    )
  })

  it("a database whose last health check allowed fail-back is eligible again", () => {
    expect(
      select([
        database("preferred", 1, { lastHealthCheck: health({ healthy: true, failbackAllowed: true }) }),
        database("current", 0.5, { active: true })
      ])
    ).toBe("preferred")
  })

  it("a database never health-checked is eligible", () => {
    expect(select([database("fresh", 2), database("current", 1, { active: true })])).toBe("fresh")
  })

  it("an active database with an open circuit is not eligible", () => {
    expect(select([database("current", 1, { active: true, circuit: "open" }), database("other", 0.1)])).toBe("other")
  })
})

describe("FailoverStrategy.isEligible", () => {
  it("requires a closed circuit", () => {
    expect(FailoverStrategy.isEligible(database("a", 1))).toBe(true)
    expect(FailoverStrategy.isEligible(database("a", 1, { circuit: "open" }))).toBe(false)
    expect(FailoverStrategy.isEligible(database("a", 1, { circuit: "half-open" }))).toBe(false)
    expect(FailoverStrategy.isEligible(database("a", 1, { circuit: "open", active: true }))).toBe(false)
  })

  it("requires fail-back to be allowed unless the database is active", () => {
    expect(FailoverStrategy.isEligible(database("a", 1, { lastHealthCheck: lagging }))).toBe(false)
    expect(FailoverStrategy.isEligible(database("a", 1, { lastHealthCheck: lagging, active: true }))).toBe(true)
  })
})

describe("FailoverStrategy.layer", () => {
  it.effect("provides the weight-based strategy by default", () =>
    Effect.gen(function* () {
      const strategy = yield* FailoverStrategy.FailoverStrategy.pipe(Effect.provide(FailoverStrategy.layer()))
      expect(strategy).toBe(FailoverStrategy.weightBased)
    })
  )

  it.effect("provides a custom strategy", () =>
    Effect.gen(function* () {
      const lowest: FailoverStrategy.Strategy = {
        select: (databases) => Option.fromNullable([...databases].sort((a, b) => a.weight - b.weight)[0]?.id)
      }
      const strategy = yield* FailoverStrategy.FailoverStrategy.pipe(Effect.provide(FailoverStrategy.layer(lowest)))
      expect(Option.getOrUndefined(strategy.select([database("a", 1), database("b", 0.1)]))).toBe("b")
    })
  )
})
