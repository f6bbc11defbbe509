// Batches: `handleAll` (both buses) dispatches a list of messages;
// `subscribeBatch` (asynchronous bus) hands a subscriber events in batches.
//
// A batch is handed over as a publish of an event of its own, named after
// the definition with "[]" appended and carrying the batch's events as its
// payload, to the one subscriber that runs the batch handler. It is thus an
// ordinary dispatch: every middleware sees it through the public contract,
// `deadLetter` keeps one letter per failed batch (listing its events) and
// `redeliver` hands that letter back to the same subscriber. Nothing here is
// on the path of a plain dispatch.
import {
  type Context,
  isPlainId,
  type Method,
  PLAIN_ID,
  type Router,
} from "./_context.ts";
import { describe } from "./_describe.ts";
import type { Handler, Registry } from "./_registry.ts";
import { type Clock, systemClock } from "./clock.ts";
import { BatchError } from "./errors.ts";
import {
  type AnyDefinition,
  type AnyMessage,
  defineEvent,
  type EventDefinition,
  isMessage,
  type MessageKind,
} from "./messages.ts";
import type { ContextData, SubscribeOptions, Unregister } from "./types.ts";

/** What the batch methods need of a bus. */
export interface BatchPort {
  /** Subscribes as the bus's `subscribe` does. */
  subscribe(
    definition: AnyDefinition,
    handler: Handler,
    options?: SubscribeOptions,
  ): Unregister;
  /** Dispatches as the bus's method of that name does. */
  dispatch(method: Method, message: AnyMessage, options?: object): unknown;
}

/** A bus's batch methods, and what its close() is to call. */
export interface Batches {
  /** What the bus object gets: `handleAll`, and on the asynchronous bus `subscribeBatch`. */
  readonly methods: object;
  /**
   * Removes every batch subscription of the bus; resolves once the events
   * they held have been handled. A bus's close() calls it.
   */
  close(): Promise<void>;
}

/** The batch methods of the bus that `router` and `root` dispatch for. */
export function createBatches(
  registry: Registry,
  router: Router,
  root: Context,
  async: boolean,
): Batches {
  return batchesOver({
    subscribe: registry.subscribe,
    dispatch: (method, message, options) =>
      options === undefined
        ? router[method](message, root)
        : router.withOptions(method, message, root, options),
  }, async);
}

const METHOD: Readonly<Record<MessageKind, Method>> = {
  query: "send",
  command: "execute",
  event: "publish",
  task: "dispatch",
};

const RESOLVED: Promise<void> = Promise.resolve();

/** The batch methods over any bus (`createBatches`' work; tests use it). */
export function batchesOver(port: BatchPort, async: boolean): Batches {
  // ---- handleAll ----------------------------------------------------------

  function handleAllSync(messages: unknown, options?: unknown): unknown[] {
    const list = messageList(messages);
    const dispatchOptions = handleAllOptions(options, false).dispatch;
    if (dispatchOptions?.signal?.aborted) throw dispatchOptions.signal.reason;
    const values: unknown[] = [];
    let results: PromiseSettledResult<unknown>[] | undefined;
    for (let index = 0; index < list.length; index++) {
      const message = list[index]!;
      try {
        const value = port.dispatch(
          METHOD[message.kind],
          message,
          dispatchOptions,
        );
        values.push(value);
        results?.push({ status: "fulfilled", value });
      } catch (reason) {
        // Outcomes are only kept once one has failed.
        results ??= values.map((value) => ({ status: "fulfilled", value }));
        results.push({ status: "rejected", reason });
        values.push(undefined);
      }
    }
    if (results !== undefined) throw new BatchError(list, results);
    return values;
  }

  function handleAllAsync(
    messages: unknown,
    options?: unknown,
  ): Promise<unknown[]> {
    let list: AnyMessage[];
    let checked: CheckedHandleAllOptions;
    try {
      list = messageList(messages);
      checked = handleAllOptions(options, true);
    } catch (error) {
      return Promise.reject(error);
    }
    const { dispatch: dispatchOptions, concurrency } = checked;
    if (dispatchOptions?.signal?.aborted) {
      return Promise.reject(dispatchOptions.signal.reason);
    }
    const results: PromiseSettledResult<unknown>[] = new Array(list.length);
    let next = 0;
    let failed = false;
    // Each worker takes the next message once its own has settled.
    const worker = async () => {
      while (next < list.length) {
        const index = next++;
        const message = list[index]!;
        try {
          const value = await port.dispatch(
            METHOD[message.kind],
            message,
            dispatchOptions,
          );
          results[index] = { status: "fulfilled", value };
        } catch (reason) {
          failed = true;
          results[index] = { status: "rejected", reason };
        }
      }
    };
    const workers = Array.from(
      { length: Math.min(concurrency, list.length) },
      worker,
    );
    return Promise.all(workers).then(() => {
      if (failed) throw new BatchError(list, results);
      return results.map((result) =>
        (result as PromiseFulfilledResult<unknown>).value
      );
    });
  }

  // ---- subscribeBatch -----------------------------------------------------

  // The definition of each event's batches, one per event name, so that
  // every batch subscription of an event shares it (a name has one owner).
  const batchDefinitions = new Map<
    string,
    EventDefinition<readonly AnyMessage[]>
  >();
  // The ids taken among each event's batch subscribers.
  const batchIds = new Map<string, Set<string>>();
  // The removers of the open batch subscriptions, for close().
  const open = new Set<() => Promise<void>>();

  function subscribeBatch(
    definition: unknown,
    handler: unknown,
    options: unknown,
  ): () => Promise<void> {
    const event = eventDefinition(definition);
    if (typeof handler !== "function") {
      throw new TypeError(
        `Cannot subscribeBatch() to event "${event.name}" as its handler must be a function: current value is ${
          describe(handler)
        }`,
      );
    }
    const { size, timeoutMs, clock, onError, id: explicit, module } =
      batchOptions(event.name, options);
    const name = handler.name || "anonymous";
    const batches = batchDefinition(event.name);
    let taken = batchIds.get(batches.name);
    if (taken === undefined) batchIds.set(batches.name, taken = new Set());
    const id = explicit ?? freeId(taken, name);
    const run = handler as Handler;
    // A handler of one parameter gets no context, and so no dispatch.
    const deliver: Handler = run.length === 1
      ? (batch: AnyMessage) => run(batch.payload, undefined)
      : (batch: AnyMessage, context: unknown) => run(batch.payload, context);
    Object.defineProperty(deliver, "name", { value: name });
    const removeDeliverer = port.subscribe(
      batches,
      deliver,
      module === undefined ? { id } : { id, module },
    );
    taken.add(id);
    const own = taken;
    const forgetId = () => {
      own.delete(id);
      if (own.size === 0) batchIds.delete(batches.name);
    };

    let buffer: AnyMessage[] = [];
    let timer: unknown;
    let timing = false;
    // The batches handed over so far, one after another.
    let chain: Promise<void> = RESOLVED;
    let removed: Promise<void> | undefined;

    function take(incoming: AnyMessage): void {
      buffer.push(incoming);
      // Taken after removal (by a publish in flight): handed over at once.
      if (removed !== undefined || buffer.length >= size) {
        flush();
      } else if (!timing) {
        timing = true;
        timer = clock.setTimeout(onTimeout, timeoutMs);
      }
    }

    function onTimeout(): void {
      timing = false;
      flush();
    }

    function flush(): Promise<void> {
      if (timing) {
        timing = false;
        clock.clearTimeout(timer);
      }
      if (buffer.length === 0) return chain;
      const events = Object.freeze(buffer);
      buffer = [];
      return chain = chain.then(() => handOver(events));
    }

    function handOver(events: readonly AnyMessage[]): Promise<void> {
      let handled: unknown;
      try {
        handled = port.dispatch("publish", batches(events), { subscriber: id });
      } catch (error) {
        failed(error, events);
        return RESOLVED;
      }
      return Promise.resolve(handled).then(
        () => {},
        (error) => failed(error, events),
      );
    }

    function failed(error: unknown, events: readonly AnyMessage[]): void {
      if (onError === undefined) {
        console.error(
          `subscribeBatch: subscriber "${id}" failed to handle a batch of ${events.length} "${event.name}" events:`,
          error,
        );
        return;
      }
      try {
        onError(error, events);
      } catch (thrown) {
        console.error(
          `subscribeBatch: the onError of subscriber "${id}" of "${event.name}" batches threw:`,
          thrown,
        );
      }
    }

    const collect: Handler = (incoming: AnyMessage) => take(incoming);
    Object.defineProperty(collect, "name", { value: name });
    let removeCollector: Unregister;
    try {
      removeCollector = port.subscribe(
        event,
        collect,
        explicit === undefined ? undefined : { id: explicit },
      );
    } catch (error) {
      removeDeliverer();
      forgetId();
      throw error;
    }

    const remove = (): Promise<void> => {
      if (removed !== undefined) return removed;
      open.delete(remove);
      removeCollector();
      removed = (async () => {
        // Until no batch is left: one taken late may chain another.
        let seen: Promise<void>;
        do {
          seen = flush();
          await seen;
        } while (seen !== chain || buffer.length > 0);
        removeDeliverer();
        forgetId();
      })();
      return removed;
    };
    open.add(remove);
    return remove;
  }

  function batchDefinition(
    name: string,
  ): EventDefinition<readonly AnyMessage[]> {
    let definition = batchDefinitions.get(name);
    if (definition === undefined) {
      definition = defineEvent<readonly AnyMessage[]>(`${name}[]`);
      batchDefinitions.set(name, definition);
    }
    return definition;
  }

  return {
    methods: async
      ? { handleAll: handleAllAsync, subscribeBatch }
      : { handleAll: handleAllSync },
    close: () =>
      Promise.all(Array.from(open, (remove) => remove())).then(() => {}),
  };
}

// The lowest free default id: `name`, then `name#2`, `name#3`, ...
function freeId(taken: ReadonlySet<string>, name: string): string {
  if (!taken.has(name)) return name;
  let suffix = 2;
  while (taken.has(`${name}#${suffix}`)) suffix++;
  return `${name}#${suffix}`;
}

function messageList(messages: unknown): AnyMessage[] {
  if (!Array.isArray(messages)) {
    throw new TypeError(
      `Cannot handleAll() as 'messages' must be an array of messages: current value is ${
        describe(messages)
      }`,
    );
  }
  // A copy: the list given may change while its messages are dispatched.
  const list = messages.slice();
  for (let index = 0; index < list.length; index++) {
    if (!isMessage(list[index])) {
      throw new TypeError(
        `Cannot handleAll() as messages[${index}] is not a message, built by calling its definition: current value is ${
          describe(list[index])
        }`,
      );
    }
  }
  return list;
}

interface CheckedHandleAllOptions {
  /** What each dispatch gets, or `undefined` for none. */
  readonly dispatch:
    | {
      readonly signal?: AbortSignal;
      readonly data?: Readonly<Partial<ContextData>>;
    }
    | undefined;
  readonly concurrency: number;
}

function handleAllOptions(
  options: unknown,
  async: boolean,
): CheckedHandleAllOptions {
  if (options === undefined) return { dispatch: undefined, concurrency: 1 };
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot handleAll() as its options must be an object: current value is ${
        shown(options)
      }`,
    );
  }
  const { signal, data, concurrency, id, subscriber } = options as Record<
    string,
    unknown
  >;
  if (id !== undefined || subscriber !== undefined) {
    throw new TypeError(
      `Cannot handleAll() with ${
        id !== undefined ? "an 'id'" : "a 'subscriber'"
      } option: each message is a dispatch of its own; dispatch it alone to give it one`,
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `Cannot handleAll() as 'signal' must be an AbortSignal: current value is ${
        shown(signal)
      }`,
    );
  }
  if (
    data !== undefined &&
    (typeof data !== "object" || data === null || Array.isArray(data))
  ) {
    throw new TypeError(
      `Cannot handleAll() as 'data' must be an object of named values: current value is ${
        shown(data)
      }`,
    );
  }
  if (concurrency !== undefined) {
    if (!async) {
      throw new TypeError(
        "Cannot handleAll() with a 'concurrency' option on the synchronous bus: it dispatches one message after another; use createAsyncBus() to run them concurrently",
      );
    }
    if (
      concurrency !== Infinity &&
      !(Number.isInteger(concurrency) && (concurrency as number) > 0)
    ) {
      throw new RangeError(
        `Cannot handleAll() as 'concurrency' must be a positive integer or Infinity: current value is ${
          shown(concurrency)
        }`,
      );
    }
  }
  const dispatch = signal === undefined
    ? data === undefined ? undefined : { data }
    : data === undefined
    ? { signal }
    : { signal, data };
  return {
    dispatch: dispatch as CheckedHandleAllOptions["dispatch"],
    concurrency: (concurrency as number | undefined) ?? 1,
  };
}

function eventDefinition(definition: unknown): EventDefinition<unknown> {
  const candidate = (typeof definition === "function" ? definition : {}) as {
    readonly name?: unknown;
    readonly kind?: unknown;
    readonly is?: unknown;
  };
  if (
    typeof definition !== "function" || typeof candidate.name !== "string" ||
    candidate.kind !== "event" || typeof candidate.is !== "function"
  ) {
    throw new TypeError(
      `Cannot subscribeBatch() as its first argument must be an event definition from defineEvent(): current value is ${
        typeof candidate.kind === "string"
          ? `${candidate.kind} "${String(candidate.name)}"`
          : describe(definition)
      }`,
    );
  }
  return definition as EventDefinition<unknown>;
}

interface CheckedBatchOptions {
  readonly size: number;
  readonly timeoutMs: number;
  readonly clock: Clock;
  readonly onError:
    | ((error: unknown, events: readonly AnyMessage[]) => void)
    | undefined;
  readonly id: string | undefined;
  readonly module: string | undefined;
}

function batchOptions(event: string, options: unknown): CheckedBatchOptions {
  const cannot = `Cannot subscribeBatch() to event "${event}" as`;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `${cannot} its options must be an object with 'size' and 'timeoutMs': current value is ${
        shown(options)
      }`,
    );
  }
  const { size, timeoutMs, clock, onError, id, module } = options as Record<
    string,
    unknown
  >;
  if (!Number.isInteger(size) || (size as number) < 1) {
    throw new RangeError(
      `${cannot} 'size' must be a positive integer: current value is ${
        shown(size)
      }`,
    );
  }
  if (
    typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) ||
    timeoutMs <= 0
  ) {
    throw new RangeError(
      `${cannot} 'timeoutMs' must be a positive finite number of milliseconds: current value is ${
        shown(timeoutMs)
      }`,
    );
  }
  if (
    clock !== undefined &&
    (typeof (clock as Partial<Clock> | null)?.setTimeout !== "function" ||
      typeof (clock as Partial<Clock>).clearTimeout !== "function")
  ) {
    throw new TypeError(
      `${cannot} 'clock' must have setTimeout and clearTimeout methods: current value is ${
        shown(clock)
      }`,
    );
  }
  if (onError !== undefined && typeof onError !== "function") {
    throw new TypeError(
      `${cannot} 'onError' must be a function: current value is ${
        shown(onError)
      }`,
    );
  }
  for (const [option, value] of [["id", id], ["module", module]] as const) {
    if (value !== undefined && !isPlainId(value)) {
      throw new TypeError(
        `${cannot} '${option}' must be ${PLAIN_ID}: current value is ${
          shown(value)
        }`,
      );
    }
  }
  return {
    size: size as number,
    timeoutMs,
    clock: (clock as Clock | undefined) ?? systemClock,
    onError: onError as CheckedBatchOptions["onError"],
    id: id as string | undefined,
    module: module as string | undefined,
  };
}

// A value in an option's error message.
function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || value === undefined || value === null) {
    return String(value);
  }
  return typeof value;
}
