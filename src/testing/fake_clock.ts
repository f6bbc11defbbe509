/**
 * A fake clock for tests of timed middleware.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";

/**
 * A clock whose time moves only when a test says so; see
 * {@linkcode createFakeClock}.
 */
export interface FakeClock extends Clock {
  /**
   * Moves time forward by `ms`, running each timer that comes due, in order,
   * at its own time, and letting promise chains settle after each.
   */
  advance(ms: number): Promise<void>;
  /** Timers waiting to fire. */
  readonly pending: number;
}

/**
 * Creates a fake clock for the timed middleware (`timeout`, `retry`,
 * `circuitBreaker`, `latency`, ...), so that tests of backoff, deadlines and
 * recovery run in milliseconds and never sleep.
 *
 * @param start The time it starts at, in milliseconds.
 * @returns The clock.
 *
 * @example Firing timers in order
 * ```ts
 * import { createFakeClock } from "@monolith/message-bus/testing";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const clock = createFakeClock();
 * const fired: number[] = [];
 * clock.setTimeout(() => fired.push(clock.now()), 1_000);
 * clock.setTimeout(() => fired.push(clock.now()), 10);
 * await clock.advance(5_000);
 * deepStrictEqual([fired, clock.now()], [[10, 1_000], 5_000]);
 * ```
 */
export function createFakeClock(start = 0): FakeClock {
  let now = start;
  let sequence = 0;
  const timers = new Map<number, { due: number; callback: () => void }>();
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  return {
    now: () => now,
    setTimeout(callback, ms) {
      const id = ++sequence;
      timers.set(id, { due: now + Math.max(0, ms), callback });
      return id;
    },
    clearTimeout(handle) {
      timers.delete(handle as number);
    },
    get pending() {
      return timers.size;
    },
    async advance(ms) {
      const target = now + ms;
      await settle();
      for (;;) {
        let earliest:
          | [number, { due: number; callback: () => void }]
          | undefined;
        for (const entry of timers) {
          if (
            entry[1].due <= target &&
            (!earliest || entry[1].due < earliest[1].due)
          ) {
            earliest = entry;
          }
        }
        if (earliest === undefined) break;
        timers.delete(earliest[0]);
        now = earliest[1].due;
        earliest[1].callback();
        await settle();
      }
      now = target;
      await settle();
    },
  };
}
