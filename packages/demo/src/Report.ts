/**
 * `failover-report.html`: one self-contained page (no script, no external resource) with an SVG chart of the
 * operations per second each database served over time, the faults and the client's events marked on it, and the
 * summary table. Written by hand: no chart library.
 *
 * The page is also machine-readable: each series is a `<path data-series="<database>">`, each event a
 * `<g data-event="<tag>">`, each fault span a `<rect data-fault="<id>">`, each summary row a `<tr data-fault-row>`.
 *
 * @since 0.1.0
 */
import * as Summary from "./Summary.js"
import * as Timeline from "./Timeline.js"

/**
 * What the report shows.
 *
 * @since 0.1.0
 */
export interface Input {
  readonly title: string
  readonly generatedAt: Date
  readonly timeline: Timeline.Timeline
  readonly summary: Summary.Summary
  /** Client settings as `name value` pairs. */
  readonly settings: ReadonlyArray<readonly [string, string]>
  /** The scenario's steps, when faults were scripted. */
  readonly scenario?: ReadonlyArray<string> | undefined
}

/**
 * Width of one point of the chart.
 *
 * @since 0.1.0
 */
export const bucketMs = 500

const palette = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#db2777", "#65a30d", "#78716c"]

/**
 * The color of the i-th database.
 *
 * @since 0.1.0
 */
export const color = (index: number) => palette[index % palette.length]!

const kindColors: Record<Timeline.EventKind, string> = {
  fault: "#dc2626",
  recovery: "#16a34a",
  switch: "#0e7490",
  circuit: "#ca8a04",
  health: "#a21caf",
  failed: "#ef4444",
  unavailable: "#7f1d1d",
  other: "#6b7280"
}

/** The row of the marker band each kind of event goes to. */
const kindLanes: Record<Timeline.EventKind, number> = {
  fault: 0,
  recovery: 0,
  switch: 1,
  circuit: 2,
  health: 2,
  failed: 3,
  unavailable: 3,
  other: 2
}
const laneNames = ["faults", "switches", "circuit, health", "failures"]

/**
 * Escapes text for HTML and SVG.
 *
 * @since 0.1.0
 */
export const escape = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;")

const niceMax = (value: number) => {
  if (value <= 0) return 10
  const magnitude = 10 ** Math.floor(Math.log10(value))
  const step = [1, 2, 2.5, 5, 10].find((s) => s * magnitude >= value)!
  return step * magnitude
}

const fixed = (n: number) => n.toFixed(1)

/**
 * The SVG chart.
 *
 * @since 0.1.0
 */
export const chart = (timeline: Timeline.Timeline): string => {
  const width = 1160
  const height = 470
  const left = 104
  const right = 24
  const band = { top: 14, lane: 14 }
  const top = band.top + laneNames.length * band.lane + 16
  const bottom = height - 44
  const duration = Math.max(timeline.durationMs, 1000)
  const x = (ms: number) => left + (Math.min(Math.max(ms, 0), duration) / duration) * (width - left - right)
  const series = Timeline.opsPerSecond(timeline, bucketMs)
  const errors = Timeline.errorsPerSecond(timeline, bucketMs)
  const max = niceMax(Math.max(...Object.values(series).flat(), ...errors, 1))
  const y = (value: number) => bottom - (value / max) * (bottom - top)
  const parts: Array<string> = []

  // axes and grid
  for (let i = 0; i <= 5; i++) {
    const value = (max * i) / 5
    parts.push(
      `<line class="grid" x1="${left}" x2="${width - right}" y1="${fixed(y(value))}" y2="${fixed(y(value))}"/>`,
      `<text class="tick" x="${left - 6}" y="${fixed(y(value) + 4)}" text-anchor="end">${Math.round(value)}</text>`
    )
  }
  const seconds = duration / 1000
  const step = seconds <= 20 ? 1 : seconds <= 60 ? 5 : seconds <= 180 ? 10 : 30
  for (let s = 0; s <= seconds; s += step) {
    parts.push(
      `<line class="tickmark" x1="${fixed(x(s * 1000))}" x2="${fixed(x(s * 1000))}" y1="${bottom}" y2="${bottom + 5}"/>`,
      `<text class="tick" x="${fixed(x(s * 1000))}" y="${bottom + 18}" text-anchor="middle">${s}</text>`
    )
  }
  parts.push(
    `<line class="axis" x1="${left}" x2="${width - right}" y1="${bottom}" y2="${bottom}"/>`,
    `<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${bottom}"/>`,
    `<text class="label" x="${(left + width - right) / 2}" y="${height - 8}" text-anchor="middle">time since the workload started (s)</text>`,
    `<text class="label" transform="translate(${left - 44} ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">operations per second</text>`
  )

  // fault spans, behind the series
  timeline.faults.forEach((fault) => {
    const from = x(fault.injectedAt)
    const to = x(fault.recoveredAt ?? duration)
    parts.push(
      `<rect class="fault" data-fault="${escape(fault.id)}" x="${fixed(from)}" y="${top}" width="${fixed(Math.max(to - from, 1))}" height="${bottom - top}"><title>${escape(fault.name)}</title></rect>`,
      `<text class="fault-label" x="${fixed(from + 4)}" y="${top + 12}">${escape(fault.name)}</text>`
    )
  })

  // one series per database, points at bucket centres
  timeline.databases.forEach((database, index) => {
    const values = series[database.id] ?? []
    const d = values
      .map((value, i) => `${i === 0 ? "M" : "L"}${fixed(x((i + 0.5) * bucketMs))},${fixed(y(value))}`)
      .join(" ")
    parts.push(
      `<path class="series" data-series="${escape(database.id)}" stroke="${color(index)}" d="${d}"><title>${escape(database.id)} (weight ${database.weight}): operations per second</title></path>`
    )
  })
  const errorPath = errors
    .map((value, i) => `${i === 0 ? "M" : "L"}${fixed(x((i + 0.5) * bucketMs))},${fixed(y(value))}`)
    .join(" ")
  parts.push(
    `<path class="errors" data-errors="all" d="${errorPath}"><title>failed operations per second</title></path>`
  )

  // the marker band: one marker per event, in the lane of its kind; switches and faults also cross the plot
  laneNames.forEach((name, lane) => {
    const laneY = band.top + lane * band.lane + band.lane / 2
    parts.push(
      `<text class="lane" x="${left - 6}" y="${fixed(laneY + 3)}" text-anchor="end">${name}</text>`,
      `<line class="lane-line" x1="${left}" x2="${width - right}" y1="${fixed(laneY)}" y2="${fixed(laneY)}"/>`
    )
  })
  timeline.events.forEach((event) => {
    const ex = fixed(x(event.at))
    const laneY = band.top + kindLanes[event.kind] * band.lane + band.lane / 2
    const stroke = kindColors[event.kind]
    const crossing =
      event.kind === "switch" || event.kind === "fault" || event.kind === "recovery"
        ? `<line class="crossing" x1="${ex}" x2="${ex}" y1="${top}" y2="${bottom}" stroke="${stroke}"/>`
        : ""
    const shape =
      event.kind === "fault"
        ? `<path d="M${ex},${fixed(laneY + 5)} l-5,-9 h10 z" fill="${stroke}"/>`
        : event.kind === "recovery"
          ? `<path d="M${ex},${fixed(laneY - 5)} l-5,9 h10 z" fill="${stroke}"/>`
          : event.kind === "switch"
            ? `<rect x="${fixed(Number(ex) - 4)}" y="${fixed(laneY - 4)}" width="8" height="8" transform="rotate(45 ${ex} ${fixed(laneY)})" fill="${stroke}"/>`
            : `<circle cx="${ex}" cy="${fixed(laneY)}" r="3.5" fill="${stroke}"/>`
    parts.push(
      `<g class="event" data-event="${escape(event.tag)}" data-kind="${event.kind}" data-at="${(event.at / 1000).toFixed(3)}"><title>${(event.at / 1000).toFixed(3)} s · ${escape(event.label)}</title>${crossing}${shape}</g>`
    )
  })

  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="operations per second per database over time">
${parts.join("\n")}
</svg>`
}

const summaryTable = (summary: Summary.Summary) => {
  const row = (r: Summary.Row, attribute: string) => {
    const c = Summary.cells(r)
    const failed = c.failed.length === 1 ? c.failed[0]! : `${c.failed[0]} ${c.failed.slice(1).join(",")}`
    const lostClass = r.writesLost !== undefined && r.writesLost > 0 ? ' class="bad"' : ""
    return `<tr ${attribute}><th scope="row">${escape(r.name)}</th><td>${escape(c.failover)}</td><td>${escape(c.failBack)}</td><td class="num">${c.ops}</td><td>${escape(failed)}</td><td${lostClass}>${escape(c.lost)}</td></tr>`
  }
  const notes = [...summary.faults, summary.total].flatMap((r) =>
    r.notes.map((note) => `<li><b>${escape(r.name)}</b>: ${escape(note)}</li>`)
  )
  return `<table class="summary">
<thead><tr>${Summary.headers.map((h) => `<th scope="col">${escape(h)}</th>`).join("")}</tr></thead>
<tbody>
${summary.faults.map((r) => row(r, `data-fault-row="${escape(r.id)}"`)).join("\n")}
</tbody>
<tfoot>${row(summary.total, "data-total-row")}</tfoot>
</table>
${notes.length > 0 ? `<ul class="notes">${notes.join("")}</ul>` : ""}`
}

/**
 * The whole page.
 *
 * @since 0.1.0
 */
export const render = (input: Input): string => {
  const { timeline, summary } = input
  const legend = timeline.databases
    .map(
      (d, i) =>
        `<li><span class="swatch" style="background:${color(i)}"></span>${escape(d.id)} <small>(weight ${d.weight}, ${summary.opsByDatabase.find(([id]) => id === d.id)?.[1] ?? 0} ops)</small></li>`
    )
    .join("")
  const events = timeline.events
    .map(
      (e) =>
        `<li><code>${(e.at / 1000).toFixed(3).padStart(7)} s</code> <span class="kind" style="color:${kindColors[e.kind]}">${e.kind}</span> ${escape(e.label)}</li>`
    )
    .join("\n")
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(input.title)}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1180px; color: #111827; padding: 0 12px; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
.meta { color: #6b7280; margin-top: 0; }
svg { max-width: 100%; height: auto; background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; }
svg .grid { stroke: #f0f0f0; } svg .axis, svg .tickmark { stroke: #9ca3af; }
svg .tick, svg .lane { font-size: 11px; fill: #6b7280; } svg .label { font-size: 12px; fill: #374151; }
svg .lane-line { stroke: #f3f4f6; }
svg .series { fill: none; stroke-width: 2; stroke-linejoin: round; }
svg .errors { fill: none; stroke: #dc2626; stroke-width: 1.5; stroke-dasharray: 4 3; }
svg .fault { fill: #ef4444; fill-opacity: 0.07; stroke: #ef4444; stroke-opacity: 0.25; }
svg .fault-label { font-size: 11px; fill: #b91c1c; }
svg .crossing { stroke-width: 1; stroke-dasharray: 2 3; stroke-opacity: 0.55; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 18px; }
.swatch { display: inline-block; width: 14px; height: 4px; margin-right: 6px; vertical-align: middle; }
.swatch.errors { background: repeating-linear-gradient(90deg, #dc2626 0 4px, transparent 4px 7px); }
table { border-collapse: collapse; } th, td { padding: 5px 10px; border-bottom: 1px solid #e5e7eb; text-align: left; vertical-align: top; }
thead th { background: #f9fafb; } tfoot th, tfoot td { font-weight: 600; border-top: 2px solid #d1d5db; }
td.num { text-align: right; } td.bad { color: #b91c1c; font-weight: 600; }
.notes { color: #4b5563; } .kind { display: inline-block; width: 84px; font-weight: 600; }
ol.events { list-style: none; padding: 0; font-size: 13px; } code { font-size: 12px; }
</style>
</head>
<body>
<h1>${escape(input.title)}</h1>
<p class="meta">Generated ${escape(input.generatedAt.toISOString())} · ${(timeline.durationMs / 1000).toFixed(1)} s of workload · ${timeline.ops.length} operations served, ${timeline.errors.length} failed · pub/sub ${timeline.pubsub.received} received of ${timeline.pubsub.published} published</p>
<h2>Operations per second, by the database that served them</h2>
<ul class="legend">${legend}<li><span class="swatch errors"></span>failed operations</li><li><span class="swatch" style="background:#ef4444;opacity:.3;height:10px"></span>fault in place</li></ul>
${chart(timeline)}
<p class="meta">Markers: ▼ fault injected, ▲ fault lifted, ◆ active database changed, ● circuit or health change / failures. Hover a marker for details. Points are ${bucketMs} ms buckets.</p>
<h2>Summary</h2>
${summaryTable(summary)}
<p class="meta">Time to failover: from the fault's injection to the first operation served by another database. Time to fail back: from the recovery to the first operation served by the preferred database again. Operations failed: from the fault's injection to the next fault, by error tag. Acknowledged writes lost: each acknowledged key read back, at the end, from the database that acknowledged it.</p>
${input.scenario === undefined ? "" : `<h2>Scenario</h2><pre>${escape(input.scenario.join("\n"))}</pre>`}
<h2>Client settings</h2>
<table>${input.settings.map(([name, value]) => `<tr><th scope="row">${escape(name)}</th><td>${escape(value)}</td></tr>`).join("")}</table>
<details><summary><h2 style="display:inline">Event log (${timeline.events.length})</h2></summary>
<ol class="events">
${events}
</ol>
</details>
</body>
</html>
`
}
