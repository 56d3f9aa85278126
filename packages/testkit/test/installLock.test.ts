import { spawnSync } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Ref } from "effect"
import { withInstallLock } from "../src/internal/installLock.js"

const tempLock = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "install-lock-test-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
).pipe(Effect.map((dir) => path.join(dir, "install.lock")))

const exists = (file: string) =>
  Effect.promise(() =>
    fs.access(file).then(
      () => true,
      () => false
    )
  )

describe("install lock", () => {
  it.scopedLive("runs concurrent installs of one process one after the other", () =>
    Effect.gen(function* () {
      const file = yield* tempLock
      const running = yield* Ref.make(0)
      const overlap = yield* Ref.make(false)
      const install = Effect.gen(function* () {
        const now = yield* Ref.updateAndGet(running, (n) => n + 1)
        if (now > 1) yield* Ref.set(overlap, true)
        expect(yield* exists(file)).toBe(true)
        yield* Effect.sleep("20 millis")
        yield* Ref.update(running, (n) => n - 1)
      })
      yield* Effect.all(
        [1, 2, 3].map(() => withInstallLock(install, file)),
        { concurrency: "unbounded" }
      )
      expect(yield* Ref.get(overlap)).toBe(false)
      expect(yield* exists(file)).toBe(false)
    })
  )

  it.scopedLive("waits while another live process holds the lock file", () =>
    Effect.gen(function* () {
      const file = yield* tempLock
      // the parent of this test process is alive for the whole test: it stands in for another installer
      yield* Effect.promise(() => fs.writeFile(file, String(process.ppid)))
      const ran = yield* Deferred.make<void>()
      const fiber = yield* Effect.fork(withInstallLock(Deferred.succeed(ran, undefined), file))
      yield* Effect.sleep("600 millis")
      expect(yield* Deferred.isDone(ran)).toBe(false)
      yield* Effect.promise(() => fs.rm(file))
      yield* Deferred.await(ran).pipe(Effect.timeout("5 seconds"))
      yield* Fiber.join(fiber)
    })
  )

  it.scopedLive("takes over a lock left by a process that died", () =>
    Effect.gen(function* () {
      const file = yield* tempLock
      const child = spawnSync(process.execPath, ["-e", "process.exit(0)"])
      expect(child.pid).toBeGreaterThan(0)
      yield* Effect.promise(() => fs.writeFile(file, String(child.pid)))
      const result = yield* withInstallLock(Effect.succeed("installed"), file).pipe(Effect.timeout("5 seconds"))
      expect(result).toBe("installed")
    })
  )
})
