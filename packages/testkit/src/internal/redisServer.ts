import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { Deferred, Duration, Effect, Exit, Option, Ref, Schedule, type Scope } from "effect"
import * as Certificates from "../Certificates.js"
import * as RedisBinary from "../RedisBinary.js"
import { PortUnavailable, RedisCommandFailed, ServerStartFailed, type TestkitError } from "../TestkitError.js"
import * as Resp from "./resp.js"
import { freePort, tail, tempDir, writeFile } from "./system.js"

/** PEMs a client needs to talk to a TLS server: the CA to trust and a client certificate signed by it. */
export interface ClientTls {
  readonly ca: string
  readonly cert: string
  readonly key: string
}

/** What a TLS server is configured with (a `Certificates.Service` fits). */
export interface TlsMaterial {
  readonly ca: string
  readonly server: Certificates.KeyPair
  readonly client: Certificates.KeyPair
}

export interface ServerOptions {
  readonly password?: string | undefined
  readonly tls?: boolean | TlsMaterial | undefined
  readonly port?: number | undefined
  readonly args?: ReadonlyArray<string> | undefined
  readonly readyTimeout?: Duration.DurationInput | undefined
  readonly cluster?: { readonly nodeTimeout: Duration.Duration } | undefined
  readonly name?: string | undefined
}

interface ExitInfo {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly error: Error | undefined
}

interface Running {
  readonly child: ChildProcess
  readonly pid: number
  readonly exited: Deferred.Deferred<ExitInfo>
  stopped: boolean
}

interface Ports {
  readonly port: number
  readonly busPort: number | undefined
}

/** A managed redis-server: the public service plus what the cluster needs internally. */
export interface Server {
  readonly host: string
  readonly port: number
  readonly url: string
  readonly password: Option.Option<string>
  readonly tls: Option.Option<ClientTls>
  readonly dir: string
  readonly busPort: number | undefined
  readonly endpoint: Resp.Endpoint
  readonly pid: Effect.Effect<number>
  readonly isRunning: Effect.Effect<boolean>
  readonly isStopped: Effect.Effect<boolean>
  readonly kill: Effect.Effect<void>
  readonly stop: Effect.Effect<void>
  readonly resume: Effect.Effect<void>
  readonly restart: Effect.Effect<void, TestkitError>
  readonly logs: Effect.Effect<string>
}

export const host = "127.0.0.1"
const maxLogBytes = 64 * 1024
const startAttempts = 5

const isAlive = (running: Running) => running.child.exitCode === null && running.child.signalCode === null

const quote = (value: string) => `"${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`

export const makeUrl = (scheme: "redis" | "rediss", port: number, password: string | undefined) =>
  `${scheme}://${password !== undefined ? `:${encodeURIComponent(password)}@` : ""}${host}:${port}`

const describeExit = (info: ExitInfo) =>
  info.error !== undefined
    ? `could not be spawned: ${info.error.message}`
    : info.signal !== null
      ? `was killed by ${info.signal}`
      : `exited with status ${info.code}`

export const make = (options: ServerOptions): Effect.Effect<Server, TestkitError, Scope.Scope> =>
  Effect.gen(function* () {
    const binary = yield* RedisBinary.make()
    const tlsMaterial: TlsMaterial | undefined =
      options.tls === true ? yield* Certificates.make() : options.tls === false ? undefined : options.tls
    const dir = yield* tempDir(options.name ?? "server")
    const password = options.password
    const readyTimeout = Duration.decode(options.readyTimeout ?? "10 seconds")
    const clientTls: ClientTls | undefined =
      tlsMaterial !== undefined
        ? { ca: tlsMaterial.ca, cert: tlsMaterial.client.cert, key: tlsMaterial.client.key }
        : undefined
    if (tlsMaterial !== undefined) {
      yield* writeFile(path.join(dir, "ca.crt"), tlsMaterial.ca)
      yield* writeFile(path.join(dir, "server.crt"), tlsMaterial.server.cert)
      yield* writeFile(path.join(dir, "server.key"), tlsMaterial.server.key)
    }
    const configFile = path.join(dir, "redis.conf")

    let log = ""
    const appendLog = (chunk: Buffer) => {
      log += chunk.toString("utf8")
      if (log.length > maxLogBytes) log = log.slice(log.length - maxLogBytes)
    }

    const current = yield* Ref.make<Running | undefined>(undefined)
    const lock = yield* Effect.makeSemaphore(1)

    const config = (ports: Ports) =>
      [
        `bind ${host}`,
        ...(tlsMaterial !== undefined
          ? [
              "port 0",
              `tls-port ${ports.port}`,
              `tls-cert-file ${quote(path.join(dir, "server.crt"))}`,
              `tls-key-file ${quote(path.join(dir, "server.key"))}`,
              `tls-ca-cert-file ${quote(path.join(dir, "ca.crt"))}`,
              "tls-auth-clients optional"
            ]
          : [`port ${ports.port}`]),
        `dir ${quote(dir)}`,
        "daemonize no",
        'save ""',
        "appendonly no",
        "protected-mode no",
        'logfile ""',
        "loglevel notice",
        'proc-title-template "{title} {listen-addr} {server-mode} {config-file}"',
        ...(password !== undefined ? [`requirepass ${quote(password)}`] : []),
        ...(options.cluster !== undefined
          ? [
              "cluster-enabled yes",
              "cluster-config-file nodes.conf",
              `cluster-node-timeout ${Duration.toMillis(options.cluster.nodeTimeout)}`,
              ...(ports.busPort !== undefined ? [`cluster-port ${ports.busPort}`] : [])
            ]
          : [])
      ].join("\n")

    const endpointFor = (port: number): Resp.Endpoint => ({ host, port, password, tls: clientTls })

    /** Spawns redis-server for `ports`; the handle is in `current` before anything can interrupt. */
    const spawnProcess = (ports: Ports) =>
      Effect.gen(function* () {
        yield* writeFile(configFile, `${config(ports)}\n`)
        const exited = yield* Deferred.make<ExitInfo>()
        return yield* Effect.sync(() => {
          const child = spawn(binary.path, [configFile, ...(options.args ?? [])], {
            cwd: dir,
            stdio: ["ignore", "pipe", "pipe"]
          })
          child.stdout?.on("data", appendLog)
          child.stderr?.on("data", appendLog)
          child.on("exit", (code, signal) =>
            Deferred.unsafeDone(exited, Exit.succeed({ code, signal, error: undefined }))
          )
          child.on("error", (error) => Deferred.unsafeDone(exited, Exit.succeed({ code: null, signal: null, error })))
          const running: Running = { child, pid: child.pid ?? -1, exited, stopped: false }
          return running
        }).pipe(Effect.tap((running) => Ref.set(current, running)))
      }).pipe(Effect.uninterruptible)

    /** SIGCONT (when stopped) then SIGKILL, and wait until the process has exited. */
    const killRunning = (running: Running) =>
      Effect.gen(function* () {
        if (isAlive(running)) {
          if (running.stopped) running.child.kill("SIGCONT")
          running.child.kill("SIGKILL")
        }
        running.stopped = false
        yield* Deferred.await(running.exited).pipe(
          Effect.timeoutFail({
            duration: "5 seconds",
            onTimeout: () => new Error(`redis-server pid ${running.pid} did not exit 5 s after SIGKILL`)
          }),
          Effect.orDie
        )
      })

    const killCurrent = Ref.get(current).pipe(
      Effect.flatMap((running) => (running === undefined ? Effect.void : killRunning(running)))
    )

    const startFailed = (ports: Ports, reason: string) =>
      new ServerStartFailed({ host, port: ports.port, reason, logTail: tail(log) || "(no output)" })

    /** Starts a process on `ports` and waits until it answers PING; kills it again when that fails. */
    const startOn = (ports: Ports) =>
      Effect.gen(function* () {
        const running = yield* spawnProcess(ports)
        const exitedEarly = Deferred.await(running.exited).pipe(
          Effect.flatMap((info) => Effect.fail(startFailed(ports, `redis-server ${describeExit(info)}`)))
        )
        const ownPid = new RegExp(`^process_id:${running.pid}\\s*$`, "m")
        const ping = Resp.send(endpointFor(ports.port), [["PING"], ["INFO", "server"]], "1 second").pipe(
          Effect.filterOrFail(
            ([pong, info]) => pong === "PONG" && ownPid.test(String(info)),
            () =>
              new RedisCommandFailed({
                host,
                port: ports.port,
                command: "PING",
                reason: `not ready, or a process other than pid ${running.pid} answers`
              })
          ),
          Effect.retry(Schedule.spaced("20 millis"))
        )
        yield* Effect.raceFirst(ping, exitedEarly).pipe(
          Effect.timeoutFail({
            duration: readyTimeout,
            onTimeout: () =>
              startFailed(ports, `no answer to PING within ${Duration.format(readyTimeout)} (pid ${running.pid})`)
          }),
          Effect.onError(() => killRunning(running))
        )
      })

    const allocate: Effect.Effect<Ports, PortUnavailable> = Effect.gen(function* () {
      const port = options.port ?? (yield* freePort(host))
      const busPort = options.cluster !== undefined ? yield* freePort(host) : undefined
      return { port, busPort }
    })

    const addressInUse = (error: TestkitError) =>
      error._tag === "ServerStartFailed" && /address already in use/i.test(error.logTail)

    yield* Effect.addFinalizer(() => killCurrent)

    const ports = yield* allocate.pipe(
      Effect.tap((ports) => startOn(ports)),
      Effect.retry({
        times: startAttempts - 1,
        while: (error) => options.port === undefined && addressInUse(error)
      }),
      Effect.catchIf(addressInUse, (error) =>
        Effect.fail(
          new PortUnavailable({ host, port: error._tag === "ServerStartFailed" ? error.port : 0, cause: error })
        )
      )
    )

    const withRunning = <A>(f: (running: Running) => Effect.Effect<A>, orElse: Effect.Effect<A>) =>
      Effect.flatMap(Ref.get(current), (running) => (running !== undefined && isAlive(running) ? f(running) : orElse))

    const server: Server = {
      host,
      port: ports.port,
      busPort: ports.busPort,
      url: makeUrl(tlsMaterial !== undefined ? "rediss" : "redis", ports.port, password),
      password: Option.fromNullable(password),
      tls: Option.fromNullable(clientTls),
      dir,
      endpoint: endpointFor(ports.port),
      pid: Effect.map(Ref.get(current), (running) => running?.pid ?? -1),
      isRunning: withRunning(() => Effect.succeed(true), Effect.succeed(false)),
      isStopped: withRunning((running) => Effect.succeed(running.stopped), Effect.succeed(false)),
      kill: lock.withPermits(1)(killCurrent),
      stop: lock.withPermits(1)(
        withRunning(
          (running) =>
            Effect.sync(() => {
              running.child.kill("SIGSTOP")
              running.stopped = true
            }),
          Effect.void
        )
      ),
      resume: lock.withPermits(1)(
        withRunning(
          (running) =>
            Effect.sync(() => {
              running.child.kill("SIGCONT")
              running.stopped = false
            }),
          Effect.void
        )
      ),
      restart: lock.withPermits(1)(Effect.zipRight(killCurrent, startOn(ports))),
      logs: Effect.sync(() => log)
    }
    return server
  })

/** The public part of a server (drops the internal endpoint with its password). */
export const toPublic = (server: Server) => ({
  host: server.host,
  port: server.port,
  url: server.url,
  password: server.password,
  tls: server.tls,
  dir: server.dir,
  pid: server.pid,
  isRunning: server.isRunning,
  isStopped: server.isStopped,
  kill: server.kill,
  stop: server.stop,
  resume: server.resume,
  restart: server.restart,
  logs: server.logs
})
