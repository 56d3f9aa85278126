import { inspect } from "node:util"
import { describe, expect, it } from "@effect/vitest"
import { Certificates, FaultProxy, RedisServer } from "@effect-redis/testkit"
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
  brokenUrlPassword: "Broken-url-s9t0u1"
}

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
    for (const [name, secret] of Object.entries(secrets)) {
      if (name === "rightPassword") continue
      const at = texts.find((t) => t.includes(secret))
      if (at !== undefined) found.push(`${name} in: ${at.slice(0, 300)}`)
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
})
