/**
 * Locates (and on Debian/Ubuntu as root, installs) the `redis-server` binary the testkit runs.
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Option } from "effect"
import { withInstallLock } from "./internal/installLock.js"
import { isExecutable, run, which } from "./internal/system.js"
import { BinaryNotFound, type TestkitError } from "./TestkitError.js"

/**
 * Environment variable that may point at a `redis-server` binary; it wins over PATH.
 *
 * @since 0.1.0
 * @category utils
 */
export const envVar = "REDIS_SERVER_BIN"

/**
 * What the error says when `redis-server` cannot be found.
 *
 * @since 0.1.0
 * @category utils
 */
export const installHint =
  "Install Redis 7 with `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis` (macOS), " +
  `or set ${envVar} to the path of a redis-server binary.`

/**
 * Options of `make`: `install` (default true) allows `apt-get install redis-server` when running as root on
 * Debian/Ubuntu and the binary is missing.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly install?: boolean | undefined
}

/**
 * A usable `redis-server`: its path and the version it reports.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  readonly path: string
  readonly version: string
}

/**
 * The service tag of the located `redis-server` binary.
 *
 * @since 0.1.0
 * @category tags
 */
export class RedisBinary extends Context.Tag("@effect-redis/testkit/RedisBinary")<RedisBinary, Service>() {}

const pathConfig = Config.string("PATH").pipe(Config.withDefault(""))
const binConfig = Config.option(Config.string(envVar))

const version = (binary: string) =>
  run(binary, ["--version"]).pipe(
    Effect.map((output) => /v=(\S+)/.exec(output)?.[1] ?? output),
    Effect.mapError(
      (error) =>
        new BinaryNotFound({
          binary: "redis-server",
          reason: `${binary} --version failed: ${error.output}`,
          hint: installHint
        })
    )
  )

/**
 * The path of `redis-server` from `REDIS_SERVER_BIN` or PATH, without installing anything.
 *
 * @since 0.1.0
 * @category utils
 */
export const locate: Effect.Effect<Option.Option<string>, BinaryNotFound> = Effect.gen(function* () {
  const fromEnv = yield* Effect.orDie(binConfig)
  if (Option.isSome(fromEnv) && fromEnv.value.length > 0) {
    if (yield* isExecutable(fromEnv.value)) return fromEnv
    return yield* new BinaryNotFound({
      binary: "redis-server",
      reason: `${envVar}=${fromEnv.value} is not an executable file`,
      hint: installHint
    })
  }
  return Option.fromNullable(yield* which("redis-server", yield* Effect.orDie(pathConfig)))
})

const aptInstall = Effect.gen(function* () {
  const pathEnv = yield* Effect.orDie(pathConfig)
  const aptGet = yield* which("apt-get", pathEnv)
  const isRoot = process.getuid?.() === 0
  if (aptGet === undefined || !isRoot) {
    return yield* new BinaryNotFound({
      binary: "redis-server",
      reason: `not found on PATH${aptGet === undefined ? "" : " (not root, so not installing it with apt-get)"}`,
      hint: installHint
    })
  }
  yield* Effect.logWarning(
    "redis-server not found: installing it with `apt-get update && apt-get install -y redis-server`"
  )
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  // wait for the dpkg lock rather than failing when another apt-get (not ours) holds it
  const lockWait = ["-o", "DPkg::Lock::Timeout=300"]
  yield* run(aptGet, [...lockWait, "update"], { env }).pipe(
    Effect.zipRight(run(aptGet, [...lockWait, "install", "-y", "--no-install-recommends", "redis-server"], { env })),
    Effect.mapError(
      (error) =>
        new BinaryNotFound({
          binary: "redis-server",
          reason: `apt-get failed: ${error.message}`,
          hint: installHint
        })
    )
  )
  const installed = yield* which("redis-server", `${pathEnv}:/usr/bin:/usr/sbin`)
  if (installed === undefined) {
    return yield* new BinaryNotFound({
      binary: "redis-server",
      reason: "apt-get install redis-server succeeded but redis-server is still not on PATH",
      hint: installHint
    })
  }
  return installed
})

/**
 * Installs redis-server at most once at a time, within this process and across processes (a lock file): whoever gets
 * the lock second finds the binary already installed and uses it.
 */
const install = withInstallLock(
  Effect.flatMap(locate, (found) => (Option.isSome(found) ? Effect.succeed(found.value) : aptInstall))
)

/**
 * Finds `redis-server` (env `REDIS_SERVER_BIN`, else PATH), installing it with apt-get when allowed and possible.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, TestkitError> =>
  Effect.gen(function* () {
    const located = yield* locate
    const path = Option.isSome(located)
      ? located.value
      : options.install === false
        ? yield* new BinaryNotFound({ binary: "redis-server", reason: "not found on PATH", hint: installHint })
        : yield* install
    return { path, version: yield* version(path) }
  })

/**
 * A layer providing the located `redis-server`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RedisBinary, TestkitError> =>
  Layer.effect(RedisBinary, make(options))

/**
 * Promise form of `make` for vitest `globalSetup` files and scripts: resolves to the binary's path.
 *
 * @since 0.1.0
 * @category utils
 */
export const ensure = (options: Options = {}): Promise<Service> =>
  Effect.runPromise(Effect.either(make(options))).then((result) => {
    if (result._tag === "Left") throw result.left
    return result.right
  })
