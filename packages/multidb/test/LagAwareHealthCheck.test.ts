import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, layer } from "@effect/vitest"
import { Duration, Effect, Option, Redacted, Schedule, Stream } from "effect"
import * as Certificates from "../../testkit/src/Certificates.js"
import * as RestApiServer from "../../testkit/src/RestApiServer.js"
import * as HealthCheck from "../src/HealthCheck.js"
import * as InMemoryConnection from "../src/InMemoryConnection.js"
import * as LagAwareHealthCheck from "../src/LagAwareHealthCheck.js"
import * as MultiDbClient from "../src/MultiDbClient.js"
import type * as MultiDbConfig from "../src/MultiDbConfig.js"
import type { MultiDbEvent } from "../src/MultiDbEvent.js"
import { type HealthConnection, RedisConnector } from "../src/RedisConnection.js"

const eastHost = "redis-12000.east.example"
const westHost = "redis-12000.west.example"

const bdbs: ReadonlyArray<RestApiServer.Bdb> = [
  { uid: 1, name: "east", endpoints: [{ dns_name: eastHost, addr: ["10.0.0.1"], port: 12000 }] },
  { uid: 2, name: "west", endpoints: [{ dns_name: westHost, addr: ["10.0.1.1"], port: 12000 }] }
]

const unusedConnection = {} as HealthConnection

const target = (
  server: RestApiServer.Service,
  hosts: ReadonlyArray<string> = [eastHost],
  healthCheckUrl: string = server.healthCheckUrl
): HealthCheck.Target => ({ database: "east", hosts, healthCheckUrl, connection: unusedConnection })

const defaults: HealthCheck.Defaults = {
  probes: 1,
  probesDelay: Duration.zero,
  timeout: Duration.seconds(10),
  policy: "all"
}

/** What the engine makes of one run of the check. */
const run = (check: HealthCheck.HealthCheck, on: HealthCheck.Target) => HealthCheck.run([check], on, defaults)

/** The check on the default transport, trusting the server's CA unless told otherwise. */
const check = (server: RestApiServer.Service, options: LagAwareHealthCheck.Options = {}) =>
  LagAwareHealthCheck.makeDefault({ restApiPort: server.port, caData: server.ca!, ...options })

const requestLine = (r: RestApiServer.RequestRecord) =>
  `${r.path}${Object.keys(r.query).length === 0 ? "" : `?${new URLSearchParams(r.query as Record<string, string>)}`}`

/** A temp dir removed with the scope. */
const tempDir = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "lag-aware-test-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

/** Polls `condition` every 20 ms until it holds; dies after `bound`. */
const waitUntil = <E>(
  condition: Effect.Effect<boolean, E>,
  what: string,
  bound: Duration.DurationInput = "10 seconds"
) =>
  condition.pipe(
    Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (holds) => holds }),
    Effect.timeoutFail({
      duration: bound,
      onTimeout: () => new Error(`not within ${Duration.format(bound)}: ${what}`)
    }),
    Effect.orDie,
    Effect.asVoid
  )

/** A REST API stand-in with the shared test certificates. */
const serve = (options: Omit<RestApiServer.Options, "tls"> & { readonly tls?: RestApiServer.Options["tls"] } = {}) =>
  Effect.flatMap(Certificates.Certificates, (certificates) =>
    RestApiServer.make({
      tls: { cert: certificates.server.cert, key: certificates.server.key, ca: certificates.ca },
      ...options
    })
  )

// ---- with the engine ------------------------------------------------------------------------------------------

const startClient = (input: MultiDbConfig.Input) =>
  Effect.gen(function* () {
    const { connector, registry } = yield* InMemoryConnection.make
    const client = yield* MultiDbClient.fromInput(input).pipe(Effect.provideService(RedisConnector, connector))
    const events: Array<MultiDbEvent> = []
    yield* client.events.pipe(
      Stream.runForEach((e) => Effect.sync(() => events.push(e))),
      Effect.forkScoped
    )
    yield* Effect.yieldNow()
    return { client, db: registry.database, events }
  })

const activeId = (client: MultiDbClient.MultiDbClient) =>
  Effect.map(client.activeDatabase, Option.match({ onNone: () => undefined, onSome: (d) => d.id }))

const healthEvents = (events: ReadonlyArray<MultiDbEvent>, database: string) =>
  events.filter(
    (e): e is Extract<MultiDbEvent, { _tag: "HealthCheckCompleted" }> =>
      e._tag === "HealthCheckCompleted" && e.database === database
  )

const fastOptions = {
  healthCheckInterval: "200 millis",
  healthCheckProbes: 1,
  healthCheckProbesDelay: "0 millis",
  healthCheckTimeout: "2 seconds",
  autoFallbackInterval: "300 millis",
  commandTimeout: "100 millis",
  failoverDelay: "200 millis"
} as const

layer(Certificates.layer(), { excludeTestServices: true })("LagAwareHealthCheck", (it) => {
  describe("protocol", () => {
    it.scoped("finds the bdb by DNS name, then asks for its availability with the lag tolerance", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        const lagAware = yield* check(server)
        expect(lagAware.name).toBe("lag-aware")
        expect(lagAware.failbackOnly).toBe(false)
        expect(yield* run(lagAware, target(server))).toEqual({ healthy: true, failbackAllowed: true })
        const requests = yield* server.requests
        expect(requests.map(requestLine)).toEqual([
          "/v1/bdbs",
          "/v1/bdbs/1/availability?extend_check=lag&availability_lag_tolerance_ms=100"
        ])
        expect(requests.every((r) => r.method === "GET" && r.status === 200)).toBe(true)
      })
    )

    it.scoped("finds the bdb by an address of its endpoint", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        const lagAware = yield* check(server)
        expect(yield* run(lagAware, target(server, ["10.0.1.1"]))).toMatchObject({ healthy: true })
        expect((yield* server.requests).map((r) => r.path)).toContain("/v1/bdbs/2/availability")
      })
    )

    it.scoped("for a cluster database matches any configured host, preferring a DNS-name match", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        const lagAware = yield* check(server)
        expect(yield* run(lagAware, target(server, ["10.9.9.9", "10.0.0.1", westHost]))).toMatchObject({
          healthy: true
        })
        expect((yield* server.requests).map((r) => r.path)).toEqual(["/v1/bdbs", "/v1/bdbs/2/availability"])
      })
    )

    it.scoped("is unhealthy while the lag exceeds lagAwareTolerance, with the status and body in the cause", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        yield* server.setLag(1, 250)
        const strict = yield* check(server)
        const result = yield* run(strict, target(server))
        expect(result.healthy).toBe(false)
        expect(result.cause).toMatch(
          /^lag-aware: unhealthy: GET https:\/\/127\.0\.0\.1:\d+\/v1\/bdbs\/1\/availability\?\S+ answered 503/
        )
        expect(result.cause).toContain("bdb_lag_exceeds_tolerance")
        expect(result.cause).toContain("replication lag 250 ms exceeds the tolerance of 100 ms")
        const lenient = yield* check(server, { lagAwareTolerance: "300 millis" })
        expect(yield* run(lenient, target(server))).toMatchObject({ healthy: true })
        expect((yield* server.requests).at(-1)!.query).toEqual({
          extend_check: "lag",
          availability_lag_tolerance_ms: "300"
        })
      })
    )

    it.scoped("caches the bdb uid and looks it up again when the availability call answers 404", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        const lagAware = yield* check(server)
        expect(yield* run(lagAware, target(server))).toMatchObject({ healthy: true })
        expect(yield* run(lagAware, target(server))).toMatchObject({ healthy: true })
        expect((yield* server.requests).map((r) => r.path)).toEqual([
          "/v1/bdbs",
          "/v1/bdbs/1/availability",
          "/v1/bdbs/1/availability"
        ])
        yield* server.clearRequests
        yield* server.setBdbs([{ ...bdbs[0]!, uid: 7 }, bdbs[1]!])
        expect(yield* run(lagAware, target(server))).toMatchObject({ healthy: true })
        expect((yield* server.requests).map((r) => `${r.path} ${r.status}`)).toEqual([
          "/v1/bdbs/1/availability 404",
          "/v1/bdbs 200",
          "/v1/bdbs/7/availability 200"
        ])
      })
    )
  })

  describe("options", () => {
    it.scoped("appends restApiPort to healthCheckUrl (9443 by default) unless the URL names a port", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        const byDefault = yield* LagAwareHealthCheck.makeDefault({ caData: server.ca!, timeout: "2 seconds" })
        const result = yield* run(byDefault, target(server))
        expect(result.healthy).toBe(false)
        expect(result.cause).toContain("https://127.0.0.1:9443/v1/bdbs")
        const explicit = yield* LagAwareHealthCheck.makeDefault({ caData: server.ca!, restApiPort: 1 })
        expect(yield* run(explicit, target(server, [eastHost], server.url))).toMatchObject({ healthy: true })
      })
    )

    it.scoped("bounds each HTTP call by timeout", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        yield* server.fail("availability", RestApiServer.Failure.hang)
        const lagAware = yield* check(server, { timeout: "300 millis" })
        const started = Date.now()
        const result = yield* run(lagAware, target(server))
        expect(Date.now() - started).toBeLessThan(5_000)
        expect(result.healthy).toBe(false)
        expect(result.cause).toMatch(/availability\S* did not answer within 300ms \(timeout\)$/)
        yield* server.recover()
        expect(yield* run(lagAware, target(server))).toMatchObject({ healthy: true })
      })
    )

    it.scoped("sends basic auth and keeps the password out of causes, even when the server echoes it", () =>
      Effect.gen(function* () {
        const password = "s3cr3t-Pa55"
        const server = yield* serve({ bdbs, basicAuth: { username: "admin@example.com", password } })
        const anonymous = yield* check(server)
        const denied = yield* run(anonymous, target(server))
        expect(denied.cause).toMatch(/answered 401 \(check basicAuth: username and password\)/)

        const good = yield* check(server, { basicAuth: { username: "admin@example.com", password } })
        expect(yield* run(good, target(server))).toMatchObject({ healthy: true })
        const redacted = yield* check(server, {
          basicAuth: { username: "admin@example.com", password: Redacted.make(password) }
        })
        expect(yield* run(redacted, target(server))).toMatchObject({ healthy: true })
        expect((yield* server.requests).filter((r) => r.authorization === "accepted")).toHaveLength(4)

        const wrong = yield* check(server, { basicAuth: { username: "admin@example.com", password: "wrong-Pa55" } })
        const rejected = yield* run(wrong, target(server))
        expect(rejected.cause).toContain("answered 401")
        expect(rejected.cause).not.toContain("wrong-Pa55")

        const token = Buffer.from(`admin@example.com:${password}`).toString("base64")
        yield* server.fail(
          "availability",
          RestApiServer.Failure.status(500, { error: `bad request with ${password}`, header: `Basic ${token}` })
        )
        const echoed = yield* run(good, target(server))
        expect(echoed.cause).toContain("answered 500")
        expect(echoed.cause).toContain("<redacted>")
        expect(echoed.cause).not.toContain(password)
        expect(echoed.cause).not.toContain(token)
      })
    )

    it.scoped("takes credentials from the userinfo of healthCheckUrl and never shows them", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs, basicAuth: { username: "ops", password: "Url-Pa55" } })
        const lagAware = yield* check(server)
        expect(yield* run(lagAware, target(server, [eastHost], "https://ops:Url-Pa55@127.0.0.1"))).toMatchObject({
          healthy: true
        })
        const rejected = yield* run(lagAware, target(server, [eastHost], "https://ops:Other-Pa55@127.0.0.1"))
        expect(rejected.cause).toContain("answered 401")
        expect(rejected.cause).toContain("https://127.0.0.1:")
        expect(rejected.cause).not.toContain("Other-Pa55")
        expect(rejected.cause).not.toContain("ops:")
      })
    )

    it.scoped("verifies TLS by default: a server whose CA is not given is unhealthy", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        const lagAware = yield* LagAwareHealthCheck.makeDefault({ restApiPort: server.port })
        const result = yield* run(lagAware, target(server))
        expect(result.healthy).toBe(false)
        expect(result.cause).toMatch(/not signed by a trusted CA \(\w+\); give its CA with caFile, caPath or caData/)
      })
    )

    it.scoped("trusts the CA given as caFile, caPath, caData PEM or caData DER", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        const certificates = yield* Certificates.Certificates
        const dir = yield* tempDir
        yield* Effect.promise(() => fs.writeFile(path.join(dir, "ca.pem"), certificates.ca))
        yield* Effect.promise(() => fs.writeFile(path.join(dir, "README"), "not a certificate"))
        const der = Buffer.from(
          certificates.ca.replace(/-----(BEGIN|END) CERTIFICATE-----/g, "").replace(/\s+/g, ""),
          "base64"
        )
        for (const options of [
          { caFile: certificates.files.ca },
          { caPath: dir },
          { caData: certificates.ca },
          { caData: new Uint8Array(der) }
        ]) {
          const lagAware = yield* LagAwareHealthCheck.makeDefault({ restApiPort: server.port, ...options })
          expect(yield* run(lagAware, target(server)), JSON.stringify(Object.keys(options))).toMatchObject({
            healthy: true
          })
        }
      })
    )

    it.scoped("rejects a server certificate of an unknown CA unless verifyTls is false", () =>
      Effect.gen(function* () {
        const certificates = yield* Certificates.Certificates
        const foreign = yield* certificates.unknownCaServer
        const server = yield* serve({ bdbs, tls: { cert: foreign.cert, key: foreign.key } })
        const verifying = yield* LagAwareHealthCheck.makeDefault({ restApiPort: server.port, caData: certificates.ca })
        const result = yield* run(verifying, target(server))
        expect(result.healthy).toBe(false)
        expect(result.cause).toMatch(/not signed by a trusted CA/)
        const lax = yield* LagAwareHealthCheck.makeDefault({ restApiPort: server.port, verifyTls: false })
        expect(yield* run(lax, target(server))).toMatchObject({ healthy: true })
      })
    )

    it.scoped("rejects an expired server certificate unless verifyTls is false", () =>
      Effect.gen(function* () {
        const certificates = yield* Certificates.Certificates
        const expired = yield* certificates.expiredServer
        const server = yield* serve({ bdbs, tls: { ...expired, ca: certificates.ca } })
        const result = yield* run(yield* check(server), target(server))
        expect(result.healthy).toBe(false)
        expect(result.cause).toMatch(/certificate of 127\.0\.0\.1:\d+ has expired \(CERT_HAS_EXPIRED\)/)
        expect(yield* run(yield* check(server, { verifyTls: false }), target(server))).toMatchObject({ healthy: true })
      })
    )

    it.scoped("rejects a certificate issued for another host name unless verifyTls is false", () =>
      Effect.gen(function* () {
        const certificates = yield* Certificates.Certificates
        const wrongHost = yield* certificates.wrongHostServer
        const server = yield* serve({ bdbs, tls: { ...wrongHost, ca: certificates.ca } })
        const result = yield* run(yield* check(server), target(server))
        expect(result.healthy).toBe(false)
        expect(result.cause).toMatch(/certificate does not cover the host of 127\.0\.0\.1:\d+/)
        expect(result.cause).toContain("ERR_TLS_CERT_ALTNAME_INVALID")
        expect(yield* run(yield* check(server, { verifyTls: false }), target(server))).toMatchObject({ healthy: true })
      })
    )

    it.scoped("presents a client certificate (plain or passphrase-protected key) when the server requires one", () =>
      Effect.gen(function* () {
        const certificates = yield* Certificates.Certificates
        const server = yield* serve({
          bdbs,
          tls: { cert: certificates.server.cert, key: certificates.server.key, ca: certificates.ca },
          requireClientCert: true
        })
        const without = yield* run(yield* check(server), target(server))
        expect(without.healthy).toBe(false)
        expect(without.cause).toMatch(
          /^lag-aware: tls: GET \S+: client certificate required: .* no client certificate is configured \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\); set clientCertFile and clientKeyFile$/
        )

        const withCert = yield* check(server, {
          clientCertFile: certificates.files.clientCert,
          clientKeyFile: certificates.files.clientKey
        })
        expect(yield* run(withCert, target(server))).toMatchObject({ healthy: true })

        const dir = yield* tempDir
        const encrypted = yield* certificates.encryptedClient("key-Pa55phrase")
        const certFile = path.join(dir, "client.crt")
        const keyFile = path.join(dir, "client.key")
        yield* Effect.promise(() => fs.writeFile(certFile, encrypted.cert))
        yield* Effect.promise(() => fs.writeFile(keyFile, encrypted.key))
        const withPassphrase = yield* check(server, {
          clientCertFile: certFile,
          clientKeyFile: keyFile,
          clientKeyPassword: Redacted.make("key-Pa55phrase")
        })
        expect(yield* run(withPassphrase, target(server))).toMatchObject({ healthy: true })
        const served = (yield* server.requests).filter((r) => r.status === 200)
        expect(served.length).toBe(4)
        expect(served.every((r) => r.clientCertificate)).toBe(true)

        const badPassphrase = yield* Effect.flip(
          check(server, { clientCertFile: certFile, clientKeyFile: keyFile, clientKeyPassword: "not-the-Pa55" })
        )
        expect(badPassphrase.field).toBe("clientKeyPassword")
        expect(badPassphrase.message).not.toContain("not-the-Pa55")
        const noPassphrase = yield* Effect.flip(check(server, { clientCertFile: certFile, clientKeyFile: keyFile }))
        expect(noPassphrase.message).toMatch(/"clientKeyPassword": the client key is encrypted/)
        const wrongKey = yield* Effect.flip(
          check(server, { clientCertFile: certificates.files.clientCert, clientKeyFile: certificates.files.serverKey })
        )
        expect(wrongKey.message).toMatch(/"clientKeyFile": the key does not belong to the client certificate/)
      })
    )

    it.scoped("with failbackOnly a failing check keeps the database healthy but forbids fail-back to it", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        yield* server.setLag(1, 500)
        const lagAware = yield* check(server, { failbackOnly: true })
        expect(lagAware.failbackOnly).toBe(true)
        const result = yield* run(lagAware, target(server))
        expect(result.healthy).toBe(true)
        expect(result.failbackAllowed).toBe(false)
        expect(result.cause).toContain("answered 503")
      })
    )

    it.scoped("passes probes, probesDelay, policy, healthCheckTimeout and name on to the check", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        const lagAware = yield* check(server, {
          name: "rest-api",
          probes: 2,
          probesDelay: "10 millis",
          policy: "any",
          healthCheckTimeout: "1 second"
        })
        expect(lagAware).toMatchObject({ name: "rest-api", probes: 2, policy: "any" })
        expect(Duration.toMillis(Duration.decode(lagAware.probesDelay!))).toBe(10)
        expect(Duration.toMillis(Duration.decode(lagAware.timeout!))).toBe(1000)
      })
    )

    it.scoped("layer sets the client's health checks to PING plus the check on the default transport", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        const [names, result] = yield* Effect.gen(function* () {
          const checks = yield* HealthCheck.HealthChecks
          const names = checks.map((c) => [c.name, c.failbackOnly ?? false])
          return [names, yield* run(checks[1]!, target(server))] as const
        }).pipe(
          Effect.provide(
            LagAwareHealthCheck.layer({ restApiPort: server.port, caData: server.ca!, failbackOnly: true })
          )
        )
        expect(names).toEqual([
          ["ping", false],
          ["lag-aware", true]
        ])
        expect(result).toEqual({ healthy: true, failbackAllowed: true })
      })
    )

    it.effect("rejects invalid options with an error naming the field, never showing a secret", () =>
      Effect.gen(function* () {
        const invalid = (options: unknown) =>
          Effect.flip(Effect.scoped(LagAwareHealthCheck.makeDefault(options as LagAwareHealthCheck.Options)))
        expect((yield* invalid({ restApiPort: 0 })).field).toBe("restApiPort")
        expect((yield* invalid({ restApiPort: 70000 })).message).toMatch(/"restApiPort": expected a TCP port/)
        expect((yield* invalid({ lagAwareTolerance: "-5 millis" })).field).toBe("lagAwareTolerance")
        expect((yield* invalid({ timeout: 0 })).field).toBe("timeout")
        expect((yield* invalid({ verifyTls: "yes" })).field).toBe("verifyTls")
        expect((yield* invalid({ restApiport: 9443 })).field).toBe("restApiport")
        expect((yield* invalid({ probes: 0 })).field).toBe("probes")
        expect((yield* invalid({ clientKeyFile: "/tmp/key.pem" })).field).toBe("clientCertFile")
        expect((yield* invalid({ caFile: "/nonexistent/ca.pem" })).message).toMatch(
          /"caFile": cannot read \/nonexistent\/ca\.pem: ENOENT/
        )
        expect((yield* invalid({ caData: "garbage" })).message).toMatch(/"caData": no PEM certificate in caData/)
        expect(
          (yield* invalid({ caData: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----" })).message
        ).toMatch(/"caData": caData holds a certificate that does not parse/)
        const secret = yield* invalid({ basicAuth: { username: "u", password: 123456789 } })
        expect(secret.field).toBe("basicAuth.password")
        expect(secret.message).not.toContain("123456789")
      })
    )
  })

  describe("bad answers and failures", () => {
    const cause = (server: RestApiServer.Service, options: LagAwareHealthCheck.Options = {}) =>
      Effect.gen(function* () {
        const result = yield* run(yield* check(server, options), target(server))
        expect(result.healthy).toBe(false)
        return result.cause!
      })

    it.scoped("a non-JSON answer from /v1/bdbs", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        yield* server.fail("bdbs", RestApiServer.Failure.notJson())
        expect(yield* cause(server)).toMatch(
          /answered 200 with a body that is not JSON \(content-type "text\/html"\): <html>.*; is healthCheckUrl \/ restApiPort the REST API\?/
        )
      })
    )

    it.scoped("unexpected JSON from /v1/bdbs", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        yield* server.fail("bdbs", RestApiServer.Failure.status(200, { bdbs: [] }))
        expect(yield* cause(server)).toMatch(/answered JSON that is not a list of bdbs .*: \{"bdbs":\[\]\}/)
        yield* server.fail("bdbs", RestApiServer.Failure.status(200, [{ name: "no-uid" }]))
        expect(yield* cause(server)).toMatch(/not a list of bdbs at 0\.uid/)
      })
    )

    it.scoped("no bdb serving the database", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        const result = yield* run(yield* check(server), target(server, ["redis-12000.north.example"]))
        expect(result.healthy).toBe(false)
        expect(result.cause).toMatch(
          /no bdb listed by GET \S+\/v1\/bdbs has an endpoint at "redis-12000\.north\.example" \(dns_name or addr, and port/
        )
        expect(result.cause).toContain(
          `endpoints seen: bdb 1: ${eastHost} 10.0.0.1 port 12000; bdb 2: ${westHost} 10.0.1.1 port 12000`
        )
        expect((yield* server.requests).map((r) => r.path)).toEqual(["/v1/bdbs"])
      })
    )

    it.scoped("HTTP 5xx from either endpoint", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        yield* server.fail("bdbs", RestApiServer.Failure.status(500, { error_code: "internal_error" }))
        expect(yield* cause(server)).toMatch(/GET \S+\/v1\/bdbs answered 500: \{"error_code":"internal_error"\}/)
        yield* server.recover()
        yield* server.setAvailable(1, false)
        expect(yield* cause(server)).toMatch(
          /availability\S+ answered 503 \(the database is unavailable or lags more than the tolerance\): .*bdb_unavailable/
        )
        yield* server.fail("availability", RestApiServer.Failure.status(502, "x".repeat(1000), "text/plain"))
        const long = yield* cause(server)
        expect(long).toMatch(/answered 502: x{300}…$/)
      })
    )

    it.scoped("connection refused and connection reset", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        yield* server.fail("bdbs", RestApiServer.Failure.reset)
        expect(yield* cause(server)).toMatch(/was closed before an answer/)
        yield* server.recover()
        yield* server.stop
        expect(yield* cause(server)).toMatch(
          /connection to 127\.0\.0\.1:\d+ refused: is the REST API up, and is restApiPort \(or the port in healthCheckUrl\) right\?/
        )
      })
    )

    it.scoped("a database without healthCheckUrl is unhealthy with a cause naming the option", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        const lagAware = yield* check(server)
        const result = yield* run(lagAware, { ...target(server), healthCheckUrl: undefined })
        expect(result.cause).toMatch(/database "east" has no healthCheckUrl/)
        expect(lagAware.validate({ database: "east", hosts: [eastHost], healthCheckUrl: undefined })).toMatch(
          /database "east" has no healthCheckUrl/
        )
        expect(lagAware.validate({ database: "east", hosts: [eastHost], healthCheckUrl: server.healthCheckUrl })).toBe(
          undefined
        )
        expect(yield* server.requests).toEqual([])
      })
    )
  })

  describe("in a MultiDbClient", () => {
    it.scoped("a lagging member is not failed back to until its lag falls under the tolerance", () =>
      Effect.gen(function* () {
        const server = yield* serve({
          bdbs: [
            { uid: 1, endpoints: [{ dns_name: "east", addr: ["10.0.0.1"] }] },
            { uid: 2, endpoints: [{ dns_name: "west", addr: ["10.0.1.1"] }] }
          ]
        })
        const lagAware = yield* check(server, { failbackOnly: true })
        const { client, db, events } = yield* startClient({
          databases: [
            {
              id: "east",
              url: "redis://east:6379",
              weight: 1,
              gracePeriod: "500 millis",
              healthCheckUrl: server.healthCheckUrl
            },
            {
              id: "west",
              url: "redis://west:6379",
              weight: 0.5,
              gracePeriod: "500 millis",
              healthCheckUrl: server.healthCheckUrl
            }
          ],
          healthChecks: [HealthCheck.ping, lagAware],
          ...fastOptions
        })
        expect(yield* activeId(client)).toBe("east")

        // A lagging active database is not evicted by a failbackOnly check.
        yield* server.setLag(1, 500)
        const before = healthEvents(events, "east").length
        yield* waitUntil(
          Effect.sync(
            () =>
              healthEvents(events, "east")
                .slice(before)
                .filter((e) => !e.failbackAllowed).length >= 3
          ),
          "three lagging health rounds of east"
        )
        expect(yield* activeId(client)).toBe("east")

        // east goes down: traffic moves to west.
        yield* db("east").setBehaviour("down")
        yield* waitUntil(
          Effect.map(activeId(client), (id) => id === "west"),
          "failover to west"
        )

        // east recovers but still lags: its circuit closes, fail-back is refused.
        yield* db("east").setBehaviour("up")
        yield* waitUntil(
          Effect.map(client.databases, (list) => list.find((d) => d.id === "east")?.circuit === "closed"),
          "east's circuit closes"
        )
        const recovered = healthEvents(events, "east").length
        yield* waitUntil(
          Effect.sync(
            () =>
              healthEvents(events, "east")
                .slice(recovered)
                .filter((e) => e.healthy).length >= 4
          ),
          "four healthy-but-lagging rounds of east"
        )
        const lagging = healthEvents(events, "east").slice(recovered)
        expect(lagging.every((e) => e.healthy && !e.failbackAllowed)).toBe(true)
        expect(lagging[0]!.cause).toMatch(/lag-aware: .* answered 503 .*replication lag 500 ms/)
        expect(yield* activeId(client)).toBe("west")
        expect(events.filter((e) => e._tag === "ActiveDatabaseChanged" && e.newDatabase === "east")).toEqual([])

        // The lag falls under the tolerance: traffic goes back to east.
        yield* server.setLag(1, 20)
        yield* waitUntil(
          Effect.map(activeId(client), (id) => id === "east"),
          "fail-back to east"
        )
        const back = events.filter((e) => e._tag === "ActiveDatabaseChanged").at(-1)
        expect(back).toMatchObject({ oldDatabase: "west", newDatabase: "east", reason: "fallback" })
      })
    )

    it.scoped("a failing REST API never stops the health checks; the database is healthy again when it recovers", () =>
      Effect.gen(function* () {
        const server = yield* serve({
          bdbs: [
            { uid: 1, endpoints: [{ dns_name: "east" }] },
            { uid: 2, endpoints: [{ dns_name: "west" }] }
          ]
        })
        const lagAware = yield* check(server, { timeout: "300 millis" })
        const { client, events } = yield* startClient({
          databases: [
            {
              id: "east",
              url: "redis://east:6379",
              weight: 1,
              gracePeriod: "200 millis",
              healthCheckUrl: server.healthCheckUrl
            },
            {
              id: "west",
              url: "redis://west:6379",
              weight: 0.5,
              gracePeriod: "200 millis",
              healthCheckUrl: server.healthCheckUrl
            }
          ],
          healthChecks: [HealthCheck.ping, lagAware],
          ...fastOptions
        })
        const failures: ReadonlyArray<readonly [string, Effect.Effect<void>, RegExp]> = [
          ["5xx", server.fail("availability", RestApiServer.Failure.status(500, "boom", "text/plain")), /answered 500/],
          ["hang", server.fail("availability", RestApiServer.Failure.hang), /did not answer within/],
          ["reset", server.fail("availability", RestApiServer.Failure.reset), /closed before an answer/],
          ["refused", server.stop, /refused/],
          // The uid changes, so the check lists the bdbs again and gets an HTML page.
          [
            "non-JSON",
            Effect.zipRight(
              server.setBdbs([
                { uid: 11, endpoints: [{ dns_name: "east" }] },
                { uid: 2, endpoints: [{ dns_name: "west" }] }
              ]),
              server.fail("bdbs", RestApiServer.Failure.notJson())
            ),
            /not JSON/
          ]
        ]
        for (const [name, inject, expected] of failures) {
          const from = events.length
          yield* inject
          yield* waitUntil(
            Effect.sync(() =>
              healthEvents(events.slice(from), "east").some((e) => !e.healthy && expected.test(e.cause ?? ""))
            ),
            `an unhealthy round of east caused by ${name}`
          )
          yield* server.recover()
          yield* server.start
        }
        const from = events.length
        yield* waitUntil(
          Effect.sync(() => healthEvents(events.slice(from), "east").some((e) => e.healthy && e.failbackAllowed)),
          "a healthy round of east"
        )
        yield* waitUntil(
          Effect.map(activeId(client), (id) => id === "east"),
          "traffic back on east"
        )
        const causes = events.flatMap((e) => (e._tag === "HealthCheckCompleted" && e.cause ? [e.cause] : []))
        expect(causes.length).toBeGreaterThan(0)
      })
    )

    // Needs the engine change "HealthCheck gains validate?; MultiDbClient start fails with InvalidRequest" (see the
    // lag-aware notes); it fails until that change lands.
    it.scoped("a database without healthCheckUrl is a configuration error when the client starts", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs })
        const lagAware = yield* check(server)
        const { connector } = yield* InMemoryConnection.make
        const error = yield* Effect.flip(
          MultiDbClient.fromInput({
            databases: [
              { id: "east", url: "redis://east:6379", healthCheckUrl: server.healthCheckUrl },
              { id: "west", url: "redis://west:6379" }
            ],
            healthChecks: [HealthCheck.ping, lagAware],
            ...fastOptions
          }).pipe(Effect.provideService(RedisConnector, connector))
        )
        expect((error as { readonly _tag: string })._tag).toBe("InvalidRequest")
        expect(error.message).toMatch(/database "west" has no healthCheckUrl/)
        expect(yield* server.requests).toEqual([])
      })
    )
  })
})
