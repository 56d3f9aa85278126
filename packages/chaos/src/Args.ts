/**
 * The soak's command line: `--minutes N` (default 3), `--workers N` (default 8), `--help`.
 *
 * @since 0.2.0
 */
import { Either } from "effect"

/**
 * What to run.
 *
 * @since 0.2.0
 */
export interface Args {
  readonly help: boolean
  readonly minutes: number
  readonly workers: number
}

/**
 * The usage text.
 *
 * @since 0.2.0
 */
export const usage = `npm run chaos -- [--minutes N] [--workers N]

  --minutes N   how long the workload and the fault schedule run (default 3; fractions allowed, at most 120)
  --workers N   concurrent workload fibers (default 8, at most 64)

Exits 0 when every invariant holds, 1 when one is broken, 2 on a bad command line.
`

const positive = (name: string, raw: string | undefined, max: number): Either.Either<number, string> => {
  if (raw === undefined || !/^\d+(\.\d+)?$/.test(raw)) return Either.left(`${name} expects a number, got ${raw}`)
  const value = Number(raw)
  if (value <= 0 || value > max) return Either.left(`${name} must be greater than 0 and at most ${max}, got ${raw}`)
  return Either.right(value)
}

/**
 * Parses the arguments after `npm run chaos --`.
 *
 * @since 0.2.0
 */
export const parse = (argv: ReadonlyArray<string>): Either.Either<Args, string> => {
  let minutes = 3
  let workers = 8
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const [flag, inline] = arg.includes("=") ? (arg.split("=", 2) as [string, string]) : [arg, undefined]
    if (flag === "--help" || flag === "-h") return Either.right({ help: true, minutes, workers })
    if (flag === "--minutes" || flag === "--workers") {
      const raw = inline ?? argv[++i]
      const parsed = positive(flag, raw, flag === "--minutes" ? 120 : 64)
      if (Either.isLeft(parsed)) return Either.left(parsed.left)
      if (flag === "--minutes") minutes = parsed.right
      else workers = Math.round(parsed.right)
      continue
    }
    return Either.left(`unknown argument ${arg}`)
  }
  return Either.right({ help: false, minutes, workers })
}
