/**
 * `npm run demo`: the entry point. Parses the command line, runs the demo as one Effect fiber, and on Ctrl-C (SIGINT)
 * SIGTERM or SIGHUP interrupts that fiber, so every scope closes: the workload stops, the client closes its connections and
 * the local servers are killed, before the process exits.
 *
 * @since 0.1.0
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Cause, Duration, Effect, Exit, Fiber } from "effect"
import * as Args from "./Args.js"
import * as Demo from "./Demo.js"
import * as Display from "./Display.js"
import * as Settings from "./Settings.js"

const parsed = Args.parse(process.argv.slice(2))
if (parsed._tag === "Left") {
  process.stderr.write(`demo: ${parsed.left.message}\n`)
  process.exit(2)
}
const args = parsed.right
if (args._tag === "Help") {
  process.stdout.write(Args.usage)
  process.exit(0)
}

/** Paths on the command line are relative to where `npm run demo` was typed, not to this package. */
const userPath = (file: string) => path.resolve(process.env["INIT_CWD"] ?? process.cwd(), file)
const defaultReportPath = fileURLToPath(new URL("../../../failover-report.html", import.meta.url))

const display = Display.make()
const program =
  args._tag === "Scripted"
    ? Demo.runScripted({
        scenario: args.scenario,
        reportPath: args.reportPath === undefined ? defaultReportPath : userPath(args.reportPath),
        display
      })
    : Demo.run({
        title: "effect-redis-multidb demo (your databases, no fault injection)",
        databases: args.databases.map((d) => ({ id: d.id, weight: d.weight, url: d.url, directUrl: d.url })),
        settings: Settings.forUser(args.overrides),
        duration: args.duration,
        reportPath:
          args.report === undefined ? undefined : args.report === true ? defaultReportPath : userPath(args.report),
        display
      })

const started = performance.now()
const fiber = Effect.runFork(Effect.scoped(program))

let stopping = false
const stop = (signal: NodeJS.Signals) => {
  if (stopping) {
    process.stdout.write(`\n${signal}: still stopping (closing the client and the servers)…\n`)
    return
  }
  stopping = true
  Effect.runFork(
    display.end.pipe(
      Effect.zipRight(
        display.line(`\n${signal}: stopping: closing the client${args._tag === "Scripted" ? " and the servers" : ""}…`)
      ),
      Effect.zipRight(Fiber.interrupt(fiber))
    )
  )
}
process.on("SIGINT", stop)
process.on("SIGTERM", stop)
// the terminal went away: stop the same way (the output has nowhere to go, so write errors are ignored)
process.on("SIGHUP", stop)
process.stdout.on("error", () => {})
process.stderr.on("error", () => {})

const exit = await Effect.runPromise(Fiber.await(fiber))
const took = Duration.format(Duration.millis(Math.round(performance.now() - started)))
const servers = args._tag === "Scripted" ? "; every server started by the demo is stopped" : ""
if (Exit.isSuccess(exit)) {
  process.stdout.write(`done in ${took}${servers}.\n`)
  process.exit(0)
} else if (stopping && Cause.isInterruptedOnly(exit.cause)) {
  process.stdout.write(`stopped after ${took}${servers}.\n`)
  process.exit(130)
} else {
  // A failure often interrupts sibling fibers too: show the failures and defects, not those interruptions.
  const reasons = [...Cause.failures(exit.cause), ...Cause.defects(exit.cause)]
  const text =
    reasons.length > 0
      ? reasons.map((reason) => Cause.pretty(Cause.fail(reason), { renderErrorCause: true })).join("\n")
      : Cause.pretty(exit.cause)
  process.stderr.write(`demo failed after ${took}:\n${text}\n`)
  process.exit(1)
}
