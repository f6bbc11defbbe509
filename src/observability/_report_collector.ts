// What the report needs from a recording, gathered one record at a time so
// that a recording of any length is read once and never held in memory:
// durations and start times go into typed arrays (8 bytes a record), and only
// a bounded number of whole records are kept (the slowest, the first failed).
// Also what the page and the interaction map share: the growable arrays and
// the format of milliseconds.

import type { MessageKind } from "../core/messages.ts";
import type { DispatchRecord } from "./recorder.ts";

/** The durations of one message type, and how many of them failed. */
export interface TypeDurations {
  /** The message name. */
  readonly type: string;
  /** The kind of its first record. */
  readonly kind: MessageKind;
  /** Dispatches recorded. */
  readonly count: number;
  /** Dispatches that failed. */
  readonly errors: number;
  /** Every duration, in milliseconds, ascending. */
  readonly sortedMs: Float64Array;
  /** The durations of the failed dispatches, in milliseconds. */
  readonly failedMs: Float64Array;
}

/** A recording gathered by {@linkcode createReportCollector}. */
export interface CollectedRecording {
  /** Records seen. */
  readonly total: number;
  /** Records with an error. */
  readonly failed: number;
  /** One entry per message type, by name. */
  readonly types: readonly TypeDurations[];
  /**
   * Start times in epoch microseconds, of the records whose `ts` could be
   * read; `Date.parse` would keep only milliseconds.
   */
  readonly startsUs: Float64Array;
  /** For each of `startsUs`: 1 when that dispatch failed. */
  readonly startFailed: Uint8Array;
  /** Records whose `ts` could not be read, left out of `startsUs`. */
  readonly unreadableTimes: number;
  /** The slowest records, slowest first; ties in recording order. */
  readonly slowest: readonly DispatchRecord[];
  /** The first failed records, in recording order. */
  readonly failures: readonly DispatchRecord[];
}

/** Takes records one at a time; see {@linkcode createReportCollector}. */
export interface ReportCollector {
  /** Counts one record. */
  add(record: DispatchRecord): void;
  /** What was gathered so far. Sorts in place: call it once, at the end. */
  finish(): CollectedRecording;
}

/** Formats milliseconds for people: 3 significant digits. */
export function formatMs(value: number): string {
  if (value === 0) return "0";
  if (value >= 100) return value.toFixed(0);
  return value.toPrecision(3);
}

/** A Float64Array that doubles when full, so a push costs O(1) on average. */
export interface Growable {
  values: Float64Array;
  length: number;
}

export function growable(capacity: number): Growable {
  return { values: new Float64Array(capacity), length: 0 };
}

export function push(list: Growable, value: number): void {
  if (list.length === list.values.length) {
    const larger = new Float64Array(list.values.length * 2);
    larger.set(list.values);
    list.values = larger;
  }
  list.values[list.length++] = value;
}

interface TypeState {
  readonly kind: MessageKind;
  readonly durations: Growable;
  readonly failedMs: Growable;
}

interface Ranked {
  readonly record: DispatchRecord;
  readonly order: number;
}

/**
 * Whether `a` should leave the slowest list before `b`: it is faster, or
 * as fast and recorded later.
 */
function before(a: Ranked, b: Ranked): boolean {
  return a.record.durationMs < b.record.durationMs ||
    (a.record.durationMs === b.record.durationMs && a.order > b.order);
}

/**
 * The slowest `size` records seen, as a binary min-heap whose root is the
 * next to leave, so a record costs O(log size) at most and nothing when it
 * is faster than all of them.
 */
function slowestHeap(size: number) {
  const heap: Ranked[] = [];
  function siftDown(index: number): void {
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let least = index;
      if (left < heap.length && before(heap[left]!, heap[least]!)) least = left;
      if (right < heap.length && before(heap[right]!, heap[least]!)) {
        least = right;
      }
      if (least === index) return;
      [heap[index], heap[least]] = [heap[least]!, heap[index]!];
      index = least;
    }
  }
  return {
    offer(entry: Ranked): void {
      if (size <= 0) return;
      if (heap.length < size) {
        heap.push(entry);
        let index = heap.length - 1;
        while (index > 0) {
          const parent = (index - 1) >> 1;
          if (!before(heap[index]!, heap[parent]!)) break;
          [heap[index], heap[parent]] = [heap[parent]!, heap[index]!];
          index = parent;
        }
      } else if (before(heap[0]!, entry)) {
        heap[0] = entry;
        siftDown(0);
      }
    },
    sorted(): DispatchRecord[] {
      return heap.slice().sort((a, b) => before(a, b) ? 1 : -1).map((
        entry,
      ) => entry.record);
    },
  };
}

const ISO_TIME =
  /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)$/;

/**
 * Reads an ISO 8601 timestamp as epoch microseconds, keeping every fractional
 * digit down to the microsecond. Records of one run share their seconds, so
 * the part up to the second is parsed once per second it names.
 */
export function timestampReader(): (ts: string) => number {
  let cachedKey = "";
  let cachedUs = Number.NaN;
  return (ts) => {
    const match = ISO_TIME.exec(ts);
    if (match === null) return Date.parse(ts) * 1000;
    const key = match[1]! + match[3]!;
    if (key !== cachedKey) {
      cachedKey = key;
      cachedUs = Date.parse(key) * 1000;
    }
    const fraction = match[2];
    return fraction === undefined
      ? cachedUs
      : cachedUs + Number(fraction.slice(0, 6).padEnd(6, "0"));
  };
}

/**
 * Creates a collector that keeps what the report shows, and no more: all
 * durations and start times, the `slowest` slowest records and the first
 * `failed` failed ones.
 */
export function createReportCollector(
  options: { readonly slowest: number; readonly failed: number },
): ReportCollector {
  const byType = new Map<string, TypeState>();
  const starts = growable(1024);
  let startFailed = new Uint8Array(1024);
  const readTime = timestampReader();
  const slowest = slowestHeap(options.slowest);
  const failures: DispatchRecord[] = [];
  let total = 0;
  let failed = 0;
  let unreadableTimes = 0;

  return {
    add(record) {
      let state = byType.get(record.type);
      if (state === undefined) {
        state = {
          kind: record.kind,
          durations: growable(64),
          failedMs: growable(4),
        };
        byType.set(record.type, state);
      }
      push(state.durations, record.durationMs);
      const isFailed = record.error !== null && record.error !== undefined;
      if (isFailed) {
        failed++;
        push(state.failedMs, record.durationMs);
        if (failures.length < options.failed) failures.push(record);
      }
      const startUs = readTime(record.ts);
      if (Number.isFinite(startUs)) {
        if (starts.length === startFailed.length) {
          const larger = new Uint8Array(startFailed.length * 2);
          larger.set(startFailed);
          startFailed = larger;
        }
        startFailed[starts.length] = isFailed ? 1 : 0;
        push(starts, startUs);
      } else {
        unreadableTimes++;
      }
      slowest.offer({ record, order: total });
      total++;
    },
    finish() {
      const types = [...byType.keys()].sort().map((type): TypeDurations => {
        const state = byType.get(type)!;
        return {
          type,
          kind: state.kind,
          count: state.durations.length,
          errors: state.failedMs.length,
          sortedMs: state.durations.values.subarray(0, state.durations.length)
            .sort(),
          failedMs: state.failedMs.values.subarray(0, state.failedMs.length),
        };
      });
      return {
        total,
        failed,
        types,
        startsUs: starts.values.subarray(0, starts.length),
        startFailed: startFailed.subarray(0, starts.length),
        unreadableTimes,
        slowest: slowest.sorted(),
        failures: failures.slice(),
      };
    },
  };
}
