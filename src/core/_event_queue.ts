// The event queue of the asynchronous bus: a bounded queue between `publish`
// and the subscribers, emptied by `concurrency` workers, each delivering one
// event at a time through the bus's own `publish` (so through its middleware
// and terminals).
//
// Throughput comes from two things, measured by bench/event_queue_bench.ts:
// the queue is a ring of two slots per event (the event, and its options or
// undefined), so accepting an event allocates nothing; and a worker goes on
// to the next event at once when the publish it made returned the terminals'
// settled promise (synchronous subscribers, no middleware) instead of
// waiting a microtask per event.
import { type Clock, systemClock } from "./clock.ts";
import { QueueFullError } from "./errors.ts";
import { callerOptions } from "./_context.ts";
import { errorJson, toJsonValue } from "./_json.ts";
import {
  clockOption,
  functionOption,
  integerOption,
  optionsObject,
  shown,
  timerMsOption,
} from "./_options.ts";
import { type RateLimitedLog, rateLimitedLog } from "./_rate_limited_log.ts";
import { CLOSE_AFTER, PUBLISH_QUEUED, RESOLVED } from "./_terminals.ts";
import type { AnyMessage, EventMessage } from "./messages.ts";
import type { EventQueueOptions } from "./async_bus.ts";
import type {
  AsyncMessageBus,
  DeadLetterSink,
  DroppedEventLetter,
  EventQueue,
  GaugeSink,
  PublishOptions,
  QueuedAsyncMessageBus,
} from "./types.ts";

const ACTION = "createAsyncBus()";

/** The event queue's options, checked, with their defaults. */
export interface EventQueueSettings {
  readonly maxSize: number;
  readonly concurrency: number;
  readonly strategy: "drop-oldest" | "reject-new" | "adaptive";
  readonly highWater: number;
  readonly lowWater: number;
  readonly closeTimeoutMs: number;
  readonly clock: Clock;
  readonly deadLetters: DeadLetterSink | undefined;
  readonly redact: ReadonlySet<string> | undefined;
  readonly onError: ((error: unknown, event: EventMessage) => void) | undefined;
}

/** Checks the `eventQueue` option of `createAsyncBus`. */
export function eventQueueSettings(value: unknown): EventQueueSettings {
  const given = optionsObject(
    ACTION,
    value as EventQueueOptions | undefined,
    "eventQueue",
  ) as Partial<EventQueueOptions>;
  const maxSize = integerOption(
    ACTION,
    "eventQueue.maxSize",
    given.maxSize,
    1,
  );
  const concurrency = integerOption(
    ACTION,
    "eventQueue.concurrency",
    given.concurrency,
    1,
  );
  const strategy = given.strategy;
  if (
    strategy !== "drop-oldest" && strategy !== "reject-new" &&
    strategy !== "adaptive"
  ) {
    throw new RangeError(
      `Cannot ${ACTION} as 'eventQueue.strategy' must be "drop-oldest", "reject-new" or "adaptive": current value is ${
        shown(strategy)
      }`,
    );
  }
  const highWater = given.highWater === undefined
    ? Math.max(1, Math.floor(maxSize * 0.8))
    : integerOption(ACTION, "eventQueue.highWater", given.highWater, 1);
  if (highWater > maxSize) {
    throw new RangeError(
      `Cannot ${ACTION} as 'eventQueue.highWater' must be at most maxSize (${maxSize}): current value is ${highWater}`,
    );
  }
  const lowWater = given.lowWater === undefined
    ? Math.min(Math.floor(maxSize * 0.5), highWater - 1)
    : integerOption(ACTION, "eventQueue.lowWater", given.lowWater, 0);
  if (lowWater >= highWater) {
    throw new RangeError(
      `Cannot ${ACTION} as 'eventQueue.lowWater' must be below highWater (${highWater}): current value is ${lowWater}`,
    );
  }
  const closeTimeoutMs = timerMsOption(
    ACTION,
    "eventQueue.closeTimeoutMs",
    given.closeTimeoutMs ?? 5_000,
    (ms) => Number.isFinite(ms) && ms >= 0,
    "a non-negative number of milliseconds",
  );
  const clock = clockOption(ACTION, given.clock, systemClock);
  const deadLetters = given.deadLetters;
  if (
    deadLetters !== undefined &&
    typeof (deadLetters as Partial<DeadLetterSink> | null)?.add !== "function"
  ) {
    throw new TypeError(
      `Cannot ${ACTION} as 'eventQueue.deadLetters' must have an add(letter) method (a dead letter store): current value is ${
        shown(deadLetters)
      }`,
    );
  }
  const redactList = deadLetters?.redact;
  if (
    redactList !== undefined &&
    (!Array.isArray(redactList) ||
      !redactList.every((field) => typeof field === "string"))
  ) {
    throw new TypeError(
      `Cannot ${ACTION} as the 'redact' of 'eventQueue.deadLetters' must be an array of field names: current value is ${
        shown(redactList)
      }`,
    );
  }
  return {
    maxSize,
    concurrency,
    strategy,
    highWater,
    lowWater,
    closeTimeoutMs,
    clock,
    deadLetters,
    redact: redactList !== undefined && redactList.length > 0
      ? new Set(redactList)
      : undefined,
    onError: functionOption(ACTION, "eventQueue.onError", given.onError),
  };
}

type Publish = (event: AnyMessage, options?: unknown) => Promise<unknown>;

// A publish with `{ awaitDelivery: true }`: its caller waits for the outcome.
class Delivery {
  resolve!: () => void;
  reject!: (error: unknown) => void;
  readonly promise: Promise<void>;
  constructor(readonly options: PublishOptions) {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

// A publish held back by backpressure ("adaptive"), in line to be accepted.
interface Held {
  readonly event: AnyMessage;
  readonly extra: unknown;
  readonly accepted: () => void;
  readonly refused: (error: unknown) => void;
  /** It left the line: its signal aborted, or the bus closed. */
  gone: boolean;
}

type CloseAfter = (before: Promise<unknown>) => Promise<void>;

/**
 * Puts `bus`'s publishes (those made on the bus itself) through an event
 * queue, and adds `queue`, `drain()` and `close()` to it.
 */
export function withEventQueue(
  bus: AsyncMessageBus,
  settings: EventQueueSettings,
  sink: GaugeSink | undefined,
): QueuedAsyncMessageBus {
  const {
    maxSize,
    concurrency,
    strategy,
    highWater,
    lowWater,
    closeTimeoutMs,
    clock,
    deadLetters,
    redact,
    onError,
  } = settings;
  // Deliveries go on while the bus closes: they are not new work.
  const direct = (bus as unknown as Record<typeof PUBLISH_QUEUED, Publish>)[
    PUBLISH_QUEUED
  ];
  // Under "adaptive", `backpressure` holds publishes back from `highWater`
  // on, so the queue never reaches `maxSize`.
  const adaptive = strategy === "adaptive";

  // The ring: event i is at 2i, its options (or a Delivery) at 2i + 1.
  let ring: unknown[] = new Array(32);
  let mask = 15;
  let head = 0;
  let size = 0;

  let workers = 0; // worker loops scheduled or running
  let delivering = 0; // events being delivered
  let dropped = 0;
  let rejected = 0;
  let backpressure = false;
  let held: (Held | undefined)[] = [];
  let heldHead = 0;
  let waiting = 0;
  let drainers: (() => void)[] = [];
  let closed = false;
  let closing: Promise<void> | undefined;

  const unref = clock === systemClock;
  let failureLog: RateLimitedLog | undefined;
  let lostLog: RateLimitedLog | undefined;

  function grow(): void {
    const capacity = mask + 1;
    const next: unknown[] = new Array(capacity * 4);
    for (let index = 0; index < size; index++) {
      const from = ((head + index) & mask) << 1;
      next[index << 1] = ring[from];
      next[(index << 1) + 1] = ring[from + 1];
    }
    ring = next;
    mask = capacity * 2 - 1;
    head = 0;
  }

  function accept(event: AnyMessage, extra: unknown): void {
    if (size > mask) grow();
    const at = ((head + size) & mask) << 1;
    ring[at] = event;
    ring[at + 1] = extra;
    size++;
    if (adaptive && size >= highWater) backpressure = true;
    // A worker more when the idle ones cannot take every waiting event.
    if (workers < concurrency && workers - delivering < size) {
      workers++;
      queueMicrotask(work);
    }
  }

  function work(): void {
    while (size > 0) {
      const at = head << 1;
      const event = ring[at] as AnyMessage;
      const extra = ring[at + 1];
      ring[at] = undefined;
      ring[at + 1] = undefined;
      head = (head + 1) & mask;
      size--;
      delivering++;
      if (backpressure && size <= lowWater) relieve();
      if (extra === undefined) {
        let result: Promise<unknown>;
        try {
          result = direct(event);
        } catch (error) {
          result = Promise.reject(error);
        }
        if (result === RESOLVED) {
          delivering--;
          continue;
        }
        if (awaited(result, event, undefined)) return;
      } else if (deliver(event, extra)) {
        return;
      }
      delivering--;
    }
    workers--;
    if (workers === 0) settleDrains();
  }

  function resume(): void {
    delivering--;
    work();
  }

  // A delivery with options; whether the worker waits for it.
  function deliver(event: AnyMessage, extra: unknown): boolean {
    const delivery = extra instanceof Delivery ? extra : undefined;
    let result: Promise<unknown>;
    try {
      result = direct(event, delivery === undefined ? extra : delivery.options);
    } catch (error) {
      result = Promise.reject(error);
    }
    if (result !== RESOLVED) return awaited(result, event, delivery);
    delivery?.resolve();
    return false;
  }

  // Whether the worker waits for `result`, to resume when it settles: not
  // when it is no promise (a middleware that broke the contract).
  function awaited(
    result: Promise<unknown>,
    event: AnyMessage,
    delivery: Delivery | undefined,
  ): boolean {
    if (
      typeof (result as Partial<Promise<unknown>> | null)?.then !== "function"
    ) {
      delivery?.resolve();
      return false;
    }
    if (delivery === undefined) {
      result.then(resume, (error) => {
        failed(error, event);
        resume();
      });
    } else {
      result.then(
        () => {
          delivery.resolve();
          resume();
        },
        (error) => {
          delivery.reject(error);
          resume();
        },
      );
    }
    return true;
  }

  // Below the low-water mark: accept publishes held back, in order, until
  // the high-water mark is reached again.
  function relieve(): void {
    backpressure = false;
    while (!backpressure && heldHead < held.length) {
      const next = held[heldHead]!;
      held[heldHead++] = undefined;
      if (next.gone) continue;
      next.gone = true;
      waiting--;
      accept(next.event, next.extra);
      next.accepted();
    }
    if (heldHead === held.length) {
      held = [];
      heldHead = 0;
    }
  }

  function hold(event: AnyMessage, extra: unknown): Promise<void> {
    const signal = (extra instanceof Delivery ? extra.options : extra as
      | PublishOptions
      | undefined)?.signal;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        if (entry.gone) return;
        entry.gone = true;
        waiting--;
        reject(signal!.reason);
      };
      const entry: Held = {
        event,
        extra,
        accepted: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        refused: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
        gone: false,
      };
      held.push(entry);
      waiting++;
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  function idle(): boolean {
    return size === 0 && workers === 0 && waiting === 0;
  }

  function settleDrains(): void {
    if (!idle() || drainers.length === 0) return;
    const settled = drainers;
    drainers = [];
    for (const resolve of settled) resolve();
  }

  function failed(error: unknown, event: AnyMessage): void {
    if (onError !== undefined) {
      try {
        onError(error, event as EventMessage);
      } catch (thrown) {
        console.error(
          `createAsyncBus: the event queue's onError threw for event "${event.type}":`,
          thrown,
        );
      }
      return;
    }
    (failureLog ??= rateLimitedLog(
      (line, error) => console.error(line, error),
      clock,
      unref,
    )).report(
      `createAsyncBus: a queued publish of event "${event.type}" failed, and its publisher is no longer waiting (pass eventQueue.onError to handle these failures yourself):`,
      error,
    );
  }

  function drop(event: AnyMessage, extra: unknown, error: Error): void {
    dropped++;
    const options = extra instanceof Delivery
      ? extra.options
      : extra as PublishOptions | undefined;
    if (extra instanceof Delivery) extra.reject(error);
    if (deadLetters === undefined) return;
    const { type, payload } = event;
    const letter = {
      id: options?.id ?? crypto.randomUUID(),
      message: payload === undefined
        ? { kind: "event", type }
        : { kind: "event", type, payload: toJsonValue(payload, redact) },
      error: errorJson(error),
      handler: null,
      subscriber: options?.subscriber ?? null,
      attempts: 0,
      at: new Date(clock.now()).toISOString(),
    } as DroppedEventLetter;
    let result: unknown;
    try {
      result = deadLetters.add(letter);
    } catch (failure) {
      lost(type, failure);
      return;
    }
    if (typeof (result as PromiseLike<void> | undefined)?.then === "function") {
      Promise.resolve(result).then(undefined, (failure) => lost(type, failure));
    }
  }

  function lost(type: string, failure: unknown): void {
    (lostLog ??= rateLimitedLog(
      (line, error) => console.error(line, error),
      clock,
      unref,
    )).report(
      `createAsyncBus: the dead letter store failed to keep dropped event "${type}", which is lost:`,
      failure,
    );
  }

  function closedError(event: AnyMessage): Error {
    return new Error(
      `Cannot publish event "${event.type}" as the bus is closed: its event queue accepts no more events. Publish before close(), or create another bus`,
    );
  }

  function publish(event: AnyMessage, options?: unknown): Promise<unknown> {
    if (
      options === undefined && !backpressure && size < maxSize && !closed &&
      event?.kind === "event"
    ) {
      accept(event, undefined);
      return RESOLVED;
    }
    return publishWith(event, options);
  }

  // A publish with options, or to a full, held back or closed queue.
  function publishWith(event: AnyMessage, options: unknown): Promise<unknown> {
    // Not an event: the bus's own error, and nothing queued.
    if (event?.kind !== "event") return direct(event, options);
    let extra = options;
    let result: Promise<unknown> = RESOLVED;
    if (options !== undefined) {
      let signal: AbortSignal | undefined;
      try {
        signal = callerOptions("publish", options).signal;
      } catch (error) {
        return Promise.reject(error);
      }
      if (signal?.aborted) return Promise.reject(signal.reason);
      if ((options as PublishOptions).awaitDelivery === true) {
        const delivery = new Delivery(options as PublishOptions);
        extra = delivery;
        result = delivery.promise;
      }
    }
    if (closed) return Promise.reject(closedError(event));
    if (!backpressure && size < maxSize) {
      accept(event, extra);
      return result;
    }
    if (strategy === "reject-new") {
      rejected++;
      return Promise.reject(
        new QueueFullError(
          "event",
          event.type,
          maxSize,
          "rejected",
          `Cannot publish event "${event.type}" as the event queue is full (maxSize ${maxSize}, strategy "reject-new"). Raise maxSize or concurrency, or choose strategy "adaptive" to slow publishers to the subscribers' pace`,
        ),
      );
    }
    if (strategy === "drop-oldest") {
      const at = head << 1;
      const oldest = ring[at] as AnyMessage;
      const oldestExtra = ring[at + 1];
      ring[at] = undefined;
      ring[at + 1] = undefined;
      head = (head + 1) & mask;
      size--;
      drop(
        oldest,
        oldestExtra,
        new QueueFullError(
          "event",
          oldest.type,
          maxSize,
          "dropped",
          `Dropped event "${oldest.type}" while it waited: the event queue was full (maxSize ${maxSize}) and a newer event took its place (strategy "drop-oldest")`,
        ),
      );
      accept(event, extra);
      return result;
    }
    const accepted = hold(event, extra);
    return extra instanceof Delivery ? accepted.then(() => result) : accepted;
  }

  function drain(): Promise<void> {
    if (idle()) return Promise.resolve();
    return new Promise<void>((resolve) => drainers.push(resolve));
  }

  async function shutDown(): Promise<void> {
    closed = true;
    // Publishes held back were never accepted: they are refused.
    for (let index = heldHead; index < held.length; index++) {
      const entry = held[index]!;
      if (entry.gone) continue;
      entry.gone = true;
      waiting--;
      rejected++;
      // A held Delivery's caller waits on this refusal, not on the Delivery.
      entry.refused(closedError(entry.event));
    }
    held = [];
    heldHead = 0;
    if (!idle()) {
      let timedOut = false;
      let timer: unknown;
      await new Promise<void>((resolve) => {
        drainers.push(resolve);
        timer = clock.setTimeout(() => {
          timedOut = true;
          resolve();
        }, closeTimeoutMs);
      });
      if (timedOut) dropLeft();
      else clock.clearTimeout(timer);
    }
    failureLog?.flush();
    lostLog?.flush();
  }

  function dropLeft(): void {
    const left = size;
    if (left === 0) return;
    while (size > 0) {
      const at = head << 1;
      const event = ring[at] as AnyMessage;
      const extra = ring[at + 1];
      ring[at] = undefined;
      ring[at + 1] = undefined;
      head = (head + 1) & mask;
      size--;
      drop(
        event,
        extra,
        new Error(
          `Dropped event "${event.type}" while it waited: the bus closed and its event queue did not drain within closeTimeoutMs (${closeTimeoutMs} ms)`,
        ),
      );
    }
    console.warn(
      `createAsyncBus: close() dropped ${left} queued event${
        left === 1 ? "" : "s"
      } that did not get delivered within closeTimeoutMs (${closeTimeoutMs} ms)${
        deadLetters === undefined
          ? ""
          : "; they were handed to eventQueue.deadLetters"
      }. They are counted in queue.dropped`,
    );
    settleDrains();
  }

  const queue: EventQueue = {
    get size() {
      return size;
    },
    get active() {
      return delivering;
    },
    get waiting() {
      return waiting;
    },
    get dropped() {
      return dropped;
    },
    get rejected() {
      return rejected;
    },
    get backpressure() {
      return backpressure;
    },
  };

  if (sink !== undefined) {
    sink.observeGauge("event_queue_size", () => size, {
      help: "Events accepted by the event queue and waiting for a worker.",
    });
    sink.observeGauge("event_queue_backpressure", () => backpressure ? 1 : 0, {
      help:
        "1 while the event queue holds publishers back (strategy adaptive), else 0.",
    });
  }

  // The queue drains first, then the bus closes the rest.
  const closeAfter = (bus as unknown as Record<typeof CLOSE_AFTER, CloseAfter>)[
    CLOSE_AFTER
  ];
  const close = () => closing ??= closeAfter(shutDown());
  return Object.assign(bus, {
    publish,
    queue,
    drain,
    close,
    [Symbol.asyncDispose]: close,
  }) as unknown as QueuedAsyncMessageBus;
}
