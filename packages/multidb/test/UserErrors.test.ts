import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Metric, Option } from "effect"
import * as ErrorClassifier from "../src/ErrorClassifier.js"
import * as Metrics from "../src/MultiDbMetrics.js"
import { setup, threeDatabases } from "./helpers.js"

const counterValue = (counter: Metric.Metric.Counter<number>) => Effect.map(Metric.value(counter), (s) => s.count)

describe("errors thrown by user code inside execute are not Redis outcomes (issue 13)", () => {
  it("the default classifier calls a TypeError a UserError, and keeps replies and system errors as before", () => {
    expect(ErrorClassifier.classify(new TypeError("x is not a function"))._tag).toBe("UserError")
    expect(ErrorClassifier.classify(new RangeError("bad argument"))._tag).toBe("UserError")
    expect(ErrorClassifier.classify(Object.assign(new Error("x"), { code: "ERR_TLS_CERT_ALTNAME_INVALID" }))._tag).toBe(
      "Unavailable"
    )
    expect(ErrorClassifier.classify(Object.assign(new Error("WRONGTYPE"), { name: "ErrorReply" }))._tag).toBe("Reply")
  })

  it.scoped("a TypeError thrown inside execute reaches the caller as a defect and counts neither way", () =>
    Effect.gen(function* () {
      const { client } = yield* setup(
        threeDatabases({
          databases: [
            { id: "user-east", url: "redis://ue:6379", weight: 1 },
            { id: "user-west", url: "redis://uw:6379", weight: 0.5 }
          ],
          minNumFailures: 1,
          failureRateThreshold: 0.01
        })
      )
      const outcome = (name: string) =>
        Metrics.commandAttempts.pipe(
          Metric.tagged("multidb.database", "user-east"),
          Metric.tagged("multidb.outcome", name)
        ) as Metric.Metric.Counter<number>
      const before = yield* Effect.all(
        [outcome("success"), outcome("reply_error"), outcome("failure")].map(counterValue)
      )
      const bug = new TypeError("cannot read properties of undefined")
      const exit = yield* Effect.exit(
        client.execute(() => {
          throw bug
        })
      )
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      if (Exit.isFailure(exit)) expect(Cause.dieOption(exit.cause)).toEqual(Option.some(bug))
      const rejected = yield* Effect.exit(client.execute(() => Promise.reject(new RangeError("no such argument"))))
      expect(Exit.isFailure(rejected) && Cause.isDie(rejected.cause)).toBe(true)
      const after = yield* Effect.all(
        [outcome("success"), outcome("reply_error"), outcome("failure")].map(counterValue)
      )
      expect(after).toEqual(before)
      const [east] = yield* client.databases
      expect(east?.circuit).toBe("closed")
      expect(Option.map(yield* client.activeDatabase, (d) => d.id)).toEqual(Option.some("user-east"))
    })
  )
})
