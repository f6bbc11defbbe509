/**
 * Time limits for dispatches on the asynchronous bus, with the deadline
 * carried into every nested dispatch.
 *
 * @module
 */

import { asyncOnly } from "../core/async_only.ts";
import { type Clock, performanceClock, systemClock } from "../core/clock.ts";
import { TimeoutError } from "../core/errors.ts";
import type { AnyMessage } from "../core/messages.ts";
import type {
  AsyncDispatchContext,
  AsyncMiddleware,
  NextFunction,
} from "../core/types.ts";
import { clockOption, optionsObject, timerMsOption } from "../core/_options.ts";
import { createTimerQueue } from "../core/_timer_queue.ts";

/** Options of {@linkcode timeout}. */
export interface TimeoutOptions {
  /**
   * The limit for message types not in `perType`, in milliseconds.
   *
   * @default {30000}
   */
  readonly defaultMs?: number;
  /** Limits per message name, in milliseconds. */
  readonly perType?: Readonly<Record<string, number>>;
  /**
   * The clock and timers; a fake one in tests.
   *
   * @default {systemClock}
   */
  readonly clock?: Clock;
}

const ACTION = "create timeout";

function limitOption(name: string, value: unknown): number {
  return timerMsOption(
    ACTION,
    name,
    value,
    (number) => number > 0 && Number.isFinite(number),
    "a positive number of milliseconds",
  );
}

/**
 * A middleware for the asynchronous bus that gives each dispatch a time
 * limit. Past it, the dispatch rejects with a `TimeoutError` naming the
 * message type and the limit, and the handler's `context.signal` aborts with
 * that error, so work the handler passed the signal to stops. The deadline
 * travels with the dispatch: nested dispatches made through the context keep
 * the earlier of their own deadline and this one, and stop when the outer
 * dispatch gives up.
 *
 * One timer serves every dispatch of a middleware; with a built-in clock
 * (`systemClock`, `performanceClock`) it does not keep the process alive.
 *
 * @param options The limits and the clock.
 * @returns The middleware.
 * @throws {TypeError} When `options`, `perType` or `clock` is not what it
 * should be (a clock has `now`, `setTimeout` and `clearTimeout`).
 * @throws {RangeError} When a limit is not a positive number of milliseconds
 * a timer can wait (at most 2³¹ − 1).
 *
 * @example A slow handler is cut off
 * ```ts
 * import { createAsyncBus, defineQuery, TimeoutError } from "@monolith/message-bus";
 * import { timeout } from "@monolith/message-bus/resilience";
 * import { rejects } from "node:assert/strict";
 *
 * const GetReport = defineQuery<void, string>("GetReport");
 * const bus = createAsyncBus({ middleware: [timeout({ defaultMs: 20 })] });
 * bus.registerQuery(GetReport, (_query, context) =>
 *   new Promise((resolve, reject) => {
 *     const timer = setTimeout(() => resolve("done"), 5_000);
 *     context.signal.addEventListener("abort", () => {
 *       clearTimeout(timer);
 *       reject(context.signal.reason);
 *     });
 *   }));
 * await rejects(bus.send(GetReport()), TimeoutError);
 * ```
 */
export function timeout(options?: TimeoutOptions): AsyncMiddleware {
  const given: TimeoutOptions = optionsObject(ACTION, options);
  const defaultMs = limitOption("defaultMs", given.defaultMs ?? 30_000);
  const perType = new Map<string, number>();
  const limits = optionsObject(ACTION, given.perType, "perType");
  for (const [type, limit] of Object.entries(limits)) {
    perType.set(type, limitOption(`perType.${type}`, limit));
  }
  const clock = clockOption(ACTION, given.clock, systemClock);
  // The built-in clocks use the runtime's timers, which can be unref'd.
  const timers = createTimerQueue(
    clock,
    clock === systemClock || clock === performanceClock,
  );
  // One abort listener per parent signal, not per dispatch: most dispatches
  // share a signal that never aborts (no caller signal), and adding and
  // removing a listener costs more than the rest of the timeout.
  const watched = new WeakMap<AbortSignal, Set<() => void>>();
  function watchParent(parent: AbortSignal, onAbort: () => void): () => void {
    let watchers = watched.get(parent);
    if (watchers === undefined) {
      const all = watchers = new Set();
      watched.set(parent, all);
      parent.addEventListener("abort", () => {
        for (const watcher of all) watcher();
        all.clear();
      }, { once: true });
    }
    const own = watchers;
    own.add(onAbort);
    return () => void own.delete(onAbort);
  }

  return asyncOnly(<M extends AnyMessage, R>(
    message: M,
    next: NextFunction<M, Promise<R>>,
    context: AsyncDispatchContext,
  ): Promise<R> => {
    const limit = perType.get(message.type) ?? defaultMs;
    const now = clock.now();
    const deadline = now + limit;
    const parent = context.signal;
    if (parent.aborted) return Promise.reject(parent.reason);
    // An outer deadline that comes first is already being watched: the
    // outer timeout aborts the signal this dispatch inherits.
    if (context.deadline !== undefined && context.deadline <= deadline) {
      return next(message);
    }
    const controller = new AbortController();
    const { promise, resolve, reject } = Promise.withResolvers<R>();
    const stop = (reason: unknown) => {
      controller.abort(reason);
      reject(reason);
    };
    const watch = timers.schedule(
      limit,
      now,
      () => stop(new TimeoutError(message.kind, message.type, limit)),
    );
    const onParentAbort = () => {
      watch.cancel();
      stop(parent.reason);
    };
    const unwatch = watchParent(parent, onParentAbort);
    const settle = () => {
      watch.cancel();
      unwatch();
    };
    next(message, { signal: controller.signal, deadline }).then(
      (value) => {
        settle();
        resolve(value);
      },
      (error) => {
        settle();
        reject(error);
      },
    );
    return promise;
  });
}
