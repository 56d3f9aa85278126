import * as https from "node:https"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Certificates from "../src/Certificates.js"
import * as RestApiServer from "../src/RestApiServer.js"

interface Answer {
  readonly status: number
  readonly body: string
}

/** One GET over real TLS; resolves with the answer or with the error code / message of the failure. */
const get = (
  url: string,
  options: https.RequestOptions & { readonly timeoutMillis?: number } = {}
): Effect.Effect<Answer | { readonly error: string }> =>
  Effect.async((resume) => {
    const request = https.get(url, { agent: false, ...options }, (response) => {
      const chunks: Array<Buffer> = []
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      response.on("end", () =>
        resume(Effect.succeed({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
      )
      response.on("error", (error: NodeJS.ErrnoException) =>
        resume(Effect.succeed({ error: error.code ?? error.message }))
      )
    })
    request.on("error", (error: NodeJS.ErrnoException) =>
      resume(Effect.succeed({ error: error.code ?? error.message }))
    )
    request.setTimeout(options.timeoutMillis ?? 5_000, () => request.destroy(new Error("client timeout")))
    return Effect.sync(() => request.destroy())
  })

const bdbs: ReadonlyArray<RestApiServer.Bdb> = [
  { uid: 1, name: "east", endpoints: [{ dns_name: "redis-12000.east.example", addr: ["10.0.0.1"], port: 12000 }] },
  { uid: 2, name: "west", endpoints: [{ dns_name: "redis-12000.west.example", addr: ["10.0.1.1"], port: 12000 }] }
]

const availability = (uid: number, tolerance?: number) =>
  `/v1/bdbs/${uid}/availability?extend_check=lag${tolerance === undefined ? "" : `&availability_lag_tolerance_ms=${tolerance}`}`

describe("RestApiServer", () => {
  it.scopedLive("serves the bdb list and a lag-aware availability over TLS the generated CA verifies", () =>
    Effect.gen(function* () {
      const server = yield* RestApiServer.make({ bdbs })
      expect(server.url).toBe(`https://127.0.0.1:${server.port}`)
      expect(server.healthCheckUrl).toBe("https://127.0.0.1")
      const ca = server.ca!
      const list = yield* get(`${server.url}/v1/bdbs`, { ca })
      expect(list).toMatchObject({ status: 200 })
      expect(JSON.parse((list as Answer).body)).toEqual(bdbs)

      expect(yield* get(`${server.url}${availability(1, 100)}`, { ca })).toMatchObject({ status: 200 })
      yield* server.setLag(1, 250)
      const lagging = yield* get(`${server.url}${availability(1, 100)}`, { ca })
      expect(lagging).toMatchObject({ status: 503 })
      expect(JSON.parse((lagging as Answer).body)).toMatchObject({ error_code: "bdb_lag_exceeds_tolerance" })
      expect(yield* get(`${server.url}${availability(1, 300)}`, { ca })).toMatchObject({ status: 200 })
      expect(yield* get(`${server.url}${availability(1)}`, { ca })).toMatchObject({ status: 503 })
      expect(yield* get(`${server.url}/v1/bdbs/1/availability`, { ca })).toMatchObject({ status: 200 })
      yield* server.setLag(1, 50)
      expect(yield* get(`${server.url}${availability(1, 100)}`, { ca })).toMatchObject({ status: 200 })

      const untrusted = yield* get(`${server.url}/v1/bdbs`)
      expect(untrusted).toHaveProperty("error")
    })
  )

  it.scopedLive("answers 404 for an unknown bdb and 503 for an unavailable one", () =>
    Effect.gen(function* () {
      const server = yield* RestApiServer.make({ bdbs })
      const ca = server.ca!
      const missing = yield* get(`${server.url}${availability(9, 100)}`, { ca })
      expect(missing).toMatchObject({ status: 404 })
      expect(JSON.parse((missing as Answer).body)).toMatchObject({ error_code: "db_not_found" })
      yield* server.setAvailable(2, false)
      const down = yield* get(`${server.url}${availability(2, 100)}`, { ca })
      expect(down).toMatchObject({ status: 503 })
      expect(JSON.parse((down as Answer).body)).toMatchObject({ error_code: "bdb_unavailable" })
      yield* server.setAvailable(2, true)
      expect(yield* get(`${server.url}${availability(2, 100)}`, { ca })).toMatchObject({ status: 200 })
      yield* server.setBdbs([bdbs[0]!])
      expect(yield* get(`${server.url}${availability(2, 100)}`, { ca })).toMatchObject({ status: 404 })
    })
  )

  it.scopedLive("requires basic auth when configured and logs requests without the credentials", () =>
    Effect.gen(function* () {
      const password = "pa55/word:secret"
      const server = yield* RestApiServer.make({ bdbs, basicAuth: { username: "admin@example.com", password } })
      const ca = server.ca!
      expect(yield* get(`${server.url}/v1/bdbs`, { ca })).toMatchObject({ status: 401 })
      expect(yield* get(`${server.url}/v1/bdbs`, { ca, auth: "admin@example.com:wrong" })).toMatchObject({
        status: 401
      })
      expect(yield* get(`${server.url}/v1/bdbs`, { ca, auth: `admin@example.com:${password}` })).toMatchObject({
        status: 200
      })
      const log = yield* server.requests
      expect(log.map((r) => [r.path, r.authorization, r.status])).toEqual([
        ["/v1/bdbs", "none", 401],
        ["/v1/bdbs", "rejected", 401],
        ["/v1/bdbs", "accepted", 200]
      ])
      expect(JSON.stringify(log)).not.toContain("pa55")
      expect(JSON.stringify(log)).not.toContain(Buffer.from(`admin@example.com:${password}`).toString("base64"))
      yield* server.clearRequests
      expect(yield* server.requests).toEqual([])
    })
  )

  it.scopedLive("requires a client certificate signed by its CA when asked to", () =>
    Effect.gen(function* () {
      const certificates = yield* Certificates.make()
      const server = yield* RestApiServer.make({
        bdbs,
        tls: { cert: certificates.server.cert, key: certificates.server.key, ca: certificates.ca },
        requireClientCert: true
      })
      const ca = certificates.ca
      const anonymous = yield* get(`${server.url}/v1/bdbs`, { ca })
      expect(anonymous).toHaveProperty("error")
      const authenticated = yield* get(`${server.url}/v1/bdbs`, {
        ca,
        cert: certificates.client.cert,
        key: certificates.client.key
      })
      expect(authenticated).toMatchObject({ status: 200 })
      const log = yield* server.requests
      expect(log).toHaveLength(1)
      expect(log[0]!.clientCertificate).toBe(true)
    })
  )

  it.scopedLive("fails a route as told until it recovers: status, non-JSON body, reset and hang", () =>
    Effect.gen(function* () {
      const server = yield* RestApiServer.make({ bdbs })
      const ca = server.ca!
      yield* server.fail("bdbs", RestApiServer.Failure.status(500, { error_code: "internal_error" }))
      expect(yield* get(`${server.url}/v1/bdbs`, { ca })).toMatchObject({ status: 500 })
      expect(yield* get(`${server.url}${availability(1, 100)}`, { ca })).toMatchObject({ status: 200 })
      yield* server.fail("bdbs", RestApiServer.Failure.notJson())
      const html = yield* get(`${server.url}/v1/bdbs`, { ca })
      expect(html).toMatchObject({ status: 200 })
      expect((html as Answer).body).toContain("<html>")
      yield* server.fail("availability", RestApiServer.Failure.reset)
      expect(yield* get(`${server.url}${availability(1, 100)}`, { ca })).toHaveProperty("error")
      yield* server.fail("availability", RestApiServer.Failure.hang)
      expect(yield* get(`${server.url}${availability(1, 100)}`, { ca, timeoutMillis: 300 })).toEqual({
        error: "client timeout"
      })
      yield* server.recover()
      expect(yield* get(`${server.url}/v1/bdbs`, { ca })).toMatchObject({ status: 200 })
      expect(yield* get(`${server.url}${availability(1, 100)}`, { ca })).toMatchObject({ status: 200 })
      const statuses = (yield* server.requests).map((r) => r.status)
      expect(statuses).toEqual([500, 200, 200, "reset", "hang", 200, 200])
    })
  )

  it.scopedLive("stop refuses connections and start serves again on the same port", () =>
    Effect.gen(function* () {
      const server = yield* RestApiServer.make({ bdbs })
      const ca = server.ca!
      yield* server.stop
      expect(yield* get(`${server.url}/v1/bdbs`, { ca })).toEqual({ error: "ECONNREFUSED" })
      yield* server.start
      expect(yield* get(`${server.url}/v1/bdbs`, { ca })).toMatchObject({ status: 200 })
    })
  )
})
