/**
 * At most so many handlers in flight on the asynchronous bus; the rest wait
 * in a bounded queue.
 *
 * @module
 */

import { asyncOnly } from "../core/async_only.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import { QueueFullError, TimeoutError } from "../core/errors.ts";
import type { AnyMessage } from "../core/messages.ts";
import type {
  AsyncDispatchContext,
  AsyncMiddleware,
  NextFunction,
} from "../core/types.ts";
import {
  clockOption,
  integerOption,
  MAX_TIMER_MS,
  optionsObject,
} from "../core/_options.ts";

/**
 * Options of {@linkcode concurrencyLimit}.
 */
export interface ConcurrencyLimitOptions {
  /** How many dispatches may run at once. */
  readonly maxConcurrent: number;
  /**
   * How many may wait for a slot.
   *
   * @default {1000}
   */
  readonly maxQueue?: number;
  /**
   * What happens when the queue is full: `"reject"` fails the new dispatch,
   * `"drop-oldest"` fails the oldest waiting one and queues the new one.
   * Either way with a {@linkcode QueueFullError}.
   *
   * @default {"reject"}
   */
  readonly strategy?: "reject" | "drop-oldest";
  /**
   * The clock whose time `context.deadline` is in, and whose timers watch
   * the deadlines of waiting dispatches; a fake one in tests.
   *
   * @default {systemClock}
   */
  readonly clock?: Clock;
}

/**
 * A concurrency limit middleware, with its counts readable.
 */
export interface ConcurrencyLimit extends AsyncMiddleware {
  /** Dispatches running now. */
  readonly active: number;
  /**
   * Dispatches waiting now. A waiting dispatch whose caller gave up (its
   * signal aborted, or its deadline passed) leaves the queue at once.
   */
  readonly queued: number;
  /** Dispatches refused on arrival because the queue was full. */
  readonly rejected: number;
  /** Waiting dispatches failed to make room ("drop-oldest"). */
  readonly dropped: number;
}

// A waiting dispatch: a node of the queue, a doubly linked list, so that a
// caller who gives up leaves it at once, from anywhere in it.
interface Waiter {
  prev: Waiter | undefined;
  next: Waiter | undefined;
  /** Whether it is still in the queue. */
  queued: boolean;
  readonly message: AnyMessage;
  /** Runs it, in the slot it was given. */
  start: () => void;
  /** Rejects it, out of the queue. */
  fail: (error: unknown) => void;
}

const ACTION = "create concurrencyLimit";

/**
 * Creates a middleware for the asynchronous bus that lets at most
 * `maxConcurrent` dispatches run at once. Others wait, first come first
 * served, in a queue of at most `maxQueue`; when it is full, `strategy`
 * decides who fails with a {@linkcode QueueFullError}. Counts of rejected and
 * dropped dispatches are readable on the middleware.
 *
 * A waiting dispatch whose caller gives up leaves the queue at once, and its
 * handler never runs: when its `context.signal` aborts, it rejects with the
 * signal's reason; when its `context.deadline` passes (in the time of
 * `clock`), with a `TimeoutError`.
 *
 * @param options The limit, the queue bound, the strategy and the clock.
 * @returns The middleware, with `active`, `queued`, `rejected`, `dropped`.
 * @throws {TypeError} When `options` is not an object or `clock` is not a
 * clock (with `now`, `setTimeout` and `clearTimeout`).
 * @throws {RangeError} When a number is out of range or the strategy unknown.
 *
 * @example Bounding work in flight
 * ```ts
 * import { createAsyncBus, defineTask, QueueFullError } from "@monolith/message-bus";
 * import { concurrencyLimit } from "@monolith/message-bus/resilience";
 * import { deepStrictEqual, rejects } from "node:assert/strict";
 *
 * const Resize = defineTask<string>("Resize");
 * const limit = concurrencyLimit({ maxConcurrent: 1, maxQueue: 1 });
 * const bus = createAsyncBus({ middleware: [limit] });
 * let release = () => {};
 * bus.registerTask(Resize, () => new Promise<void>((resolve) => (release = resolve)));
 * const first = bus.dispatch(Resize("a.png"));   // runs
 * const second = bus.dispatch(Resize("b.png"));  // waits
 * await rejects(bus.dispatch(Resize("c.png")), QueueFullError); // no room
 * deepStrictEqual([limit.active, limit.queued, limit.rejected], [1, 1, 1]);
 * release();
 * await first;
 * await Promise.resolve();
 * release();
 * await second;
 * ```
 *
 * @example A caller who gives up leaves the queue
 * ```ts
 * import { createAsyncBus, defineTask } from "@monolith/message-bus";
 * import { concurrencyLimit } from "@monolith/message-bus/resilience";
 * import { deepStrictEqual, rejects } from "node:assert/strict";
 *
 * const Resize = defineTask<string>("Resize");
 * const limit = concurrencyLimit({ maxConcurrent: 1 });
 * const bus = createAsyncBus({ middleware: [limit] });
 * const ran: string[] = [];
 * let release = () => {};
 * bus.registerTask(Resize, ({ payload }) => {
 *   ran.push(payload);
 *   return new Promise<void>((resolve) => (release = resolve));
 * });
 * const first = bus.dispatch(Resize("a.png"));
 * const controller = new AbortController();
 * const second = bus.dispatch(Resize("b.png"), { signal: controller.signal });
 * controller.abort(new Error("not needed any more"));
 * await rejects(second, { message: "not needed any more" });
 * deepStrictEqual(limit.queued, 0);
 * release();
 * await first;
 * deepStrictEqual(ran, ["a.png"]);
 * ```
 */
export function concurrencyLimit(
  options: ConcurrencyLimitOptions,
): ConcurrencyLimit {
  const given: Partial<ConcurrencyLimitOptions> = optionsObject(
    ACTION,
    options,
  );
  const maxConcurrent = integerOption(
    ACTION,
    "maxConcurrent",
    given.maxConcurrent,
    1,
  );
  const maxQueue = integerOption(ACTION, "maxQueue", given.maxQueue ?? 1000, 0);
  const strategy = given.strategy ?? "reject";
  if (strategy !== "reject" && strategy !== "drop-oldest") {
    throw new RangeError(
      `Cannot create concurrencyLimit as 'strategy' must be "reject" or "drop-oldest": current value is ${
        JSON.stringify(strategy)
      }`,
    );
  }
  const clock = clockOption(ACTION, given.clock, systemClock);
  let active = 0;
  let rejected = 0;
  let dropped = 0;
  let queued = 0;
  let head: Waiter | undefined;
  let tail: Waiter | undefined;

  function enqueue(waiter: Waiter): void {
    waiter.prev = tail;
    if (tail === undefined) head = waiter;
    else tail.next = waiter;
    tail = waiter;
    waiter.queued = true;
    queued++;
  }

  function remove(waiter: Waiter): void {
    if (waiter.prev === undefined) head = waiter.next;
    else waiter.prev.next = waiter.next;
    if (waiter.next === undefined) tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = waiter.next = undefined;
    waiter.queued = false;
    queued--;
  }

  function release(): void {
    active--;
    const waiter = head;
    if (waiter !== undefined) {
      remove(waiter);
      active++;
      waiter.start();
    }
  }

  // Made once: `.finally` or per-dispatch closures would allocate more.
  const released = <R>(value: R): R => {
    release();
    return value;
  };
  const releasedError = (error: unknown): never => {
    release();
    throw error;
  };

  function run<M extends AnyMessage, R>(
    message: M,
    next: NextFunction<M, Promise<R>>,
  ): Promise<R> {
    let result: Promise<R>;
    try {
      result = next(message);
    } catch (error) {
      release();
      return Promise.reject(error);
    }
    return result.then(released, releasedError);
  }

  function wait<M extends AnyMessage, R>(
    message: M,
    next: NextFunction<M, Promise<R>>,
    context: AsyncDispatchContext,
  ): Promise<R> {
    const { signal, deadline } = context;
    const arrived = deadline === undefined ? 0 : clock.now();
    const expired = () =>
      signal.aborted
        ? signal.reason
        : new TimeoutError(message.kind, message.type, deadline! - arrived);
    // A caller who gave up already takes no room, and drops no one.
    if (signal.aborted) return Promise.reject(signal.reason);
    if (deadline !== undefined && arrived >= deadline) {
      return Promise.reject(expired());
    }
    if (queued >= maxQueue) {
      if (strategy === "reject" || maxQueue === 0) {
        rejected++;
        return Promise.reject(
          new QueueFullError(message.kind, message.type, maxQueue, "rejected"),
        );
      }
      const oldest = head!;
      remove(oldest);
      dropped++;
      oldest.fail(
        new QueueFullError(
          oldest.message.kind,
          oldest.message.type,
          maxQueue,
          "dropped",
        ),
      );
    }
    return new Promise<R>((resolve, reject) => {
      let timer: unknown;
      let watching = deadline !== undefined && Number.isFinite(deadline);
      const done = () => {
        signal.removeEventListener("abort", onAbort);
        if (watching) {
          watching = false;
          clock.clearTimeout(timer);
        }
      };
      const giveUp = (reason: unknown) => {
        if (!waiter.queued) return;
        remove(waiter);
        done();
        reject(reason);
      };
      const onAbort = () => giveUp(signal.reason);
      // A timer waits at most 2^31 - 1 ms: a later deadline takes several.
      const watch = () => {
        const now = clock.now();
        if (now >= deadline!) {
          watching = false;
          giveUp(expired());
        } else {
          timer = clock.setTimeout(
            watch,
            Math.min(deadline! - now, MAX_TIMER_MS),
          );
        }
      };
      const waiter: Waiter = {
        prev: undefined,
        next: undefined,
        queued: false,
        message,
        start: () => {
          done();
          run(message, next).then(resolve, reject);
        },
        fail: (error) => {
          done();
          reject(error);
        },
      };
      enqueue(waiter);
      signal.addEventListener("abort", onAbort, { once: true });
      if (watching) {
        timer = clock.setTimeout(
          watch,
          Math.min(deadline! - arrived, MAX_TIMER_MS),
        );
      }
    });
  }

  const middleware = asyncOnly(<M extends AnyMessage, R>(
    message: M,
    next: NextFunction<M, Promise<R>>,
    context: AsyncDispatchContext,
  ): Promise<R> => {
    if (active < maxConcurrent) {
      active++;
      return run(message, next);
    }
    return wait(message, next, context);
  });

  return Object.defineProperties(middleware, {
    active: { get: () => active },
    queued: { get: () => queued },
    rejected: { get: () => rejected },
    dropped: { get: () => dropped },
  }) as unknown as ConcurrencyLimit;
}
