/**
 * Small statistics and formatting helpers shared by the benchmark sections.
 */

/** A median with the range it was taken from; `null` when there were no samples. */
export interface Summary {
  readonly median: number | null
  readonly min: number | null
  readonly max: number | null
  readonly samples: ReadonlyArray<number | null>
}

const sorted = (values: ReadonlyArray<number>) => [...values].sort((a, b) => a - b)

/** The median of the values (the mean of the middle two for an even count). */
export const median = (values: ReadonlyArray<number>): number | null => {
  if (values.length === 0) return null
  const s = sorted(values)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** The `p` quantile (0..1) of the first `count` entries, nearest-rank; the array is sorted in place. */
export const quantile = (values: Float64Array, count: number, p: number): number => {
  if (count === 0) return Number.NaN
  const view = values.subarray(0, count).sort()
  const rank = Math.min(count - 1, Math.max(0, Math.ceil(p * count) - 1))
  return view[rank]!
}

/** Median and range of samples, ignoring `null` (a measurement that did not happen within its bound). */
export const summarize = (samples: ReadonlyArray<number | null>): Summary => {
  const present = samples.filter((s): s is number => s !== null && Number.isFinite(s))
  return {
    median: median(present),
    min: present.length === 0 ? null : Math.min(...present),
    max: present.length === 0 ? null : Math.max(...present),
    samples
  }
}

/** `1.23 [1.01–1.50]`, with `n/a` for missing figures and a note when some samples are missing. */
export const formatSummary = (summary: Summary, digits = 2): string => {
  if (summary.median === null) return "n/a"
  const missing = summary.samples.filter((s) => s === null).length
  const range = summary.samples.length > 1 ? ` [${summary.min!.toFixed(digits)}–${summary.max!.toFixed(digits)}]` : ""
  return `${summary.median.toFixed(digits)}${range}${missing > 0 ? ` (${missing} of ${summary.samples.length} n/a)` : ""}`
}

/** Renders rows as an aligned text table with a header rule: first column left-aligned, the others right-aligned. */
export const table = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string>>,
  options: { readonly leftAligned?: boolean } = {}
): string => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells
      .map((c, i) => (i === 0 || options.leftAligned === true ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd()
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

/** Bytes as MiB with two decimals (signed). */
export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MiB`

/** Least-squares slope of `y` over `x` (0 with fewer than two points). */
export const slope = (points: ReadonlyArray<readonly [number, number]>): number => {
  if (points.length < 2) return 0
  const n = points.length
  const mx = points.reduce((a, [x]) => a + x, 0) / n
  const my = points.reduce((a, [, y]) => a + y, 0) / n
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0)
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0)
  return sxx === 0 ? 0 : sxy / sxx
}
