import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as path from "node:path"
import * as tls from "node:tls"
import { FetchHttpClient, HttpClient, HttpClientError, HttpClientRequest } from "@effect/platform"
import { Data, Duration, Effect, Layer, ParseResult, Redacted, Ref, Schema, type Scope } from "effect"
import { Agent, fetch as undiciFetch } from "undici"
import * as FailureCause from "../FailureCause.js"
import * as HealthCheck from "../HealthCheck.js"
import { DurationInput, IntAtLeast, PositiveDuration } from "./schemas.js"

// ---- options ---------------------------------------------------------------------------------------------------

const Secret = Schema.declare(
  (u: unknown): u is string | Redacted.Redacted<string> =>
    typeof u === "string" || (Redacted.isRedacted(u) && typeof Redacted.value(u) === "string"),
  { identifier: "Secret", message: () => "expected a string or a Redacted string (the value is not shown)" }
)

const Port = Schema.Number.pipe(
  Schema.filter(
    (n) => (Number.isInteger(n) && n >= 1 && n <= 65535) || `expected a TCP port (an integer 1-65535), got ${n}`
  )
)

const Path = Schema.String.pipe(Schema.filter((s) => s.trim() !== "" || "expected a file or directory path"))

const Bytes = Schema.Union(
  Schema.String.pipe(Schema.filter((s) => s.trim() !== "" || "expected PEM certificates")),
  Schema.Uint8ArrayFromSelf
)

const OptionsSchema = Schema.Struct({
  name: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => "lag-aware" }),
  restApiPort: Schema.optionalWith(Port, { default: () => 9443 }),
  lagAwareTolerance: Schema.optionalWith(DurationInput, { default: () => Duration.millis(100) }),
  timeout: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(30) }),
  basicAuth: Schema.optional(Schema.Struct({ username: Schema.String, password: Secret })),
  verifyTls: Schema.optionalWith(Schema.Boolean, { default: () => true }),
  caFile: Schema.optional(Path),
  caPath: Schema.optional(Path),
  caData: Schema.optional(Bytes),
  clientCertFile: Schema.optional(Path),
  clientKeyFile: Schema.optional(Path),
  clientKeyPassword: Schema.optional(Secret),
  failbackOnly: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  probes: Schema.optional(IntAtLeast(1)),
  probesDelay: Schema.optional(DurationInput),
  policy: Schema.optional(Schema.Literal("all", "any", "majority")),
  healthCheckTimeout: Schema.optional(PositiveDuration)
}).pipe(
  Schema.filter((o) => {
    if (o.clientKeyFile !== undefined && o.clientCertFile === undefined) {
      return { path: ["clientCertFile"], message: "clientKeyFile is set but clientCertFile is not" }
    }
    if (o.clientKeyPassword !== undefined && o.clientCertFile === undefined) {
      return { path: ["clientKeyPassword"], message: "clientKeyPassword is set but clientCertFile is not" }
    }
    return true
  })
)

export type Options = Schema.Schema.Encoded<typeof OptionsSchema>
type Settings = Schema.Schema.Type<typeof OptionsSchema>

export class InvalidOptions extends Data.TaggedError("LagAwareInvalidOptions")<{
  readonly field: string
  readonly reason: string
}> {
  override get message() {
    return `LagAwareHealthCheck option "${this.field}": ${this.reason}`
  }
}

const decodeSettings = (options: Options): Effect.Effect<Settings, InvalidOptions> =>
  Schema.decodeUnknown(OptionsSchema, { onExcessProperty: "error" })(options).pipe(
    Effect.mapError((error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      const field = issue === undefined || issue.path.length === 0 ? "options" : issue.path.join(".")
      return new InvalidOptions({ field, reason: issue?.message ?? "invalid options" })
    })
  )

const reveal = (secret: string | Redacted.Redacted<string>): string =>
  typeof secret === "string" ? secret : Redacted.value(secret)

// ---- TLS transport ---------------------------------------------------------------------------------------------

const pemBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** PEM text as is; DER bytes wrapped into PEM. */
const toPem = (data: string | Uint8Array): string => {
  if (typeof data === "string") return data
  const text = Buffer.from(data).toString("latin1")
  if (text.includes("-----BEGIN")) return text
  const lines =
    Buffer.from(data)
      .toString("base64")
      .match(/.{1,64}/g) ?? []
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`
}

const errorText = (cause: unknown) => String((cause as { code?: unknown }).code ?? (cause as Error).message ?? cause)

const readText = (field: string, file: string) =>
  Effect.tryPromise({
    try: () => fs.readFile(file, "utf8"),
    catch: (cause) => new InvalidOptions({ field, reason: `cannot read ${file}: ${errorText(cause)}` })
  })

/** The PEM certificate blocks of `pem`, each checked to parse. */
const certificatesIn = (field: string, source: string, pem: string) =>
  Effect.suspend(() => {
    const blocks = pem.match(pemBlock) ?? []
    if (blocks.length === 0)
      return Effect.fail(new InvalidOptions({ field, reason: `no PEM certificate in ${source}` }))
    for (const block of blocks) {
      try {
        new crypto.X509Certificate(block)
      } catch (cause) {
        return Effect.fail(
          new InvalidOptions({
            field,
            reason: `${source} holds a certificate that does not parse: ${errorText(cause)}`
          })
        )
      }
    }
    return Effect.succeed(blocks)
  })

const readCaPath = (dir: string) =>
  Effect.gen(function* () {
    const entries = yield* Effect.tryPromise({
      try: () => fs.readdir(dir, { withFileTypes: true }),
      catch: (cause) =>
        new InvalidOptions({ field: "caPath", reason: `cannot read the directory ${dir}: ${errorText(cause)}` })
    })
    const files = entries.filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => path.join(dir, e.name))
    const texts = yield* Effect.forEach(files, (file) => Effect.orElseSucceed(readText("caPath", file), () => ""))
    return yield* certificatesIn("caPath", `the files of ${dir}`, texts.join("\n"))
  })

interface TlsConnect {
  rejectUnauthorized: boolean
  ca?: Array<string>
  cert?: string
  key?: string
  passphrase?: string
}

/** Checks a client certificate and key (and the key's passphrase), naming the option at fault. */
const checkClientIdentity = (cert: string, key: string, passphrase: string | undefined) =>
  Effect.suspend(() => {
    const invalid = (field: string, reason: string) => Effect.fail(new InvalidOptions({ field, reason }))
    try {
      new crypto.X509Certificate(cert)
    } catch (cause) {
      return invalid("clientCertFile", `not a PEM certificate: ${errorText(cause)}`)
    }
    const encrypted = /ENCRYPTED/.test(key)
    if (encrypted && passphrase === undefined) {
      return invalid("clientKeyPassword", "the client key is encrypted; give its passphrase")
    }
    try {
      crypto.createPrivateKey(passphrase === undefined ? { key } : { key, passphrase })
    } catch (cause) {
      return encrypted
        ? invalid("clientKeyPassword", "the passphrase does not decrypt the client key")
        : invalid("clientKeyFile", `not a PEM private key: ${errorText(cause)}`)
    }
    try {
      tls.createSecureContext({ cert, key, ...(passphrase === undefined ? {} : { passphrase }) })
    } catch (cause) {
      return invalid("clientKeyFile", `the key does not belong to the client certificate: ${errorText(cause)}`)
    }
    return Effect.void
  })

/** The options of `tls.connect` the settings ask for, read and checked now. */
const connectOptions = (settings: Settings): Effect.Effect<TlsConnect, InvalidOptions> =>
  Effect.gen(function* () {
    const ca: Array<string> = []
    if (settings.caFile !== undefined) {
      const pem = yield* readText("caFile", settings.caFile)
      ca.push(...(yield* certificatesIn("caFile", settings.caFile, pem)))
    }
    if (settings.caPath !== undefined) ca.push(...(yield* readCaPath(settings.caPath)))
    if (settings.caData !== undefined) ca.push(...(yield* certificatesIn("caData", "caData", toPem(settings.caData))))
    const options: TlsConnect = { rejectUnauthorized: settings.verifyTls }
    if (ca.length > 0) options.ca = ca
    if (settings.clientCertFile !== undefined) {
      const cert = yield* readText("clientCertFile", settings.clientCertFile)
      const key = settings.clientKeyFile === undefined ? cert : yield* readText("clientKeyFile", settings.clientKeyFile)
      const passphrase = settings.clientKeyPassword === undefined ? undefined : reveal(settings.clientKeyPassword)
      yield* checkClientIdentity(cert, key, passphrase)
      options.cert = cert
      options.key = key
      if (passphrase !== undefined) options.passphrase = passphrase
    }
    return options
  })

/**
 * The REST API ended a TLS connection right after the handshake, without an alert and without answering: what a
 * server does when it refuses the client certificate it was shown (the refusal comes after the handshake).
 */
export class ClosedAfterHandshake extends Error {
  override readonly name = "ClosedAfterHandshake"
}

/** Codes of a connection closed before any answer: over TLS 1.3 they hide a handshake the server refused. */
const closedCodes = new Set(["UND_ERR_SOCKET", "ECONNRESET", "EPIPE"])

/**
 * Opens one bare TLS connection with the transport's options and tells how the REST API ends it: the TLS error
 * (e.g. `ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED`), `ClosedAfterHandshake` when it closes after the handshake while
 * a client certificate was shown, or `undefined` when it answers (or closes for some other reason). Over TLS 1.3 the
 * server judges the client certificate after the client's side of the handshake is done, so `fetch` only sees the
 * socket close ("other side closed"); the alert that says why reaches a connection that waits for it.
 */
const diagnoseHandshake = (url: URL, connect: TlsConnect): Effect.Effect<Error | undefined> =>
  Effect.async<Error | undefined>((resume) => {
    const host = url.hostname.replace(/^\[|\]$/g, "")
    let handshaken = false
    let settled = false
    const socket = tls.connect({
      ...connect,
      host,
      port: Number(url.port === "" ? 443 : url.port),
      ...(net.isIP(host) === 0 ? { servername: host } : {})
    })
    const done = (value: Error | undefined) => {
      if (settled) return
      settled = true
      socket.destroy()
      resume(Effect.succeed(value))
    }
    socket.on("secureConnect", () => {
      handshaken = true
      socket.write(`HEAD / HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`)
    })
    socket.on("data", () => done(undefined))
    socket.on("error", (error) => done(error))
    socket.on("close", () =>
      done(
        handshaken && connect.cert !== undefined
          ? new ClosedAfterHandshake("the REST API closed the connection right after the TLS handshake")
          : undefined
      )
    )
    return Effect.sync(() => {
      settled = true
      socket.destroy()
    })
  }).pipe(Effect.timeoutTo({ duration: "2 seconds", onSuccess: (found) => found, onTimeout: () => undefined }))

/** A transport error that may hide a refused TLS handshake is replaced by the TLS error a bare handshake finds. */
const withHandshakeDiagnosis = (client: HttpClient.HttpClient, connect: TlsConnect): HttpClient.HttpClient =>
  HttpClient.transform(client, (response, request) =>
    Effect.catchTag(response, "RequestError", (error) => {
      const url = new URL(request.url)
      const closed = causes(error).some((e) => typeof e.code === "string" && closedCodes.has(e.code))
      if (!closed || url.protocol !== "https:") return Effect.fail(error)
      return Effect.flatMap(diagnoseHandshake(url, connect), (found) =>
        Effect.fail(
          found === undefined
            ? error
            : new HttpClientError.RequestError({
                request,
                reason: "Transport",
                cause: found,
                description: found.message
              })
        )
      )
    })
  )

export const transport = (options: Options): Layer.Layer<HttpClient.HttpClient, InvalidOptions> =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const settings = yield* decodeSettings(options)
      const connect = yield* connectOptions(settings)
      const agent = yield* Effect.acquireRelease(
        Effect.sync(() => new Agent({ connect })),
        (agent) => Effect.promise(() => agent.destroy().catch(() => undefined))
      )
      const fetchLayer = FetchHttpClient.layer.pipe(
        Layer.provide(
          Layer.mergeAll(
            Layer.succeed(FetchHttpClient.Fetch, undiciFetch as unknown as typeof globalThis.fetch),
            Layer.succeed(FetchHttpClient.RequestInit, { dispatcher: agent } as unknown as RequestInit)
          )
        )
      )
      return Layer.effect(
        HttpClient.HttpClient,
        Effect.map(HttpClient.HttpClient, (client) => withHandshakeDiagnosis(client, connect))
      ).pipe(Layer.provide(fetchLayer))
    })
  )

// ---- the check -------------------------------------------------------------------------------------------------

export type Reason =
  | "NoHealthCheckUrl"
  | "Transport"
  | "Tls"
  | "Timeout"
  | "HttpStatus"
  | "BadBdbList"
  | "NoMatchingBdb"
  | "AmbiguousBdb"

export class CheckFailed extends Data.TaggedError("LagAwareCheckFailed")<{
  readonly database: string
  readonly reason: Reason
  readonly url?: string
  readonly status?: number
  readonly detail: string
  /** The typed cause: `kind` (`tls`, `auth`, `refused`…) and `detail` as its message. */
  readonly failureCause: FailureCause.FailureCause
}> {
  override get message() {
    return String(this.failureCause)
  }
}

export interface LagAwareHealthCheck extends HealthCheck.HealthCheck {
  readonly validate: (database: Omit<HealthCheck.Target, "connection">) => string | undefined
}

interface Base {
  /** `https://host:port` plus any path prefix, without credentials and without a trailing slash. */
  readonly url: string
  readonly auth: { readonly username: string; readonly password: string } | undefined
}

const explicitPort = (raw: string): boolean => {
  const afterScheme = raw.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")
  const authority = afterScheme.split(/[/?#]/)[0] ?? ""
  const hostPort = authority.slice(authority.lastIndexOf("@") + 1)
  return /:\d+$/.test(hostPort)
}

const decodeUserinfo = (text: string): string => {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

const resolveBase = (healthCheckUrl: string, restApiPort: number): Base | string => {
  let url: URL
  try {
    url = new URL(healthCheckUrl)
  } catch {
    return "healthCheckUrl is not a valid URL"
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    return `healthCheckUrl must be an https:// URL, got "${url.protocol}"`
  }
  const auth =
    url.username !== "" || url.password !== ""
      ? { username: decodeUserinfo(url.username), password: decodeUserinfo(url.password) }
      : undefined
  url.username = ""
  url.password = ""
  if (!explicitPort(healthCheckUrl)) url.port = String(restApiPort)
  const prefix = url.pathname.replace(/\/+$/, "")
  return { url: `${url.origin}${prefix}`, auth }
}

const missingUrl = (database: string) =>
  `database "${database}" has no healthCheckUrl: the lag-aware health check needs the Redis Software REST API base ` +
  `of the cluster serving it (healthCheckUrl: "https://cluster.example.com")`

/**
 * Every form a secret can take in a REST answer or an error: as is, JSON-escaped (also with `\\uXXXX` for non-ASCII
 * and `\\/`), URL-encoded (`%20` and form `+`). Longest first, so a longer form is replaced before a shorter one
 * inside it.
 */
export const encodings = (secret: string): ReadonlyArray<string> => {
  const json = JSON.stringify(secret).slice(1, -1)
  const asciiJson = json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
  const forms = [
    secret,
    json,
    asciiJson,
    asciiJson.replace(/\\u([0-9a-f]{4})/g, (_, hex: string) => `\\u${hex.toUpperCase()}`),
    json.replace(/\//g, "\\/"),
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    encodeURI(secret)
  ]
  return [...new Set(forms)].filter((form) => form.length > 0).sort((a, b) => b.length - a.length)
}

/** Replaces every form of every secret. */
export const scrub = (text: string, secrets: ReadonlyArray<string>): string =>
  secrets.reduce((acc, secret) => (acc.includes(secret) ? acc.split(secret).join("<redacted>") : acc), text)

/** A body or list fit for a message: secrets scrubbed first, then whitespace collapsed and cut to 300 characters. */
const excerpt = (raw: string, secrets: ReadonlyArray<string>): string => {
  const flat = scrub(raw, secrets).replace(/\s+/g, " ").trim()
  if (flat === "") return "(empty body)"
  return flat.length > 300 ? `${flat.slice(0, 300)}…` : flat
}

const hints: Record<number, string> = {
  401: " (check basicAuth: username and password)",
  403: " (the REST API user needs the view_bdb_info permission)",
  404: " (no such database or route on this cluster)",
  503: " (the database is unavailable or lags more than the tolerance)"
}

const tlsUntrusted = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_CHAIN_TOO_LONG",
  "INVALID_CA"
])

/** The chain of `cause`s of an error, outermost first. */
const causes = (error: unknown): ReadonlyArray<{ readonly code?: unknown; readonly message?: unknown }> => {
  const chain: Array<{ readonly code?: unknown; readonly message?: unknown }> = []
  let current: unknown = error
  for (let i = 0; i < 6 && typeof current === "object" && current !== null; i++) {
    chain.push(current as { code?: unknown; message?: unknown })
    current = (current as { cause?: unknown }).cause
  }
  return chain
}

/** The REST API refused the client certificate it was shown. */
const clientCertRefused = new Set([
  "ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN",
  "ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED",
  "ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED",
  "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
  "ERR_SSL_TLSV1_ALERT_ACCESS_DENIED"
])

interface Described {
  readonly reason: Reason
  readonly kind: FailureCause.Kind
  readonly detail: string
}

const describeTransport = (error: unknown, url: string, hasClientCert: boolean): Described => {
  const chain = causes(error)
  const coded = chain.find((e) => typeof e.code === "string")
  const code = coded === undefined ? undefined : String(coded.code)
  const deepest = chain.at(-1)
  const text = String(coded?.message ?? deepest?.message ?? "unknown error").trim()
  const where = new URL(url).host
  const tlsCause = (detail: string): Described => ({ reason: "Tls", kind: "tls", detail })
  if (code === "ECONNREFUSED") {
    return {
      reason: "Transport",
      kind: "refused",
      detail: `connection to ${where} refused: is the REST API up, and is restApiPort (or the port in healthCheckUrl) right?`
    }
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return {
      reason: "Transport",
      kind: "dns",
      detail: `cannot resolve the host of ${where} (${code}): check healthCheckUrl`
    }
  }
  if (code === "CERT_HAS_EXPIRED") {
    return tlsCause(`expired certificate: the REST API certificate of ${where} has expired (${code}); renew it`)
  }
  if (code === "CERT_NOT_YET_VALID") {
    return tlsCause(`certificate not yet valid: the REST API certificate of ${where} is not valid yet (${code})`)
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return tlsCause(
      `hostname mismatch: the REST API certificate does not cover the host of ${where} (${code}: ${text}); use a ` +
        `host name the certificate was issued for in healthCheckUrl, or verifyTls: false`
    )
  }
  if (code !== undefined && tlsUntrusted.has(code)) {
    return tlsCause(
      `unknown CA: the REST API certificate of ${where} is not signed by a trusted CA (${code}); give its CA with ` +
        `caFile, caPath or caData, or verifyTls: false`
    )
  }
  if (code === "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED") {
    return tlsCause(
      hasClientCert
        ? `client certificate required: the REST API of ${where} asks for a client certificate and took none (${code})`
        : `client certificate required: the REST API of ${where} refused the TLS handshake because no client ` +
            `certificate is configured (${code}); set clientCertFile and clientKeyFile`
    )
  }
  if ((code !== undefined && clientCertRefused.has(code)) || chain.some((e) => e instanceof ClosedAfterHandshake)) {
    return tlsCause(
      `client certificate refused: the REST API of ${where} refused the client certificate of clientCertFile ` +
        `(${code ?? "it closed the connection right after the TLS handshake"}); use a certificate signed by a CA the ` +
        `REST API trusts`
    )
  }
  if (code === "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE" && !hasClientCert) {
    return tlsCause(
      `TLS handshake refused by the REST API of ${where} (${code}); it may require a client certificate: set ` +
        `clientCertFile and clientKeyFile`
    )
  }
  if (code?.startsWith("ERR_SSL") || code?.startsWith("ERR_TLS")) {
    return tlsCause(`TLS handshake with ${where} failed (${code}: ${text})`)
  }
  if (code !== undefined && closedCodes.has(code)) {
    return {
      reason: "Transport",
      kind: "connection",
      detail: `the connection to ${where} was closed before an answer (${code})`
    }
  }
  return {
    reason: "Transport",
    kind: "connection",
    detail: `request to ${where} failed (${code ?? "no code"}: ${text})`
  }
}

interface Answer {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

const basicToken = (auth: NonNullable<Base["auth"]>) =>
  `Basic ${Buffer.from(`${auth.username}:${auth.password}`, "utf8").toString("base64")}`

const statusKind = (status: number): FailureCause.Kind => (status === 401 || status === 403 ? "auth" : "unhealthy")

const reasonKind: Record<Exclude<Reason, "Transport" | "Tls" | "HttpStatus">, FailureCause.Kind> = {
  NoHealthCheckUrl: "unhealthy",
  Timeout: "timeout",
  BadBdbList: "protocol",
  NoMatchingBdb: "unhealthy",
  AmbiguousBdb: "unhealthy"
}

export const make = (options: Options): Effect.Effect<LagAwareHealthCheck, InvalidOptions, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const settings = yield* decodeSettings(options)
    // the platform's span of a request would end with the transport's error, which holds the request and its
    // `authorization` header (shown in clear when inspected outside a logger): each call gets a span of the check's own
    const client = HttpClient.withTracerDisabledWhen(yield* HttpClient.HttpClient, () => true)
    const uids = yield* Ref.make<ReadonlyMap<string, string>>(new Map())
    const tolerance = Math.round(Duration.toMillis(settings.lagAwareTolerance))
    const callTimeout =
      settings.healthCheckTimeout === undefined
        ? settings.timeout
        : Duration.min(settings.timeout, settings.healthCheckTimeout)
    const configuredAuth =
      settings.basicAuth === undefined
        ? undefined
        : { username: settings.basicAuth.username, password: reveal(settings.basicAuth.password) }
    const passphrase = settings.clientKeyPassword === undefined ? [] : encodings(reveal(settings.clientKeyPassword))

    const secretsOf = (auth: Base["auth"]): ReadonlyArray<string> => {
      const secrets: Array<string> = [...passphrase]
      if (auth !== undefined && auth.password !== "") {
        secrets.push(...encodings(auth.password))
        secrets.push(Buffer.from(`${auth.username}:${auth.password}`).toString("base64"))
      }
      return [...new Set(secrets)].sort((a, b) => b.length - a.length)
    }

    const validate = (target: Omit<HealthCheck.Target, "connection">): string | undefined => {
      if (target.healthCheckUrl === undefined) return missingUrl(target.database)
      const base = resolveBase(target.healthCheckUrl, settings.restApiPort)
      return typeof base === "string" ? `database "${target.database}": ${base}` : undefined
    }

    const probe = (target: HealthCheck.Target): Effect.Effect<boolean, CheckFailed> =>
      Effect.suspend(() => {
        let secrets: ReadonlyArray<string> = passphrase
        const fail = (
          reason: Reason,
          detail: string,
          extra: { url?: string; status?: number; kind?: FailureCause.Kind } = {}
        ) => {
          const { kind, ...fields } = extra
          const scrubbed = scrub(detail, secrets)
          const typed =
            kind ?? (reason === "HttpStatus" ? statusKind(extra.status ?? 0) : reasonKind[reason as "Timeout"])
          return new CheckFailed({
            database: target.database,
            reason,
            detail: scrubbed,
            failureCause: FailureCause.make(typed ?? "connection", scrubbed),
            ...fields
          })
        }
        if (target.healthCheckUrl === undefined)
          return Effect.fail(fail("NoHealthCheckUrl", missingUrl(target.database)))
        const base = resolveBase(target.healthCheckUrl, settings.restApiPort)
        if (typeof base === "string") return Effect.fail(fail("NoHealthCheckUrl", `${target.database}: ${base}`))
        const auth = configuredAuth ?? base.auth
        secrets = secretsOf(auth)
        const wanted: ReadonlyArray<Wanted> =
          target.endpoints ?? target.hosts.map((host) => ({ host, port: undefined }))
        const cacheKey = `${base.url} ${target.database} ${wanted.map(showWanted).join(",")}`

        const get = (url: string): Effect.Effect<Answer, CheckFailed> => {
          let request = HttpClientRequest.get(url).pipe(
            HttpClientRequest.setHeader("accept", "application/json"),
            HttpClientRequest.setHeader("user-agent", "effect-redis-multidb/LagAwareHealthCheck")
          )
          // UTF-8, as RFC 7617 recommends (the platform's `basicAuth` encodes Latin-1 and throws beyond it)
          if (auth !== undefined) request = HttpClientRequest.setHeader(request, "authorization", basicToken(auth))
          const parsed = new URL(url)
          return client.execute(request).pipe(
            Effect.flatMap((response) =>
              Effect.map(
                response.text,
                (body): Answer => ({
                  status: response.status,
                  contentType: response.headers["content-type"] ?? "",
                  body
                })
              )
            ),
            Effect.catchAll((error: HttpClientError.HttpClientError) => {
              const described = describeTransport(error, url, settings.clientCertFile !== undefined)
              return Effect.fail(
                fail(described.reason, `GET ${url}: ${described.detail}`, { url, kind: described.kind })
              )
            }),
            Effect.timeoutFail({
              duration: callTimeout,
              onTimeout: () =>
                fail("Timeout", `GET ${url} did not answer within ${Duration.format(callTimeout)} (timeout)`, { url })
            }),
            Effect.tap((answer) => Effect.annotateCurrentSpan("http.response.status_code", answer.status)),
            Effect.withSpan("http.client GET", {
              kind: "client",
              attributes: {
                "http.request.method": "GET",
                "server.address": parsed.hostname,
                "server.port": Number(parsed.port || (parsed.protocol === "https:" ? 443 : 80)),
                "url.full": url
              }
            })
          )
        }

        const statusFailure = (url: string, answer: Answer) =>
          fail(
            "HttpStatus",
            `GET ${url} answered ${answer.status}${hints[answer.status] ?? ""}: ${excerpt(answer.body, secrets)}`,
            { url, status: answer.status }
          )

        const resolveUid = Effect.gen(function* () {
          const url = `${base.url}/v1/bdbs`
          const answer = yield* get(url)
          if (answer.status < 200 || answer.status > 299) return yield* statusFailure(url, answer)
          let parsed: unknown
          try {
            parsed = JSON.parse(answer.body)
          } catch {
            return yield* fail(
              "BadBdbList",
              `GET ${url} answered ${answer.status} with a body that is not JSON (content-type ` +
                `"${answer.contentType}"): ${excerpt(answer.body, secrets)}; is healthCheckUrl / restApiPort the REST API?`,
              { url, status: answer.status }
            )
          }
          const decoded = Schema.decodeUnknownEither(BdbList)(parsed)
          if (decoded._tag === "Left") {
            const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
            const at = issue === undefined || issue.path.length === 0 ? "" : ` at ${issue.path.join(".")}`
            return yield* fail(
              "BadBdbList",
              `GET ${url} answered JSON that is not a list of bdbs${at} ` +
                `(${excerpt(issue?.message ?? "unexpected", secrets)}): ${excerpt(answer.body, secrets)}`,
              { url, status: answer.status }
            )
          }
          const match = matchBdb(decoded.right, wanted)
          if (match._tag === "None") {
            return yield* fail(
              "NoMatchingBdb",
              `no bdb listed by GET ${url} has an endpoint at ${wanted.map((w) => `"${showWanted(w)}"`).join(" or ")} ` +
                `(dns_name or addr, and port, of the database's url); endpoints seen: ` +
                excerpt(summarize(decoded.right), secrets),
              { url }
            )
          }
          if (match._tag === "Several") {
            return yield* fail(
              "AmbiguousBdb",
              `several bdbs listed by GET ${url} have an endpoint at "${match.at}": ` +
                `${excerpt(match.uids.map((uid) => `bdb ${uid}`).join(", "), secrets)}; the check cannot tell which one ` +
                `serves database "${target.database}" (give the database's url the host and port of one bdb's endpoint)`,
              { url }
            )
          }
          yield* Ref.update(uids, (map) => new Map(map).set(cacheKey, match.uid))
          return match.uid
        })

        const availability = (uid: string) =>
          Effect.gen(function* () {
            const url =
              `${base.url}/v1/bdbs/${encodeURIComponent(uid)}/availability` +
              `?extend_check=lag&availability_lag_tolerance_ms=${tolerance}`
            const answer = yield* get(url)
            return answer.status >= 200 && answer.status <= 299 ? undefined : { url, answer }
          })

        return Effect.gen(function* () {
          const cached = (yield* Ref.get(uids)).get(cacheKey)
          let outcome = yield* availability(cached ?? (yield* resolveUid))
          if (outcome !== undefined && outcome.answer.status === 404 && cached !== undefined) {
            yield* Ref.update(uids, (map) => {
              const next = new Map(map)
              next.delete(cacheKey)
              return next
            })
            outcome = yield* availability(yield* resolveUid)
          }
          if (outcome !== undefined) return yield* statusFailure(outcome.url, outcome.answer)
          return true
        })
      }).pipe(Effect.withSpan("LagAwareHealthCheck.probe", { attributes: { database: target.database } }))

    const check: LagAwareHealthCheck = {
      ...HealthCheck.make({
        name: settings.name,
        probe,
        failbackOnly: settings.failbackOnly,
        ...(settings.probes === undefined ? {} : { probes: settings.probes }),
        ...(settings.probesDelay === undefined ? {} : { probesDelay: settings.probesDelay }),
        ...(settings.policy === undefined ? {} : { policy: settings.policy }),
        ...(settings.healthCheckTimeout === undefined ? {} : { timeout: settings.healthCheckTimeout })
      }),
      validate
    }
    return check
  })

const Endpoint = Schema.Struct({
  dns_name: Schema.optional(Schema.NullOr(Schema.String)),
  addr: Schema.optional(Schema.NullOr(Schema.Array(Schema.String))),
  port: Schema.optional(Schema.NullOr(Schema.Number))
})

const BdbList = Schema.Array(
  Schema.Struct({
    uid: Schema.Union(Schema.Number, Schema.String),
    endpoints: Schema.optional(Schema.NullOr(Schema.Array(Endpoint)))
  })
)

type Bdbs = Schema.Schema.Type<typeof BdbList>
type BdbEndpoint = Schema.Schema.Type<typeof Endpoint>

/** An endpoint of the database: a host (DNS name or address) and its port, when known. */
interface Wanted {
  readonly host: string
  readonly port: number | undefined
}

const showWanted = (wanted: Wanted) => (wanted.port === undefined ? wanted.host : `${wanted.host}:${wanted.port}`)

type Match =
  | { readonly _tag: "One"; readonly uid: string }
  | { readonly _tag: "None" }
  | { readonly _tag: "Several"; readonly uids: ReadonlyArray<string>; readonly at: string }

const byDnsName = (endpoint: BdbEndpoint, wanted: Wanted) =>
  typeof endpoint.dns_name === "string" && endpoint.dns_name.toLowerCase() === wanted.host.toLowerCase()

const byAddr = (endpoint: BdbEndpoint, wanted: Wanted) =>
  (endpoint.addr ?? []).some((addr) => addr.toLowerCase() === wanted.host.toLowerCase())

const portKnown = (endpoint: BdbEndpoint, wanted: Wanted) =>
  typeof endpoint.port === "number" && wanted.port !== undefined

/** Tiers tried in order: DNS name and port, address and port; then, when a port is unknown, the host alone. */
const tiers: ReadonlyArray<(endpoint: BdbEndpoint, wanted: Wanted) => boolean> = [
  (e, w) => portKnown(e, w) && e.port === w.port && byDnsName(e, w),
  (e, w) => portKnown(e, w) && e.port === w.port && byAddr(e, w),
  (e, w) => !portKnown(e, w) && byDnsName(e, w),
  (e, w) => !portKnown(e, w) && byAddr(e, w)
]

/**
 * The bdb serving the database: one whose endpoint has the database's host (DNS name or address) and port. A DNS-name
 * match wins over an address match; several bdbs matching in the same way are reported, never guessed between.
 */
const matchBdb = (bdbs: Bdbs, wanted: ReadonlyArray<Wanted>): Match => {
  for (const tier of tiers) {
    const found = new Map<string, string>()
    for (const bdb of bdbs) {
      for (const endpoint of bdb.endpoints ?? []) {
        const hit = wanted.find((w) => tier(endpoint, w))
        if (hit !== undefined && !found.has(String(bdb.uid))) found.set(String(bdb.uid), showWanted(hit))
      }
    }
    if (found.size === 1) return { _tag: "One", uid: [...found.keys()][0]! }
    if (found.size > 1)
      return { _tag: "Several", uids: [...found.keys()], at: [...new Set(found.values())].join('", "') }
  }
  return { _tag: "None" }
}

const summarize = (bdbs: Bdbs): string => {
  if (bdbs.length === 0) return "none (the cluster lists no bdb)"
  return bdbs
    .map((bdb) => {
      const endpoints = (bdb.endpoints ?? []).map((e) =>
        [e.dns_name, ...(e.addr ?? []), typeof e.port === "number" ? `port ${e.port}` : undefined]
          .filter(Boolean)
          .join(" ")
      )
      return `bdb ${bdb.uid}: ${endpoints.join(", ") || "no endpoints"}`
    })
    .join("; ")
}

export const makeDefault = (options: Options): Effect.Effect<LagAwareHealthCheck, InvalidOptions, Scope.Scope> =>
  Effect.flatMap(Layer.build(transport(options)), (context) => Effect.provide(make(options), context))

export const layer = (
  options: Options,
  alongside: ReadonlyArray<HealthCheck.HealthCheck> = [HealthCheck.ping]
): Layer.Layer<HealthCheck.HealthChecks, InvalidOptions> =>
  Layer.scoped(
    HealthCheck.HealthChecks,
    Effect.map(makeDefault(options), (check) => [...alongside, check])
  )
