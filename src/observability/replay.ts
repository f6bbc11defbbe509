/**
 * Replaying a recording: re-dispatch recorded messages into a bus and report
 * every result that differs from the recorded one, so that a recording of
 * production traffic becomes a regression test.
 *
 * @module
 */

import { isDeepStrictEqual } from "node:util";
import type { AnyDefinition, AnyMessage } from "../core/messages.ts";
import type { AsyncMessageBus, MessageBus } from "../core/types.ts";
import { aKind, dispatchByKind } from "../core/_by_kind.ts";
import { errorJson, toJsonValue } from "../core/_json.ts";
import { shown } from "../core/_options.ts";
import type { DispatchRecord } from "./recorder.ts";

/**
 * Options of {@linkcode replay}.
 */
export interface ReplayOptions {
  /**
   * The definitions to rebuild messages with, found by name. A record whose
   * name has no definition here is skipped and reported.
   */
  readonly definitions: readonly AnyDefinition[];
}

/**
 * What a dispatch ended with: its result in JSON form, or its error.
 */
export interface ReplayOutcome {
  /** The result in its JSON form; `null` for none or on failure. */
  readonly result: unknown;
  /** The error as a record holds it, or `null`. */
  readonly error: unknown;
}

/**
 * A replayed dispatch whose outcome differs from the recording.
 */
export interface ReplayDifference {
  /** The record's position in the recording, from 0. */
  readonly index: number;
  /** The record. */
  readonly record: DispatchRecord;
  /** What the recording says. */
  readonly expected: ReplayOutcome;
  /** What the replay got. */
  readonly actual: ReplayOutcome;
}

/**
 * A record that was not replayed, and why.
 */
export interface ReplaySkip {
  /** The record's position in the recording, from 0. */
  readonly index: number;
  /** The record. */
  readonly record: DispatchRecord;
  /** Why it was skipped. */
  readonly reason: string;
}

/**
 * What {@linkcode replay} found.
 */
export interface ReplayReport {
  /** Records read. */
  readonly total: number;
  /** Records dispatched again. */
  readonly replayed: number;
  /**
   * Records left to their cause: a handler dispatched them (their
   * `causationId` is in the recording), so replaying the cause dispatches
   * them again. They are not dispatched on their own.
   */
  readonly nested: number;
  /** Replayed records whose outcome matched. */
  readonly matched: number;
  /** Replayed records whose outcome differed. */
  readonly differences: readonly ReplayDifference[];
  /** Records not replayed. */
  readonly skipped: readonly ReplaySkip[];
}

/**
 * Re-dispatches recorded messages, in order, into `bus` (synchronous,
 * asynchronous, or a fake bus) and compares each outcome with the recorded
 * one: the result in its JSON form, or the error's name and message. Values
 * that had no JSON form are replayed in their JSON form (a BigInt payload
 * arrives as `{ "$bigint": "..." }`), and redacted fields as redacted.
 *
 * The causal structure is kept: a record whose cause is in the recording (a
 * handler dispatched it) is left to that cause, which dispatches it again;
 * the others are dispatched with their recorded id, so what they cause links
 * to them as it did. The recording is read whole first.
 *
 * @param records Records, for example from {@linkcode readRecording}.
 * @param bus The bus to dispatch into.
 * @param options The definitions to rebuild messages with.
 * @returns What matched, what differed and what was skipped.
 * @throws {TypeError} When `records` is not iterable, `bus` is not a bus,
 * `options.definitions` is not an array of definitions or two of them share
 * a name, or a record is not an object with a string `kind` and `type` (the
 * error names its index).
 *
 * @example A recording as a regression test
 * ```ts
 * import { createBus, defineQuery } from "@monolith/message-bus";
 * import { memoryStore, recorder, replay } from "@monolith/message-bus/observability";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetPrice = defineQuery<{ sku: string }, number>("GetPrice");
 * const store = memoryStore();
 * const before = createBus({ middleware: [recorder(store)] });
 * before.registerQuery(GetPrice, (q) => (q.payload.sku === "book" ? 12 : 5));
 * before.send(GetPrice({ sku: "book" }));
 * before.send(GetPrice({ sku: "pen" }));
 *
 * const after = createBus();
 * after.registerQuery(GetPrice, (q) => (q.payload.sku === "book" ? 12 : 6));
 * const report = await replay(store.records, after, { definitions: [GetPrice] });
 * deepStrictEqual([report.replayed, report.matched], [2, 1]);
 * deepStrictEqual(report.differences[0]?.expected.result, 5);
 * deepStrictEqual(report.differences[0]?.actual.result, 6);
 * ```
 */
export async function replay(
  records: Iterable<DispatchRecord> | AsyncIterable<DispatchRecord>,
  bus: MessageBus | AsyncMessageBus,
  options: ReplayOptions,
): Promise<ReplayReport> {
  checkArguments(records, bus);
  const byName = definitionsByName(options?.definitions);
  const differences: ReplayDifference[] = [];
  const skipped: ReplaySkip[] = [];
  // A record is written when its dispatch ends, so what a handler dispatched
  // comes before its cause: the whole recording is read first.
  const all: DispatchRecord[] = [];
  for await (const given of records) all.push(checkRecord(given, all.length));
  const ids = new Set<string>();
  for (const record of all) if (record.id !== undefined) ids.add(record.id);
  let total = 0;
  let matched = 0;
  let nested = 0;
  for (const record of all) {
    const index = total++;
    if (record.causationId !== undefined && ids.has(record.causationId)) {
      nested++;
      continue;
    }
    const definition = byName.get(record.type);
    if (definition === undefined) {
      skipped.push({
        index,
        record,
        reason: `no definition named "${record.type}" in options.definitions`,
      });
      continue;
    }
    if (definition.kind !== record.kind) {
      skipped.push({
        index,
        record,
        reason:
          `the recording says ${record.kind} "${record.type}", the definition is ${
            aKind(definition.kind)
          }`,
      });
      continue;
    }
    const message = (definition as (payload: unknown) => AnyMessage)(
      record.payload,
    );
    const actual = await outcomeOf(bus, message, record.id);
    const expected = { result: record.result, error: record.error };
    if (isDeepStrictEqual(actual, expected)) matched++;
    else differences.push({ index, record, expected, actual });
  }
  return {
    total,
    replayed: total - skipped.length - nested,
    nested,
    matched,
    differences,
    skipped,
  };
}

function checkArguments(records: unknown, bus: unknown): void {
  const iterable = records as
    | Partial<Iterable<unknown> & AsyncIterable<unknown>>
    | null;
  if (
    typeof iterable?.[Symbol.iterator] !== "function" &&
    typeof iterable?.[Symbol.asyncIterator] !== "function"
  ) {
    throw new TypeError(
      `Cannot replay as 'records' must be an iterable or async iterable of dispatch records: current value is ${
        shown(records)
      }`,
    );
  }
  const methods = bus as Partial<MessageBus> | null;
  if (
    typeof methods?.send !== "function" ||
    typeof methods.execute !== "function" ||
    typeof methods.publish !== "function" ||
    typeof methods.dispatch !== "function"
  ) {
    throw new TypeError(
      `Cannot replay as 'bus' must be a message bus, with send(), execute(), publish() and dispatch(): current value is ${
        shown(bus)
      }`,
    );
  }
}

function checkRecord(record: unknown, index: number): DispatchRecord {
  const given = record as Partial<DispatchRecord> | null;
  if (
    typeof given !== "object" || given === null ||
    typeof given.kind !== "string" || typeof given.type !== "string"
  ) {
    throw new TypeError(
      `Cannot replay as record ${index} of 'records' must be a dispatch record, with a string 'kind' and 'type': current value is ${
        shown(record)
      }`,
    );
  }
  return given as DispatchRecord;
}

// A replayed dispatch keeps its recorded id, so what it causes links to it
// as in the recording.
async function outcomeOf(
  bus: MessageBus | AsyncMessageBus,
  message: AnyMessage,
  id: string | undefined,
): Promise<ReplayOutcome> {
  try {
    const result = await dispatchByKind(
      bus,
      message,
      id === undefined ? undefined : { id },
    );
    return {
      result: result === undefined ? null : toJsonValue(result),
      error: null,
    };
  } catch (error) {
    return { result: null, error: errorJson(error) };
  }
}

function definitionsByName(
  definitions: readonly AnyDefinition[] | undefined,
): Map<string, AnyDefinition> {
  if (!Array.isArray(definitions)) {
    throw new TypeError(
      `Cannot replay as 'definitions' must be an array of message definitions: current value is ${typeof definitions}`,
    );
  }
  const byName = new Map<string, AnyDefinition>();
  for (const definition of definitions) {
    if (
      typeof definition !== "function" || typeof definition.kind !== "string"
    ) {
      throw new TypeError(
        `Cannot replay as 'definitions' must hold message definitions (from defineQuery() and friends): found ${typeof definition}`,
      );
    }
    if (
      byName.has(definition.name) && byName.get(definition.name) !== definition
    ) {
      throw new TypeError(
        `Cannot replay as two definitions in 'definitions' are named "${definition.name}"`,
      );
    }
    byName.set(definition.name, definition);
  }
  return byName;
}
