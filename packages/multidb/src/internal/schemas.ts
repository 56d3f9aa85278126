import { Duration, Option, ParseResult, Schema } from "effect"

const durationMessage = 'expected a duration such as "5 seconds", "500 millis" or a number of milliseconds'

/** A `Duration.DurationInput` (a number of milliseconds, a string such as "5 seconds", or a Duration), not negative. */
export const DurationInput = Schema.transformOrFail(
  Schema.Union(Schema.Number, Schema.String, Schema.DurationFromSelf),
  Schema.DurationFromSelf,
  {
    strict: true,
    decode: (input, _, ast) => {
      if (typeof input === "number" && (!Number.isFinite(input) || input < 0)) {
        return ParseResult.fail(new ParseResult.Type(ast, input, `${durationMessage}, not negative, got ${input}`))
      }
      if (typeof input === "string") {
        const trimmed = input.trim()
        if (trimmed.startsWith("-")) {
          return ParseResult.fail(new ParseResult.Type(ast, input, `a duration must not be negative, got "${input}"`))
        }
        if (/^\d+(\.\d+)?$/.test(trimmed)) return ParseResult.succeed(Duration.millis(Number(trimmed)))
        return Option.match(Duration.decodeUnknown(trimmed), {
          onNone: () => ParseResult.fail(new ParseResult.Type(ast, input, `${durationMessage}, got "${input}"`)),
          onSome: ParseResult.succeed
        })
      }
      return ParseResult.succeed(Duration.decode(input))
    },
    encode: ParseResult.succeed
  }
).annotations({ identifier: "DurationInput" })

/** A positive `DurationInput`. */
export const PositiveDuration = DurationInput.pipe(
  Schema.filter((d) => Duration.greaterThan(d, Duration.zero) || "must be greater than zero")
)

/** A `redis://` or `rediss://` URL with a host. */
export const RedisUrl = Schema.String.pipe(
  Schema.filter((s) => {
    let url: URL
    try {
      url = new URL(s)
    } catch {
      return `expected a redis:// or rediss:// URL, got a malformed one`
    }
    if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
      return `expected a redis:// or rediss:// URL, got protocol "${url.protocol}"`
    }
    if (url.hostname === "") return "expected a URL with a host name"
    return true
  }),
  Schema.annotations({ identifier: "RedisUrl" })
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
  Schema.annotations({ identifier: "HttpUrl" })
)

/** A finite number >= 0. */
export const Weight = Schema.Number.pipe(
  Schema.filter((n) => (Number.isFinite(n) && n >= 0) || `expected a number >= 0, got ${n}`),
  Schema.annotations({ identifier: "Weight" })
)

/** An integer >= min. */
export const IntAtLeast = (min: number) =>
  Schema.Number.pipe(
    Schema.filter((n) => (Number.isInteger(n) && n >= min) || `expected an integer >= ${min}, got ${n}`)
  )

/** A fraction between 0 and 1. */
export const Fraction = Schema.Number.pipe(
  Schema.filter((n) => (Number.isFinite(n) && n >= 0 && n <= 1) || `expected a number between 0 and 1, got ${n}`)
)

/** A plain object (node-redis options). */
export const OptionsObject = Schema.declare(
  (u: unknown): u is object => typeof u === "object" && u !== null && !Array.isArray(u),
  { identifier: "Options", description: "an options object" }
)
