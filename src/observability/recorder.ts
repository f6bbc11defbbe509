/**
 * Recording of every dispatch: one record per dispatch, as of dispatch time,
 * handed to a store (`memoryStore` for tests, `jsonlStore` for files). Works
 * on the synchronous and the asynchronous bus.
 *
 * @module
 */

import { type Clock, performanceClock, systemClock } from "../core/clock.ts";
import type { AnyMessage, MessageKind } from "../core/messages.ts";
import type { Middleware, SerializedError } from "../core/types.ts";
import { errorJson } from "../core/_json.ts";
import { rateLimitedLog } from "../core/_rate_limited_log.ts";
import { observing } from "./_observe.ts";
import { THROWN, TRUSTED_TS } from "./_record_line.ts";
import { isoTimestamp } from "./_timestamp.ts";

/**
 * One dispatch, as a recorder hands it to its store. In a JSON Lines file it
 * is written with the format's own field names (`type` for the kind, `class`
 * for the name, `duration_ns`); `readRecording` turns them back into these
 * (see `docs/observability.md` in the repository).
 */
export interface DispatchRecord {
  /** When the dispatch started: ISO 8601, UTC, with microseconds. */
  readonly ts: string;
  /** The message's kind. */
  readonly kind: MessageKind;
  /** The message's name. */
  readonly type: string;
  /** The message's payload. */
  readonly payload: unknown;
  /**
   * How long the dispatch took, to its result or error (or its promise's),
   * in milliseconds.
   */
  readonly durationMs: number;
  /** The result; `null` for none and for a failed dispatch. */
  readonly result: unknown;
  /** The error of a failed dispatch, else `null`. */
  readonly error: SerializedError | null;
  /** The dispatch's id (`context.id`); absent in older recordings. */
  readonly id?: string;
  /** The id of the outermost dispatch it belongs to (`context.correlationId`). */
  readonly correlationId?: string;
  /** The id of the dispatch that caused it (`context.causationId`), if any. */
  readonly causationId?: string;
  /**
   * The module the dispatch came from when a handler said so (a subscriber's
   * `module` option, or its session's id); else absent.
   */
  readonly origin?: string;
}

/**
 * Where a recorder puts its records. `write` is called on the dispatch path,
 * once per recorded dispatch: it must be quick and should not throw. A
 * recorder reports a `write` that throws, or returns a promise that rejects,
 * on the console, and the dispatch goes on.
 */
export interface RecordStore {
  /** Takes one record. Its values are as the dispatch saw them. */
  write(record: DispatchRecord): void;
}

/** Options of {@linkcode recorder}. */
export interface RecorderOptions {
  /**
   * `"all"` records every dispatch; `"errors"` only those that fail.
   *
   * @default {"all"}
   */
  readonly mode?: "all" | "errors";
  /**
   * The clock that times dispatches. With the default, `ts` is the wall
   * time; another clock's `now()` is taken as epoch milliseconds for `ts`.
   *
   * @default {performanceClock}
   */
  readonly clock?: Clock;
}

/**
 * A middleware that records every dispatch (or every failed one) to `store`.
 * A synchronous dispatch is recorded when it returns or throws; an
 * asynchronous one when its promise settles, with the time it started. What
 * the caller gets is unchanged. A store that throws, or whose `write`
 * returns a promise that rejects, never fails the dispatch; each failure is
 * reported on the console, naming the dispatch: at once when the previous
 * report is older than 10 s, else summed up in one line when those 10 s end
 * (timed by `clock`).
 *
 * @param store Where the records go.
 * @param options What to record, and the clock.
 * @returns The middleware, for `createBus` or `createAsyncBus`.
 * @throws {TypeError} When `store` has no `write` method or `mode` is unknown.
 *
 * @example Recording to memory
 * ```ts
 * import { createBus, defineQuery } from "@monolith/message-bus";
 * import { memoryStore, recorder } from "@monolith/message-bus/observability";
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
 *   [record?.kind, record?.type, record?.payload, record?.result, record?.error],
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
  const clock = options.clock ?? performanceClock;
  const now = clock === performanceClock ? () => performance.now() : clock.now;
  const epoch = clock === performanceClock ? performance.timeOrigin : 0;
  const onlyErrors = mode === "errors";
  const failures = rateLimitedLog(
    (line, error) => console.error(line, error),
    clock,
    clock === performanceClock || clock === systemClock,
  );
  function storeFailed(message: AnyMessage, error: unknown): void {
    failures.report(
      `recorder: the store failed to take the record of ${message.kind} "${message.type}"`,
      error,
    );
  }
  function watch(returned: unknown, message: AnyMessage): void {
    try {
      const then = (returned as PromiseLike<unknown>).then;
      if (typeof then === "function") {
        then.call(
          returned,
          undefined,
          (error: unknown) => storeFailed(message, error),
        );
      }
    } catch (error) {
      storeFailed(message, error);
    }
  }
  return observing((message, start, outcome, failed, context) => {
    if (onlyErrors && !failed) return;
    const end = now();
    let returned: unknown;
    try {
      returned = store.write({
        ts: isoTimestamp(epoch + start),
        kind: message.kind,
        type: message.type,
        payload: message.payload,
        durationMs: end - start,
        result: failed || outcome === undefined ? null : outcome,
        error: failed ? errorJson(outcome) : null,
        id: context.id,
        correlationId: context.correlationId,
        causationId: context.causationId,
        origin: context.origin,
        [TRUSTED_TS]: true,
        [THROWN]: failed ? outcome : undefined,
      } as DispatchRecord);
    } catch (error) {
      storeFailed(message, error);
      return;
    }
    // A store is typed to return nothing; one that returns a promise gets
    // its rejection reported rather than left unhandled.
    if (returned !== undefined && returned !== null) watch(returned, message);
  }, now);
}
