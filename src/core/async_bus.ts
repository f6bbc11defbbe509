/**
 * The asynchronous in-process bus: the same registry and routing as
 * {@linkcode createBus}, but every dispatch returns a promise, handlers may be
 * sync or async, and event subscribers run concurrently.
 *
 * @module
 */

import {
  type AsyncDispatch,
  composeAsync,
  middlewareOption,
} from "./_compose.ts";
import { createRegistry, takesContext } from "./_registry.ts";
import {
  assemble,
  asyncTerminals,
  contextualHandlerAsync,
  contextualSubscriberAsync,
  kindChecked,
  promising,
} from "./_terminals.ts";
import type { AsyncMessageBus, AsyncMiddleware, Middleware } from "./types.ts";
import type {
  DeadLetterSink,
  GaugeSink,
  QueuedAsyncMessageBus,
} from "./types.ts";
import type { EventMessage } from "./messages.ts";
import type { Clock } from "./clock.ts";
import { eventQueueSettings, withEventQueue } from "./_event_queue.ts";
import { gaugeSinkOption, observeBus } from "./_bus_gauges.ts";
import { timerMsOption } from "./_options.ts";

/** Options of {@linkcode createAsyncBus}. */
export interface AsyncBusOptions {
  /**
   * Middleware wrapping every dispatch, the first being the outermost. A
   * synchronous {@linkcode Middleware} that passes `next`'s result through
   * fits too.
   *
   * @default {[]}
   */
  readonly middleware?: readonly (AsyncMiddleware | Middleware)[];
  /**
   * Puts the events published on the bus through a bounded queue; see
   * {@linkcode EventQueueOptions}. Without it, `publish` delivers at once
   * and settles with the subscribers' outcome, and the bus has no `queue`.
   */
  readonly eventQueue?: EventQueueOptions;
  /**
   * Where the bus reports its gauges (sessions open, handlers registered
   * per kind, and with an event queue its size and backpressure): a
   * `Metrics` from `createMetrics()` of `@monolith/message-bus/observability`.
   */
  readonly metrics?: GaugeSink;
  /**
   * How long `close()` waits for the handlers in flight of the bus's sessions
   * and batch subscriptions (after its event queue has drained) before it
   * removes every registration anyway, at most 2147483647 (2³¹ − 1).
   *
   * @default {5000}
   */
  readonly closeTimeoutMs?: number;
}

/**
 * The event queue of {@linkcode createAsyncBus}: events published on the bus
 * wait in a queue of at most `maxSize`, and `concurrency` workers deliver
 * them in order, each through the bus's middleware and subscribers. Publishes
 * through a session, and nested ones (`context.publish`, `context.emit`), are
 * not queued: they are delivered at once, so that closing a session, or a
 * handler waiting for what it published, never waits on the queue.
 */
export interface EventQueueOptions {
  /** How many accepted events may wait for a worker, at least 1. */
  readonly maxSize: number;
  /** How many events are delivered at once, at least 1. */
  readonly concurrency: number;
  /**
   * What a publish to a full queue does:
   *
   * - `"drop-oldest"`: the oldest waiting event is dropped (counted in
   *   `queue.dropped`, handed to `deadLetters`) to make room;
   * - `"reject-new"`: the publish rejects with a `QueueFullError` (counted
   *   in `queue.rejected`);
   * - `"adaptive"`: once `highWater` events wait, publishes wait too, until
   *   the workers have brought the queue down to `lowWater`: publishers slow
   *   to the subscribers' pace, and nothing is dropped.
   */
  readonly strategy: "drop-oldest" | "reject-new" | "adaptive";
  /**
   * For `"adaptive"`: the size at which publishes start to wait.
   *
   * @default {80% of maxSize, at least 1}
   */
  readonly highWater?: number;
  /**
   * For `"adaptive"`: the size at or below which waiting publishes are
   * accepted again, below `highWater`.
   *
   * @default {50% of maxSize, below highWater}
   */
  readonly lowWater?: number;
  /**
   * Where dropped events go, as dead letters that `redeliver` can deliver
   * again: any dead letter store fits. Dropped events are counted either way.
   */
  readonly deadLetters?: DeadLetterSink;
  /**
   * Told of each queued publish that failed (its publisher no longer
   * waits): the error the publish rejected with, after the bus's
   * middleware. By default failures are reported on the console, at most
   * one line per 10 seconds.
   */
  readonly onError?: (error: unknown, event: EventMessage) => void;
  /**
   * How long `close()` waits for the queue to drain before it drops what is
   * left, at most 2147483647 (2³¹ − 1).
   *
   * @default {5000}
   */
  readonly closeTimeoutMs?: number;
  /**
   * The clock of `closeTimeoutMs` and of dead letters' `at`; a fake one in
   * tests.
   *
   * @default {systemClock}
   */
  readonly clock?: Clock;
}

/**
 * Creates an asynchronous in-process bus whose published events go through a
 * bounded queue (see {@linkcode EventQueueOptions}): `publish` resolves when
 * the event is accepted, `bus.queue` has its counts, `bus.drain()` waits
 * until it is empty and `bus.close()` stops accepting events and drains it.
 *
 * A subscriber's failure no longer reaches the publisher: the bus's
 * middleware still see every delivery (`deadLetter` keeps it, `recorder`
 * and `metrics` count it), and `onError` is told.
 *
 * @param options The event queue, middleware and gauges.
 * @returns The bus, with `queue`, `drain()` and `close()`.
 * @throws {TypeError} When a middleware is not a function, or an option of
 * the event queue is of the wrong type.
 * @throws {RangeError} When a size or count of the event queue is out of
 * range, or its strategy unknown.
 *
 * @example Refusing events when the queue is full
 * ```ts
 * import { createAsyncBus, defineEvent, QueueFullError } from "@monolith/message-bus";
 * import { deepStrictEqual, rejects } from "node:assert/strict";
 *
 * const Clicked = defineEvent<number>("Clicked");
 * const bus = createAsyncBus({
 *   eventQueue: { maxSize: 2, concurrency: 1, strategy: "reject-new" },
 * });
 * const heard: number[] = [];
 * bus.subscribe(Clicked, (e) => {
 *   heard.push(e.payload);
 * });
 * bus.publish(Clicked(1));
 * bus.publish(Clicked(2));
 * await rejects(bus.publish(Clicked(3)), QueueFullError);
 * await bus.drain();
 * deepStrictEqual([heard, bus.queue.rejected], [[1, 2], 1]);
 * await bus.close();
 * ```
 */
export function createAsyncBus(
  options: AsyncBusOptions & { readonly eventQueue: EventQueueOptions },
): QueuedAsyncMessageBus;
/**
 * Creates an asynchronous in-process bus. Every method is a closure, so
 * `const { send } = bus` works.
 *
 * @param options Middleware to wrap every dispatch with; where to report
 * gauges; an event queue (see the other signature).
 * @returns The bus.
 * @throws {TypeError} When a middleware is not a function, or `metrics` has
 * no `observeGauge` method.
 *
 * @example Async handlers and concurrent subscribers
 * ```ts
 * import { createAsyncBus, defineEvent, defineQuery } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetStock = defineQuery<{ sku: string }, number>("GetStock");
 * const Restocked = defineEvent<{ sku: string }>("Restocked");
 *
 * const bus = createAsyncBus();
 * bus.registerQuery(GetStock, async (q) => await Promise.resolve(q.payload.sku.length));
 * const heard: string[] = [];
 * bus.subscribe(Restocked, async (e) => {
 *   await Promise.resolve();
 *   heard.push(`email ${e.payload.sku}`);
 * });
 * bus.subscribe(Restocked, (e) => {
 *   heard.push(`index ${e.payload.sku}`);
 * });
 *
 * deepStrictEqual(await bus.send(GetStock({ sku: "abc" })), 3);
 * await bus.publish(Restocked({ sku: "abc" }));
 * deepStrictEqual(heard, ["index abc", "email abc"]);
 * ```
 */
export function createAsyncBus(options?: AsyncBusOptions): AsyncMessageBus;
export function createAsyncBus(options: AsyncBusOptions = {}): AsyncMessageBus {
  const middleware = middlewareOption(
    "createAsyncBus",
    options,
    true,
  ) as readonly AsyncMiddleware[];
  const queueSettings = options.eventQueue === undefined
    ? undefined
    : eventQueueSettings(options.eventQueue);
  const gauges = gaugeSinkOption("createAsyncBus", options.metrics);
  const closeTimeoutMs = timerMsOption(
    "createAsyncBus()",
    "closeTimeoutMs",
    options.closeTimeoutMs ?? 5_000,
    (ms) => Number.isFinite(ms) && ms >= 0,
    "a non-negative number of milliseconds",
  );
  const registry = createRegistry({
    adapt: (handler, module) =>
      takesContext(handler)
        ? contextualHandlerAsync(handler, module)
        : promising(handler),
    adaptSubscriber: contextualSubscriberAsync,
    synchronous: false,
  });
  const bus = assemble<AsyncMessageBus>(
    registry,
    asyncTerminals(registry.routes),
    middleware.length === 0
      ? undefined
      : (kind, terminal) =>
        kindChecked(kind, composeAsync(middleware, terminal as AsyncDispatch)),
    true,
    { factory: "createAsyncBus", timeoutMs: closeTimeoutMs },
  );
  if (gauges !== undefined) observeBus(gauges, registry.routes, bus);
  return queueSettings === undefined
    ? bus
    : withEventQueue(bus, queueSettings, gauges);
}
