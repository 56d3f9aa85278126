import { Duration, Option, ParseResult, Schema } from "effect"

/** The longest wait a Node timer can hold (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const maxTimerMillis = 2 ** 31 - 1

const durationMessage = 'expected a duration such as "5 seconds", "500 millis" or a number of milliseconds'

const show = (input: unknown) => (typeof input === "string" ? `"${input}"` : String(input))

const tooLong = (duration: Duration.Duration) =>
  !Duration.isFinite(duration) || Duration.toMillis(duration) > maxTimerMillis

/**
 * A `Duration.DurationInput` (a number of milliseconds, a string such as "5 seconds", or a Duration), not negative and
 * not longer than a timer can hold.
 */
export const DurationInput = Schema.transformOrFail(
  Schema.Union(Schema.Number, Schema.String, Schema.DurationFromSelf),
  Schema.DurationFromSelf,
  {
    strict: true,
    decode: (input, _, ast) => {
      const fail = (message: string) => ParseResult.fail(new ParseResult.Type(ast, input, message))
      let duration: Duration.Duration
      if (typeof input === "number") {
        if (Number.isNaN(input) || input < 0) return fail(`${durationMessage}, not negative, got ${input}`)
        duration = Duration.millis(input)
      } else if (typeof input === "string") {
        const trimmed = input.trim()
        if (trimmed.startsWith("-")) return fail(`expected a duration that is not negative, got ${show(input)}`)
        if (/^\d+(\.\d+)?$/.test(trimmed)) duration = Duration.millis(Number(trimmed))
        else {
          const decoded = Duration.decodeUnknown(trimmed)
          if (Option.isNone(decoded)) return fail(`${durationMessage}, got ${show(input)}`)
          duration = decoded.value
        }
      } else {
        duration = input
      }
      if (tooLong(duration)) {
        return fail(`expected a duration of at most 24.8 days (the longest a timer can wait), got ${show(input)}`)
      }
      return ParseResult.succeed(duration)
    },
    encode: ParseResult.succeed
  }
).annotations({
  identifier: "DurationInput",
  description: 'a duration such as "5 seconds" or a number of milliseconds'
})

/** A positive `DurationInput`. */
export const PositiveDuration = DurationInput.pipe(
  Schema.filter((d) => Duration.greaterThan(d, Duration.zero) || "expected a duration greater than zero")
)

/** Why a string is not a usable redis:// or rediss:// URL (node-redis would throw on it), or undefined. */
export const redisUrlProblem = (s: string): string | undefined => {
  let url: URL
  try {
    url = new URL(s)
  } catch {
    return "expected a redis:// or rediss:// URL (IPv6 hosts in brackets), got a malformed one"
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    return `expected a redis:// or rediss:// URL, got protocol "${url.protocol}"`
  }
  if (url.hostname === "") return "expected a URL with a host name"
  if (url.pathname !== "" && url.pathname !== "/" && !/^\/\d+$/.test(url.pathname)) {
    return `expected the URL's path to be a database number (redis://host:6379/0), got "${url.pathname}"`
  }
  try {
    decodeURIComponent(url.username)
    decodeURIComponent(url.password)
  } catch {
    return "expected the URL's user name and password to be percent-encoded"
  }
  return undefined
}

/** A `redis://` or `rediss://` URL with a host, and at most a database number as its path. */
export const RedisUrl = Schema.String.pipe(
  Schema.filter((s) => redisUrlProblem(s) ?? true),
  Schema.annotations({ identifier: "RedisUrl", description: "a redis:// or rediss:// URL" })
)

/** An http(s) URL without a path: the Redis Software REST API base. */
export const HttpUrl = Schema.String.pipe(
  Schema.filter((s) => {
    try {
      const url = new URL(s)
      return url.protocol === "https:" || url.protocol === "http:" || `expected an https:// URL, got "${url.protocol}"`
    } catch {
      return "expected an https:// URL, got a malformed one"
    }
  }),
  Schema.annotations({ identifier: "HttpUrl", description: "an https:// URL" })
)

/** A finite number >= 0. */
export const Weight = Schema.Number.pipe(
  Schema.filter((n) => (Number.isFinite(n) && n >= 0) || `expected a number ≥ 0, got ${n}`),
  Schema.annotations({ identifier: "Weight", description: "a number ≥ 0" })
)

/** An integer >= min. */
export const IntAtLeast = (min: number) =>
  Schema.Number.pipe(
    Schema.filter((n) => (Number.isInteger(n) && n >= min) || `expected an integer ≥ ${min}, got ${n}`),
    Schema.annotations({ description: `an integer ≥ ${min}` })
  )

/** A fraction between 0 and 1. */
export const Fraction = Schema.Number.pipe(
  Schema.filter((n) => (Number.isFinite(n) && n >= 0 && n <= 1) || `expected a number between 0 and 1, got ${n}`),
  Schema.annotations({ description: "a number between 0 and 1" })
)

/** A plain object (node-redis options). */
export const OptionsObject = Schema.declare(
  (u: unknown): u is object => typeof u === "object" && u !== null && !Array.isArray(u),
  { identifier: "Options", description: "an options object" }
)
