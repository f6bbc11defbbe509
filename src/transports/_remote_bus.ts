// A bus whose messages cross a broker: the seam a transport implements
// (`Transport`), and the bus built on it (`createRemoteBus`), the same for
// every broker. docs/transports.md describes the seam.
//
// The bus is the asynchronous bus with other terminals. What this process
// dispatches goes through `middleware` to the transport; what the broker
// delivers to this process (a request for one of its handlers, an event for
// one of its subscribers, a task for one of its workers) goes through
// `handlerMiddleware` to the handler, in a context rebuilt from the headers:
// the same id, correlation and causation, deadline, session and data.
import {
  type Context,
  entryContext,
  type Inbound,
  inboundContext,
  rootContext,
  type Router,
} from "../core/_context.ts";
import { type AsyncDispatch, composeAsync } from "../core/_compose.ts";
import {
  createRegistry,
  dispatchError,
  type Handler,
  type Registry,
  type Subscribed,
  takesContext,
} from "../core/_registry.ts";
import {
  assembleOver,
  asyncTerminals,
  contextualHandlerAsync,
  contextualSubscriberAsync,
  createRouter,
  kindChecked,
  promising,
  type Terminal,
  type TerminalSet,
} from "../core/_terminals.ts";
import {
  type Codec,
  fromWireError,
  HEADER,
  jsonProblem,
  STATUS_ERROR,
  toWireError,
  type WireError,
} from "./_wire.ts";
import { errorJson, toJsonValue } from "../core/_json.ts";
import { rateLimitedLog } from "../core/_rate_limited_log.ts";
import { within } from "../core/_lifecycle.ts";
import { createTimerQueue, type Scheduled } from "../core/_timer_queue.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import {
  NoHandlerError,
  TimeoutError,
  TransportError,
} from "../core/errors.ts";
import type {
  AnyDefinition,
  AnyMessage,
  Message,
  MessageKind,
} from "../core/messages.ts";
import type {
  AsyncMessageBus,
  AsyncMiddleware,
  AsyncSession,
  ContextData,
  DeadLetterRecord,
  DeadLetterRecordSink,
  SubscribeOptions,
  Unregister,
} from "../core/types.ts";

// ---------------------------------------------------------------------------
// The seam

/**
 * Where a message goes: its kind and name. A transport maps it to its own
 * names (a subject, a stream, a topic) and checks that it can.
 */
export interface Address {
  readonly kind: MessageKind;
  readonly type: string;
}

/** A message on the wire: its encoded body and its headers. */
export interface Wire {
  readonly body: Uint8Array;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * A message delivered by a durable subscription or a work queue: the broker
 * hands it over again until it is acknowledged.
 */
export interface Delivery extends Wire {
  /** Which delivery of this message this is, from 1. */
  readonly attempt: number;
  /** Done with it: the broker forgets it. */
  ack(): void;
  /** Failed: the broker delivers it again after `delayMs`. */
  nak(delayMs: number): void;
  /** Still working on it: the broker waits another ack wait. */
  working(): void;
  /** Never deliver it again. */
  term(): void;
}

/** A subscription of a transport. */
export interface Subscription {
  /** Settles when the broker has it: resolves, or rejects with why not. */
  readonly ready: Promise<void>;
  /** Ends it; deliveries being handled finish first. */
  close(): Promise<void>;
}

/** How a work queue's consumer is set up. */
export interface WorkSettings {
  /** How long a delivery may go without ack or `working()`. */
  readonly ackWaitMs: number;
  /** How many deliveries this process handles at once. */
  readonly concurrency: number;
}

/** How a transport's dispatch failed. */
export type FailureCode =
  | "no-responders"
  | "timeout"
  | "disconnected"
  | "closed"
  | "refused";

/** What a transport rejects with when the broker did not carry a message. */
export class TransportFailure extends Error {
  /**
   * @param code What went wrong.
   * @param message What the broker client said.
   * @param options The client's error, as `cause`.
   */
  constructor(
    readonly code: FailureCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "TransportFailure";
  }
}

/** The state of a transport's connection. */
export type ConnectionStatus = "connected" | "reconnecting" | "closed";

/**
 * What a broker must offer a distributed bus. Each method maps one thing
 * the four kinds need onto the broker; everything else (contexts, headers,
 * codecs, errors, retries, dead letters) is the bus's. Rejections are
 * `TransportFailure`s.
 */
export interface Transport {
  /** The broker's name, for messages: "NATS". */
  readonly name: string;
  /** The connection's state now. */
  readonly status: ConnectionStatus;
  /**
   * Why `type` cannot be a name on this broker ("its name has a space"),
   * or `undefined` when it can.
   */
  nameProblem(type: string): string | undefined;
  /**
   * Request/reply: resolves with the reply of one server of `address`, or
   * rejects with "no-responders" (nobody serves it), "timeout" (no reply
   * within `timeoutMs`), "disconnected" or "closed".
   */
  request(address: Address, wire: Wire, timeoutMs: number): Promise<Wire>;
  /** Serves requests to `address`; one server of `group` gets each. */
  serve(
    address: Address,
    group: string,
    handle: (wire: Wire) => Promise<Wire>,
  ): Subscription;
  /**
   * Fan-out: every subscriber of `address` gets it. Resolves once handed to
   * the connection; while disconnected, waits for it up to `timeoutMs`, then
   * rejects with "timeout".
   */
  publish(address: Address, wire: Wire, timeoutMs: number): Promise<void>;
  /**
   * Subscribes to `address`: every subscription gets each message, or one
   * of `group` when given. Deliveries are at most once.
   */
  subscribe(
    address: Address,
    group: string | undefined,
    deliver: (wire: Wire) => Promise<void>,
  ): Subscription;
  /**
   * A durable subscription named `name`: it gets what was published while
   * it was away; `deliver`'s caller acks, naks or terms each delivery.
   */
  subscribeDurable(
    address: Address,
    name: string,
    settings: WorkSettings,
    deliver: (delivery: Delivery) => Promise<void>,
  ): Subscription;
  /**
   * Stores a task durably: resolves once stored. A second enqueue with the
   * same `id` within the broker's window is stored once.
   */
  enqueue(
    address: Address,
    wire: Wire,
    id: string,
    timeoutMs: number,
  ): Promise<void>;
  /**
   * Takes tasks of `address` as one of its competing workers; `handle`'s
   * caller acks, naks or terms each delivery.
   */
  work(
    address: Address,
    settings: WorkSettings,
    handle: (delivery: Delivery) => Promise<void>,
  ): Subscription;
  /**
   * Asks every server of `address` (not one of a group) and collects the
   * replies that arrive within `waitMs`.
   */
  inquire(address: Address, wire: Wire, waitMs: number): Promise<Wire[]>;
  /**
   * Answers inquiries to `address` (every subscription gets each) with what
   * `answer` returns.
   */
  answer(address: Address, answer: () => Wire): Subscription;
  /** Resolves once the broker has processed everything sent so far. */
  flush(): Promise<void>;
  /** Ends subscriptions after their deliveries, flushes, then disconnects. */
  drain(): Promise<void>;
  /** Disconnects now. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Options

/** How a task worker of a distributed bus handles its deliveries. */
export interface TaskWorkerOptions {
  /**
   * How long a task may run without its worker telling the broker it is
   * still alive before it is handed to another worker. The bus tells it
   * every third of this while the handler runs, so only a worker that died
   * or hangs loses its task.
   *
   * @default {30000}
   */
  readonly ackWaitMs?: number;
  /**
   * How many times a task is tried in all; after the last failure it goes to
   * the worker's `deadLetters`.
   *
   * @default {5}
   */
  readonly maxDeliver?: number;
  /**
   * How many tasks of this type this process runs at once.
   *
   * @default {1}
   */
  readonly concurrency?: number;
  /**
   * The delay before a failed task is tried again, doubled at each failure
   * up to 60 s.
   *
   * @default {1000}
   */
  readonly retryDelayMs?: number;
}

/** The subscribe options of a distributed bus. */
export interface RemoteSubscribeOptions<P = unknown>
  extends SubscribeOptions<P> {
  /**
   * A queue group: of the subscribers (in any process) with this group, one
   * gets each event. Replicas of one module share its events this way.
   */
  readonly group?: string;
  /**
   * A durable subscription of this name: events published while no process
   * had it are delivered when one subscribes again, and a failed delivery is
   * tried again (see `maxDeliver`). Unique per event type and subscriber.
   */
  readonly durable?: string;
  /**
   * For a durable subscription: how many times an event is tried in all
   * before it is reported and dropped.
   *
   * @default {5}
   */
  readonly maxDeliver?: number;
}

/** What the bus hands its dead-letter store: a task it gave up on. */
export type TaskDeadLetter = DeadLetterRecord;

/**
 * Where a distributed bus puts tasks it gave up on: any dead letter store of
 * `@monolith/message-bus/resilience` fits.
 */
export type TaskDeadLetterSink = DeadLetterRecordSink<TaskDeadLetter>;

/** What a handler registered on a distributed bus is, as its peers see it. */
export interface HandlerInfo {
  /** The handler's function name. */
  readonly handler: string;
  /** The session it was registered through, when there was one. */
  readonly module: string | null;
  /** The host it runs on. */
  readonly host: string;
  /** The process it runs in, on that host. */
  readonly pid: number;
}

/** A distributed bus, whatever its broker. */
export interface RemoteMessageBus extends AsyncMessageBus, AsyncDisposable {
  /** The connection's state now. */
  readonly status: ConnectionStatus;
  /**
   * Resolves once every registration made so far is active on the broker
   * (rejects with the first that failed): await it before another process
   * relies on this one's handlers.
   */
  ready(): Promise<void>;
  /**
   * Which processes serve a query or command now, as their handlers answer
   * within `waitMs` (default 200). More than one distinct handler or module
   * means two modules registered the same message, which the broker cannot
   * tell from replicas; the bus warns of it at registration too.
   */
  handlersOf(
    definition: AnyDefinition,
    waitMs?: number,
  ): Promise<HandlerInfo[]>;
  /**
   * Stops taking deliveries, waits for the handlers running, sends what is
   * buffered, and disconnects. Dispatches made after it fail with a
   * `TransportError`, registrations with a `TypeError`.
   */
  drain(): Promise<void>;
  /**
   * Closes the bus as an in-process bus closes: `drain()`, for at most
   * `closeTimeoutMs`, then disconnects anyway (handlers still running then
   * cannot reply; the broker redelivers their tasks). `await using` calls
   * it. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

/** Settings of `createRemoteBus`, checked by the transport's factory. */
export interface RemoteSettings {
  /** The factory's name, for messages. */
  readonly factory: string;
  readonly middleware: readonly AsyncMiddleware[];
  readonly handlerMiddleware: readonly AsyncMiddleware[];
  readonly codec: Codec;
  readonly queryTimeoutMs: number;
  readonly propagate: readonly string[];
  readonly deadLetters: TaskDeadLetterSink | undefined;
  readonly onError: ((error: unknown, message: Message) => void) | undefined;
  readonly clock: Clock;
  readonly taskDefaults: Required<TaskWorkerOptions>;
  readonly durableMaxDeliver: number;
  /** How long close() waits for drain() before it disconnects anyway. */
  readonly closeTimeoutMs: number;
}

// ---------------------------------------------------------------------------
// The bus

const METHOD = {
  query: "send",
  command: "execute",
  event: "publish",
  task: "dispatch",
} as const;

const REGISTER = {
  query: "registerQuery",
  command: "registerCommand",
  event: "subscribe",
  task: "registerTask",
} as const;

const MAX_RETRY_DELAY_MS = 60_000;
const HOST = hostName();

function hostName(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/** Creates a distributed bus over `transport`. */
export function createRemoteBus(
  transport: Transport,
  settings: RemoteSettings,
): RemoteMessageBus {
  const { codec, clock, factory } = settings;
  const log = rateLimitedLog(
    (line, error) => console.error(line, error),
    clock,
    clock === systemClock,
  );
  const registry = createRegistry({
    adapt: (handler, module) =>
      takesContext(handler)
        ? contextualHandlerAsync(handler, module)
        : promising(handler),
    adaptSubscriber: contextualSubscriberAsync,
    synchronous: false,
  });
  const compose = (middleware: readonly AsyncMiddleware[]) =>
    middleware.length === 0
      ? undefined
      : (kind: MessageKind, terminal: Terminal) =>
        kindChecked(kind, composeAsync(middleware, terminal as AsyncDispatch));
  // What the broker delivers to this process runs here.
  const inbound = createRouter(
    asyncTerminals(registry.routes),
    compose(settings.handlerMiddleware),
    true,
  );
  let closed = false;
  const checkedNames = new Set<string>();
  const pending = new Set<Promise<void>>();
  const failures: unknown[] = [];
  const subscriptions = new Set<Subscription>();
  let running = 0;
  let idle: (() => void) | undefined;

  function report(error: unknown, message: Message, what: string): void {
    if (settings.onError !== undefined) {
      try {
        settings.onError(error, message);
        return;
      } catch (failure) {
        log.report(`${factory}: onError threw`, failure);
        return;
      }
    }
    log.report(`${factory}: ${what}`, error);
  }

  function checkName(kind: MessageKind, type: string, method: string): void {
    if (checkedNames.has(type)) return;
    const problem = transport.nameProblem(type);
    if (problem !== undefined) {
      throw new TypeError(
        `Cannot ${method}() ${kind} "${type}": ${problem}`,
      );
    }
    checkedNames.add(type);
  }

  // ---- what this process dispatches --------------------------------------

  function encodePayload(method: string, message: AnyMessage): Uint8Array {
    try {
      return codec.encode(message.payload);
    } catch (error) {
      throw new TypeError(
        `Cannot ${method}() ${message.kind} "${message.type}": its payload cannot be sent (${
          error instanceof Error ? error.message : String(error)
        })`,
        { cause: error },
      );
    }
  }

  function headersOf(
    method: string,
    message: AnyMessage,
    dispatch: Context,
    timeoutMs: number | undefined,
  ): Record<string, string> {
    const headers: Record<string, string> = { [HEADER.id]: dispatch.id };
    const causationId = dispatch.causationId;
    if (causationId !== undefined) {
      headers[HEADER.causationId] = causationId;
      headers[HEADER.correlationId] = dispatch.correlationId;
    }
    const { sessionId, origin } = dispatch;
    if (sessionId !== undefined) headers[HEADER.sessionId] = sessionId;
    if (origin !== undefined) headers[HEADER.origin] = origin;
    if (timeoutMs !== undefined) headers[HEADER.timeoutMs] = String(timeoutMs);
    if (settings.propagate.length > 0) {
      const data = dispatch.data as Record<string, unknown>;
      let carried: Record<string, unknown> | undefined;
      for (const key of settings.propagate) {
        const value = data[key];
        if (value === undefined) continue;
        const problem = jsonProblem(value, `data.${key}`, []);
        if (problem !== undefined) {
          throw new TypeError(
            `Cannot ${method}() ${message.kind} "${message.type}": context ${problem} (only JSON crosses to other processes)`,
          );
        }
        (carried ??= {})[key] = value;
      }
      if (carried !== undefined) {
        headers[HEADER.data] = JSON.stringify(carried);
      }
    }
    return headers;
  }

  function timeoutOf(context: Context): number {
    const deadline = context.deadline;
    if (deadline === undefined) return settings.queryTimeoutMs;
    return Math.max(0, Math.floor(deadline - clock.now()));
  }

  function closedError(message: AnyMessage, method: string): TransportError {
    return new TransportError(
      message.kind,
      message.type,
      "closed",
      `Cannot ${method}() ${message.kind} "${message.type}": the bus is closed (drain() or close() was called)`,
    );
  }

  function failure(
    error: unknown,
    message: AnyMessage,
    method: string,
    timeoutMs: number,
  ): Error {
    if (!(error instanceof TransportFailure)) {
      return error instanceof Error ? error : new Error(String(error));
    }
    const { kind, type } = message;
    switch (error.code) {
      case "no-responders":
        return new NoHandlerError(
          kind,
          type,
          `no process serves it on ${transport.name}; register its handler in a process connected to the same server, with the same prefix`,
        );
      case "timeout": {
        const timeout = new TimeoutError(kind, type, timeoutMs);
        if (transport.status !== "connected") {
          timeout.message = `${kind[0]!.toUpperCase()}${
            kind.slice(1)
          } "${type}" timed out after ${timeoutMs} ms while the connection to ${transport.name} was lost: it waited for the connection to come back until its deadline`;
        }
        return timeout;
      }
      case "closed":
        return closedError(message, method);
      default:
        return new TransportError(
          kind,
          type,
          error.code,
          `Cannot ${method}() ${kind} "${type}": ${transport.name} ${
            error.code === "disconnected" ? "is disconnected" : "refused it"
          } (${error.message})`,
          { cause: error },
        );
    }
  }

  function request(
    kind: "query" | "command",
    message: AnyMessage,
    context: Context,
  ): Promise<unknown> {
    const method = METHOD[kind];
    if (message?.kind !== kind) {
      return Promise.reject(dispatchError(kind, message));
    }
    if (closed) return Promise.reject(closedError(message, method));
    let wire: Wire;
    const timeoutMs = timeoutOf(context);
    try {
      checkName(kind, message.type, method);
      const dispatch = entryContext(context);
      wire = {
        body: encodePayload(method, message),
        headers: headersOf(method, message, dispatch, timeoutMs),
      };
    } catch (error) {
      return Promise.reject(error);
    }
    if (timeoutMs <= 0) {
      return Promise.reject(new TimeoutError(kind, message.type, 0));
    }
    return transport.request(message, wire, timeoutMs).then(
      (reply) => {
        if (reply.headers[HEADER.status] === STATUS_ERROR) {
          throw fromWireError(
            JSON.parse(new TextDecoder().decode(reply.body)) as WireError,
            kind,
            message.type,
          );
        }
        return codec.decode(reply.body);
      },
      (error) => {
        throw failure(error, message, method, timeoutMs);
      },
    );
  }

  function publish(event: AnyMessage, context: Context): Promise<unknown> {
    if (event?.kind !== "event") {
      return Promise.reject(dispatchError("event", event));
    }
    // To one subscriber (a redelivery, a batch): it is one of this process's.
    if (context.subscriber !== undefined) {
      return inbound.publish(event, context) as Promise<unknown>;
    }
    if (closed) return Promise.reject(closedError(event, "publish"));
    let wire: Wire;
    try {
      checkName("event", event.type, "publish");
      wire = {
        body: encodePayload("publish", event),
        headers: headersOf("publish", event, entryContext(context), undefined),
      };
    } catch (error) {
      return Promise.reject(error);
    }
    const timeoutMs = timeoutOf(context);
    return transport.publish(event, wire, Math.max(1, timeoutMs)).catch(
      (error) => {
        throw failure(error, event, "publish", timeoutMs);
      },
    );
  }

  function dispatch(task: AnyMessage, context: Context): Promise<unknown> {
    if (task?.kind !== "task") {
      return Promise.reject(dispatchError("task", task));
    }
    if (closed) return Promise.reject(closedError(task, "dispatch"));
    let wire: Wire;
    let id: string;
    const timeoutMs = timeoutOf(context);
    try {
      checkName("task", task.type, "dispatch");
      const own = entryContext(context);
      id = own.id;
      wire = {
        body: encodePayload("dispatch", task),
        headers: headersOf("dispatch", task, own, undefined),
      };
    } catch (error) {
      return Promise.reject(error);
    }
    return transport.enqueue(task, wire, id, Math.max(1, timeoutMs)).then(
      () => undefined,
      (error) => {
        throw failure(error, task, "dispatch", timeoutMs);
      },
    );
  }

  const terminals: TerminalSet = {
    plain: {
      send: (message, context) => request("query", message, context),
      execute: (message, context) => request("command", message, context),
      publish,
      dispatch,
    },
    full: {
      send: (message, context) => request("query", message, context),
      execute: (message, context) => request("command", message, context),
      publish,
      dispatch,
    },
  };
  const outbound: Router = createRouter(
    terminals,
    compose(settings.middleware),
    true,
  );

  // ---- what the broker delivers to this process ---------------------------

  // Inbound deadlines and heartbeats, on one timer (the connection keeps the
  // process alive, not they).
  const timers = createTimerQueue(clock, clock === systemClock);

  // The root all inbound dispatches share: nested dispatches go outbound.
  const root = rootContext(outbound);

  // Calls `beat` every `everyMs` until the returned function is called.
  function heartbeat(beat: () => void, everyMs: number): () => void {
    let timer: Scheduled;
    const arm = () => {
      timer = timers.schedule(everyMs, clock.now(), () => {
        beat();
        arm();
      });
    };
    arm();
    return () => timer.cancel();
  }

  function begin(): () => void {
    running++;
    return () => {
      if (--running === 0 && idle !== undefined) {
        const wake = idle;
        idle = undefined;
        wake();
      }
    };
  }

  function received(
    wire: Wire,
    attempt: number,
    subscriber: string | undefined,
    kind: MessageKind,
    type: string,
  ): { context: Context; done: () => void } {
    const headers = wire.headers;
    const timeout = headers[HEADER.timeoutMs];
    let signal: AbortSignal | undefined;
    let deadline: number | undefined;
    let timer: Scheduled | undefined;
    if (timeout !== undefined) {
      const limit = Number(timeout);
      if (Number.isFinite(limit) && limit >= 0) {
        const now = clock.now();
        deadline = now + limit;
        const controller = new AbortController();
        signal = controller.signal;
        timer = timers.schedule(
          limit,
          now,
          () => controller.abort(new TimeoutError(kind, type, limit)),
        );
      }
    }
    let data: Readonly<ContextData> = {};
    const carried = headers[HEADER.data];
    if (carried !== undefined) {
      try {
        data = JSON.parse(carried);
      } catch {
        data = {};
      }
    }
    const inboundFields: Inbound = {
      id: headers[HEADER.id] ?? "",
      correlationId: headers[HEADER.correlationId],
      causationId: headers[HEADER.causationId],
      origin: headers[HEADER.origin],
      sessionId: headers[HEADER.sessionId],
      deadline,
      signal,
      data,
      attempt,
      subscriber,
    };
    const end = begin();
    return {
      context: inboundContext(root, inboundFields),
      done: () => {
        timer?.cancel();
        end();
      },
    };
  }

  function decodeMessage(definition: AnyDefinition, wire: Wire): AnyMessage {
    return definition(codec.decode(wire.body)) as AnyMessage;
  }

  function errorReply(error: unknown): Wire {
    return {
      body: new TextEncoder().encode(JSON.stringify(toWireError(error))),
      headers: { [HEADER.status]: STATUS_ERROR },
    };
  }

  function serveOne(
    kind: "query" | "command",
    definition: AnyDefinition,
  ): Subscription {
    const type = definition.name;
    const method = METHOD[kind];
    return transport.serve(
      { kind, type },
      `${kind}.${type}`,
      async (wire) => {
        let message: AnyMessage;
        try {
          message = decodeMessage(definition, wire);
        } catch (error) {
          return errorReply(
            new TypeError(
              `Cannot ${method}() ${kind} "${type}": its payload could not be decoded here (${
                error instanceof Error ? error.message : String(error)
              })`,
            ),
          );
        }
        const { context, done } = received(wire, 1, undefined, kind, type);
        try {
          const result = await inbound[method](message, context);
          try {
            return { body: codec.encode(result), headers: {} };
          } catch (error) {
            return errorReply(
              new TypeError(
                `The result of ${kind} "${type}" cannot be sent back (${
                  error instanceof Error ? error.message : String(error)
                })`,
              ),
            );
          }
        } catch (error) {
          return errorReply(error);
        } finally {
          done();
        }
      },
    );
  }

  function track(subscription: Subscription, what: string): Subscription {
    subscriptions.add(subscription);
    const ready = subscription.ready.catch((error) => {
      failures.push(error);
      log.report(`${factory}: ${what} could not be set up`, error);
    });
    pending.add(ready);
    ready.finally(() => pending.delete(ready));
    return subscription;
  }

  function stop(subscription: Subscription): void {
    if (!subscriptions.delete(subscription)) return;
    subscription.close().catch((error) =>
      log.report(`${factory}: a subscription could not be ended`, error)
    );
  }

  function together(local: Unregister, subscription: Subscription): Unregister {
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      local();
      stop(subscription);
    };
  }

  function handlerInfo(
    handler: Handler,
    module: string | undefined,
  ): HandlerInfo {
    return {
      handler: handler.name || "anonymous",
      module: module ?? null,
      host: HOST,
      pid: Deno.pid,
    };
  }

  function infoAddress(kind: MessageKind, type: string): Address {
    return { kind, type: `$handlers.${type}` };
  }

  // A second module serving the same message cannot be told from a replica
  // by the broker; their handler names and modules can.
  function warnIfServedElsewhere(
    kind: MessageKind,
    type: string,
    own: HandlerInfo,
  ): void {
    transport.inquire(
      infoAddress(kind, type),
      { body: new Uint8Array(0), headers: {} },
      100,
    ).then((replies) => {
      for (const reply of replies) {
        const other = parseInfo(reply);
        if (other === undefined) continue;
        if (other.handler !== own.handler || other.module !== own.module) {
          console.warn(
            `${factory}: ${kind} "${type}" is served by handler ${own.handler} (module ${own.module}) here and by handler ${other.handler} (module ${other.module}) on ${other.host}, pid ${other.pid}: ${transport.name} hands each request to one of them. Replicas of one module should register the same handler; two modules should not both handle one message`,
          );
          return;
        }
      }
    }, () => {});
  }

  function parseInfo(wire: Wire): HandlerInfo | undefined {
    try {
      const info = JSON.parse(new TextDecoder().decode(wire.body));
      return typeof info?.handler === "string" ? info : undefined;
    } catch {
      return undefined;
    }
  }

  function registerOne(kind: "query" | "command" | "task") {
    const local = {
      query: registry.registerQuery,
      command: registry.registerCommand,
      task: registry.registerTask,
    }[kind];
    return (
      definition: AnyDefinition,
      handler: Handler,
      module?: string,
      options?: unknown,
    ): Unregister => {
      refuseWhenClosed(kind);
      if (typeof definition === "function") {
        checkName(kind, definition.name, REGISTER[kind]);
      }
      const remove = local(definition, handler, module);
      let subscription: Subscription;
      try {
        if (kind === "task") {
          subscription = workOn(
            definition,
            handler,
            taskOptions(definition, options),
          );
        } else {
          if (options !== undefined) {
            throw new TypeError(
              `Cannot ${
                REGISTER[kind]
              }() ${kind} "${definition.name}": it takes no options`,
            );
          }
          subscription = serveOne(kind, definition);
        }
      } catch (error) {
        remove();
        throw error;
      }
      track(subscription, `${kind} "${definition.name}"`);
      if (kind === "task") return together(remove, subscription);
      const info = handlerInfo(handler, module);
      warnIfServedElsewhere(kind, definition.name, info);
      const answering = track(
        transport.answer(infoAddress(kind, definition.name), () => ({
          body: new TextEncoder().encode(JSON.stringify(info)),
          headers: {},
        })),
        `the handler info of ${kind} "${definition.name}"`,
      );
      const both = together(remove, subscription);
      return () => {
        both();
        stop(answering);
      };
    };
  }

  function refuseWhenClosed(kind: MessageKind): void {
    if (closed) {
      throw new TypeError(
        `Cannot ${
          REGISTER[kind]
        }() on a closed ${factory}() bus: register handlers before drain() or close()`,
      );
    }
  }

  function taskOptions(
    definition: AnyDefinition,
    options: unknown,
  ): Required<TaskWorkerOptions> {
    const defaults = settings.taskDefaults;
    if (options === undefined) return defaults;
    const where = `registerTask() task "${definition.name}"`;
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        `Cannot ${where} as its options must be an object ({ ackWaitMs, maxDeliver, concurrency, retryDelayMs })`,
      );
    }
    const given = options as Record<string, unknown>;
    return {
      ackWaitMs: positiveInteger(where, "ackWaitMs", given.ackWaitMs) ??
        defaults.ackWaitMs,
      maxDeliver: positiveInteger(where, "maxDeliver", given.maxDeliver) ??
        defaults.maxDeliver,
      concurrency: positiveInteger(where, "concurrency", given.concurrency) ??
        defaults.concurrency,
      retryDelayMs:
        positiveInteger(where, "retryDelayMs", given.retryDelayMs, 0) ??
          defaults.retryDelayMs,
    };
  }

  function workOn(
    definition: AnyDefinition,
    handler: Handler,
    options: Required<TaskWorkerOptions>,
  ): Subscription {
    const type = definition.name;
    const name = handler.name || "anonymous";
    return transport.work(
      { kind: "task", type },
      { ackWaitMs: options.ackWaitMs, concurrency: options.concurrency },
      async (delivery) => {
        let message: AnyMessage;
        try {
          message = decodeMessage(definition, delivery);
        } catch (error) {
          await giveUp(delivery, type, undefined, name, error);
          return;
        }
        if (delivery.attempt > options.maxDeliver) {
          // Its last try ended with its worker (killed, disconnected).
          await giveUp(
            delivery,
            type,
            message,
            name,
            new Error(
              `task "${type}" was delivered ${delivery.attempt} times: its worker stopped during its last try (maxDeliver ${options.maxDeliver})`,
            ),
          );
          return;
        }
        const { context, done } = received(
          delivery,
          delivery.attempt,
          undefined,
          "task",
          type,
        );
        const stopBeating = heartbeat(
          () => delivery.working(),
          Math.max(10, Math.floor(options.ackWaitMs / 3)),
        );
        try {
          await inbound.dispatch(message, context);
          delivery.ack();
        } catch (error) {
          if (delivery.attempt >= options.maxDeliver) {
            await giveUp(delivery, type, message, name, error);
          } else {
            delivery.nak(
              Math.min(
                MAX_RETRY_DELAY_MS,
                options.retryDelayMs * 2 ** (delivery.attempt - 1),
              ),
            );
          }
        } finally {
          stopBeating();
          done();
        }
      },
    );
  }

  async function giveUp(
    delivery: Delivery,
    type: string,
    message: AnyMessage | undefined,
    handler: string,
    error: unknown,
  ): Promise<void> {
    const sink = settings.deadLetters;
    const id = delivery.headers[HEADER.id] ?? "";
    const shown = message ?? { kind: "task", type, payload: undefined };
    if (sink === undefined) {
      report(
        error,
        shown as Message,
        `task "${type}" (id ${id}) failed ${delivery.attempt} times and is dropped: give the bus deadLetters to keep such tasks`,
      );
      delivery.term();
      return;
    }
    const redact = sink.redact === undefined ? undefined : new Set(sink.redact);
    const letter: TaskDeadLetter = {
      id,
      message: {
        kind: "task",
        type,
        payload: message === undefined
          ? null
          : toJsonValue(message.payload, redact),
      },
      error: errorJson(error, redact),
      handler,
      subscriber: null,
      attempts: delivery.attempt,
      at: new Date(clock.now()).toISOString(),
    };
    try {
      await sink.add(letter);
      delivery.term();
    } catch (failure) {
      // Kept by the broker: it comes back, and is tried on the store again.
      log.report(
        `${factory}: the dead letter store refused task "${type}" (id ${id}); it stays queued and is given to the store again`,
        failure,
      );
      delivery.nak(settings.taskDefaults.retryDelayMs);
    }
  }

  function subscribe(
    definition: AnyDefinition,
    handler: Handler,
    options?: SubscribeOptions,
  ): Unregister {
    refuseWhenClosed("event");
    const { group, durable, maxDeliver, ...local } =
      (options ?? {}) as RemoteSubscribeOptions;
    if (typeof definition === "function") {
      checkName("event", definition.name, "subscribe");
    }
    const where = `subscribe() to event "${definition?.name}"`;
    if (group !== undefined && (typeof group !== "string" || group === "")) {
      throw new TypeError(
        `Cannot ${where} as 'group' must be a non-empty string`,
      );
    }
    if (durable !== undefined) {
      if (typeof durable !== "string" || durable === "") {
        throw new TypeError(
          `Cannot ${where} as 'durable' must be a non-empty string`,
        );
      }
      if (group !== undefined) {
        throw new TypeError(
          `Cannot ${where} with both 'group' and 'durable': the processes that share one durable name already share its events`,
        );
      }
      const problem = transport.nameProblem(durable);
      if (problem !== undefined) {
        throw new TypeError(`Cannot ${where} as 'durable' ${problem}`);
      }
    }
    const tries = positiveInteger(where, "maxDeliver", maxDeliver) ??
      settings.durableMaxDeliver;
    const remove = registry.subscribe(
      definition,
      handler,
      local as SubscribeOptions,
    ) as Subscribed;
    const id = remove.subscriberId;
    const type = definition.name;
    // Resolves with undefined, or with the failure and what is known of the
    // event (all of it once decoded).
    const deliver = async (
      wire: Wire,
      attempt: number,
    ): Promise<{ error: unknown; event: Message } | undefined> => {
      let event: Message = { kind: "event", type, payload: undefined };
      try {
        event = decodeMessage(definition, wire);
      } catch (error) {
        return { error, event };
      }
      const { context, done } = received(wire, attempt, id, "event", type);
      try {
        await inbound.publish(event, context);
        return undefined;
      } catch (error) {
        return { error, event };
      } finally {
        done();
      }
    };
    let subscription: Subscription;
    try {
      subscription = durable === undefined
        ? transport.subscribe(
          { kind: "event", type },
          group,
          async (wire) => {
            const failed = await deliver(wire, 1);
            if (failed === undefined) return;
            report(
              failed.error,
              failed.event,
              `subscriber ${id} of event "${type}" failed`,
            );
          },
        )
        : transport.subscribeDurable(
          { kind: "event", type },
          durable,
          { ackWaitMs: settings.taskDefaults.ackWaitMs, concurrency: 1 },
          async (delivery) => {
            const stopBeating = heartbeat(
              () => delivery.working(),
              Math.max(10, Math.floor(settings.taskDefaults.ackWaitMs / 3)),
            );
            const failed = await deliver(delivery, delivery.attempt);
            stopBeating();
            if (failed === undefined) {
              delivery.ack();
            } else {
              if (delivery.attempt >= tries) {
                report(
                  failed.error,
                  failed.event,
                  `durable subscriber ${id} of event "${type}" failed ${delivery.attempt} times; the event is dropped`,
                );
                delivery.term();
              } else {
                delivery.nak(
                  Math.min(
                    MAX_RETRY_DELAY_MS,
                    settings.taskDefaults.retryDelayMs *
                      2 ** (delivery.attempt - 1),
                  ),
                );
              }
            }
          },
        );
    } catch (error) {
      remove();
      throw error;
    }
    track(subscription, `subscriber ${id} of event "${type}"`);
    return together(remove, subscription);
  }

  const remoteRegistry: Registry = {
    routes: registry.routes,
    registerQuery: registerOne("query"),
    registerCommand: registerOne("command"),
    registerTask: registerOne("task"),
    subscribe,
  };

  const bus = assembleOver<AsyncMessageBus>(remoteRegistry, outbound, true);

  async function ready(): Promise<void> {
    while (pending.size > 0) await Promise.all([...pending]);
    await transport.flush();
    if (failures.length > 0) {
      const [first] = failures.splice(0);
      throw first;
    }
  }

  async function drain(): Promise<void> {
    if (closed) return;
    closed = true;
    await Promise.allSettled([...subscriptions].map((s) => s.close()));
    subscriptions.clear();
    if (running > 0) {
      await new Promise<void>((resolve) => (idle = resolve));
    }
    log.flush();
    await transport.drain();
  }

  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    return closing ??= (async () => {
      const timeoutMs = settings.closeTimeoutMs;
      if (await within(drain(), timeoutMs)) return;
      console.warn(
        `${factory}: close() stopped waiting after closeTimeoutMs (${timeoutMs} ms) for its handlers in flight and its buffered messages; disconnecting now`,
      );
      closed = true;
      subscriptions.clear();
      log.flush();
      await transport.close();
    })();
  }

  // Defined, not assigned: Object.assign would copy the status of now.
  Object.defineProperty(bus, "status", {
    get: () => transport.status,
    enumerable: true,
  });
  return Object.assign(bus, {
    ready,
    drain,
    close,
    handlersOf: async (definition: AnyDefinition, waitMs = 200) => {
      const kind = definition?.kind as MessageKind;
      const replies = await transport.inquire(
        infoAddress(kind, definition.name),
        { body: new Uint8Array(0), headers: {} },
        waitMs,
      );
      return replies.map(parseInfo).filter((info) => info !== undefined);
    },
    [Symbol.asyncDispose]: close,
  }) as unknown as RemoteMessageBus & { session(id?: string): AsyncSession };
}

function positiveInteger(
  where: string,
  name: string,
  value: unknown,
  minimum = 1,
): number | undefined {
  if (value === undefined) return undefined;
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < minimum ||
    value > 2_147_483_647
  ) {
    throw new RangeError(
      `Cannot ${where} as '${name}' must be an integer from ${minimum} to 2147483647: current value is ${
        typeof value === "number" ? value : typeof value
      }`,
    );
  }
  return value;
}
