/**
 * A real `redis-server` process on 127.0.0.1 for tests: started on a free port, controllable (kill, stop, resume,
 * restart on the same port) and always killed with its temp dir removed when its scope closes.
 *
 * @since 0.1.0
 */
import { Context, type Duration, Effect, Layer, type Option, type Scope } from "effect"
import * as internal from "./internal/redisServer.js"
import {
  findMarkedProcesses,
  type MarkedProcess,
  markerPrefix,
  removeMarkedDirs,
  runIdEnv,
  runMarker
} from "./internal/system.js"
import type { TestkitError } from "./TestkitError.js"

/**
 * PEMs a client needs for a TLS server: `ca` to trust, and a client certificate/key signed by it.
 * Spread them into node-redis' `socket` options: `{ tls: true, ...tls }`.
 *
 * @since 0.1.0
 * @category models
 */
export type ClientTls = internal.ClientTls

/**
 * Certificates a TLS server runs with; a `Certificates.Service` fits, as does one with a broken `server` pair.
 *
 * @since 0.1.0
 * @category models
 */
export type TlsMaterial = internal.TlsMaterial

/**
 * Options of `make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** `requirepass`; also embedded in `url`. */
  readonly password?: string | undefined
  /** `true`: generate certificates with `Certificates.make` and listen with TLS only; or bring your own. */
  readonly tls?: boolean | TlsMaterial | undefined
  /** A fixed port instead of a free one. */
  readonly port?: number | undefined
  /** Extra command-line arguments, e.g. `["--maxmemory", "10mb"]`. */
  readonly args?: ReadonlyArray<string> | undefined
  /** How long to wait for the first PING answer at each start (default 10 seconds). */
  readonly readyTimeout?: Duration.DurationInput | undefined
}

/**
 * A running test `redis-server` and its controls.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** Always `127.0.0.1`. */
  readonly host: string
  /** The port it listens on (the TLS port with `tls`); kept across restarts. */
  readonly port: number
  /** `redis://` or `rediss://` URL, with the password when one is set. */
  readonly url: string
  /** The `requirepass` password. */
  readonly password: Option.Option<string>
  /** Client-side PEMs when the server listens with TLS. */
  readonly tls: Option.Option<ClientTls>
  /** The server's temp dir (config, TLS files, `nodes.conf` in a cluster); removed when the scope closes. */
  readonly dir: string
  /** The pid of the current (most recently started) process. */
  readonly pid: Effect.Effect<number>
  /** True while the process exists, including while it is stopped. */
  readonly isRunning: Effect.Effect<boolean>
  /** True while the process is stopped with SIGSTOP. */
  readonly isStopped: Effect.Effect<boolean>
  /** SIGKILL (after SIGCONT when stopped); completes once the process has exited. No-op when not running. */
  readonly kill: Effect.Effect<void>
  /** SIGSTOP: the process keeps its sockets but answers nothing. */
  readonly stop: Effect.Effect<void>
  /** SIGCONT after `stop`. */
  readonly resume: Effect.Effect<void>
  /** Kills the process when running, then starts it again on the same port, dir and options; waits for PING. */
  readonly restart: Effect.Effect<void, TestkitError>
  /** What the process(es) wrote to stdout/stderr (the last 64 KiB). */
  readonly logs: Effect.Effect<string>
}

/**
 * The service tag of a test `redis-server`.
 *
 * @since 0.1.0
 * @category tags
 */
export class RedisServer extends Context.Tag("@effect-redis/testkit/RedisServer")<RedisServer, Service>() {}

/**
 * Starts a `redis-server` and waits until it answers PING; the scope's end kills it and removes its dir.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, TestkitError, Scope.Scope> =>
  Effect.map(internal.make(options), internal.toPublic)

/**
 * A layer providing a `RedisServer`, started when the layer is built and killed when it is released.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RedisServer, TestkitError> =>
  Layer.scoped(RedisServer, make(options))

/**
 * Prefix of every temp dir the testkit creates, and so of the cwd and config path of every server it starts.
 *
 * @since 0.1.0
 * @category utils
 */
export const tempDirPrefix = markerPrefix

/**
 * Environment variable naming the current test run; the vitest globalSetup sets it so that leftover checks only
 * see this run's servers.
 *
 * @since 0.1.0
 * @category utils
 */
export const runIdEnvVar = runIdEnv

/**
 * A `redis-server` process carrying the testkit marker in its cwd or command line.
 *
 * @since 0.1.0
 * @category models
 */
export type LeftoverProcess = MarkedProcess

/**
 * Live `redis-server` processes started by the testkit in this run (Linux `/proc`); empty elsewhere.
 *
 * @since 0.1.0
 * @category utils
 */
export const leftoverProcesses: Effect.Effect<ReadonlyArray<LeftoverProcess>> = Effect.promise(() =>
  findMarkedProcesses(runMarker())
)

/**
 * Promise form of `leftoverProcesses` that also SIGKILLs every process it finds, for globalSetup teardowns.
 *
 * @since 0.1.0
 * @category utils
 */
export const killLeftoverProcesses = async (): Promise<ReadonlyArray<LeftoverProcess>> => {
  const found = await findMarkedProcesses(runMarker())
  for (const leftover of found) {
    try {
      process.kill(leftover.pid, "SIGCONT")
      process.kill(leftover.pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
  return found
}

/**
 * Removes the temp dirs the testkit created in this run (only when `EFFECT_REDIS_TESTKIT_RUN` is set, so other
 * runs' dirs are never touched); for globalSetup teardowns, after `killLeftoverProcesses`.
 *
 * @since 0.1.0
 * @category utils
 */
export const removeLeftoverDirs = async (): Promise<ReadonlyArray<string>> =>
  process.env[runIdEnv] !== undefined && process.env[runIdEnv] !== "" ? removeMarkedDirs(runMarker()) : []
