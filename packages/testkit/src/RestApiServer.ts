/**
 * A stand-in for the Redis Software REST API on 127.0.0.1: a real HTTPS server (test certificates, optional
 * client-certificate requirement, optional basic auth) serving `GET /v1/bdbs` and
 * `GET /v1/bdbs/{uid}/availability` with a lag per database and failures settable at run time, and logging every
 * request (never the credentials).
 *
 * @since 0.1.0
 */
import type * as http from "node:http"
import * as https from "node:https"
import type * as net from "node:net"
import type { TLSSocket } from "node:tls"
import { Context, Effect, Layer, Schedule, type Scope } from "effect"
import * as Certificates from "./Certificates.js"
import { PortUnavailable, type TestkitError } from "./TestkitError.js"

/**
 * One endpoint of a database, as `/v1/bdbs` lists it: its DNS name and the addresses it listens on.
 *
 * @since 0.1.0
 * @category models
 */
export interface Endpoint {
  readonly uid?: string
  readonly dns_name?: string
  readonly addr?: ReadonlyArray<string>
  readonly port?: number
}

/**
 * A database (bdb) of the cluster.
 *
 * @since 0.1.0
 * @category models
 */
export interface Bdb {
  readonly uid: number
  readonly name?: string
  readonly endpoints: ReadonlyArray<Endpoint>
}

/**
 * The two routes the server serves.
 *
 * @since 0.1.0
 * @category models
 */
export type Route = "bdbs" | "availability"

/**
 * A forced failure of a route: an HTTP answer of the given status and body, an answer that never comes (`Hang`),
 * or a connection closed without an answer (`Reset`).
 *
 * @since 0.1.0
 * @category models
 */
export type Failure =
  | { readonly _tag: "Status"; readonly status: number; readonly body: string; readonly contentType: string }
  | { readonly _tag: "Hang" }
  | { readonly _tag: "Reset" }

/**
 * Constructors of `Failure`.
 *
 * @since 0.1.0
 * @category utils
 */
export const Failure = {
  /** Answer with this status and body (JSON unless `contentType` says otherwise). */
  status: (status: number, body: string | object = "", contentType = "application/json"): Failure => ({
    _tag: "Status",
    status,
    body: typeof body === "string" ? body : JSON.stringify(body),
    contentType
  }),
  /** Answer 200 with a body that is not JSON (an HTML error page of a misrouted proxy). */
  notJson: (body = "<html><body><h1>Welcome to nginx!</h1></body></html>"): Failure => ({
    _tag: "Status",
    status: 200,
    body,
    contentType: "text/html"
  }),
  /** Accept the request and never answer. */
  hang: { _tag: "Hang" } as Failure,
  /** Close the connection without answering. */
  reset: { _tag: "Reset" } as Failure
}

/**
 * One request the server received. `authorization` says whether credentials came and were accepted; the
 * credentials themselves are never stored.
 *
 * @since 0.1.0
 * @category models
 */
export interface RequestRecord {
  readonly method: string
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly authorization: "none" | "accepted" | "rejected"
  readonly clientCertificate: boolean
  readonly status: number | "hang" | "reset"
}

/**
 * Options of `make`. Without `tls`, certificates for 127.0.0.1 / localhost are generated (and their CA exposed);
 * `requireClientCert` needs a `ca` to verify client certificates against (the generated one, or `tls.ca`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca?: string | undefined } | undefined
  readonly requireClientCert?: boolean | undefined
  readonly basicAuth?: { readonly username: string; readonly password: string } | undefined
  readonly bdbs?: ReadonlyArray<Bdb> | undefined
  /** Lag tolerance (ms) when a lag check names none; 100 like the cluster default. */
  readonly defaultLagTolerance?: number | undefined
  /** A fixed port; a free one by default. */
  readonly port?: number | undefined
}

/**
 * A running REST API stand-in.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly host: string
  readonly port: number
  /** `https://127.0.0.1:<port>`. */
  readonly url: string
  /** `https://127.0.0.1`: the value of a database's `healthCheckUrl`, with `restApiPort: port`. */
  readonly healthCheckUrl: string
  /** The CA that signed the server certificate (PEM), when known. */
  readonly ca: string | undefined
  /** The generated certificates when no `tls` option was given. */
  readonly certificates: Certificates.Service | undefined
  /** Replaces the list of databases. */
  readonly setBdbs: (bdbs: ReadonlyArray<Bdb>) => Effect.Effect<void>
  /** Sets the replication lag of a database, in ms (0 by default). */
  readonly setLag: (uid: number, lagMillis: number) => Effect.Effect<void>
  /** Marks a database available (default) or not: an unavailable one answers 503 `bdb_unavailable`. */
  readonly setAvailable: (uid: number, available: boolean) => Effect.Effect<void>
  /** Makes every request of a route fail this way until `recover`. */
  readonly fail: (route: Route, failure: Failure) => Effect.Effect<void>
  /** Ends the forced failure of a route (of both when none is named). */
  readonly recover: (route?: Route) => Effect.Effect<void>
  /** Every request received so far, oldest first. */
  readonly requests: Effect.Effect<ReadonlyArray<RequestRecord>>
  readonly clearRequests: Effect.Effect<void>
  /** Stops listening and closes every connection: new connections are refused. */
  readonly stop: Effect.Effect<void>
  /** Listens again on the same port. */
  readonly start: Effect.Effect<void, PortUnavailable>
}

/**
 * The service tag of a REST API stand-in.
 *
 * @since 0.1.0
 * @category tags
 */
export class RestApiServer extends Context.Tag("@effect-redis/testkit/RestApiServer")<RestApiServer, Service>() {}

const host = "127.0.0.1"

const json = (response: http.ServerResponse, status: number, body: unknown, record: (status: number) => void) => {
  record(status)
  const text = JSON.stringify(body)
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  response.end(text)
}

/**
 * Starts the server on 127.0.0.1 (a free port unless `port` is given); it closes with the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, TestkitError, Scope.Scope> =>
  Effect.gen(function* () {
    const certificates = options.tls === undefined ? yield* Certificates.make() : undefined
    const tls = options.tls ?? { cert: certificates!.server.cert, key: certificates!.server.key, ca: certificates!.ca }
    const requireClientCert = options.requireClientCert === true
    if (requireClientCert && tls.ca === undefined) {
      return yield* Effect.dieMessage("RestApiServer: requireClientCert needs tls.ca to verify client certificates")
    }
    const defaultTolerance = options.defaultLagTolerance ?? 100
    const expectedAuthorization =
      options.basicAuth === undefined
        ? undefined
        : `Basic ${Buffer.from(`${options.basicAuth.username}:${options.basicAuth.password}`).toString("base64")}`

    let bdbs: ReadonlyArray<Bdb> = options.bdbs ?? []
    const lag = new Map<number, number>()
    const unavailable = new Set<number>()
    const failures = new Map<Route, Failure>()
    const log: Array<RequestRecord> = []
    const sockets = new Set<net.Socket>()

    const handle = (request: http.IncomingMessage, response: http.ServerResponse) => {
      const url = new URL(request.url ?? "/", `https://${host}`)
      const authorizationHeader = request.headers.authorization
      const authorization: RequestRecord["authorization"] =
        authorizationHeader === undefined
          ? "none"
          : expectedAuthorization === undefined || authorizationHeader === expectedAuthorization
            ? "accepted"
            : "rejected"
      const socket = request.socket as TLSSocket
      const base = {
        method: request.method ?? "GET",
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        authorization,
        clientCertificate: socket.authorized === true && Object.keys(socket.getPeerCertificate() ?? {}).length > 0
      }
      const record = (status: RequestRecord["status"]) => {
        log.push({ ...base, status })
      }
      if (expectedAuthorization !== undefined && authorization !== "accepted") {
        return json(
          response,
          401,
          { error_code: "unauthorized", description: "Authentication required: missing or wrong credentials" },
          record
        )
      }
      if (request.method !== "GET") {
        return json(response, 405, { error_code: "method_not_allowed", description: "Only GET is served" }, record)
      }
      const availability = /^\/v1\/bdbs\/([^/]+)\/availability$/.exec(url.pathname)
      const route: Route | undefined =
        url.pathname === "/v1/bdbs" ? "bdbs" : availability !== null ? "availability" : undefined
      if (route === undefined) {
        return json(response, 404, { error_code: "not_found", description: `No route ${url.pathname}` }, record)
      }
      const failure = failures.get(route)
      if (failure !== undefined) {
        switch (failure._tag) {
          case "Hang":
            record("hang")
            return
          case "Reset":
            record("reset")
            request.socket.destroy()
            return
          case "Status":
            record(failure.status)
            response.writeHead(failure.status, {
              "content-type": failure.contentType,
              "content-length": Buffer.byteLength(failure.body)
            })
            response.end(failure.body)
            return
        }
      }
      if (route === "bdbs") return json(response, 200, bdbs, record)
      const uid = decodeURIComponent(availability![1]!)
      const bdb = bdbs.find((b) => String(b.uid) === uid)
      if (bdb === undefined) {
        return json(
          response,
          404,
          { error_code: "db_not_found", description: `Database ${uid} does not exist` },
          record
        )
      }
      if (unavailable.has(bdb.uid)) {
        return json(
          response,
          503,
          { error_code: "bdb_unavailable", description: `Database ${uid} is not available` },
          record
        )
      }
      if (url.searchParams.get("extend_check") === "lag") {
        const raw = url.searchParams.get("availability_lag_tolerance_ms")
        const tolerance = raw === null ? defaultTolerance : Number(raw)
        if (!Number.isFinite(tolerance) || tolerance < 0) {
          return json(
            response,
            400,
            { error_code: "invalid_parameter", description: `Invalid availability_lag_tolerance_ms: ${raw}` },
            record
          )
        }
        const current = lag.get(bdb.uid) ?? 0
        if (current > tolerance) {
          return json(
            response,
            503,
            {
              error_code: "bdb_lag_exceeds_tolerance",
              description: `Database ${uid} replication lag ${current} ms exceeds the tolerance of ${tolerance} ms`
            },
            record
          )
        }
      }
      return json(response, 200, {}, record)
    }

    const server = https.createServer(
      {
        cert: tls.cert,
        key: tls.key,
        ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
        requestCert: requireClientCert,
        rejectUnauthorized: requireClientCert
      },
      handle
    )
    server.on("connection", (socket: net.Socket) => {
      sockets.add(socket)
      socket.on("close", () => sockets.delete(socket))
    })
    server.on("tlsClientError", () => {})

    const listen = (port: number) =>
      Effect.async<number, PortUnavailable>((resume) => {
        const onError = (cause: Error) => resume(Effect.fail(new PortUnavailable({ host, port, cause })))
        server.once("error", onError)
        server.listen({ host, port }, () => {
          server.off("error", onError)
          resume(Effect.succeed((server.address() as net.AddressInfo).port))
        })
      })

    const closeAll = Effect.async<void>((resume) => {
      for (const socket of sockets) socket.destroy()
      sockets.clear()
      if (!server.listening) return resume(Effect.void)
      server.close(() => resume(Effect.void))
    })

    const port = yield* Effect.acquireRelease(listen(options.port ?? 0), () => closeAll)

    const service: Service = {
      host,
      port,
      url: `https://${host}:${port}`,
      healthCheckUrl: `https://${host}`,
      ca: tls.ca,
      certificates,
      setBdbs: (next) =>
        Effect.sync(() => {
          bdbs = next
        }),
      setLag: (uid, lagMillis) =>
        Effect.sync(() => {
          lag.set(uid, lagMillis)
        }),
      setAvailable: (uid, available) =>
        Effect.sync(() => {
          if (available) unavailable.delete(uid)
          else unavailable.add(uid)
        }),
      fail: (route, failure) =>
        Effect.sync(() => {
          failures.set(route, failure)
        }),
      recover: (route) =>
        Effect.sync(() => {
          if (route === undefined) failures.clear()
          else failures.delete(route)
        }),
      requests: Effect.sync(() => [...log]),
      clearRequests: Effect.sync(() => {
        log.length = 0
      }),
      stop: closeAll,
      start: Effect.suspend(() =>
        server.listening
          ? Effect.void
          : listen(port).pipe(
              Effect.retry({
                schedule: Schedule.intersect(Schedule.spaced("50 millis"), Schedule.recurs(40)),
                while: (error) => (error.cause as NodeJS.ErrnoException | undefined)?.code === "EADDRINUSE"
              }),
              Effect.asVoid
            )
      )
    }
    return service
  })

/**
 * A layer providing a `RestApiServer`, started when the layer is built and closed when it is released.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RestApiServer, TestkitError> =>
  Layer.scoped(RestApiServer, make(options))
