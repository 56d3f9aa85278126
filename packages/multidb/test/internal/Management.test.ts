import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Ref, TestClock } from "effect"
import * as FailoverStrategy from "../../src/FailoverStrategy.js"
import * as Database from "../../src/internal/database.js"
import * as Lifecycle from "../../src/internal/lifecycle.js"
import * as Management from "../../src/internal/management.js"
import * as Startup from "../../src/internal/startup.js"
import * as Supervisor from "../../src/internal/supervisor.js"
import { environment, supervised } from "./engine.helpers.js"

const managed = (overrides: Parameters<typeof supervised>[0] = {}) =>
  Effect.gen(function* () {
    const base = yield* supervised(overrides)
    yield* Effect.forkScoped(base.supervisor.run)
    const scope = yield* Effect.scope
    let order = 2
    const management = yield* Management.make({
      supervisor: base.supervisor,
      healthChecks: base.env.healthChecks,
      createDatabase: (config) =>
        Database.make({ ...base.env, signals: base.supervisor.signals }, config, order++, scope),
      publish: base.env.publish,
      lifecycle: yield* Lifecycle.make
    })
    return { ...base, management }
  })

describe("internal/management", () => {
  it.scoped("checkHealth awaits a check that is already running instead of returning at once", () =>
    Effect.gen(function* () {
      const { management, east, registry } = yield* managed({
        healthCheckProbes: 2,
        healthCheckProbesDelay: "1 second"
      })
      const pings = yield* registry.database("east").pings
      const running = yield* east.startCheck
      const call = yield* Effect.fork(management.checkHealth("east"))
      yield* TestClock.adjust("500 millis")
      expect(call.unsafePoll()).toBeNull()
      yield* TestClock.adjust("500 millis")
      expect(yield* Fiber.await(call)).toEqual(Exit.void)
      expect((yield* Deferred.await(running)).healthy).toBe(true)
      // the two probes of the one shared check
      expect((yield* registry.database("east").pings) - pings).toBe(2)
    })
  )

  it.scoped("an unknown id fails with DatabaseNotFound, naming the known ones", () =>
    Effect.gen(function* () {
      const { management } = yield* managed()
      expect(yield* Effect.flip(management.checkHealth("north"))).toMatchObject({
        _tag: "DatabaseNotFound",
        known: ["east", "west"]
      })
    })
  )

  it.scoped("a higher weight moves the traffic once the supervisor has reconsidered", () =>
    Effect.gen(function* () {
      const { management, supervisor, west } = yield* managed()
      yield* management.updateDatabaseWeight("west", 2)
      expect(supervisor.current()).toBe(west)
      expect(yield* Ref.get(west.weight)).toBe(2)
    })
  )

  it.scoped("an added database with a duplicate id is refused", () =>
    Effect.gen(function* () {
      const { management } = yield* managed()
      expect(yield* Effect.flip(management.addDatabase({ id: "east", url: "redis://x:1" }))).toMatchObject({
        _tag: "InvalidRequest"
      })
    })
  )
})

describe("internal/startup", () => {
  const starting = (overrides: Parameters<typeof environment>[0], unhealthy: ReadonlyArray<string>) =>
    Effect.gen(function* () {
      const base = yield* environment(overrides)
      for (const id of unhealthy) yield* base.registry.database(id).setPingHealthy(false)
      const supervisor = yield* Supervisor.make(base.config, FailoverStrategy.weightBased, base.events)
      const scope = yield* Effect.scope
      let order = 0
      return yield* Startup.start({
        config: base.config,
        supervisor,
        strategy: FailoverStrategy.weightBased,
        healthChecks: base.env.healthChecks,
        createDatabase: (config) => Database.make({ ...base.env, signals: supervisor.signals }, config, order++, scope)
      }).pipe(Effect.as(supervisor), Effect.exit)
    })

  it.scoped("starts on the best healthy database, the unhealthy one's circuit open", () =>
    Effect.gen(function* () {
      const exit = yield* starting({ initialHealthCheckPolicy: "one" }, ["east"])
      if (Exit.isFailure(exit)) throw new Error("did not start")
      const supervisor = exit.value
      expect(supervisor.current()?.id).toBe("west")
      const states = yield* Effect.map(supervisor.snapshot, (list) => list.map((d) => `${d.id}:${d.circuit}`))
      expect(states).toEqual(["east:open", "west:closed"])
    })
  )

  it.scoped("fails with InitialHealthCheckFailed when too few databases are healthy", () =>
    Effect.gen(function* () {
      const exit = yield* starting({ initialHealthCheckPolicy: "all" }, ["west"])
      expect(exit).toMatchObject({ _tag: "Failure" })
      expect(JSON.stringify(exit)).toContain("InitialHealthCheckFailed")
    })
  )
})
