/**
 * The lag-aware health check of Redis Software (Active-Active) databases: asks the cluster's REST API whether the
 * database is available and its replication lag is within a tolerance. `GET /v1/bdbs` finds the bdb whose endpoint
 * has the database's host (DNS name or address) and port, then `GET /v1/bdbs/{uid}/availability?extend_check=lag&...`
 * answers: 2xx is healthy, anything else unhealthy with the status and body in the cause.
 *
 * @since 0.1.0
 */
import type { HttpClient } from "@effect/platform"
import type { Duration, Effect, Layer, Redacted, Scope } from "effect"
import type * as HealthCheck from "./HealthCheck.js"
import * as internal from "./internal/lagAware.js"

/**
 * Options of the check. Defaults: `restApiPort` 9443, `lagAwareTolerance` 100 ms, `timeout` 30 s per HTTP call
 * (never longer than the whole check's timeout), `verifyTls` true, `failbackOnly` false, name `"lag-aware"`.
 * `probes`, `probesDelay`, `policy` and `healthCheckTimeout` override the client's settings for this check.
 * The TLS options (`verifyTls`, `caFile`, `caPath`, `caData`, `clientCertFile`, `clientKeyFile`,
 * `clientKeyPassword`) configure the default transport (`transport`, `makeDefault`, `layer`); with `make`, the
 * `HttpClient` you provide carries its own. Passwords may be given as `Redacted` strings.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly name?: string
  /** Port of the REST API, appended to the database's `healthCheckUrl` unless that URL names a port. */
  readonly restApiPort?: number
  /** Replication lag the database may have and still count as healthy (sent in whole milliseconds). */
  readonly lagAwareTolerance?: Duration.DurationInput
  /** Bound on each HTTP call. */
  readonly timeout?: Duration.DurationInput
  readonly basicAuth?: { readonly username: string; readonly password: string | Redacted.Redacted<string> }
  /** Verify the REST API's certificate and host name. */
  readonly verifyTls?: boolean
  /** PEM file of the CA(s) to trust instead of the system ones. */
  readonly caFile?: string
  /** Directory whose files hold the PEM CA certificates to trust. */
  readonly caPath?: string
  /** CA certificates to trust, PEM text or DER bytes. */
  readonly caData?: string | Uint8Array
  /** PEM client certificate for mutual TLS (may also hold the key). */
  readonly clientCertFile?: string
  /** PEM private key of the client certificate. */
  readonly clientKeyFile?: string
  /** Passphrase of an encrypted client key. */
  readonly clientKeyPassword?: string | Redacted.Redacted<string>
  /** Only decide whether traffic may move (back) to a database; never evict the active one. */
  readonly failbackOnly?: boolean
  readonly probes?: number
  readonly probesDelay?: Duration.DurationInput
  readonly policy?: HealthCheck.Policy
  /** Bound on the whole check (all probes); the client's `healthCheckTimeout` when unset. */
  readonly healthCheckTimeout?: Duration.DurationInput
}

/**
 * A lag-aware check: a `HealthCheck` that also tells, before any probe, whether it can check a database at all
 * (it needs the database's `healthCheckUrl`).
 *
 * @since 0.1.0
 * @category models
 */
export interface LagAwareHealthCheck extends HealthCheck.HealthCheck {
  readonly validate: (database: Omit<HealthCheck.Target, "connection">) => string | undefined
}

/**
 * An option is invalid or its TLS material cannot be read; `field` names it.
 *
 * @since 0.1.0
 * @category errors
 */
export const InvalidOptions: typeof internal.InvalidOptions = internal.InvalidOptions

/**
 * The type of `InvalidOptions`.
 *
 * @since 0.1.0
 * @category errors
 */
export type InvalidOptions = internal.InvalidOptions

/**
 * Why a probe failed: the database has no `healthCheckUrl`, the REST API could not be reached (`Transport`, `Tls`,
 * `Timeout`), answered a non-2xx status (`HttpStatus`), listed no usable bdbs (`BadBdbList`), none serving the
 * database (`NoMatchingBdb`) or several at its host and port (`AmbiguousBdb`). `failureCause` is the typed cause
 * (kind `tls`, `auth`, `refused`, `dns`, `timeout`, `protocol`, `connection` or `unhealthy`); the message is
 * `kind: detail` and says what to fix. It never holds credentials, in any encoding.
 *
 * @since 0.1.0
 * @category errors
 */
export const CheckFailed: typeof internal.CheckFailed = internal.CheckFailed

/**
 * The type of `CheckFailed`.
 *
 * @since 0.1.0
 * @category errors
 */
export type CheckFailed = internal.CheckFailed

/**
 * The kinds of `CheckFailed`.
 *
 * @since 0.1.0
 * @category models
 */
export type Reason = internal.Reason

/**
 * Builds the check on the `HttpClient` in context (captured once). The bdb uid of each database is cached and
 * looked up again when the availability call answers 404.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (options?: Options) => Effect.Effect<LagAwareHealthCheck, InvalidOptions, HttpClient.HttpClient> = (
  options = {}
) => internal.make(options as internal.Options)

/**
 * The default transport: `fetch` over an `undici` agent carrying the TLS options, closed with the layer.
 *
 * @since 0.1.0
 * @category utils
 */
export const transport: (options?: Options) => Layer.Layer<HttpClient.HttpClient, InvalidOptions> = (options = {}) =>
  internal.transport(options as internal.Options)

/**
 * Builds the check on the default transport, which lives as long as the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeDefault: (options?: Options) => Effect.Effect<LagAwareHealthCheck, InvalidOptions, Scope.Scope> = (
  options = {}
) => internal.makeDefault(options as internal.Options)

/**
 * A layer setting a client's health checks to `alongside` (PING by default) plus this check on the default transport.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: (
  options?: Options,
  alongside?: ReadonlyArray<HealthCheck.HealthCheck>
) => Layer.Layer<HealthCheck.HealthChecks, InvalidOptions> = (options = {}, alongside) =>
  internal.layer(options as internal.Options, alongside)
