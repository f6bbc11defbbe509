/**
 * The synchronous, in-process bus: a registry and a router. A dispatch is a
 * `Map.get` and a call; with middleware, the chain was composed once when the
 * bus was built.
 *
 * @module
 */

import { compose, type Dispatch, middlewareOption } from "./_compose.ts";
import {
  callerOptions,
  type Context,
  type Method,
  rootContext,
  type Router,
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
  HandlerCall,
  HandlerObserver,
  MessageBus,
  Middleware,
  PublishOptions,
} from "./types.ts";

/** Options of {@linkcode createBus}. */
export interface BusOptions {
  /**
   * Middleware wrapping every dispatch, the first being the outermost.
   * Asynchronous-only middleware (see `asyncOnly`) is refused.
   *
   * @default {[]}
   */
  readonly middleware?: readonly Middleware[];
}

/**
 * Creates a synchronous in-process bus. Every method is a closure, so
 * `const { send } = bus` works.
 *
 * @param options Middleware to wrap every dispatch with.
 * @returns The bus.
 * @throws {TypeError} When a middleware is not a function, or works only on
 * the asynchronous bus.
 *
 * @example Queries, commands, events and tasks
 * ```ts
 * import {
 *   createBus,
 *   defineCommand,
 *   defineEvent,
 *   defineQuery,
 *   defineTask,
 * } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetUser = defineQuery<{ userId: string }, { name: string }>("GetUser");
 * const Rename = defineCommand<{ userId: string; name: string }>("Rename");
 * const Renamed = defineEvent<{ userId: string }>("Renamed");
 * const SendEmail = defineTask<{ to: string }>("SendEmail");
 *
 * const names = new Map([["1", "Ada"]]);
 * const log: string[] = [];
 * const bus = createBus();
 * bus.registerQuery(GetUser, (q) => ({ name: names.get(q.payload.userId) ?? "?" }));
 * bus.registerCommand(Rename, (c) => {
 *   names.set(c.payload.userId, c.payload.name);
 *   bus.publish(Renamed({ userId: c.payload.userId }));
 * });
 * bus.subscribe(Renamed, (e) => bus.dispatch(SendEmail({ to: `user-${e.payload.userId}` })));
 * bus.registerTask(SendEmail, (t) => log.push(t.payload.to));
 *
 * bus.execute(Rename({ userId: "1", name: "Grace" }));
 * deepStrictEqual(bus.send(GetUser({ userId: "1" })), { name: "Grace" });
 * deepStrictEqual(log, ["user-1"]);
 * ```
 */
export function createBus(options: BusOptions = {}): MessageBus {
  const middleware = middlewareOption(
    "createBus",
    options?.middleware,
    false,
  );
  const { routes, ...registration } = createRegistry();
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

  function execute(command: AnyMessage, context: Context): void {
    const handler = commands.get(command?.type);
    if (handler !== undefined && command.kind === "command") {
      handler(command, context);
      return;
    }
    throw unroutable("command", command);
  }

  function dispatch(task: AnyMessage, context: Context): void {
    const handler = tasks.get(task?.type);
    if (handler !== undefined && task.kind === "task") {
      handler(task, context);
      return;
    }
    throw unroutable("task", task);
  }

  function publish(event: AnyMessage, context: Context): void {
    const subscribers = events.get(event?.type);
    if (subscribers === undefined || event.kind !== "event") {
      return unheard(event);
    }
    let errors: unknown[] | undefined;
    for (let index = 0; index < subscribers.length; index++) {
      try {
        subscribers[index]!(event, context);
      } catch (error) {
        (errors ??= []).push(error);
      }
    }
    if (errors !== undefined) {
      throw failedEvent(event, errors, subscribers.length);
    }
  }

  // Behind middleware or caller options, a dispatch may carry an observer
  // (told which handler runs and fails) or a single subscriber to publish to.
  function one(
    kind: "query" | "command" | "task",
    table: Map<string, Handler>,
    plain: Dispatch,
  ): Dispatch {
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

  function publishTo(event: AnyMessage, context: Context): void {
    const { observer, subscriber: target } = context;
    if (observer === undefined && target === undefined) {
      return publish(event, context);
    }
    const subscribers = events.get(event?.type);
    if (subscribers === undefined || event.kind !== "event") {
      unheard(event);
      if (target !== undefined) throw noSubscriber(event, target);
      return;
    }
    const who = routes.subscribersOf(subscribers);
    let errors: unknown[] | undefined;
    let ran = 0;
    for (let index = 0; index < subscribers.length; index++) {
      const { id, name } = who[index]!;
      if (target !== undefined && id !== target) continue;
      ran++;
      try {
        if (observer === undefined) subscribers[index]!(event, context);
        else {
          observed(
            subscribers[index]!,
            event,
            context,
            observer,
            call(name, id, context),
          );
        }
      } catch (error) {
        (errors ??= []).push(error);
      }
    }
    if (ran === 0) throw noSubscriber(event, target!);
    if (errors !== undefined) throw failedEvent(event, errors, ran);
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
  ): unknown {
    const caller = callerOptions(method, options);
    if (caller.signal?.aborted) throw caller.signal.reason;
    return optioned[method](message, withCaller(parent, caller));
  }
  const router: Router = middleware.length === 0
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
  } as MessageBus;
}

// Middleware only ever sees messages of the method's kind: anything else is
// rejected before the chain, with the same error as without middleware.
function wrap(
  middleware: readonly Middleware[],
  kind: MessageKind,
  terminal: Dispatch,
): Dispatch {
  const dispatch = compose(middleware, terminal);
  return (message, context) => {
    if (message?.kind === kind) return dispatch(message, context);
    throw unroutable(kind, message);
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
): unknown {
  observer.onCall?.(call);
  try {
    return handler(message, context);
  } catch (error) {
    observer.onError?.({ ...call, error });
    throw error;
  }
}

// The off-path helpers below only forward to the shared ones. They are
// declared in this module on purpose: a call to an imported function, even in
// a branch a dispatch never takes, keeps V8 from eliding the allocation of a
// message that does not otherwise escape (measured: ~10 ns more per send).
function unroutable(kind: MessageKind, value: unknown): Error {
  return dispatchError(kind, value);
}

function unheard(value: unknown): void {
  checkUnheardEvent(value);
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
