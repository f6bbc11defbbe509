/**
 * Handler types and the narrow interfaces a module can be handed instead of
 * the whole bus: a module that only asks questions gets a
 * {@linkcode QueryDispatcher}, one that only reacts gets a
 * {@linkcode HandlerRegistry}.
 *
 * @module
 */

import type {
  CommandDefinition,
  CommandMessage,
  EventDefinition,
  EventMessage,
  QueryDefinition,
  QueryMessage,
  TaskDefinition,
  TaskMessage,
} from "./messages.ts";

/**
 * What every dispatch context has: the caller's signal and deadline.
 * Middleware get this much; handlers get a {@linkcode DispatchContext} or an
 * {@linkcode AsyncDispatchContext}, which can also dispatch.
 *
 * @example
 * ```ts
 * import type { BaseContext } from "@monolith/message-bus";
 *
 * const remaining = (context: BaseContext, now: number) =>
 *   context.deadline === undefined ? Infinity : context.deadline - now;
 * ```
 */
export interface BaseContext {
  /**
   * Aborts when the caller gives up: its deadline passed (see the `timeout`
   * middleware) or it aborted its own signal. Pass it on to anything slow
   * (`fetch`, a database driver) so that abandoned work stops. It never
   * aborts when nobody set a signal or a deadline.
   */
  readonly signal: AbortSignal;
  /**
   * When the caller gives up, in the clock of the middleware that set it
   * (epoch milliseconds, as `Date.now()`, by default), or `undefined` when
   * there is no deadline. Nested dispatches keep the earliest deadline.
   */
  readonly deadline: number | undefined;
}

/**
 * The second argument of every handler on the synchronous bus: the
 * dispatch's signal and deadline, and `send`, `execute`, `publish` and
 * `dispatch` for nested dispatches that inherit them. Dispatching through the
 * context instead of the bus is what makes nested work stop when the outer
 * request has given up.
 *
 * With no middleware and no signal, every dispatch shares one context: no
 * allocation per dispatch.
 *
 * @example A handler that asks another module through its context
 * ```ts
 * import { createBus, defineQuery } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetPrice = defineQuery<string, number>("GetPrice");
 * const GetTotal = defineQuery<string[], number>("GetTotal");
 * const bus = createBus();
 * bus.registerQuery(GetPrice, () => 5);
 * bus.registerQuery(GetTotal, (query, context) =>
 *   query.payload.reduce((sum, sku) => sum + context.send(GetPrice(sku)), 0));
 * deepStrictEqual(bus.send(GetTotal(["a", "b"])), 10);
 * ```
 */
export interface DispatchContext
  extends BaseContext, QueryDispatcher, MessageDispatcher {}

/**
 * The second argument of every handler on the asynchronous bus: the
 * dispatch's signal and deadline, and `send`, `execute`, `publish` and
 * `dispatch` for nested dispatches that inherit them.
 *
 * @example Passing the signal on, and dispatching through the context
 * ```ts
 * import { createAsyncBus, defineQuery } from "@monolith/message-bus";
 * import { rejects } from "node:assert/strict";
 *
 * const GetRate = defineQuery<string, number>("GetRate");
 * const Convert = defineQuery<{ amount: number; currency: string }, number>("Convert");
 * const bus = createAsyncBus();
 * bus.registerQuery(GetRate, (_query, context) =>
 *   new Promise((resolve, reject) => {
 *     const timer = setTimeout(() => resolve(1.1), 1_000);
 *     context.signal.addEventListener("abort", () => {
 *       clearTimeout(timer);
 *       reject(context.signal.reason);
 *     });
 *   }));
 * bus.registerQuery(Convert, async (query, context) =>
 *   query.payload.amount * await context.send(GetRate(query.payload.currency)));
 *
 * const controller = new AbortController();
 * const converting = bus.send(Convert({ amount: 10, currency: "EUR" }), {
 *   signal: controller.signal,
 * });
 * controller.abort(new Error("the user left"));
 * await rejects(converting, { message: "the user left" });
 * ```
 */
export interface AsyncDispatchContext
  extends BaseContext, AsyncQueryDispatcher, AsyncMessageDispatcher {}

/**
 * What a middleware may change for the rest of a dispatch, through
 * `next(message, change)`: a signal and a deadline. The handlers and every
 * nested dispatch then see them.
 *
 * @example
 * ```ts
 * import type { ContextChange } from "@monolith/message-bus";
 *
 * const change: ContextChange = { signal: AbortSignal.timeout(1_000) };
 * ```
 */
export interface ContextChange {
  /** The signal for the rest of the dispatch. */
  readonly signal?: AbortSignal;
  /** A deadline; the earlier of it and the current one applies. */
  readonly deadline?: number;
}

/**
 * Options of each dispatch method of the asynchronous bus.
 *
 * @example
 * ```ts
 * import { createAsyncBus, defineCommand, type DispatchOptions } from "@monolith/message-bus";
 *
 * const Save = defineCommand("Save");
 * const bus = createAsyncBus();
 * bus.registerCommand(Save, async () => {});
 * const options: DispatchOptions = { signal: AbortSignal.timeout(5_000) };
 * await bus.execute(Save(), options);
 * ```
 */
export interface DispatchOptions {
  /**
   * Aborts the dispatch: the promise rejects with the signal's reason as
   * soon as it aborts, and the handlers see it as `context.signal`.
   */
  readonly signal?: AbortSignal;
}

/**
 * Removes the registration that returned it. Calling it again does nothing.
 *
 * @example
 * ```ts
 * import { createBus, defineEvent, type Unregister } from "@monolith/message-bus";
 *
 * const Ticked = defineEvent("Ticked");
 * const unsubscribe: Unregister = createBus().subscribe(Ticked, () => {});
 * unsubscribe();
 * ```
 */
export type Unregister = () => void;

/**
 * Answers a query on the synchronous bus.
 *
 * @typeParam P The payload type.
 * @typeParam R The result type.
 *
 * @example
 * ```ts
 * import { defineQuery, type QueryHandler } from "@monolith/message-bus";
 *
 * const Double = defineQuery<number, number>("Double");
 * const double: QueryHandler<number, number> = (query) => query.payload * 2;
 * ```
 */
export type QueryHandler<P, R> = (
  query: QueryMessage<P, R>,
  context: DispatchContext,
) => R;

/**
 * Carries out a command on the synchronous bus.
 *
 * @typeParam P The payload type.
 *
 * @example
 * ```ts
 * import type { CommandHandler } from "@monolith/message-bus";
 *
 * const log: string[] = [];
 * const handler: CommandHandler<string> = (command) => {
 *   log.push(command.payload);
 * };
 * ```
 */
export type CommandHandler<P> = (
  command: CommandMessage<P>,
  context: DispatchContext,
) => void;

/**
 * Hears an event on the synchronous bus.
 *
 * @typeParam P The payload type.
 *
 * @example
 * ```ts
 * import type { EventHandler } from "@monolith/message-bus";
 *
 * const handler: EventHandler<{ orderId: string }> = (event) => {
 *   console.log(event.payload.orderId);
 * };
 * ```
 */
export type EventHandler<P> = (
  event: EventMessage<P>,
  context: DispatchContext,
) => void;

/**
 * Does a task on the synchronous bus.
 *
 * @typeParam P The payload type.
 *
 * @example
 * ```ts
 * import type { TaskHandler } from "@monolith/message-bus";
 *
 * const handler: TaskHandler<{ to: string }> = (task) => {
 *   console.log(`mail to ${task.payload.to}`);
 * };
 * ```
 */
export type TaskHandler<P> = (
  task: TaskMessage<P>,
  context: DispatchContext,
) => void;

/**
 * Answers a query on the asynchronous bus, directly or with a promise.
 *
 * @typeParam P The payload type.
 * @typeParam R The result type.
 *
 * @example
 * ```ts
 * import type { AsyncQueryHandler } from "@monolith/message-bus";
 *
 * const handler: AsyncQueryHandler<string, number> = async (query) =>
 *   await Promise.resolve(query.payload.length);
 * ```
 */
export type AsyncQueryHandler<P, R> = (
  query: QueryMessage<P, R>,
  context: AsyncDispatchContext,
) => R | PromiseLike<R>;

/**
 * Carries out a command on the asynchronous bus.
 *
 * @typeParam P The payload type.
 *
 * @example
 * ```ts
 * import type { AsyncCommandHandler } from "@monolith/message-bus";
 *
 * const handler: AsyncCommandHandler<string> = async (command) => {
 *   await Promise.resolve(command.payload);
 * };
 * ```
 */
export type AsyncCommandHandler<P> = (
  command: CommandMessage<P>,
  context: AsyncDispatchContext,
) => void | PromiseLike<void>;

/**
 * Hears an event on the asynchronous bus.
 *
 * @typeParam P The payload type.
 *
 * @example
 * ```ts
 * import type { AsyncEventHandler } from "@monolith/message-bus";
 *
 * const handler: AsyncEventHandler<string> = async (event) => {
 *   await Promise.resolve(event.payload);
 * };
 * ```
 */
export type AsyncEventHandler<P> = (
  event: EventMessage<P>,
  context: AsyncDispatchContext,
) => void | PromiseLike<void>;

/**
 * Does a task on the asynchronous bus.
 *
 * @typeParam P The payload type.
 *
 * @example
 * ```ts
 * import type { AsyncTaskHandler } from "@monolith/message-bus";
 *
 * const handler: AsyncTaskHandler<string> = async (task) => {
 *   await Promise.resolve(task.payload);
 * };
 * ```
 */
export type AsyncTaskHandler<P> = (
  task: TaskMessage<P>,
  context: AsyncDispatchContext,
) => void | PromiseLike<void>;

/**
 * Sends queries and returns their typed results (synchronous bus).
 *
 * @example Handing a module only `send`
 * ```ts
 * import { createBus, defineQuery, type QueryDispatcher } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetPrice = defineQuery<string, number>("GetPrice");
 * function total(bus: QueryDispatcher, items: string[]): number {
 *   return items.reduce((sum, item) => sum + bus.send(GetPrice(item)), 0);
 * }
 * const bus = createBus();
 * bus.registerQuery(GetPrice, () => 5);
 * deepStrictEqual(total(bus, ["a", "b"]), 10);
 * ```
 */
export interface QueryDispatcher {
  /**
   * Sends a query to its one handler and returns the handler's result.
   *
   * @throws {NoHandlerError} When no handler is registered for the query.
   * @throws {TypeError} When `query` is not a query message.
   */
  send<P, R>(query: QueryMessage<P, R>): R;
}

/**
 * Registers query handlers (synchronous bus).
 *
 * @example
 * ```ts
 * import { createBus, defineQuery, type QueryRegistry } from "@monolith/message-bus";
 *
 * const GetPrice = defineQuery<string, number>("GetPrice");
 * function pricing(bus: QueryRegistry): void {
 *   bus.registerQuery(GetPrice, () => 5);
 * }
 * pricing(createBus());
 * ```
 */
export interface QueryRegistry {
  /**
   * Registers the one handler of a query.
   *
   * @returns A function that removes the handler.
   * @throws {DuplicateHandlerError} When the query has a handler already.
   * @throws {TypeError} When the definition is not a query definition, the
   * handler is not a function, or another definition uses the same name.
   */
  registerQuery<P, R>(
    definition: QueryDefinition<P, R>,
    handler: QueryHandler<P, R>,
  ): Unregister;
}

/**
 * Executes commands, publishes events and dispatches tasks (synchronous bus).
 *
 * @example
 * ```ts
 * import { createBus, defineEvent, type MessageDispatcher } from "@monolith/message-bus";
 *
 * const Ticked = defineEvent("Ticked");
 * function clock(bus: MessageDispatcher): void {
 *   bus.publish(Ticked());
 * }
 * clock(createBus());
 * ```
 */
export interface MessageDispatcher {
  /**
   * Executes a command with its one handler.
   *
   * @throws {NoHandlerError} When no handler is registered for the command.
   * @throws {TypeError} When `command` is not a command message.
   */
  execute(command: CommandMessage): void;
  /**
   * Publishes an event to every subscriber, in subscription order. Every
   * subscriber runs even when some throw; then the single error is rethrown,
   * or an `AggregateError` holding all of them. No subscribers is fine.
   *
   * @throws {TypeError} When `event` is not an event message.
   */
  publish(event: EventMessage): void;
  /**
   * Dispatches a task to its one handler.
   *
   * @throws {NoHandlerError} When no handler is registered for the task.
   * @throws {TypeError} When `task` is not a task message.
   */
  dispatch(task: TaskMessage): void;
}

/**
 * Registers command handlers, event subscribers and task handlers
 * (synchronous bus).
 *
 * @example
 * ```ts
 * import { createBus, defineEvent, type HandlerRegistry } from "@monolith/message-bus";
 *
 * const Ticked = defineEvent("Ticked");
 * function audit(bus: HandlerRegistry, log: string[]): void {
 *   bus.subscribe(Ticked, (event) => log.push(event.type));
 * }
 * audit(createBus(), []);
 * ```
 */
export interface HandlerRegistry {
  /**
   * Registers the one handler of a command.
   *
   * @returns A function that removes the handler.
   * @throws {DuplicateHandlerError} When the command has a handler already.
   */
  registerCommand<P>(
    definition: CommandDefinition<P>,
    handler: CommandHandler<P>,
  ): Unregister;
  /**
   * Adds a subscriber to an event. The same function may subscribe twice and
   * then runs twice.
   *
   * @returns A function that removes this subscription.
   */
  subscribe<P>(
    definition: EventDefinition<P>,
    handler: EventHandler<P>,
  ): Unregister;
  /**
   * Registers the one handler of a task.
   *
   * @returns A function that removes the handler.
   * @throws {DuplicateHandlerError} When the task has a handler already.
   */
  registerTask<P>(
    definition: TaskDefinition<P>,
    handler: TaskHandler<P>,
  ): Unregister;
}

/**
 * The whole synchronous bus: every dispatch and registration method.
 *
 * @example
 * ```ts
 * import { createBus, type MessageBus } from "@monolith/message-bus";
 *
 * const bus: MessageBus = createBus();
 * ```
 */
export interface MessageBus
  extends QueryDispatcher, QueryRegistry, MessageDispatcher, HandlerRegistry {}

/**
 * Sends queries; each result arrives as a promise (asynchronous bus).
 *
 * @example
 * ```ts
 * import { createAsyncBus, defineQuery, type AsyncQueryDispatcher } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetPrice = defineQuery<string, number>("GetPrice");
 * async function price(bus: AsyncQueryDispatcher): Promise<number> {
 *   return await bus.send(GetPrice("a"));
 * }
 * const bus = createAsyncBus();
 * bus.registerQuery(GetPrice, async () => await Promise.resolve(7));
 * deepStrictEqual(await price(bus), 7);
 * ```
 */
export interface AsyncQueryDispatcher {
  /**
   * Sends a query to its one handler.
   *
   * @returns A promise of the handler's result; it rejects with
   * `NoHandlerError` when no handler is registered, with `TypeError` when
   * `query` is not a query, with the signal's reason when `options.signal`
   * aborts, and with the handler's own error as is.
   */
  send<P, R>(
    query: QueryMessage<P, R>,
    options?: DispatchOptions,
  ): Promise<R>;
}

/**
 * Registers query handlers, sync or async (asynchronous bus).
 *
 * @example
 * ```ts
 * import { createAsyncBus, defineQuery, type AsyncQueryRegistry } from "@monolith/message-bus";
 *
 * const GetPrice = defineQuery<string, number>("GetPrice");
 * function pricing(bus: AsyncQueryRegistry): void {
 *   bus.registerQuery(GetPrice, async () => await Promise.resolve(5));
 * }
 * pricing(createAsyncBus());
 * ```
 */
export interface AsyncQueryRegistry {
  /**
   * Registers the one handler of a query.
   *
   * @returns A function that removes the handler.
   * @throws {DuplicateHandlerError} When the query has a handler already.
   */
  registerQuery<P, R>(
    definition: QueryDefinition<P, R>,
    handler: AsyncQueryHandler<P, R>,
  ): Unregister;
}

/**
 * Executes commands, publishes events and dispatches tasks; each returns a
 * promise that settles when the handlers have (asynchronous bus).
 *
 * @example
 * ```ts
 * import { createAsyncBus, defineEvent, type AsyncMessageDispatcher } from "@monolith/message-bus";
 *
 * const Ticked = defineEvent("Ticked");
 * async function clock(bus: AsyncMessageDispatcher): Promise<void> {
 *   await bus.publish(Ticked());
 * }
 * await clock(createAsyncBus());
 * ```
 */
export interface AsyncMessageDispatcher {
  /** Executes a command with its one handler. */
  execute(command: CommandMessage, options?: DispatchOptions): Promise<void>;
  /**
   * Publishes an event to every subscriber; they run concurrently. When some
   * fail, the promise rejects with the single error, or an `AggregateError`
   * holding all of them, once every subscriber has settled.
   */
  publish(event: EventMessage, options?: DispatchOptions): Promise<void>;
  /** Dispatches a task to its one handler. */
  dispatch(task: TaskMessage, options?: DispatchOptions): Promise<void>;
}

/**
 * Registers command handlers, event subscribers and task handlers, sync or
 * async (asynchronous bus).
 *
 * @example
 * ```ts
 * import { createAsyncBus, defineEvent, type AsyncHandlerRegistry } from "@monolith/message-bus";
 *
 * const Ticked = defineEvent("Ticked");
 * function audit(bus: AsyncHandlerRegistry): void {
 *   bus.subscribe(Ticked, async () => {});
 * }
 * audit(createAsyncBus());
 * ```
 */
export interface AsyncHandlerRegistry {
  /** Registers the one handler of a command; returns its remover. */
  registerCommand<P>(
    definition: CommandDefinition<P>,
    handler: AsyncCommandHandler<P>,
  ): Unregister;
  /** Adds a subscriber to an event; returns its remover. */
  subscribe<P>(
    definition: EventDefinition<P>,
    handler: AsyncEventHandler<P>,
  ): Unregister;
  /** Registers the one handler of a task; returns its remover. */
  registerTask<P>(
    definition: TaskDefinition<P>,
    handler: AsyncTaskHandler<P>,
  ): Unregister;
}

/**
 * The whole asynchronous bus: every dispatch and registration method.
 *
 * @example
 * ```ts
 * import { createAsyncBus, type AsyncMessageBus } from "@monolith/message-bus";
 *
 * const bus: AsyncMessageBus = createAsyncBus();
 * ```
 */
export interface AsyncMessageBus
  extends
    AsyncQueryDispatcher,
    AsyncQueryRegistry,
    AsyncMessageDispatcher,
    AsyncHandlerRegistry {}
