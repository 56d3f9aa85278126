/**
 * A TCP proxy on 127.0.0.1 in front of a server that injects network faults at run time: refused connections,
 * a black hole, added latency, and connection resets.
 *
 * @since 0.1.0
 */
import { Context, Duration, type Effect, Layer, type Scope } from "effect"
import * as internal from "./internal/faultProxy.js"
import type { TestkitError } from "./TestkitError.js"

/**
 * How the proxy treats traffic: `Pass`, `Refuse` (new connections get ECONNREFUSED), `Blackhole` (nothing is
 * forwarded in either direction, nothing is closed) or `Latency` (each chunk is delayed by `fixed` plus a random
 * share of `jitter`, order preserved).
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = internal.Mode

/**
 * Constructors and matchers of `Mode`.
 *
 * @since 0.1.0
 * @category utils
 */
export const Mode = {
  /** Forward everything. */
  pass: internal.Mode.Pass() as Mode,
  /** Close the listening socket: new connections are refused; existing ones keep working. */
  refuse: internal.Mode.Refuse() as Mode,
  /** Accept connections but forward nothing, in either direction, on new and existing connections. */
  blackhole: internal.Mode.Blackhole() as Mode,
  /** Delay each chunk in both directions by `fixed` plus a uniformly random share of `jitter` (default 0). */
  latency: (options: { readonly fixed: Duration.DurationInput; readonly jitter?: Duration.DurationInput }): Mode =>
    internal.Mode.Latency({
      fixed: Duration.decode(options.fixed),
      jitter: Duration.decode(options.jitter ?? Duration.zero)
    }),
  /** Type guards by tag. */
  $is: internal.Mode.$is,
  /** Exhaustive match on the tag. */
  $match: internal.Mode.$match
}

/**
 * Where the proxy forwards to. A `RedisServer.Service` fits; with a `url` the proxy's `url` keeps its scheme and
 * credentials.
 *
 * @since 0.1.0
 * @category models
 */
export type Target = internal.Target

/**
 * Options of `make`: the target, an optional fixed listening port and the initial mode (default `pass`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly target: Target
  readonly port?: number | undefined
  readonly mode?: Mode | undefined
}

/**
 * A running fault proxy and its controls.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Always `127.0.0.1`. */
  readonly host: string
  /** The listening port; kept when the proxy reopens after `refuse`. */
  readonly port: number
  /** The target's URL with host and port replaced by the proxy's (`redis://127.0.0.1:<port>` without one). */
  readonly url: string
  readonly target: Target
  /** The current mode. */
  readonly mode: Effect.Effect<Mode>
  /** Switches the mode; leaving `refuse` listens again on the same port. */
  readonly setMode: (mode: Mode) => Effect.Effect<void, TestkitError>
  /** Destroys every proxied connection with a TCP RST on both sides. */
  readonly resetConnections: Effect.Effect<void>
  /** Number of proxied connections currently open. */
  readonly connectionCount: Effect.Effect<number>
}

/**
 * The service tag of a fault proxy.
 *
 * @since 0.1.0
 * @category tags
 */
export class FaultProxy extends Context.Tag("@effect-redis/testkit/FaultProxy")<FaultProxy, Service>() {}

/**
 * Starts a proxy in front of `target`; closing the scope closes the listener and every connection.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Service, TestkitError, Scope.Scope> => internal.make(options)

/**
 * A layer providing a `FaultProxy`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<FaultProxy, TestkitError> =>
  Layer.scoped(FaultProxy, make(options))
