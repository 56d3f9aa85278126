/**
 * Why a database could not be used: a typed kind an operator can match on (bad credentials, TLS, DNS, a refused
 * port, a timeout, a protocol mix-up, a lost connection, an error reply) and the underlying message, with any
 * credentials masked.
 *
 * @since 0.2.0
 */
import { Data } from "effect"

/**
 * What kind of problem a cause is.
 *
 * - `auth`: the server refused the credentials (`WRONGPASS`, `NOAUTH`, `NOPERM`).
 * - `tls`: the TLS handshake failed (untrusted CA, hostname mismatch, refused or missing client certificate, bad key
 *   passphrase, `rediss://` against a plain server).
 * - `dns`: the host name does not resolve.
 * - `refused`: nothing listens on the port.
 * - `timeout`: no connection or no answer within the bound.
 * - `protocol`: the peer does not speak the expected protocol (plain client against a TLS server, garbage replies).
 * - `connection`: an established connection was reset or closed.
 * - `reply`: the server answered with an error (`LOADING`, `CLUSTERDOWN`, `ERR DB index is out of range`).
 * - `unhealthy`: a check ran and answered that the database is not fit (e.g. replication lag over tolerance).
 *
 * @since 0.2.0
 * @category models
 */
export type Kind = "auth" | "tls" | "dns" | "refused" | "timeout" | "protocol" | "connection" | "reply" | "unhealthy"

/**
 * A typed cause. `message` says what happened in the words of the server or the operating system, credentials masked.
 *
 * @since 0.2.0
 * @category models
 */
export class FailureCause extends Data.Class<{ readonly kind: Kind; readonly message: string }> {
  override toString() {
    return `${this.kind}: ${this.message}`
  }
}

/**
 * Builds a cause from a kind and a message (masking credentials in the message).
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (kind: Kind, message: string): FailureCause => new FailureCause({ kind, message: mask(message) })

/**
 * Masks the credentials of every URL in a text (`redis://user:secret@host` → `redis://user:***@host`).
 *
 * @since 0.2.0
 * @category utils
 */
export const mask = (text: string): string =>
  text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*)(:[^\s/]*)?@/gi, (_, scheme: string, user: string, pass) =>
    pass === undefined ? `${scheme}***@` : `${scheme}${user}:***@`
  )

const authReply =
  /^(WRONGPASS|NOAUTH|NOPERM)\b|invalid (username-password pair|password)|AUTH <password> called without/i
const tlsCode = /^(ERR_TLS_|ERR_SSL_|ERR_OSSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)/
const tlsMessage = /\b(ssl|tls|certificate|handshake|wrong version number|bad decrypt|self[- ]signed|altnames)\b/i
const dnsCodes = new Set(["ENOTFOUND", "EAI_AGAIN", "EAI_NONAME", "EAI_FAIL"])
const timeoutCodes = new Set(["ETIMEDOUT", "ESOCKETTIMEDOUT", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT"])
const connectionCodes = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ERR_SOCKET_CLOSED", "UND_ERR_SOCKET"])
const unreachableCodes = new Set(["EHOSTUNREACH", "ENETUNREACH"])

interface Found {
  readonly code: string | undefined
  readonly name: string | undefined
  readonly message: string
}

/** The error, then its `cause` chain and the members of an `AggregateError`, innermost last. */
const chain = (error: unknown): Array<Found> => {
  const out: Array<Found> = []
  const seen = new Set<unknown>()
  const visit = (value: unknown, depth: number) => {
    if (depth > 6 || value === undefined || value === null || seen.has(value)) return
    seen.add(value)
    if (typeof value !== "object") {
      out.push({ code: undefined, name: undefined, message: String(value) })
      return
    }
    const record = value as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; errors?: unknown }
    out.push({
      code: typeof record.code === "string" ? record.code : undefined,
      name:
        typeof record.name === "string" && record.name !== "Error"
          ? record.name
          : ((value as object).constructor?.name ?? undefined),
      message: typeof record.message === "string" ? record.message : String(value)
    })
    if (Array.isArray(record.errors)) for (const inner of record.errors) visit(inner, depth + 1)
    visit(record.cause, depth + 1)
  }
  visit(error, 0)
  return out
}

const kindOf = (found: Found): Kind | undefined => {
  const { code, message, name } = found
  if (authReply.test(message)) return "auth"
  if (code !== undefined) {
    if (dnsCodes.has(code)) return "dns"
    if (code === "ECONNREFUSED") return "refused"
    if (tlsCode.test(code) || (code === "EPROTO" && tlsMessage.test(message))) return "tls"
    if (timeoutCodes.has(code)) return "timeout"
    if (unreachableCodes.has(code)) return "refused"
    if (connectionCodes.has(code)) return "connection"
  }
  if (tlsMessage.test(message)) return "tls"
  if (name === "ConnectionTimeoutError" || name === "TimeoutError" || /timed? ?out|timeout/i.test(message)) {
    return "timeout"
  }
  if (name === "ErrorReply" || name === "SimpleError" || name === "BlobError") return "reply"
  if (/protocol error|unexpected (reply|response)|invalid (resp|reply)/i.test(message)) return "protocol"
  if (name === "SocketClosedUnexpectedlyError" || /socket closed|connection (closed|reset)/i.test(message)) {
    return "connection"
  }
  return undefined
}

/**
 * Describes an error (a node-redis error, a Node socket/TLS/DNS error, an HTTP client error, or anything else) as a
 * typed cause; an error with a `failureCause` field gives that one. Otherwise the most specific finding along the
 * `cause` chain wins (a DNS code deep inside beats a generic "offline" outside); the message joins the outer message
 * with the innermost one when they differ.
 *
 * @example
 * ```ts
 * import { FailureCause } from "@effect-redis/multidb"
 *
 * const offline = new Error("The client is offline", {
 *   cause: Object.assign(new Error("getaddrinfo ENOTFOUND east.invalid"), { code: "ENOTFOUND" })
 * })
 * FailureCause.fromError(offline).kind // "dns"
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromError = (error: unknown, fallback: Kind = "connection"): FailureCause => {
  if (error instanceof FailureCause) return error
  // an error that already knows its typed cause (e.g. `LagAwareHealthCheck.CheckFailed`) carries it as `failureCause`
  const carried =
    typeof error === "object" && error !== null ? (error as { failureCause?: unknown }).failureCause : undefined
  if (carried instanceof FailureCause) return carried
  const found = chain(error)
  let kind: Kind | undefined
  let at = -1
  // auth, dns, refused and tls are the most telling: prefer them wherever they appear in the chain
  for (const preferred of ["auth", "tls", "dns", "refused", "timeout", "protocol", "reply", "connection"] as const) {
    const index = found.findIndex((f) => kindOf(f) === preferred)
    if (index >= 0) {
      kind = preferred
      at = index
      break
    }
  }
  const outer = found[0]?.message ?? "unknown error"
  const inner = at > 0 ? found[at]!.message : undefined
  const code = at >= 0 ? found[at]!.code : found[0]?.code
  const text = inner !== undefined && inner !== outer && !outer.includes(inner) ? `${outer}: ${inner}` : outer
  const withCode = code !== undefined && !text.includes(code) ? `${text} (${code})` : text
  return make(kind ?? fallback, withCode)
}
