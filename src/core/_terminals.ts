// The terminal dispatch of each method, for both buses: what runs after the
// last middleware (or alone, without middleware), and the bus object built
// around it.
//
// This is the one place that depends on how V8 compiles the hot path, and
// bench/dispatch_bench.ts is what justifies it:
//
// - The hot functions (`send`, `execute`, `dispatch`, `publish`) call only
//   helpers declared in this module. A call to an imported function, even in
//   a branch a dispatch never takes, keeps V8 from inlining the dispatch
//   into its caller and from eliding the allocations around it (a `send`
//   that imports its error helper is half as fast again as its floor, and
//   allocates several times more). So the off-path helpers below (`unroutable`, `unheard`, ...) forward to
//   the shared ones in _registry.ts and are never imported by the hot code.
// - Without middleware, the bus calls the plain terminals of send, execute
//   and dispatch, which ignore the observer; behind middleware or caller
//   options, the full terminals check it. A publish checks the observer and
//   the one-subscriber target itself: one more frame at the end of a chain
//   of middleware would stop V8 from inlining the chain (its cumulative
//   inlining budget), which costs more than the two field reads.
// - The `next` of each link of the synchronous chain (_compose.ts) is kept
//   small for the same budget: its errors are built by a helper.
import {
  type CallerOptions,
  callerOptions,
  type Context,
  entryContext,
  handlerContext,
  type Method,
  rootContext,
  type Router,
  subscriberContext,
  underSignal,
  withCaller,
} from "./_context.ts";
import {
  checkUnheardEvent,
  dispatchError,
  type EventEntry,
  eventError,
  type Handler,
  isAsyncFunction,
  noSubscriberError,
  type Registry,
  removedSubscriber,
  type Routes,
  type Subscribed,
  type Subscriber,
} from "./_registry.ts";
import type { AnyDefinition, AnyMessage, MessageKind } from "./messages.ts";
import { createSessions } from "./_sessions.ts";
import { createBatches } from "./_batches.ts";
import {
  assertHandles,
  closedDispatch,
  closedRegistration,
  routesRegistrations,
  within,
} from "./_lifecycle.ts";
import type {
  HandlerCall,
  HandlerObserver,
  SubscribeOptions,
  Unregister,
} from "./types.ts";

/** A terminal dispatch: a message and its context. */
export type Terminal = (message: AnyMessage, context: Context) => unknown;

/** The terminals of the four methods. */
export interface Terminals {
  readonly send: Terminal;
  readonly execute: Terminal;
  readonly publish: Terminal;
  readonly dispatch: Terminal;
}

/**
 * The plain terminals (no observer, every subscriber) and the full ones
 * (observer told, one subscriber when the context names it).
 */
export interface TerminalSet {
  readonly plain: Terminals;
  readonly full: Terminals;
}

/** The terminals of the synchronous bus. */
export function syncTerminals(routes: Routes): TerminalSet {
  const { queries, commands, events, tasks } = routes;

  // The hot path: one Map.get, one kind check, one call. Everything else
  // (bad values, wrong kinds, missing handlers) is diagnosed off this path.
  function send(query: AnyMessage, context: Context): unknown {
    const handler = queries.get(query?.type);
    if (handler !== undefined && query.kind === "query") {
      return handler(query, context);
    }
    throw unroutable("query", query);
  }

  function execute(command: AnyMessage, context: Context): unknown {
    const handler = commands.get(command?.type);
    if (handler !== undefined && command.kind === "command") {
      const result = handler(command, context);
      if (result !== undefined) unawaited(result, command, undefined);
      return result;
    }
    throw unroutable("command", command);
  }

  function dispatch(task: AnyMessage, context: Context): void {
    const handler = tasks.get(task?.type);
    if (handler !== undefined && task.kind === "task") {
      const result = handler(task, context);
      if (result !== undefined) {
        unawaited(result, task, undefined);
      }
      return;
    }
    throw unroutable("task", task);
  }

  function publish(event: AnyMessage, context: Context): void {
    // A state (an observer, a target subscriber, an attempt) is rare: one
    // read here instead of two keeps a chain within V8's inlining budget.
    if (context.state !== undefined) return publishTo(event, context);
    const entry = events.get(event?.type);
    if (entry === undefined || event.kind !== "event") {
      return unheard(event);
    }
    if (entry.contextual > 0) context = publishContext(context);
    const subscribers = entry.handlers;
    const live = entry.live;
    let errors: unknown[] | undefined;
    entry.shared = true;
    for (let index = 0; index < subscribers.length; index++) {
      try {
        const result = subscribers[index]!(event, context);
        if (result !== undefined) {
          unawaited(result, event, entry.subscribers[index]);
        }
      } catch (error) {
        (errors ??= []).push(error);
      }
    }
    if (errors !== undefined) throw failedEvent(event, errors, live);
  }

  function publishTo(event: AnyMessage, context: Context): void {
    const { observer, subscriber: target } = context;
    const entry = events.get(event?.type);
    if (entry === undefined || event.kind !== "event") {
      unheard(event);
      if (target !== undefined) throw noSubscriber(event, target);
      return;
    }
    if (entry.contextual > 0) context = publishContext(context);
    const subscribers = entry.handlers;
    const who = entry.subscribers;
    let errors: unknown[] | undefined;
    let ran = 0;
    entry.shared = true;
    for (let index = 0; index < subscribers.length; index++) {
      const subscriber = subscribers[index]!;
      const { id, name } = who[index]!;
      if (subscriber === removedSubscriber) continue;
      if (target !== undefined && id !== target) continue;
      ran++;
      const told = call(name, id, context);
      observer?.onCall?.(told);
      try {
        const result = subscriber(event, context);
        if (result !== undefined) {
          unawaited(result, event, who[index]);
        }
      } catch (error) {
        (errors ??= []).push(error);
        observer?.onError?.({ ...told, error });
      }
    }
    if (ran === 0) throw noSubscriber(event, target!);
    if (errors !== undefined) throw failedEvent(event, errors, ran);
  }

  return {
    plain: { send, execute, publish, dispatch },
    full: {
      send: observedOne(routes, "query", send, runObserved),
      execute: observedOne(routes, "command", execute, runObserved),
      publish,
      dispatch: observedOne(routes, "task", dispatch, runObserved),
    },
  };
}

/**
 * The promise an asynchronous dispatch returns when it settled already (a
 * publish to synchronous subscribers that all succeeded): the event queue
 * takes the next event at once when it sees it.
 */
export const RESOLVED: Promise<void> = Promise.resolve();

/**
 * How the asynchronous bus stores a query, command or task handler: as a
 * function that returns a promise and never throws, so a dispatch is a
 * Map.get and a call. An `async function` is one already and is stored as
 * is; any other function is wrapped: its own promise is handed back as is (no
 * extra tick), a plain value or a foreign thenable is wrapped once, a throw
 * becomes a rejection.
 */
export function promising(handler: Handler): Handler {
  if (isAsyncFunction(handler)) return handler;
  return (message, context) => {
    try {
      const result = handler(message, context);
      return result instanceof Promise ? result : Promise.resolve(result);
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

// A subscriber that threw synchronously, kept apart from one that returned
// a promise, so errors are reported in subscription order.
class Thrown {
  constructor(readonly error: unknown) {}
}

/** The terminals of the asynchronous bus; handlers are stored `promising`. */
export function asyncTerminals(routes: Routes): TerminalSet {
  const { queries, commands, events, tasks } = routes;

  function send(query: AnyMessage, context: Context): Promise<unknown> {
    const handler = queries.get(query?.type);
    if (handler === undefined || query.kind !== "query") {
      return unroutableAsync("query", query);
    }
    return handler(query, context) as Promise<unknown>;
  }

  function execute(command: AnyMessage, context: Context): Promise<unknown> {
    const handler = commands.get(command?.type);
    if (handler === undefined || command.kind !== "command") {
      return unroutableAsync("command", command);
    }
    return handler(command, context) as Promise<unknown>;
  }

  function dispatch(task: AnyMessage, context: Context): Promise<unknown> {
    const handler = tasks.get(task?.type);
    if (handler === undefined || task.kind !== "task") {
      return unroutableAsync("task", task);
    }
    return handler(task, context) as Promise<unknown>;
  }

  function publish(event: AnyMessage, context: Context): Promise<unknown> {
    if (context.state !== undefined) return publishTo(event, context);
    const entry = events.get(event?.type);
    if (entry === undefined || event.kind !== "event") {
      return unheardAsync(event);
    }
    if (entry.contextual > 0) context = publishContext(context);
    if (entry.mixed) return publishInOrder(event, context, entry, undefined);
    const subscribers = entry.handlers;
    const live = entry.live;
    // Outcomes are only tracked once a subscriber returns a promise or
    // throws; a publish to synchronous subscribers that all succeed
    // allocates nothing.
    let outcomes: unknown[] | undefined;
    entry.shared = true;
    for (let index = 0; index < subscribers.length; index++) {
      let outcome: unknown;
      try {
        outcome = subscribers[index]!(event, context);
      } catch (error) {
        outcome = new Thrown(error);
      }
      if (outcome instanceof Thrown || isThenable(outcome)) {
        (outcomes ??= new Array(subscribers.length))[index] = outcome;
      }
    }
    if (outcomes === undefined) return RESOLVED;
    return settleAll(event, outcomes, live);
  }

  function publishTo(event: AnyMessage, context: Context): Promise<unknown> {
    const { observer, subscriber: target } = context;
    const entry = events.get(event?.type);
    if (entry === undefined || event.kind !== "event") {
      return target === undefined
        ? unheardAsync(event)
        : unheardAsync(event).then(() => {
          throw noSubscriber(event, target);
        });
    }
    if (entry.contextual > 0) context = publishContext(context);
    if (entry.mixed) return publishInOrder(event, context, entry, target);
    const subscribers = entry.handlers;
    const who = entry.subscribers;
    const running: unknown[] = [];
    const calls: HandlerCall[] = [];
    entry.shared = true;
    for (let index = 0; index < subscribers.length; index++) {
      const subscriber = subscribers[index]!;
      const { id, name } = who[index]!;
      if (subscriber === removedSubscriber) continue;
      if (target !== undefined && id !== target) continue;
      const told = call(name, id, context);
      observer?.onCall?.(told);
      calls.push(told);
      running.push(promising(subscriber)(event, context));
    }
    if (running.length === 0) {
      return Promise.reject(noSubscriber(event, target!));
    }
    // Failures are told in subscription order, once all have settled.
    return settleAll(
      event,
      running,
      running.length,
      observer?.onError === undefined
        ? undefined
        : (index, error) => observer.onError!({ ...calls[index]!, error }),
    );
  }

  return {
    plain: { send, execute, publish, dispatch },
    full: {
      send: observedOne(routes, "query", send, runObservedAsync),
      execute: observedOne(routes, "command", execute, runObservedAsync),
      publish,
      dispatch: observedOne(routes, "task", dispatch, runObservedAsync),
    },
  };
}

/**
 * Builds a bus's router and its four dispatch methods around `terminals`:
 * without middleware the methods call the plain terminals; `compose` wraps
 * the full terminals of a method in the middleware. A call with options
 * always takes the full terminals.
 */
export function assemble<B>(
  registry: Registry,
  terminals: TerminalSet,
  compose: ((kind: MessageKind, terminal: Terminal) => Terminal) | undefined,
  async: boolean,
  closeSettings?: CloseSettings,
): B {
  return assembleOver(
    registry,
    createRouter(terminals, compose, async),
    async,
    closeSettings,
  );
}

/**
 * A router over `terminals`: without middleware the methods are the plain
 * terminals; `compose` wraps the full terminals of a method in the
 * middleware. A call with options always takes the full terminals.
 */
export function createRouter(
  terminals: TerminalSet,
  compose: ((kind: MessageKind, terminal: Terminal) => Terminal) | undefined,
  async: boolean,
): Router {
  const optioned: Terminals = compose === undefined ? terminals.full : {
    send: compose("query", terminals.full.send),
    execute: compose("command", terminals.full.execute),
    publish: compose("event", terminals.full.publish),
    dispatch: compose("task", terminals.full.dispatch),
  };
  const withOptions = async ? withOptionsAsync : withOptionsSync;
  return {
    ...(compose === undefined ? terminals.plain : optioned),
    withOptions: (method, message, parent, options, sessionId) =>
      withOptions(
        optioned[method],
        method,
        message,
        parent,
        options,
        sessionId,
      ),
  };
}

/** How a bus closes; see `assembleOver`. */
export interface CloseSettings {
  /** The factory's name, for messages. */
  readonly factory: string;
  /** How long an async close() waits for sessions and batches. */
  readonly timeoutMs: number;
}

const DEFAULT_CLOSE: CloseSettings = {
  factory: "createAsyncBus",
  timeoutMs: 5_000,
};

/**
 * A bus's methods over `router`, registering into `registry`: dispatch and
 * registration, sessions, batches, what it handles, and `close()`. The
 * async bus's `close(before)` takes what it must wait for first (its event
 * queue draining).
 */
export function assembleOver<B>(
  registry: Registry,
  router: Router,
  async: boolean,
  closeSettings: CloseSettings = DEFAULT_CLOSE,
): B {
  const root = rootContext(router);
  const { send, execute, publish, dispatch } = router;
  const sessions = createSessions(registry, router, root, async);
  // `batches.close()` is what a close() of the bus is to call: it flushes
  // the events its batch subscriptions hold.
  const batches = createBatches(registry, router, root, async);
  // Read on every dispatch made on the bus itself: one boolean, so a closed
  // bus refuses work without touching the routing tables' hot path. Nested
  // dispatches (through a handler's context) are not refused: the handlers
  // in flight finish their work while the bus closes.
  let open = true;
  let closing: Promise<void> | undefined;
  const removers = new Set<Unregister>();

  // A dispatch with options, or on a closed bus.
  function entered(method: Method, message: AnyMessage, options: unknown) {
    if (open) return router.withOptions(method, message, root, options);
    const error = closedDispatch(KIND_OF[method], message);
    if (async) return Promise.reject(error);
    throw error;
  }

  function kept(kind: MessageKind, method: RegisterMethod) {
    return (
      definition: AnyDefinition,
      handler: Handler,
      options?: unknown,
    ): Unregister => {
      if (!open) {
        const refused = closedRegistration(kind, definition, method);
        if (refused !== undefined) throw refused;
      }
      const registered = method === "subscribe"
        ? registry.subscribe(
          definition,
          handler,
          options as SubscribeOptions | undefined,
        )
        : registry[method](definition, handler, undefined, options);
      const remove = () => {
        removers.delete(remove);
        registered();
      };
      removers.add(remove);
      // The registry's subscriber id stays readable on the remover.
      const id = (registered as Partial<Subscribed>).subscriberId;
      return id === undefined
        ? remove
        : Object.assign(remove, { subscriberId: id });
    };
  }

  function removeAll(): void {
    for (const remove of [...removers]) remove();
  }

  function closeSync(): void {
    if (!open) return;
    open = false;
    sessions.closeAll();
    void batches.close();
    removeAll();
  }

  function closeAsync(before?: Promise<unknown>): Promise<void> {
    return closing ??= (async () => {
      open = false;
      if (before !== undefined) await before;
      const { factory, timeoutMs } = closeSettings;
      const finished = await within(
        Promise.all([sessions.closeAll(), batches.close()]),
        timeoutMs,
      );
      if (!finished) {
        console.warn(
          `${factory}: close() stopped waiting after closeTimeoutMs (${timeoutMs} ms) for the handlers in flight of its sessions and batch subscriptions; every registration is removed now`,
        );
        sessions.removeAll();
      }
      removeAll();
    })();
  }

  const close = async ? closeAsync : closeSync;
  return {
    send: (query: AnyMessage, options?: unknown) =>
      options === undefined && open
        ? send(query, root)
        : entered("send", query, options),
    execute: (command: AnyMessage, options?: unknown) =>
      options === undefined && open
        ? execute(command, root)
        : entered("execute", command, options),
    publish: (event: AnyMessage, options?: unknown) =>
      options === undefined && open
        ? publish(event, root)
        : entered("publish", event, options),
    dispatch: (task: AnyMessage, options?: unknown) =>
      options === undefined && open
        ? dispatch(task, root)
        : entered("dispatch", task, options),
    registerQuery: kept("query", "registerQuery"),
    registerCommand: kept("command", "registerCommand"),
    subscribe: kept("event", "subscribe"),
    registerTask: kept("task", "registerTask"),
    ...batches.methods,
    session: sessions.open,
    get activeSessions() {
      return sessions.active;
    },
    ...routesRegistrations(registry.routes),
    assertHandles: (...definitions: AnyDefinition[]) =>
      assertHandles(registry.routes, definitions),
    close: () => close(),
    [async ? Symbol.asyncDispose : Symbol.dispose]: () => close(),
    // For the event queue: it drains before the bus closes, and delivers
    // what it accepted while the bus refuses new work.
    [CLOSE_AFTER]: close,
    [PUBLISH_QUEUED]: (event: AnyMessage, options?: unknown) =>
      options === undefined
        ? publish(event, root)
        : router.withOptions("publish", event, root, options),
  } as B;
}

/** Where an asynchronous bus keeps the publish its event queue delivers with. */
export const PUBLISH_QUEUED: unique symbol = Symbol("publishQueued");

/**
 * Where an asynchronous bus keeps its close(before): the event queue calls
 * it with its own draining, so the bus waits for the queue first.
 */
export const CLOSE_AFTER: unique symbol = Symbol("closeAfter");

type RegisterMethod =
  | "registerQuery"
  | "registerCommand"
  | "registerTask"
  | "subscribe";

const KIND_OF = {
  send: "query",
  execute: "command",
  publish: "event",
  dispatch: "task",
} as const;

/**
 * The asynchronous bus's chain: middleware only ever see messages of the
 * method's kind (anything else is rejected before the chain, with the same
 * error as without middleware), each dispatch gets its context at the entry,
 * and a synchronous middleware's direct answer still arrives as a promise.
 * The synchronous bus's entry is the chain's first link (`composeEntry`).
 */
export function kindChecked(kind: MessageKind, chain: Terminal): Terminal {
  return (message, context) =>
    message?.kind === kind
      ? promised(chain(message, chainContext(context)))
      : unroutableAsync(kind, message);
}

function withOptionsSync(
  dispatch: Terminal,
  method: Method,
  message: AnyMessage,
  parent: Context,
  options: unknown,
  sessionId: string | undefined,
): unknown {
  const caller = callerOptions(method, options);
  if (caller.signal?.aborted) throw caller.signal.reason;
  return dispatch(message, withCaller(parent, caller, sessionId));
}

function withOptionsAsync(
  dispatch: Terminal,
  method: Method,
  message: AnyMessage,
  parent: Context,
  options: unknown,
  sessionId: string | undefined,
): Promise<unknown> {
  let caller: CallerOptions;
  try {
    caller = callerOptions(method, options);
  } catch (error) {
    return Promise.reject(error);
  }
  const context = withCaller(parent, caller, sessionId);
  const run = () => dispatch(message, context) as Promise<unknown>;
  return caller.signal === undefined ? run() : underSignal(caller.signal, run);
}

/**
 * A query, command or task handler of the synchronous bus that takes a
 * context: it runs in a dispatch of its own (or the one its entry made), and
 * what it emits is cascaded once it has returned.
 */
export function contextualHandler(
  handler: Handler,
  module: string | undefined,
): Handler {
  return (message, parent) => {
    const context = handlerContext(parent);
    if (module !== undefined) context.handlerModule = module;
    return runSync(handler, message, context);
  };
}

/** An event subscriber of the synchronous bus that takes a context. */
export function contextualSubscriber(
  handler: Handler,
  module: string | undefined,
): Handler {
  return (event, dispatch) =>
    runSync(handler, event, subscriberContext(dispatch, module));
}

/**
 * A query, command or task handler of the asynchronous bus that takes a
 * context; its result arrives as a promise, and what it emitted is cascaded
 * once that promise has resolved.
 */
export function contextualHandlerAsync(
  handler: Handler,
  module: string | undefined,
): Handler {
  const run = promising(handler);
  return (message, parent) => {
    const context = handlerContext(parent);
    if (module !== undefined) context.handlerModule = module;
    return runAsync(run, message, context);
  };
}

/** An event subscriber of the asynchronous bus that takes a context. */
export function contextualSubscriberAsync(
  handler: Handler,
  module: string | undefined,
): Handler {
  const run = promising(handler);
  return (event, dispatch) =>
    runAsync(run, event, subscriberContext(dispatch, module));
}

function runSync(
  handler: Handler,
  message: AnyMessage,
  context: Context,
): unknown {
  let result: unknown;
  try {
    result = handler(message, context);
  } catch (error) {
    context.discardEmitted();
    throw error;
  }
  const emitted = context.takeEmitted();
  if (emitted === undefined) return result;
  const errors = cascade(context, emitted);
  if (errors !== undefined) throw cascadeError(context, emitted, errors);
  return result;
}

function runAsync(
  run: Handler,
  message: AnyMessage,
  context: Context,
): Promise<unknown> {
  return (run(message, context) as Promise<unknown>).then(
    async (result) => {
      const emitted = context.takeEmitted();
      if (emitted === undefined) return result;
      const errors = await cascadeAsync(context, emitted);
      if (errors !== undefined) throw cascadeError(context, emitted, errors);
      return result;
    },
    (error) => {
      context.discardEmitted();
      throw error;
    },
  );
}

const METHOD_OF = {
  command: "execute",
  event: "publish",
  task: "dispatch",
} as const;

// Dispatches what a handler emitted, in order, caused by its dispatch: all
// of them, even when one fails; the errors are returned.
function cascade(
  context: Context,
  emitted: readonly AnyMessage[],
): unknown[] | undefined {
  const parent = context.nested();
  const { router } = context;
  let errors: unknown[] | undefined;
  for (const message of emitted) {
    try {
      router[METHOD_OF[message.kind as keyof typeof METHOD_OF]](
        message,
        parent,
      );
    } catch (error) {
      (errors ??= []).push(error);
    }
  }
  return errors;
}

async function cascadeAsync(
  context: Context,
  emitted: readonly AnyMessage[],
): Promise<unknown[] | undefined> {
  const parent = context.nested();
  const { router } = context;
  let errors: unknown[] | undefined;
  for (const message of emitted) {
    try {
      await router[METHOD_OF[message.kind as keyof typeof METHOD_OF]](
        message,
        parent,
      );
    } catch (error) {
      (errors ??= []).push(error);
    }
  }
  return errors;
}

function cascadeError(
  context: Context,
  emitted: readonly AnyMessage[],
  errors: readonly unknown[],
): unknown {
  if (errors.length === 1) return errors[0];
  return new AggregateError(
    errors,
    `${errors.length} of ${emitted.length} messages emitted by dispatch ${context.id} failed; each error is in .errors`,
  );
}

// --- off the hot path -------------------------------------------------------

// An asynchronous publish to subscribers of several priorities: each
// priority's subscribers run concurrently, after the priority above has
// settled; every subscriber runs, and errors come in subscription order.
async function publishInOrder(
  event: AnyMessage,
  context: Context,
  entry: EventEntry,
  target: string | undefined,
): Promise<void> {
  const { observer } = context;
  const subscribers = entry.handlers;
  const who = entry.subscribers;
  entry.shared = true;
  const errors: unknown[] = [];
  let ran = 0;
  let index = 0;
  while (index < subscribers.length) {
    const priority = who[index]!.priority;
    const running: unknown[] = [];
    const calls: HandlerCall[] = [];
    for (
      ;
      index < subscribers.length && who[index]!.priority === priority;
      index++
    ) {
      const subscriber = subscribers[index]!;
      const { id, name } = who[index]!;
      if (subscriber === removedSubscriber) continue;
      if (target !== undefined && id !== target) continue;
      ran++;
      const told = call(name, id, context);
      observer?.onCall?.(told);
      calls.push(told);
      running.push(promising(subscriber)(event, context));
    }
    const results = await Promise.allSettled(running);
    results.forEach((result, at) => {
      if (result.status === "fulfilled") return;
      errors.push(result.reason);
      observer?.onError?.({ ...calls[at]!, error: result.reason });
    });
  }
  if (target !== undefined && ran === 0) throw noSubscriber(event, target);
  if (errors.length > 0) throw failedEvent(event, errors, ran);
}

// Forwarders to _context.ts, declared here for the reason at the top.
function publishContext(parent: Context): Context {
  return handlerContext(parent);
}

function chainContext(parent: Context): Context {
  return entryContext(parent);
}

// A synchronous middleware on the asynchronous bus may answer without
// calling next (a cache, a filter): its answer still arrives as a promise.
function promised(result: unknown): Promise<unknown> {
  return result instanceof Promise ? result : Promise.resolve(result);
}

type Run = (
  handler: Handler,
  message: AnyMessage,
  context: Context,
  observer: HandlerObserver,
  call: HandlerCall,
) => unknown;

// The full terminal of a query, command or task: tells the context's
// observer which handler runs (and, through `run`, whether it fails).
function observedOne(
  routes: Routes,
  kind: "query" | "command" | "task",
  plain: Terminal,
  run: Run,
): Terminal {
  const table = kind === "query"
    ? routes.queries
    : kind === "command"
    ? routes.commands
    : routes.tasks;
  return (message, context) => {
    const observer = context.observer;
    if (observer === undefined) return plain(message, context);
    const handler = table.get(message?.type);
    if (handler === undefined || message.kind !== kind) {
      return plain(message, context);
    }
    const told = call(
      routes.handlerName(kind, message.type),
      undefined,
      context,
    );
    observer.onCall?.(told);
    return run(handler, message, context, observer, told);
  };
}

function runObserved(
  handler: Handler,
  message: AnyMessage,
  context: Context,
  observer: HandlerObserver,
  call: HandlerCall,
): unknown {
  try {
    const result = handler(message, context);
    if (
      message.kind !== "query" && typeof result === "object" && result !== null
    ) {
      unawaited(result, message, undefined);
    }
    return result;
  } catch (error) {
    return failed(observer, call, error);
  }
}

function runObservedAsync(
  handler: Handler,
  message: AnyMessage,
  context: Context,
  observer: HandlerObserver,
  call: HandlerCall,
): Promise<unknown> {
  const result = handler(message, context) as Promise<unknown>;
  return observer.onError === undefined
    ? result
    : result.catch((error) => failed(observer, call, error));
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

function call(
  handler: string,
  subscriber: string | undefined,
  context: Context,
): HandlerCall {
  return { handler, subscriber, attempt: context.attempt };
}

function failed(
  observer: HandlerObserver,
  call: HandlerCall,
  error: unknown,
): never {
  observer.onError?.({ ...call, error });
  throw error;
}

function settleAll(
  event: AnyMessage,
  outcomes: unknown[],
  subscribers: number,
  onRejected?: (index: number, error: unknown) => void,
): Promise<void> {
  return Promise.allSettled(
    Array.from(
      outcomes,
      (outcome) =>
        outcome instanceof Thrown ? Promise.reject(outcome.error) : outcome,
    ),
  ).then((results) => {
    const errors: unknown[] = [];
    results.forEach((result, index) => {
      if (result.status === "fulfilled") return;
      errors.push(result.reason);
      onRejected?.(index, result.reason);
    });
    if (errors.length > 0) throw failedEvent(event, errors, subscribers);
  });
}

// A handler on the synchronous bus returned a promise: nothing can wait for
// it. Its outcome is reported when it settles (never left as an unhandled
// rejection), and the dispatch fails with an error naming the way out.
function unawaited(
  result: unknown,
  message: AnyMessage,
  subscriber: Subscriber | undefined,
): void {
  if (
    typeof result !== "object" || result === null ||
    typeof (result as { then?: unknown }).then !== "function"
  ) {
    return;
  }
  const who = subscriber === undefined
    ? `the handler of ${message.kind} "${message.type}"`
    : `subscriber "${subscriber.id}" of event "${message.type}"`;
  (result as PromiseLike<unknown>).then(
    undefined,
    (error: unknown) =>
      console.error(
        `The promise ${who} returned on the synchronous bus rejected:`,
        error,
      ),
  );
  throw new TypeError(
    `Cannot wait for ${who}: it returned a promise, and the synchronous bus does not wait for promises. Register it on a bus from createAsyncBus()`,
  );
}

function unroutable(kind: MessageKind, value: unknown): Error {
  return dispatchError(kind, value);
}

function unroutableAsync(kind: MessageKind, value: unknown): Promise<never> {
  return Promise.reject(dispatchError(kind, value));
}

function unheard(value: unknown): void {
  checkUnheardEvent(value);
}

function unheardAsync(value: unknown): Promise<void> {
  try {
    checkUnheardEvent(value);
    return RESOLVED;
  } catch (error) {
    return Promise.reject(error);
  }
}

function noSubscriber(event: AnyMessage, id: string): Error {
  return noSubscriberError(event, id);
}

function failedEvent(
  event: AnyMessage,
  errors: unknown[],
  subscribers: number,
): unknown {
  return eventError(event, errors, subscribers);
}
