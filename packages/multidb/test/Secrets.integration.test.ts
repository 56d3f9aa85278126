import { inspect } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import { Certificates, FaultProxy, RedisServer, RestApiServer } from "@effect-redis/testkit"
import {
  Cause,
  type Context,
  Effect,
  Exit,
  HashMap,
  Inspectable,
  Layer,
  List,
  Logger,
  LogLevel,
  Option,
  Stream,
  Tracer
} from "effect"
import type * as DatabaseConfig from "../src/DatabaseConfig.js"
import * as HealthCheck from "../src/HealthCheck.js"
import { encodings } from "../src/internal/lagAware.js"
import * as LagAwareHealthCheck from "../src/LagAwareHealthCheck.js"
import * as MultiDbClient from "../src/MultiDbClient.js"
import type * as MultiDbConfig from "../src/MultiDbConfig.js"
import * as MultiDbEvents from "../src/MultiDbEvents.js"
import { nodeRedis, RedisConnector } from "../src/RedisConnection.js"
import { waitFor } from "./integration.helpers.js"

/**
 * Every secret below is distinct, so a leak names its source. Each is scanned for in every output the library makes:
 * errors (message, String, JSON, inspect, Cause.pretty), events, logs (a test Logger) and spans (a test Tracer:
 * attributes, events and exits).
 */
const secrets = {
  rightPassword: "Right-pass-a1b2c3",
  urlPassword: "Url-wrong-d4e5f6",
  optionsPassword: "Options-wrong-g7h8i9",
  passphrase: "Key-passphrase-j0k1l2",
  wrongPassphrase: "Wrong-passphrase-m3n4o5",
  addPassword: "Add-wrong-p6q7r8",
  brokenUrlPassword: "Broken-url-s9t0u1",
  // quote, backslash, tab, runs of spaces, slash, non-ASCII, & and =: its raw, JSON-escaped and URL-encoded forms differ
  restPassword: `Rest-basic-v2w3x4"\\\tq  r/é&z=1`
}

const restUser = "ops@example.com"

/**
 * Every form in which a secret must not appear: its raw, JSON-escaped and URL-encoded forms; for the REST API
 * password also the base64 basic-auth token and its first characters (a secret cut by a trim leaks its beginning).
 */
const forbidden: ReadonlyArray<readonly [string, string]> = Object.entries(secrets).flatMap(([name, secret]) =>
  name === "rightPassword"
    ? []
    : [
        ...encodings(secret).map((form) => [name, form] as const),
        ...(name === "restPassword"
          ? [
              [name, Buffer.from(`${restUser}:${secret}`).toString("base64")] as const,
              [name, secret.slice(0, 12)] as const
            ]
          : [])
      ]
)

/** Everything the library printed, emitted or recorded during a test. */
const capture = () => {
  const texts: Array<string> = []
  const show = (value: unknown) => {
    try {
      texts.push(typeof value === "string" ? value : inspect(value, { depth: 12 }))
      texts.push(Inspectable.format(value))
      texts.push(JSON.stringify(value) ?? "")
    } catch {
      texts.push(String(value))
    }
  }
  const logger = Logger.make(({ message, cause, annotations, spans }) => {
    show(message)
    if (!Cause.isEmpty(cause)) show(Cause.pretty(cause))
    show(HashMap.toEntries(annotations))
    show(List.toArray(spans).map((s) => s.label))
  })
  const spanOf = (
    name: string,
    parent: Option.Option<Tracer.AnySpan>,
    context: Context.Context<never>,
    links: ReadonlyArray<Tracer.SpanLink>,
    startTime: bigint,
    kind: Tracer.SpanKind
  ): Tracer.Span => {
    const attributes = new Map<string, unknown>()
    const span: Tracer.Span = {
      _tag: "Span",
      name,
      spanId: Math.random().toString(16).slice(2),
      traceId: "trace",
      parent,
      context,
      status: { _tag: "Started", startTime },
      attributes,
      links,
      sampled: true,
      kind,
      end: (_, exit) => {
        show(name)
        show([...attributes.entries()])
        if (Exit.isFailure(exit)) {
          show(Cause.pretty(exit.cause))
          show(Cause.squash(exit.cause))
        }
      },
      attribute: (key, value) => {
        attributes.set(key, value)
      },
      event: (eventName, _, eventAttributes) => show([eventName, eventAttributes]),
      addLinks: () => {}
    }
    return span
  }
  const tracer = Tracer.make({ span: spanOf, context: (f) => f() })
  const layer = Layer.mergeAll(
    Logger.replace(Logger.defaultLogger, logger),
    Layer.setTracer(tracer),
    Logger.minimumLogLevel(LogLevel.All)
  )
  const leaks = () => {
    const found: Array<string> = []
    for (const [name, form] of forbidden) {
      const at = texts.find((t) => t.includes(form))
      if (at !== undefined) found.push(`${name} (${JSON.stringify(form)}) in: ${at.slice(0, 300)}`)
    }
    return found
  }
  const saw = (text: string) => texts.some((t) => t.includes(text))
  return { texts, show, layer, leaks, saw }
}

/** Starts a client from `input`, recording events from before the start; succeeds with how the start ended. */
const startClient = (input: MultiDbConfig.Input, show: (value: unknown) => void) =>
  Effect.gen(function* () {
    const bus = yield* MultiDbEvents.make()
    yield* Stream.fromPubSub(bus).pipe(
      Stream.runForEach((event) => Effect.sync(() => show(event))),
      Effect.forkScoped
    )
    yield* Effect.yieldNow()
    const exit = yield* MultiDbClient.fromInput(input).pipe(
      Effect.provideService(RedisConnector, nodeRedis),
      Effect.provideService(MultiDbEvents.MultiDbEvents, bus),
      Effect.exit
    )
    if (Exit.isFailure(exit)) {
      show(Cause.pretty(exit.cause))
      show(Cause.squash(exit.cause))
      const failure = Cause.failureOption(exit.cause)
      if (Option.isSome(failure)) show((failure.value as { message?: unknown }).message)
    }
    return exit
  })

const fast = {
  commandTimeout: "500 millis",
  connectTimeout: "500 millis",
  healthCheckProbes: 1,
  healthCheckTimeout: "1 second",
  initialHealthCheckPolicy: "one"
} as const

describe("no secret appears in any output (issue 13)", () => {
  it.scopedLive(
    "a wrong password in the URL, in client options, rediss:// to a plain server, a wrong key passphrase",
    () => {
      const { show, layer, leaks } = capture()
      return Effect.gen(function* () {
        const server = yield* RedisServer.make({ password: secrets.rightPassword })
        const certificates = yield* Certificates.make()
        const tlsServer = yield* RedisServer.make({ tls: certificates })
        const encrypted = yield* certificates.encryptedClient(secrets.passphrase)
        const port = server.port
        const cases: ReadonlyArray<MultiDbConfig.Input> = [
          { databases: [{ id: "url", url: `redis://default:${secrets.urlPassword}@127.0.0.1:${port}` }], ...fast },
          {
            databases: [
              { id: "options", url: `redis://127.0.0.1:${port}`, clientOptions: { password: secrets.optionsPassword } }
            ],
            ...fast
          },
          { databases: [{ id: "tls-mismatch", url: `rediss://:${secrets.urlPassword}@127.0.0.1:${port}` }], ...fast },
          {
            databases: [
              {
                id: "passphrase",
                url: `rediss://:${secrets.urlPassword}@127.0.0.1:${tlsServer.port}`,
                clientOptions: {
                  socket: {
                    tls: true,
                    ca: certificates.ca,
                    cert: encrypted.cert,
                    key: encrypted.key,
                    passphrase: secrets.wrongPassphrase
                  }
                }
              }
            ],
            ...fast
          }
        ]
        for (const input of cases) {
          const exit = yield* startClient(input, show)
          expect(Exit.isFailure(exit)).toBe(true)
        }
        expect(leaks()).toEqual([])
      }).pipe(Effect.provide(layer))
    }
  )

  it.scopedLive("addDatabase with bad configs and a wrong password, and commands failing on a killed database", () => {
    const { show, layer, leaks, saw } = capture()
    return Effect.gen(function* () {
      const east = yield* RedisServer.make({ password: secrets.rightPassword })
      const proxy = yield* FaultProxy.make({ target: east })
      const other = yield* RedisServer.make({ password: secrets.rightPassword })
      const exit = yield* startClient(
        { databases: [{ id: "east", url: proxy.url }], ...fast, autoFallbackInterval: 0 },
        show
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      if (Exit.isFailure(exit)) return
      const client = exit.value
      const attempts: ReadonlyArray<DatabaseConfig.Input> = [
        { id: "path", url: `redis://:${secrets.brokenUrlPassword}@127.0.0.1:${other.port}/abc` },
        { id: "port", url: `redis://:${secrets.brokenUrlPassword}@127.0.0.1:70000` },
        { id: "scheme", url: `http://:${secrets.brokenUrlPassword}@127.0.0.1:1` },
        { id: "ipv6", url: `redis://:${secrets.brokenUrlPassword}@::1:6379` },
        { url: `redis://:${secrets.brokenUrlPassword}@127.0.0.1:${other.port}`, wieght: 1 } as DatabaseConfig.Input,
        { id: "wrong", url: `redis://:${secrets.addPassword}@127.0.0.1:${other.port}` },
        { id: "east", url: `redis://:${secrets.addPassword}@127.0.0.1:${other.port}` }
      ]
      for (const attempt of attempts) {
        const result = yield* Effect.exit(client.addDatabase(attempt))
        expect(Exit.isFailure(result)).toBe(true)
        if (Exit.isFailure(result)) {
          show(Cause.pretty(result.cause))
          show(Cause.squash(result.cause))
        }
      }
      yield* east.kill
      for (let i = 0; i < 5; i++) {
        const result = yield* Effect.exit(client.commands.set(`k${i}`, "v"))
        if (Exit.isFailure(result)) show(Cause.squash(result.cause))
      }
      yield* waitFor(
        "a health check to see the dead database",
        Effect.map(client.databases, (list) => list.some((d) => d.circuit !== "closed"))
      ).pipe(Effect.ignore)
      expect(saw("MultiDbClient.addDatabase")).toBe(true)
      expect(saw("InvalidRequest")).toBe(true)
      expect(saw("UnhealthyDatabase")).toBe(true)
      expect(leaks()).toEqual([])
    }).pipe(Effect.provide(layer))
  })

  it.scopedLive(
    "a client whose lag-aware check uses basic auth, against a REST API whose failures echo the password",
    () => {
      const { show, layer, leaks, saw } = capture()
      return Effect.gen(function* () {
        const password = secrets.restPassword
        const token = Buffer.from(`${restUser}:${password}`).toString("base64")
        const certificates = yield* Certificates.make()
        const tls = { cert: certificates.server.cert, key: certificates.server.key, ca: certificates.ca }
        const basicAuth = { username: restUser, password }
        const east = yield* RedisServer.make()
        const west = yield* RedisServer.make()
        const restApiOf = (redis: RedisServer.Service, uid: number) =>
          RestApiServer.make({
            tls,
            basicAuth,
            bdbs: [{ uid, endpoints: [{ dns_name: "localhost", addr: ["127.0.0.1"], port: redis.port }] }]
          })
        const eastRest = yield* restApiOf(east, 1)
        const westRest = yield* restApiOf(west, 2)
        const lagAware = yield* LagAwareHealthCheck.makeDefault({
          basicAuth,
          caData: certificates.ca,
          timeout: "500 millis"
        })
        const input: MultiDbConfig.Input = {
          databases: [
            { id: "east", url: east.url, healthCheckUrl: eastRest.url },
            { id: "west", url: west.url, weight: 0.5, healthCheckUrl: westRest.url }
          ],
          healthChecks: [HealthCheck.ping, lagAware],
          ...fast,
          healthCheckInterval: "200 millis",
          autoFallbackInterval: 0,
          initialHealthCheckPolicy: "all"
        }
        const padded = (text: string) => `${"x ".repeat(140)}${text}`

        // the start fails: one REST API answers 401 echoing the password and the token, the other 500 echoing JSON
        yield* eastRest.fail("bdbs", RestApiServer.Failure.status(401, `bad ${password} (${token})`, "text/plain"))
        yield* westRest.fail("bdbs", RestApiServer.Failure.status(500, { error: "internal", echo: password }))
        const failed = yield* startClient(input, show)
        expect(Exit.isFailure(failed)).toBe(true)
        expect(saw("InitialHealthCheckFailed")).toBe(true)

        // a client that started: each way the active database's REST API fails is checked, and traffic moves to west
        yield* eastRest.recover()
        yield* westRest.recover()
        const started = yield* startClient(input, show)
        expect(Exit.isSuccess(started)).toBe(true)
        if (Exit.isFailure(started)) return
        const client = started.value
        yield* client.commands.set("before", "v")
        const provocations: ReadonlyArray<Effect.Effect<unknown, unknown>> = [
          eastRest.fail("availability", RestApiServer.Failure.status(500, { echo: password, token })),
          eastRest.fail("availability", RestApiServer.Failure.status(500, padded(password), "text/plain")),
          eastRest.fail(
            "availability",
            RestApiServer.Failure.status(401, `pw=${encodeURIComponent(password)}&t=${token}`, "text/plain")
          ),
          eastRest.fail(
            "availability",
            RestApiServer.Failure.status(403, new URLSearchParams({ pw: password }).toString(), "text/plain")
          ),
          eastRest.fail(
            "availability",
            RestApiServer.Failure.status(503, `unavailable; credentials were ${token} ${password}`, "text/plain")
          ),
          // new uids: the cached one answers 404, so the bdbs are listed again
          Effect.all([
            eastRest.recover(),
            eastRest.setBdbs([{ uid: 11, endpoints: [{ addr: ["127.0.0.1"], port: east.port }] }]),
            eastRest.fail("bdbs", RestApiServer.Failure.notJson(`<p>${password} ${token}</p>`))
          ]),
          eastRest.fail("bdbs", RestApiServer.Failure.status(200, [{ uid: { secret: password } }])),
          Effect.zipRight(
            eastRest.recover(),
            eastRest.setBdbs([{ uid: 12, endpoints: [{ dns_name: padded(password) }] }])
          ),
          Effect.zipRight(eastRest.setBdbs([]), eastRest.fail("bdbs", RestApiServer.Failure.hang)),
          eastRest.fail("bdbs", RestApiServer.Failure.reset),
          eastRest.stop
        ]
        for (const provoke of provocations) {
          yield* provoke
          // the first may join a check that started before the failure was set; the second starts after it
          yield* client.checkHealth("east")
          yield* client.checkHealth("east")
          const info = (yield* client.databases).find((d) => d.id === "east")
          show(info)
          expect(Option.map(info!.lastHealthCheck, (result) => result.healthy)).toEqual(Option.some(false))
        }
        yield* waitFor(
          "traffic to move to west",
          Effect.map(client.activeDatabase, (active) => Option.isSome(active) && active.value.id === "west")
        )
        yield* client.commands.set("after", "v")
        show(yield* client.databases)

        expect(leaks()).toEqual([])
        expect(saw("ActiveDatabaseChanged")).toBe(true)
        expect(saw("LagAwareHealthCheck.probe")).toBe(true)
        expect(saw("http.client GET")).toBe(true)
        for (const status of [401, 403, 500, 503]) expect(saw(`answered ${status}`), `${status}`).toBe(true)
        expect(saw("<redacted>")).toBe(true)
      }).pipe(Effect.provide(layer))
    }
  )
})
