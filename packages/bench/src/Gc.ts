/**
 * A full garbage collection on demand: `global.gc` when node runs with `--expose-gc` (as `npm run bench` does),
 * otherwise the same function obtained through V8 flags at run time.
 */
import * as v8 from "node:v8"
import * as vm from "node:vm"

const obtain = (): (() => void) => {
  const exposed = (globalThis as { gc?: () => void }).gc
  if (typeof exposed === "function") return exposed
  v8.setFlagsFromString("--expose-gc")
  return vm.runInNewContext("gc") as () => void
}

let cached: (() => void) | undefined

/** Runs a full, synchronous garbage collection (twice, so that finalizers' garbage goes too). */
export const fullGc = (): void => {
  cached ??= obtain()
  cached()
  cached()
}

/** Heap in use after a full collection, in bytes. */
export const heapUsedAfterGc = (): number => {
  fullGc()
  return process.memoryUsage().heapUsed
}
