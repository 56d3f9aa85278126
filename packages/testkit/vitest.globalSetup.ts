/**
 * Vitest `globalSetup` shared by every package that starts real Redis servers: makes sure `redis-server` exists
 * before any test runs, marks this run so leftover checks only see its own servers, and at the end kills any
 * server started by the testkit that is still alive, removes this run's temp dirs, and fails the run if a server
 * was left behind.
 */
import { randomBytes } from "node:crypto"
import * as RedisBinary from "./src/RedisBinary.js"
import * as RedisServer from "./src/RedisServer.js"

export async function setup(): Promise<void> {
  process.env[RedisServer.runIdEnvVar] ??= `run${randomBytes(4).toString("hex")}`
  await RedisBinary.ensure()
}

export async function teardown(): Promise<void> {
  const leftovers = await RedisServer.killLeftoverProcesses()
  const dirs = await RedisServer.removeLeftoverDirs()
  if (leftovers.length > 0) {
    const list = leftovers.map((leftover) => `  pid ${leftover.pid}: ${leftover.commandLine} (cwd ${leftover.cwd})`)
    throw new Error(
      `${leftovers.length} redis-server process(es) started by the testkit were still alive after the tests ` +
        `(a scope was not closed); they have been killed:\n${list.join("\n")}`
    )
  }
  if (dirs.length > 0) console.warn(`testkit: removed ${dirs.length} leftover temp dir(s):\n  ${dirs.join("\n  ")}`)
}
