import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Pending, PendingCalls } from "../../src/internal/nodeRedis.js"

/** The calls of one connection awaiting their replies, in the order they started (the order of their deadlines). */

const target = { client: {}, firstAttempt: Promise.resolve(), replaced: false, precise: false, overdue: () => {} }
const entry = (deadline: number) =>
  new Pending(deadline, () => {}, target as never, { onSuccess: Effect.succeed, onFailure: Effect.fail })

const settled = (calls: PendingCalls, until?: number) => {
  const out: Array<number> = []
  calls.settleUntil((e) => out.push(e.deadline), until)
  return out
}

describe("PendingCalls", () => {
  it("settles the calls whose deadline passed, oldest first, and keeps the rest in order", () => {
    const calls = new PendingCalls()
    const entries = [10, 20, 30, 40, 50].map(entry)
    for (const e of entries) calls.add(e)
    expect(calls.first?.deadline).toBe(10)
    expect(settled(calls, 25)).toEqual([10, 20])
    expect(calls.size).toBe(3)
    expect(calls.first?.deadline).toBe(30)
    expect(entries[0]!.settled).toBe(true)
    expect(entries[2]!.settled).toBe(false)
    expect(settled(calls)).toEqual([30, 40, 50])
    expect(calls.size).toBe(0)
    expect(calls.first).toBeUndefined()
  })

  it("replies out of order (first, middle, last) leave the list whole", () => {
    const calls = new PendingCalls()
    const [a, b, c, d, e] = [1, 2, 3, 4, 5].map(entry)
    for (const x of [a!, b!, c!, d!, e!]) calls.add(x)
    calls.delete(a!)
    expect(calls.first).toBe(b)
    calls.delete(c!)
    calls.delete(e!)
    expect(calls.size).toBe(2)
    // a call added after removals still goes last
    const f = entry(6)
    calls.add(f)
    expect(settled(calls)).toEqual([2, 4, 6])
    calls.add(entry(7))
    expect(calls.first?.deadline).toBe(7)
    expect(settled(calls, 6)).toEqual([])
    expect(settled(calls, 7)).toEqual([7])
  })
})
