import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { RedisServer } from "@effect-redis/testkit"
import { Effect } from "effect"

const demoDir = fileURLToPath(new URL("..", import.meta.url))
const tsx = fileURLToPath(new URL("../../../node_modules/.bin/tsx", import.meta.url))

interface Run {
  readonly output: () => string
  readonly signal: (name: NodeJS.Signals) => void
  readonly exit: Promise<number | null>
}

/** Runs `npm run demo -- <args>` the way the script does (tsx on the sources), collecting stdout and stderr. */
const runDemo = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Run => {
  const child = spawn(tsx, ["src/main.ts", ...args], {
    cwd: demoDir,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env }
  })
  let output = ""
  child.stdout.on("data", (chunk) => {
    output += String(chunk)
  })
  child.stderr.on("data", (chunk) => {
    output += String(chunk)
  })
  return {
    output: () => output,
    signal: (name) => child.kill(name),
    exit: new Promise((resolve) => child.on("exit", (code) => resolve(code)))
  }
}

const waitFor = (run: Run, pattern: RegExp, ms = 30_000) =>
  Effect.promise(async () => {
    const until = performance.now() + ms
    while (!pattern.test(run.output())) {
      if (performance.now() > until) throw new Error(`no ${pattern} in the demo's output:\n${run.output()}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  })

describe("npm run demo (the entry point, as a process)", () => {
  it.live(
    "reports a failure as a failure, with its cause, and exits 1",
    () =>
      Effect.gen(function* () {
        // nothing listens on port 1: the client cannot start
        const run = runDemo(["--database", "redis://127.0.0.1:1=1", "--duration", "1s", "--connect-timeout", "300ms"])
        const code = yield* Effect.promise(() => run.exit)
        expect(code).toBe(1)
        expect(run.output()).toMatch(/demo failed after .*\n.*InitialHealthCheckFailed/)
        expect(run.output()).not.toMatch(/stopped after/)
      }),
    120_000
  )

  it.live(
    "reports why the local servers could not start, although their siblings were interrupted, and exits 1",
    () =>
      Effect.gen(function* () {
        // three servers start together; the first failure interrupts the other two
        const run = runDemo(["--scenario", "quick"], { REDIS_SERVER_BIN: "/nonexistent/redis-server" })
        const code = yield* Effect.promise(() => run.exit)
        expect(code).toBe(1)
        expect(run.output()).toMatch(/demo failed after/)
        expect(run.output()).toContain("REDIS_SERVER_BIN=/nonexistent/redis-server is not an executable file")
        expect(run.output()).toContain("apt-get install redis-server")
        expect(run.output()).not.toMatch(/stopped after/)
      }),
    120_000
  )

  it.scopedLive(
    "stops on Ctrl-C (SIGINT) and exits 130",
    () =>
      Effect.gen(function* () {
        const server = yield* RedisServer.make()
        const run = runDemo(["--database", `${server.url}=1`, "--duration", "60s"])
        yield* waitFor(run, /ops\/s/)
        run.signal("SIGINT")
        const code = yield* Effect.promise(() => run.exit)
        expect(code).toBe(130)
        expect(run.output()).toMatch(/SIGINT: stopping/)
        expect(run.output()).toMatch(/stopped after/)
        expect(run.output()).not.toMatch(/demo failed/)
      }),
    120_000
  )
})
