/**
 * Dead letters: every failed command, task and event delivery is kept, with
 * what is needed to deliver it again later ({@linkcode redeliver}).
 *
 * @module
 */

import type { Context, ContextChange } from "../_context.ts";
import { errorJson, toJsonValue } from "../_json.ts";
import { DELIVER_TO, type Deliverable, dispatchByKind } from "../_registry.ts";
import type { Middleware } from "../compose.ts";
import type { AsyncMessageBus, MessageBus } from "../interfaces.ts";
import type { AnyMessage, MessageKind } from "../messages.ts";
import type { RecordedError } from "./recorder.ts";

/**
 * One failed delivery.
 *
 * @example
 * ```ts
 * import type { DeadLetter } from "@monolith/message-bus";
 *
 * const describe = (letter: DeadLetter) =>
 *   `${letter.message.type} failed in ${letter.handler} after ${letter.attempts} attempts: ${letter.error.message}`;
 * ```
 */
export interface DeadLetter {
  /** A unique id. */
  readonly id: string;
  /** The message, in its JSON form. */
  readonly message: {
    readonly kind: MessageKind;
    readonly type: string;
    readonly payload: unknown;
  };
  /** The error, as a record holds it. */
  readonly error: RecordedError;
  /**
   * The name of the handler that failed (for an event: the subscriber), or
   * `null` when no handler ran (none was registered, or a middleware failed).
   */
  readonly handler: string | null;
  /** How many attempts were made (more than 1 under `retry`). */
  readonly attempts: number;
  /** When it was dead-lettered: ISO 8601, UTC. */
  readonly at: string;
}

/**
 * Where dead letters are kept: {@linkcode memoryDeadLetterStore} or
 * {@linkcode jsonlDeadLetterStore}.
 *
 * @example
 * ```ts
 * import { memoryDeadLetterStore, type DeadLetterStore } from "@monolith/message-bus";
 *
 * const store: DeadLetterStore = memoryDeadLetterStore();
 * ```
 */
export interface DeadLetterStore {
  /** Keeps a dead letter. Called on the dispatch path: quick, never throws. */
  add(letter: DeadLetter): void;
  /** Every dead letter kept, oldest first. */
  list(): Promise<readonly DeadLetter[]>;
  /** Forgets the dead letters with these ids. */
  remove(ids: readonly string[]): Promise<void>;
}

/**
 * Options of {@linkcode deadLetter}.
 *
 * @example
 * ```ts
 * import type { DeadLetterOptions } from "@monolith/message-bus";
 *
 * const options: DeadLetterOptions = { now: () => Date.parse("2026-02-12T14:30:45Z") };
 * ```
 */
export interface DeadLetterOptions {
  /**
   * The wall clock for `at`, in epoch milliseconds; a fake one in tests.
   *
   * @default {Date.now}
   */
  readonly now?: () => number;
}

/**
 * A middleware for the synchronous or asynchronous bus that keeps every failed
 * command, task and event delivery in `store`: one dead letter per failing
 * subscriber of an event, with its name. What the caller sees does not change
 * (the same error, at the same time). Queries are not dead-lettered: their
 * caller is waiting for the answer and gets the error.
 *
 * Put it first (outermost): under `retry` it sees only the error of the last
 * attempt, and records how many attempts were made.
 *
 * @param store Where dead letters go.
 * @param options The clock for the time stamp.
 * @returns The middleware.
 * @throws {TypeError} When `store` has no `add` method.
 *
 * @example Keeping failed work for later
 * ```ts
 * import { createBus, deadLetter, defineEvent, memoryDeadLetterStore } from "@monolith/message-bus";
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
 *   [letter?.handler, letter?.error.message, letter?.message.payload, letter?.attempts],
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
  const now = options.now ?? Date.now;

  function keep(
    message: AnyMessage,
    error: unknown,
    handler: string | null,
    attempts: number,
  ): void {
    try {
      store.add({
        id: crypto.randomUUID(),
        message: toJsonValue({
          kind: message.kind,
          type: message.type,
          payload: message.payload,
        }) as DeadLetter["message"],
        error: errorJson(error) as RecordedError,
        handler,
        attempts,
        at: new Date(now()).toISOString(),
      });
    } catch (failure) {
      console.error(
        "deadLetter: the store failed to keep a dead letter",
        failure,
      );
    }
  }

  return <M extends AnyMessage, R>(
    message: M,
    publicNext: (message: M) => R,
    base: unknown,
  ): R => {
    // The change carries private slots, which only the built-in chain reads.
    const next = publicNext as (message: M, change: ContextChange) => R;
    // A redelivery that fails again keeps its dead letter; it adds none.
    if (message.kind === "query" || redelivering.has(message)) {
      return publicNext(message);
    }
    const context = base as Context;
    const attempts = { count: 1 };
    const failures: { handler: string; error: unknown }[] = [];
    const change = {
      slots: {
        attempts,
        onHandlerFailure: (handler: string, error: unknown) => {
          failures.push({ handler, error });
        },
      },
    };
    const record = (error: unknown) => {
      if (message.kind === "event" && failures.length > 0) {
        for (const failure of failures) {
          keep(message, failure.error, failure.handler, attempts.count);
        }
      } else {
        keep(
          message,
          error,
          message.kind === "event"
            ? null
            : context.router.handlerName(message) ?? null,
          attempts.count,
        );
      }
    };
    let result: R;
    try {
      result = next(message, change);
    } catch (error) {
      record(error);
      throw error;
    }
    if (result instanceof Promise) {
      return result.catch((error) => {
        record(error);
        throw error;
      }) as R;
    }
    return result;
  };
}

/**
 * What {@linkcode redeliver} did.
 *
 * @example
 * ```ts
 * import type { RedeliveryReport } from "@monolith/message-bus";
 *
 * const summary = (r: RedeliveryReport) => `${r.delivered.length} delivered, ${r.failed.length} still failing`;
 * ```
 */
export interface RedeliveryReport {
  /** The dead letters that were delivered, and removed from the store. */
  readonly delivered: readonly DeadLetter[];
  /** The dead letters that failed again (they stay), with the new error. */
  readonly failed: readonly {
    readonly letter: DeadLetter;
    readonly error: unknown;
  }[];
}

/**
 * Delivers the dead letters of `store` again, oldest first, and removes those
 * that now succeed. An event's dead letter goes to the one subscriber that
 * failed (found by name), not to every subscriber again; the others are
 * dispatched as they were. Payloads arrive in their JSON form.
 *
 * @param store The dead letters.
 * @param bus The bus to deliver into (synchronous or asynchronous).
 * @returns What was delivered and what failed again.
 *
 * @example
 * ```ts
 * import { createBus, deadLetter, defineCommand, memoryDeadLetterStore, redeliver } from "@monolith/message-bus";
 * import { deepStrictEqual, throws } from "node:assert/strict";
 *
 * const Ship = defineCommand<{ id: string }>("Ship");
 * const store = memoryDeadLetterStore();
 * const bus = createBus({ middleware: [deadLetter(store)] });
 * let carrierUp = false;
 * bus.registerCommand(Ship, function shipWithCarrier() {
 *   if (!carrierUp) throw new Error("carrier API down");
 * });
 * throws(() => bus.execute(Ship({ id: "o-1" })));
 *
 * carrierUp = true;
 * const report = await redeliver(store, bus);
 * deepStrictEqual([report.delivered.length, (await store.list()).length], [1, 0]);
 * ```
 */
export async function redeliver(
  store: DeadLetterStore,
  bus: MessageBus | AsyncMessageBus,
): Promise<RedeliveryReport> {
  const delivered: DeadLetter[] = [];
  const failed: { letter: DeadLetter; error: unknown }[] = [];
  for (const letter of await store.list()) {
    try {
      await deliver(bus, letter);
      delivered.push(letter);
    } catch (error) {
      failed.push({ letter, error });
    }
  }
  if (delivered.length > 0) {
    await store.remove(delivered.map((letter) => letter.id));
  }
  return { delivered, failed };
}

// Messages being redelivered: deadLetter does not keep them a second time.
const redelivering = new WeakSet<object>();

function deliver(
  bus: MessageBus | AsyncMessageBus,
  letter: DeadLetter,
): unknown {
  const message = { ...letter.message } as AnyMessage;
  redelivering.add(message);
  const deliverTo = (bus as Deliverable)[DELIVER_TO];
  if (message.kind === "event" && letter.handler !== null && deliverTo) {
    return deliverTo(message, letter.handler);
  }
  return dispatchByKind(bus as MessageBus, message);
}
