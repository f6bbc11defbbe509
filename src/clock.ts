/**
 * The clock and timers that timed middleware use. Pass a fake one (see
 * `createFakeClock` in `@monolith/message-bus/testing`) so that tests of
 * timeouts, retries and circuit breakers run in milliseconds.
 *
 * @module
 */

/**
 * A clock with timers.
 *
 * @example A clock that runs twice as fast
 * ```ts
 * import { type Clock, systemClock } from "@monolith/message-bus";
 *
 * const fast: Clock = {
 *   now: () => systemClock.now() * 2,
 *   setTimeout: (callback, ms) => systemClock.setTimeout(callback, ms / 2),
 *   clearTimeout: (handle) => systemClock.clearTimeout(handle),
 * };
 * ```
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
 * The real clock: `Date.now()` and the runtime's timers. Deadlines, backoff
 * and recovery times need milliseconds, not microseconds, and `Date.now()`
 * costs a third of `performance.now()` in Deno, which matters when a
 * `timeout` reads it on every dispatch. Deadlines are therefore epoch
 * milliseconds, comparable with `Date.now()`.
 *
 * @example
 * ```ts
 * import { systemClock } from "@monolith/message-bus";
 *
 * const started = systemClock.now();
 * await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 1));
 * console.log(`${systemClock.now() - started} ms later`);
 * ```
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};
