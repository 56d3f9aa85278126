import { describe, expect, it } from "@effect/vitest"
import { Certificates, FaultProxy, RedisServer } from "@effect-redis/testkit"
import { Cause, Effect, Exit, Option, Stream } from "effect"
import type * as FailureCause from "../src/FailureCause.js"
import * as MultiDbClient from "../src/MultiDbClient.js"
import type * as MultiDbConfig from "../src/MultiDbConfig.js"
import type { MultiDbEvent } from "../src/MultiDbEvent.js"
import * as MultiDbEvents from "../src/MultiDbEvents.js"
import { nodeRedis, RedisConnector } from "../src/RedisConnection.js"

const options = {
  commandTimeout: "1 second",
  connectTimeout: "1 second",
  healthCheckProbes: 1,
  healthCheckTimeout: "2 seconds",
  initialHealthCheckPolicy: "all"
} as const

/** Starts a client on one database that cannot be used; succeeds with the start's error and the events seen. */
const failedStart = (database: MultiDbConfig.Input["databases"][number]) =>
  Effect.gen(function* () {
    const bus = yield* MultiDbEvents.make()
    const events: Array<MultiDbEvent> = []
    yield* Stream.fromPubSub(bus).pipe(
      Stream.runForEach((event) => Effect.sync(() => events.push(event))),
      Effect.forkScoped
    )
    yield* Effect.yieldNow()
    const exit = yield* MultiDbClient.fromInput({ databases: [database], ...options }).pipe(
      Effect.provideService(RedisConnector, nodeRedis),
      Effect.provideService(MultiDbEvents.MultiDbEvents, bus),
      Effect.exit
    )
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? Option.getOrThrow(Cause.failureOption(exit.cause)) : undefined
    if (error?._tag !== "InitialHealthCheckFailed") throw new Error(`expected InitialHealthCheckFailed, got ${error}`)
    const id = error.unhealthy[0]!
    const health = events.find((e) => e._tag === "HealthCheckCompleted" && !e.healthy)
    return {
      error,
      cause: error.causes[id],
      event: health?._tag === "HealthCheckCompleted" ? health.failure : undefined
    }
  })

const expectKind = (
  found: { cause: FailureCause.FailureCause | undefined; event: FailureCause.FailureCause | undefined },
  kind: FailureCause.Kind,
  message: RegExp
) => {
  expect(found.cause?.kind).toBe(kind)
  expect(found.cause?.message).toMatch(message)
  expect(found.event?.kind).toBe(kind)
}

describe("every failure says why: the cause travels in InitialHealthCheckFailed and health events (issue 13)", () => {
  it.scopedLive("a wrong password: auth, WRONGPASS", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make({ password: "right-one" })
      const found = yield* failedStart({ id: "east", url: `redis://default:wrong-one@127.0.0.1:${server.port}` })
      expectKind(found, "auth", /WRONGPASS/)
      expect(found.error.message).toMatch(/unhealthy \[east \(auth: .*WRONGPASS/)
      expect(found.error.message).not.toContain("wrong-one")
    })
  )

  it.scopedLive("no password where one is needed: auth, NOAUTH", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make({ password: "right-one" })
      const found = yield* failedStart({ id: "east", url: `redis://127.0.0.1:${server.port}` })
      expectKind(found, "auth", /NOAUTH/)
    })
  )

  it.scopedLive("rediss:// to a plain server: the handshake gets no answer, a connect timeout", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make()
      const found = yield* failedStart({ id: "east", url: `rediss://127.0.0.1:${server.port}` })
      // a plain redis-server buffers the ClientHello waiting for a newline: the TLS handshake never completes
      expectKind(found, "timeout", /timeout/i)
    })
  )

  it.scopedLive("an untrusted CA: tls, self-signed / unable to verify", () =>
    Effect.gen(function* () {
      const certificates = yield* Certificates.make()
      const server = yield* RedisServer.make({ tls: certificates })
      const found = yield* failedStart({ id: "east", url: `rediss://127.0.0.1:${server.port}` })
      expectKind(found, "tls", /certificate/i)
    })
  )

  it.scopedLive("mTLS without a client certificate: tls", () =>
    Effect.gen(function* () {
      const certificates = yield* Certificates.make()
      const server = yield* RedisServer.make({ tls: certificates, args: ["--tls-auth-clients", "yes"] })
      const found = yield* failedStart({
        id: "east",
        url: `rediss://127.0.0.1:${server.port}`,
        clientOptions: { socket: { tls: true, ca: certificates.ca } }
      })
      // TLS 1.3: the client's side of the handshake completes before the server judges the certificate, so the
      // server's alert arrives after the connection looked up (node-redis 5 even reports it ready); the cause is the
      // alert all the same, on node-redis 5 and 6
      expectKind(found, "tls", /ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|certificate required/i)
    })
  )

  it.scopedLive("a wrong key passphrase: tls, bad decrypt", () =>
    Effect.gen(function* () {
      const certificates = yield* Certificates.make()
      const server = yield* RedisServer.make({ tls: certificates, args: ["--tls-auth-clients", "yes"] })
      const encrypted = yield* certificates.encryptedClient("the-right-passphrase")
      const found = yield* failedStart({
        id: "east",
        url: `rediss://127.0.0.1:${server.port}`,
        clientOptions: {
          socket: { tls: true, ca: certificates.ca, cert: encrypted.cert, key: encrypted.key, passphrase: "wrong" }
        }
      })
      // OpenSSL says "bad decrypt", or, when the wrongly decrypted bytes happen to end in valid padding (about 1 in
      // 150 random keys), that they are no key it can decode ("DECODER routines::unsupported")
      expectKind(found, "tls", /decrypt|passphrase|key|DECODER routines::unsupported/i)
    })
  )

  it.scopedLive("a plain client against a TLS server: not 'offline' but what the socket saw", () =>
    Effect.gen(function* () {
      const certificates = yield* Certificates.make()
      const server = yield* RedisServer.make({ tls: certificates })
      const found = yield* failedStart({ id: "east", url: `redis://127.0.0.1:${server.port}` })
      expect(["protocol", "connection", "timeout"]).toContain(found.cause?.kind)
      expect(found.cause?.message).not.toMatch(/^The client is offline$/)
    })
  )

  it.scopedLive("a name that does not resolve: dns, ENOTFOUND", () =>
    Effect.gen(function* () {
      const found = yield* failedStart({ id: "east", url: "redis://nowhere.invalid:6379" })
      expectKind(found, "dns", /ENOTFOUND|EAI_AGAIN/)
    })
  )

  it.scopedLive("a refused port: refused, ECONNREFUSED", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make()
      yield* server.kill
      const found = yield* failedStart({ id: "east", url: `redis://127.0.0.1:${server.port}` })
      expectKind(found, "refused", /ECONNREFUSED/)
    })
  )

  it.scopedLive("a DB index out of range: reply, ERR DB index is out of range", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make()
      const found = yield* failedStart({ id: "east", url: `redis://127.0.0.1:${server.port}/99` })
      expectKind(found, "reply", /DB index is out of range/)
    })
  )

  it.scopedLive("addDatabase fails with UnhealthyDatabase carrying the cause", () =>
    Effect.gen(function* () {
      const good = yield* RedisServer.make()
      const locked = yield* RedisServer.make({ password: "right-one" })
      const client = yield* MultiDbClient.fromInput({ databases: [{ id: "east", url: good.url }], ...options }).pipe(
        Effect.provideService(RedisConnector, nodeRedis)
      )
      const error = yield* Effect.flip(
        client.addDatabase({ id: "west", url: `redis://default:nope@127.0.0.1:${locked.port}` })
      )
      expect(error._tag).toBe("UnhealthyDatabase")
      if (error._tag === "UnhealthyDatabase") expect(error.failure?.kind).toBe("auth")
    })
  )

  it.scopedLive("a write cut by a hang fails with RedisConnectionError carrying a timeout cause", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make()
      const proxy = yield* FaultProxy.make({ target: server })
      const client = yield* MultiDbClient.fromInput({ databases: [{ id: "east", url: proxy.url }], ...options }).pipe(
        Effect.provideService(RedisConnector, nodeRedis)
      )
      yield* proxy.setMode(FaultProxy.Mode.blackhole)
      const error = yield* Effect.flip(client.commands.set("k", "v"))
      expect(error._tag).toBe("RedisConnectionError")
      if (error._tag === "RedisConnectionError") {
        expect(error.mayHaveExecuted).toBe(true)
        expect(error.failure?.kind).toBe("timeout")
      }
    })
  )
})
