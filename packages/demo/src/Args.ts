/**
 * The demo's command line: no arguments runs the scripted failover scenario against local servers;
 * `--database url=weight` (repeatable) runs the workload against databases the user names, without faults.
 *
 * @since 0.1.0
 */
import { Data, Duration, Either } from "effect"
import type { Overrides } from "./Settings.js"

/**
 * A database named on the command line.
 *
 * @since 0.1.0
 */
export interface NamedDatabase {
  readonly id: string
  readonly url: string
  readonly weight: number
}

/**
 * What to run.
 *
 * @since 0.1.0
 */
export type Args =
  | { readonly _tag: "Help" }
  | {
      readonly _tag: "Scripted"
      readonly scenario: "full" | "quick"
      /** Where to write the HTML report; `undefined`: the default place. */
      readonly reportPath: string | undefined
    }
  | {
      readonly _tag: "Databases"
      readonly databases: ReadonlyArray<NamedDatabase>
      readonly duration: Duration.Duration
      /** Client options given on the command line; the rest keep the library's defaults. */
      readonly overrides: Overrides
      /** `true`: the default place; a string: that file; `undefined`: no report. */
      readonly report: string | true | undefined
    }

/**
 * A command line the demo does not understand.
 *
 * @since 0.1.0
 */
export class ArgsError extends Data.TaggedError("ArgsError")<{ readonly reason: string }> {
  override get message() {
    return this.reason
  }
}

/**
 * The `--help` text.
 *
 * @since 0.1.0
 */
export const usage = `Usage:
  npm run demo                                   scripted failover scenario on three local redis-server processes
  npm run demo -- --scenario quick               a ~10 s scenario (kill and restart the preferred database)
  npm run demo -- --report <file>                write the HTML report there (default: failover-report.html at the repo root)
  npm run demo -- --database redis://host:port=1.0 --database redis://other:port=0.5 [--duration 30s] [--report [file]]
                                                 the workload and live display against your databases, no faults,
                                                 with the library's default settings; override them with:
      --command-timeout 2s  --connect-timeout 2s  --health-check-interval 5s  --health-check-timeout 3s
      --health-check-probes 3  --health-check-probes-delay 500ms  --fallback-interval 30s (0: off)  --grace-period 60s
`

/** Command-line flags of the client options a `--database` run may override, with what each takes. */
const overrideFlags = {
  "--command-timeout": { option: "commandTimeout", kind: "duration" },
  "--connect-timeout": { option: "connectTimeout", kind: "duration" },
  "--health-check-interval": { option: "healthCheckInterval", kind: "duration" },
  "--health-check-timeout": { option: "healthCheckTimeout", kind: "duration" },
  "--health-check-probes": { option: "healthCheckProbes", kind: "count" },
  "--health-check-probes-delay": { option: "healthCheckProbesDelay", kind: "delay" },
  "--fallback-interval": { option: "autoFallbackInterval", kind: "delay" },
  "--grace-period": { option: "gracePeriod", kind: "delay" }
} as const satisfies Record<string, { option: keyof Overrides; kind: "duration" | "delay" | "count" }>

const isOverrideFlag = (arg: string): arg is keyof typeof overrideFlags => Object.hasOwn(overrideFlags, arg)

const parseDatabase = (value: string): Either.Either<Omit<NamedDatabase, "id">, ArgsError> => {
  const at = value.lastIndexOf("=")
  const url = at > 0 ? value.slice(0, at) : value
  const weightText = at > 0 ? value.slice(at + 1) : "1"
  const weight = Number(weightText)
  if (weightText.trim() === "" || !Number.isFinite(weight) || weight < 0) {
    return Either.left(new ArgsError({ reason: `--database ${value}: the weight must be a number >= 0` }))
  }
  if (!/^rediss?:\/\//.test(url)) {
    return Either.left(new ArgsError({ reason: `--database ${value}: expected redis://host:port=weight` }))
  }
  try {
    new URL(url)
  } catch {
    return Either.left(new ArgsError({ reason: `--database ${value}: "${url}" is not a URL` }))
  }
  return Either.right({ url, weight })
}

/** `host:port` of a URL (what the library would call it), made unique with a `#n` suffix. */
const databaseIds = (urls: ReadonlyArray<string>): Array<string> => {
  const seen = new Map<string, number>()
  return urls.map((url) => {
    const parsed = new URL(url)
    const base = `${parsed.hostname}:${parsed.port === "" ? "6379" : parsed.port}`
    const n = (seen.get(base) ?? 0) + 1
    seen.set(base, n)
    return n === 1 ? base : `${base}#${n}`
  })
}

const parseDuration = (
  value: string,
  flag = "--duration",
  allowZero = false
): Either.Either<Duration.Duration, ArgsError> => {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|millis|seconds?|minutes?)?$/.exec(value.trim())
  if (match === null) return Either.left(new ArgsError({ reason: `${flag} ${value}: expected e.g. 500ms, 30s, 2m` }))
  const n = Number(match[1])
  const unit = match[2] ?? "s"
  const millis = unit === "ms" || unit === "millis" ? n : unit.startsWith("m") ? n * 60_000 : n * 1000
  if (millis < 0 || (millis === 0 && !allowZero)) {
    return Either.left(new ArgsError({ reason: `${flag} ${value}: must be positive` }))
  }
  return Either.right(Duration.millis(millis))
}

const parseOverride = (
  flag: keyof typeof overrideFlags,
  value: string
): Either.Either<Duration.Duration | number, ArgsError> => {
  const { kind } = overrideFlags[flag]
  if (kind !== "count") return parseDuration(value, flag, kind === "delay")
  const count = Number(value)
  return /^\d+$/.test(value.trim()) && count >= 1
    ? Either.right(count)
    : Either.left(new ArgsError({ reason: `${flag} ${value}: expected a whole number of at least 1` }))
}

/**
 * Parses the arguments after `npm run demo --`.
 *
 * @since 0.1.0
 */
export const parse = (argv: ReadonlyArray<string>): Either.Either<Args, ArgsError> => {
  const databases: Array<Omit<NamedDatabase, "id">> = []
  let duration = Duration.seconds(30)
  let durationGiven = false
  let report: string | true | undefined
  let scenario: "full" | "quick" | undefined
  const overrides: Record<string, Duration.Duration | number> = {}
  const args = argv.flatMap((arg) => {
    const eq = arg.indexOf("=")
    return arg.startsWith("--") && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg]
  })
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const next = args[i + 1]
    const needValue = (): Either.Either<string, ArgsError> =>
      next === undefined || next.startsWith("--")
        ? Either.left(new ArgsError({ reason: `${arg} needs a value` }))
        : Either.right(args[++i]!)
    switch (arg) {
      case "-h":
      case "--help":
        return Either.right({ _tag: "Help" })
      case "--database": {
        const value = needValue()
        if (Either.isLeft(value)) return Either.left(value.left)
        const database = parseDatabase(value.right)
        if (Either.isLeft(database)) return Either.left(database.left)
        databases.push(database.right)
        break
      }
      case "--duration": {
        const value = needValue()
        if (Either.isLeft(value)) return Either.left(value.left)
        const parsed = parseDuration(value.right)
        if (Either.isLeft(parsed)) return Either.left(parsed.left)
        duration = parsed.right
        durationGiven = true
        break
      }
      case "--report":
        if (next !== undefined && !next.startsWith("--")) report = args[++i]!
        else report = true
        break
      case "--scenario": {
        const value = needValue()
        if (Either.isLeft(value)) return Either.left(value.left)
        if (value.right !== "full" && value.right !== "quick") {
          return Either.left(new ArgsError({ reason: `--scenario ${value.right}: expected full or quick` }))
        }
        scenario = value.right
        break
      }
      default: {
        if (!isOverrideFlag(arg)) {
          return Either.left(new ArgsError({ reason: `unknown argument "${arg}"\n\n${usage}` }))
        }
        const value = needValue()
        if (Either.isLeft(value)) return Either.left(value.left)
        const parsed = parseOverride(arg, value.right)
        if (Either.isLeft(parsed)) return Either.left(parsed.left)
        overrides[overrideFlags[arg].option] = parsed.right
      }
    }
  }
  if (databases.length === 0) {
    if (durationGiven) {
      return Either.left(new ArgsError({ reason: "--duration applies to --database runs only" }))
    }
    if (Object.keys(overrides).length > 0) {
      return Either.left(
        new ArgsError({ reason: "client settings apply to --database runs only (the scenario uses its own)" })
      )
    }
    return Either.right({
      _tag: "Scripted",
      scenario: scenario ?? "full",
      reportPath: report === true ? undefined : report
    })
  }
  if (scenario !== undefined) {
    return Either.left(new ArgsError({ reason: "--scenario injects faults into local servers; not with --database" }))
  }
  const ids = databaseIds(databases.map((d) => d.url))
  return Either.right({
    _tag: "Databases",
    databases: databases.map((d, i) => ({ ...d, id: ids[i]! })),
    duration,
    overrides: overrides as Overrides,
    report
  })
}
