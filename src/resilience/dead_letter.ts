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
 */
export interface DeadLetterStore {
  /**
   * Keeps a dead letter; one with the id of a kept letter replaces it.
   * Called on the dispatch path: quick, never throws.
   */
  add(letter: DeadLetter): void;
  /** Every dead letter kept, oldest first. */
  list(): Promise<readonly DeadLetter[]>;
  /** Forgets the dead letters with these ids. */
  remove(ids: readonly string[]): Promise<void>;
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
 * @param store Where dead letters go.
 * @param options The clock for the time stamp.
 * @returns The middleware.
 * @throws {TypeError} When `store` has no `add` method.
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
  const clock = options.clock ?? systemClock;

  function keep(
    id: string,
    message: AnyMessage,
    error: unknown,
    call: HandlerCall | undefined,
    attempts: number,
  ): void {
    try {
      store.add({
        id,
        message: toJsonValue({
          kind: message.kind,
          type: message.type,
          payload: message.payload,
        }) as DeadLetter["message"],
        error: errorJson(error),
        handler: call?.handler ?? null,
        subscriber: call?.subscriber ?? null,
        attempts,
        at: new Date(clock.now()).toISOString(),
      });
    } catch (failure) {
      console.error(
        `deadLetter: the store failed to keep the dead letter of ${message.kind} "${message.type}"`,
        failure,
      );
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
