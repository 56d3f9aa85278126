import { describe, expect, it } from "@effect/vitest"
import { RedisBinary } from "@effect-redis/testkit"
import { ConfigProvider, Effect, Option } from "effect"

const withEnv = (env: Record<string, string>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env))))

describe("RedisBinary", () => {
  it.live("finds redis-server on PATH and reads its version", () =>
    Effect.gen(function* () {
      const binary = yield* RedisBinary.make().pipe(withEnv({ PATH: process.env.PATH ?? "" }))
      expect(binary.path).toMatch(/redis-server$/)
      expect(binary.version).toMatch(/^\d+\.\d+\.\d+/)
    })
  )

  it.live("prefers REDIS_SERVER_BIN", () =>
    Effect.gen(function* () {
      const located = yield* RedisBinary.locate.pipe(withEnv({ PATH: process.env.PATH ?? "" }))
      const path = Option.getOrThrow(located)
      const binary = yield* RedisBinary.make().pipe(withEnv({ PATH: "", REDIS_SERVER_BIN: path }))
      expect(binary.path).toBe(path)
    })
  )

  it.live("fails when REDIS_SERVER_BIN does not point at an executable", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        RedisBinary.make().pipe(withEnv({ PATH: process.env.PATH ?? "", REDIS_SERVER_BIN: "/nonexistent/redis" }))
      )
      expect(error._tag).toBe("BinaryNotFound")
      expect(error.message).toContain("REDIS_SERVER_BIN=/nonexistent/redis")
    })
  )

  it.live("says how to install redis-server when it is missing and installing is off", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(RedisBinary.make({ install: false }).pipe(withEnv({ PATH: "/nonexistent" })))
      expect(error._tag).toBe("BinaryNotFound")
      expect(error.message).toContain("apt-get install redis-server")
      expect(error.message).toContain("brew install redis")
      expect(error.message).toContain("REDIS_SERVER_BIN")
    })
  )

  it("ensure resolves to the binary for globalSetup files", async () => {
    const binary = await RedisBinary.ensure()
    expect(binary.path).toMatch(/redis-server$/)
  })
})
