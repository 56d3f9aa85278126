import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as Args from "../src/Args.js"
import * as Report from "../src/Report.js"

const healthy: Report.Figures = {
  seconds: 60,
  started: 1000,
  resolved: 1000,
  hung: 0,
  succeeded: 990,
  failures: { RedisConnectionError: 10 },
  defects: 0,
  defectSamples: [],
  unhandled: 0,
  unhandledSamples: [],
  acknowledgedWrites: 400,
  missingWrites: 0,
  uncheckedWrites: 0,
  mayHaveExecuted: 10,
  latency: { p50: 1, p99: 20, max: 900 },
  rss: [
    { at: 0, rss: 100 * 1024 * 1024 },
    { at: 30, rss: 110 * 1024 * 1024 },
    { at: 60, rss: 112 * 1024 * 1024 }
  ],
  faults: { kill: 2 },
  switches: 4,
  preferred: "east",
  finalActive: "east"
}

describe("the soak's invariants", () => {
  it("hold for a run with typed failures only, nothing lost and traffic back on the preferred database", () => {
    expect(Report.brokenInvariants(healthy)).toEqual([])
    expect(Report.format(healthy)).toContain("invariants: all hold")
  })

  const cases: ReadonlyArray<[string, Partial<Report.Figures>, string]> = [
    ["a hung operation", { hung: 1, resolved: 999 }, "1 operation(s) hung"],
    [
      "an operation neither resolved nor hung",
      { resolved: 999 },
      "1 operation(s) neither resolved nor counted as hung"
    ],
    [
      "an acknowledged write missing everywhere",
      { missingWrites: 2 },
      "2 acknowledged write(s) missing from every database"
    ],
    ["writes that could not be checked", { uncheckedWrites: 3 }, "3 acknowledged write(s) could not be checked"],
    ["a defect", { defects: 1 }, "1 defect(s)"],
    ["an unhandled rejection", { unhandled: 1 }, "1 unhandled rejection(s) or exception(s)"],
    [
      "traffic on another database",
      { finalActive: "west" },
      "traffic ended on west, not on the preferred database east"
    ],
    [
      "no active database",
      { finalActive: undefined },
      "traffic ended on no database, not on the preferred database east"
    ],
    ["no successful operation", { succeeded: 0 }, "no operation succeeded"],
    ["no acknowledged write", { acknowledgedWrites: 0 }, "no write was acknowledged"]
  ]
  for (const [name, change, expected] of cases) {
    it(`are broken by ${name}`, () => {
      const figures = { ...healthy, ...change }
      expect(Report.brokenInvariants(figures)).toEqual([expected])
      expect(Report.format(figures)).toContain(`invariants BROKEN:\n  - ${expected}`)
    })
  }
})

describe("the soak's figures", () => {
  it("quantiles use the nearest rank", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i)
    expect(Report.quantile(values, 0.5)).toBe(50)
    expect(Report.quantile(values, 0.99)).toBe(99)
    expect(Report.quantile([], 0.5)).toBe(0)
  })

  it("the RSS slope is taken over the second half, in MB per minute", () => {
    const rss = Array.from({ length: 10 }, (_, i) => ({ at: i * 60, rss: (i < 5 ? 100 + i * 50 : 400 + i) * 1048576 }))
    const trend = Report.rssTrend(rss)
    expect(trend.slopeMbPerMinute).toBeCloseTo(1, 6)
    expect(trend.firstMb).toBe(100)
    expect(trend.peakMb).toBe(409)
  })
})

describe("the soak's command line", () => {
  it("defaults to 3 minutes and 8 workers", () => {
    expect(Args.parse([])).toEqual(Either.right({ help: false, minutes: 3, workers: 8 }))
  })

  it("takes --minutes 1 and --minutes=0.5", () => {
    expect(Args.parse(["--minutes", "1"])).toEqual(Either.right({ help: false, minutes: 1, workers: 8 }))
    expect(Args.parse(["--minutes=0.5"])).toEqual(Either.right({ help: false, minutes: 0.5, workers: 8 }))
  })

  it("refuses a missing, negative, huge or unknown value", () => {
    expect(Either.isLeft(Args.parse(["--minutes"]))).toBe(true)
    expect(Either.isLeft(Args.parse(["--minutes", "-1"]))).toBe(true)
    expect(Either.isLeft(Args.parse(["--minutes", "1000"]))).toBe(true)
    expect(Either.isLeft(Args.parse(["--seconds", "1"]))).toBe(true)
  })
})
