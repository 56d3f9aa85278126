/**
 * A full garbage collection on demand: `global.gc` when node runs with `--expose-gc` (as `npm run bench` does),
 * otherwise the same function obtained through V8 flags at run time.
 */
import * as v8 from "node:v8"
import * as vm from "node:vm"

type Collect = (options?: { readonly type: "minor" }) => void

const obtain = (): Collect => {
  const exposed = (globalThis as { gc?: Collect }).gc
  if (typeof exposed === "function") return exposed
  v8.setFlagsFromString("--expose-gc")
  return vm.runInNewContext("gc") as Collect
}

let cached: Collect | undefined

/** Runs a full, synchronous garbage collection (twice, so that finalizers' garbage goes too). */
export const fullGc = (): void => {
  cached ??= obtain()
  cached()
  cached()
}

/** Collects the young generation only: what recent work left behind, without touching compiled code. */
export const minorGc = (): void => {
  cached ??= obtain()
  cached({ type: "minor" })
}

/** Heap in use after a full collection, in bytes. */
export const heapUsedAfterGc = (): number => {
  fullGc()
  return process.memoryUsage().heapUsed
}
