/**
 * The live terminal output: one line per event as it happens, and a status line (elapsed time, active database, ops/s,
 * errors by type, circuit states, pub/sub). On a TTY the status line is redrawn in place; otherwise (CI, tests, a pipe)
 * it is printed once a second.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type * as Timeline from "./Timeline.js"

/**
 * Where the output goes.
 *
 * @since 0.1.0
 */
export interface Output {
  readonly isTTY: boolean
  readonly color: boolean
  readonly columns: () => number
  readonly write: (text: string) => void
}

/**
 * The process' stdout; colors on a TTY unless `NO_COLOR` is set.
 *
 * @since 0.1.0
 */
export const stdout: Output = {
  isTTY: process.stdout.isTTY === true,
  color: process.stdout.isTTY === true && process.env["NO_COLOR"] === undefined,
  columns: () => (process.stdout.columns > 0 ? process.stdout.columns : 120),
  write: (text) => {
    process.stdout.write(text)
  }
}

/**
 * What the status line shows.
 *
 * @since 0.1.0
 */
export interface Status {
  readonly elapsedMs: number
  readonly active: string | undefined
  readonly opsPerSecond: number
  readonly errors: ReadonlyMap<string, number>
  readonly circuits: ReadonlyArray<{ readonly id: string; readonly circuit: string }>
  readonly pubsub: Timeline.PubSubCounts
}

/**
 * Short names of the error tags on the status line.
 *
 * @since 0.1.0
 */
export const errorAbbreviations: Readonly<Record<string, string>> = {
  RedisConnectionError: "conn",
  TemporarilyUnavailable: "unavail",
  NoValidDatabase: "no-db",
  RedisCommandError: "reply",
  TransactionAborted: "aborted"
}

const ansi = (code: string) => (text: string) => `\x1b[${code}m${text}\x1b[0m`
const style = {
  bold: ansi("1"),
  dim: ansi("2"),
  red: ansi("31"),
  green: ansi("32"),
  yellow: ansi("33"),
  magenta: ansi("35"),
  cyan: ansi("36"),
  boldRed: ansi("1;31"),
  boldGreen: ansi("1;32"),
  boldCyan: ansi("1;36")
}

/**
 * Seconds with one or three decimals, right-aligned: `[ 12.345s]`.
 *
 * @since 0.1.0
 */
export const stamp = (ms: number, decimals = 3) => `[${(ms / 1000).toFixed(decimals).padStart(decimals + 4)}s]`

/**
 * The status line, without colors.
 *
 * @since 0.1.0
 */
export const formatStatus = (status: Status): string => {
  const errors = [...status.errors.entries()]
    .filter(([, n]) => n > 0)
    .map(([tag, n]) => `${errorAbbreviations[tag] ?? tag} ${n}`)
  const circuits = status.circuits.map(
    ({ id, circuit }) => `${id}:${circuit === "open" ? "OPEN" : circuit === "half-open" ? "HALF" : "closed"}`
  )
  return [
    `${stamp(status.elapsedMs, 1)} active ${status.active ?? "NONE"}`,
    `${String(Math.round(status.opsPerSecond)).padStart(4)} ops/s`,
    `errors ${errors.length === 0 ? "none" : errors.join(" ")}`,
    `circuits ${circuits.join(" ")}`,
    `pub/sub ${status.pubsub.received}/${status.pubsub.published}`
  ].join(" │ ")
}

const colorStatus = (line: string) =>
  line
    .replace(/active (\S+)/, (_, id: string) => `active ${id === "NONE" ? style.boldRed(id) : style.boldCyan(id)}`)
    .replace(/:OPEN\b/g, `:${style.boldRed("OPEN")}`)
    .replace(/:HALF\b/g, `:${style.yellow("HALF")}`)
    .replace(/:closed\b/g, `:${style.green("closed")}`)
    .replace(/errors ((?:(?!│).)+)/, (_, list: string) => `errors ${list.startsWith("none") ? list : style.red(list)}`)

const kindLabels: Record<Timeline.EventKind, readonly [string, (s: string) => string]> = {
  fault: ["FAULT", style.boldRed],
  recovery: ["RECOVERY", style.boldGreen],
  switch: ["SWITCH", style.boldCyan],
  circuit: ["CIRCUIT", style.yellow],
  health: ["HEALTH", style.magenta],
  failed: ["FAILED", style.red],
  unavailable: ["UNAVAIL", style.boldRed],
  other: ["EVENT", style.dim]
}

/**
 * One event-log line, without colors.
 *
 * @since 0.1.0
 */
export const formatEvent = (event: Timeline.TimelineEvent): string =>
  `${stamp(event.at)} ${kindLabels[event.kind][0].padEnd(8)} ${event.label}`

/**
 * The live display.
 *
 * @since 0.1.0
 */
export interface Display {
  /** Prints a line of text above the status line. */
  readonly line: (text: string) => Effect.Effect<void>
  /** Prints a log line (from the library's `Effect.log*`) above the status line, right away. */
  readonly log: (at: number, level: string, message: string) => void
  /** Prints an event line above the status line. */
  readonly event: (event: Timeline.TimelineEvent) => Effect.Effect<void>
  /** Redraws the status line (TTY) or prints it (otherwise; call it once a second). */
  readonly status: (status: Status) => Effect.Effect<void>
  /** Ends the status line (TTY): what follows starts on a fresh line. */
  readonly end: Effect.Effect<void>
  /** How often to call `status`. */
  readonly statusEvery: number
}

/**
 * A display on `output`.
 *
 * @since 0.1.0
 */
export const make = (output: Output = stdout): Display => {
  let lastStatus: string | undefined
  const clearStatus = () => {
    if (output.isTTY && lastStatus !== undefined) output.write("\r\x1b[2K")
  }
  const redrawStatus = () => {
    if (output.isTTY && lastStatus !== undefined) output.write(lastStatus)
  }
  const print = (text: string) => {
    clearStatus()
    output.write(`${text}\n`)
    redrawStatus()
  }
  const above = (text: string) => Effect.sync(() => print(text))
  return {
    statusEvery: output.isTTY ? 250 : 1000,
    line: (text) => above(text),
    log: (at, level, message) => {
      const plain = `${stamp(at)} ${"LOG".padEnd(8)} ${level.toLowerCase()}: ${message}`
      print(output.color ? style.dim(plain) : plain)
    },
    event: (event) => {
      const plain = formatEvent(event)
      if (!output.color) return above(plain)
      const [label, paint] = kindLabels[event.kind]
      return above(`${style.dim(stamp(event.at))} ${paint(label.padEnd(8))} ${event.label}`)
    },
    status: (status) =>
      Effect.sync(() => {
        const plain = formatStatus(status)
        if (!output.isTTY) {
          output.write(`${plain}\n`)
          return
        }
        const width = Math.max(20, output.columns() - 1)
        const fitted = plain.length > width ? `${plain.slice(0, width - 1)}…` : plain
        lastStatus = output.color ? colorStatus(fitted) : fitted
        output.write(`\r\x1b[2K${lastStatus}`)
      }),
    end: Effect.sync(() => {
      if (output.isTTY && lastStatus !== undefined) output.write("\n")
      lastStatus = undefined
    })
  }
}
