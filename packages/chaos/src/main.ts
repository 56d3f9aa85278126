/**
 * `npm run chaos`: runs the soak, prints its report, and exits non-zero when an invariant is broken. Ctrl-C interrupts
 * the run, so every scope closes (client, proxies, servers) before the process exits.
 *
 * @since 0.2.0
 */
import { Cause, Duration, Effect, Either, Exit, Fiber } from "effect"
import * as Args from "./Args.js"
import * as Report from "./Report.js"
import * as Soak from "./Soak.js"

const parsed = Args.parse(process.argv.slice(2))
if (Either.isLeft(parsed)) {
  process.stderr.write(`chaos: ${parsed.left}\n\n${Args.usage}`)
  process.exit(2)
}
const args = parsed.right
if (args.help) {
  process.stdout.write(Args.usage)
  process.exit(0)
}

const line = (text: string) => Effect.sync(() => process.stdout.write(`${text}\n`))

const program = Effect.gen(function* () {
  yield* line(`chaos soak: ${args.minutes} minute(s), ${args.workers} workers`)
  const figures = yield* Soak.run({
    duration: Duration.millis(args.minutes * 60_000),
    workers: args.workers,
    hangBound: Duration.seconds(20),
    progress: line
  })
  yield* line(Report.format(figures))
  return Report.brokenInvariants(figures).length === 0
})

const fiber = Effect.runFork(program)
const stop = () => Effect.runFork(Fiber.interrupt(fiber))
process.once("SIGINT", stop)
process.once("SIGTERM", stop)
fiber.addObserver((exit) => {
  if (Exit.isSuccess(exit)) {
    process.exitCode = exit.value ? 0 : 1
  } else {
    process.stderr.write(`chaos: the soak did not complete: ${Cause.pretty(exit.cause)}\n`)
    process.exitCode = 1
  }
  // node-redis or the proxies may keep a handle for a moment after their scopes closed
  setTimeout(() => process.exit(), 2_000).unref()
})
