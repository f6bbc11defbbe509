/**
 * Latency percentiles per message type, with a signal that tells when a
 * module is being slowed by another: the first hint that it should move out
 * of the monolith.
 *
 * @module
 */

import { type Clock, performanceClock } from "../core/clock.ts";
import type { Message, MessageKind } from "../core/messages.ts";
import type { Middleware } from "../core/types.ts";
import { numberOption } from "../core/_options.ts";
import { observing } from "./_observe.ts";
import { percentile } from "./_percentiles.ts";

/**
 * Latency of one message type, over its most recent dispatches.
 */
export interface LatencySummary {
  /** The message name. */
  readonly type: string;
  /** The message kind. */
  readonly kind: MessageKind;
  /** Dispatches timed, all of them (not only the ones kept). */
  readonly count: number;
  /** Median, in milliseconds, over the kept samples. */
  readonly p50Ms: number;
  /** 95th percentile, in milliseconds, over the kept samples. */
  readonly p95Ms: number;
  /** 99th percentile, in milliseconds, over the kept samples. */
  readonly p99Ms: number;
  /** Fastest kept sample, in milliseconds. */
  readonly minMs: number;
  /** Slowest kept sample, in milliseconds. */
  readonly maxMs: number;
}

/**
 * A message type whose p95 grew since the baseline; see
 * {@linkcode LatencyStats.separationSignals}.
 */
export interface SeparationSignal {
  /** The message name. */
  readonly type: string;
  /** Its p95 when the baseline was set, in milliseconds. */
  readonly baselineP95Ms: number;
  /** Its p95 now, in milliseconds. */
  readonly currentP95Ms: number;
  /** `currentP95Ms / baselineP95Ms`. */
  readonly increaseRatio: number;
}

/**
 * Options of {@linkcode createLatencyStats}.
 */
export interface LatencyStatsOptions {
  /**
   * How many of the most recent durations to keep per message type; memory
   * is bounded by this times the number of types.
   *
   * @default {10000}
   */
  readonly maxSamples?: number;
}

/**
 * Options of {@linkcode LatencyStats.separationSignals}.
 */
export interface SeparationOptions {
  /**
   * How many times its baseline p95 a type's p95 must reach to be listed.
   *
   * @default {2}
   */
  readonly thresholdRatio?: number;
}

/**
 * Durations per message type; see {@linkcode createLatencyStats}.
 */
export interface LatencyStats {
  /**
   * Counts one dispatch of `message`'s type and keeps its duration, in
   * milliseconds, when one is given (a sampled-out dispatch is only counted).
   */
  record(message: Pick<Message, "kind" | "type">, durationMs?: number): void;
  /** The summary of one type, or `undefined` when it was never timed. */
  percentiles(type: string): LatencySummary | undefined;
  /** The summaries of every timed type, by name. */
  all(): LatencySummary[];
  /** Remembers every type's current p95 as its baseline. */
  setBaseline(): void;
  /**
   * The types whose p95 reached `thresholdRatio` times their baseline p95,
   * the largest increase first. In a modular monolith such a signal means a
   * module's handler got slower while its own code did not change: it is
   * competing with another module's load (CPU, event loop, a shared pool or
   * database). A type that keeps signalling is a candidate to split out into
   * its own process, where it scales and fails on its own.
   *
   * @throws {RangeError} When `thresholdRatio` is not a positive number.
   */
  separationSignals(options?: SeparationOptions): SeparationSignal[];
  /** Forgets every sample and the baseline. */
  reset(): void;
}

interface Samples {
  readonly kind: MessageKind;
  count: number;
  readonly values: number[];
  next: number;
}

function positive(name: string, value: number, integer: boolean): number {
  return numberOption(
    "use latency stats",
    name,
    value,
    (number) =>
      number > 0 && Number.isFinite(number) &&
      (!integer || Number.isInteger(number)),
    `a positive ${integer ? "integer" : "number"}`,
  );
}

/**
 * Creates an empty store of durations per message type, keeping the most
 * recent `maxSamples` of each.
 *
 * @param options How many samples to keep.
 * @returns The stats.
 * @throws {RangeError} When `maxSamples` is not a positive integer.
 *
 * @example Percentiles and separation signals
 * ```ts
 * import { createLatencyStats } from "@monolith/message-bus/observability";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const stats = createLatencyStats({ maxSamples: 100 });
 * const GetUser = { kind: "query", type: "GetUser" } as const;
 * for (let ms = 1; ms <= 100; ms++) stats.record(GetUser, ms);
 * const summary = stats.percentiles("GetUser");
 * deepStrictEqual([summary?.p50Ms, summary?.p95Ms, summary?.p99Ms], [50, 95, 99]);
 *
 * stats.setBaseline();
 * // Later, under another module's load, the same query takes 300 ms:
 * for (let i = 0; i < 100; i++) stats.record(GetUser, 300);
 * deepStrictEqual(stats.separationSignals(), [
 *   { type: "GetUser", baselineP95Ms: 95, currentP95Ms: 300, increaseRatio: 300 / 95 },
 * ]);
 * ```
 */
export function createLatencyStats(
  options: LatencyStatsOptions = {},
): LatencyStats {
  const maxSamples = positive("maxSamples", options.maxSamples ?? 10_000, true);
  const byType = new Map<string, Samples>();
  let baseline = new Map<string, number>();

  function summary(type: string, samples: Samples): LatencySummary {
    const sorted = Float64Array.from(samples.values).sort();
    return {
      type,
      kind: samples.kind,
      count: samples.count,
      p50Ms: percentile(sorted, 50),
      p95Ms: percentile(sorted, 95),
      p99Ms: percentile(sorted, 99),
      minMs: sorted[0]!,
      maxMs: sorted[sorted.length - 1]!,
    };
  }

  const stats: LatencyStats = {
    record(message, durationMs) {
      let samples = byType.get(message.type);
      if (samples === undefined) {
        samples = { kind: message.kind, count: 0, values: [], next: 0 };
        byType.set(message.type, samples);
      }
      samples.count++;
      if (durationMs === undefined) return;
      if (samples.values.length < maxSamples) {
        samples.values.push(durationMs);
      } else {
        samples.values[samples.next] = durationMs;
        samples.next = (samples.next + 1) % maxSamples;
      }
    },
    percentiles(type) {
      const samples = byType.get(type);
      return samples === undefined ? undefined : summary(type, samples);
    },
    all() {
      return [...byType.keys()].sort().map((type) =>
        summary(type, byType.get(type)!)
      );
    },
    setBaseline() {
      baseline = new Map(stats.all().map((s) => [s.type, s.p95Ms]));
    },
    separationSignals(signalOptions = {}) {
      const thresholdRatio = positive(
        "thresholdRatio",
        signalOptions.thresholdRatio ?? 2,
        false,
      );
      const signals: SeparationSignal[] = [];
      for (const current of stats.all()) {
        const before = baseline.get(current.type);
        if (before === undefined) continue;
        const increaseRatio = before > 0
          ? current.p95Ms / before
          : current.p95Ms > 0
          ? Number.POSITIVE_INFINITY
          : 1;
        if (increaseRatio >= thresholdRatio) {
          signals.push({
            type: current.type,
            baselineP95Ms: before,
            currentP95Ms: current.p95Ms,
            increaseRatio,
          });
        }
      }
      return signals.sort((a, b) => b.increaseRatio - a.increaseRatio);
    },
    reset() {
      byType.clear();
      baseline = new Map();
    },
  };
  return stats;
}

/**
 * What {@linkcode LatencyOptions.onSlow} is told.
 */
export interface SlowDispatch {
  /** The message name. */
  readonly type: string;
  /** The message kind. */
  readonly kind: MessageKind;
  /** How long it took, in milliseconds. */
  readonly durationMs: number;
  /** The threshold it crossed, in milliseconds. */
  readonly thresholdMs: number;
}

/**
 * Options of {@linkcode latency}.
 */
export interface LatencyOptions {
  /**
   * A dispatch that takes longer than this, in milliseconds, is slow.
   *
   * @default {100}
   */
  readonly thresholdMs?: number;
  /**
   * Told about each slow dispatch. By default a warning is printed, at most
   * once per message type per minute.
   */
  readonly onSlow?: (slow: SlowDispatch) => void;
  /**
   * Time only one dispatch in this many (counts stay exact). Reading the clock
   * twice is most of the cost of timing a dispatch; sampling trades detail
   * for speed on hot paths. Only timed dispatches can be reported slow.
   *
   * @default {1}
   */
  readonly sampleEvery?: number;
  /**
   * The clock that times dispatches; a fake one in tests.
   *
   * @default {performanceClock}
   */
  readonly clock?: Clock;
}

const MINUTE_MS = 60_000;

/**
 * A middleware that times every dispatch (when it returns, throws or its
 * promise settles) into `stats`, and reports slow ones. Works on the
 * synchronous and the asynchronous bus.
 *
 * @param stats Where durations go.
 * @param options The slow threshold, what to do about slow dispatches,
 * sampling and the clock.
 * @returns The middleware.
 * @throws {RangeError} When `thresholdMs` is not a positive number or
 * `sampleEvery` not a positive integer.
 *
 * @example Percentiles per message type
 * ```ts
 * import { createBus, defineQuery } from "@monolith/message-bus";
 * import { createLatencyStats, latency } from "@monolith/message-bus/observability";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetUser = defineQuery<{ id: string }, string>("GetUser");
 * const stats = createLatencyStats();
 * const slow: string[] = [];
 * const bus = createBus({
 *   middleware: [latency(stats, { thresholdMs: 100, onSlow: (s) => slow.push(s.type) })],
 * });
 * bus.registerQuery(GetUser, (q) => q.payload.id);
 * for (let i = 0; i < 10; i++) bus.send(GetUser({ id: String(i) }));
 * deepStrictEqual(stats.percentiles("GetUser")?.count, 10);
 * deepStrictEqual(slow, []);
 * ```
 */
export function latency(
  stats: LatencyStats,
  options: LatencyOptions = {},
): Middleware {
  const thresholdMs = positive(
    "thresholdMs",
    options.thresholdMs ?? 100,
    false,
  );
  const sampleEvery = positive("sampleEvery", options.sampleEvery ?? 1, true);
  const clock = options.clock ?? performanceClock;
  const now = clock === performanceClock ? () => performance.now() : clock.now;
  const onSlow = options.onSlow ?? warnOncePerMinute(now);
  const timed = observing((message, start, _outcome, _failed) => {
    const durationMs = now() - start;
    stats.record(message, durationMs);
    if (durationMs > thresholdMs) {
      onSlow({
        type: message.type,
        kind: message.kind,
        durationMs,
        thresholdMs,
      });
    }
  }, now);
  if (sampleEvery === 1) return timed;
  let countdown = 0;
  return (message, next, context) => {
    if (countdown-- === 0) {
      countdown = sampleEvery - 1;
      return timed(message, next, context);
    }
    stats.record(message);
    return next(message);
  };
}

function warnOncePerMinute(now: () => number): (slow: SlowDispatch) => void {
  const lastWarned = new Map<string, number>();
  return (slow) => {
    const at = now();
    const last = lastWarned.get(slow.type);
    if (last !== undefined && at - last < MINUTE_MS) return;
    lastWarned.set(slow.type, at);
    console.warn(
      `latency: ${slow.kind} "${slow.type}" took ${
        slow.durationMs.toFixed(1)
      } ms (threshold ${slow.thresholdMs} ms); further slow "${slow.type}" dispatches are not reported for a minute`,
    );
  };
}
