import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Logger, LogLevel, Metric, Schema } from "effect"
import * as DatabaseConfig from "../src/DatabaseConfig.js"
import { endpointOf, errorAttributes, parseCommandLabel, queryText, tracingOptions } from "../src/internal/telemetry.js"
import { RedisCommandError, RedisConnectionError, TemporarilyUnavailable } from "../src/MultiDbError.js"
import { activeId, advance, setup, threeDatabases } from "./helpers.js"
import { recordingTracer } from "./tracing.helpers.js"

const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" })

/** Two in-memory databases with ids unique to a test (the metric registry is global). */
const pair = (prefix: string, overrides: Parameters<typeof threeDatabases>[0] = {}) =>
  threeDatabases({
    databases: [
      { id: `${prefix}-east`, url: "redis://east.example:6380/2", weight: 1 },
      { id: `${prefix}-west`, url: "redis://west.example:6379", weight: 0.5 }
    ],
    healthCheckProbes: 1,
    ...overrides
  })

/** Every log line: level, message and annotations. */
const captureLogs = () => {
  const lines: Array<{ level: string; message: string; annotations: Record<string, unknown> }> = []
  const logger = Logger.make(({ annotations, logLevel, message }) => {
    const record: Record<string, unknown> = {}
    for (const [k, v] of annotations) record[k] = v
    lines.push({
      level: logLevel.label,
      message: String(Array.isArray(message) ? message[0] : message),
      annotations: record
    })
  })
  return { lines, layer: Logger.replace(Logger.defaultLogger, logger) }
}

describe("telemetry builders", () => {
  it("names a database's endpoint as the conventions do: address, port, db index; never credentials", () => {
    const decode = Schema.decodeUnknownSync(DatabaseConfig.FromInput)
    const standalone = decode({ id: "a", url: "redis://user:secret@cache.example:6380/3" })
    expect(endpointOf(standalone)).toEqual({ address: "cache.example", port: 6380, namespace: "3" })
    const options = decode({ id: "b", clientOptions: { socket: { host: "10.0.0.7", port: 7000 }, database: 5 } })
    expect(endpointOf(options)).toEqual({ address: "10.0.0.7", port: 7000, namespace: "5" })
    const cluster = decode({
      id: "c",
      cluster: { rootNodes: [{ url: "redis://node-1.example:7001" }, { url: "redis://node-2.example:7002" }] }
    })
    expect(endpointOf(cluster)).toEqual({ address: "node-1.example", port: 7001, namespace: "0" })
  })

  it("gives an error reply's prefix as error.type and db.response.status_code, and other errors their tag", () => {
    const reply = new RedisCommandError({
      database: "a",
      command: "LPUSH",
      reply: "WRONGTYPE Operation against a key holding the wrong kind of value"
    })
    expect(errorAttributes(reply)).toEqual({ errorType: "WRONGTYPE", statusCode: "WRONGTYPE" })
    const lost = new RedisConnectionError({ database: "a", command: "GET", mayHaveExecuted: false, reason: "refused" })
    expect(errorAttributes(lost)).toEqual({ errorType: "RedisConnectionError", statusCode: undefined })
    expect(errorAttributes(new TemporarilyUnavailable({ attempt: 1, maxAttempts: 3 })).errorType).toBe(
      "TemporarilyUnavailable"
    )
  })

  it("names batches PIPELINE and MULTI with their size", () => {
    expect(parseCommandLabel("PIPELINE(SET,INCR)")).toEqual({ name: "PIPELINE", batchSize: 2 })
    expect(parseCommandLabel("MULTI")).toEqual({ name: "MULTI", batchSize: undefined })
    expect(parseCommandLabel("GET")).toEqual({ name: "GET", batchSize: undefined })
  })

  it("shows a command's keys and hides every other argument in db.query.text", () => {
    expect(queryText("set", ["user:1", "secret", { EX: 10 }])).toBe("SET user:1 ? ? ?")
    expect(
      queryText("mSet", [
        [
          ["a", "secret-1"],
          ["b", "secret-2"]
        ]
      ])
    ).toBe("MSET a ? b ?")
    expect(queryText("eval", ["return 'secret'", { keys: ["k"], arguments: ["secret"] }])).toBe("EVAL ? ? k ?")
    expect(queryText("noSuchCommand", ["x"])).toBeUndefined()
  })

  it("reads the tracing option: on by default, keys off unless asked for", () => {
    expect(tracingOptions(undefined)).toEqual({ spans: true, keys: false })
    expect(tracingOptions(false)).toEqual({ spans: false, keys: false })
    expect(tracingOptions({ keys: true })).toEqual({ spans: true, keys: true })
  })
})

describe("spans (in-memory databases, TestClock)", () => {
  it.scoped("a command is one client span with the serving database's attributes and no argument values", () => {
    const { tracer, spans } = recordingTracer()
    return Effect.gen(function* () {
      const { client } = yield* setup(pair("span"))
      yield* client.commands.set("secret-key", "secret-value")
      const set = spans.find((s) => s.name === "SET")!
      expect(set.kind).toBe("client")
      expect(Object.fromEntries(set.attributes)).toEqual({
        "db.system.name": "redis",
        "db.operation.name": "SET",
        "server.address": "east.example",
        "server.port": 6380,
        "db.namespace": "2",
        "multidb.database": "span-east",
        "multidb.attempts": 1
      })
      expect(JSON.stringify([...set.attributes.values()])).not.toContain("secret")
    }).pipe(Effect.withTracer(tracer))
  })

  it.scoped("with tracing: { keys: true } a command span shows its keys, never its values", () => {
    const { tracer, spans } = recordingTracer()
    return Effect.gen(function* () {
      const { client } = yield* setup(pair("keys", { tracing: { keys: true } }))
      yield* client.commands.set("user:1", "secret-value")
      const set = spans.find((s) => s.name === "SET")!
      expect(set.attributes.get("db.query.text")).toBe("SET user:1 ?")
      expect(JSON.stringify([...set.attributes.values()])).not.toContain("secret")
    }).pipe(Effect.withTracer(tracer))
  })

  it.scoped("a retried read records each retry as an event, its attempt count and the database that served it", () => {
    const { tracer, spans } = recordingTracer()
    return Effect.gen(function* () {
      const { client, db } = yield* setup(pair("retry", { healthCheckInterval: "1 minute" }))
      db("retry-east").data.set("k", "east")
      db("retry-west").data.set("k", "west")
      yield* db("retry-east").failCommandsWith(refused)
      yield* db("retry-east").setPingHealthy(false)
      const fiber = yield* Effect.fork(client.commands.get("k"))
      yield* advance(2000, 10)
      expect(yield* Fiber.join(fiber)).toBe("west")
      const get = spans.find((s) => s.name === "GET")!
      const retries = get.events.filter((e) => e.name === "multidb.retry")
      expect(retries.length).toBeGreaterThanOrEqual(1)
      expect(retries[0]!.attributes).toMatchObject({
        "multidb.attempt": 1,
        "multidb.database": "retry-east",
        "error.type": "RedisConnectionError"
      })
      expect(get.attributes.get("multidb.attempts")).toBe(retries.length + 1)
      expect(get.attributes.get("multidb.database")).toBe("retry-west")
      expect(get.attributes.has("error.type")).toBe(false)
      // the failure caused a check of east, a child of the GET span; the failover is a child of that check
      const check = spans.find(
        (s) =>
          s.name === "MultiDbClient.healthCheck" &&
          s.attributes.get("multidb.database") === "retry-east" &&
          s.attributes.get("multidb.healthy") === false
      )!
      expect(check.parentSpanId).toBe(get.spanId)
      expect(check.attributes.get("multidb.healthy")).toBe(false)
      expect(check.events.map((e) => e.name)).toContain("multidb.circuit_state_changed")
      const failover = spans.find((s) => s.name === "MultiDbClient.failover")!
      expect(failover.parentSpanId).toBe(check.spanId)
      expect(failover.traceId).toBe(get.traceId)
      expect(Object.fromEntries(failover.attributes)).toMatchObject({
        "multidb.from": "retry-east",
        "multidb.to": "retry-west",
        "multidb.reason": "automatic"
      })
      expect(String(failover.attributes.get("multidb.cause"))).not.toBe("")
    }).pipe(Effect.withTracer(tracer))
  })

  it.scoped("a scheduled health check is a root span per database; a failed one names its cause", () => {
    const { tracer, spans } = recordingTracer()
    return Effect.gen(function* () {
      const { client, db } = yield* setup(pair("round", { healthCheckInterval: "1 second" }))
      yield* db("round-east").setPingHealthy(false)
      yield* advance(1100, 50)
      expect(yield* activeId(client)).toBe("round-west")
      const checks = spans.filter(
        (s) => s.name === "MultiDbClient.healthCheck" && s.attributes.get("multidb.healthy") === false
      )
      expect(checks.length).toBeGreaterThanOrEqual(1)
      expect(checks[0]!.parentSpanId).toBeUndefined()
      expect(checks[0]!.attributes.get("multidb.database")).toBe("round-east")
      expect(checks[0]!.attributes.has("multidb.cause")).toBe(true)
      const failover = spans.find((s) => s.name === "MultiDbClient.failover")!
      expect(failover.parentSpanId).toBe(checks[0]!.spanId)
      expect(failover.attributes.get("multidb.cause")).toBe(checks[0]!.attributes.get("multidb.cause"))
    }).pipe(Effect.withTracer(tracer))
  })

  it.scoped("with tracing: false the client makes no span and still records db.client.operation.duration", () => {
    const { tracer, spans } = recordingTracer()
    return Effect.gen(function* () {
      const { client, db } = yield* setup(pair("quiet", { tracing: false, healthCheckInterval: "1 second" }))
      yield* client.commands.set("k", "v")
      yield* db("quiet-east").setPingHealthy(false)
      yield* advance(1100, 50)
      yield* client.setActiveDatabase("quiet-west")
      expect(spans.map((s) => s.name)).toEqual([])
      const snapshot = yield* Metric.snapshot
      const points = snapshot.filter(
        (p) =>
          p.metricKey.name === "db.client.operation.duration" &&
          p.metricKey.tags.some((t) => t.key === "multidb.database" && t.value === "quiet-east")
      )
      expect(points.map((p) => (p.metricState as unknown as { count: number }).count)).toEqual([1])
    }).pipe(Effect.withTracer(tracer))
  })
})

describe("logs", () => {
  it.scoped(
    "failover, circuit changes, unavailability and recovery are logged at their levels with annotations",
    () => {
      const logs = captureLogs()
      return Effect.gen(function* () {
        const { client, db } = yield* setup(
          pair("logs", { healthCheckInterval: "1 second", failoverDelay: "1 second" })
        )
        yield* db("logs-east").setPingHealthy(false)
        yield* advance(1100, 50)
        expect(yield* activeId(client)).toBe("logs-west")
        yield* db("logs-west").setPingHealthy(false)
        yield* advance(1100, 50)
        expect(yield* activeId(client)).toBe(undefined)
        const find = (message: string) => logs.lines.filter((l) => l.message === message)
        expect(find("MultiDbClient: circuit opened").map((l) => [l.level, l.annotations["database"]])).toEqual([
          ["WARN", "logs-east"],
          ["WARN", "logs-west"]
        ])
        expect(find("MultiDbClient: failed over").map((l) => [l.level, l.annotations])).toEqual([
          [
            "WARN",
            expect.objectContaining({
              from: "logs-east",
              to: "logs-west",
              reason: "automatic",
              cause: expect.any(String)
            })
          ]
        ])
        const unavailable = find("MultiDbClient: all databases unavailable")
        expect(unavailable[0]).toMatchObject({ level: "ERROR", annotations: { attempt: 1 } })
        yield* db("logs-west").setPingHealthy(true)
        yield* advance(62_000, 500)
        expect(yield* activeId(client)).not.toBe(undefined)
        const back = find("MultiDbClient: a database is available again")
        expect(back.map((l) => l.level)).toEqual(["INFO"])
        expect(Number(back[0]!.annotations["unavailableSeconds"])).toBeGreaterThan(0)
        expect(find("MultiDbClient: circuit closed").map((l) => l.level)).toContain("INFO")
      }).pipe(Effect.provide(logs.layer), Logger.withMinimumLogLevel(LogLevel.All))
    }
  )
})
