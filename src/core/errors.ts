/**
 * Error classes that callers catch. Misuse that is a programming mistake (a
 * value that is not a message, a handler that is not a function, a message
 * given to the wrong method) is a built-in `TypeError` instead.
 *
 * @module
 */

import type { Message, MessageKind } from "./messages.ts";

/**
 * The base of every error here that is about one message type: it carries
 * the message's `kind` and `type`, so a caller can catch them alike.
 *
 * @example Telling which message failed
 * ```ts
 * import { createBus, defineQuery, MessageError } from "@monolith/message-bus";
 * import { throws } from "node:assert/strict";
 *
 * const GetUser = defineQuery<{ id: string }, string>("GetUser");
 * throws(
 *   () => createBus().send(GetUser({ id: "1" })),
 *   (error) => error instanceof MessageError && error.kind === "query" && error.type === "GetUser",
 * );
 * ```
 */
export class MessageError extends Error {
  /** The kind of the message. */
  readonly kind: MessageKind;
  /** The name of the message. */
  readonly type: string;

  /**
   * Creates an error about a message type.
   *
   * @param kind The kind of the message.
   * @param type The name of the message.
   * @param message What went wrong and what to do.
   * @param options The `cause`, when there is one.
   */
  constructor(
    kind: MessageKind,
    type: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "MessageError";
    this.kind = kind;
    this.type = type;
  }
}

/**
 * A second handler was registered for a query, command or task, which have
 * exactly one handler each.
 *
 * @example Catching a duplicate registration
 * ```ts
 * import { createBus, defineCommand, DuplicateHandlerError } from "@monolith/message-bus";
 * import { throws } from "node:assert/strict";
 *
 * const Ban = defineCommand<{ id: string }>("Ban");
 * const bus = createBus();
 * bus.registerCommand(Ban, () => {});
 * throws(() => bus.registerCommand(Ban, () => {}), DuplicateHandlerError);
 * ```
 */
export class DuplicateHandlerError extends MessageError {
  /**
   * Creates the error for a second handler of `type`.
   *
   * @param kind The kind of the message.
   * @param type The name of the message.
   */
  constructor(kind: MessageKind, type: string) {
    super(
      kind,
      type,
      `Cannot register a second handler for ${kind} "${type}": a ${kind} has exactly one handler. Remove the first one (call the function its registration returned) before registering another`,
    );
    this.name = "DuplicateHandlerError";
  }
}

/**
 * A query, command or task was dispatched with no handler registered for it.
 *
 * @example Catching a missing handler
 * ```ts
 * import { createBus, defineQuery, NoHandlerError } from "@monolith/message-bus";
 * import { throws } from "node:assert/strict";
 *
 * const GetUser = defineQuery<{ id: string }, string>("GetUser");
 * throws(() => createBus().send(GetUser({ id: "1" })), NoHandlerError);
 * ```
 */
export class NoHandlerError extends MessageError {
  /**
   * Creates the error for a dispatch of `type` that found no handler.
   *
   * @param kind The kind of the message.
   * @param type The name of the message.
   * @param hint What to do about it; defaults to registering a handler.
   */
  constructor(kind: MessageKind, type: string, hint?: string) {
    const register = `register${kind[0]!.toUpperCase()}${kind.slice(1)}`;
    super(
      kind,
      type,
      `No handler for ${kind} "${type}": ${
        hint ?? `register one with ${register}() before dispatching it`
      }`,
    );
    this.name = "NoHandlerError";
  }
}

/**
 * A dispatch or a registration was made on a bus that is closed (or
 * closing: see `close()`).
 *
 * @example Dispatching after close()
 * ```ts
 * import { BusClosedError, createBus, defineQuery } from "@monolith/message-bus";
 * import { throws } from "node:assert/strict";
 *
 * const GetUser = defineQuery<string, string>("GetUser");
 * const bus = createBus();
 * bus.registerQuery(GetUser, (q) => q.payload);
 * bus.close();
 * throws(
 *   () => bus.send(GetUser("u1")),
 *   (error) => error instanceof BusClosedError && error.type === "GetUser",
 * );
 * ```
 */
export class BusClosedError extends MessageError {
  /**
   * Creates the error for a dispatch or registration refused by a closed
   * bus.
   *
   * @param kind The kind of the message.
   * @param type The name of the message.
   * @param method What was called: "send", "registerQuery", ...
   */
  constructor(kind: MessageKind, type: string, method: string) {
    super(
      kind,
      type,
      `Cannot ${method}() ${kind} "${type}": the bus is closed (close() was called). Dispatch and register before closing, or create another bus`,
    );
    this.name = "BusClosedError";
  }
}

/**
 * A dispatch ran past its time limit (see the `timeout` middleware of
 * `@monolith/message-bus/resilience`). The handler's `context.signal` aborted
 * with this error as its reason.
 *
 * @example Catching a timeout
 * ```ts
 * import { createAsyncBus, defineQuery, TimeoutError } from "@monolith/message-bus";
 * import { timeout } from "@monolith/message-bus/resilience";
 * import { createFakeClock } from "@monolith/message-bus/testing";
 * import { rejects } from "node:assert/strict";
 *
 * const GetReport = defineQuery<void, string>("GetReport");
 * const clock = createFakeClock();
 * const bus = createAsyncBus({ middleware: [timeout({ defaultMs: 250, clock })] });
 * bus.registerQuery(GetReport, () => new Promise<string>(() => {})); // never answers
 * const report = bus.send(GetReport());
 * report.catch(() => {});
 * await clock.advance(250);
 * await rejects(
 *   report,
 *   (error) => error instanceof TimeoutError && error.type === "GetReport" && error.limitMs === 250,
 * );
 * ```
 */
export class TimeoutError extends MessageError {
  /** The limit it ran past, in milliseconds. */
  readonly limitMs: number;

  /**
   * Creates the error for a dispatch of `type` that took longer than
   * `limitMs`.
   *
   * @param kind The kind of the message.
   * @param type The name of the message.
   * @param limitMs The time limit, in milliseconds.
   */
  constructor(kind: MessageKind, type: string, limitMs: number) {
    super(
      kind,
      type,
      `${kind[0]!.toUpperCase()}${
        kind.slice(1)
      } "${type}" timed out after ${limitMs} ms: its handler did not finish in time. Raise the limit for this type (timeout({ perType })) or make the handler honour context.signal`,
    );
    this.name = "TimeoutError";
    this.limitMs = limitMs;
  }
}

/**
 * A dispatch was refused without running its handler because the circuit
 * breaker for its message type is open (see `circuitBreaker` in
 * `@monolith/message-bus/resilience`).
 *
 * @example Failing fast
 * ```ts
 * import { CircuitOpenError, createBus, defineCommand } from "@monolith/message-bus";
 * import { circuitBreaker } from "@monolith/message-bus/resilience";
 * import { throws } from "node:assert/strict";
 *
 * const Charge = defineCommand("Charge");
 * const bus = createBus({
 *   middleware: [circuitBreaker({ failureThreshold: 1, recoveryTimeoutMs: 5_000 })],
 * });
 * bus.registerCommand(Charge, () => {
 *   throw new Error("payment provider down");
 * });
 * throws(() => bus.execute(Charge()), /payment provider down/);
 * throws(
 *   () => bus.execute(Charge()),
 *   (error) => error instanceof CircuitOpenError && error.type === "Charge" && error.retryInMs <= 5_000,
 * );
 * ```
 */
export class CircuitOpenError extends MessageError {
  /** How long until the breaker lets a trial dispatch through, in ms. */
  readonly retryInMs: number;

  /**
   * Creates the error for a dispatch refused by an open circuit.
   *
   * @param kind The kind of the message.
   * @param type The name of the message.
   * @param retryInMs How long until a trial dispatch is let through.
   */
  constructor(kind: MessageKind, type: string, retryInMs: number) {
    super(
      kind,
      type,
      `The circuit for ${kind} "${type}" is open after repeated failures: failing fast without running its handler. A trial dispatch is let through ${
        Math.max(0, Math.ceil(retryInMs))
      } ms after it opened`,
    );
    this.name = "CircuitOpenError";
    this.retryInMs = retryInMs;
  }
}

/**
 * A dispatch was refused, or dropped while waiting, because too many
 * dispatches were in flight and the waiting queue was full (see
 * `concurrencyLimit` in `@monolith/message-bus/resilience`), or an event was
 * refused or dropped by a full event queue (see `eventQueue` in the options
 * of `createAsyncBus`).
 *
 * @example Refused by a full queue
 * ```ts
 * import { createAsyncBus, defineTask, QueueFullError } from "@monolith/message-bus";
 * import { concurrencyLimit } from "@monolith/message-bus/resilience";
 * import { rejects } from "node:assert/strict";
 *
 * const Resize = defineTask<string>("Resize");
 * const bus = createAsyncBus({ middleware: [concurrencyLimit({ maxConcurrent: 1, maxQueue: 0 })] });
 * let finish = () => {};
 * bus.registerTask(Resize, () => new Promise<void>((resolve) => (finish = resolve)));
 * const first = bus.dispatch(Resize("a.png"));
 * await rejects(
 *   bus.dispatch(Resize("b.png")),
 *   (error) => error instanceof QueueFullError && error.outcome === "rejected" && error.maxQueue === 0,
 * );
 * finish();
 * await first;
 * ```
 */
export class QueueFullError extends MessageError {
  /** The queue bound that was reached. */
  readonly maxQueue: number;
  /** Whether the dispatch was refused on arrival or dropped while waiting. */
  readonly outcome: "rejected" | "dropped";

  /**
   * Creates the error for a dispatch refused by a full queue.
   *
   * @param kind The kind of the message.
   * @param type The name of the message.
   * @param maxQueue The queue bound.
   * @param outcome "rejected" on arrival, or "dropped" while waiting.
   * @param message What went wrong and what to do, when the queue is not
   * `concurrencyLimit`'s.
   */
  constructor(
    kind: MessageKind,
    type: string,
    maxQueue: number,
    outcome: "rejected" | "dropped",
    message?: string,
  ) {
    super(
      kind,
      type,
      message ??
        (outcome === "rejected"
          ? `Cannot dispatch ${kind} "${type}": the concurrency limit is reached and its queue is full (maxQueue ${maxQueue}). Raise maxConcurrent or maxQueue, or slow the callers down`
          : `Dropped ${kind} "${type}" while it waited: the queue was full (maxQueue ${maxQueue}) and a newer dispatch took its place (strategy "drop-oldest")`),
    );
    this.name = "QueueFullError";
    this.maxQueue = maxQueue;
    this.outcome = outcome;
  }
}

/**
 * Some of the messages given to `handleAll` failed. It is thrown (on the
 * asynchronous bus: rejected with) once every message has been dispatched:
 * `results` holds every outcome by index, as `Promise.allSettled` gives them,
 * and `errors` holds the failures' errors, in order.
 *
 * @example Reading every outcome
 * ```ts
 * import { BatchError, createBus, defineCommand, defineQuery } from "@monolith/message-bus";
 * import { throws } from "node:assert/strict";
 *
 * const GetPrice = defineQuery<string, number>("GetPrice");
 * const Charge = defineCommand<number>("Charge");
 * const bus = createBus();
 * bus.registerQuery(GetPrice, () => 12);
 * bus.registerCommand(Charge, () => {
 *   throw new Error("card declined");
 * });
 * throws(
 *   () => bus.handleAll([GetPrice("book"), Charge(12)]),
 *   (error) =>
 *     error instanceof BatchError &&
 *     error.message === '1 of 2 messages failed in handleAll(): [1] command "Charge": card declined' &&
 *     error.results[0]?.status === "fulfilled" && error.results[0].value === 12 &&
 *     error.results[1]?.status === "rejected",
 * );
 * ```
 */
export class BatchError extends AggregateError {
  /** Every message's outcome, by its index in the list given. */
  readonly results: readonly PromiseSettledResult<unknown>[];

  /**
   * Creates the error for a list of messages some of which failed.
   *
   * @param messages The messages, as given.
   * @param results Their outcomes, by index.
   */
  constructor(
    messages: readonly Message[],
    results: readonly PromiseSettledResult<unknown>[],
  ) {
    const failed: string[] = [];
    const errors: unknown[] = [];
    results.forEach((result, index) => {
      if (result.status === "fulfilled") return;
      errors.push(result.reason);
      const message = messages[index];
      failed.push(
        `[${index}] ${message?.kind} "${message?.type}": ${
          reasonText(result.reason)
        }`,
      );
    });
    const shown = failed.length > LISTED_FAILURES
      ? [...failed.slice(0, LISTED_FAILURES), "..."]
      : failed;
    super(
      errors,
      `${errors.length} of ${results.length} messages failed in handleAll(): ${
        shown.join("; ")
      }`,
    );
    this.name = "BatchError";
    this.results = results;
  }
}

// How many failures a BatchError's message lists; the rest are in .errors.
const LISTED_FAILURES = 3;

// The text of a thrown value, which may itself throw when read.
function reasonText(reason: unknown): string {
  try {
    return reason instanceof Error ? reason.message : String(reason);
  } catch {
    return "a value that cannot be read";
  }
}

/**
 * A handler in another process failed. Its error crossed the broker as its
 * name, message and JSON-safe own properties (`data`), not as the object
 * itself: this error carries the remote `name` and `message`, so
 * `error.name === "ValidationError"` still tells failures apart, but
 * `instanceof` the remote class does not hold. The library's own errors
 * (`NoHandlerError`, `TimeoutError`, `CircuitOpenError`, ...) come back as
 * their own classes instead.
 *
 * @example Telling a remote failure by its name
 * ```ts
 * import { RemoteHandlerError } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const error = new RemoteHandlerError("command", "orders.Place", {
 *   name: "OutOfStock",
 *   message: "sku-1 is out of stock",
 *   data: { sku: "sku-1" },
 * });
 * deepStrictEqual(
 *   [error instanceof RemoteHandlerError, error.name, error.message, error.data],
 *   [true, "OutOfStock", "sku-1 is out of stock", { sku: "sku-1" }],
 * );
 * ```
 */
export class RemoteHandlerError extends MessageError {
  /** The JSON-safe own properties of the remote error, if it had any. */
  readonly data: Readonly<Record<string, unknown>> | undefined;

  /**
   * Creates the error for a remote handler's failure.
   *
   * @param kind The kind of the message.
   * @param type The name of the message.
   * @param remote The remote error's name, message and data.
   */
  constructor(
    kind: MessageKind,
    type: string,
    remote: {
      readonly name: string;
      readonly message: string;
      readonly data?: Readonly<Record<string, unknown>>;
    },
  ) {
    super(kind, type, remote.message);
    this.name = remote.name;
    this.data = remote.data;
  }
}

/**
 * A distributed bus could not hand a message to its broker, or lost it on
 * the way: the bus is closed (`"closed"`), the broker refused the message
 * (`"refused"`: a stream or permission problem, say), or the connection
 * failed and the dispatch could not wait for it (`"disconnected"`). A
 * dispatch that waited for a lost connection until its deadline fails with a
 * `TimeoutError` that says so instead.
 *
 * @example The error of a closed bus
 * ```ts
 * import { TransportError } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const error = new TransportError("query", "GetUser", "closed", "Cannot send query \"GetUser\": the bus is closed");
 * deepStrictEqual([error.name, error.code, error.type], ["TransportError", "closed", "GetUser"]);
 * ```
 */
export class TransportError extends MessageError {
  /** What went wrong. */
  readonly code: "closed" | "refused" | "disconnected";

  /**
   * Creates the error for a message the broker did not take.
   *
   * @param kind The kind of the message.
   * @param type The name of the message.
   * @param code What went wrong.
   * @param message What went wrong and what to do.
   * @param options The broker client's error, as `cause`.
   */
  constructor(
    kind: MessageKind,
    type: string,
    code: "closed" | "refused" | "disconnected",
    message: string,
    options?: ErrorOptions,
  ) {
    super(kind, type, message, options);
    this.name = "TransportError";
    this.code = code;
  }
}
