/**
 * The asynchronous in-process bus: the same registry and routing as
 * {@linkcode createBus}, but every dispatch returns a promise, handlers may be
 * sync or async, and event subscribers run concurrently.
 *
 * @module
 */

import { type AsyncDispatch, chainAsync, middlewareOption } from "./_chain.ts";
import {
  type Context,
  rootContext,
  signalOption,
  underSignal,
} from "./_context.ts";
import {
  checkUnheardEvent,
  createRegistry,
  dispatchError,
  eventError,
  type Handler,
  nameOf,
  withDeliverTo,
} from "./_registry.ts";
import type { AsyncMiddleware } from "./compose.ts";
import type { AsyncMessageBus, DispatchOptions } from "./interfaces.ts";
import type { AnyMessage, MessageKind } from "./messages.ts";

/**
 * Options of {@linkcode createAsyncBus}.
 *
 * @example
 * ```ts
 * import { type AsyncBusOptions, createAsyncBus } from "@monolith/message-bus";
 *
 * const options: AsyncBusOptions = {
 *   middleware: [async (message, next) => await next(message)],
 * };
 * createAsyncBus(options);
 * ```
 */
export interface AsyncBusOptions {
  /**
   * Middleware wrapping every dispatch, the first being the outermost.
   *
   * @default {[]}
   */
  readonly middleware?: readonly AsyncMiddleware[];
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
  const middleware = middlewareOption("createAsyncBus", options.middleware);
  const { routes, ...registration } = createRegistry(promising);
  const { queries, commands, events, tasks } = routes;
  // The registry's methods take any definition and handler; the bus's
  // interface narrows their types.
  const methods = registration as Pick<
    AsyncMessageBus,
    "registerQuery" | "registerCommand" | "registerTask" | "subscribe"
  >;

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
      results.forEach((result, index) => {
        if (result.status === "fulfilled") return;
        errors.push(result.reason);
        context.slots.onHandlerFailure?.(
          nameOf(subscribers[index]!),
          result.reason,
        );
      });
      if (errors.length > 0) {
        throw failedEvent(event, errors, subscribers.length);
      }
    });
  }

  // Each entry takes the caller's options: a signal derives a child context
  // and races the dispatch; without one, the parent context is used as is.
  const entry = (
    name: string,
    kind: MessageKind,
    terminal: AsyncDispatch,
  ) => {
    const dispatch = middleware.length === 0
      ? terminal
      : wrap(middleware, kind, terminal);
    return (
      message: AnyMessage,
      context: Context,
      options?: DispatchOptions,
    ): Promise<unknown> =>
      options === undefined
        ? dispatch(message, context)
        : withOptions(name, dispatch, message, context, options);
  };
  const router = {
    send: entry("send", "query", send),
    execute: entry("execute", "command", execute),
    publish: entry("publish", "event", publish),
    dispatch: entry("dispatch", "task", dispatch),
    handlerName: routes.handlerName,
    async: true,
  };
  const root = rootContext(router);
  const bus = {
    send: (query: AnyMessage, options?: DispatchOptions) =>
      router.send(query, root, options),
    execute: (command: AnyMessage, options?: DispatchOptions) =>
      router.execute(command, root, options),
    publish: (event: AnyMessage, options?: DispatchOptions) =>
      router.publish(event, root, options),
    dispatch: (task: AnyMessage, options?: DispatchOptions) =>
      router.dispatch(task, root, options),
    ...methods,
  } as AsyncMessageBus;
  return withDeliverTo(
    bus,
    routes,
    (subscriber, event) => promising(subscriber)(event, root),
  );
}

function withOptions(
  method: string,
  dispatch: AsyncDispatch,
  message: AnyMessage,
  context: Context,
  options: DispatchOptions,
): Promise<unknown> {
  let signal: AbortSignal | undefined;
  try {
    signal = signalOption(method, options);
  } catch (error) {
    return Promise.reject(error);
  }
  return signal === undefined
    ? dispatch(message, context)
    : underSignal(signal, context, (child) => dispatch(message, child));
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

function wrap(
  middleware: readonly AsyncMiddleware[],
  kind: MessageKind,
  terminal: AsyncDispatch,
): AsyncDispatch {
  const dispatch = chainAsync(middleware, terminal);
  return (message, context) => {
    if (message?.kind === kind) return dispatch(message, context);
    return unroutable(kind, message);
  };
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

function failedEvent(
  event: AnyMessage,
  errors: unknown[],
  subscribers: number,
): unknown {
  return eventError(event, errors, subscribers);
}
