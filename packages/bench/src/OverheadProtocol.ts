/**
 * The messages between `Overhead` and an `OverheadWorker` process.
 */
import type { Run, RunRequest } from "./OverheadClient.js"

/** Parent to worker: begin a run, run a slice of it, finish it (`ClientRunner`), or end. */
export type Request =
  | ({ readonly type: "begin" } & RunRequest)
  | { readonly type: "slice"; readonly operations: number }
  | { readonly type: "finish" }
  | { readonly type: "close" }

/** Worker to parent: connected, a request done (with the figures of a finished run), or why it failed. */
export type Reply =
  | { readonly type: "ready" }
  | { readonly type: "done" }
  | { readonly type: "result"; readonly run: Run }
  | { readonly type: "error"; readonly message: string }
