/**
 * At most so many handlers in flight on the asynchronous bus; the rest wait
 * in a bounded queue.
 *
 * @module
 */

import { asyncOnly } from "../core/async_only.ts";
import { QueueFullError } from "../core/errors.ts";
import type { AnyMessage } from "../core/messages.ts";
import type { AsyncMiddleware, NextFunction } from "../core/types.ts";
import { integerOption } from "../core/_options.ts";

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
}

/**
 * A concurrency limit middleware, with its counts readable.
 */
export interface ConcurrencyLimit extends AsyncMiddleware {
  /** Dispatches running now. */
  readonly active: number;
  /** Dispatches waiting now. */
  readonly queued: number;
  /** Dispatches refused on arrival because the queue was full. */
  readonly rejected: number;
  /** Waiting dispatches failed to make room ("drop-oldest"). */
  readonly dropped: number;
}

interface Waiter {
  readonly start: () => void;
  readonly fail: (error: unknown) => void;
  readonly message: AnyMessage;
}

/**
 * Creates a middleware for the asynchronous bus that lets at most
 * `maxConcurrent` dispatches run at once. Others wait, first come first
 * served, in a queue of at most `maxQueue`; when it is full, `strategy`
 * decides who fails with a {@linkcode QueueFullError}. Counts of rejected and
 * dropped dispatches are readable on the middleware.
 *
 * @param options The limit, the queue bound and the strategy.
 * @returns The middleware, with `active`, `queued`, `rejected`, `dropped`.
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
 */
export function concurrencyLimit(
  options: ConcurrencyLimitOptions,
): ConcurrencyLimit {
  const maxConcurrent = integerOption(
    "create concurrencyLimit",
    "maxConcurrent",
    options?.maxConcurrent,
    1,
  );
  const maxQueue = integerOption(
    "create concurrencyLimit",
    "maxQueue",
    options.maxQueue ?? 1000,
    0,
  );
  const strategy = options.strategy ?? "reject";
  if (strategy !== "reject" && strategy !== "drop-oldest") {
    throw new RangeError(
      `Cannot create concurrencyLimit as 'strategy' must be "reject" or "drop-oldest": current value is ${
        JSON.stringify(strategy)
      }`,
    );
  }
  let active = 0;
  let rejected = 0;
  let dropped = 0;
  const waiting: Waiter[] = [];
  let head = 0;

  function release(): void {
    active--;
    if (head < waiting.length) {
      const waiter = waiting[head]!;
      waiting[head++] = undefined as unknown as Waiter;
      if (head > 1024 && head * 2 > waiting.length) {
        waiting.splice(0, head);
        head = 0;
      }
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

  const middleware = asyncOnly(<M extends AnyMessage, R>(
    message: M,
    next: NextFunction<M, Promise<R>>,
  ): Promise<R> => {
    if (active < maxConcurrent) {
      active++;
      return run(message, next);
    }
    if (waiting.length - head >= maxQueue) {
      if (strategy === "reject" || maxQueue === 0) {
        rejected++;
        return Promise.reject(
          new QueueFullError(message.kind, message.type, maxQueue, "rejected"),
        );
      }
      const oldest = waiting[head]!;
      waiting[head++] = undefined as unknown as Waiter;
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
      waiting.push({
        message,
        start: () => run(message, next).then(resolve, reject),
        fail: reject,
      });
    });
  });

  return Object.defineProperties(middleware, {
    active: { get: () => active },
    queued: { get: () => waiting.length - head },
    rejected: { get: () => rejected },
    dropped: { get: () => dropped },
  }) as unknown as ConcurrencyLimit;
}
