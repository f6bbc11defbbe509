/**
 * A report of a recording: a table per message type (count, errors,
 * p50/p95/p99) and a self-contained HTML page with SVG charts (the module
 * interaction map, latency distribution per type, dispatches over time) and
 * the slowest and failed dispatches. No external scripts, fonts or styles.
 * {@linkcode interactionMap} gives the map as data.
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
import { createInteractionCollector } from "./_interaction_map.ts";
import {
  type Box,
  type EdgeLayout,
  layoutInteractionMap,
  LINE_PX,
  type MapLayout,
  NAME_LINE_PX,
  type NodeLayout,
  type Point,
  type TextLine,
} from "./_interaction_map_layout.ts";
import {
  type CollectedRecording,
  createReportCollector,
  formatMs,
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
 * A module of the interaction map: the part of a message name before its
 * first dot (a name without a dot is its own module).
 */
export interface InteractionModule {
  /** The module's name. */
  readonly name: string;
  /** Dispatches of the module's own messages. */
  readonly handled: number;
  /** Those of them that failed. */
  readonly errors: number;
}

/**
 * An edge of the interaction map: the dispatches of one message type from
 * one module's handlers.
 */
export interface InteractionEdge {
  /** The module whose handler dispatched. */
  readonly from: string;
  /** The module that owns the message. */
  readonly to: string;
  /** The message name. */
  readonly type: string;
  /** The message kind. */
  readonly kind: MessageKind;
  /** Dispatches. */
  readonly count: number;
  /** Median duration, in milliseconds. */
  readonly p50Ms: number;
  /** 95th percentile duration, in milliseconds. */
  readonly p95Ms: number;
  /** Dispatches that failed. */
  readonly errors: number;
  /**
   * `true` when the cause was an event and no `origin` named the
   * subscriber's module: `from` is then the event's module, not the
   * subscriber's.
   */
  readonly fromEvent: boolean;
}

/**
 * Dispatches of one message type that no recorded handler made: outermost
 * dispatches (entries from outside), or those whose cause is not in the
 * recording.
 */
export interface InteractionEntry {
  /** The module that owns the message. */
  readonly to: string;
  /** The message name. */
  readonly type: string;
  /** The message kind. */
  readonly kind: MessageKind;
  /** Dispatches. */
  readonly count: number;
  /** Median duration, in milliseconds. */
  readonly p50Ms: number;
  /** 95th percentile duration, in milliseconds. */
  readonly p95Ms: number;
  /** Dispatches that failed. */
  readonly errors: number;
}

/**
 * Which module dispatches what to which; see {@linkcode interactionMap}.
 */
export interface InteractionMap {
  /** Every module that handled or dispatched something, by name. */
  readonly modules: readonly InteractionModule[];
  /** One per dispatching module, message type and `fromEvent`; by `from`, `to`, `type`. */
  readonly edges: readonly InteractionEdge[];
  /** Outermost dispatches (an `id` and no `causationId`), per type. */
  readonly entries: readonly InteractionEntry[];
  /**
   * Dispatches whose `causationId` names no record of the recording (an
   * "errors" recording, a run file that starts mid-run), per type.
   */
  readonly unresolved: readonly InteractionEntry[];
  /**
   * Records with no identity (no `id`, `causationId` or `origin`), as in a
   * recording without dispatch ids: counted in their module only.
   */
  readonly untracked: number;
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
  /** The module interaction map the page draws at its top. */
  readonly map: InteractionMap;
}

// ---------------------------------------------------------------------------
// Numbers and text

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
// The module interaction map

const KINDS: readonly string[] = ["query", "command", "event", "task"];

/** A class name for `kind`: a recording may hold any string there. */
function kindClass(kind: unknown): string {
  return KINDS.includes(kind as string) ? `k-${kind}` : "k-other";
}

/** A coordinate to a tenth of a pixel. */
function px(value: number): string {
  return String(+value.toFixed(1));
}

function pathOf(curve: readonly Point[]): string {
  const [start, ...rest] = curve;
  return `M${px(start!.x)} ${px(start!.y)} ${rest.length === 2 ? "Q" : "C"}${
    rest.map((point) => `${px(point.x)} ${px(point.y)}`).join(" ")
  }`;
}

/** The text lines of a block, centred in `box` from `padding` down. */
function linesSvg(
  box: Box,
  lines: readonly TextLine[],
  paddingY: number,
): string {
  const x = px(box.x + box.width / 2);
  let top = box.y + paddingY;
  return lines.map((line) => {
    const height = line.tone === "name" ? NAME_LINE_PX : LINE_PX;
    top += height;
    return `<text x="${x}" y="${px(top - 3)}" class="${line.tone}">${
      escapeHtml(line.text)
    }</text>`;
  }).join("");
}

function edgeTitle(edge: EdgeLayout["edge"]): string {
  return `${edge.from} → ${edge.to}: ${edge.type} (${edge.kind}${
    edge.fromEvent
      ? `, dispatched on an event of ${edge.from} by a subscriber whose module is not recorded`
      : ""
  }), ${
    plural(edge.count, "dispatch", "dispatches")
  }, ${edge.errors} failed, p50 ${formatMs(edge.p50Ms)} ms, p95 ${
    formatMs(edge.p95Ms)
  } ms`;
}

function nodeTitle(node: NodeLayout, handled: string): string {
  return `${node.name}: ${handled}${
    node.entries > 0 ? `, ${node.entries} from outside` : ""
  }${
    node.unresolved > 0
      ? `, ${node.unresolved} whose cause is not in the recording`
      : ""
  }`;
}

/** The point of `box` nearest to `point`, where a leader line meets it. */
function nearest(box: Box, point: Point): Point {
  return {
    x: Math.min(box.x + box.width, Math.max(box.x, point.x)),
    y: Math.min(box.y + box.height, Math.max(box.y, point.y)),
  };
}

function mapSvg(layout: MapLayout, map: InteractionMap): string {
  const parts: string[] = [];
  for (const laid of layout.edges) {
    const { edge } = laid;
    parts.push(
      `<g class="link ${kindClass(edge.kind)}${
        edge.fromEvent ? " from-event" : ""
      }"><title>${escapeHtml(edgeTitle(edge))}</title><path d="${
        pathOf(laid.curve)
      }" stroke-width="${laid.strokeWidth}"/><polygon points="${
        laid.arrow.map((point) => `${px(point.x)},${px(point.y)}`).join(" ")
      }"/></g>`,
    );
  }
  // Leaders under the modules' boxes: one that crosses a box hides there.
  for (const laid of layout.edges) {
    if (laid.leader === undefined) continue;
    const end = nearest(laid.label, laid.leader);
    parts.push(
      `<g class="leader ${kindClass(laid.edge.kind)}"><path d="M${
        px(laid.leader.x)
      } ${px(laid.leader.y)} L${px(end.x)} ${px(end.y)}"/><circle cx="${
        px(laid.leader.x)
      }" cy="${px(laid.leader.y)}" r="2.5"/></g>`,
    );
  }
  layout.nodes.forEach((node, index) => {
    const module = map.modules[index]!;
    parts.push(
      `<g class="node"><title>${
        escapeHtml(nodeTitle(
          node,
          `${
            plural(module.handled, "dispatch", "dispatches")
          } of its messages, ${module.errors} failed`,
        ))
      }</title><rect x="${px(node.box.x)}" y="${px(node.box.y)}" width="${
        px(node.box.width)
      }" height="${px(node.box.height)}" rx="6"/>${
        linesSvg(node.box, node.lines, 5)
      }</g>`,
    );
  });
  for (const laid of layout.edges) {
    const { edge, label } = laid;
    parts.push(
      `<g class="label ${kindClass(edge.kind)}${
        edge.fromEvent ? " from-event" : ""
      }"><title>${escapeHtml(edgeTitle(edge))}</title><rect x="${
        px(label.x)
      }" y="${px(label.y)}" width="${px(label.width)}" height="${
        px(label.height)
      }" rx="3"/>${linesSvg(label, laid.lines, 3)}</g>`,
    );
  }
  return `<svg class="map" viewBox="0 0 ${layout.width} ${layout.height}" width="${layout.width}" height="${layout.height}" role="img" aria-label="Module interaction map">${
    parts.join("")
  }</svg>`;
}

function entryTable(id: string, entries: readonly InteractionEntry[]): string {
  const rows = entries.map((entry) =>
    `<tr><td>${escapeHtml(entry.to)}</td><td>${
      escapeHtml(entry.type)
    }</td><td>${
      escapeHtml(entry.kind)
    }</td><td class="n">${entry.count}</td><td class="n">${entry.errors}</td><td class="n">${
      formatMs(entry.p50Ms)
    }</td><td class="n">${formatMs(entry.p95Ms)}</td></tr>`
  ).join("\n");
  return `<table id="${id}">
<tr><th>module</th><th>type</th><th>kind</th><th>count</th><th>errors</th><th>p50 ms</th><th>p95 ms</th></tr>
${rows}
</table>`;
}

function edgeTable(edges: readonly InteractionEdge[]): string {
  const rows = edges.map((edge) =>
    `<tr><td>${escapeHtml(edge.from)}${
      edge.fromEvent ? ' <span class="muted">(its event)</span>' : ""
    }</td><td>${escapeHtml(edge.to)}</td><td>${escapeHtml(edge.type)}</td><td>${
      escapeHtml(edge.kind)
    }</td><td class="n">${edge.count}</td><td class="n">${edge.errors}</td><td class="n">${
      formatMs(edge.p50Ms)
    }</td><td class="n">${formatMs(edge.p95Ms)}</td></tr>`
  ).join("\n");
  return `<table id="interaction-edges">
<tr><th>from</th><th>to</th><th>type</th><th>kind</th><th>count</th><th>errors</th><th>p50 ms</th><th>p95 ms</th></tr>
${rows}
</table>`;
}

function totalOf(entries: readonly InteractionEntry[]): number {
  let total = 0;
  for (const entry of entries) total += entry.count;
  return total;
}

const MAP_LEGEND = `<ul class="legend">
<li>An arrow goes from the module whose handler dispatched to the module that owns the message, one per message type. Its label: the message, dispatches and p95, failures. Thicker: more dispatches.</li>
<li>Colour is the kind: <span class="line k-query"></span>query <span class="line k-command"></span>command <span class="line k-event"></span>event <span class="line k-task"></span>task. <span class="line dashed"></span>Dashed: dispatched on an event by a subscriber that named no module, so drawn from the event's module.</li>
<li>A loop is a module dispatching its own message. A dotted line joins a label to its arrow when it did not fit beside it.</li>
<li>In a module's box: <span class="entry">→ from outside</span>, its outermost dispatches (they have no cause); <span class="muted">? cause unknown</span>, dispatches whose cause is not in the recording.</li>
</ul>`;

function interactionSection(map: InteractionMap, total: number): string {
  const drawn = map.edges.length + map.entries.length + map.unresolved.length;
  if (drawn === 0) {
    return total === 0
      ? NONE
      : '<p class="none">None: no record carries a dispatch id, so who dispatched what is not known.</p>';
  }
  const fromOutside = totalOf(map.entries);
  const unknown = totalOf(map.unresolved);
  const facts = [
    `${plural(map.modules.length, "module", "modules")}, ${
      plural(map.edges.length, "arrow", "arrows")
    }`,
    `${plural(fromOutside, "dispatch", "dispatches")} from outside`,
  ];
  if (unknown > 0) {
    facts.push(
      `${
        plural(unknown, "dispatch", "dispatches")
      } whose cause is not in the recording (listed below)`,
    );
  }
  if (map.untracked > 0) {
    facts.push(
      `${
        plural(map.untracked, "record", "records")
      } without a dispatch id, counted in their module only`,
    );
  }
  return `<p class="muted">${facts.join("; ")}.</p>
${MAP_LEGEND}
${mapSvg(layoutInteractionMap(map), map)}
<details><summary>Every arrow as a table</summary>
${map.edges.length === 0 ? NONE : edgeTable(map.edges)}
</details>
<h3>From outside <span class="muted">(outermost dispatches)</span></h3>
${map.entries.length === 0 ? NONE : entryTable("entries", map.entries)}${
    map.unresolved.length === 0 ? "" : `
<h3>Cause not in the recording</h3>
${entryTable("unresolved", map.unresolved)}`
  }`;
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
.legend { font-size: 13px; color: #3a4252; } ul.legend { margin: 6px 0 10px; padding-left: 20px; }
.key { display: inline-block; width: 12px; height: 12px; margin: 0 5px 0 0; vertical-align: -1px; background: #4f7cc4; }
.key.fail { margin-left: 14px; background: #d04a4a; }
figure { display: inline-block; margin: 8px 24px 16px 0; vertical-align: top; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg text { font-size: 11px; fill: #4a5263; }
svg .bar { fill: #4f7cc4; } svg .fail { fill: #d04a4a; }
svg .grid { stroke: #e7eaf0; } svg .axis { stroke: #8a93a5; }
svg .x, svg .count { text-anchor: middle; } svg .y { text-anchor: end; }
svg .count { fill: #1d2433; } svg .edge.end { text-anchor: end; }
h3 { font-size: 15px; margin: 18px 0 6px; }
details { margin: 8px 0; } summary { cursor: pointer; color: #3a4252; }
.line { display: inline-block; width: 22px; height: 0; margin: 0 5px 0 8px; vertical-align: 4px; border-top: 3px solid #6b7280; }
.line.dashed { border-top-style: dashed; } .entry { color: #1f7a4d; }
svg.map text { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; text-anchor: middle; fill: #1d2433; }
svg.map .name { font-size: 12px; font-weight: 700; } svg.map .type { font-weight: 600; }
svg.map .error { fill: #c03434; } svg.map .entry { fill: #1f7a4d; } svg.map .muted { fill: #5b6375; }
svg.map .node rect { fill: #f3f6fb; stroke: #5b6375; stroke-width: 1.2; }
svg.map .link path { fill: none; stroke-opacity: 0.85; } svg.map .link.from-event path { stroke-dasharray: 7 4; }
svg.map .label rect { fill: #ffffff; fill-opacity: 0.93; stroke-width: 1; } svg.map .label.from-event rect { stroke-dasharray: 4 2; }
svg.map .leader path { fill: none; stroke-width: 1; stroke-dasharray: 2 2; }
.k-query { --kind: #3b6fc4; } .k-command { --kind: #c8691c; } .k-event { --kind: #8a4fbf; } .k-task { --kind: #2f8f5b; } .k-other { --kind: #6b7280; }
.line.k-query, .line.k-command, .line.k-event, .line.k-task { border-top-color: var(--kind); }
svg.map .link path, svg.map .label rect, svg.map .leader path { stroke: var(--kind); }
svg.map .link polygon, svg.map .leader circle { fill: var(--kind); }`;

function renderCollected(
  collected: CollectedRecording,
  map: InteractionMap,
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
<section id="interactions">
<h2>Module interactions</h2>
${interactionSection(map, collected.total)}
</section>
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
  return { rows, table, html, map };
}

/**
 * Throws a TypeError unless `record` has what the report reads: a string
 * `kind` and `type`, and a number `durationMs`.
 */
function checkRecord(
  record: unknown,
  index: number,
  action = "render report",
): DispatchRecord {
  const given = record as Partial<DispatchRecord> | null;
  if (
    typeof given !== "object" || given === null ||
    typeof given.kind !== "string" || typeof given.type !== "string" ||
    typeof given.durationMs !== "number"
  ) {
    throw new TypeError(
      `Cannot ${action} as record ${index} must be a dispatch record, with a string 'kind' and 'type' and a number 'durationMs': current value is ${
        shown(record)
      }`,
    );
  }
  return given as DispatchRecord;
}

/** Throws a TypeError unless `records` is iterable. */
function checkIterable(records: unknown, action: string): void {
  if (
    typeof (records as Partial<Iterable<DispatchRecord>> | null)
      ?.[Symbol.iterator] !== "function"
  ) {
    throw new TypeError(
      `Cannot ${action} as 'records' must be an iterable of dispatch records: current value is ${
        shown(records)
      }`,
    );
  }
}

/** One pass over the records feeds the tables and charts and the map. */
function collectorFor(options: ReportOptions) {
  const report = createReportCollector({
    slowest: integerOption(
      "render report",
      "slowest",
      options.slowest ?? 10,
      0,
    ),
    failed: integerOption("render report", "failed", options.failed ?? 50, 0),
  });
  const map = createInteractionCollector();
  return {
    add(record: DispatchRecord): void {
      report.add(record);
      map.add(record);
    },
    finish(): { collected: CollectedRecording; map: InteractionMap } {
      return { collected: report.finish(), map: map.finish() };
    },
  };
}

/**
 * The module interaction map of `records`: which module's handlers dispatch
 * which messages to which module, as data. {@linkcode renderReport} draws it
 * at the top of its page.
 *
 * A module is the part of a message name before its first dot (`orders` of
 * `orders.PlaceOrder`); a name without a dot is its own module. Each record
 * is drawn by these rules:
 *
 * - with an `origin`: an edge from that module (a subscriber's `module`, a
 *   session's id), whether or not it has a cause;
 * - else with a `causationId`: an edge from the module of the cause's
 *   message, as a query, command or task handler belongs to the module of
 *   its message. When the cause is an event, that is the event's module,
 *   not the subscriber's, and the edge says so with `fromEvent: true`. When
 *   the cause is not in the recording, the record is counted in
 *   `unresolved`;
 * - else with an `id`: an outermost dispatch, counted in `entries` (from
 *   outside: no module's handler dispatched it);
 * - else (no identity, as in a recording without dispatch ids): counted in
 *   `untracked`.
 *
 * Every record also counts in its own module's `handled` and `errors`. A
 * cause may come after the records it caused (a record is written when its
 * dispatch ends), so edges are resolved once all records are read.
 *
 * The records are read once, one at a time. Per record with an `id` it keeps
 * a 64-bit hash of the id and its type's index (16 to 24 bytes), per record
 * that waits for its cause 21 bytes, per record on an edge or entry its
 * duration (8 bytes): about 50 MB for a million records, in typed arrays
 * outside the JavaScript heap. Two ids hash alike with a chance of about
 * n² / 2⁶⁵; such a clash would draw one dispatch from the wrong module.
 *
 * @param records The recording, for example from {@linkcode readRecording}.
 * @returns The modules by name, the edges by `from`, `to` and `type`, the
 * entries and unresolved dispatches by module and type, and the count of
 * records without identity.
 * @throws {TypeError} When `records` is not iterable, or a record lacks a
 * string `kind` and `type` or a number `durationMs` (the error names its
 * index).
 *
 * @example An outside call, a command it sends, and an event's subscriber
 * ```ts
 * import { type DispatchRecord } from "@monolith/message-bus/observability";
 * import { interactionMap } from "@monolith/message-bus/report";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const record = (
 *   kind: DispatchRecord["kind"],
 *   type: string,
 *   identity: Partial<DispatchRecord>,
 * ): DispatchRecord => ({
 *   ts: "2026-02-12T14:30:45.123456Z",
 *   kind,
 *   type,
 *   payload: null,
 *   durationMs: 2,
 *   result: null,
 *   error: null,
 *   ...identity,
 * });
 * // Written as each dispatch ends: the innermost first.
 * const map = interactionMap([
 *   record("task", "notifications.SendEmail", { id: "3", causationId: "2" }),
 *   record("event", "orders.OrderPlaced", { id: "2", causationId: "1" }),
 *   record("command", "orders.PlaceOrder", { id: "1" }),
 * ]);
 * deepStrictEqual(
 *   map.edges.map((edge) => [edge.from, edge.to, edge.type, edge.fromEvent]),
 *   [
 *     ["orders", "notifications", "notifications.SendEmail", true],
 *     ["orders", "orders", "orders.OrderPlaced", false],
 *   ],
 * );
 * deepStrictEqual(map.entries.map((entry) => entry.type), ["orders.PlaceOrder"]);
 * deepStrictEqual(map.modules.map((module) => module.name), ["notifications", "orders"]);
 * ```
 */
export function interactionMap(
  records: Iterable<DispatchRecord>,
): InteractionMap {
  checkIterable(records, "build interaction map");
  const collector = createInteractionCollector();
  let index = 0;
  for (const record of records) {
    collector.add(checkRecord(record, index++, "build interaction map"));
  }
  return collector.finish();
}

/**
 * Renders a report of `records`: the rows per message type, a text table and
 * a self-contained HTML page.
 *
 * The page opens with the module interaction map ({@linkcode interactionMap})
 * drawn as an SVG diagram, when records carry dispatch ids.
 *
 * The records are read once, one at a time: an iterable that makes them as
 * it goes (like a generator) need not hold the recording in memory. What is
 * kept is 8 bytes of duration and 8 of start time per record, what the map
 * keeps (nothing for records without identity), and the slowest and the
 * first failed records themselves.
 *
 * @param records The recording, for example from {@linkcode readRecording}.
 * @param options The title and how many slow and failed dispatches to list.
 * @returns The rows, the table, the HTML and the map.
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
  checkIterable(records, "render report");
  const collector = collectorFor(given);
  let index = 0;
  for (const record of records) collector.add(checkRecord(record, index++));
  const { collected, map } = collector.finish();
  return renderCollected(
    collected,
    map,
    given.title ?? "Message bus report",
  );
}

/**
 * Reads a recording (a run file, or the newest run in a directory), prints
 * its table and writes its HTML report beside it. The file is read one record
 * at a time; only durations, start times, what the map needs and a bounded
 * number of records are kept.
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
  const { collected, map } = collector.finish();
  const report = renderCollected(
    collected,
    map,
    `Message bus report: ${path}`,
  );
  const htmlPath = path.replace(/\.jsonl$/, "") + ".html";
  await Deno.writeTextFile(htmlPath, report.html);
  console.log(
    `${path}: ${collected.total} dispatches, ${collected.failed} failed\n`,
  );
  console.log(report.table);
  if (map.edges.length + map.entries.length + map.unresolved.length > 0) {
    console.log(
      `\nModules: ${map.modules.length}, arrows between them: ${map.edges.length}, types dispatched from outside: ${map.entries.length}, dispatches whose cause is not in the recording: ${
        map.unresolved.reduce((sum, entry) => sum + entry.count, 0)
      }`,
    );
  }
  console.log(`\nReport: ${htmlPath}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args[0]));
