/**
 * The synchronous, in-process bus: a registry and a router. A dispatch is a
 * `Map.get` and a call; with middleware, the chain was composed once when the
 * bus was built.
 *
 * @module
 */

import { chain, type Dispatch, middlewareOption } from "./_chain.ts";
import { type Context, rootContext, type Router } from "./_context.ts";
import {
  checkUnheardEvent,
  createRegistry,
  dispatchError,
  eventError,
  type Handler,
  nameOf,
  withDeliverTo,
} from "./_registry.ts";
import type { Middleware } from "./compose.ts";
import type { MessageBus } from "./interfaces.ts";
import type { AnyMessage, MessageKind } from "./messages.ts";

/**
 * Options of {@linkcode createBus}.
 *
 * @example
 * ```ts
 * import { type BusOptions, createBus } from "@monolith/message-bus";
 *
 * const options: BusOptions = { middleware: [(message, next) => next(message)] };
 * createBus(options);
 * ```
 */
export interface BusOptions {
  /**
   * Middleware wrapping every dispatch, the first being the outermost.
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
 * @throws {TypeError} When a middleware is not a function.
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
  const middleware = middlewareOption("createBus", options.middleware);
  const { routes, ...registration } = createRegistry();
  const { queries, commands, events, tasks } = routes;
  // The registry's methods take any definition and handler; the bus's
  // interface narrows their types.
  const methods = registration as Pick<
    MessageBus,
    "registerQuery" | "registerCommand" | "registerTask" | "subscribe"
  >;

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
      const subscriber = subscribers[index]!;
      try {
        subscriber(event, context);
      } catch (error) {
        (errors ??= []).push(error);
        reportFailure(context, subscriber, error);
      }
    }
    if (errors !== undefined) {
      throw failedEvent(event, errors, subscribers.length);
    }
  }

  const router: Router = middleware.length === 0
    ? {
      send,
      execute,
      publish,
      dispatch,
      handlerName: routes.handlerName,
      async: false,
    }
    : {
      send: wrap(middleware, "query", send),
      execute: wrap(middleware, "command", execute),
      publish: wrap(middleware, "event", publish),
      dispatch: wrap(middleware, "task", dispatch),
      handlerName: routes.handlerName,
      async: false,
    };
  const root = rootContext(router);
  const bus = {
    send: (query: AnyMessage) => router.send(query, root),
    execute: (command: AnyMessage) => router.execute(command, root),
    publish: (event: AnyMessage) => router.publish(event, root),
    dispatch: (task: AnyMessage) => router.dispatch(task, root),
    ...methods,
  } as MessageBus;
  return withDeliverTo(
    bus,
    routes,
    (subscriber, event) => subscriber(event, root),
  );
}

// Middleware only ever sees messages of the method's kind: anything else is
// rejected before the chain, with the same error as without middleware.
function wrap(
  middleware: readonly Middleware[],
  kind: MessageKind,
  terminal: Dispatch,
): Dispatch {
  const dispatch = chain(middleware, terminal);
  return (message, context) => {
    if (message?.kind === kind) return dispatch(message, context);
    throw unroutable(kind, message);
  };
}

// The off-path helpers below only forward to the shared ones. They are
// declared in this module on purpose: a call to an imported function, even in
// a branch a dispatch never takes, keeps V8 from eliding the allocation of a
// message that does not otherwise escape (measured: ~10 ns more per send).
function unroutable(kind: MessageKind, value: unknown): Error {
  return dispatchError(kind, value);
}

function reportFailure(
  context: Context,
  subscriber: Handler,
  error: unknown,
): void {
  context.slots.onHandlerFailure?.(nameOf(subscriber), error);
}

function unheard(value: unknown): void {
  checkUnheardEvent(value);
}

function failedEvent(
  event: AnyMessage,
  errors: unknown[],
  subscribers: number,
): unknown {
  return eventError(event, errors, subscribers);
}
