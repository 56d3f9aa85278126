import * as crypto from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import * as tls from "node:tls"
import { FetchHttpClient, HttpClient, type HttpClientError, HttpClientRequest } from "@effect/platform"
import { Data, Duration, Effect, Layer, ParseResult, Redacted, Ref, Schema, type Scope } from "effect"
import { Agent, fetch as undiciFetch } from "undici"
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

export const transport = (options: Options): Layer.Layer<HttpClient.HttpClient, InvalidOptions> =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const settings = yield* decodeSettings(options)
      const connect = yield* connectOptions(settings)
      const agent = yield* Effect.acquireRelease(
        Effect.sync(() => new Agent({ connect })),
        (agent) => Effect.promise(() => agent.destroy().catch(() => undefined))
      )
      return FetchHttpClient.layer.pipe(
        Layer.provide(
          Layer.mergeAll(
            Layer.succeed(FetchHttpClient.Fetch, undiciFetch as unknown as typeof globalThis.fetch),
            Layer.succeed(FetchHttpClient.RequestInit, { dispatcher: agent } as unknown as RequestInit)
          )
        )
      )
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

export class CheckFailed extends Data.TaggedError("LagAwareCheckFailed")<{
  readonly database: string
  readonly reason: Reason
  readonly url?: string
  readonly status?: number
  readonly detail: string
}> {
  override get message() {
    return this.detail
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

const trimBody = (body: string): string => {
  const flat = body.replace(/\s+/g, " ").trim()
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

const describeTransport = (
  error: unknown,
  url: string,
  hasClientCert: boolean
): { readonly reason: Reason; readonly detail: string } => {
  const chain = causes(error)
  const coded = chain.find((e) => typeof e.code === "string")
  const code = coded === undefined ? undefined : String(coded.code)
  const deepest = chain.at(-1)
  const text = String(coded?.message ?? deepest?.message ?? "unknown error")
  const where = new URL(url).host
  if (code === "ECONNREFUSED") {
    return {
      reason: "Transport",
      detail: `connection to ${where} refused: is the REST API up, and is restApiPort (or the port in healthCheckUrl) right?`
    }
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return { reason: "Transport", detail: `cannot resolve the host of ${where} (${code}): check healthCheckUrl` }
  }
  if (code === "CERT_HAS_EXPIRED") {
    return {
      reason: "Tls",
      detail: `TLS: the REST API certificate of ${where} has expired (${code}); renew it on the cluster`
    }
  }
  if (code === "CERT_NOT_YET_VALID") {
    return { reason: "Tls", detail: `TLS: the REST API certificate of ${where} is not valid yet (${code})` }
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return {
      reason: "Tls",
      detail:
        `TLS: the REST API certificate does not cover the host of ${where} (${code}: ${text.trim()}); use a host name the ` +
        `certificate was issued for in healthCheckUrl, or verifyTls: false`
    }
  }
  if (code !== undefined && tlsUntrusted.has(code)) {
    return {
      reason: "Tls",
      detail:
        `TLS: the REST API certificate of ${where} is not signed by a trusted CA (${code}); give its CA with ` +
        `caFile, caPath or caData, or verifyTls: false`
    }
  }
  const clientCertHint = hasClientCert
    ? "the REST API may have rejected the client certificate (clientCertFile)"
    : "if the REST API requires a client certificate, set clientCertFile and clientKeyFile"
  if (code?.startsWith("ERR_SSL")) {
    return { reason: "Tls", detail: `TLS handshake with ${where} failed (${code}: ${text}); ${clientCertHint}` }
  }
  if (code === "ECONNRESET" || code === "UND_ERR_SOCKET" || code === "EPIPE") {
    return {
      reason: "Transport",
      detail: `the connection to ${where} was closed before an answer (${code}); ${clientCertHint}`
    }
  }
  return { reason: "Transport", detail: `request to ${where} failed (${code ?? "no code"}: ${text})` }
}

interface Answer {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

export const make = (options: Options): Effect.Effect<LagAwareHealthCheck, InvalidOptions, HttpClient.HttpClient> =>
  Effect.gen(function* () {
    const settings = yield* decodeSettings(options)
    const client = yield* HttpClient.HttpClient
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

    const secretsOf = (auth: Base["auth"]): ReadonlyArray<string> => {
      const secrets: Array<string> = []
      if (auth !== undefined && auth.password !== "") {
        secrets.push(auth.password, encodeURIComponent(auth.password))
        secrets.push(Buffer.from(`${auth.username}:${auth.password}`).toString("base64"))
      }
      if (settings.clientKeyPassword !== undefined) secrets.push(reveal(settings.clientKeyPassword))
      return secrets.filter((s) => s.length > 0)
    }
    const scrub = (text: string, secrets: ReadonlyArray<string>) =>
      secrets.reduce((acc, secret) => acc.split(secret).join("<redacted>"), text)

    const validate = (target: Omit<HealthCheck.Target, "connection">): string | undefined => {
      if (target.healthCheckUrl === undefined) return missingUrl(target.database)
      const base = resolveBase(target.healthCheckUrl, settings.restApiPort)
      return typeof base === "string" ? `database "${target.database}": ${base}` : undefined
    }

    const probe = (target: HealthCheck.Target): Effect.Effect<boolean, CheckFailed> =>
      Effect.suspend(() => {
        const fail = (reason: Reason, detail: string, extra: { url?: string; status?: number } = {}) =>
          new CheckFailed({ database: target.database, reason, detail, ...extra })
        if (target.healthCheckUrl === undefined)
          return Effect.fail(fail("NoHealthCheckUrl", missingUrl(target.database)))
        const base = resolveBase(target.healthCheckUrl, settings.restApiPort)
        if (typeof base === "string") return Effect.fail(fail("NoHealthCheckUrl", `${target.database}: ${base}`))
        const auth = configuredAuth ?? base.auth
        const secrets = secretsOf(auth)
        const cacheKey = `${base.url} ${target.database} ${target.hosts.join(",")}`

        const get = (url: string): Effect.Effect<Answer, CheckFailed> => {
          let request = HttpClientRequest.get(url).pipe(
            HttpClientRequest.setHeader("accept", "application/json"),
            HttpClientRequest.setHeader("user-agent", "effect-redis-multidb/LagAwareHealthCheck")
          )
          if (auth !== undefined)
            request = HttpClientRequest.basicAuth(request, auth.username, Redacted.make(auth.password))
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
              return Effect.fail(fail(described.reason, scrub(`GET ${url}: ${described.detail}`, secrets), { url }))
            }),
            Effect.timeoutFail({
              duration: callTimeout,
              onTimeout: () =>
                fail("Timeout", `GET ${url} did not answer within ${Duration.format(callTimeout)} (timeout)`, { url })
            })
          )
        }

        const statusFailure = (url: string, answer: Answer) =>
          fail(
            "HttpStatus",
            scrub(
              `GET ${url} answered ${answer.status}${hints[answer.status] ?? ""}: ${trimBody(answer.body)}`,
              secrets
            ),
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
              scrub(
                `GET ${url} answered ${answer.status} with a body that is not JSON (content-type ` +
                  `"${answer.contentType}"): ${trimBody(answer.body)}; is healthCheckUrl / restApiPort the REST API?`,
                secrets
              ),
              { url, status: answer.status }
            )
          }
          const decoded = Schema.decodeUnknownEither(BdbList)(parsed)
          if (decoded._tag === "Left") {
            const issue = ParseResult.ArrayFormatter.formatErrorSync(decoded.left)[0]
            const at = issue === undefined || issue.path.length === 0 ? "" : ` at ${issue.path.join(".")}`
            return yield* fail(
              "BadBdbList",
              scrub(
                `GET ${url} answered JSON that is not a list of bdbs${at} (${issue?.message ?? "unexpected"}): ` +
                  trimBody(answer.body),
                secrets
              ),
              { url, status: answer.status }
            )
          }
          const uid = matchBdb(decoded.right, target.hosts)
          if (uid === undefined) {
            return yield* fail(
              "NoMatchingBdb",
              scrub(
                `no bdb listed by GET ${url} has an endpoint whose dns_name or addr is ` +
                  `${target.hosts.map((h) => `"${h}"`).join(" or ")} (the host of the database's url); endpoints seen: ` +
                  summarize(decoded.right),
                secrets
              ),
              { url }
            )
          }
          yield* Ref.update(uids, (map) => new Map(map).set(cacheKey, uid))
          return uid
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
  addr: Schema.optional(Schema.NullOr(Schema.Array(Schema.String)))
})

const BdbList = Schema.Array(
  Schema.Struct({
    uid: Schema.Union(Schema.Number, Schema.String),
    endpoints: Schema.optional(Schema.NullOr(Schema.Array(Endpoint)))
  })
)

type Bdbs = Schema.Schema.Type<typeof BdbList>

/** The uid of the bdb serving one of the hosts: a DNS-name match wins over an address match; first in list order. */
const matchBdb = (bdbs: Bdbs, hosts: ReadonlyArray<string>): string | undefined => {
  const wanted = new Set(hosts.map((h) => h.toLowerCase()))
  for (const bdb of bdbs) {
    for (const endpoint of bdb.endpoints ?? []) {
      if (typeof endpoint.dns_name === "string" && wanted.has(endpoint.dns_name.toLowerCase())) return String(bdb.uid)
    }
  }
  for (const bdb of bdbs) {
    for (const endpoint of bdb.endpoints ?? []) {
      if ((endpoint.addr ?? []).some((addr) => wanted.has(addr.toLowerCase()))) return String(bdb.uid)
    }
  }
  return undefined
}

const summarize = (bdbs: Bdbs): string => {
  if (bdbs.length === 0) return "none (the cluster lists no bdb)"
  const text = bdbs
    .map((bdb) => {
      const endpoints = (bdb.endpoints ?? []).map((e) => [e.dns_name, ...(e.addr ?? [])].filter(Boolean).join(" "))
      return `bdb ${bdb.uid}: ${endpoints.join(", ") || "no endpoints"}`
    })
    .join("; ")
  return text.length > 300 ? `${text.slice(0, 300)}…` : text
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
