import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, layer } from "@effect/vitest"
import { Duration, Effect, HashMap, Logger, LogLevel, Stream } from "effect"
import * as Certificates from "../../testkit/src/Certificates.js"
import * as RestApiServer from "../../testkit/src/RestApiServer.js"
import * as FailureCause from "../src/FailureCause.js"
import * as HealthCheck from "../src/HealthCheck.js"
import * as InMemoryConnection from "../src/InMemoryConnection.js"
import { encodings } from "../src/internal/lagAware.js"
import * as LagAwareHealthCheck from "../src/LagAwareHealthCheck.js"
import * as MultiDbClient from "../src/MultiDbClient.js"
import type { MultiDbEvent } from "../src/MultiDbEvent.js"
import { type HealthConnection, RedisConnector } from "../src/RedisConnection.js"

const unusedConnection = {} as HealthConnection

const defaults: HealthCheck.Defaults = {
  probes: 1,
  probesDelay: Duration.zero,
  timeout: Duration.seconds(10),
  policy: "all"
}

const run = (check: HealthCheck.HealthCheck, on: HealthCheck.Target) => HealthCheck.run([check], on, defaults)

/** A REST API stand-in with the shared test certificates. */
const serve = (options: Omit<RestApiServer.Options, "tls"> & { readonly tls?: RestApiServer.Options["tls"] } = {}) =>
  Effect.flatMap(Certificates.Certificates, (certificates) =>
    RestApiServer.make({
      tls: { cert: certificates.server.cert, key: certificates.server.key, ca: certificates.ca },
      ...options
    })
  )

const check = (server: RestApiServer.Service, options: LagAwareHealthCheck.Options = {}) =>
  LagAwareHealthCheck.makeDefault({ restApiPort: server.port, caData: server.ca!, ...options })

/** Several databases of one Redis Software cluster: same DNS name and addresses, one port each. */
const shared = "redis.cluster.example"
const sharedBdbs: ReadonlyArray<RestApiServer.Bdb> = [12000, 12001, 12002].map((port, i) => ({
  uid: i + 1,
  endpoints: [{ dns_name: shared, addr: ["10.0.0.1", "10.0.0.2"], port }]
}))

const target = (
  server: RestApiServer.Service,
  endpoints: ReadonlyArray<{ readonly host: string; readonly port: number }>
): HealthCheck.Target => ({
  database: "east",
  hosts: endpoints.map((e) => e.host),
  endpoints,
  healthCheckUrl: server.healthCheckUrl,
  connection: unusedConnection
})

layer(Certificates.layer(), { excludeTestServices: true })("LagAwareHealthCheck causes", (it) => {
  describe("the right bdb", () => {
    it.scoped("on a cluster serving several bdbs at the same addresses, the bdb at the database's port is asked", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs: sharedBdbs })
        yield* server.setLag(1, 500)
        yield* server.setLag(3, 500)
        const lagAware = yield* check(server)
        expect(yield* run(lagAware, target(server, [{ host: shared, port: 12001 }]))).toEqual({
          healthy: true,
          failbackAllowed: true
        })
        expect((yield* server.requests).map((r) => r.path)).toEqual(["/v1/bdbs", "/v1/bdbs/2/availability"])
        yield* server.clearRequests
        const byAddress = yield* run(yield* check(server), target(server, [{ host: "10.0.0.2", port: 12002 }]))
        expect(byAddress.healthy).toBe(false)
        expect(byAddress.cause).toContain("replication lag 500 ms")
        expect((yield* server.requests).map((r) => r.path)).toEqual(["/v1/bdbs", "/v1/bdbs/3/availability"])
      })
    )

    it.scoped("a port no bdb listens on matches none, and the cause lists the ports seen", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs: sharedBdbs })
        const result = yield* run(yield* check(server), target(server, [{ host: shared, port: 13000 }]))
        expect(result.healthy).toBe(false)
        expect(result.cause).toContain(`has an endpoint at "${shared}:13000"`)
        expect(result.cause).toContain(`bdb 2: ${shared} 10.0.0.1 10.0.0.2 port 12001`)
        expect((yield* server.requests).map((r) => r.path)).toEqual(["/v1/bdbs"])
      })
    )

    it.scoped("several bdbs at the same host and port: the cause says so and no bdb is asked", () =>
      Effect.gen(function* () {
        const server = yield* serve({
          bdbs: [...sharedBdbs, { uid: 9, endpoints: [{ dns_name: shared, addr: ["10.0.0.9"], port: 12001 }] }]
        })
        const error = (yield* Effect.flip(
          (yield* check(server)).probe(target(server, [{ host: shared, port: 12001 }]))
        )) as LagAwareHealthCheck.CheckFailed
        expect(error).toMatchObject({ _tag: "LagAwareCheckFailed", reason: "AmbiguousBdb" })
        expect(error.message).toMatch(
          /^unhealthy: several bdbs listed by GET \S+\/v1\/bdbs have an endpoint at "redis\.cluster\.example:12001": bdb 2, bdb 9; the check cannot tell which one serves database "east"/
        )
        expect((yield* server.requests).map((r) => r.path)).toEqual(["/v1/bdbs"])
      })
    )

    it.scoped("in a MultiDbClient, the database's url gives the host and port matched", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs: sharedBdbs })
        yield* server.setLag(1, 500)
        const lagAware = yield* check(server)
        const { connector } = yield* InMemoryConnection.make
        const client = yield* MultiDbClient.fromInput({
          databases: [
            { id: "east", url: `redis://${shared}:12001`, healthCheckUrl: server.healthCheckUrl },
            { id: "west", url: "redis://west.example:6379", weight: 0.5, healthCheckUrl: server.healthCheckUrl }
          ],
          healthChecks: [HealthCheck.ping, lagAware],
          healthCheckProbes: 1,
          healthCheckInterval: "10 seconds",
          initialHealthCheckPolicy: "one"
        }).pipe(Effect.provideService(RedisConnector, connector))
        const east = (yield* client.databases).find((d) => d.id === "east")!
        expect(east.lastHealthCheck).toMatchObject({ _tag: "Some", value: { healthy: true } })
        expect((yield* server.requests).map((r) => r.path)).toContain("/v1/bdbs/2/availability")
        expect((yield* server.requests).map((r) => r.path)).not.toContain("/v1/bdbs/1/availability")
      })
    )
  })

  describe("TLS causes", () => {
    /** The typed cause of one probe, and the health result's cause string. */
    const causes = (lagAware: LagAwareHealthCheck.LagAwareHealthCheck, server: RestApiServer.Service) =>
      Effect.gen(function* () {
        const on = target(server, [{ host: shared, port: 12000 }])
        const error = (yield* Effect.flip(lagAware.probe(on))) as LagAwareHealthCheck.CheckFailed
        const result = yield* run(lagAware, on)
        return { typed: FailureCause.fromError(error), result: result.cause! }
      })

    it.scoped("a missing client certificate, an unknown CA and a hostname mismatch each say which one, kind tls", () =>
      Effect.gen(function* () {
        const certificates = yield* Certificates.Certificates
        const mtls = yield* serve({ bdbs: sharedBdbs, requireClientCert: true })
        const missing = yield* causes(yield* check(mtls), mtls)

        const foreign = yield* certificates.unknownCaServer
        const unknownCaServer = yield* serve({ bdbs: sharedBdbs, tls: { cert: foreign.cert, key: foreign.key } })
        const unknownCa = yield* causes(yield* check(unknownCaServer, { caData: certificates.ca }), unknownCaServer)

        const wrongHost = yield* certificates.wrongHostServer
        const mismatchServer = yield* serve({ bdbs: sharedBdbs, tls: { ...wrongHost, ca: certificates.ca } })
        const mismatch = yield* causes(yield* check(mismatchServer), mismatchServer)

        const other = yield* Certificates.make()
        const refused = yield* causes(
          yield* check(mtls, { clientCertFile: other.files.clientCert, clientKeyFile: other.files.clientKey }),
          mtls
        )

        for (const [name, found] of [
          ["missing client certificate", missing],
          ["unknown CA", unknownCa],
          ["hostname mismatch", mismatch],
          ["client certificate of another CA", refused]
        ] as const) {
          console.log(`${name}: ${found.result}`)
          expect(found.typed.kind, name).toBe("tls")
          expect(found.result, name).toBe(`lag-aware: ${String(found.typed)}`)
        }
        expect(missing.typed.message).toMatch(
          /client certificate required: the REST API of 127\.0\.0\.1:\d+ refused the TLS handshake because no client certificate is configured \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED\); set clientCertFile and clientKeyFile$/
        )
        expect(unknownCa.typed.message).toMatch(
          /unknown CA: the REST API certificate of 127\.0\.0\.1:\d+ is not signed by a trusted CA \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/
        )
        expect(mismatch.typed.message).toMatch(
          /hostname mismatch: the REST API certificate does not cover the host of 127\.0\.0\.1:\d+ \(ERR_TLS_CERT_ALTNAME_INVALID/
        )
        expect(refused.typed.message).toMatch(/client certificate refused: the REST API of 127\.0\.0\.1:\d+ refused/)
      })
    )

    it.scoped("a connection closed before an answer without a TLS problem stays a closed connection", () =>
      Effect.gen(function* () {
        const server = yield* serve({ bdbs: sharedBdbs })
        yield* server.fail("bdbs", RestApiServer.Failure.reset)
        const error = (yield* Effect.flip(
          (yield* check(server)).probe(target(server, [{ host: shared, port: 12000 }]))
        )) as LagAwareHealthCheck.CheckFailed
        expect(FailureCause.fromError(error).kind).toBe("connection")
        expect(error.message).toMatch(
          /^connection: GET \S+: the connection to 127\.0\.0\.1:\d+ was closed before an answer/
        )
      })
    )
  })

  describe("secrets", () => {
    const password = `PWq7Zx"\\\ta    b/é+&=%${"-".repeat(20)}Zz9end`
    const passphrase = `KPq3Yv"\\\t  two  spaces é`
    const username = "ops@example.com"
    const token = Buffer.from(`${username}:${password}`).toString("base64")
    const forbidden = [
      ...encodings(password),
      ...encodings(passphrase),
      token,
      // a cut secret leaks its beginning: these prefixes appear in no other text
      "PWq7Zx",
      "KPq3Yv"
    ]
    const leaks = (text: string) => forbidden.filter((form) => text.includes(form))

    it.scoped("no error path of the check shows the basic-auth password or the key passphrase, in any encoding", () =>
      Effect.gen(function* () {
        const certificates = yield* Certificates.Certificates
        const dir = yield* Effect.acquireRelease(
          Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "lag-aware-secrets-"))),
          (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
        )
        const encrypted = yield* certificates.encryptedClient(passphrase)
        const certFile = path.join(dir, "client.crt")
        const keyFile = path.join(dir, "client.key")
        yield* Effect.promise(() => fs.writeFile(certFile, encrypted.cert))
        yield* Effect.promise(() => fs.writeFile(keyFile, encrypted.key))
        const server = yield* serve({
          bdbs: sharedBdbs,
          basicAuth: { username, password },
          requireClientCert: true
        })
        const options: LagAwareHealthCheck.Options = {
          basicAuth: { username, password },
          clientCertFile: certFile,
          clientKeyFile: keyFile,
          clientKeyPassword: passphrase,
          timeout: "300 millis"
        }
        const lagAware = yield* check(server, options)
        const on = target(server, [{ host: shared, port: 12000 }])

        const outputs: Array<string> = []
        const logs: Array<string> = []
        const capture = Logger.make(({ annotations, cause, message }) => {
          logs.push(JSON.stringify({ message, cause: String(cause), annotations: HashMap.toEntries(annotations) }))
        })
        const record = Effect.gen(function* () {
          const error = (yield* Effect.flip(lagAware.probe(on))) as LagAwareHealthCheck.CheckFailed
          yield* Effect.logError("probe failed", error)
          outputs.push(error.message, error.detail, String(error), JSON.stringify(error), String(error.failureCause))
          const result = yield* run(lagAware, on)
          expect(result.healthy).toBe(false)
          outputs.push(result.cause ?? "")
          return error
        }).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, capture)), Logger.withMinimumLogLevel(LogLevel.All))

        const padded = (text: string) => `${"x ".repeat(140)}${text}`
        const paths: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>, string]> = [
          [
            "500 echoing raw, cut at 300",
            server.fail("availability", RestApiServer.Failure.status(500, padded(password), "text/plain")),
            "HttpStatus"
          ],
          [
            "500 echoing JSON",
            server.fail("availability", RestApiServer.Failure.status(500, { echo: password, pass: passphrase })),
            "HttpStatus"
          ],
          [
            "401 echoing URL-encoded",
            server.fail(
              "availability",
              RestApiServer.Failure.status(401, `pw=${encodeURIComponent(password)}&t=${token}`, "text/plain")
            ),
            "HttpStatus"
          ],
          [
            "503 echoing form-encoded",
            server.fail(
              "availability",
              RestApiServer.Failure.status(
                503,
                new URLSearchParams({ pw: password, k: passphrase }).toString(),
                "text/plain"
              )
            ),
            "HttpStatus"
          ],
          [
            "bdbs not JSON",
            // new uids: the cached one answers 404, so the bdbs are listed again
            Effect.all([
              server.recover(),
              server.setBdbs(sharedBdbs.map((bdb) => ({ ...bdb, uid: bdb.uid + 10 }))),
              server.fail("bdbs", RestApiServer.Failure.notJson(`<p>${password} ${passphrase}</p>`))
            ]),
            "BadBdbList"
          ],
          [
            "bdbs JSON not a list",
            server.fail("bdbs", RestApiServer.Failure.status(200, [{ uid: { secret: password, more: passphrase } }])),
            "BadBdbList"
          ],
          [
            "no matching bdb",
            Effect.zipRight(
              server.recover(),
              server.setBdbs([{ uid: 21, endpoints: [{ dns_name: padded(password), port: 1 }] }])
            ),
            "NoMatchingBdb"
          ],
          [
            "timeout",
            Effect.zipRight(server.setBdbs(sharedBdbs), server.fail("bdbs", RestApiServer.Failure.hang)),
            "Timeout"
          ],
          ["refused", Effect.zipRight(server.recover(), server.stop), "Transport"]
        ]
        for (const [name, provoke, reason] of paths) {
          yield* provoke
          const error = yield* record
          expect(error.reason, `${name}: ${error.message}`).toBe(reason)
        }
        yield* server.start

        // a TLS failure with the client key configured
        const foreign = yield* certificates.unknownCaServer
        const untrusted = yield* serve({ bdbs: sharedBdbs, tls: { cert: foreign.cert, key: foreign.key } })
        const tlsError = yield* Effect.flip(
          (yield* check(untrusted, options)).probe(target(untrusted, [{ host: shared, port: 12000 }]))
        )
        outputs.push(String(tlsError), JSON.stringify(tlsError))

        // a wrong passphrase, an invalid option holding the password
        const wrong = yield* Effect.flip(check(server, { ...options, clientKeyPassword: `${passphrase}x` }))
        const invalid = yield* Effect.flip(
          check(server, { ...options, basicAuth: { username, password: [password] } } as never)
        )
        outputs.push(String(wrong), JSON.stringify(wrong), String(invalid), JSON.stringify(invalid))

        // the engine's events
        const { connector } = yield* InMemoryConnection.make
        yield* server.recover()
        yield* server.setBdbs([...sharedBdbs, { uid: 7, endpoints: [{ dns_name: "west.example", port: 6379 }] }])
        const client = yield* MultiDbClient.fromInput({
          databases: [
            { id: "east", url: `redis://${shared}:12000`, healthCheckUrl: server.healthCheckUrl },
            { id: "west", url: "redis://west.example:6379", weight: 0.5, healthCheckUrl: server.healthCheckUrl }
          ],
          healthChecks: [HealthCheck.ping, yield* check(server, { ...options, failbackOnly: true })],
          healthCheckProbes: 1,
          healthCheckInterval: "100 millis",
          initialHealthCheckPolicy: "one"
        }).pipe(Effect.provideService(RedisConnector, connector))
        const events: Array<MultiDbEvent> = []
        yield* client.events.pipe(
          Stream.runForEach((e) => Effect.sync(() => events.push(e))),
          Effect.forkScoped
        )
        yield* server.fail("availability", RestApiServer.Failure.status(500, padded(JSON.stringify({ password }))))
        yield* Effect.gen(function* () {
          while (
            !events.some((e) => e._tag === "HealthCheckCompleted" && e.database === "east" && e.cause !== undefined)
          ) {
            yield* Effect.sleep("20 millis")
          }
        }).pipe(Effect.timeout("10 seconds"), Effect.orDie)
        outputs.push(...events.map((e) => JSON.stringify(e)))
        const databases = yield* client.databases
        outputs.push(JSON.stringify(databases))

        expect(outputs.length).toBeGreaterThan(40)
        expect(logs.length).toBe(paths.length)
        // the checks above saw the bodies: the redaction mark shows where the secrets were
        expect(outputs.filter((o) => o.includes("<redacted>")).length).toBeGreaterThan(10)
        for (const text of [...outputs, ...logs]) expect(leaks(text), text).toEqual([])
      })
    )
  })
})
