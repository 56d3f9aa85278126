/**
 * One client of the overhead benchmark in a process of its own, as an application would run it: no other client's
 * code shares its JIT, its heap or its timers. Forked by `Overhead` with an IPC channel; it connects, says `ready`,
 * then answers each request (`begin`, `slice`, `finish`: `ClientRunner`) when it is done, with the figures of the run
 * on `finish`, until `close` (or until its parent is gone).
 *
 * Usage (by `Overhead` only): OverheadWorker.js <client> <east url> <west url> <slice timeout ms>
 */
import { Effect, Queue } from "effect"
import { type ClientKind, clientKinds, local } from "./OverheadClient.js"
import type { Reply, Request } from "./OverheadProtocol.js"

const [client, east, west, timeout] = process.argv.slice(2)

const send = (reply: Reply) => process.send?.(reply)

const program = Effect.gen(function* () {
  if (!clientKinds.includes(client as ClientKind) || east === undefined || west === undefined) {
    return yield* Effect.dieMessage(
      `usage: OverheadWorker <${clientKinds.join("|")}> <east url> <west url> <timeout ms>`
    )
  }
  const runner = yield* local(client as ClientKind, { east, west }, Number(timeout ?? 120_000))
  const requests = yield* Queue.unbounded<Request>()
  const onMessage = (message: Request) => requests.unsafeOffer(message)
  process.on("message", onMessage)
  yield* Effect.addFinalizer(() => Effect.sync(() => process.off("message", onMessage)))
  send({ type: "ready" })
  for (;;) {
    const request = yield* Queue.take(requests)
    switch (request.type) {
      case "close":
        return
      case "begin":
        yield* runner.begin(request)
        send({ type: "done" })
        break
      case "slice":
        yield* runner.slice(request.operations)
        send({ type: "done" })
        break
      case "finish":
        send({ type: "result", run: yield* runner.finish })
        break
    }
  }
})

// the parent is gone: nobody will read a result or send `close`
process.on("disconnect", () => process.exit(1))

Effect.runPromise(Effect.scoped(program)).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`overhead worker (${client}) failed: ${String(error)}\n`)
    process.exitCode = 1
    if (process.send === undefined) return process.exit(1)
    process.send({ type: "error", message: String(error) } satisfies Reply, () => process.exit(1))
  }
)
