/**
 * The memory benchmark as a process of its own, so that its heap figures are not disturbed by the other sections (and
 * so that it can run while the long, timer-bound default fail-back measurement waits). Prints one JSON line.
 *
 * Usage: MemoryMain.ts <outcomes> <simulated minutes> <databases>
 */
import { Effect } from "effect"
import * as Memory from "./Memory.js"

const [outcomes, minutes, databases] = process.argv.slice(2).map(Number)

const program = Effect.gen(function* () {
  const detector = yield* Memory.detector({ outcomes: outcomes ?? 10_000_000, samples: 10 })
  const simulated = minutes ?? 60
  const healthChecks = yield* Memory.healthChecks({
    databases: databases ?? 50,
    probes: 1,
    flapEvery: "10 minutes",
    downDatabases: 4,
    simulated: `${simulated} minutes`,
    step: "5 seconds",
    warmup: `${Math.min(5, simulated / 2)} minutes`,
    sampleEvery: `${Math.max(1, simulated / 12)} minutes`
  })
  return { detector, healthChecks }
})

Effect.runPromise(program).then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`)
  },
  (error) => {
    process.stderr.write(`memory benchmark failed: ${String(error)}\n`)
    process.exitCode = 1
  }
)
