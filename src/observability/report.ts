/**
 * A report of a recording: a table per message type (count, errors,
 * p50/p95/p99) and a self-contained HTML page with SVG charts (latency
 * distribution per type, dispatches over time) and the slowest and failed
 * dispatches. No external scripts, fonts or styles.
 *
 * Run as a program it reads a run file (or the newest run in a directory),
 * prints the table and writes the HTML beside the recording:
 *
 * ```sh
 * deno task report ./recordings
 * ```
 *
 * @module
 */

import type { MessageKind } from "../core/messages.ts";
import { listRuns, readRecording } from "./jsonl_store.ts";
import type { DispatchRecord } from "./recorder.ts";
import { createLatencyStats } from "./latency.ts";

/**
 * One row of the report's table.
 */
export interface ReportRow {
  /** The message name. */
  readonly type: string;
  /** The message kind. */
  readonly kind: MessageKind;
  /** Dispatches recorded. */
  readonly count: number;
  /** Dispatches that failed. */
  readonly errors: number;
  /** Median duration, in milliseconds. */
  readonly p50Ms: number;
  /** 95th percentile duration, in milliseconds. */
  readonly p95Ms: number;
  /** 99th percentile duration, in milliseconds. */
  readonly p99Ms: number;
  /** Longest duration, in milliseconds. */
  readonly maxMs: number;
}

/**
 * Options of {@linkcode renderReport}.
 */
export interface ReportOptions {
  /**
   * The page's title.
   *
   * @default {"Message bus report"}
   */
  readonly title?: string;
  /**
   * How many of the slowest dispatches to list.
   *
   * @default {10}
   */
  readonly slowest?: number;
  /**
   * How many failed dispatches to list at most.
   *
   * @default {50}
   */
  readonly failed?: number;
}

/**
 * A rendered report; see {@linkcode renderReport}.
 */
export interface Report {
  /** One row per message type, by name. */
  readonly rows: readonly ReportRow[];
  /** The rows as an aligned text table, for a terminal. */
  readonly table: string;
  /** A self-contained HTML page. */
  readonly html: string;
}

/** Formats milliseconds for people: 3 significant digits. */
function formatMs(value: number): string {
  if (value === 0) return "0";
  if (value >= 100) return value.toFixed(0);
  return value.toPrecision(3);
}

/** A short duration label for a chart's axis: "5µs", "20ms", "2s". */
function durationLabel(milliseconds: number): string {
  if (milliseconds < 1) return `${+(milliseconds * 1000).toPrecision(3)}µs`;
  if (milliseconds < 1000) return `${+milliseconds.toPrecision(3)}ms`;
  return `${+(milliseconds / 1000).toPrecision(3)}s`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(
    />/g,
    "&gt;",
  ).replace(/"/g, "&quot;");
}

/** The report's rows: one per message type, sorted by name. */
function rowsOf(records: readonly DispatchRecord[]): ReportRow[] {
  const stats = createLatencyStats({ maxSamples: Number.MAX_SAFE_INTEGER });
  const errors = new Map<string, number>();
  for (const record of records) {
    stats.record(
      { kind: record.kind, type: record.type },
      record.durationMs,
    );
    if (record.error !== null) {
      errors.set(record.type, (errors.get(record.type) ?? 0) + 1);
    }
  }
  return stats.all().map((summary) => ({
    type: summary.type,
    kind: summary.kind,
    count: summary.count,
    errors: errors.get(summary.type) ?? 0,
    p50Ms: summary.p50Ms,
    p95Ms: summary.p95Ms,
    p99Ms: summary.p99Ms,
    maxMs: summary.maxMs,
  }));
}

function tableOf(rows: readonly ReportRow[]): string {
  const header = [
    "type",
    "kind",
    "count",
    "errors",
    "p50 ms",
    "p95 ms",
    "p99 ms",
  ];
  const body = rows.map((row) => [
    row.type,
    row.kind,
    String(row.count),
    String(row.errors),
    formatMs(row.p50Ms),
    formatMs(row.p95Ms),
    formatMs(row.p99Ms),
  ]);
  const widths = header.map((title, column) =>
    Math.max(title.length, ...body.map((cells) => cells[column]!.length))
  );
  const line = (cells: string[]) =>
    cells.map((cell, column) =>
      column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)
    ).join("  ").trimEnd();
  return [line(header), ...body.map(line)].join("\n");
}

// Latency histogram buckets: powers of ten from 1 µs to 10 s, split in thirds.
const BOUNDS_MS: readonly number[] = (() => {
  const bounds: number[] = [];
  for (let exponent = -3; exponent <= 4; exponent++) {
    for (const step of [1, 2, 5]) bounds.push(step * 10 ** exponent);
  }
  return bounds;
})();

function histogramSvg(durationsMs: readonly number[]): string {
  const counts = new Array(BOUNDS_MS.length + 1).fill(0);
  for (const value of durationsMs) {
    let index = 0;
    while (index < BOUNDS_MS.length && value > BOUNDS_MS[index]!) index++;
    counts[index]++;
  }
  const first = counts.findIndex((count) => count > 0);
  const last = counts.length - 1 -
    [...counts].reverse().findIndex((count) => count > 0);
  // At least eight buckets wide, so that one busy bucket is not one wide bar.
  const from = Math.max(0, Math.min(first, last + 1 - 8));
  const shown = counts.slice(from, Math.max(last + 1, from + 8));
  const width = 420;
  const height = 110;
  const barWidth = width / shown.length;
  const top = Math.max(...shown);
  const bars = shown.map((count, index) => {
    const barHeight = Math.round((count / top) * (height - 30));
    const bound = from + index < BOUNDS_MS.length
      ? `≤ ${formatMs(BOUNDS_MS[from + index]!)} ms`
      : `> ${formatMs(BOUNDS_MS[BOUNDS_MS.length - 1]!)} ms`;
    const x = (index * barWidth).toFixed(1);
    return `<rect x="${x}" y="${height - 20 - barHeight}" width="${
      (barWidth - 2).toFixed(1)
    }" height="${barHeight}" class="bar"><title>${bound}: ${count}</title></rect>` +
      (count > 0
        ? `<text x="${(index * barWidth + barWidth / 2).toFixed(1)}" y="${
          height - 24 - barHeight
        }" class="tick">${count}</text>`
        : "") +
      `<text x="${(index * barWidth + barWidth / 2).toFixed(1)}" y="${
        height - 6
      }" class="tick">${
        escapeHtml(
          from + index < BOUNDS_MS.length
            ? `≤${durationLabel(BOUNDS_MS[from + index]!)}`
            : `>${durationLabel(BOUNDS_MS[BOUNDS_MS.length - 1]!)}`,
        )
      }</text>`;
  }).join("");
  return `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">${bars}</svg>`;
}

function timelineSvg(records: readonly DispatchRecord[]): string {
  const times = records.map((record) => Date.parse(record.ts));
  const start = Math.min(...times);
  const end = Math.max(...times);
  const bins = 60;
  const span = Math.max(1, end - start);
  const all = new Array(bins).fill(0);
  const failed = new Array(bins).fill(0);
  records.forEach((record, index) => {
    const bin = Math.min(
      bins - 1,
      Math.floor(((times[index]! - start) / span) * bins),
    );
    all[bin]++;
    if (record.error !== null) failed[bin]++;
  });
  const width = 720;
  const height = 140;
  const barWidth = width / bins;
  const top = Math.max(...all);
  const bars = all.map((count, bin) => {
    const x = (bin * barWidth).toFixed(1);
    const h = Math.round((count / top) * (height - 30));
    const hf = Math.round((failed[bin] / top) * (height - 30));
    const at = new Date(start + (bin * span) / bins).toISOString();
    return `<rect x="${x}" y="${height - 20 - h}" width="${
      (barWidth - 1).toFixed(1)
    }" height="${h}" class="bar"><title>${at}: ${count} dispatches, ${
      failed[bin]
    } failed</title></rect>` +
      (hf > 0
        ? `<rect x="${x}" y="${height - 20 - hf}" width="${
          (barWidth - 1).toFixed(1)
        }" height="${hf}" class="fail"/>`
        : "");
  }).join("");
  const labels = `<text x="0" y="${height - 4}" class="edge">${
    escapeHtml(new Date(start).toISOString())
  }</text><text x="${width}" y="${height - 4}" class="edge end">${
    escapeHtml(new Date(end).toISOString())
  }</text>`;
  return `<svg viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">${bars}${labels}</svg>`;
}

function recordRows(records: readonly DispatchRecord[]): string {
  return records.map((record) =>
    `<tr><td>${escapeHtml(record.ts)}</td><td>${record.kind}</td><td>${
      escapeHtml(record.type)
    }</td><td class="n">${formatMs(record.durationMs)}</td><td>${
      record.error === null
        ? ""
        : escapeHtml(`${record.error.name}: ${record.error.message}`)
    }</td><td><code>${
      escapeHtml(JSON.stringify(record.payload) ?? "")
    }</code></td></tr>`
  ).join("\n");
}

const RECORD_HEADER =
  "<tr><th>ts</th><th>kind</th><th>type</th><th>ms</th><th>error</th><th>payload</th></tr>";

/**
 * Renders a report of `records`: the rows per message type, a text table and
 * a self-contained HTML page.
 *
 * @param records The recording, for example from {@linkcode readRecording}.
 * @param options The title and how many slow and failed dispatches to list.
 * @returns The rows, the table and the HTML.
 *
 * @example
 * ```ts
 * import { type DispatchRecord } from "@monolith/message-bus/observability";
 * import { renderReport } from "@monolith/message-bus/report";
 * import { deepStrictEqual, match } from "node:assert/strict";
 *
 * const record = (durationMs: number, error: DispatchRecord["error"] = null): DispatchRecord => ({
 *   ts: "2026-02-12T14:30:45.123456Z",
 *   kind: "query",
 *   type: "GetUser",
 *   payload: {},
 *   durationMs,
 *   result: null,
 *   error,
 * });
 * const report = renderReport([record(1), record(3), record(2, { name: "Error", message: "x" })]);
 * deepStrictEqual([report.rows[0]?.count, report.rows[0]?.errors, report.rows[0]?.p50Ms], [3, 1, 2]);
 * match(report.table, /GetUser\s+query\s+3\s+1\s+2\.00\s+3\.00\s+3\.00/);
 * match(report.html, /<svg/);
 * ```
 */
export function renderReport(
  records: readonly DispatchRecord[],
  options: ReportOptions = {},
): Report {
  const title = options.title ?? "Message bus report";
  const rows = rowsOf(records);
  const table = tableOf(rows);
  const slowest = [...records].sort((a, b) => b.durationMs - a.durationMs)
    .slice(0, options.slowest ?? 10);
  const failures = records.filter((record) => record.error !== null);
  const shownFailures = failures.slice(0, options.failed ?? 50);
  const durations = new Map<string, number[]>();
  for (const record of records) {
    const list = durations.get(record.type) ?? [];
    list.push(record.durationMs);
    durations.set(record.type, list);
  }
  const summaryRows = rows.map((row) =>
    `<tr><td>${
      escapeHtml(row.type)
    }</td><td>${row.kind}</td><td class="n">${row.count}</td><td class="n">${row.errors}</td><td class="n">${
      formatMs(row.p50Ms)
    }</td><td class="n">${formatMs(row.p95Ms)}</td><td class="n">${
      formatMs(row.p99Ms)
    }</td><td class="n">${formatMs(row.maxMs)}</td></tr>`
  ).join("\n");
  const histograms = rows.map((row) =>
    `<figure><figcaption>${
      escapeHtml(row.type)
    } <span class="muted">(${row.kind}, ${row.count} ${
      row.count === 1 ? "dispatch" : "dispatches"
    }, p95 ${formatMs(row.p95Ms)} ms)</span></figcaption>${
      histogramSvg(durations.get(row.type)!)
    }</figure>`
  ).join("\n");
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2433; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #dde2ea; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 12px; word-break: break-all; }
.muted { color: #6b7385; font-weight: normal; }
figure { display: inline-block; margin: 0 1.5rem 1rem 0; }
figcaption { font-weight: 600; margin-bottom: .25rem; }
svg .bar { fill: #4f7cc4; } svg .fail { fill: #d04a4a; }
svg .tick { font-size: 9px; fill: #6b7385; text-anchor: middle; }
svg .edge { font-size: 9px; fill: #6b7385; } svg .edge.end { text-anchor: end; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="muted">${records.length} dispatches, ${failures.length} failed, ${rows.length} message types.</p>
<h2>Per message type</h2>
<table id="summary">
<tr><th>type</th><th>kind</th><th>count</th><th>errors</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr>
${summaryRows}
</table>
<h2>Latency distribution per type</h2>
${histograms}
<h2>Dispatches over time</h2>
${records.length > 0 ? timelineSvg(records) : "<p>No dispatches.</p>"}
<h2>Slowest dispatches</h2>
<table id="slowest">
${RECORD_HEADER}
${recordRows(slowest)}
</table>
<h2>Failed dispatches <span class="muted">(${failures.length}${
    failures.length > shownFailures.length
      ? `, first ${shownFailures.length} shown`
      : ""
  })</span></h2>
<table id="failed">
${RECORD_HEADER}
${recordRows(shownFailures)}
</table>
</body>
</html>
`;
  return { rows, table, html };
}

/**
 * Reads a recording (a run file, or the newest run in a directory), prints
 * its table and writes its HTML report beside it.
 */
async function main(target: string | undefined): Promise<number> {
  if (target === undefined) {
    console.error("Usage: deno task report <run file or directory>");
    return 2;
  }
  let path = target;
  if ((await Deno.stat(target)).isDirectory) {
    const runs = await listRuns(target);
    if (runs.length === 0) {
      console.error(`No run files (run-*.jsonl) in ${target}`);
      return 1;
    }
    path = runs[runs.length - 1]!.path;
  }
  const records: DispatchRecord[] = [];
  for await (const record of readRecording(path)) records.push(record);
  const report = renderReport(records, {
    title: `Message bus report: ${path}`,
  });
  const htmlPath = path.replace(/\.jsonl$/, "") + ".html";
  await Deno.writeTextFile(htmlPath, report.html);
  console.log(`${path}: ${records.length} dispatches\n`);
  console.log(report.table);
  console.log(`\nReport: ${htmlPath}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args[0]));
