// The module interaction map of a recording, gathered one record at a time.
//
// Records are written when a dispatch ends, so a nested dispatch usually
// comes before the dispatch that caused it: the edge of a record that names a
// cause can only be resolved at the end. What is kept per record is what that
// needs, in typed arrays, never the record itself:
//
// - each id, as a 64-bit hash in an open-addressing table, with the index of
//   its message type: 12 bytes a slot, at most half the slots in use, so
//   16 to 24 bytes an id (twice that while the table doubles);
// - each record whose edge waits on its cause: the cause's hash, its type,
//   its duration and whether it failed (21 bytes);
// - each duration of an edge or an entry resolved at once (8 bytes).
//
// A million records with ids come to about 50 MB outside the JavaScript heap
// and a few kilobytes in it (one entry per type, module and edge). Two ids
// share a hash with a chance of about n² / 2⁶⁵ (3 in 100 million for a
// million ids); the cost of such a clash is one dispatch drawn from the
// wrong module.

import type { MessageKind } from "../core/messages.ts";
import type { DispatchRecord } from "./recorder.ts";
import type {
  InteractionEdge,
  InteractionEntry,
  InteractionMap,
  InteractionModule,
} from "./report.ts";
import { percentile } from "./_percentiles.ts";
import { type Growable, growable, push } from "./_report_collector.ts";

/** The module of a message name: the part before its first dot, or all of it. */
export function moduleOf(type: string): string {
  const dot = type.indexOf(".");
  return dot === -1 ? type : type.slice(0, dot);
}

/** Takes records one at a time; see {@linkcode createInteractionCollector}. */
export interface InteractionCollector {
  /** Counts one record. */
  add(record: DispatchRecord): void;
  /** The map of what was added. Call it once, at the end. */
  finish(): InteractionMap;
}

/**
 * Ids (as hashes) to the index of their message type, in linear-probing
 * typed arrays that double when half full.
 */
function idTable() {
  let capacity = 1024;
  let highs = new Uint32Array(capacity);
  let lows = new Uint32Array(capacity);
  // The type's index plus one; 0 marks a free slot.
  let values = new Int32Array(capacity);
  let size = 0;

  function slotOf(high: number, low: number): number {
    const mask = capacity - 1;
    let slot = low & mask;
    while (values[slot] !== 0) {
      if (highs[slot] === high && lows[slot] === low) return slot;
      slot = (slot + 1) & mask;
    }
    return slot;
  }

  function grow(): void {
    const oldHighs = highs;
    const oldLows = lows;
    const oldValues = values;
    capacity *= 2;
    highs = new Uint32Array(capacity);
    lows = new Uint32Array(capacity);
    values = new Int32Array(capacity);
    for (let index = 0; index < oldValues.length; index++) {
      if (oldValues[index] === 0) continue;
      const slot = slotOf(oldHighs[index]!, oldLows[index]!);
      highs[slot] = oldHighs[index]!;
      lows[slot] = oldLows[index]!;
      values[slot] = oldValues[index]!;
    }
  }

  return {
    /** Keeps the first type given for an id: a retried dispatch keeps its id. */
    add(high: number, low: number, type: number): void {
      const slot = slotOf(high, low);
      if (values[slot] !== 0) return;
      highs[slot] = high;
      lows[slot] = low;
      values[slot] = type + 1;
      if (++size * 2 > capacity) grow();
    },
    /** The type of the id, or -1 when it is not in the recording. */
    get(high: number, low: number): number {
      return values[slotOf(high, low)]! - 1;
    },
  };
}

/** Durations and failures of one edge, entry or cause-less group. */
interface Tally {
  readonly durations: Growable;
  errors: number;
}

function tally(): Tally {
  return { durations: growable(16), errors: 0 };
}

function count(group: Tally, durationMs: number, failed: boolean): void {
  push(group.durations, durationMs);
  if (failed) group.errors++;
}

function timesOf(
  group: Tally,
): { count: number; p50Ms: number; p95Ms: number } {
  const sorted = group.durations.values.subarray(0, group.durations.length)
    .sort();
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
  };
}

/**
 * Records that wait for their cause, as columns of typed arrays that double
 * when full.
 */
function pendingColumns() {
  let capacity = 1024;
  let highs = new Uint32Array(capacity);
  let lows = new Uint32Array(capacity);
  let types = new Int32Array(capacity);
  let durations = new Float64Array(capacity);
  let failed = new Uint8Array(capacity);
  let length = 0;
  function larger<
    T extends Uint32Array | Int32Array | Float64Array | Uint8Array,
  >(
    column: T,
    make: (size: number) => T,
  ): T {
    const copy = make(capacity);
    copy.set(column);
    return copy;
  }
  return {
    push(
      high: number,
      low: number,
      type: number,
      durationMs: number,
      isFailed: boolean,
    ): void {
      if (length === capacity) {
        capacity *= 2;
        highs = larger(highs, (size) => new Uint32Array(size));
        lows = larger(lows, (size) => new Uint32Array(size));
        types = larger(types, (size) => new Int32Array(size));
        durations = larger(durations, (size) => new Float64Array(size));
        failed = larger(failed, (size) => new Uint8Array(size));
      }
      highs[length] = high;
      lows[length] = low;
      types[length] = type;
      durations[length] = durationMs;
      failed[length] = isFailed ? 1 : 0;
      length++;
    },
    forEach(
      visit: (
        high: number,
        low: number,
        type: number,
        durationMs: number,
        isFailed: boolean,
      ) => void,
    ): void {
      for (let index = 0; index < length; index++) {
        visit(
          highs[index]!,
          lows[index]!,
          types[index]!,
          durations[index]!,
          failed[index] === 1,
        );
      }
    },
  };
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Creates a collector of the module interaction map. Edges are resolved as
 * `interactionMap` documents; see there.
 */
export function createInteractionCollector(): InteractionCollector {
  const typeIndex = new Map<string, number>();
  const typeNames: string[] = [];
  const typeKinds: MessageKind[] = [];
  const typeModules: number[] = [];
  const moduleIndex = new Map<string, number>();
  const moduleNames: string[] = [];
  const handled: number[] = [];
  const moduleErrors: number[] = [];
  const ids = idTable();
  const pending = pendingColumns();
  // Edges by (type, fromEvent, from module), as one number.
  const edges = new Map<number, Tally>();
  const entries = new Map<number, Tally>();
  const unresolved = new Map<number, Tally>();
  let untracked = 0;
  // The two halves of the last hash, so that hashing allocates nothing.
  let hashHigh = 0;
  let hashLow = 0;

  /** A 64-bit hash of `text`: cyrb53's two 32-bit lanes, both kept. */
  function hash(text: string): void {
    let h1 = 0xdeadbeef;
    let h2 = 0x41c6ce57;
    for (let index = 0; index < text.length; index++) {
      const code = text.charCodeAt(index);
      h1 = Math.imul(h1 ^ code, 2654435761);
      h2 = Math.imul(h2 ^ code, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
    h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
    h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    hashHigh = h1 >>> 0;
    hashLow = h2 >>> 0;
  }

  function moduleNamed(name: string): number {
    let index = moduleIndex.get(name);
    if (index === undefined) {
      index = moduleNames.length;
      moduleIndex.set(name, index);
      moduleNames.push(name);
      handled.push(0);
      moduleErrors.push(0);
    }
    return index;
  }

  function typeOf(record: DispatchRecord): number {
    let index = typeIndex.get(record.type);
    if (index === undefined) {
      index = typeNames.length;
      typeIndex.set(record.type, index);
      typeNames.push(record.type);
      typeKinds.push(record.kind);
      typeModules.push(moduleNamed(moduleOf(record.type)));
    }
    return index;
  }

  // 2²⁴ modules and 2²⁸ types fit below 2⁵³.
  function edgeKey(type: number, fromEvent: boolean, from: number): number {
    return (type * 2 + (fromEvent ? 1 : 0)) * 0x1000000 + from;
  }

  function into(groups: Map<number, Tally>, key: number): Tally {
    let group = groups.get(key);
    if (group === undefined) groups.set(key, group = tally());
    return group;
  }

  return {
    add(record) {
      const type = typeOf(record);
      const module = typeModules[type]!;
      const failed = record.error !== null && record.error !== undefined;
      handled[module]!++;
      if (failed) moduleErrors[module]!++;
      // A field that is not a string is left out, as readRecording does.
      const { id, causationId, origin } = record;
      if (typeof id === "string") {
        hash(id);
        ids.add(hashHigh, hashLow, type);
      }
      if (typeof origin === "string" && origin !== "") {
        const from = moduleNamed(origin);
        count(
          into(edges, edgeKey(type, false, from)),
          record.durationMs,
          failed,
        );
      } else if (typeof causationId === "string") {
        hash(causationId);
        pending.push(hashHigh, hashLow, type, record.durationMs, failed);
      } else if (typeof id === "string") {
        count(into(entries, type), record.durationMs, failed);
      } else {
        untracked++;
      }
    },
    finish() {
      pending.forEach((high, low, type, durationMs, failed) => {
        const cause = ids.get(high, low);
        const group = cause === -1 ? into(unresolved, type) : into(
          edges,
          edgeKey(type, typeKinds[cause] === "event", typeModules[cause]!),
        );
        count(group, durationMs, failed);
      });
      const modules = moduleNames.slice().sort(byName).map((
        name,
      ): InteractionModule => {
        const index = moduleIndex.get(name)!;
        return {
          name,
          handled: handled[index]!,
          errors: moduleErrors[index]!,
        };
      });
      const edgeList = [...edges].map(([key, group]): InteractionEdge => {
        const from = key % 0x1000000;
        const rest = (key - from) / 0x1000000;
        const type = Math.floor(rest / 2);
        return {
          from: moduleNames[from]!,
          to: moduleNames[typeModules[type]!]!,
          type: typeNames[type]!,
          kind: typeKinds[type]!,
          ...timesOf(group),
          errors: group.errors,
          fromEvent: rest % 2 === 1,
        };
      }).sort((a, b) =>
        byName(a.from, b.from) || byName(a.to, b.to) ||
        byName(a.type, b.type) || Number(a.fromEvent) - Number(b.fromEvent)
      );
      const entryList = (groups: Map<number, Tally>): InteractionEntry[] =>
        [...groups].map(([type, group]): InteractionEntry => ({
          to: moduleNames[typeModules[type]!]!,
          type: typeNames[type]!,
          kind: typeKinds[type]!,
          ...timesOf(group),
          errors: group.errors,
        })).sort((a, b) => byName(a.to, b.to) || byName(a.type, b.type));
      return {
        modules,
        edges: edgeList,
        entries: entryList(entries),
        unresolved: entryList(unresolved),
        untracked,
      };
    },
  };
}
