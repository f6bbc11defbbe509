/**
 * Retrying failed dispatches on the asynchronous bus, with exponential
 * backoff.
 *
 * @module
 */

import { REPEATS_NEXT } from "../_chain.ts";
import type { Context } from "../_context.ts";
import { numberOption } from "../_options.ts";
import { type Clock, systemClock } from "../clock.ts";
import type { AsyncMiddleware } from "../compose.ts";
import { TimeoutError } from "../errors.ts";
import type { AnyMessage } from "../messages.ts";

/**
 * Which errors a retry is worth: a list of error classes, or a predicate.
 *
 * @example
 * ```ts
 * import type { Retryable } from "@monolith/message-bus";
 *
 * class Busy extends Error {}
 * const byClass: Retryable = [Busy, Deno.errors.ConnectionReset];
 * const byTest: Retryable = (error) => error instanceof Error && /busy/.test(error.message);
 * ```
 */
export type Retryable =
  // deno-lint-ignore no-explicit-any
  | readonly (abstract new (...args: any[]) => unknown)[]
  | ((error: unknown) => boolean);

/**
 * Options of {@linkcode retry}.
 *
 * @example
 * ```ts
 * import type { RetryOptions } from "@monolith/message-bus";
 *
 * const options: RetryOptions = { maxAttempts: 5, backoffBase: 1.5, maxBackoff: 10, jitter: 0.2 };
 * ```
 */
export interface RetryOptions {
  /**
   * Attempts in all: the first one and the retries.
   *
   * @default {3}
   */
  readonly maxAttempts?: number;
  /**
   * The delay before retry `n` is `backoffBase ** n` seconds.
   *
   * @default {2}
   */
  readonly backoffBase?: number;
  /**
   * The longest delay, in seconds.
   *
   * @default {60}
   */
  readonly maxBackoff?: number;
  /**
   * Spreads retries of many callers apart: each delay is shortened by a
   * random fraction of itself, up to `jitter` (0 to 1).
   *
   * @default {0}
   */
  readonly jitter?: number;
  /**
   * Which errors to retry; others reach the caller at once. By default:
   * connection errors (`Deno.errors.ConnectionRefused`, `ConnectionReset`,
   * `ConnectionAborted`, `NotConnected`, `BrokenPipe`, `TimedOut`) and
   * timeouts ({@linkcode TimeoutError}, a `DOMException` named
   * "TimeoutError").
   */
  readonly retryable?: Retryable;
  /**
   * Told before each retry: the attempt that failed, its error and the delay.
   */
  readonly onRetry?: (info: RetryInfo) => void;
  /**
   * The clock and timers for the delays; a fake one in tests.
   *
   * @default {systemClock}
   */
  readonly clock?: Clock;
  /**
   * Random numbers in [0, 1) for the jitter.
   *
   * @default {Math.random}
   */
  readonly random?: () => number;
}

/**
 * What {@linkcode RetryOptions.onRetry} is told.
 *
 * @example
 * ```ts
 * import type { RetryInfo } from "@monolith/message-bus";
 *
 * const log = (info: RetryInfo) => `${info.type}: attempt ${info.attempt} failed, again in ${info.delayMs} ms`;
 * ```
 */
export interface RetryInfo {
  /** The message name. */
  readonly type: string;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** Its error. */
  readonly error: unknown;
  /** How long until the next attempt, in milliseconds. */
  readonly delayMs: number;
}

const CONNECTION_ERRORS = [
  Deno.errors.ConnectionRefused,
  Deno.errors.ConnectionReset,
  Deno.errors.ConnectionAborted,
  Deno.errors.NotConnected,
  Deno.errors.BrokenPipe,
  Deno.errors.TimedOut,
];

/** Whether `error` is a connection or timeout error: the default to retry. */
function isTransient(error: unknown): boolean {
  if (error instanceof TimeoutError) return true;
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return true;
  }
  return CONNECTION_ERRORS.some((type) => error instanceof type);
}

function retryableOption(
  retryable: Retryable | undefined,
): (error: unknown) => boolean {
  if (retryable === undefined) return isTransient;
  if (typeof retryable === "function") return retryable;
  if (
    Array.isArray(retryable) &&
    retryable.every((type) => typeof type === "function")
  ) {
    return (error) => retryable.some((type) => error instanceof type);
  }
  throw new RangeError(
    `Cannot create retry as 'retryable' must be a list of error classes or a predicate: current value is ${typeof retryable}`,
  );
}

/**
 * A middleware for the asynchronous bus that retries a failed query,
 * command or task: `maxAttempts` attempts in all, waiting
 * `backoffBase ** n` seconds (at most `maxBackoff`) before retry `n`.
 * Only errors `retryable` accepts are retried; any other reaches the caller
 * at once, as do the errors of the last attempt. Events pass through without
 * retry (their subscribers would all run again). When the dispatch's signal
 * aborts (the caller gave up, or an outer deadline passed), no further
 * attempt is made and the dispatch rejects with the signal's reason.
 *
 * The caller gets the last attempt's error unchanged. A `deadLetter` outside
 * this middleware sees the number of attempts.
 *
 * @param options Attempts, backoff, what to retry, the clock.
 * @returns The middleware.
 * @throws {RangeError} When an option is out of range, naming it and its
 * value.
 *
 * @example Retrying a flaky dependency
 * ```ts
 * import { createAsyncBus, defineQuery, retry } from "@monolith/message-bus";
 * import { createFakeClock } from "@monolith/message-bus/testing";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetQuote = defineQuery<void, number>("GetQuote");
 * const clock = createFakeClock();
 * const bus = createAsyncBus({ middleware: [retry({ clock })] });
 * let calls = 0;
 * bus.registerQuery(GetQuote, () => {
 *   if (++calls < 3) throw new Deno.errors.ConnectionReset("peer reset");
 *   return 42;
 * });
 * const quote = bus.send(GetQuote());
 * await clock.advance(2_000 + 4_000); // the two backoff delays
 * deepStrictEqual(await quote, 42);
 * deepStrictEqual(calls, 3);
 * ```
 */
export function retry(options: RetryOptions = {}): AsyncMiddleware {
  const maxAttempts = numberOption(
    "create retry",
    "maxAttempts",
    options.maxAttempts ?? 3,
    (value) => Number.isInteger(value) && value >= 1,
    "a positive integer",
  );
  const backoffBase = numberOption(
    "create retry",
    "backoffBase",
    options.backoffBase ?? 2,
    (value) => Number.isFinite(value) && value >= 1,
    "a number of at least 1",
  );
  const maxBackoff = numberOption(
    "create retry",
    "maxBackoff",
    options.maxBackoff ?? 60,
    (value) => Number.isFinite(value) && value >= 0,
    "a non-negative number of seconds",
  );
  const jitter = numberOption(
    "create retry",
    "jitter",
    options.jitter ?? 0,
    (value) => value >= 0 && value <= 1,
    "a number from 0 to 1",
  );
  const retryable = retryableOption(options.retryable);
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const onRetry = options.onRetry;

  function delayBefore(retryNumber: number): number {
    const seconds = Math.min(backoffBase ** retryNumber, maxBackoff);
    return seconds * 1000 * (1 - jitter * random());
  }

  function sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clock.clearTimeout(handle);
        reject(signal.reason);
      };
      const handle = clock.setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  const middleware = <M extends AnyMessage, R>(
    message: M,
    next: (message: M) => Promise<R>,
    base: unknown,
  ): Promise<R> => {
    if (message.kind === "event" || maxAttempts === 1) return next(message);
    const context = base as Context;
    const counter = context.slots.attempts;
    if (counter !== undefined) counter.count = 1;
    // The success path of the first attempt costs one `.catch`.
    return next(message).catch(async (first) => {
      let error = first;
      for (let attempt = 1;; attempt++) {
        if (attempt >= maxAttempts || !retryable(error)) throw error;
        if (context.signal.aborted) throw context.signal.reason;
        const delayMs = delayBefore(attempt);
        onRetry?.({ type: message.type, attempt, error, delayMs });
        await sleep(delayMs, context.signal);
        if (counter !== undefined) counter.count = attempt + 1;
        try {
          return await next(message);
        } catch (failure) {
          error = failure;
        }
      }
    });
  };
  // Retrying is calling next() again once the previous attempt has failed.
  return Object.assign(middleware, { [REPEATS_NEXT]: true as const });
}
