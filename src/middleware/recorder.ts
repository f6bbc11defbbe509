/**
 * Recording of every dispatch: one record per dispatch, as of dispatch time,
 * handed to a store ({@linkcode memoryStore} for tests, {@linkcode jsonlStore}
 * for files). Works on the synchronous and the asynchronous bus.
 *
 * @module
 */

import { epochMs, isoTimestamp } from "../_clock.ts";
import { errorJson, TRUSTED_TS } from "../_json.ts";
import { observing } from "../_observe.ts";
import type { Middleware } from "../compose.ts";
import type { MessageKind } from "../messages.ts";

/**
 * An error as a record holds it: its name and message, every inner error of
 * an `AggregateError`, and its cause when it has one.
 *
 * @example
 * ```ts
 * import type { RecordedError } from "@monolith/message-bus";
 *
 * const error: RecordedError = { name: "RangeError", message: "too big" };
 * ```
 */
export interface RecordedError {
  /** The error's `name`. */
  readonly name: string;
  /** The error's `message`. */
  readonly message: string;
  /** The inner errors of an `AggregateError`. */
  readonly errors?: readonly unknown[];
  /** The error's `cause`, when it has one. */
  readonly cause?: unknown;
}

/**
 * One dispatch, in the JSON Lines format of the system this library grew
 * from (so existing tooling reads it):
 *
 * ```json
 * {"ts": "2026-02-12T14:30:45.123456Z", "type": "query", "class": "GetUser", "payload": {}, "duration_ns": 850000, "result": {}, "error": null}
 * ```
 *
 * `type` is the message's kind and `class` its name. Values with no JSON form
 * (BigInt, cycles, Maps, ...) are written in the forms listed in the README.
 *
 * @example
 * ```ts
 * import type { DispatchRecord } from "@monolith/message-bus";
 *
 * const record: DispatchRecord = {
 *   ts: "2026-02-12T14:30:45.123456Z",
 *   type: "query",
 *   class: "GetUser",
 *   payload: { userId: "1" },
 *   duration_ns: 850000,
 *   result: { name: "Ada" },
 *   error: null,
 * };
 * ```
 */
export interface DispatchRecord {
  /** When the dispatch started: ISO 8601, UTC, with microseconds. */
  readonly ts: string;
  /** The message's kind. */
  readonly type: MessageKind;
  /** The message's name. */
  readonly class: string;
  /** The message's payload. */
  readonly payload: unknown;
  /** How long the dispatch took, to its result or error (or its promise's). */
  readonly duration_ns: number;
  /** The result; `null` for none and for a failed dispatch. */
  readonly result: unknown;
  /** The error of a failed dispatch, else `null`. */
  readonly error: RecordedError | null;
}

/**
 * Where a recorder puts its records. `write` is called on the dispatch path,
 * once per recorded dispatch: it must be quick and must not throw.
 *
 * @example A store that counts records
 * ```ts
 * import type { DispatchRecord, RecordStore } from "@monolith/message-bus";
 *
 * let count = 0;
 * const counting: RecordStore = {
 *   write(_record: DispatchRecord) {
 *     count++;
 *   },
 * };
 * ```
 */
export interface RecordStore {
  /** Takes one record. Its values are as the dispatch saw them. */
  write(record: DispatchRecord): void;
}

/**
 * Options of {@linkcode recorder}.
 *
 * @example
 * ```ts
 * import type { RecorderOptions } from "@monolith/message-bus";
 *
 * const onlyFailures: RecorderOptions = { mode: "errors" };
 * ```
 */
export interface RecorderOptions {
  /**
   * `"all"` records every dispatch; `"errors"` only those that fail.
   *
   * @default {"all"}
   */
  readonly mode?: "all" | "errors";
}

/**
 * A middleware that records every dispatch (or every failed one) to `store`.
 * A synchronous dispatch is recorded when it returns or throws; an
 * asynchronous one when its promise settles, with the time it started. What
 * the caller gets is unchanged; a store that throws is reported on the
 * console and never fails the dispatch.
 *
 * @param store Where the records go.
 * @param options What to record.
 * @returns The middleware, for `createBus` or `createAsyncBus`.
 * @throws {TypeError} When `store` has no `write` method or `mode` is unknown.
 *
 * @example Recording to memory
 * ```ts
 * import { createBus, defineQuery, memoryStore, recorder } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetUser = defineQuery<{ userId: string }, { name: string }>("GetUser");
 * const store = memoryStore();
 * const bus = createBus({ middleware: [recorder(store)] });
 * bus.registerQuery(GetUser, () => ({ name: "Ada" }));
 * bus.send(GetUser({ userId: "1" }));
 *
 * const [record] = store.records;
 * deepStrictEqual(
 *   [record?.type, record?.class, record?.payload, record?.result, record?.error],
 *   ["query", "GetUser", { userId: "1" }, { name: "Ada" }, null],
 * );
 * ```
 */
export function recorder(
  store: RecordStore,
  options: RecorderOptions = {},
): Middleware {
  if (typeof store?.write !== "function") {
    throw new TypeError(
      `Cannot create recorder as 'store' must have a write(record) method: current value is ${
        store === null ? "null" : typeof store
      }`,
    );
  }
  const mode = options.mode ?? "all";
  if (mode !== "all" && mode !== "errors") {
    throw new TypeError(
      `Cannot create recorder as 'mode' must be "all" or "errors": current value is ${
        JSON.stringify(mode)
      }`,
    );
  }
  const onlyErrors = mode === "errors";
  let storeFailed = false;
  return observing((message, start, outcome, failed) => {
    if (onlyErrors && !failed) return;
    const end = performance.now();
    try {
      store.write({
        ts: isoTimestamp(epochMs(start)),
        type: message.kind,
        class: message.type,
        payload: message.payload,
        duration_ns: Math.round((end - start) * 1e6),
        result: failed || outcome === undefined ? null : outcome,
        error: failed ? errorJson(outcome) as RecordedError : null,
        [TRUSTED_TS]: true,
      } as DispatchRecord);
    } catch (error) {
      if (!storeFailed) {
        storeFailed = true;
        console.error("recorder: the store failed to take a record", error);
      }
    }
  });
}
