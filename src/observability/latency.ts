/**
 * Latency percentiles per message type, with a signal that tells when a
 * module is being slowed by another: the first hint that it should move out
 * of the monolith.
 *
 * @module
 */

import { type Clock, performanceClock } from "../core/clock.ts";
import { NoHandlerError } from "../core/errors.ts";
import type { AnyMessage, Message, MessageKind } from "../core/messages.ts";
import type { Middleware } from "../core/types.ts";
import {
  clockOption,
  functionOption,
  integerOption,
  numberOption,
  optionsObject,
  shown,
} from "../core/_options.ts";
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
  /**
   * How many message types are kept apart. Past it, further types are
   * counted together as one, `"_other"`, and a warning is printed once, so
   * that memory stays bounded whatever names are dispatched.
   *
   * @default {1000}
   */
  readonly maxTypes?: number;
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
   * milliseconds. Without a duration (a sampled-out dispatch) it only counts
   * a type already timed, and returns whether it did.
   */
  record(message: Pick<Message, "kind" | "type">, durationMs?: number): boolean;
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
   * its own process, where it scales and fails on its own. A type whose
   * baseline p95 is 0 (too fast for the clock to tell) has no ratio to grow
   * by and is never listed; set the baseline again once it has real samples.
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

const ACTION = "use latency stats";

/** The name types past `maxTypes` are counted under. */
const OTHER = "_other";

function positive(name: string, value: number, integer: boolean): number {
  return numberOption(
    ACTION,
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
 * recent `maxSamples` of each, for at most `maxTypes` types; further types
 * are counted together as `"_other"`.
 *
 * @param options How many samples and types to keep.
 * @returns The stats.
 * @throws {TypeError} When `options` is not an object.
 * @throws {RangeError} When `maxSamples` or `maxTypes` is not a positive
 * integer.
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
  options?: LatencyStatsOptions,
): LatencyStats {
  const given: LatencyStatsOptions = optionsObject(ACTION, options);
  const maxSamples = positive("maxSamples", given.maxSamples ?? 10_000, true);
  const maxTypes = integerOption(ACTION, "maxTypes", given.maxTypes ?? 1000, 1);
  const byType = new Map<string, Samples>();
  let baseline = new Map<string, number>();
  let warned = false;

  // Only on a type's first timed dispatch: the bound costs nothing after.
  function samplesOf(message: Pick<Message, "kind" | "type">): Samples {
    if (byType.size < maxTypes) {
      const samples = { kind: message.kind, count: 0, values: [], next: 0 };
      byType.set(message.type, samples);
      return samples;
    }
    let other = byType.get(OTHER);
    if (other === undefined) {
      if (!warned) {
        warned = true;
        console.warn(
          `latency: more than ${maxTypes} message types; ${message.kind} "${message.type}" and further types are counted together as "${OTHER}" (raise maxTypes to keep them apart)`,
        );
      }
      other = { kind: message.kind, count: 0, values: [], next: 0 };
      byType.set(OTHER, other);
    }
    return other;
  }

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
        if (durationMs === undefined) return false;
        samples = samplesOf(message);
      }
      samples.count++;
      if (durationMs === undefined) return true;
      if (samples.values.length < maxSamples) {
        samples.values.push(durationMs);
      } else {
        samples.values[samples.next] = durationMs;
        samples.next = (samples.next + 1) % maxSamples;
      }
      return true;
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
        // A baseline of 0 would make any later sample an infinite increase.
        if (before === undefined || before <= 0) continue;
        const increaseRatio = current.p95Ms / before;
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
      warned = false;
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
   * once per message type per minute. If it throws, its error is reported
   * on the console and the dispatch's outcome is unchanged.
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
 * synchronous and the asynchronous bus. A dispatch that finds no handler
 * (a `NoHandlerError` for its own type) is not recorded: names without
 * handlers leave nothing in `stats`.
 *
 * @param stats Where durations go.
 * @param options The slow threshold, what to do about slow dispatches,
 * sampling and the clock.
 * @returns The middleware.
 * @throws {TypeError} When `stats` has no `record` method, or `options`,
 * `onSlow` or `clock` is not what it should be (a clock has `now`,
 * `setTimeout` and `clearTimeout`).
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
  options?: LatencyOptions,
): Middleware {
  if (typeof (stats as Partial<LatencyStats> | null)?.record !== "function") {
    throw new TypeError(
      `Cannot create latency as 'stats' must be latency stats (from createLatencyStats()): current value is ${
        shown(stats)
      }`,
    );
  }
  const given: LatencyOptions = optionsObject("create latency", options);
  const thresholdMs = positive(
    "thresholdMs",
    given.thresholdMs ?? 100,
    false,
  );
  const sampleEvery = positive("sampleEvery", given.sampleEvery ?? 1, true);
  const clock = clockOption("create latency", given.clock, performanceClock);
  const now = clock === performanceClock ? () => performance.now() : clock.now;
  const onSlow = functionOption("create latency", "onSlow", given.onSlow) ??
    warnOncePerMinute(now);

  // A callback that throws must not replace the dispatch's own outcome.
  function tellSlow(message: AnyMessage, durationMs: number): void {
    try {
      onSlow({
        type: message.type,
        kind: message.kind,
        durationMs,
        thresholdMs,
      });
    } catch (error) {
      console.error(
        `latency: 'onSlow' threw for ${message.kind} "${message.type}"; the dispatch goes on:`,
        error,
      );
    }
  }

  const timed = observing((message, start, outcome, failed) => {
    const durationMs = now() - start;
    if (failed && isNoHandler(outcome, message)) return;
    stats.record(message, durationMs);
    if (durationMs > thresholdMs) tellSlow(message, durationMs);
  }, now);
  if (sampleEvery === 1) return timed;
  let countdown = 0;
  return (message, next, context) => {
    if (countdown === 0) {
      countdown = sampleEvery - 1;
      return timed(message, next, context);
    }
    countdown--;
    // A type never timed yet is timed now: a name without a handler is
    // then seen to have none, and counted nowhere.
    return stats.record(message)
      ? next(message)
      : timed(message, next, context);
  };
}

/** Whether `error` says that `message` itself found no handler. */
function isNoHandler(error: unknown, message: AnyMessage): boolean {
  return error instanceof NoHandlerError && error.type === message.type &&
    error.kind === message.kind;
}

// Bounded like the stats: at most this many types are remembered.
const MAX_WARNED_TYPES = 1000;

function warnOncePerMinute(now: () => number): (slow: SlowDispatch) => void {
  const lastWarned = new Map<string, number>();
  return (slow) => {
    const at = now();
    const last = lastWarned.get(slow.type);
    if (last !== undefined && at - last < MINUTE_MS) return;
    if (last === undefined && lastWarned.size >= MAX_WARNED_TYPES) {
      for (const [type, when] of lastWarned) {
        if (at - when >= MINUTE_MS) lastWarned.delete(type);
      }
      // Every one warned of within the minute: stop remembering the oldest.
      if (lastWarned.size >= MAX_WARNED_TYPES) {
        lastWarned.delete(lastWarned.keys().next().value!);
      }
    }
    lastWarned.set(slow.type, at);
    console.warn(
      `latency: ${slow.kind} "${slow.type}" took ${
        slow.durationMs.toFixed(1)
      } ms (threshold ${slow.thresholdMs} ms); further slow "${slow.type}" dispatches are not reported for a minute`,
    );
  };
}
