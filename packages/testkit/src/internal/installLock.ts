import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { Duration, Effect, Schedule } from "effect"
import { BinaryNotFound } from "../TestkitError.js"

/** The lock file every process of this machine uses before installing redis-server. */
export const lockPath = path.join(os.tmpdir(), "effect-redis-testkit-install.lock")

/** One install at a time within this process (the file lock below covers other processes). */
const inProcess = Effect.unsafeMakeSemaphore(1)

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

class Held {
  readonly _tag = "Held"
  constructor(readonly pid: number) {}
}

/** Creates the lock file exclusively; removes a lock left by a process that died; fails with `Held` otherwise. */
const tryAcquire = (lockPath: string) =>
  Effect.tryPromise({
    try: async () => {
      try {
        const handle = await fs.open(lockPath, "wx", 0o644)
        await handle.writeFile(String(process.pid))
        await handle.close()
        return
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
      }
      const pid = Number.parseInt(await fs.readFile(lockPath, "utf8").catch(() => ""), 10)
      if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) throw new Held(pid)
      // stale (its process is gone) or half-written: remove it and let the next try take it
      await fs.rm(lockPath, { force: true })
      throw new Held(0)
    },
    catch: (error) => error
  })

const maxWait = Duration.minutes(10)

const acquire = (lockPath: string) =>
  tryAcquire(lockPath).pipe(
    Effect.retry({
      while: (error) => error instanceof Held,
      schedule: Schedule.spaced("250 millis").pipe(Schedule.upTo(maxWait))
    }),
    Effect.mapError(
      (error) =>
        new BinaryNotFound({
          binary: "redis-server",
          reason:
            error instanceof Held
              ? `another process (pid ${error.pid}) has been installing redis-server for over ${Duration.format(maxWait)} (lock file ${lockPath})`
              : `cannot take the install lock ${lockPath}: ${error instanceof Error ? error.message : String(error)}`,
          hint: `Remove ${lockPath} if no install is running, or install redis-server yourself.`
        })
    )
  )

const release = (lockPath: string) => Effect.promise(() => fs.rm(lockPath, { force: true }).catch(() => undefined))

/** Runs `install` holding the in-process semaphore and the machine-wide lock file. */
export const withInstallLock = <A, E, R>(
  install: Effect.Effect<A, E, R>,
  file: string = lockPath
): Effect.Effect<A, E | BinaryNotFound, R> =>
  inProcess.withPermits(1)(
    Effect.acquireUseRelease(
      acquire(file),
      () => install,
      () => release(file)
    )
  )
