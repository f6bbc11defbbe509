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
import {
  type CallerOptions,
  callerOptions,
  type Context,
  type Method,
  rootContext,
  underSignal,
  withCaller,
} from "./_context.ts";
import {
  checkUnheardEvent,
  createRegistry,
  dispatchError,
  eventError,
  type Handler,
  noSubscriberError,
} from "./_registry.ts";
import type { AnyMessage, MessageKind } from "./messages.ts";
import type {
  AsyncMessageBus,
  AsyncMiddleware,
  HandlerCall,
  HandlerObserver,
  Middleware,
  PublishOptions,
} from "./types.ts";

/** Options of {@linkcode createAsyncBus}. */
export interface AsyncBusOptions {
  /**
   * Middleware wrapping every dispatch, the first being the outermost.
   *
   * @default {[]}
   */
  readonly middleware?: readonly (AsyncMiddleware | Middleware)[];
}

const RESOLVED: Promise<void> = Promise.resolve();

const AsyncFunctionPrototype: object = Object.getPrototypeOf(async () => {});

// Every query, command and task handler is stored as a function that returns
// a promise and never throws, so a dispatch is a Map.get and a call. An
// `async function` is one already and is stored as is; any other function is
// wrapped: its own promise is handed back as is (no extra tick), a plain
// value or a foreign thenable is wrapped once, a throw becomes a rejection.
function promising(handler: Handler): Handler {
  if (Object.getPrototypeOf(handler) === AsyncFunctionPrototype) return handler;
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

/**
 * Creates an asynchronous in-process bus. Every method is a closure, so
 * `const { send } = bus` works.
 *
 * @param options Middleware to wrap every dispatch with.
 * @returns The bus.
 * @throws {TypeError} When a middleware is not a function.
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
export function createAsyncBus(options: AsyncBusOptions = {}): AsyncMessageBus {
  const middleware = middlewareOption(
    "createAsyncBus",
    options?.middleware,
    true,
  ) as readonly AsyncMiddleware[];
  const { routes, ...registration } = createRegistry(promising);
  const { queries, commands, events, tasks } = routes;

  function send(query: AnyMessage, context: Context): Promise<unknown> {
    const handler = queries.get(query?.type);
    if (handler === undefined || query.kind !== "query") {
      return unroutable("query", query);
    }
    return handler(query, context) as Promise<unknown>;
  }

  function execute(command: AnyMessage, context: Context): Promise<unknown> {
    const handler = commands.get(command?.type);
    if (handler === undefined || command.kind !== "command") {
      return unroutable("command", command);
    }
    return handler(command, context) as Promise<unknown>;
  }

  function dispatch(task: AnyMessage, context: Context): Promise<unknown> {
    const handler = tasks.get(task?.type);
    if (handler === undefined || task.kind !== "task") {
      return unroutable("task", task);
    }
    return handler(task, context) as Promise<unknown>;
  }

  function publish(event: AnyMessage, context: Context): Promise<unknown> {
    const subscribers = events.get(event?.type);
    if (subscribers === undefined || event.kind !== "event") {
      return unheard(event);
    }
    // Outcomes are only tracked once a subscriber returns a promise or
    // throws; a publish to synchronous subscribers that all succeed
    // allocates nothing.
    let outcomes: unknown[] | undefined;
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
    return Promise.allSettled(
      Array.from(
        outcomes,
        (outcome) =>
          outcome instanceof Thrown ? Promise.reject(outcome.error) : outcome,
      ),
    ).then((results) => {
      const errors: unknown[] = [];
      for (const result of results) {
        if (result.status === "rejected") errors.push(result.reason);
      }
      if (errors.length > 0) {
        throw failedEvent(event, errors, subscribers.length);
      }
    });
  }

  // Behind middleware or caller options, a dispatch may carry an observer
  // (told which handler runs and fails) or a single subscriber to publish to.
  function one(
    kind: "query" | "command" | "task",
    table: Map<string, Handler>,
    plain: AsyncDispatch,
  ): AsyncDispatch {
    return (message, context) => {
      const observer = context.observer;
      if (observer === undefined) return plain(message, context);
      const handler = table.get(message?.type);
      if (handler === undefined || message.kind !== kind) {
        return plain(message, context);
      }
      return observed(
        handler,
        message,
        context,
        observer,
        call(routes.handlerName(kind, message.type), undefined, context),
      );
    };
  }

  function publishTo(event: AnyMessage, context: Context): Promise<unknown> {
    const { observer, subscriber: target } = context;
    if (observer === undefined && target === undefined) {
      return publish(event, context);
    }
    const subscribers = events.get(event?.type);
    if (subscribers === undefined || event.kind !== "event") {
      return target === undefined ? unheard(event) : unheard(event).then(() => {
        throw noSubscriber(event, target);
      });
    }
    const who = routes.subscribersOf(subscribers);
    const running: Promise<unknown>[] = [];
    const calls: HandlerCall[] = [];
    for (let index = 0; index < subscribers.length; index++) {
      const { id, name } = who[index]!;
      if (target !== undefined && id !== target) continue;
      const told = call(name, id, context);
      observer?.onCall?.(told);
      calls.push(told);
      running.push(
        promising(subscribers[index]!)(event, context) as Promise<unknown>,
      );
    }
    if (running.length === 0) {
      return Promise.reject(noSubscriber(event, target!));
    }
    return Promise.allSettled(running).then((results) => {
      const errors: unknown[] = [];
      results.forEach((result, index) => {
        if (result.status === "fulfilled") return;
        errors.push(result.reason);
        observer?.onError?.({ ...calls[index]!, error: result.reason });
      });
      if (errors.length > 0) {
        throw failedEvent(event, errors, running.length);
      }
    });
  }

  const terminal = {
    send: one("query", queries, send),
    execute: one("command", commands, execute),
    publish: publishTo,
    dispatch: one("task", tasks, dispatch),
  };
  // A dispatch with options skips the plain path, which ignores them.
  const optioned = middleware.length === 0 ? terminal : {
    send: wrap(middleware, "query", terminal.send),
    execute: wrap(middleware, "command", terminal.execute),
    publish: wrap(middleware, "event", terminal.publish),
    dispatch: wrap(middleware, "task", terminal.dispatch),
  };
  function withOptions(
    method: Method,
    message: AnyMessage,
    parent: Context,
    options: unknown,
  ): Promise<unknown> {
    let caller: CallerOptions;
    try {
      caller = callerOptions(method, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const context = withCaller(parent, caller);
    return caller.signal === undefined
      ? optioned[method](message, context)
      : underSignal(caller.signal, () => optioned[method](message, context));
  }
  const router = middleware.length === 0
    ? { send, execute, publish, dispatch, withOptions }
    : { ...optioned, withOptions };
  const root = rootContext(router);

  return {
    send: (query: AnyMessage, options?: PublishOptions) =>
      options === undefined
        ? router.send(query, root)
        : withOptions("send", query, root, options),
    execute: (command: AnyMessage, options?: PublishOptions) =>
      options === undefined
        ? router.execute(command, root)
        : withOptions("execute", command, root, options),
    publish: (event: AnyMessage, options?: PublishOptions) =>
      options === undefined
        ? router.publish(event, root)
        : withOptions("publish", event, root, options),
    dispatch: (task: AnyMessage, options?: PublishOptions) =>
      options === undefined
        ? router.dispatch(task, root)
        : withOptions("dispatch", task, root, options),
    ...registration,
  } as AsyncMessageBus;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

function wrap(
  middleware: readonly AsyncMiddleware[],
  kind: MessageKind,
  terminal: AsyncDispatch,
): AsyncDispatch {
  const dispatch = composeAsync(middleware, terminal);
  return (message, context) => {
    if (message?.kind === kind) return dispatch(message, context);
    return unroutable(kind, message);
  };
}

function call(
  handler: string,
  subscriber: string | undefined,
  context: Context,
): HandlerCall {
  return { handler, subscriber, attempt: context.attempt };
}

function observed(
  handler: Handler,
  message: AnyMessage,
  context: Context,
  observer: HandlerObserver,
  call: HandlerCall,
): Promise<unknown> {
  observer.onCall?.(call);
  const result = handler(message, context) as Promise<unknown>;
  const onError = observer.onError;
  if (onError === undefined) return result;
  return result.catch((error) => {
    onError({ ...call, error });
    throw error;
  });
}

// Off-path helpers, declared here rather than imported for the reason given
// in bus.ts: an imported call in an untaken branch costs the hot path.
function unroutable(kind: MessageKind, value: unknown): Promise<never> {
  return Promise.reject(dispatchError(kind, value));
}

function unheard(value: unknown): Promise<void> {
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
