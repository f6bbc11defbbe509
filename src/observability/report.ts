/**
 * A report of a recording: a table per message type (count, errors,
 * p50/p95/p99) and a self-contained HTML page with SVG charts (latency
 * distribution per type, dispatches over time) and the slowest and failed
 * dispatches. No external scripts, fonts or styles.
 *
 * Run as a program it reads a run file (or the newest run in a directory)
 * one record at a time, so a recording of millions of dispatches fits in
 * memory, prints the table and writes the HTML beside the recording:
 *
 * ```sh
 * deno task report ./recordings
 * ```
 *
 * @module
 */

import type { MessageKind } from "../core/messages.ts";
import { integerOption, optionsObject, shown } from "../core/_options.ts";
import { listRuns, readRecording } from "./jsonl_store.ts";
import type { DispatchRecord } from "./recorder.ts";
import { percentile } from "./_percentiles.ts";
import {
  type CollectedRecording,
  createReportCollector,
  type TypeDurations,
} from "./_report_collector.ts";

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

// ---------------------------------------------------------------------------
// Numbers and text

/** Formats milliseconds for people: 3 significant digits. */
function formatMs(value: number): string {
  if (value === 0) return "0";
  if (value >= 100) return value.toFixed(0);
  return value.toPrecision(3);
}

/** A short duration label for a chart's axis: "5µs", "20ms", "2s". */
function durationLabel(milliseconds: number): string {
  if (milliseconds === 0) return "0";
  if (milliseconds < 1) return `${+(milliseconds * 1000).toPrecision(3)}µs`;
  if (milliseconds < 1000) return `${+milliseconds.toPrecision(3)}ms`;
  return `${+(milliseconds / 1000).toPrecision(3)}s`;
}

/** A count in at most five characters ("12.5k"), for labels in a chart. */
function shortCount(count: number): string {
  if (count < 10_000) return String(count);
  if (count < 999_500) return `${+(count / 1000).toPrecision(3)}k`;
  return `${+(count / 1_000_000).toPrecision(3)}M`;
}

/** A count on an axis up to `max`: every label in the same unit. */
function axisCount(count: number, max: number): string {
  if (count === 0) return "0";
  if (max >= 10_000_000) return `${+(count / 1_000_000).toPrecision(3)}M`;
  if (max >= 10_000) return `${+(count / 1000).toPrecision(3)}k`;
  return String(count);
}

function plural(count: number, one: string, many: string): string {
  return `${count} ${count === 1 ? one : many}`;
}

const HTML_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * `value` as text that is safe anywhere in the page: in an element and in a
 * quoted attribute alike. A recording is read from a file, so every field of
 * a record goes through here, whatever its type.
 */
function escapeHtml(value: unknown): string {
  return String(value).replace(
    /[&<>"']/g,
    (character) => HTML_ESCAPES[character]!,
  );
}

/** The smallest of 1, 2 and 5 times a power of ten that is at least `min`. */
function niceStep(min: number): number {
  const power = 10 ** Math.floor(Math.log10(min));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= min * (1 - 1e-9)) return step * power;
  }
  return 10 * power;
}

/** How many decimals print `value` exactly, up to six. */
function decimalsOf(value: number): number {
  for (let decimals = 0; decimals < 6; decimals++) {
    const scaled = value * 10 ** decimals;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6) return decimals;
  }
  return 6;
}

// ---------------------------------------------------------------------------
// Rows and the text table

function rowOf(durations: TypeDurations): ReportRow {
  const sorted = durations.sortedMs;
  return {
    type: durations.type,
    kind: durations.kind,
    count: durations.count,
    errors: durations.errors,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1]!,
  };
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
  // A loop, not Math.max(...column): a spread of one argument per row
  // overflows the stack for a long enough table.
  const widths = header.map((title) => title.length);
  for (const cells of body) {
    cells.forEach((cell, column) => {
      widths[column] = Math.max(widths[column]!, cell.length);
    });
  }
  const line = (cells: string[]) =>
    cells.map((cell, column) =>
      column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)
    ).join("  ").trimEnd();
  return [line(header), ...body.map(line)].join("\n");
}

// ---------------------------------------------------------------------------
// Charts

/** A chart's size and the margins around its plot, in SVG pixels. */
interface Plot {
  readonly width: number;
  readonly height: number;
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

function innerWidth(plot: Plot): number {
  return plot.width - plot.left - plot.right;
}

function innerHeight(plot: Plot): number {
  return plot.height - plot.top - plot.bottom;
}

/** The top of a count axis and its step: a round number at or above `top`. */
function countScale(top: number): { max: number; step: number } {
  const step = Math.max(1, niceStep(Math.max(1, top) / 5));
  return { max: Math.max(step, Math.ceil(top / step) * step), step };
}

/** The y-axis: gridlines and labelled counts from 0 to `max`. */
function countAxis(plot: Plot, max: number, step: number): string {
  const parts: string[] = [];
  for (let value = 0; value <= max; value += step) {
    const y = plot.height - plot.bottom - (value / max) * innerHeight(plot);
    parts.push(
      `<line x1="${plot.left}" x2="${plot.width - plot.right}" y1="${
        y.toFixed(1)
      }" y2="${y.toFixed(1)}" class="grid"/><text x="${plot.left - 6}" y="${
        (y + 4).toFixed(1)
      }" class="y">${axisCount(value, max)}</text>`,
    );
  }
  return parts.join("");
}

/**
 * A bar of `count` dispatches, `failed` of them drawn red at its foot. A bar
 * of a few dispatches among many is drawn at least 2 pixels tall so it shows.
 */
function bar(
  plot: Plot,
  x: number,
  width: number,
  count: number,
  failed: number,
  max: number,
  title: string,
): { svg: string; top: number } {
  const floor = plot.height - plot.bottom;
  const height = (value: number) =>
    value === 0 ? 0 : Math.max(2, (value / max) * innerHeight(plot));
  const all = height(count);
  const red = Math.min(all, height(failed));
  const svg =
    (count === 0
      ? ""
      : `<rect x="${x.toFixed(1)}" y="${(floor - all).toFixed(1)}" width="${
        width.toFixed(1)
      }" height="${all.toFixed(1)}" class="bar"><title>${
        escapeHtml(title)
      }</title></rect>`) +
    (red === 0
      ? ""
      : `<rect x="${x.toFixed(1)}" y="${(floor - red).toFixed(1)}" width="${
        width.toFixed(1)
      }" height="${red.toFixed(1)}" class="fail"><title>${
        escapeHtml(title)
      }</title></rect>`);
  return { svg, top: floor - all };
}

function svgOf(plot: Plot, label: string, body: string): string {
  return `<svg viewBox="0 0 ${plot.width} ${plot.height}" width="${plot.width}" height="${plot.height}" role="img" aria-label="${
    escapeHtml(label)
  }">${body}<line x1="${plot.left}" x2="${plot.width - plot.right}" y1="${
    plot.height - plot.bottom
  }" y2="${plot.height - plot.bottom}" class="axis"/></svg>`;
}

// Latency buckets: 1, 2 and 5 times each power of ten from 1 µs to 50 s, so
// that each decade gets the same width (a log scale) and every edge is a
// round number. Bucket `i` holds durations in (BOUNDS_MS[i - 1], BOUNDS_MS[i]];
// bucket 0 starts at 0 and the last one, past 50 s, has no upper edge.
const BOUNDS_MS: readonly number[] = (() => {
  const bounds: number[] = [];
  for (let exponent = -3; exponent <= 4; exponent++) {
    for (const step of [1, 2, 5]) {
      bounds.push(+(step * 10 ** exponent).toPrecision(1));
    }
  }
  return bounds;
})();
const LAST_BUCKET = BOUNDS_MS.length;

function bucketOf(durationMs: number): number {
  let low = 0;
  let high = LAST_BUCKET;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (durationMs <= BOUNDS_MS[middle]!) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** The lower edge of bucket `index`, in milliseconds. */
function lowerEdge(index: number): number {
  return index === 0 ? 0 : BOUNDS_MS[index - 1]!;
}

/** The range of buckets every histogram shows, first and last included. */
interface Buckets {
  readonly first: number;
  readonly last: number;
}

/**
 * The buckets from the fastest dispatch of any type to the slowest, widened
 * to at least six so that a narrow spread is not drawn as one wide block.
 */
function sharedBuckets(types: readonly TypeDurations[]): Buckets {
  let fastest = Number.POSITIVE_INFINITY;
  let slowest = Number.NEGATIVE_INFINITY;
  for (const { sortedMs } of types) {
    fastest = Math.min(fastest, sortedMs[0]!);
    slowest = Math.max(slowest, sortedMs[sortedMs.length - 1]!);
  }
  let first = bucketOf(fastest);
  let last = bucketOf(slowest);
  while (last - first + 1 < 6 && (first > 0 || last < LAST_BUCKET)) {
    if (first > 0) first--;
    if (last - first + 1 < 6 && last < LAST_BUCKET) last++;
  }
  return { first, last };
}

function bucketRangeLabel(index: number): string {
  return index === LAST_BUCKET
    ? `over ${durationLabel(BOUNDS_MS[LAST_BUCKET - 1]!)}`
    : index === 0
    ? `up to ${durationLabel(BOUNDS_MS[0]!)}`
    : `${durationLabel(lowerEdge(index))} to ${
      durationLabel(BOUNDS_MS[index]!)
    }`;
}

/** Counts of a sorted list per bucket, in one pass. */
function countPerBucket(sortedMs: Float64Array, buckets: Buckets): number[] {
  const counts = new Array<number>(buckets.last - buckets.first + 1).fill(0);
  let index = buckets.first;
  for (const value of sortedMs) {
    while (index < buckets.last && value > BOUNDS_MS[index]!) index++;
    counts[index - buckets.first]!++;
  }
  return counts;
}

const HISTOGRAM: Plot = {
  width: 560,
  height: 200,
  left: 48,
  right: 22,
  top: 20,
  bottom: 26,
};

// An 11px label of this many characters is about this wide.
const CHARACTER_WIDTH = 6.6;

function histogramSvg(durations: TypeDurations, buckets: Buckets): string {
  const plot = HISTOGRAM;
  const counts = countPerBucket(durations.sortedMs, buckets);
  const failed = countPerBucket(
    Float64Array.from(durations.failedMs).sort(),
    buckets,
  );
  let top = 0;
  for (const count of counts) top = Math.max(top, count);
  const { max, step } = countScale(top);
  const barWidth = innerWidth(plot) / counts.length;
  const floor = plot.height - plot.bottom;
  const parts = [countAxis(plot, max, step)];
  counts.forEach((count, offset) => {
    const index = buckets.first + offset;
    const x = plot.left + offset * barWidth;
    const drawn = bar(
      plot,
      x + 1,
      barWidth - 2,
      count,
      failed[offset]!,
      max,
      `${bucketRangeLabel(index)}: ${plural(count, "dispatch", "dispatches")}${
        failed[offset]! > 0 ? `, ${failed[offset]} failed` : ""
      }`,
    );
    parts.push(drawn.svg);
    const label = shortCount(count);
    // A count wider than its bar would run into its neighbour's: the y-axis
    // and the tooltip still give it.
    if (count > 0 && label.length * CHARACTER_WIDTH <= barWidth + 2) {
      parts.push(
        `<text x="${(x + barWidth / 2).toFixed(1)}" y="${
          (drawn.top - 4).toFixed(1)
        }" class="count">${label}</text>`,
      );
    }
  });
  // Every edge gets a tick mark; labels go where they do not touch another:
  // the powers of ten first, so that every chart reads on the same scale,
  // then the two ends of the range; the other edges only when all fit, as
  // a few of them would make an uneven scale.
  // "500µs", the widest label, and a gap that keeps labels apart.
  const everyEdge = barWidth >= 5 * CHARACTER_WIDTH + 12;
  const edges: { edge: number; rank: number }[] = [];
  for (let edge = buckets.first; edge <= buckets.last + 1; edge++) {
    if (edge > LAST_BUCKET) continue;
    const x = (plot.left + (edge - buckets.first) * barWidth).toFixed(1);
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${floor}" y2="${
        floor + 4
      }" class="axis"/>`,
    );
    const end = edge === buckets.first || edge === buckets.last + 1;
    const decade = edge === 0 || (edge - 1) % 3 === 0;
    if (decade || end || everyEdge) {
      edges.push({ edge, rank: decade ? 0 : end ? 1 : 2 });
    }
  }
  const placed: { from: number; to: number }[] = [];
  const labels: string[] = [];
  for (const { edge } of edges.slice().sort((a, b) => a.rank - b.rank)) {
    const x = plot.left + (edge - buckets.first) * barWidth;
    const label = durationLabel(lowerEdge(edge));
    const half = (label.length * CHARACTER_WIDTH) / 2 + 3;
    if (placed.some((other) => x + half > other.from && x - half < other.to)) {
      continue;
    }
    placed.push({ from: x - half, to: x + half });
    labels.push(
      `<text x="${x.toFixed(1)}" y="${floor + 16}" class="x">${
        escapeHtml(label)
      }</text>`,
    );
  }
  parts.push(...labels);
  return svgOf(
    plot,
    `Latency distribution of ${durations.type}`,
    parts.join(""),
  );
}

// Steps for a time axis, in microseconds: 1, 2 and 5 times a power of ten up
// to 10 s, then the steps of a clock (15 s, 30 s, minutes, hours, days).
const TIME_STEPS_US: readonly number[] = (() => {
  const steps: number[] = [];
  for (let exponent = 0; exponent <= 6; exponent++) {
    for (const step of [1, 2, 5]) steps.push(step * 10 ** exponent);
  }
  const second = 1e6;
  for (
    const seconds of [
      10,
      15,
      30,
      60,
      120,
      300,
      600,
      900,
      1800,
      3600,
      7200,
      10800,
      21600,
      43200,
      86400,
    ]
  ) steps.push(seconds * second);
  return steps;
})();

function timeStep(minUs: number): number {
  for (const step of TIME_STEPS_US) if (step >= minUs) return step;
  const day = TIME_STEPS_US[TIME_STEPS_US.length - 1]!;
  return day * niceStep(minUs / day);
}

const TIME_UNITS: readonly { readonly us: number; readonly name: string }[] = [
  { us: 1, name: "µs" },
  { us: 1e3, name: "ms" },
  { us: 1e6, name: "s" },
  { us: 6e7, name: "min" },
  { us: 3.6e9, name: "h" },
  { us: 8.64e10, name: "d" },
];

/**
 * The unit for offsets along `spanUs`: the largest that the span reaches,
 * minutes and longer only from three of them, so "+90 s" is not "+1.5 min".
 */
function timeUnit(
  spanUs: number,
): { readonly us: number; readonly name: string } {
  let unit = TIME_UNITS[0]!;
  for (const candidate of TIME_UNITS) {
    const enough = candidate.us >= 6e7 ? 3 * candidate.us : candidate.us;
    if (spanUs >= enough) unit = candidate;
  }
  return unit;
}

/** Epoch microseconds as ISO 8601 with microseconds, like a record's `ts`. */
function isoMicros(epochUs: number): string {
  const ms = Math.floor(epochUs / 1000);
  const micros = Math.floor(epochUs - ms * 1000);
  return `${new Date(ms).toISOString().slice(0, -1)}${
    String(micros).padStart(3, "0")
  }Z`;
}

const TIMELINE: Plot = {
  width: 1000,
  height: 230,
  left: 48,
  right: 24,
  top: 20,
  bottom: 48,
};

/** `value` in at most four significant digits, without an exponent. */
function fourDigits(value: number): string {
  return value >= 1000 ? value.toFixed(0) : String(+value.toPrecision(4));
}

/** The timeline's chart and the width of its bars, for the text beside it. */
function timelineSvg(
  collected: CollectedRecording,
): { svg: string; binUs: number } {
  const plot = TIMELINE;
  const { startsUs, startFailed } = collected;
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const us of startsUs) {
    if (us < start) start = us;
    if (us > end) end = us;
  }
  const spanUs = end - start;
  // The bars cover the first start to the last exactly (the last start takes
  // its microsecond), in bars of no round width: a round width would leave the
  // last bar partly past the recording, where it reads as a drop in traffic.
  const rangeUs = spanUs + 1;
  const bins = Math.max(1, Math.min(100, Math.ceil(rangeUs)));
  const binUs = rangeUs / bins;
  const all = new Float64Array(bins);
  const failed = new Float64Array(bins);
  for (let index = 0; index < startsUs.length; index++) {
    const bin = Math.min(
      bins - 1,
      Math.floor((startsUs[index]! - start) / binUs),
    );
    all[bin]!++;
    if (startFailed[index] === 1) failed[bin]!++;
  }
  let top = 0;
  for (const count of all) top = Math.max(top, count);
  const { max, step } = countScale(top);
  const unit = timeUnit(spanUs);
  const barWidth = innerWidth(plot) / bins;
  const gap = barWidth > 4 ? 1 : 0;
  const tickUs = timeStep(rangeUs / 8);
  const decimals = decimalsOf(tickUs / unit.us);
  const tickLabel = (us: number) =>
    `+${+(us / unit.us).toFixed(decimals)} ${unit.name}`;
  const offset = (us: number) => `+${fourDigits(us / unit.us)} ${unit.name}`;
  // The last start to the microsecond, like the timestamps it comes from.
  const exactOffset = `+${+(spanUs / unit.us).toFixed(
    Math.min(6, Math.round(Math.log10(unit.us))),
  )} ${unit.name}`;
  const parts = [countAxis(plot, max, step)];
  for (let bin = 0; bin < bins; bin++) {
    const from = bin * binUs;
    parts.push(
      bar(
        plot,
        plot.left + bin * barWidth,
        barWidth - gap,
        all[bin]!,
        failed[bin]!,
        max,
        `${offset(from)} to ${offset(from + binUs)}: ${
          plural(all[bin]!, "dispatch", "dispatches")
        }, ${failed[bin]} failed`,
      ).svg,
    );
  }
  const floor = plot.height - plot.bottom;
  const scale = innerWidth(plot) / rangeUs;
  for (let tick = 0; tick <= rangeUs; tick += tickUs) {
    const x = plot.left + tick * scale;
    // A last tick whose label would cross the chart's right edge is left out.
    if (x + (tickLabel(tick).length * CHARACTER_WIDTH) / 2 > plot.width) break;
    parts.push(
      `<line x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${floor}" y2="${
        floor + 4
      }" class="axis"/><text x="${x.toFixed(1)}" y="${floor + 16}" class="x">${
        tickLabel(tick)
      }</text>`,
    );
  }
  parts.push(
    `<text x="${plot.left}" y="${floor + 36}" class="edge">first start ${
      isoMicros(start)
    }</text><text x="${plot.width - plot.right}" y="${
      floor + 36
    }" class="edge end">last start ${isoMicros(end)} (${exactOffset})</text>`,
  );
  return { svg: svgOf(plot, "Dispatches over time", parts.join("")), binUs };
}

function durationText(us: number): string {
  for (let index = TIME_UNITS.length - 1; index > 0; index--) {
    const unit = TIME_UNITS[index]!;
    const value = +(us / unit.us).toPrecision(3);
    if (value >= 1) return `${value} ${unit.name}`;
  }
  return `${+us.toPrecision(3)} µs`;
}

// ---------------------------------------------------------------------------
// The page

const NONE = '<p class="none">None.</p>';

/**
 * What the colours mean; red is named even when nothing failed, so that a
 * chart without red is read as "no failures" rather than "not shown".
 */
function legend(failed: number): string {
  return `<p class="legend"><span class="key"></span>dispatches <span class="key fail"></span>failed dispatches, drawn in red at the foot of each bar${
    failed === 0 ? " (none in this recording)" : ""
  }</p>`;
}

// Payloads can be large; the tables show enough of each to recognise it.
const MAX_PAYLOAD_CHARACTERS = 300;

function payloadText(payload: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(payload) ?? "";
  } catch {
    // A payload with no JSON form (a cycle, a BigInt) still shows.
    text = String(payload);
  }
  return text.length > MAX_PAYLOAD_CHARACTERS
    ? `${text.slice(0, MAX_PAYLOAD_CHARACTERS)}…`
    : text;
}

function errorText(error: unknown): string {
  if (typeof error !== "object" || error === null) return String(error);
  const { name, message } = error as { name?: unknown; message?: unknown };
  return `${String(name)}: ${String(message)}`;
}

function recordTable(id: string, records: readonly DispatchRecord[]): string {
  if (records.length === 0) return NONE;
  const rows = records.map((record) =>
    `<tr><td class="ts">${escapeHtml(record.ts)}</td><td>${
      escapeHtml(record.kind)
    }</td><td>${escapeHtml(record.type)}</td><td class="n">${
      formatMs(record.durationMs)
    }</td><td>${
      record.error === null || record.error === undefined
        ? ""
        : escapeHtml(errorText(record.error))
    }</td><td class="payload"><code>${
      escapeHtml(payloadText(record.payload))
    }</code></td></tr>`
  ).join("\n");
  return `<table id="${id}">
<tr><th>ts</th><th>kind</th><th>type</th><th>ms</th><th>error</th><th>payload</th></tr>
${rows}
</table>`;
}

function summaryTable(rows: readonly ReportRow[]): string {
  if (rows.length === 0) return NONE;
  const body = rows.map((row) =>
    `<tr><td>${escapeHtml(row.type)}</td><td>${
      escapeHtml(row.kind)
    }</td><td class="n">${row.count}</td><td class="n">${row.errors}</td><td class="n">${
      formatMs(row.p50Ms)
    }</td><td class="n">${formatMs(row.p95Ms)}</td><td class="n">${
      formatMs(row.p99Ms)
    }</td><td class="n">${formatMs(row.maxMs)}</td></tr>`
  ).join("\n");
  return `<table id="summary">
<tr><th>type</th><th>kind</th><th>count</th><th>errors</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>max ms</th></tr>
${body}
</table>`;
}

function histogramsSection(
  collected: CollectedRecording,
  rows: readonly ReportRow[],
): string {
  if (collected.types.length === 0) return NONE;
  const buckets = sharedBuckets(collected.types);
  const figures = collected.types.map((durations, index) => {
    const row = rows[index]!;
    return `<figure><figcaption>${escapeHtml(row.type)} <span class="muted">(${
      escapeHtml(row.kind)
    }, ${plural(row.count, "dispatch", "dispatches")}, p95 ${
      formatMs(row.p95Ms)
    } ms)</span></figcaption>${histogramSvg(durations, buckets)}</figure>`;
  }).join("\n");
  const upper = buckets.last === LAST_BUCKET
    ? `over ${durationLabel(BOUNDS_MS[LAST_BUCKET - 1]!)}`
    : durationLabel(BOUNDS_MS[buckets.last]!);
  return `<p class="muted">Every chart has the same buckets, from ${
    durationLabel(lowerEdge(buckets.first))
  } to ${upper} (three per decade: a log scale), so a bar in the same place means the same latency. Bar height: dispatches in the bucket; each chart has its own count scale.</p>
${legend(collected.failed)}
${figures}`;
}

function timelineSection(collected: CollectedRecording): string {
  if (collected.startsUs.length === 0) {
    return collected.total === 0
      ? NONE
      : '<p class="none">None: no record has a readable timestamp.</p>';
  }
  const { svg, binUs } = timelineSvg(collected);
  const unreadable = collected.unreadableTimes > 0
    ? ` ${
      plural(collected.unreadableTimes, "record", "records")
    } without a readable timestamp are left out.`
    : "";
  return `<p class="muted">Dispatches by start time, in bars of ${
    durationText(binUs)
  }; offsets from the first start.${unreadable}</p>
${legend(collected.failed)}
${svg}`;
}

const STYLE =
  `body { font: 14px/1.45 system-ui, sans-serif; margin: 32px; color: #1d2433; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin: 32px 0 8px; }
p { margin: 6px 0; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #dde2ea; text-align: left; vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.payload { min-width: 280px; }
td.ts { white-space: nowrap; font-variant-numeric: tabular-nums; }
code { font-size: 12px; overflow-wrap: anywhere; }
.muted { color: #5b6375; font-weight: normal; }
.none { color: #5b6375; font-style: italic; }
.legend { font-size: 13px; color: #3a4252; }
.key { display: inline-block; width: 12px; height: 12px; margin: 0 5px 0 0; vertical-align: -1px; background: #4f7cc4; }
.key.fail { margin-left: 14px; background: #d04a4a; }
figure { display: inline-block; margin: 8px 24px 16px 0; vertical-align: top; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg text { font-size: 11px; fill: #4a5263; }
svg .bar { fill: #4f7cc4; } svg .fail { fill: #d04a4a; }
svg .grid { stroke: #e7eaf0; } svg .axis { stroke: #8a93a5; }
svg .x, svg .count { text-anchor: middle; } svg .y { text-anchor: end; }
svg .count { fill: #1d2433; } svg .edge.end { text-anchor: end; }`;

function renderCollected(
  collected: CollectedRecording,
  title: string,
): Report {
  const rows = collected.types.map(rowOf);
  const table = tableOf(rows);
  const shownFailures = collected.failures.length;
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
${STYLE}
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p class="muted">${collected.total} dispatches, ${collected.failed} failed, ${rows.length} message types.</p>
<section id="types">
<h2>Per message type</h2>
${summaryTable(rows)}
</section>
<section id="latency">
<h2>Latency distribution per type</h2>
${histogramsSection(collected, rows)}
</section>
<section id="timeline">
<h2>Dispatches over time</h2>
${timelineSection(collected)}
</section>
<section id="slowest-dispatches">
<h2>Slowest dispatches</h2>
${recordTable("slowest", collected.slowest)}
</section>
<section id="failed-dispatches">
<h2>Failed dispatches <span class="muted">(${collected.failed}${
    collected.failed > shownFailures ? `, first ${shownFailures} shown` : ""
  })</span></h2>
${recordTable("failed", collected.failures)}
</section>
</body>
</html>
`;
  return { rows, table, html };
}

/**
 * Throws a TypeError unless `record` has what the report reads: a string
 * `kind` and `type`, and a number `durationMs`.
 */
function checkRecord(record: unknown, index: number): DispatchRecord {
  const given = record as Partial<DispatchRecord> | null;
  if (
    typeof given !== "object" || given === null ||
    typeof given.kind !== "string" || typeof given.type !== "string" ||
    typeof given.durationMs !== "number"
  ) {
    throw new TypeError(
      `Cannot render report as record ${index} must be a dispatch record, with a string 'kind' and 'type' and a number 'durationMs': current value is ${
        shown(record)
      }`,
    );
  }
  return given as DispatchRecord;
}

function collectorFor(options: ReportOptions) {
  return createReportCollector({
    slowest: integerOption(
      "render report",
      "slowest",
      options.slowest ?? 10,
      0,
    ),
    failed: integerOption("render report", "failed", options.failed ?? 50, 0),
  });
}

/**
 * Renders a report of `records`: the rows per message type, a text table and
 * a self-contained HTML page.
 *
 * The records are read once, one at a time: an iterable that makes them as
 * it goes (like a generator) need not hold the recording in memory. What is
 * kept is 8 bytes of duration and 8 of start time per record, plus the
 * slowest and the first failed records themselves.
 *
 * @param records The recording, for example from {@linkcode readRecording}.
 * @param options The title and how many slow and failed dispatches to list.
 * @returns The rows, the table and the HTML.
 * @throws {TypeError} When `records` is not iterable, `options` is not an
 * object, or a record lacks a string `kind` and `type` or a number
 * `durationMs` (the error names its index).
 * @throws {RangeError} When `slowest` or `failed` is not an integer of at
 * least 0.
 *
 * @example A table and a page from three records
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
 *
 * @example Records from a generator, never all in memory at once
 * ```ts
 * import { type DispatchRecord } from "@monolith/message-bus/observability";
 * import { renderReport } from "@monolith/message-bus/report";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * function* recording(): Generator<DispatchRecord> {
 *   for (let i = 0; i < 200_000; i++) {
 *     yield {
 *       ts: "2026-02-12T14:30:45.123456Z",
 *       kind: "event",
 *       type: "Ticked",
 *       payload: i,
 *       durationMs: i % 100,
 *       result: null,
 *       error: null,
 *     };
 *   }
 * }
 * const { rows } = renderReport(recording());
 * deepStrictEqual([rows[0]?.count, rows[0]?.maxMs], [200_000, 99]);
 * ```
 */
export function renderReport(
  records: Iterable<DispatchRecord>,
  options?: ReportOptions,
): Report {
  const given: ReportOptions = optionsObject("render report", options);
  if (
    typeof (records as Partial<Iterable<DispatchRecord>> | null)
      ?.[Symbol.iterator] !== "function"
  ) {
    throw new TypeError(
      `Cannot render report as 'records' must be an iterable of dispatch records: current value is ${
        shown(records)
      }`,
    );
  }
  const collector = collectorFor(given);
  let index = 0;
  for (const record of records) collector.add(checkRecord(record, index++));
  return renderCollected(
    collector.finish(),
    given.title ?? "Message bus report",
  );
}

/**
 * Reads a recording (a run file, or the newest run in a directory), prints
 * its table and writes its HTML report beside it. The file is read one record
 * at a time; only durations, start times and a bounded number of records are
 * kept.
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
  const collector = collectorFor({});
  let index = 0;
  for await (const record of readRecording(path)) {
    collector.add(checkRecord(record, index++));
  }
  const collected = collector.finish();
  const report = renderCollected(
    collected,
    `Message bus report: ${path}`,
  );
  const htmlPath = path.replace(/\.jsonl$/, "") + ".html";
  await Deno.writeTextFile(htmlPath, report.html);
  console.log(
    `${path}: ${collected.total} dispatches, ${collected.failed} failed\n`,
  );
  console.log(report.table);
  console.log(`\nReport: ${htmlPath}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args[0]));
