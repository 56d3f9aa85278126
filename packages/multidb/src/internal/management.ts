import { Deferred, Effect, Exit, type ParseResult, Ref } from "effect"
import * as DatabaseConfig from "../DatabaseConfig.js"
import * as HealthCheck from "../HealthCheck.js"
import type { MultiDbClient as Service } from "../MultiDbClient.js"
import { formatError } from "../MultiDbConfig.js"
import { ClientClosed, DatabaseNotFound, InvalidRequest, ManagementFailed, UnhealthyDatabase } from "../MultiDbError.js"
import * as MultiDbEvent from "../MultiDbEvent.js"
import * as Database from "./database.js"
import type { Lifecycle } from "./lifecycle.js"
import { managementTimeout } from "./lifecycle.js"
import type { Supervisor } from "./supervisor.js"
import * as Telemetry from "./telemetry.js"

/** How a database shows to health-check validation. */
export const describeDatabase = (config: DatabaseConfig.DatabaseConfig) => ({
  database: config.id,
  hosts: config.hosts,
  endpoints: config.endpoints,
  healthCheckUrl: config.healthCheckUrl
})

/** The short, path-first, credential-free message of a config error (one `path: reason` per line, joined). */
const formatParseError = (error: ParseResult.ParseError) => formatError(error).split("\n").join("; ")

/** What runtime management needs from the client around it. */
export interface Environment {
  readonly supervisor: Supervisor
  readonly healthChecks: Ref.Ref<ReadonlyArray<HealthCheck.HealthCheck>>
  readonly createDatabase: (config: DatabaseConfig.DatabaseConfig) => Effect.Effect<Database.Database>
  readonly publish: (event: MultiDbEvent.MultiDbEvent) => Effect.Effect<unknown>
  /** The client's spans (default: traced). */
  readonly telemetry?: Telemetry.Telemetry
  /** Whether the client is open: every call fails with `ClientClosed` once it is not. */
  readonly lifecycle: Lifecycle
}

type Management = Pick<
  Service,
  "setActiveDatabase" | "addDatabase" | "removeDatabase" | "updateDatabaseWeight" | "addHealthCheck" | "checkHealth"
>

/**
 * Runtime management: switching, adding, removing and re-weighting databases, adding checks, checking on demand.
 * Changes are serialized; each one ends by asking the supervisor to reconsider, and waits until it has (at most
 * `managementTimeout`). Interrupted at any point, a call leaves no database half-added (its scope is closed) or
 * half-removed (a database taken off the list is always closed). Once the client is closed, every call fails with
 * `ClientClosed` at once, and a call still running ends with it.
 */
export const make = (env: Environment): Effect.Effect<Management> =>
  Effect.gen(function* () {
    const { supervisor, publish, lifecycle } = env
    const telemetry = env.telemetry ?? Telemetry.make(true, yield* Effect.clock)
    const lock = yield* Effect.makeSemaphore(1)
    /** One change at a time, ended with `ClientClosed` when the client closes, traced. */
    const managed =
      (operation: string) =>
      <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E | ClientClosed> =>
        effect.pipe(lock.withPermits(1), lifecycle.guard(operation), telemetry.span(operation))

    /** Waits for the supervisor to answer `done`, at most `managementTimeout`. */
    const awaitSupervisor = <E>(operation: string, done: Deferred.Deferred<void, E>) =>
      Deferred.await(done).pipe(
        Effect.timeoutFail({
          duration: managementTimeout,
          onTimeout: () =>
            new ManagementFailed({ operation, reason: "the supervisor did not confirm the change in time" })
        })
      )

    const require = (id: string) =>
      Effect.flatMap(Ref.get(supervisor.databases), (list) => {
        const database = list.find((d) => d.id === id)
        return database === undefined
          ? Effect.fail(new DatabaseNotFound({ database: id, known: list.map((d) => d.id) }))
          : Effect.succeed(database)
      })

    const reconsiderAfter = (operation: string, candidate: string) =>
      Effect.flatMap(Deferred.make<void>(), (done) =>
        Effect.zipRight(
          Effect.flatMap(telemetry.currentSpan, (parent) =>
            supervisor.signals.offer({ _tag: "Reconsider", candidate, done, parent })
          ),
          awaitSupervisor(operation, done)
        )
      )

    const unhealthy = (database: string, result: HealthCheck.Result) =>
      new UnhealthyDatabase({
        database,
        ...(result.cause === undefined ? {} : { cause: result.cause }),
        ...(result.failure === undefined ? {} : { failure: result.failure })
      })

    const setActiveDatabase = (id: string) =>
      Effect.gen(function* () {
        const database = yield* require(id)
        const result = yield* database.runChecks
        if (!result.healthy) return yield* unhealthy(id, result)
        if ((yield* database.circuit.state) !== "closed") yield* database.circuit.close
        const done = yield* Deferred.make<void, UnhealthyDatabase | ManagementFailed>()
        yield* supervisor.signals.offer({ _tag: "SetActive", database, done, parent: yield* telemetry.currentSpan })
        yield* awaitSupervisor("MultiDbClient.setActiveDatabase", done)
      }).pipe(managed("MultiDbClient.setActiveDatabase"))

    const addDatabase: Management["addDatabase"] = (input, options) =>
      Effect.gen(function* () {
        const config = yield* DatabaseConfig.decode(input).pipe(
          Effect.mapError(
            (error) => new InvalidRequest({ reason: `invalid database config: ${formatParseError(error)}` })
          )
        )
        if ((yield* Ref.get(supervisor.databases)).some((d) => d.id === config.id)) {
          return yield* new InvalidRequest({ reason: `a database with id "${config.id}" exists already` })
        }
        const problems = HealthCheck.validate(yield* Ref.get(env.healthChecks), [describeDatabase(config)])
        if (problems.length > 0) {
          return yield* new InvalidRequest({ reason: `invalid database config: ${problems.join("; ")}` })
        }
        // From creating the database to adding it, an interruption or failure closes it again: nothing is left open.
        yield* Effect.uninterruptibleMask((restore) =>
          Effect.gen(function* () {
            const database = yield* restore(env.createDatabase(config))
            if (options?.skipInitialHealthCheck !== true) {
              const result = yield* restore(database.runChecks).pipe(
                Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Database.close(database)))
              )
              if (!result.healthy) {
                yield* Database.close(database)
                return yield* unhealthy(database.id, result)
              }
            }
            yield* Ref.update(supervisor.databases, (current) => [...current, database])
            yield* publish(MultiDbEvent.DatabaseAdded({ database: database.id, weight: config.weight }))
          })
        )
        yield* reconsiderAfter("MultiDbClient.addDatabase", config.id)
      }).pipe(managed("MultiDbClient.addDatabase"))

    const removeDatabase = (id: string) =>
      Effect.gen(function* () {
        const database = yield* require(id)
        const list = yield* Ref.get(supervisor.databases)
        if (list.length === 1) {
          return yield* new InvalidRequest({ reason: `cannot remove "${id}": it is the only database` })
        }
        // Once off the list, the database is closed and its removal announced, however the wait below ends.
        yield* Effect.uninterruptibleMask((restore) =>
          Effect.zipRight(
            Ref.set(
              supervisor.databases,
              list.filter((d) => d !== database)
            ),
            restore(reconsiderAfter("MultiDbClient.removeDatabase", id)).pipe(
              Effect.ensuring(
                Effect.zipRight(Database.close(database), publish(MultiDbEvent.DatabaseRemoved({ database: id })))
              )
            )
          )
        )
      }).pipe(managed("MultiDbClient.removeDatabase"))

    const updateDatabaseWeight = (id: string, weight: number) =>
      Effect.gen(function* () {
        if (typeof weight !== "number" || !Number.isFinite(weight) || weight < 0) {
          return yield* new InvalidRequest({ reason: `weight of "${id}" must be a number >= 0, got ${weight}` })
        }
        const database = yield* require(id)
        const from = yield* Ref.getAndSet(database.weight, weight)
        yield* publish(MultiDbEvent.DatabaseWeightChanged({ database: id, from, to: weight }))
        yield* reconsiderAfter("MultiDbClient.updateDatabaseWeight", id)
      }).pipe(managed("MultiDbClient.updateDatabaseWeight"))

    const addHealthCheck = (check: HealthCheck.HealthCheck) =>
      Effect.suspend(() => {
        if (typeof check?.probe !== "function") {
          return Effect.fail(new InvalidRequest({ reason: "addHealthCheck needs a HealthCheck with a probe function" }))
        }
        return Effect.gen(function* () {
          const list = yield* Ref.get(supervisor.databases)
          const problems = HealthCheck.validate(
            [check],
            list.map((d) => describeDatabase(d.config))
          )
          if (problems.length > 0) return yield* new InvalidRequest({ reason: problems.join("; ") })
          yield* Ref.update(env.healthChecks, (checks) => [...checks, check])
        })
      }).pipe((effect) => Effect.zipRight(lifecycle.check("MultiDbClient.addHealthCheck"), effect))

    /**
     * Runs a check now and applies it; a check already running is awaited instead of skipped. A database removed (or
     * a client closed) before the check ends gives `DatabaseNotFound` (or `ClientClosed`), never an interruption.
     */
    const checkHealth = (id: string) =>
      Effect.flatMap(require(id), (database) =>
        Effect.flatMap(telemetry.currentSpan, (parent) =>
          Effect.flatMap(Effect.provideService(database.startCheck, Telemetry.CheckParent, parent), (done) =>
            Effect.asVoid(Deferred.await(done))
          )
        )
      ).pipe(
        Effect.catchTag(
          "DatabaseClosed",
          (): Effect.Effect<never, DatabaseNotFound | ClientClosed> =>
            lifecycle.isClosed()
              ? Effect.fail(new ClientClosed({ operation: "MultiDbClient.checkHealth" }))
              : Effect.flatMap(Ref.get(supervisor.databases), (list) =>
                  Effect.fail(new DatabaseNotFound({ database: id, known: list.map((d) => d.id) }))
                )
        ),
        lifecycle.guard("MultiDbClient.checkHealth")
      )

    return { setActiveDatabase, addDatabase, removeDatabase, updateDatabaseWeight, addHealthCheck, checkHealth }
  })
