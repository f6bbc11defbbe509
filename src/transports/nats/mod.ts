/**
 * The bus across processes, on NATS: {@linkcode createNatsBus} returns an
 * asynchronous bus with the methods, types and middleware of
 * `createAsyncBus()`, whose messages cross a NATS server, so the same module
 * code runs in one process or in many.
 *
 * - Queries and commands are NATS requests, served through a queue group:
 *   replicas of a module share the load. No server → `NoHandlerError`; past
 *   the deadline → `TimeoutError`; a handler's error comes back as a
 *   `RemoteHandlerError` with its name and message (the library's own errors
 *   as their classes).
 * - Events are published on a subject: every subscriber gets them, one of a
 *   `group`, or, with `durable`, through JetStream, even what was published
 *   while it was down.
 * - Tasks go to a JetStream work queue: `dispatch` resolves once stored,
 *   workers ack, retry with backoff, and dead-letter after `maxDeliver`.
 *
 * Subjects are `<prefix>.<kind>.<type>`. It needs `npm:@nats-io/transport-node`
 * and `npm:@nats-io/jetstream`, which only this entry point imports. See
 * docs/transports.md.
 *
 * @module
 */

import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  type ConnectionStatus,
  createRemoteBus,
  type HandlerInfo,
  type RemoteMessageBus,
  type RemoteSubscribeOptions,
  type TaskDeadLetter,
  type TaskDeadLetterSink,
  type TaskWorkerOptions,
} from "../_remote_bus.ts";
import { type Codec, jsonCodec } from "../_wire.ts";
import { natsTransport, subjectNameProblem } from "./_transport.ts";
import { type Clock, systemClock } from "../../core/clock.ts";
import type {
  AsyncEventHandler,
  AsyncMiddleware,
  AsyncSession,
  AsyncTaskHandler,
  ContextData,
  Middleware,
  Unregister,
} from "../../core/types.ts";
import type {
  EventDefinition,
  Message,
  TaskDefinition,
} from "../../core/messages.ts";

export type {
  Codec,
  ConnectionStatus,
  HandlerInfo,
  RemoteMessageBus,
  RemoteSubscribeOptions,
  TaskDeadLetter,
  TaskDeadLetterSink,
  TaskWorkerOptions,
};
export { jsonCodec };

/**
 * A connection made by `connect()` of `@nats-io/transport-node` (its
 * `NatsConnection`), described here by the part the bus checks.
 */
export interface NatsConnectionLike {
  /** Whether the connection is closed. */
  isClosed(): boolean;
  /** Resolves when the connection closes. */
  closed(): Promise<void | Error>;
}

/** Options of {@linkcode createNatsBus}. */
export interface NatsBusOptions {
  /**
   * The NATS servers to connect to (`"127.0.0.1:4222"`, or several for a
   * cluster). The bus owns that connection: `drain()` and `close()` end it.
   * Give this or `connection`.
   */
  readonly servers?: string | readonly string[];
  /**
   * A connection made by the application (`connect()` of
   * `@nats-io/transport-node`). The bus never closes it: `drain()` and
   * `close()` end only the bus's subscriptions.
   */
  readonly connection?: NatsConnectionLike;
  /** The connection's name, as the server's monitoring shows it. */
  readonly name?: string;
  /**
   * The first token of every subject (and of the JetStream streams' names):
   * buses with different prefixes on one server do not see each other.
   * Letters, digits, '-' and '_'.
   *
   * @default {"mb"}
   */
  readonly prefix?: string;
  /**
   * How long a query, command or task dispatch waits when it has no
   * deadline of its own (from the `timeout` middleware or an outer
   * dispatch), in milliseconds.
   *
   * @default {5000}
   */
  readonly queryTimeoutMs?: number;
  /**
   * How payloads and results are turned into bytes. The default,
   * `jsonCodec`, refuses what JSON would not give back as it was (a bigint,
   * a `Date`, a cycle...) with a `TypeError` naming where it is.
   *
   * @default {jsonCodec}
   */
  readonly codec?: Codec;
  /**
   * Middleware around what this process dispatches (`send`, `execute`,
   * `publish`, `dispatch`), the first being the outermost: `timeout`,
   * `retry`, `recorder` and the rest work as on `createAsyncBus()`.
   *
   * @default {[]}
   */
  readonly middleware?: readonly (AsyncMiddleware | Middleware)[];
  /**
   * Middleware around what the server delivers to this process's handlers
   * and subscribers (`deadLetter` for its events' failures, `metrics` of its
   * handlers).
   *
   * @default {[]}
   */
  readonly handlerMiddleware?: readonly (AsyncMiddleware | Middleware)[];
  /**
   * The keys of `context.data` that travel with a dispatch to the process
   * that handles it (a tenant, a user id); their values must be JSON. Other
   * data (a database transaction) stays in its process.
   *
   * @default {[]}
   */
  readonly propagate?: readonly (keyof ContextData & string)[];
  /**
   * Where this process's task workers put the tasks they gave up on (after
   * `maxDeliver` tries): any dead letter store of
   * `@monolith/message-bus/resilience`. Without one such tasks are reported
   * on the console (or to `onError`) and dropped.
   */
  readonly deadLetters?: TaskDeadLetterSink;
  /**
   * Told of failures no caller hears: an error of one of this process's
   * event subscribers (also when a `deadLetter` in `handlerMiddleware` kept
   * the event), a durable event given up after `maxDeliver` tries, a task
   * dropped for want of `deadLetters`. By default they are reported on the
   * console, at most one line per 10 s.
   */
  readonly onError?: (error: unknown, message: Message) => void;
  /** Told each time the connection's state changes. */
  readonly onStatus?: (status: ConnectionStatus) => void;
  /**
   * The defaults of `registerTask()`'s options for this process's workers.
   */
  readonly taskDefaults?: TaskWorkerOptions;
  /**
   * How long the task stream remembers a dispatch id, so that the same task
   * dispatched twice (an outbox that sends again) is stored once.
   *
   * @default {120000}
   */
  readonly dedupeWindowMs?: number;
  /**
   * How long the event stream keeps an event that a durable subscriber has
   * not taken yet.
   *
   * @default {604800000 (7 days)}
   */
  readonly eventRetentionMs?: number;
  /**
   * How long `close()` waits for this process's handlers in flight and for
   * what is buffered to be sent, before it disconnects anyway.
   *
   * @default {5000}
   */
  readonly closeTimeoutMs?: number;
  /**
   * The clock of deadlines and retry delays; a fake one in tests.
   *
   * @default {systemClock}
   */
  readonly clock?: Clock;
}

/**
 * The registration methods of a distributed bus that take its options.
 * Everything else is the asynchronous bus's.
 */
export interface NatsRegistrations {
  /**
   * Adds a subscriber to an event, in this process: plain (every subscriber
   * gets each event), in a queue `group` (one per group), or `durable`
   * (through JetStream, including what was published while it was away).
   *
   * @returns A function that removes the subscription (a durable one stays
   * on the server, for the next process that subscribes with its name).
   */
  subscribe<P>(
    definition: EventDefinition<P>,
    handler: AsyncEventHandler<P>,
    options?: RemoteSubscribeOptions<P>,
  ): Unregister;
  /**
   * Makes this process a worker for a task type: it takes tasks from the
   * JetStream work queue, acks each one its handler finished, and retries a
   * failed one with backoff up to `maxDeliver` tries in all.
   *
   * @returns A function that stops this worker (the queue stays).
   */
  registerTask<P>(
    definition: TaskDefinition<P>,
    handler: AsyncTaskHandler<P>,
    options?: TaskWorkerOptions,
  ): Unregister;
}

/** A session of a {@linkcode NatsMessageBus}. */
export interface NatsSession
  extends Omit<AsyncSession, "subscribe" | "registerTask">, NatsRegistrations {}

/** The bus {@linkcode createNatsBus} returns. */
export interface NatsMessageBus
  extends
    Omit<RemoteMessageBus, "subscribe" | "registerTask" | "session">,
    NatsRegistrations {
  /** Opens a {@linkcode NatsSession}, with the id given or a new one. */
  session(id?: string): NatsSession;
}

const DEFAULT_TASK: Required<TaskWorkerOptions> = {
  ackWaitMs: 30_000,
  maxDeliver: 5,
  concurrency: 1,
  retryDelayMs: 1_000,
};

/**
 * Connects to NATS and returns a bus whose dispatches cross it. Any number
 * of processes may create one with the same servers and prefix; each may
 * register handlers and dispatch.
 *
 * @param options The servers (or a connection) and the bus's settings.
 * @returns The bus, once connected.
 * @throws {TypeError} When an option is of the wrong type, or neither
 * `servers` nor `connection` is given.
 * @throws {RangeError} When a number option is out of range.
 *
 * @example A query answered across a local nats-server
 * ```ts
 * import { defineQuery } from "@monolith/message-bus";
 * import { createNatsBus } from "@monolith/message-bus/nats";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetPrice = defineQuery<{ sku: string }, number>("catalog.GetPrice");
 * // Two buses, as two processes would have (prefix: apart from other users).
 * const servers = "127.0.0.1:4222";
 * await using catalog = await createNatsBus({ servers, prefix: "example" });
 * await using shop = await createNatsBus({ servers, prefix: "example" });
 * catalog.registerQuery(GetPrice, (q) => q.payload.sku.length * 10);
 * await catalog.ready();
 * deepStrictEqual(await shop.send(GetPrice({ sku: "book" })), 40);
 * ```
 */
export async function createNatsBus(
  options: NatsBusOptions,
): Promise<NatsMessageBus> {
  const factory = "createNatsBus";
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot ${factory}() as its options must be an object ({ servers } or { connection }): current value is ${
        options === null ? "null" : typeof options
      }`,
    );
  }
  const prefix = options.prefix ?? "mb";
  if (typeof prefix !== "string" || !/^[A-Za-z0-9_-]+$/.test(prefix)) {
    throw new TypeError(
      `Cannot ${factory}() as 'prefix' must be letters, digits, '-' and '_': current value is ${
        JSON.stringify(prefix)
      }`,
    );
  }
  const settings = {
    queryTimeoutMs: milliseconds(
      factory,
      "queryTimeoutMs",
      options.queryTimeoutMs,
      5_000,
    ),
    dedupeWindowMs: milliseconds(
      factory,
      "dedupeWindowMs",
      options.dedupeWindowMs,
      120_000,
    ),
    eventRetentionMs: milliseconds(
      factory,
      "eventRetentionMs",
      options.eventRetentionMs,
      7 * 24 * 3_600_000,
      Number.MAX_SAFE_INTEGER / 1_000_000,
    ),
    closeTimeoutMs: milliseconds(
      factory,
      "closeTimeoutMs",
      options.closeTimeoutMs,
      5_000,
    ),
  };
  const middleware = functions(factory, "middleware", options.middleware);
  const handlerMiddleware = functions(
    factory,
    "handlerMiddleware",
    options.handlerMiddleware,
  );
  const codec = options.codec ?? jsonCodec;
  if (
    typeof codec?.encode !== "function" || typeof codec?.decode !== "function"
  ) {
    throw new TypeError(
      `Cannot ${factory}() as 'codec' must have encode(value) and decode(bytes) methods`,
    );
  }
  const propagate = options.propagate ?? [];
  if (
    !Array.isArray(propagate) ||
    propagate.some((key) => typeof key !== "string" || key === "")
  ) {
    throw new TypeError(
      `Cannot ${factory}() as 'propagate' must be an array of context data keys (strings)`,
    );
  }
  for (
    const [name, value] of [["onError", options.onError], [
      "onStatus",
      options.onStatus,
    ]] as const
  ) {
    if (value !== undefined && typeof value !== "function") {
      throw new TypeError(
        `Cannot ${factory}() as '${name}' must be a function: current value is ${typeof value}`,
      );
    }
  }
  const deadLetters = options.deadLetters;
  if (deadLetters !== undefined && typeof deadLetters?.add !== "function") {
    throw new TypeError(
      `Cannot ${factory}() as 'deadLetters' must be a dead letter store (with add(letter))`,
    );
  }
  const taskDefaults = { ...DEFAULT_TASK };
  if (options.taskDefaults !== undefined) {
    const given = options.taskDefaults as Record<string, unknown>;
    for (
      const key of Object.keys(DEFAULT_TASK) as (keyof TaskWorkerOptions)[]
    ) {
      if (given[key] === undefined) continue;
      taskDefaults[key] = milliseconds(
        factory,
        `taskDefaults.${key}`,
        given[key],
        DEFAULT_TASK[key],
        2_147_483_647,
        key === "retryDelayMs" ? 0 : 1,
      );
    }
  }
  const clock = options.clock ?? systemClock;
  const given = options.connection;
  if (
    given !== undefined &&
    typeof (given as Partial<NatsConnection>)?.request !== "function"
  ) {
    throw new TypeError(
      `Cannot ${factory}() as 'connection' must be a NatsConnection (from connect() of @nats-io/transport-node)`,
    );
  }
  let connection = given as NatsConnection | undefined;
  const owned = connection === undefined;
  if (connection === undefined) {
    const servers = options.servers;
    if (
      servers === undefined ||
      !(typeof servers === "string" ||
        (Array.isArray(servers) &&
          servers.every((server) => typeof server === "string")))
    ) {
      throw new TypeError(
        `Cannot ${factory}() as it needs 'servers' (a string or an array of them, like "127.0.0.1:4222") or 'connection' (a NatsConnection)`,
      );
    }
    connection = await connect({
      servers: servers as string | string[],
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      // The client's errors would carry the caller's stack, captured for
      // every operation; the bus's own errors say what failed.
      noAsyncTraces: true,
      ...(options.name === undefined ? {} : { name: options.name }),
    });
  }
  const transport = natsTransport({
    connection,
    owned,
    prefix,
    dedupeWindowMs: settings.dedupeWindowMs,
    eventRetentionMs: settings.eventRetentionMs,
    onStatus: options.onStatus,
  });
  return createRemoteBus(transport, {
    factory,
    middleware,
    handlerMiddleware,
    codec,
    queryTimeoutMs: settings.queryTimeoutMs,
    propagate,
    deadLetters,
    onError: options.onError,
    clock,
    taskDefaults,
    durableMaxDeliver: taskDefaults.maxDeliver,
    closeTimeoutMs: settings.closeTimeoutMs,
  }) as unknown as NatsMessageBus;
}

/**
 * Why `type` cannot be a message name on a NATS bus (the character and its
 * place), or `undefined` when it can. Names hold letters, digits, '-', '_'
 * and ':', with '.' between words.
 *
 * @example Checking names
 * ```ts
 * import { natsNameProblem } from "@monolith/message-bus/nats";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * deepStrictEqual(natsNameProblem("orders.PlaceOrder"), undefined);
 * deepStrictEqual(
 *   natsNameProblem("orders.Place Order"),
 *   "its name has a space at index 12, which this bus does not put in a NATS subject: use letters, digits, '-', '_' and ':', with '.' between words",
 * );
 * ```
 */
export function natsNameProblem(type: string): string | undefined {
  return subjectNameProblem(type);
}

function milliseconds(
  factory: string,
  name: string,
  value: unknown,
  fallback: number,
  maximum = 2_147_483_647,
  minimum = 1,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < minimum ||
    value > maximum
  ) {
    throw new RangeError(
      `Cannot ${factory}() as '${name}' must be an integer from ${minimum} to ${maximum}: current value is ${
        typeof value === "number" ? value : typeof value
      }`,
    );
  }
  return value;
}

function functions(
  factory: string,
  name: string,
  value: unknown,
): readonly AsyncMiddleware[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new TypeError(
      `Cannot ${factory}() as '${name}' must be an array of middleware functions: current value is ${typeof value}`,
    );
  }
  value.forEach((entry, index) => {
    if (typeof entry !== "function") {
      throw new TypeError(
        `Cannot ${factory}() as '${name}[${index}]' must be a function (message, next, context) => result: current value is ${
          entry === null ? "null" : typeof entry
        }`,
      );
    }
  });
  return value as AsyncMiddleware[];
}
