/**
 * The public types of the core: handlers, the narrow interfaces a module can
 * be handed instead of the whole bus, dispatch contexts and options, and the
 * middleware contract (described as a whole in the repository's
 * docs/middleware.md).
 *
 * @module
 */

import type {
  AnyDefinition,
  AnyMessage,
  CommandDefinition,
  CommandMessage,
  EventDefinition,
  EventMessage,
  MessageKind,
  QueryDefinition,
  QueryMessage,
  ResultOf,
  TaskDefinition,
  TaskMessage,
} from "./messages.ts";
import type { Clock } from "./clock.ts";

// ---------------------------------------------------------------------------
// Contexts

/**
 * The data a dispatch carries to its handlers and every nested dispatch (a
 * tenant, the authenticated user, a database transaction): read-only,
 * attached by a caller (`{ data }` in the dispatch options) or by a
 * middleware (`next(message, { data })`). It is empty here; an application
 * declares its fields once, by declaration merging:
 *
 * ```ts ignore
 * declare module "@monolith/message-bus" {
 *   interface ContextData {
 *     readonly tenant?: string;
 *   }
 * }
 * ```
 */
// deno-lint-ignore no-empty-interface
export interface ContextData {}

/**
 * What a middleware knows about the dispatch it wraps (its third argument),
 * and what every handler's context has too.
 */
export interface MiddlewareContext {
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
  /**
   * Which try of this dispatch this is, from 1. A middleware that tries
   * again (`retry`) sets it through `next(message, { attempt })`. Nested
   * dispatches start at 1.
   */
  readonly attempt: number;
  /**
   * This dispatch's id: the one its caller gave (`{ id }` in its options,
   * kept through redeliveries), or one made when first read, unique across
   * processes. Nested dispatches have their own.
   */
  readonly id: string;
  /** The id of the outermost dispatch this one belongs to (its own, if it is). */
  readonly correlationId: string;
  /** The id of the dispatch that caused this one; `undefined` for the outermost. */
  readonly causationId: string | undefined;
  /**
   * The module this dispatch came from, when the handler that made it said
   * so: its subscriber's `module` option, or the id of the session it was
   * registered through; otherwise `undefined`.
   */
  readonly origin: string | undefined;
  /** The data this dispatch carries; see {@linkcode ContextData}. */
  readonly data: Readonly<ContextData>;
  /** The id of the session it was dispatched through, inherited by nested dispatches. */
  readonly sessionId: string | undefined;
  /**
   * For a publish to one subscriber (`{ subscriber }` in its options), that
   * subscriber's id; `undefined` for a publish to every subscriber and for
   * other kinds.
   */
  readonly subscriber: string | undefined;
}

/**
 * The second argument of every handler on the synchronous bus: what the
 * dispatch knows ({@linkcode MiddlewareContext}) and `send`, `execute`,
 * `publish` and `dispatch` for nested dispatches, which inherit its signal and
 * deadline. Dispatching through the context instead of the bus is what makes
 * nested work stop when the outer request has given up.
 */
export interface DispatchContext
  extends MiddlewareContext, QueryDispatcher, MessageDispatcher {
  /**
   * Cascades a command, event or task: it is dispatched by its kind once
   * this handler has returned without throwing, in the order emitted, caused
   * by this dispatch. If the handler throws, what it emitted is dropped. A
   * failure of an emitted dispatch fails the dispatch that emitted it (all
   * emitted messages are dispatched first; then the single error, or an
   * `AggregateError`).
   *
   * @throws {TypeError} For a query, a value that is not a message, or an
   * emit after the handler finished.
   */
  emit(message: CommandMessage | EventMessage | TaskMessage): void;
}

/**
 * The second argument of every handler on the asynchronous bus, and the
 * third of every {@linkcode AsyncMiddleware}: what the dispatch knows and
 * `send`, `execute`, `publish` and `dispatch` for nested dispatches, which
 * inherit its signal and deadline.
 */
export interface AsyncDispatchContext
  extends MiddlewareContext, AsyncQueryDispatcher, AsyncMessageDispatcher {
  /**
   * Cascades a command, event or task once this handler's promise has
   * resolved; see {@linkcode DispatchContext.emit}.
   *
   * @throws {TypeError} For a query, a value that is not a message, or an
   * emit after the handler finished.
   */
  emit(message: CommandMessage | EventMessage | TaskMessage): void;
}

/**
 * What a middleware may change for the rest of a dispatch, through
 * `next(message, change)`. Each field is optional; what is left out stays.
 */
export interface ContextChange {
  /** The signal for the rest of the dispatch and every nested dispatch. */
  readonly signal?: AbortSignal;
  /** A deadline; the earlier of it and the current one applies. */
  readonly deadline?: number;
  /** The try this call of `next` makes, from 1 (see `retry`). */
  readonly attempt?: number;
  /** Data merged into the dispatch's data for the rest of it. */
  readonly data?: Readonly<Partial<ContextData>>;
  /**
   * Told which handlers this dispatch calls and which of them fail. Observers
   * of outer middleware are told too; nested dispatches have their own.
   */
  readonly observer?: HandlerObserver;
}

/**
 * Told, through {@linkcode ContextChange.observer}, what happens inside one
 * dispatch: it is how a middleware learns which try a middleware inside it
 * made, and which handler (or which subscriber of an event) ran and failed.
 */
export interface HandlerObserver {
  /**
   * Called when a middleware inside starts another try of the dispatch
   * (calls `next` with a new `attempt`), with that attempt's number.
   */
  readonly onAttempt?: (attempt: number) => void;
  /** Called just before each handler runs (each subscriber of an event). */
  readonly onCall?: (call: HandlerCall) => void;
  /** Called for each handler that throws or rejects, with its error. */
  readonly onError?: (failure: HandlerFailure) => void;
}

/** A handler the bus is about to call; see {@linkcode HandlerObserver}. */
export interface HandlerCall {
  /** The handler's function name, or `"anonymous"`. */
  readonly handler: string;
  /**
   * For an event: the subscriber's id (see `SubscribeOptions.id`);
   * otherwise `undefined`.
   */
  readonly subscriber: string | undefined;
  /** The context's `attempt` when it was called. */
  readonly attempt: number;
}

/** A handler that threw or rejected; see {@linkcode HandlerObserver}. */
export interface HandlerFailure extends HandlerCall {
  /** What it threw or rejected with, as is. */
  readonly error: unknown;
}

// ---------------------------------------------------------------------------
// Options

/** Options of every dispatch method (`send`, `execute`, `dispatch`). */
export interface DispatchOptions {
  /**
   * Aborts the dispatch. On the asynchronous bus the promise rejects with the
   * signal's reason as soon as it aborts; on both buses a signal that has
   * aborted already refuses the dispatch, and handlers see it as
   * `context.signal`.
   */
  readonly signal?: AbortSignal;
  /**
   * The dispatch's id, as `context.id`: an outbox or a redelivery passes the
   * id it had before, so that handlers can tell a repeat.
   */
  readonly id?: string;
  /** Data for the handlers and every nested dispatch; see {@linkcode ContextData}. */
  readonly data?: Readonly<Partial<ContextData>>;
}

/** Options of `publish`: those of every dispatch, and a single subscriber. */
export interface PublishOptions extends DispatchOptions {
  /**
   * Delivers the event to this one subscriber only (by its id, see
   * {@linkcode SubscribeOptions}), as `redeliver` does with a dead letter.
   * No subscriber with that id is a `NoHandlerError`.
   */
  readonly subscriber?: string;
  /**
   * On a bus with an event queue (see {@linkcode QueuedAsyncMessageBus}):
   * settle when the event has been delivered, with the subscribers' outcome,
   * instead of when the queue accepted it (`redeliver` asks for this). Other
   * buses always do.
   *
   * @default {false}
   */
  readonly awaitDelivery?: boolean;
}

/** Options of `subscribe`, for an event of payload `P`. */
export interface SubscribeOptions<P = unknown> {
  /**
   * The subscriber's id, unique among the event's subscribers, under which
   * dead letters name it and `publish(event, { subscriber })` finds it. By
   * default the handler's function name (`"anonymous"` when it has none),
   * followed by `#2`, `#3`, ... when the event has a subscriber of that id
   * already. Give one when function names may change between deployments.
   */
  readonly id?: string;
  /**
   * The module this subscriber belongs to, when it is not the event's own:
   * dispatches it makes carry it as `context.origin`, which the report's
   * interaction map draws.
   */
  readonly module?: string;
  /**
   * Higher runs first; subscribers of one priority run in subscription
   * order (on the asynchronous bus: concurrently, each priority after the
   * one above has settled).
   *
   * @default {50}
   */
  readonly priority?: number;
  /**
   * Skips this subscriber for an event it returns `false` for. It gets the
   * dispatch's context when it takes a second parameter. A filter that
   * throws counts as the subscriber's failure.
   */
  readonly filter?: (
    event: EventMessage<P>,
    context: MiddlewareContext,
  ) => boolean;
  /**
   * Removes the subscriber after its first call (its filter passing).
   *
   * @default {false}
   */
  readonly once?: boolean;
}

/** Removes the registration that returned it. Calling it again does nothing. */
export type Unregister = () => void;

// ---------------------------------------------------------------------------
// Handlers

/** Answers a query on the synchronous bus. */
export type QueryHandler<P, R> = (
  query: QueryMessage<P, R>,
  context: DispatchContext,
) => R;

/** Carries out a command on the synchronous bus, returning its result. */
export type CommandHandler<P, R = void> = (
  command: CommandMessage<P, R>,
  context: DispatchContext,
) => R;

/** Hears an event on the synchronous bus. */
export type EventHandler<P> = (
  event: EventMessage<P>,
  context: DispatchContext,
) => void;

/** Does a task on the synchronous bus. */
export type TaskHandler<P> = (
  task: TaskMessage<P>,
  context: DispatchContext,
) => void;

/** Answers a query on the asynchronous bus, directly or with a promise. */
export type AsyncQueryHandler<P, R> = (
  query: QueryMessage<P, R>,
  context: AsyncDispatchContext,
) => R | PromiseLike<R>;

/**
 * Carries out a command on the asynchronous bus, returning its result
 * directly or with a promise.
 */
export type AsyncCommandHandler<P, R = void> = (
  command: CommandMessage<P, R>,
  context: AsyncDispatchContext,
) => R | PromiseLike<R>;

/** Hears an event on the asynchronous bus. */
export type AsyncEventHandler<P> = (
  event: EventMessage<P>,
  context: AsyncDispatchContext,
) => void | PromiseLike<void>;

/** Does a task on the asynchronous bus. */
export type AsyncTaskHandler<P> = (
  task: TaskMessage<P>,
  context: AsyncDispatchContext,
) => void | PromiseLike<void>;

// ---------------------------------------------------------------------------
// Introspection

/** An event a bus or session has subscribers for, and how many. */
export interface RegisteredEvent {
  /** The event's name. */
  readonly type: string;
  /** How many subscribers it has there. */
  readonly subscribers: number;
}

/**
 * What a bus or a session can say it handles: the names of the messages it
 * has handlers for, sorted. A session lists what was registered through it.
 */
export interface Registrations {
  /** The queries with a handler, by name. */
  registeredQueries(): string[];
  /** The commands with a handler, by name. */
  registeredCommands(): string[];
  /** The tasks with a handler, by name. */
  registeredTasks(): string[];
  /** The events with subscribers, by name, with their subscriber counts. */
  registeredEvents(): RegisteredEvent[];
}

/** A bus's startup check; see `assertHandles`. */
export interface HandlerCheck {
  /**
   * Checks that every definition given has a handler on this bus (an event:
   * at least one subscriber), and throws one error that lists every one
   * missing: run it once the modules are registered, before the bus takes
   * work.
   *
   * @throws {AggregateError} When any is missing: its message lists them
   * all, its `errors` hold a `NoHandlerError` for each.
   * @throws {TypeError} When an argument is not a message definition.
   */
  assertHandles(...definitions: readonly AnyDefinition[]): void;
}

// ---------------------------------------------------------------------------
// Narrow interfaces: the synchronous bus

/** Sends queries and returns their typed results (synchronous bus). */
export interface QueryDispatcher {
  /**
   * Sends a query to its one handler and returns the handler's result.
   *
   * @throws {NoHandlerError} When no handler is registered for the query.
   * @throws {TypeError} When `query` is not a query message.
   */
  send<P, R>(query: QueryMessage<P, R>, options?: DispatchOptions): R;
}

/** Registers query handlers (synchronous bus). */
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

/** Executes commands, publishes events and dispatches tasks (synchronous bus). */
export interface MessageDispatcher {
  /**
   * Executes a command with its one handler and returns its result.
   *
   * @throws {NoHandlerError} When no handler is registered for the command.
   * @throws {TypeError} When `command` is not a command message.
   */
  execute<P, R>(command: CommandMessage<P, R>, options?: DispatchOptions): R;
  /**
   * Publishes an event to every subscriber, in subscription order. Every
   * subscriber runs even when some throw; then the single error is rethrown,
   * or an `AggregateError` holding all of them. No subscribers is fine.
   *
   * @throws {TypeError} When `event` is not an event message.
   */
  publish(event: EventMessage, options?: PublishOptions): void;
  /**
   * Dispatches a task to its one handler.
   *
   * @throws {NoHandlerError} When no handler is registered for the task.
   * @throws {TypeError} When `task` is not a task message.
   */
  dispatch(task: TaskMessage, options?: DispatchOptions): void;
}

/**
 * Registers command handlers, event subscribers and task handlers
 * (synchronous bus).
 */
export interface HandlerRegistry {
  /**
   * Registers the one handler of a command.
   *
   * @returns A function that removes the handler.
   * @throws {DuplicateHandlerError} When the command has a handler already.
   */
  registerCommand<P, R>(
    definition: CommandDefinition<P, R>,
    handler: CommandHandler<P, R>,
  ): Unregister;
  /**
   * Adds a subscriber to an event. The same function may subscribe twice and
   * then runs twice.
   *
   * @returns A function that removes this subscription.
   * @throws {TypeError} When `options.id` is taken by another subscriber.
   */
  subscribe<P>(
    definition: EventDefinition<P>,
    handler: EventHandler<P>,
    options?: SubscribeOptions<P>,
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
 * A scope of a synchronous bus (a request, a job, a module, a test): what is
 * registered through it is removed together when it closes (`close()` or
 * `using`), and what is dispatched through it carries its id as
 * `context.sessionId` into every nested dispatch. Handlers and subscribers
 * registered through it give their dispatches the session's id as
 * `context.origin` (a subscriber's own `module` option wins).
 */
export interface Session
  extends
    QueryDispatcher,
    QueryRegistry,
    MessageDispatcher,
    HandlerRegistry,
    Registrations,
    Disposable {
  /** The session's id. */
  readonly id: string;
  /**
   * Removes everything registered through the session; then its dispatch
   * and registration methods throw. Calling it again does nothing.
   */
  close(): void;
}

/**
 * The whole synchronous bus: every dispatch and registration method, what it
 * handles, and `close()`.
 */
export interface MessageBus
  extends
    QueryDispatcher,
    QueryRegistry,
    MessageDispatcher,
    HandlerRegistry,
    Registrations,
    HandlerCheck,
    Disposable {
  /**
   * Opens a {@linkcode Session}, with the id given or a new one.
   *
   * @throws {TypeError} When `id` is given and is not a non-empty string.
   */
  session(id?: string): Session;
  /** Sessions open now. */
  readonly activeSessions: number;
  /**
   * Dispatches each message by its kind (`send`, `execute`, `publish`,
   * `dispatch`), in order, each as a dispatch of its own with `options`,
   * and returns their results in order (`undefined` for events and tasks).
   * Every message is dispatched even when some fail.
   *
   * @throws {BatchError} After all have run, when any failed: its `results`
   * hold every outcome by index.
   * @throws {TypeError} Before any runs, when `messages` is not an array or
   * one of them is not a message (naming its index), or an option is wrong.
   */
  handleAll<const M extends readonly AnyMessage[]>(
    messages: M,
    options?: HandleAllOptions,
  ): HandledResults<M>;
  /**
   * Closes the bus: its sessions close, everything registered is removed,
   * and from then on every dispatch and registration throws a
   * `BusClosedError` (a session cannot be opened). `using bus = createBus()`
   * calls it at the end of the scope. Calling it again does nothing.
   */
  close(): void;
}

// ---------------------------------------------------------------------------
// Narrow interfaces: the asynchronous bus

/** Sends queries; each result arrives as a promise (asynchronous bus). */
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

/** Registers query handlers, sync or async (asynchronous bus). */
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
 */
export interface AsyncMessageDispatcher {
  /** Executes a command with its one handler; resolves with its result. */
  execute<P, R>(
    command: CommandMessage<P, R>,
    options?: DispatchOptions,
  ): Promise<R>;
  /**
   * Publishes an event to every subscriber; they run concurrently. When some
   * fail, the promise rejects with the single error, or an `AggregateError`
   * holding all of them, once every subscriber has settled.
   */
  publish(event: EventMessage, options?: PublishOptions): Promise<void>;
  /** Dispatches a task to its one handler. */
  dispatch(task: TaskMessage, options?: DispatchOptions): Promise<void>;
}

/**
 * Registers command handlers, event subscribers and task handlers, sync or
 * async (asynchronous bus).
 */
export interface AsyncHandlerRegistry {
  /** Registers the one handler of a command; returns its remover. */
  registerCommand<P, R>(
    definition: CommandDefinition<P, R>,
    handler: AsyncCommandHandler<P, R>,
  ): Unregister;
  /** Adds a subscriber to an event; returns its remover. */
  subscribe<P>(
    definition: EventDefinition<P>,
    handler: AsyncEventHandler<P>,
    options?: SubscribeOptions<P>,
  ): Unregister;
  /** Registers the one handler of a task; returns its remover. */
  registerTask<P>(
    definition: TaskDefinition<P>,
    handler: AsyncTaskHandler<P>,
  ): Unregister;
}

/**
 * A scope of an asynchronous bus; see {@linkcode Session}. Closing it
 * (`close()` or `await using`) first waits for its handlers in flight.
 */
export interface AsyncSession
  extends
    AsyncQueryDispatcher,
    AsyncQueryRegistry,
    AsyncMessageDispatcher,
    AsyncHandlerRegistry,
    Registrations,
    AsyncDisposable {
  /** The session's id. */
  readonly id: string;
  /**
   * Refuses new work, waits for the handlers registered through the session
   * that are in flight, then removes everything registered through it.
   * Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/**
 * The whole asynchronous bus: every dispatch and registration method, what
 * it handles, and `close()`. Distributed buses (`createNatsBus`) are one too,
 * so shutdown code is the same in every set-up.
 */
export interface AsyncMessageBus
  extends
    AsyncQueryDispatcher,
    AsyncQueryRegistry,
    AsyncMessageDispatcher,
    AsyncHandlerRegistry,
    Registrations,
    HandlerCheck,
    AsyncDisposable {
  /**
   * Opens an {@linkcode AsyncSession}, with the id given or a new one.
   *
   * @throws {TypeError} When `id` is given and is not a non-empty string.
   */
  session(id?: string): AsyncSession;
  /** Sessions open now. */
  readonly activeSessions: number;
  /**
   * Dispatches each message by its kind (`send`, `execute`, `publish`,
   * `dispatch`), each as a dispatch of its own with `options`' signal and
   * data, at most `options.concurrency` at a time (one by one, in order, by
   * default). Every message is dispatched even when some fail.
   *
   * @returns A promise of the results in the order of `messages`
   * (`undefined` for events and tasks). Once all have settled, it rejects
   * with a `BatchError` when any failed, whose `results` hold every outcome
   * by index; before any runs, with a `TypeError` when `messages` is not an
   * array or one of them is not a message (naming its index) or an option
   * is wrong, a `RangeError` for a bad `concurrency`, and the signal's
   * reason when it has aborted already.
   */
  handleAll<const M extends readonly AnyMessage[]>(
    messages: M,
    options?: AsyncHandleAllOptions,
  ): Promise<HandledResults<M>>;
  /**
   * Subscribes `handler` to an event's events in batches: it gets a batch
   * when it holds `options.size` events, or `options.timeoutMs` after the
   * batch's first event, whichever comes first. A publish resolves once the
   * event is taken into the batch, not when the batch is handled.
   *
   * Batches are handled one at a time, in order, each as a publish of an
   * event named after the definition with `[]` appended (`"OrderPlaced[]"`),
   * whose payload is the batch's events, to this one subscriber: middleware
   * see it like any publish to one subscriber, so `deadLetter` keeps one
   * letter per failed batch, listing its events, and `redeliver` hands that
   * batch to this subscriber again. A failed batch is also given to
   * `options.onError`.
   *
   * @returns A function that removes the subscription: no more events are
   * taken, and its promise resolves once the events it held have been
   * handled (it never rejects; failures go to `onError`).
   * @throws {TypeError} When the definition is not an event definition, the
   * handler is not a function, or `id`, `module`, `clock` or `onError` is
   * wrong.
   * @throws {RangeError} When `size` is not a positive integer or
   * `timeoutMs` not a positive finite number of milliseconds.
   *
   * @example Indexing orders ten at a time, or each second
   * ```ts
   * import { createAsyncBus, defineEvent } from "@monolith/message-bus";
   * import { createFakeClock } from "@monolith/message-bus/testing";
   * import { deepStrictEqual } from "node:assert/strict";
   *
   * const OrderPlaced = defineEvent<{ id: string }>("OrderPlaced");
   * const bus = createAsyncBus();
   * const clock = createFakeClock();
   * const indexed: string[][] = [];
   * const remove = bus.subscribeBatch(OrderPlaced, (events) => {
   *   indexed.push(events.map((event) => event.payload.id));
   * }, { size: 10, timeoutMs: 1_000, clock });
   *
   * await bus.publish(OrderPlaced({ id: "o-1" }));
   * await bus.publish(OrderPlaced({ id: "o-2" }));
   * await clock.advance(1_000);
   * await bus.publish(OrderPlaced({ id: "o-3" }));
   * await remove(); // hands over what it holds
   * deepStrictEqual(indexed, [["o-1", "o-2"], ["o-3"]]);
   * ```
   */
  subscribeBatch<P>(
    definition: EventDefinition<P>,
    handler: AsyncBatchHandler<P>,
    options: SubscribeBatchOptions<P>,
  ): BatchUnregister;
  /**
   * Closes the bus: it refuses new dispatches and registrations at once (a
   * `BusClosedError`; sessions cannot be opened), while the handlers in
   * flight finish, nested dispatches included. It closes what it owns: its
   * event queue (drained, see `eventQueue.closeTimeoutMs`), its batch
   * subscriptions (what they hold is handled) and its sessions (each waits
   * for its handlers in flight), for at most `closeTimeoutMs`; then it
   * removes every registration. `await using bus = createAsyncBus()` calls
   * it at the end of the scope. Calling it again returns the same promise.
   *
   * Handlers registered on the bus itself are not counted while they run
   * (that would cost every dispatch more than the dispatch): register a
   * module through a session for close() to wait for its handlers.
   */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Batches

/** Options of the synchronous bus's `handleAll`, applied to every message. */
export interface HandleAllOptions {
  /** Aborts every dispatch; see {@linkcode DispatchOptions.signal}. */
  readonly signal?: AbortSignal;
  /** Data for every dispatch; see {@linkcode DispatchOptions.data}. */
  readonly data?: Readonly<Partial<ContextData>>;
}

/** Options of the asynchronous bus's `handleAll`. */
export interface AsyncHandleAllOptions extends HandleAllOptions {
  /**
   * How many messages are in flight at once: a positive integer, or
   * `Infinity` for all of them. The results keep the order of the messages
   * whatever it is.
   *
   * @default {1}
   */
  readonly concurrency?: number;
}

/**
 * What `handleAll` gives back for one message type: a query's or command's
 * result, `undefined` for an event or a task.
 */
export type HandledResult<M> = M extends { readonly kind: "event" | "task" }
  ? undefined
  : ResultOf<M>;

/** What `handleAll` gives back for a list of messages: a result for each, in order. */
export type HandledResults<M extends readonly AnyMessage[]> = {
  -readonly [K in keyof M]: HandledResult<M[K]>;
};

/** Hears a batch of events on the asynchronous bus; see `subscribeBatch`. */
export type AsyncBatchHandler<P> = (
  events: readonly EventMessage<P>[],
  context: AsyncDispatchContext,
) => void | PromiseLike<void>;

/** Options of `subscribeBatch`: when a batch is handed over, and who it is. */
export interface SubscribeBatchOptions<P = unknown> extends SubscribeOptions {
  /** The batch is handed over when it holds this many events. */
  readonly size: number;
  /**
   * ... or this many milliseconds after its first event, if that comes
   * first.
   */
  readonly timeoutMs: number;
  /**
   * The clock `timeoutMs` is measured by; a fake one in tests.
   *
   * @default {systemClock}
   */
  readonly clock?: Clock;
  /**
   * Told of each batch whose handling failed (its handler, or a middleware,
   * threw or rejected), with the error and the batch's events. Nobody waits
   * for a batch, so without it the failure is printed with `console.error`.
   */
  readonly onError?: (
    error: unknown,
    events: readonly EventMessage<P>[],
  ) => void;
}

/**
 * Removes a batch subscription; its promise resolves once the events it
 * held have been handled. Calling it again returns the same promise.
 */
export type BatchUnregister = () => Promise<void>;

// ---------------------------------------------------------------------------
// Middleware

/**
 * The second argument of a middleware: passes the message on to the next
 * middleware, or to the handlers after the last one. A `change` applies to
 * the rest of the dispatch (see {@linkcode ContextChange}).
 *
 * On the synchronous bus call it at most once, before returning. On the
 * asynchronous bus it may be called again once the previous call has
 * settled (that is how `retry` tries again); calling it while a previous
 * call is still pending rejects.
 */
export type NextFunction<M extends AnyMessage, R> = (
  message: M,
  change?: ContextChange,
) => R;

/**
 * A middleware of the synchronous bus: `(message, next, context) => result`,
 * composed once per bus, the first in the list being the outermost. It is
 * generic over the message and the result, so it must hand back what `next`
 * returned (or throw): a middleware that changes the result type does not
 * compile. Read `message.kind` to tell `send`, `execute`, `publish` and
 * `dispatch` apart. One that only passes `next`'s result through fits the
 * asynchronous bus as well. The repository's docs/middleware.md describes
 * the whole contract.
 */
export type Middleware = <M extends AnyMessage, R>(
  message: M,
  next: NextFunction<M, R>,
  context: MiddlewareContext,
) => R;

/**
 * A middleware of the asynchronous bus: `next` returns a promise and so must
 * the middleware, of the same result. It may `await` before and after
 * `next`, and call `next` again once the previous call has settled. Its
 * context can dispatch too. It does not fit the synchronous bus: the types
 * refuse it, and `createBus()` refuses an `async function` or one marked
 * with `asyncOnly()`.
 */
export type AsyncMiddleware = <M extends AnyMessage, R>(
  message: M,
  next: NextFunction<M, Promise<R>>,
  context: AsyncDispatchContext,
) => Promise<R>;

// ---------------------------------------------------------------------------
// Records

/**
 * An error in its JSON form, as recordings and dead letters keep it: its
 * name and message, every inner error of an `AggregateError`, and its cause
 * when it has one. A thrown value that is not an `Error` has its `typeof` as
 * name and its string form as message.
 */
export interface SerializedError {
  /** The error's `name`. */
  readonly name: string;
  /** The error's `message`. */
  readonly message: string;
  /** The inner errors of an `AggregateError`, in their JSON form. */
  readonly errors?: readonly unknown[];
  /** The error's `cause`, in its JSON form, when it has one. */
  readonly cause?: unknown;
}

// ---------------------------------------------------------------------------
// Gauges

/** The labels of a gauge's series: label name to value. */
export type GaugeLabels = Readonly<Record<string, string>>;

/** Options of {@linkcode GaugeSink.observeGauge}. */
export interface ObserveGaugeOptions {
  /**
   * What the gauge measures, for the exposition's `# HELP` line; the first
   * series of a name that gives one sets it.
   *
   * @default {"The <name> gauge."}
   */
  readonly help?: string;
  /**
   * The series' labels (names `[a-zA-Z_][a-zA-Z0-9_]*`).
   *
   * @default {{}}
   */
  readonly labels?: GaugeLabels;
}

/**
 * Where the parts that know a current value (a bus, a circuit breaker, a
 * dead letter store) report it as a gauge: each gives a function that reads
 * it, called whenever the gauges are read, so keeping a gauge costs nothing
 * between reads. `createMetrics()` of `@monolith/message-bus/observability`
 * makes one; pass it as their `metrics` option.
 */
export interface GaugeSink {
  /**
   * Adds a series to the gauge `name`, read by calling `read`. A series with
   * the same name and labels as one observed already replaces it.
   *
   * @returns A function that removes the series (not one that replaced it).
   * @throws {TypeError} When `name` or a label name is not a valid metric or
   * label name, or `read` is not a function.
   */
  observeGauge(
    name: string,
    read: () => number,
    options?: ObserveGaugeOptions,
  ): Unregister;
}

// ---------------------------------------------------------------------------
// The event queue

/**
 * The dead letter of an event the event queue dropped, in the shape of
 * `DeadLetter` of `@monolith/message-bus/resilience`: no handler ran, so
 * `handler` and `subscriber` are `null` and `attempts` is 0.
 */
export interface DroppedEventLetter {
  /** The publish's `id` option, or a new unique id. */
  readonly id: string;
  /** The event, in its JSON form (a `payload` of `undefined` left out). */
  readonly message: {
    readonly kind: "event";
    readonly type: string;
    readonly payload: unknown;
  };
  /** Why it was dropped, in its JSON form. */
  readonly error: SerializedError;
  /** No handler ran. */
  readonly handler: null;
  /**
   * The one subscriber its publish named (`{ subscriber }`), which
   * `redeliver` delivers to; `null` for a publish to every subscriber.
   */
  readonly subscriber: string | null;
  /** No attempt was made. */
  readonly attempts: 0;
  /** When it was dropped: ISO 8601, UTC. */
  readonly at: string;
}

/**
 * A message given up on (after its tries, or because it no longer decodes),
 * in the form every dead letter store of `@monolith/message-bus/resilience`
 * keeps: what the outbox and a distributed bus's task workers hand their
 * `deadLetters`.
 */
export interface DeadLetterRecord {
  /** The message's id (its dispatch id, or the outbox's id). */
  readonly id: string;
  /** The message, in its JSON form. */
  readonly message: {
    readonly kind: MessageKind;
    readonly type: string;
    readonly payload: unknown;
  };
  /** The last error (or why the message does not decode), in its JSON form. */
  readonly error: SerializedError;
  /** The function name of the handler that failed, or `null` when unknown. */
  readonly handler: string | null;
  /** For an event: the subscriber that failed; `null` for every other case. */
  readonly subscriber: string | null;
  /** How many tries were made. */
  readonly attempts: number;
  /** When it was given up: ISO 8601, UTC. */
  readonly at: string;
}

/**
 * Where letters of type `L` go: any dead letter store of
 * `@monolith/message-bus/resilience` fits.
 */
export interface DeadLetterRecordSink<L = DeadLetterRecord> {
  /** Keeps a letter. */
  add(letter: L): void | Promise<void>;
  /** Field names whose values are written as `"***REDACTED***"`. */
  readonly redact?: readonly string[];
}

/**
 * Where the event queue puts the events it drops: any `DeadLetterStore` of
 * `@monolith/message-bus/resilience` (`memoryDeadLetterStore()`,
 * `jsonlDeadLetterStore()`) fits.
 */
export interface DeadLetterSink {
  /** Keeps a letter; a throw or a rejection loses it and is reported. */
  add(letter: DroppedEventLetter): void | Promise<void>;
  /** Field names whose values are written as `"***REDACTED***"`. */
  readonly redact?: readonly string[];
}

/** The counts of a bus's event queue, read live. */
export interface EventQueue {
  /** Events accepted and waiting for a worker. */
  readonly size: number;
  /** Events being delivered now, at most `concurrency`. */
  readonly active: number;
  /** Publishes held back by backpressure ("adaptive"), not accepted yet. */
  readonly waiting: number;
  /**
   * Accepted events that were never delivered: dropped for a newer one
   * ("drop-oldest"), or left when `close()` timed out.
   */
  readonly dropped: number;
  /**
   * Publishes refused: on a full queue ("reject-new"), or held back when
   * `close()` was called.
   */
  readonly rejected: number;
  /** Whether producers are being held back ("adaptive" only). */
  readonly backpressure: boolean;
}

/**
 * An asynchronous bus whose events go through a bounded queue (see
 * `eventQueue` in the options of `createAsyncBus`): `publish` resolves when
 * the event is accepted, and `concurrency` workers deliver the events in
 * order, each through the bus's middleware and subscribers.
 */
export interface QueuedAsyncMessageBus extends AsyncMessageBus {
  /**
   * Queues an event for every subscriber (or the one `options.subscriber`
   * names). The promise resolves when the queue accepted it; what the
   * subscribers do then no longer reaches the caller, but reaches the bus's
   * middleware (`deadLetter`, `recorder`, `metrics`) and the queue's
   * `onError`. With `{ awaitDelivery: true }` it settles when the event has
   * been delivered, with the subscribers' outcome.
   *
   * It rejects with a `QueueFullError` when the queue is full ("reject-new"),
   * and with an `Error` once the bus is closing. Under "adaptive" it waits
   * while the queue is under backpressure.
   */
  publish(event: EventMessage, options?: PublishOptions): Promise<void>;
  /** The queue's counts. */
  readonly queue: EventQueue;
  /**
   * Resolves when the queue is empty, no publish is held back and no event
   * is being delivered.
   */
  drain(): Promise<void>;
  /**
   * Stops accepting events (publishes held back are refused), waits for the
   * queue to drain for at most `eventQueue.closeTimeoutMs`, drops what is
   * left (counted, dead-lettered, reported on the console), then closes the
   * rest of the bus as {@linkcode AsyncMessageBus.close} does. Calling it
   * again returns the same promise.
   */
  close(): Promise<void>;
}
