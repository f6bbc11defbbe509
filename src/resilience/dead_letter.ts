/**
 * Dead letters: every failed command, task and event delivery is kept, with
 * what is needed to deliver it again later (see `redeliver`).
 *
 * @module
 */

import { type Clock, systemClock } from "../core/clock.ts";
import type { AnyMessage, MessageKind } from "../core/messages.ts";
import type {
  HandlerCall,
  HandlerFailure,
  Middleware,
  MiddlewareContext,
  NextFunction,
  SerializedError,
} from "../core/types.ts";
import { errorJson, toJsonValue } from "../core/_json.ts";

/** One failed delivery. */
export interface DeadLetter {
  /**
   * A unique id. When the failed dispatch had an id (`context.id`), the
   * letter's id derives from it, so that a redelivery that fails again
   * replaces its letter instead of adding one.
   */
  readonly id: string;
  /** The message, in its JSON form. */
  readonly message: {
    readonly kind: MessageKind;
    readonly type: string;
    readonly payload: unknown;
  };
  /** The error, in its JSON form: name, message, inner errors, cause. */
  readonly error: SerializedError;
  /**
   * The function name of the handler that failed (for an event: the
   * subscriber), or `null` when no handler ran (none was registered, or a
   * middleware refused the dispatch).
   */
  readonly handler: string | null;
  /**
   * For an event: the id of the subscriber that failed, which `redeliver`
   * delivers to; otherwise `null`.
   */
  readonly subscriber: string | null;
  /** How many attempts were made (more than 1 under `retry`). */
  readonly attempts: number;
  /** When it was dead-lettered: ISO 8601, UTC. */
  readonly at: string;
}

/**
 * Where dead letters are kept: `memoryDeadLetterStore()` or
 * `jsonlDeadLetterStore()`, or your own.
 *
 * A store with `claim` and `release` (both built-in stores have them) lets
 * `redeliver` claim letters before it delivers them, so that concurrent
 * redeliveries never deliver one letter twice. A store without them still
 * works, but concurrent redeliveries from it may each deliver a letter.
 */
export interface DeadLetterStore {
  /**
   * Keeps a dead letter; one with the id of a kept letter replaces it (and
   * keeps its claim). Called on the dispatch path, so it should be quick;
   * `deadLetter` does not wait for a promise it returns. A throw or a
   * rejection loses that letter, and `deadLetter` reports it.
   */
  add(letter: DeadLetter): void | Promise<void>;
  /** Every dead letter kept, oldest first, claimed or not. */
  list(): Promise<readonly DeadLetter[]>;
  /** Forgets the dead letters with these ids, and ends their claims. */
  remove(ids: readonly string[]): Promise<void>;
  /**
   * Claims letters for one redelivery: resolves to the ids, among `ids`, of
   * the letters that are kept and that no one had claimed; they are now
   * claimed by the caller. A claimed letter stays listed. Its claim ends with
   * `remove` or `release`. Optional; a store that has it has `release` too.
   * A store shared by processes should let a claim expire (a lease), so that
   * a process that dies mid-redelivery does not hold its letters forever.
   */
  claim?(ids: readonly string[]): Promise<readonly string[]>;
  /** Ends the claims on these letters without removing them. */
  release?(ids: readonly string[]): Promise<void>;
  /**
   * Field names whose values the store must not keep. `deadLetter` writes
   * them as `"***REDACTED***"`, at any depth of the payload and of the
   * error's inner errors and cause, as it turns them into their JSON form.
   */
  readonly redact?: readonly string[];
}

/** Options of {@linkcode deadLetter}. */
export interface DeadLetterOptions {
  /**
   * The clock for `at`, in epoch milliseconds; a fake one in tests.
   *
   * @default {systemClock}
   */
  readonly clock?: Clock;
}

// While a store keeps failing, how often the count of lost letters is printed.
const REPORT_EVERY_MS = 60_000;

/**
 * A middleware for the synchronous or asynchronous bus that keeps every failed
 * command, task and event delivery in `store`: one dead letter per failing
 * subscriber of an event, with its id. What the caller sees does not change
 * (the same error, at the same time). Queries are not dead-lettered: their
 * caller is waiting for the answer and gets the error.
 *
 * Put it first (outermost): under `retry` it sees only the outcome of the
 * last attempt, and records how many attempts were made. It learns which
 * handler ran and failed through a `HandlerObserver` it passes to `next`.
 *
 * When the store fails to keep a letter (`add` throws, or the promise it
 * returns rejects), the letter is lost and `console.error` says so, naming
 * the message's kind and type. Once per burst of failures: further failures
 * are counted, and the count is printed when the store keeps a letter again,
 * and at most once a minute (by `clock`) while the failures go on.
 *
 * @param store Where dead letters go; its `redact` fields are redacted.
 * @param options The clock for the time stamp.
 * @returns The middleware.
 * @throws {TypeError} When `store` has no `add` method, or its `redact` is
 * not an array of field names.
 *
 * @example Keeping failed work for later
 * ```ts
 * import { createBus, defineEvent } from "@monolith/message-bus";
 * import { deadLetter, memoryDeadLetterStore } from "@monolith/message-bus/resilience";
 * import { deepStrictEqual, throws } from "node:assert/strict";
 *
 * const OrderPlaced = defineEvent<{ id: string }>("OrderPlaced");
 * const store = memoryDeadLetterStore();
 * const bus = createBus({ middleware: [deadLetter(store)] });
 * bus.subscribe(OrderPlaced, function reserveStock() {});
 * bus.subscribe(OrderPlaced, function sendReceipt() {
 *   throw new Error("mail server down");
 * });
 * throws(() => bus.publish(OrderPlaced({ id: "o-1" })), { message: "mail server down" });
 * const [letter] = await store.list();
 * deepStrictEqual(
 *   [letter?.subscriber, letter?.error.message, letter?.message.payload, letter?.attempts],
 *   ["sendReceipt", "mail server down", { id: "o-1" }, 1],
 * );
 * ```
 */
export function deadLetter(
  store: DeadLetterStore,
  options: DeadLetterOptions = {},
): Middleware {
  if (typeof store?.add !== "function") {
    throw new TypeError(
      `Cannot create deadLetter as 'store' must have an add(letter) method: current value is ${
        store === null ? "null" : typeof store
      }`,
    );
  }
  const redactList = store.redact;
  if (
    redactList !== undefined &&
    (!Array.isArray(redactList) ||
      !redactList.every((field) => typeof field === "string"))
  ) {
    throw new TypeError(
      `Cannot create deadLetter as the store's 'redact' must be an array of field names: current value is ${
        JSON.stringify(redactList)
      }`,
    );
  }
  const redact = redactList !== undefined && redactList.length > 0
    ? new Set(redactList)
    : undefined;
  const clock = options.clock ?? systemClock;

  // Store failures, reported once per burst: the first one is printed, the
  // rest are counted until the store keeps a letter again.
  let inBurst = false;
  let uncounted = 0;
  let lastReportAt = 0;
  let lastLost = "";

  function lost(message: AnyMessage, failure: unknown): void {
    const what = `${message.kind} "${message.type}"`;
    if (!inBurst) {
      inBurst = true;
      lastReportAt = clock.now();
      console.error(
        `deadLetter: the store failed to keep the dead letter of ${what}, which is lost. Until it keeps one again, further losses are counted, not printed one by one.`,
        failure,
      );
      return;
    }
    uncounted++;
    lastLost = what;
    if (clock.now() - lastReportAt >= REPORT_EVERY_MS) report("still fails");
  }

  function report(state: string): void {
    console.error(
      `deadLetter: the store ${state}; ${uncounted} more dead letters were lost (the last of ${lastLost})`,
    );
    uncounted = 0;
    lastReportAt = clock.now();
  }

  function kept(): void {
    if (!inBurst) return;
    inBurst = false;
    if (uncounted > 0) report("keeps dead letters again");
  }

  function keep(
    id: string,
    message: AnyMessage,
    error: unknown,
    call: HandlerCall | undefined,
    attempts: number,
  ): void {
    let result: unknown;
    try {
      result = store.add({
        id,
        message: jsonMessage(message, redact),
        error: redact !== undefined && error instanceof Error
          ? toJsonValue(error, redact) as SerializedError
          : errorJson(error),
        handler: call?.handler ?? null,
        subscriber: call?.subscriber ?? null,
        attempts,
        at: new Date(clock.now()).toISOString(),
      });
    } catch (failure) {
      lost(message, failure);
      return;
    }
    if (typeof (result as PromiseLike<void> | undefined)?.then === "function") {
      Promise.resolve(result).then(kept, (failure) => lost(message, failure));
    } else {
      kept();
    }
  }

  // What the last try of one dispatch did, as the observer was told.
  interface Outcome {
    attempt: number;
    last: HandlerCall | undefined;
    failures: HandlerFailure[];
  }

  function record(
    message: AnyMessage,
    context: MiddlewareContext,
    error: unknown,
    outcome: Outcome,
  ): void {
    const own = context.id ?? crypto.randomUUID();
    const { attempt, last, failures } = outcome;
    // A publish to every subscriber: one letter per failed subscriber, each
    // with an id of its own.
    if (
      message.kind === "event" && context.subscriber === undefined &&
      failures.length > 0
    ) {
      for (const failure of failures) {
        keep(
          context.id === undefined
            ? crypto.randomUUID()
            : `${own}/${failure.subscriber}`,
          message,
          failure.error,
          failure,
          attempt,
        );
      }
      return;
    }
    keep(own, message, error, last, attempt);
  }

  return <M extends AnyMessage, R>(
    message: M,
    next: NextFunction<M, R>,
    context: MiddlewareContext,
  ): R => {
    if (message.kind === "query") return next(message);
    const outcome: Outcome = { attempt: 1, last: undefined, failures: [] };
    const observer = {
      // A new try starts afresh: the letter tells of the last one.
      onAttempt: (attempt: number) => {
        outcome.attempt = attempt;
        outcome.last = undefined;
        outcome.failures = [];
      },
      onCall: (call: HandlerCall) => {
        outcome.last = call;
      },
      onError: (failure: HandlerFailure) => {
        outcome.failures.push(failure);
      },
    };
    let result: R;
    try {
      result = next(message, { observer });
    } catch (error) {
      record(message, context, error, outcome);
      throw error;
    }
    if (result instanceof Promise) {
      return result.catch((error) => {
        record(message, context, error, outcome);
        throw error;
      }) as R;
    }
    return result;
  };
}

// The message in its JSON form; an undefined payload is left out, as JSON
// leaves out an undefined property.
function jsonMessage(
  message: AnyMessage,
  redact: ReadonlySet<string> | undefined,
): DeadLetter["message"] {
  const { kind, type, payload } = message;
  return (payload === undefined
    ? { kind, type }
    : { kind, type, payload: toJsonValue(payload, redact) }) as DeadLetter[
      "message"
    ];
}
