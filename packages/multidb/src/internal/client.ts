import {
  Clock,
  Deferred,
  Duration,
  Effect,
  ExecutionStrategy,
  Exit,
  FiberHandle,
  Metric,
  MetricKey,
  MetricLabel,
  Option,
  ParseResult,
  PubSub,
  Queue,
  Ref,
  Schedule,
  Scope,
  Stream,
  SubscriptionRef
} from "effect"
import * as CircuitBreaker from "../CircuitBreaker.js"
import * as DatabaseConfig from "../DatabaseConfig.js"
import type { DatabaseInfo } from "../DatabaseInfo.js"
import * as ErrorClassifier from "../ErrorClassifier.js"
import * as FailoverStrategy from "../FailoverStrategy.js"
import * as FailureDetector from "../FailureDetector.js"
import * as HealthCheck from "../HealthCheck.js"
import type { Batch, BatchReplies, ExecuteOptions, Multi, MultiDbClient as Service } from "../MultiDbClient.js"
import type { MultiDbConfig } from "../MultiDbConfig.js"
import {
  DatabaseNotFound,
  InitialHealthCheckFailed,
  InvalidRequest,
  type MultiDbError,
  NoValidDatabase,
  RedisCommandError,
  RedisConnectionError,
  TemporarilyUnavailable,
  TransactionAborted,
  UnhealthyDatabase
} from "../MultiDbError.js"
import * as MultiDbEvent from "../MultiDbEvent.js"
import * as MultiDbEvents from "../MultiDbEvents.js"
import * as Metrics from "../MultiDbMetrics.js"
import * as RedisConnection from "../RedisConnection.js"
import { commandName, memberLocalCommands, readOnlyCommands } from "./commands.js"
import { quorum } from "./healthCheck.js"
import * as PubSubManager from "./pubsub.js"

/** One database inside the client. */
interface Entry {
  readonly id: string
  readonly config: DatabaseConfig.DatabaseConfig
  readonly order: number
  weight: number
  readonly connection: RedisConnection.RedisConnection
  readonly circuit: CircuitBreaker.CircuitBreaker
  readonly detector: FailureDetector.FailureDetector
  lastHealth: Option.Option<HealthCheck.Result>
  checking: boolean
  lastTriggeredCheck: number
  readonly scope: Scope.CloseableScope
  /** Records a successful command (detector and metric); built once per database. */
  readonly recordSuccess: Effect.Effect<unknown>
  readonly outcomes: {
    readonly success: Metric.Metric.Counter<number>
    readonly reply: Metric.Metric.Counter<number>
    readonly failure: Metric.Metric.Counter<number>
  }
}

type Signal =
  | { readonly _tag: "Reevaluate" }
  | { readonly _tag: "SelectBest"; readonly reason: MultiDbEvent.SwitchReason }
  | { readonly _tag: "Reconsider"; readonly candidate: string; readonly done: Deferred.Deferred<void> }
  | { readonly _tag: "SetActive"; readonly entry: Entry; readonly done: Deferred.Deferred<void, UnhealthyDatabase> }
  | { readonly _tag: "ConnectionLost"; readonly id: string }
  | { readonly _tag: "Check"; readonly id: string }

/** Minimum time between two health checks triggered by failures of one database. */
const triggeredCheckSpacing = 250

const circuitGaugeValue = { closed: 0, "half-open": 1, open: 2 } as const

const describeDatabase = (config: DatabaseConfig.DatabaseConfig) => ({
  database: config.id,
  hosts: config.hosts,
  healthCheckUrl: config.healthCheckUrl
})

const formatParseError = (error: ParseResult.ParseError) => ParseResult.TreeFormatter.formatErrorSync(error)

export const make = (
  config: MultiDbConfig
): Effect.Effect<Service, InitialHealthCheckFailed | InvalidRequest, Scope.Scope | RedisConnection.RedisConnector> =>
  Effect.gen(function* () {
    const clientScope = yield* Effect.scope
    const connector = yield* RedisConnection.RedisConnector
    const events = yield* Effect.serviceOption(MultiDbEvents.MultiDbEvents).pipe(
      Effect.flatMap(Option.match({ onNone: () => MultiDbEvents.make(), onSome: Effect.succeed }))
    )
    const classifier = Option.getOrElse(yield* Effect.serviceOption(ErrorClassifier.ErrorClassifier), () => ({
      classify: ErrorClassifier.classify
    }))
    const strategy = Option.getOrElse(
      yield* Effect.serviceOption(FailoverStrategy.FailoverStrategy),
      () => FailoverStrategy.weightBased
    )
    const circuitFactory = Option.getOrElse(yield* Effect.serviceOption(CircuitBreaker.CircuitBreakerFactory), () => ({
      make: (_: string, options: CircuitBreaker.Options) => CircuitBreaker.make(options)
    }))
    const detectorFactory = Option.getOrElse(
      yield* Effect.serviceOption(FailureDetector.FailureDetectorFactory),
      () => ({ make: (_: string, options: FailureDetector.Options) => FailureDetector.make(options) })
    )
    const checksOverride = yield* Effect.serviceOption(HealthCheck.HealthChecks)
    const healthChecks = yield* Ref.make<ReadonlyArray<HealthCheck.HealthCheck>>(
      Option.getOrElse(checksOverride, () => config.healthChecks)
    )
    const healthDefaults: HealthCheck.Defaults = {
      probes: config.healthCheckProbes,
      probesDelay: config.healthCheckProbesDelay,
      timeout: config.healthCheckTimeout,
      policy: config.healthCheckPolicy
    }

    const publish = (event: MultiDbEvent.MultiDbEvent) => PubSub.publish(events, event)
    const signals = yield* Queue.unbounded<Signal>()
    const entries = yield* Ref.make<ReadonlyArray<Entry>>([])
    const active = yield* SubscriptionRef.make<Option.Option<Entry>>(Option.none())
    /** Failover attempt counter while no database is eligible. */
    const unavailable = yield* Ref.make<Option.Option<number>>(Option.none())
    const unavailableTicker = yield* FiberHandle.make<void, never>()
    /**
     * The active database as a plain value, for the command path to read without an effect. Written only by the
     * supervisor (through `setActive`), together with the `active` SubscriptionRef that streams its changes.
     */
    let activeEntry: Entry | undefined
    const setActive = (entry: Option.Option<Entry>) =>
      Effect.zipRight(
        Effect.sync(() => {
          activeEntry = Option.getOrUndefined(entry)
        }),
        SubscriptionRef.set(active, entry)
      )
    let nextOrder = 0

    const info = (entry: Entry, circuit: CircuitBreaker.CircuitState, activeId: string | undefined): DatabaseInfo => ({
      id: entry.id,
      weight: entry.weight,
      order: entry.order,
      circuit,
      lastHealthCheck: entry.lastHealth,
      active: entry.id === activeId
    })

    const snapshot = Effect.gen(function* () {
      const list = yield* Ref.get(entries)
      const current = yield* SubscriptionRef.get(active)
      const activeId = Option.isSome(current) ? current.value.id : undefined
      return yield* Effect.forEach(list, (entry) => Effect.map(entry.circuit.state, (s) => info(entry, s, activeId)))
    })

    // ---- health checks -------------------------------------------------------------------------------------------

    const target = (entry: Entry): HealthCheck.Target => ({
      database: entry.id,
      hosts: entry.config.hosts,
      endpoints: entry.config.endpoints,
      healthCheckUrl: entry.config.healthCheckUrl,
      connection: entry.connection.health
    })

    const runChecks = (entry: Entry) =>
      Effect.gen(function* () {
        const checks = yield* Ref.get(healthChecks)
        const start = yield* Clock.currentTimeMillis
        const result = yield* HealthCheck.run(checks, target(entry), healthDefaults)
        const end = yield* Clock.currentTimeMillis
        yield* Metric.update(Metric.tagged(Metrics.healthCheckDuration, "database", entry.id), end - start)
        entry.lastHealth = Option.some(result)
        yield* publish(
          MultiDbEvent.HealthCheckCompleted({
            database: entry.id,
            healthy: result.healthy,
            failbackAllowed: result.failbackAllowed,
            ...(result.cause === undefined ? {} : { cause: result.cause })
          })
        )
        return result
      })

    /** Runs the checks of one database (unless a check of it is already running) and applies the result. */
    const checkDatabase = (entry: Entry): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (entry.checking) return Effect.void
        entry.checking = true
        return Effect.gen(function* () {
          const result = yield* runChecks(entry)
          const state = yield* entry.circuit.state
          if (!result.healthy) {
            if (state !== "open") yield* entry.circuit.open
          } else if (state === "half-open") {
            yield* entry.circuit.close
          }
          yield* Queue.offer(signals, { _tag: "Reevaluate" })
        }).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              entry.checking = false
            })
          )
        )
      })

    /**
     * Asks the supervisor to start a check. Checks are forked by the supervisor fiber rather than by whichever fiber
     * noticed the need (a grace timer, a previous check): forking from those would chain every open → half-open →
     * open cycle of a database that stays down to the previous one, and the chain would keep growing.
     */
    const forkCheck = (entry: Entry) => Queue.offer(signals, { _tag: "Check", id: entry.id })

    /** A failure on the command path: check the database now, at most every `triggeredCheckSpacing` ms. */
    const triggerCheck = (entry: Entry) =>
      Effect.clockWith((clock) => {
        const now = clock.unsafeCurrentTimeMillis()
        if (entry.checking || now - entry.lastTriggeredCheck < triggeredCheckSpacing) return Effect.void
        entry.lastTriggeredCheck = now
        return forkCheck(entry)
      })

    // ---- databases -----------------------------------------------------------------------------------------------

    const createEntry = (databaseConfig: DatabaseConfig.DatabaseConfig) =>
      Effect.gen(function* () {
        const scope = yield* Scope.fork(clientScope, ExecutionStrategy.sequential)
        const order = nextOrder++
        const detector = yield* detectorFactory.make(databaseConfig.id, {
          window: config.failuresDetectionWindow,
          minNumFailures: config.minNumFailures,
          failureRateThreshold: config.failureRateThreshold
        })
        const ref: { entry?: Entry } = {}
        const circuit = yield* circuitFactory
          .make(databaseConfig.id, {
            gracePeriod: databaseConfig.gracePeriod,
            onStateChange: (from, to) =>
              Effect.gen(function* () {
                yield* detector.reset
                yield* Metric.set(
                  Metric.tagged(Metrics.circuitState, "database", databaseConfig.id),
                  circuitGaugeValue[to]
                )
                yield* publish(MultiDbEvent.CircuitStateChanged({ database: databaseConfig.id, from, to }))
                yield* Queue.offer(signals, { _tag: "Reevaluate" })
                if (to === "half-open" && ref.entry !== undefined) yield* forkCheck(ref.entry)
              })
          })
          .pipe(Scope.extend(scope))
        const connection = yield* connector
          .connect(databaseConfig, {
            commandTimeout: config.commandTimeout,
            connectTimeout: config.connectTimeout,
            onConnectionLost: () => {
              Queue.unsafeOffer(signals, { _tag: "ConnectionLost", id: databaseConfig.id })
            }
          })
          .pipe(Scope.extend(scope))
        // Tags baked into the key: the tagged-metric path would rebuild the key and look it up on every command.
        const outcome = (name: string) =>
          Metric.fromMetricKey(
            MetricKey.taggedWithLabels(Metrics.commandOutcomesKey, [
              MetricLabel.make("database", databaseConfig.id),
              MetricLabel.make("outcome", name)
            ])
          )
        const successes = outcome("success")
        const entry: Entry = {
          id: databaseConfig.id,
          config: databaseConfig,
          order,
          weight: databaseConfig.weight,
          connection,
          circuit,
          detector,
          lastHealth: Option.none(),
          checking: false,
          lastTriggeredCheck: Number.NEGATIVE_INFINITY,
          scope,
          recordSuccess: Effect.zipRight(
            detector.record("success"),
            Effect.sync(() => successes.unsafeUpdate(1, []))
          ),
          outcomes: { success: successes, reply: outcome("reply_error"), failure: outcome("failure") }
        }
        ref.entry = entry
        yield* Metric.set(Metric.tagged(Metrics.circuitState, "database", entry.id), 0)
        return entry
      })

    // ---- the supervisor: the only writer of `active` -------------------------------------------------------------

    const switchTo = (entry: Entry, reason: MultiDbEvent.SwitchReason) =>
      Effect.gen(function* () {
        const previous = yield* SubscriptionRef.get(active)
        yield* FiberHandle.clear(unavailableTicker)
        yield* Ref.set(unavailable, Option.none())
        if (Option.isSome(previous) && previous.value === entry) return
        yield* setActive(Option.some(entry))
        const oldDatabase = Option.isSome(previous) ? previous.value.id : lastActiveId
        lastActiveId = entry.id
        yield* Metric.increment(
          Metric.tagged(
            Metric.tagged(Metric.tagged(Metrics.failovers, "from", oldDatabase ?? "none"), "to", entry.id),
            "reason",
            reason
          )
        )
        yield* publish(MultiDbEvent.ActiveDatabaseChanged({ oldDatabase, newDatabase: entry.id, reason }))
      })
    let lastActiveId: string | undefined

    const becomeUnavailable = Effect.gen(function* () {
      const previous = yield* SubscriptionRef.get(active)
      if (Option.isSome(previous)) lastActiveId = previous.value.id
      yield* setActive(Option.none())
      if (Option.isSome(yield* Ref.get(unavailable))) return
      yield* Ref.set(unavailable, Option.some(1))
      yield* publish(MultiDbEvent.AllDatabasesUnavailable({ attempt: 1, maxAttempts: config.failoverAttempts }))
      const tick = Effect.gen(function* () {
        const attempt = yield* Ref.updateAndGet(
          unavailable,
          Option.map((n) => n + 1)
        )
        if (Option.isSome(attempt) && attempt.value <= config.failoverAttempts + 1) {
          yield* publish(
            MultiDbEvent.AllDatabasesUnavailable({ attempt: attempt.value, maxAttempts: config.failoverAttempts })
          )
        }
      })
      yield* FiberHandle.run(
        unavailableTicker,
        tick.pipe(Effect.delay(config.failoverDelay), Effect.repeat({ times: config.failoverAttempts }), Effect.asVoid)
      )
    })

    const entryById = (id: string) => Effect.map(Ref.get(entries), (list) => list.find((e) => e.id === id))

    /** Keeps the active database if it is still eligible, otherwise (or when `best`) switches to the strategy's pick. */
    const reconcile = (best: boolean, reason: MultiDbEvent.SwitchReason) =>
      Effect.gen(function* () {
        const list = yield* Ref.get(entries)
        const current = yield* SubscriptionRef.get(active)
        if (!best && Option.isSome(current) && list.includes(current.value)) {
          if ((yield* current.value.circuit.state) === "closed") return
        }
        const infos = yield* snapshot
        const pick = strategy.select(infos)
        if (Option.isNone(pick)) return yield* becomeUnavailable
        const entry = list.find((e) => e.id === pick.value)
        if (entry === undefined) return yield* becomeUnavailable
        yield* switchTo(entry, reason)
      })

    /**
     * After a runtime change concerning `candidate` (added, removed, re-weighted): move only when the active database
     * is no longer eligible, or when the change is about the active database or the strategy's new pick. A manual
     * choice is otherwise left alone (only auto fallback moves away from it).
     */
    const reconsider = (candidate: string) =>
      Effect.gen(function* () {
        const list = yield* Ref.get(entries)
        const current = yield* SubscriptionRef.get(active)
        const pick = strategy.select(yield* snapshot)
        const currentValid =
          Option.isSome(current) && list.includes(current.value) && (yield* current.value.circuit.state) === "closed"
        if (!currentValid) return yield* reconcile(false, "automatic")
        if (Option.isNone(pick)) return
        if (pick.value === candidate || current.value.id === candidate) {
          const entry = list.find((e) => e.id === pick.value)
          if (entry !== undefined) yield* switchTo(entry, "automatic")
        }
      })

    const handleSignal = (signal: Signal): Effect.Effect<void> => {
      switch (signal._tag) {
        case "Reconsider":
          return reconsider(signal.candidate).pipe(Effect.ensuring(Deferred.succeed(signal.done, undefined)))
        case "Reevaluate":
          return reconcile(false, "automatic")
        case "SelectBest":
          return reconcile(true, signal.reason)
        case "Check":
          return Effect.flatMap(entryById(signal.id), (entry) =>
            entry === undefined ? Effect.void : Effect.asVoid(Effect.forkIn(checkDatabase(entry), entry.scope))
          )
        case "ConnectionLost":
          return Effect.flatMap(entryById(signal.id), (entry) =>
            entry === undefined ? Effect.void : triggerCheck(entry)
          )
        case "SetActive":
          return Effect.gen(function* () {
            const list = yield* Ref.get(entries)
            if (!list.includes(signal.entry)) {
              return yield* Deferred.fail(
                signal.done,
                new UnhealthyDatabase({ database: signal.entry.id, cause: "it was removed" })
              )
            }
            yield* switchTo(signal.entry, "manual")
            yield* Deferred.succeed(signal.done, undefined)
          })
      }
    }

    const supervisor = Queue.take(signals).pipe(
      Effect.flatMap(handleSignal),
      Effect.catchAllCause((cause) => Effect.logError("MultiDbClient supervisor step failed", cause)),
      Effect.forever
    )

    // ---- start-up ------------------------------------------------------------------------------------------------

    yield* Effect.addFinalizer(() => FiberHandle.clear(unavailableTicker))
    const problems = HealthCheck.validate(yield* Ref.get(healthChecks), config.databases.map(describeDatabase))
    if (problems.length > 0) {
      return yield* new InvalidRequest({ reason: `invalid configuration: ${problems.join("; ")}` })
    }
    const initial = yield* Effect.forEach(config.databases, createEntry)
    yield* Ref.set(entries, initial)
    const results = yield* Effect.forEach(initial, (entry) => runChecks(entry), { concurrency: "unbounded" })
    const healthy = initial.filter((_, i) => results[i]!.healthy)
    const unhealthy = initial.filter((_, i) => !results[i]!.healthy)
    const required = quorum(config.initialHealthCheckPolicy, initial.length)
    if (healthy.length < required) {
      return yield* new InitialHealthCheckFailed({
        policy: config.initialHealthCheckPolicy,
        healthy: healthy.map((e) => e.id),
        unhealthy: unhealthy.map((e) => e.id)
      })
    }
    yield* Effect.forEach(unhealthy, (entry) => entry.circuit.open)
    const first = strategy.select(yield* snapshot)
    const firstEntry = Option.flatMap(first, (id) => Option.fromNullable(initial.find((e) => e.id === id)))
    if (Option.isNone(firstEntry)) {
      return yield* new InitialHealthCheckFailed({
        policy: config.initialHealthCheckPolicy,
        healthy: healthy.map((e) => e.id),
        unhealthy: unhealthy.map((e) => e.id)
      })
    }
    yield* setActive(firstEntry)
    lastActiveId = firstEntry.value.id
    // Listeners attached before start-up learn which database the traffic goes to first.
    yield* publish(
      MultiDbEvent.ActiveDatabaseChanged({
        oldDatabase: undefined,
        newDatabase: firstEntry.value.id,
        reason: "automatic"
      })
    )
    // Circuit changes made during start-up were already applied above.
    yield* Queue.takeAll(signals)

    yield* Effect.forkScoped(supervisor)
    const healthRound = Effect.flatMap(Ref.get(entries), (list) =>
      Effect.forEach(list, checkDatabase, { concurrency: "unbounded", discard: true })
    )
    yield* Effect.forkScoped(healthRound.pipe(Effect.delay(config.healthCheckInterval), Effect.forever))
    if (Duration.greaterThan(config.autoFallbackInterval, Duration.zero)) {
      yield* Effect.forkScoped(
        Queue.offer(signals, { _tag: "SelectBest", reason: "fallback" }).pipe(
          Effect.delay(config.autoFallbackInterval),
          Effect.forever
        )
      )
    }

    // ---- commands ------------------------------------------------------------------------------------------------

    const retrySchedule = Schedule.exponential(config.commandRetry.base).pipe(
      Schedule.jittered,
      Schedule.modifyDelay((delay) => Duration.min(delay, config.commandRetry.cap)),
      Schedule.intersect(Schedule.recurs(config.commandRetry.retries))
    )

    const unavailableError = Effect.flatMap(Ref.get(unavailable), (attempt): Effect.Effect<never, MultiDbError> => {
      const n = Option.getOrElse(attempt, () => 1)
      return n > config.failoverAttempts
        ? Effect.fail(new NoValidDatabase({ attempts: config.failoverAttempts }))
        : Effect.fail(new TemporarilyUnavailable({ attempt: n, maxAttempts: config.failoverAttempts }))
    })

    const onError = (entry: Entry, error: unknown, command: string): Effect.Effect<never, MultiDbError> => {
      const classification = classifier.classify(error)
      switch (classification._tag) {
        case "Reply":
          return Effect.zipRight(
            Effect.zipRight(entry.detector.record("success"), Metric.increment(entry.outcomes.reply)),
            Effect.fail(
              new RedisCommandError({ database: entry.id, command, reply: classification.reply, cause: error })
            )
          )
        case "WatchConflict":
          return Effect.zipRight(
            entry.detector.record("success"),
            Effect.fail(new TransactionAborted({ database: entry.id, watched: [] }))
          )
        case "Unavailable":
          return Effect.gen(function* () {
            yield* Metric.increment(entry.outcomes.failure)
            yield* publish(
              MultiDbEvent.CommandsFailed({ database: entry.id, commands: [command], error: classification.reason })
            )
            const tripped = yield* entry.detector.record("failure")
            if (tripped && (yield* entry.circuit.state) === "closed") yield* entry.circuit.open
            else yield* triggerCheck(entry)
            return yield* new RedisConnectionError({
              database: entry.id,
              command,
              mayHaveExecuted: classification.mayHaveExecuted,
              reason: classification.reason,
              cause: error
            })
          })
      }
    }

    const attempt = <A>(f: (client: RedisConnection.RedisClient) => Promise<A>, command: string, isolated: boolean) =>
      Effect.suspend((): Effect.Effect<A, MultiDbError> => {
        const entry = activeEntry
        if (entry === undefined) return unavailableError
        return Effect.matchEffect(isolated ? entry.connection.runIsolated(f) : entry.connection.run(f), {
          onSuccess: (value) => Effect.as(entry.recordSuccess, value),
          onFailure: (error) => onError(entry, error, command)
        })
      })

    const run = <A>(
      f: (client: RedisConnection.RedisClient) => Promise<A>,
      options: ExecuteOptions | undefined,
      isolated: boolean
    ): Effect.Effect<A, MultiDbError> => {
      const command = options?.command ?? "EXECUTE"
      const retryAnything = config.retryWrites || options?.readOnly === true
      const retryable = (error: MultiDbError) =>
        error._tag === "RedisConnectionError" && (retryAnything || !error.mayHaveExecuted)
      const once = attempt(f, command, isolated)
      // The schedule is only set up after a first retryable failure: the healthy path pays nothing for retries.
      return Effect.catchIf(once, retryable, (error) =>
        Effect.flatMap(Schedule.driver(retrySchedule), (driver) => {
          const retry = (last: MultiDbError): Effect.Effect<A, MultiDbError> =>
            Effect.matchEffect(driver.next(last), {
              onFailure: () => Effect.fail(last),
              onSuccess: () => Effect.catchIf(once, retryable, retry)
            })
          return retry(error)
        })
      )
    }

    const execute = <A>(f: (client: RedisConnection.RedisClient) => Promise<A>, options?: ExecuteOptions) =>
      run(f, options, false)

    const executeIsolated = <A>(f: (client: RedisConnection.RedisClient) => Promise<A>, options?: ExecuteOptions) =>
      run(f, options, true)

    const rejectMemberLocal = (command: string) =>
      Effect.fail(
        new InvalidRequest({
          reason: `${command} keeps state on one member of the database only and would silently vanish after a failover; it is not supported by MultiDbClient`
        })
      )

    const commandCache = new Map<string, (...args: Array<unknown>) => Effect.Effect<unknown, MultiDbError>>()
    const commands = new Proxy(
      {},
      {
        get: (_, property) => {
          if (typeof property !== "string") return undefined
          let fn = commandCache.get(property)
          if (fn === undefined) {
            const command = commandName(property)
            const readOnly = readOnlyCommands.has(command)
            fn = memberLocalCommands.has(command.replace(/_/g, "."))
              ? () => rejectMemberLocal(command)
              : (...args: Array<unknown>) =>
                  execute(
                    (client) =>
                      (client as unknown as Record<string, (...a: Array<unknown>) => Promise<unknown>>)[property]!(
                        ...args
                      ),
                    { command, readOnly }
                  )
            commandCache.set(property, fn)
          }
          return fn
        }
      }
    ) as Service["commands"]

    const sendCommand = (args: ReadonlyArray<string | Buffer>) => {
      if (args.length === 0) return Effect.fail(new InvalidRequest({ reason: "sendCommand needs a command name" }))
      const command = String(args[0]).toUpperCase()
      if (memberLocalCommands.has(command)) return rejectMemberLocal(command)
      return execute((client) => client.sendCommand([...args]), {
        command,
        readOnly: readOnlyCommands.has(command)
      })
    }

    // ---- pipelines and transactions ------------------------------------------------------------------------------

    /** Runs a builder on a stand-in MULTI to learn the command names it queues. */
    const batchCommands = (build: (multi: Multi) => unknown): Array<string> => {
      const names: Array<string> = []
      const stub: unknown = new Proxy(
        {},
        {
          get: (_, property) => {
            if (typeof property !== "string" || property === "then") return undefined
            return (...args: Array<unknown>) => {
              if (property === "addCommand")
                names.push(String((args[0] as ReadonlyArray<unknown>)?.[0] ?? "").toUpperCase())
              else names.push(commandName(property))
              return stub
            }
          }
        }
      )
      try {
        build(stub as Multi)
      } catch {
        // a builder that reads real values cannot be dry-run: treat it as a write
        names.push("UNKNOWN")
      }
      return names
    }

    const checkBatch = (names: ReadonlyArray<string>, kind: string) => {
      const local = names.find((n) => memberLocalCommands.has(n.replace(/_/g, ".")))
      if (local !== undefined) return Option.some(rejectMemberLocal(local))
      if (names.length === 0) {
        return Option.some(Effect.fail(new InvalidRequest({ reason: `${kind} has no commands` })))
      }
      return Option.none()
    }

    const pipeline = <M extends Batch>(build: (multi: Multi) => M): Effect.Effect<BatchReplies<M>, MultiDbError> =>
      Effect.suspend(() => {
        const names = batchCommands(build)
        const invalid = checkBatch(names, "pipeline")
        if (Option.isSome(invalid)) return invalid.value
        return execute((client) => build(client.multi()).execTyped(true) as Promise<BatchReplies<M>>, {
          command: `PIPELINE(${names.join(",")})`,
          readOnly: names.every((n) => readOnlyCommands.has(n))
        })
      })

    const transaction = <M extends Batch>(
      build: (multi: Multi, client: RedisConnection.RedisClient) => M | Promise<M>,
      options?: { readonly watch?: ReadonlyArray<string> }
    ): Effect.Effect<BatchReplies<M>, MultiDbError> =>
      Effect.suspend(() => {
        const watch = options?.watch ?? []
        const names = watch.length === 0 ? batchCommands((multi) => build(multi, undefined as never)) : ["UNKNOWN"]
        const invalid = watch.length === 0 ? checkBatch(names, "transaction") : Option.none()
        if (Option.isSome(invalid)) return invalid.value
        const command = watch.length === 0 ? `MULTI(${names.join(",")})` : "MULTI"
        const readOnly = names.every((n) => readOnlyCommands.has(n))
        const result =
          watch.length === 0
            ? execute(
                async (client) => (await build(client.multi(), client)).execTyped(false) as Promise<BatchReplies<M>>,
                { command, readOnly }
              )
            : executeIsolated(
                async (client) => {
                  await client.watch([...watch])
                  const multi = await build(client.multi(), client)
                  return multi.execTyped(false) as Promise<BatchReplies<M>>
                },
                { command, readOnly: false }
              )
        return Effect.catchTag(result, "TransactionAborted", (error) =>
          Effect.fail(new TransactionAborted({ database: error.database, watched: watch }))
        )
      })

    // ---- runtime management --------------------------------------------------------------------------------------

    const requireEntry = (id: string) =>
      Effect.flatMap(Ref.get(entries), (list) => {
        const entry = list.find((e) => e.id === id)
        return entry === undefined
          ? Effect.fail(new DatabaseNotFound({ database: id, known: list.map((e) => e.id) }))
          : Effect.succeed(entry)
      })

    const reconsiderAfter = (candidate: string) =>
      Effect.flatMap(Deferred.make<void>(), (done) =>
        Effect.zipRight(Queue.offer(signals, { _tag: "Reconsider", candidate, done }), Deferred.await(done))
      )

    const management = yield* Effect.makeSemaphore(1)

    const setActiveDatabase = (id: string) =>
      Effect.gen(function* () {
        const entry = yield* requireEntry(id)
        const result = yield* runChecks(entry)
        if (!result.healthy) {
          return yield* new UnhealthyDatabase({
            database: id,
            ...(result.cause === undefined ? {} : { cause: result.cause })
          })
        }
        if ((yield* entry.circuit.state) !== "closed") yield* entry.circuit.close
        const done = yield* Deferred.make<void, UnhealthyDatabase>()
        yield* Queue.offer(signals, { _tag: "SetActive", entry, done })
        yield* Deferred.await(done)
      }).pipe(management.withPermits(1), Effect.withSpan("MultiDbClient.setActiveDatabase"))

    const addDatabase = (input: DatabaseConfig.Input, options?: { readonly skipInitialHealthCheck?: boolean }) =>
      Effect.gen(function* () {
        const databaseConfig = yield* DatabaseConfig.decode(input).pipe(
          Effect.mapError(
            (error) => new InvalidRequest({ reason: `invalid database config: ${formatParseError(error)}` })
          )
        )
        const list = yield* Ref.get(entries)
        if (list.some((e) => e.id === databaseConfig.id)) {
          return yield* new InvalidRequest({ reason: `a database with id "${databaseConfig.id}" exists already` })
        }
        const problems = HealthCheck.validate(yield* Ref.get(healthChecks), [describeDatabase(databaseConfig)])
        if (problems.length > 0) {
          return yield* new InvalidRequest({ reason: `invalid database config: ${problems.join("; ")}` })
        }
        const entry = yield* createEntry(databaseConfig)
        if (options?.skipInitialHealthCheck !== true) {
          const result = yield* runChecks(entry)
          if (!result.healthy) {
            yield* Scope.close(entry.scope, Exit.void)
            return yield* new UnhealthyDatabase({
              database: entry.id,
              ...(result.cause === undefined ? {} : { cause: result.cause })
            })
          }
        }
        yield* Ref.update(entries, (current) => [...current, entry])
        yield* publish(MultiDbEvent.DatabaseAdded({ database: entry.id, weight: entry.weight }))
        yield* reconsiderAfter(entry.id)
      }).pipe(management.withPermits(1), Effect.withSpan("MultiDbClient.addDatabase"))

    const removeDatabase = (id: string) =>
      Effect.gen(function* () {
        const entry = yield* requireEntry(id)
        const list = yield* Ref.get(entries)
        if (list.length === 1) {
          return yield* new InvalidRequest({ reason: `cannot remove "${id}": it is the only database` })
        }
        yield* Ref.set(
          entries,
          list.filter((e) => e !== entry)
        )
        yield* reconsiderAfter(id)
        yield* Scope.close(entry.scope, Exit.void)
        yield* publish(MultiDbEvent.DatabaseRemoved({ database: id }))
      }).pipe(management.withPermits(1), Effect.withSpan("MultiDbClient.removeDatabase"))

    const updateDatabaseWeight = (id: string, weight: number) =>
      Effect.gen(function* () {
        if (typeof weight !== "number" || !Number.isFinite(weight) || weight < 0) {
          return yield* new InvalidRequest({ reason: `weight of "${id}" must be a number >= 0, got ${weight}` })
        }
        const entry = yield* requireEntry(id)
        const from = entry.weight
        entry.weight = weight
        yield* publish(MultiDbEvent.DatabaseWeightChanged({ database: id, from, to: weight }))
        yield* reconsiderAfter(id)
      }).pipe(management.withPermits(1), Effect.withSpan("MultiDbClient.updateDatabaseWeight"))

    const addHealthCheck = (check: HealthCheck.HealthCheck) =>
      Effect.suspend(() => {
        if (typeof check?.probe !== "function") {
          return Effect.fail(new InvalidRequest({ reason: "addHealthCheck needs a HealthCheck with a probe function" }))
        }
        return Effect.gen(function* () {
          const list = yield* Ref.get(entries)
          const problems = HealthCheck.validate(
            [check],
            list.map((e) => describeDatabase(e.config))
          )
          if (problems.length > 0) return yield* new InvalidRequest({ reason: problems.join("; ") })
          yield* Ref.update(healthChecks, (checks) => [...checks, check])
        })
      })

    const pubsub = yield* PubSubManager.make(active, retrySchedule)
    const subscribeTo = (kind: RedisConnection.SubscriptionKind) => (names: ReadonlyArray<string>) =>
      names.length === 0
        ? Stream.fail(new InvalidRequest({ reason: "subscribe needs at least one channel or pattern" }))
        : pubsub.subscribe(kind, names)

    const activeDatabase = Effect.map(snapshot, (infos) => Option.fromNullable(infos.find((i) => i.active)))

    const service: Service = {
      execute,
      commands,
      sendCommand,
      pipeline,
      transaction,
      subscribe: subscribeTo("channel"),
      pSubscribe: subscribeTo("pattern"),
      sSubscribe: subscribeTo("shard"),
      events: Stream.fromPubSub(events),
      activeDatabase,
      databases: snapshot,
      activeChanges: active.changes.pipe(Stream.map(Option.map((e) => e.id)), Stream.changes),
      setActiveDatabase,
      addDatabase,
      removeDatabase,
      updateDatabaseWeight,
      addHealthCheck,
      checkHealth: (id) => Effect.flatMap(requireEntry(id), (entry) => Effect.as(checkDatabase(entry), undefined))
    }
    return service
  })
