import { spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Effect } from "effect"
import { CommandFailed, FileSystemError, PortUnavailable } from "../TestkitError.js"

/** Prefix of every temp dir (and so of the cwd of every process) the testkit creates. */
export const markerPrefix = "effect-redis-testkit-"

/** Environment variable holding the id of the current test run (set by the vitest globalSetup). */
export const runIdEnv = "EFFECT_REDIS_TESTKIT_RUN"

/** The marker of this run: `effect-redis-testkit-<run id>-`, or the bare prefix outside a marked run. */
export const runMarker = (runId: string | undefined = process.env[runIdEnv]): string =>
  runId !== undefined && runId.length > 0 ? `${markerPrefix}${runId}-` : markerPrefix

/** A fresh temp dir `<tmp>/effect-redis-testkit-[<run>-]<kind>-XXXXXX`, removed when the scope closes. */
export const tempDir = (kind: string) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: () => fs.mkdtemp(path.join(os.tmpdir(), `${runMarker()}${kind}-`)),
      catch: (cause) => new FileSystemError({ operation: "mkdtemp", path: os.tmpdir(), cause })
    }),
    (dir) => removeDir(dir)
  )

/** Removes a directory tree, ignoring errors. */
export const removeDir = (dir: string) =>
  Effect.promise(() => fs.rm(dir, { recursive: true, force: true }).catch(() => undefined))

/** Writes a file (mode 0600). */
export const writeFile = (file: string, content: string) =>
  Effect.tryPromise({
    try: () => fs.writeFile(file, content, { mode: 0o600 }),
    catch: (cause) => new FileSystemError({ operation: "writeFile", path: file, cause })
  })

/** Reads a UTF-8 file. */
export const readFile = (file: string) =>
  Effect.tryPromise({
    try: () => fs.readFile(file, "utf8"),
    catch: (cause) => new FileSystemError({ operation: "readFile", path: file, cause })
  })

/** True when `file` exists and is executable. */
export const isExecutable = (file: string) =>
  Effect.promise(() =>
    fs.access(file, fs.constants.X_OK).then(
      () => fs.stat(file).then((s) => s.isFile()),
      () => false
    )
  )

/** Finds an executable by name on a PATH string. */
export const which = (name: string, pathEnv: string) =>
  Effect.gen(function* () {
    for (const dir of pathEnv.split(path.delimiter)) {
      if (dir.length === 0) continue
      const candidate = path.join(dir, name)
      if (yield* isExecutable(candidate)) return candidate
    }
    return undefined
  })

/** Runs a command to completion and returns its combined output; fails on spawn error or non-zero status. */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv; readonly display?: string } = {}
) => {
  const display = options.display ?? [command, ...args].join(" ")
  return Effect.async<string, CommandFailed>((resume) => {
    const child = spawn(command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      ...(options.env !== undefined ? { env: options.env } : {})
    })
    const chunks: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => chunks.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => chunks.push(chunk))
    child.on("error", (cause) =>
      resume(Effect.fail(new CommandFailed({ command: display, exitCode: null, output: cause.message, cause })))
    )
    child.on("close", (code, signal) => {
      const output = Buffer.concat(chunks).toString("utf8").trim()
      if (code === 0) resume(Effect.succeed(output))
      else resume(Effect.fail(new CommandFailed({ command: display, exitCode: code ?? -1, output: signal ?? output })))
    })
    return Effect.sync(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    })
  })
}

/** Binds port 0 on `host`, reads the port the kernel chose, and releases it. */
export const freePort = (host: string) =>
  Effect.async<number, PortUnavailable>((resume) => {
    const server = net.createServer()
    server.unref()
    server.once("error", (cause) => resume(Effect.fail(new PortUnavailable({ host, port: 0, cause }))))
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resume(Effect.succeed(port)))
    })
  })

/** The last `lines` lines of a text. */
export const tail = (text: string, lines = 30) => text.split("\n").slice(-lines).join("\n")

/** A redis-server (or any) process found in /proc whose cwd or command line carries a testkit marker. */
export interface MarkedProcess {
  readonly pid: number
  readonly commandLine: string
  readonly cwd: string
}

const readProc = (pid: number, entry: string) => fs.readFile(`/proc/${pid}/${entry}`, "utf8").catch(() => undefined)
const readLink = (pid: number, entry: string) => fs.readlink(`/proc/${pid}/${entry}`).catch(() => "")

/** Live (non-zombie) `redis-server` processes whose cwd or command line contains `marker` (Linux /proc only). */
export const findMarkedProcesses = async (marker: string): Promise<ReadonlyArray<MarkedProcess>> => {
  const entries = await fs.readdir("/proc").catch(() => [] as Array<string>)
  const found: Array<MarkedProcess> = []
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    const pid = Number(entry)
    if (pid === process.pid) continue
    const comm = (await readProc(pid, "comm"))?.trim()
    if (comm === undefined || !comm.startsWith("redis-server")) continue
    const stat = await readProc(pid, "stat")
    const state = stat?.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3)
    if (state === undefined || state === "Z" || state === "X") continue
    const commandLine = ((await readProc(pid, "cmdline")) ?? "").replaceAll("\u0000", " ").trim()
    const cwd = await readLink(pid, "cwd")
    if (commandLine.includes(marker) || cwd.includes(marker)) found.push({ pid, commandLine, cwd })
  }
  return found
}

/** Creates a directory (and its parents). */
export const makeDir = (dir: string) =>
  Effect.tryPromise({
    try: () => fs.mkdir(dir, { recursive: true }),
    catch: (cause) => new FileSystemError({ operation: "mkdir", path: dir, cause })
  })

/** Removes the temp dirs whose name starts with `marker`; returns their paths. */
export const removeMarkedDirs = async (marker: string): Promise<ReadonlyArray<string>> => {
  const entries = await fs.readdir(os.tmpdir()).catch(() => [] as Array<string>)
  const dirs = entries.filter((entry) => entry.startsWith(marker)).map((entry) => path.join(os.tmpdir(), entry))
  await Promise.all(dirs.map((dir) => fs.rm(dir, { recursive: true, force: true }).catch(() => undefined)))
  return dirs
}
