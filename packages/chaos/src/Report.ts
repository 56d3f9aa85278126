/**
 * The figures of a chaos soak, the invariants they must meet, and their printed form.
 *
 * @since 0.2.0
 */

/**
 * One memory sample: seconds since the start and the resident set size in bytes.
 *
 * @since 0.2.0
 */
export interface RssSample {
  readonly at: number
  readonly rss: number
}

/**
 * Everything a soak measured.
 *
 * @since 0.2.0
 */
export interface Figures {
  /** How long the workload ran, in seconds. */
  readonly seconds: number
  /** Operations started. */
  readonly started: number
  /** Operations that ended (succeeded or failed with a typed error), within the hang bound. */
  readonly resolved: number
  /** Operations still unresolved after the hang bound. */
  readonly hung: number
  /** Operations that succeeded. */
  readonly succeeded: number
  /** Typed failures by tag (`TemporarilyUnavailable`, `RedisConnectionError`, ...). */
  readonly failures: Readonly<Record<string, number>>
  /** Operations that ended in a defect (not a typed error). */
  readonly defects: number
  /** The first few defects, for the report. */
  readonly defectSamples: ReadonlyArray<string>
  /** Unhandled promise rejections and uncaught exceptions seen by the process. */
  readonly unhandled: number
  readonly unhandledSamples: ReadonlyArray<string>
  /** Writes the client acknowledged. */
  readonly acknowledgedWrites: number
  /** Acknowledged writes found in no database at the end. */
  readonly missingWrites: number
  /** Acknowledged writes that could not be checked (a database unreachable at the end). */
  readonly uncheckedWrites: number
  /** Writes that failed with `RedisConnectionError { mayHaveExecuted: true }`. */
  readonly mayHaveExecuted: number
  /** Latency of resolved operations, in milliseconds. */
  readonly latency: { readonly p50: number; readonly p99: number; readonly max: number }
  /** Memory samples over the run. */
  readonly rss: ReadonlyArray<RssSample>
  /** Faults applied, by kind. */
  readonly faults: Readonly<Record<string, number>>
  /** Times the active database changed. */
  readonly switches: number
  /** The preferred (highest-weighted) database's id. */
  readonly preferred: string
  /** The active database once the faults had healed and the workload stopped (undefined: none). */
  readonly finalActive: string | undefined
}

/**
 * The RSS trend: first and last sample, the peak, and the slope (MB per minute, least squares) over the second half
 * of the run, where warm-up no longer weighs.
 *
 * @since 0.2.0
 */
export interface RssTrend {
  readonly firstMb: number
  readonly lastMb: number
  readonly peakMb: number
  readonly slopeMbPerMinute: number
}

const mb = (bytes: number) => bytes / (1024 * 1024)

/**
 * The RSS trend of a list of samples.
 *
 * @since 0.2.0
 */
export const rssTrend = (samples: ReadonlyArray<RssSample>): RssTrend => {
  if (samples.length === 0) return { firstMb: 0, lastMb: 0, peakMb: 0, slopeMbPerMinute: 0 }
  const half = samples.slice(Math.floor(samples.length / 2))
  let slope = 0
  if (half.length >= 2) {
    const n = half.length
    const meanX = half.reduce((s, p) => s + p.at, 0) / n
    const meanY = half.reduce((s, p) => s + mb(p.rss), 0) / n
    let num = 0
    let den = 0
    for (const p of half) {
      num += (p.at - meanX) * (mb(p.rss) - meanY)
      den += (p.at - meanX) ** 2
    }
    slope = den === 0 ? 0 : (num / den) * 60
  }
  return {
    firstMb: mb(samples[0]!.rss),
    lastMb: mb(samples[samples.length - 1]!.rss),
    peakMb: mb(Math.max(...samples.map((s) => s.rss))),
    slopeMbPerMinute: slope
  }
}

/**
 * The quantile `q` (0..1) of `values`, nearest rank; 0 for none.
 *
 * @since 0.2.0
 */
export const quantile = (values: ReadonlyArray<number>, q: number): number => {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]!
}

/**
 * The invariants a soak must meet; each broken one is a line of the result (empty: all hold).
 *
 * - every operation resolved, none hung;
 * - no acknowledged write missing from every database;
 * - no defect, no unhandled rejection;
 * - traffic ended on the preferred database;
 * - the workload did something (operations succeeded, writes were acknowledged and checked).
 *
 * @since 0.2.0
 */
export const brokenInvariants = (figures: Figures): ReadonlyArray<string> => {
  const broken: Array<string> = []
  if (figures.hung > 0) broken.push(`${figures.hung} operation(s) hung`)
  if (figures.resolved + figures.hung !== figures.started) {
    broken.push(
      `${figures.started - figures.resolved - figures.hung} operation(s) neither resolved nor counted as hung`
    )
  }
  if (figures.missingWrites > 0)
    broken.push(`${figures.missingWrites} acknowledged write(s) missing from every database`)
  if (figures.uncheckedWrites > 0) broken.push(`${figures.uncheckedWrites} acknowledged write(s) could not be checked`)
  if (figures.defects > 0) broken.push(`${figures.defects} defect(s)`)
  if (figures.unhandled > 0) broken.push(`${figures.unhandled} unhandled rejection(s) or exception(s)`)
  if (figures.finalActive !== figures.preferred) {
    broken.push(
      `traffic ended on ${figures.finalActive ?? "no database"}, not on the preferred database ${figures.preferred}`
    )
  }
  if (figures.succeeded === 0) broken.push("no operation succeeded")
  if (figures.acknowledgedWrites === 0) broken.push("no write was acknowledged")
  return broken
}

const fixed = (n: number, digits = 1) => n.toFixed(digits)

const entries = (record: Readonly<Record<string, number>>) =>
  Object.keys(record).length === 0
    ? "none"
    : Object.entries(record)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")

/**
 * The report as printed at the end of a soak.
 *
 * @since 0.2.0
 */
export const format = (figures: Figures): string => {
  const trend = rssTrend(figures.rss)
  const broken = brokenInvariants(figures)
  const failed = Object.values(figures.failures).reduce((a, b) => a + b, 0)
  const lines = [
    `chaos soak: ${fixed(figures.seconds / 60)} minutes`,
    `  operations      ${figures.started} started, ${figures.resolved} resolved, hung: ${figures.hung}`,
    `                  ${figures.succeeded} succeeded, ${failed} failed with a typed error (${entries(figures.failures)})`,
    `  writes          ${figures.acknowledgedWrites} acknowledged, missing from every database: ${figures.missingWrites}` +
      (figures.uncheckedWrites > 0 ? `, unchecked: ${figures.uncheckedWrites}` : ""),
    `                  reported mayHaveExecuted: ${figures.mayHaveExecuted}`,
    `  defects         ${figures.defects}, unhandled rejections: ${figures.unhandled}`,
    `  latency         p50 ${fixed(figures.latency.p50)} ms, p99 ${fixed(figures.latency.p99)} ms, max ${fixed(figures.latency.max)} ms`,
    `  RSS             ${fixed(trend.firstMb)} MB → ${fixed(trend.lastMb)} MB (peak ${fixed(trend.peakMb)} MB), ` +
      `second-half slope ${trend.slopeMbPerMinute >= 0 ? "+" : ""}${fixed(trend.slopeMbPerMinute, 2)} MB/min`,
    `  faults          ${entries(figures.faults)}`,
    `  switches        ${figures.switches} active-database changes`,
    `  ended on        ${figures.finalActive ?? "no database"} (preferred: ${figures.preferred}) ${
      figures.finalActive === figures.preferred ? "yes" : "NO"
    }`,
    ...figures.defectSamples.map((d) => `  defect: ${d}`),
    ...figures.unhandledSamples.map((d) => `  unhandled: ${d}`),
    broken.length === 0 ? "invariants: all hold" : `invariants BROKEN:\n${broken.map((b) => `  - ${b}`).join("\n")}`
  ]
  return lines.join("\n")
}
