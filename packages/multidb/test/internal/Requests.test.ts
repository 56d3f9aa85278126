import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Requests from "../../src/internal/requests.js"
import type { ExecuteOptions } from "../../src/MultiDbClient.js"

/** Requests over an executor that records what it is asked to run and answers "ok". */
const recorded = () => {
  const calls: Array<ExecuteOptions | undefined> = []
  const isolated: Array<ExecuteOptions | undefined> = []
  const execute = <A>(_: unknown, options?: ExecuteOptions) =>
    Effect.sync(() => {
      calls.push(options)
      return "ok" as A
    })
  const executeIsolated = <A>(_: unknown, options?: ExecuteOptions) =>
    Effect.sync(() => {
      isolated.push(options)
      return "ok" as A
    })
  return { requests: Requests.make(execute, executeIsolated), calls, isolated }
}

describe("internal/requests", () => {
  it.effect("a command method runs under its Redis name, read-only when it only reads", () =>
    Effect.gen(function* () {
      const { requests, calls } = recorded()
      yield* requests.commands.get("k")
      yield* requests.commands.hSet("h", "f", "v")
      expect(calls).toEqual([
        { command: "GET", readOnly: true },
        { command: "HSET", readOnly: false }
      ])
    })
  )

  it.effect("a pipeline is dry-run for its names: read-only only when every command reads", () =>
    Effect.gen(function* () {
      const { requests, calls } = recorded()
      yield* requests.pipeline((multi) => multi.get("a").get("b"))
      yield* requests.pipeline((multi) => multi.get("a").set("b", "1"))
      expect(calls).toEqual([
        { command: "PIPELINE(GET,GET)", readOnly: true },
        { command: "PIPELINE(GET,SET)", readOnly: false }
      ])
    })
  )

  it.effect("an empty batch and member-local commands are refused before anything is sent", () =>
    Effect.gen(function* () {
      const { requests, calls } = recorded()
      expect(yield* Effect.flip(requests.pipeline((multi) => multi as never))).toMatchObject({
        _tag: "InvalidRequest"
      })
      expect(yield* Effect.flip(requests.sendCommand(["HIMPORT.SET", "k"]))).toMatchObject({ _tag: "InvalidRequest" })
      expect(yield* Effect.flip(requests.sendCommand([]))).toMatchObject({ _tag: "InvalidRequest" })
      expect(calls).toEqual([])
    })
  )

  it.effect("a transaction with watch runs on an isolated connection, as a write", () =>
    Effect.gen(function* () {
      const { requests, isolated } = recorded()
      yield* requests.transaction((multi) => multi.set("k", "v"), { watch: ["k"] })
      expect(isolated).toEqual([{ command: "MULTI", readOnly: false }])
    })
  )
})
