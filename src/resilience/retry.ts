/**
 * Retrying failed dispatches on the asynchronous bus, with exponential
 * backoff.
 *
 * @module
 */

import { asyncOnly } from "../core/async_only.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import { TimeoutError } from "../core/errors.ts";
import type { AnyMessage } from "../core/messages.ts";
import type {
  AsyncDispatchContext,
  AsyncMiddleware,
  NextFunction,
} from "../core/types.ts";
import {
  clockOption,
  functionOption,
  numberOption,
  optionsObject,
  timerMsOption,
} from "../core/_options.ts";

/** Which errors a retry is worth: a list of error classes, or a predicate. */
export type Retryable =
  // deno-lint-ignore no-explicit-any
  | readonly (abstract new (...args: any[]) => unknown)[]
  | ((error: unknown) => boolean);

/** Options of {@linkcode retry}. */
export interface RetryOptions {
  /**
   * Attempts in all: the first one and the retries.
   *
   * @default {3}
   */
  readonly maxAttempts?: number;
  /**
   * The delay before the first retry, in milliseconds.
   *
   * @default {2000}
   */
  readonly delayMs?: number;
  /**
   * Each further delay is this many times the one before: the delay before
   * retry `n` is `delayMs * multiplier ** (n - 1)`.
   *
   * @default {2}
   */
  readonly multiplier?: number;
  /**
   * The longest delay, in milliseconds.
   *
   * @default {60000}
   */
  readonly maxDelayMs?: number;
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
   * timeouts (`TimeoutError`, a `DOMException` named "TimeoutError").
   */
  readonly retryable?: Retryable;
  /**
   * Told before each retry: the attempt that failed, its error and the delay.
   * If it throws, its error is reported on the console and the retry goes on.
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

/** What {@linkcode RetryOptions.onRetry} is told. */
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
  if (Array.isArray(retryable) && retryable.length === 0) {
    throw new RangeError(
      "Cannot create retry as 'retryable' must list at least one error class: current value is [] (which would never retry). Leave it out for the default, connection errors and timeouts",
    );
  }
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

const ACTION = "create retry";

function atLeast(name: string, value: unknown, min: number): number {
  return numberOption(
    ACTION,
    name,
    value,
    (number) => Number.isFinite(number) && number >= min,
    `a number of at least ${min}`,
  );
}

function delayOption(name: string, value: unknown): number {
  return timerMsOption(
    ACTION,
    name,
    value,
    (number) => Number.isFinite(number) && number >= 0,
    "a number of at least 0",
  );
}

/**
 * A middleware for the asynchronous bus that retries a failed query,
 * command or task: `maxAttempts` attempts in all, waiting
 * `delayMs * multiplier ** (n - 1)` milliseconds (at most `maxDelayMs`)
 * before retry `n`; the defaults wait 2 s, then 4 s. Only errors `retryable`
 * accepts are retried; any other reaches the caller at once, as do the
 * errors of the last attempt. Events pass through without retry (their
 * subscribers would all run again). When the dispatch's signal aborts (the
 * caller gave up, or an outer deadline passed), no further attempt is made
 * and the dispatch rejects with the signal's reason; nor is a delay started
 * that would end at or after the dispatch's `context.deadline` (read in this
 * middleware's clock): the dispatch fails at once with the error of the
 * attempt that failed.
 *
 * Each attempt runs with `context.attempt` set to its number, through
 * `next(message, { attempt })`. The caller gets the last attempt's error
 * unchanged.
 *
 * @param options Attempts, backoff, what to retry, the clock.
 * @returns The middleware.
 * @throws {TypeError} When `options`, `clock`, `onRetry` or `random` is not
 * what it should be (a clock has `now`, `setTimeout` and `clearTimeout`).
 * @throws {RangeError} When an option is out of range, naming it and its
 * value; delays of more than 2³¹ − 1 ms, which no timer waits, included.
 *
 * @example Retrying a flaky dependency
 * ```ts
 * import { createAsyncBus, defineQuery } from "@monolith/message-bus";
 * import { retry } from "@monolith/message-bus/resilience";
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
export function retry(options?: RetryOptions): AsyncMiddleware {
  const given: RetryOptions = optionsObject(ACTION, options);
  const maxAttempts = numberOption(
    ACTION,
    "maxAttempts",
    given.maxAttempts ?? 3,
    (value) => Number.isInteger(value) && value >= 1,
    "a positive integer",
  );
  const delayMs = delayOption("delayMs", given.delayMs ?? 2_000);
  const multiplier = atLeast("multiplier", given.multiplier ?? 2, 1);
  const maxDelayMs = delayOption("maxDelayMs", given.maxDelayMs ?? 60_000);
  const jitter = numberOption(
    ACTION,
    "jitter",
    given.jitter ?? 0,
    (value) => value >= 0 && value <= 1,
    "a number from 0 to 1",
  );
  const retryable = retryableOption(given.retryable);
  const clock = clockOption(ACTION, given.clock, systemClock);
  const random = functionOption(ACTION, "random", given.random) ??
    Math.random;
  const onRetry = functionOption(ACTION, "onRetry", given.onRetry);

  // A callback that throws must not replace the dispatch's own outcome.
  function tellRetry(message: AnyMessage, info: RetryInfo): void {
    try {
      onRetry!(info);
    } catch (error) {
      console.error(
        `retry: 'onRetry' threw for ${message.kind} "${message.type}"; the retry goes on:`,
        error,
      );
    }
  }

  // A `retryable` predicate that throws does not replace the handler's error:
  // it is reported, and the error is not retried.
  function worthRetrying(message: AnyMessage, error: unknown): boolean {
    try {
      return retryable(error);
    } catch (failure) {
      console.error(
        `retry: 'retryable' threw for ${message.kind} "${message.type}"; the handler's error is not retried:`,
        failure,
      );
      return false;
    }
  }

  function delayBefore(retryNumber: number): number {
    const ms = Math.min(delayMs * multiplier ** (retryNumber - 1), maxDelayMs);
    return ms * (1 - jitter * random());
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

  return asyncOnly(<M extends AnyMessage, R>(
    message: M,
    next: NextFunction<M, Promise<R>>,
    context: AsyncDispatchContext,
  ): Promise<R> => {
    if (message.kind === "event" || maxAttempts === 1) return next(message);
    // The success path of the first attempt costs one `.catch`.
    return next(message).catch(async (first) => {
      let error = first;
      for (let attempt = 1;; attempt++) {
        if (attempt >= maxAttempts || !worthRetrying(message, error)) {
          throw error;
        }
        if (context.signal.aborted) throw context.signal.reason;
        const delayMs = delayBefore(attempt);
        // A retry that could only start once the caller has given up is
        // not worth the wait.
        const deadline = context.deadline;
        if (deadline !== undefined && clock.now() + delayMs >= deadline) {
          throw error;
        }
        if (onRetry !== undefined) {
          tellRetry(message, { type: message.type, attempt, error, delayMs });
        }
        await sleep(delayMs, context.signal);
        try {
          return await next(message, { attempt: attempt + 1 });
        } catch (failure) {
          error = failure;
        }
      }
    });
  });
}
