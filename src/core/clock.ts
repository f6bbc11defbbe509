/**
 * The clocks timed middleware read. Pass a fake one (see `createFakeClock` in
 * `@monolith/message-bus/testing`) so that tests of timeouts, retries, circuit
 * breakers and latency run in milliseconds.
 *
 * @module
 */

/**
 * A clock with timers. Every timed middleware takes one as its `clock`
 * option.
 */
export interface Clock {
  /** The time in milliseconds, from any fixed start. */
  now(): number;
  /** Calls `callback` once, after `ms` milliseconds. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer `setTimeout` returned. */
  clearTimeout(handle: unknown): void;
}

/**
 * The wall clock: `Date.now()` (epoch milliseconds) and the runtime's timers.
 * `timeout`, `retry`, `circuitBreaker` and `deadLetter` use it by default, so
 * a deadline in its time compares with `Date.now()`. Reading it is cheaper
 * than reading `performance.now()`, which matters to `timeout`, which reads it
 * on every dispatch; its resolution is a millisecond.
 *
 * @example Waiting on it
 * ```ts
 * import { systemClock } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const started = systemClock.now();
 * await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 5));
 * deepStrictEqual(systemClock.now() - started >= 4, true);
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

/**
 * The high-resolution clock: `performance.now()` (fractions of a
 * millisecond since the process started) and the runtime's timers. `latency`,
 * `metrics` and `recorder` use it by default to time dispatches.
 *
 * @example Timing some work
 * ```ts
 * import { performanceClock } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const start = performanceClock.now();
 * for (let i = 0; i < 1_000; i++) Math.sqrt(i);
 * deepStrictEqual(performanceClock.now() >= start, true);
 * ```
 */
export const performanceClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};
