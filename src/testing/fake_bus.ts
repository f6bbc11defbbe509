/**
 * Fake buses for unit tests: real buses that record every dispatch, answer
 * queries with results a test gives them, and assert on what a module sent,
 * executed, published and dispatched.
 *
 * @module
 */

import { isDeepStrictEqual } from "node:util";
import { createAsyncBus } from "../core/async_bus.ts";
import { createBus } from "../core/bus.ts";
import { NoHandlerError } from "../core/errors.ts";
import type {
  AsyncMessageBus,
  AsyncMiddleware,
  MessageBus,
  Middleware,
  NextFunction,
  Unregister,
} from "../core/types.ts";
import { aKind, PLURAL } from "../core/_by_kind.ts";
import { describe } from "../core/_describe.ts";
import {
  type AnyMessage,
  type CommandMessage,
  type EventMessage,
  isMessage,
  type Message,
  type MessageKind,
  type QueryDefinition,
  type QueryMessage,
  type TaskMessage,
} from "../core/messages.ts";

/**
 * A failed fake-bus assertion. Its message says what was expected and lists
 * what was recorded.
 *
 * @example Reading a failed assertion
 * ```ts
 * import { defineEvent } from "@monolith/message-bus";
 * import { AssertionError, createFakeBus } from "@monolith/message-bus/testing";
 * import { throws } from "node:assert/strict";
 *
 * const Ticked = defineEvent<number>("Ticked");
 * const bus = createFakeBus();
 * bus.publish(Ticked(1));
 * throws(() => bus.assertPublished(Ticked(2)), (error) =>
 *   error instanceof AssertionError &&
 *   error.message === "Expected Ticked 2 to be published at least once, but it was never published.\n" +
 *       "1 event was published:\n  1. Ticked 1");
 * ```
 */
export class AssertionError extends Error {
  /**
   * Creates a failed assertion.
   *
   * @param message What was expected and what was recorded.
   */
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

/**
 * What an assertion looks for: a definition matches every message of its
 * name; a message matches messages with the same name and an equal payload.
 *
 * @typeParam K The kind of message.
 */
export type Expected<K extends MessageKind> =
  | { readonly kind: K; readonly name: string }
  | Message<K>;

/**
 * Options of the fake buses' assertions.
 */
export interface AssertOptions {
  /**
   * How many matching messages there must be, exactly. Without it, at least
   * one.
   */
  readonly count?: number;
}

/**
 * What a fake bus recorded, in dispatch order, and the assertions on it.
 */
export interface FakeRecorder {
  /** Every query sent, answered or not. */
  readonly sentQueries: readonly QueryMessage[];
  /** Every command executed, handled or not. */
  readonly executedCommands: readonly CommandMessage[];
  /** Every event published, heard or not. */
  readonly publishedEvents: readonly EventMessage[];
  /** Every task dispatched, handled or not. */
  readonly dispatchedTasks: readonly TaskMessage[];
  /**
   * Asserts a query was sent: at least once, or exactly `count` times.
   *
   * @throws {AssertionError} Listing the queries that were sent.
   */
  assertSent(expected: Expected<"query">, options?: AssertOptions): void;
  /**
   * Asserts a command was executed: at least once, or exactly `count` times.
   *
   * @throws {AssertionError} Listing the commands that were executed.
   */
  assertExecuted(expected: Expected<"command">, options?: AssertOptions): void;
  /**
   * Asserts an event was published: at least once, or exactly `count` times.
   *
   * @throws {AssertionError} Listing the events that were published.
   */
  assertPublished(expected: Expected<"event">, options?: AssertOptions): void;
  /**
   * Asserts a task was dispatched: at least once, or exactly `count` times.
   *
   * @throws {AssertionError} Listing the tasks that were dispatched.
   */
  assertDispatched(expected: Expected<"task">, options?: AssertOptions): void;
  /**
   * Asserts no event was published at all.
   *
   * @throws {AssertionError} Listing the events that were published.
   */
  assertNothingPublished(): void;
  /**
   * Forgets what was recorded and every given query result. Registered
   * handlers stay.
   */
  reset(): void;
}

/**
 * A synchronous fake bus; see {@linkcode createFakeBus}.
 */
export interface FakeBus extends MessageBus, FakeRecorder {
  /**
   * Answers a query with `result`, or with `result(query)` when it is a
   * function, instead of its handler. To answer with a function value, wrap
   * it: `() => fn`.
   */
  givenQueryResult<P, R>(
    definition: QueryDefinition<P, R>,
    result: R | ((query: QueryMessage<P, R>) => R),
  ): void;
}

/**
 * An asynchronous fake bus; see {@linkcode createAsyncFakeBus}.
 */
export interface AsyncFakeBus extends AsyncMessageBus, FakeRecorder {
  /**
   * Answers a query with `result`, or with `result(query)` (which may return
   * a promise) when it is a function, instead of its handler.
   */
  givenQueryResult<P, R>(
    definition: QueryDefinition<P, R>,
    result: R | ((query: QueryMessage<P, R>) => R | PromiseLike<R>),
  ): void;
}

const VERB: Readonly<Record<MessageKind, string>> = {
  query: "sent",
  command: "executed",
  event: "published",
  task: "dispatched",
};

const ASSERT_METHOD: Readonly<Record<MessageKind, string>> = {
  query: "assertSent",
  command: "assertExecuted",
  event: "assertPublished",
  task: "assertDispatched",
};

function times(count: number): string {
  return count === 1 ? "once" : `${count} times`;
}

function show(message: Message): string {
  return `${message.type} ${
    Deno.inspect(message.payload, { compact: true, breakLength: Infinity })
  }`;
}

function listing(kind: MessageKind, recorded: readonly Message[]): string {
  const plural = PLURAL[kind];
  const verb = VERB[kind];
  if (recorded.length === 0) return `No ${plural} were ${verb}.`;
  return `${
    recorded.length === 1
      ? `1 ${kind} was`
      : `${recorded.length} ${plural} were`
  } ${verb}:\n${
    recorded.map((message, index) => `  ${index + 1}. ${show(message)}`).join(
      "\n",
    )
  }`;
}

function matcher(
  kind: MessageKind,
  expected: Expected<MessageKind>,
): { test: (message: Message) => boolean; label: string } {
  const method = ASSERT_METHOD[kind];
  if (typeof expected === "function" || !isMessage(expected)) {
    const definition = expected as { kind?: unknown; name?: unknown };
    if (
      typeof expected !== "function" || typeof definition.name !== "string"
    ) {
      throw new TypeError(
        `Cannot ${method}() ${describe(expected)}: expected ${
          aKind(kind)
        } definition or ${aKind(kind)} message`,
      );
    }
    checkKind(kind, definition.kind as MessageKind, definition.name);
    const name = definition.name;
    return {
      test: (message) => message.type === name,
      label: `${kind} "${name}"`,
    };
  }
  checkKind(kind, expected.kind, expected.type);
  return {
    test: (message) =>
      message.type === expected.type &&
      isDeepStrictEqual(message.payload, expected.payload),
    label: show(expected),
  };
}

function checkKind(kind: MessageKind, actual: MessageKind, name: string): void {
  if (actual !== kind) {
    throw new TypeError(
      `Cannot ${ASSERT_METHOD[kind]}() ${actual} "${name}": it checks ${
        PLURAL[kind]
      }; use ${ASSERT_METHOD[actual]}() for ${aKind(actual)}`,
    );
  }
}

type Answer = { readonly answer: unknown };

// The recording, given results and assertions both fake buses share.
function createFakeRecorder() {
  const records: Record<MessageKind, AnyMessage[]> = {
    query: [],
    command: [],
    event: [],
    task: [],
  };
  const answers = new Map<string, Answer>();
  const handled = new Set<string>();

  function assertRecorded(
    kind: MessageKind,
    expected: Expected<MessageKind>,
    options: AssertOptions = {},
  ): void {
    const { count } = options;
    if (count !== undefined && (!Number.isInteger(count) || count < 0)) {
      throw new RangeError(
        `Cannot ${
          ASSERT_METHOD[kind]
        }() as 'count' must be a non-negative integer: current value is ${count}`,
      );
    }
    const { test, label } = matcher(kind, expected);
    const recorded = records[kind];
    const found = recorded.filter(test).length;
    if (count === undefined ? found > 0 : found === count) return;
    const verb = VERB[kind];
    const wanted = count === undefined ? "at least once" : times(count);
    const actual = found === 0 ? `never ${verb}` : `${verb} ${times(found)}`;
    throw new AssertionError(
      `Expected ${label} to be ${verb} ${wanted}, but it was ${actual}.\n${
        listing(kind, recorded)
      }`,
    );
  }

  const recorder: FakeRecorder = {
    sentQueries: records.query as QueryMessage[],
    executedCommands: records.command as CommandMessage[],
    publishedEvents: records.event as EventMessage[],
    dispatchedTasks: records.task as TaskMessage[],
    assertSent: (expected, options) =>
      assertRecorded("query", expected, options),
    assertExecuted: (expected, options) =>
      assertRecorded("command", expected, options),
    assertPublished: (expected, options) =>
      assertRecorded("event", expected, options),
    assertDispatched: (expected, options) =>
      assertRecorded("task", expected, options),
    assertNothingPublished() {
      if (records.event.length === 0) return;
      throw new AssertionError(
        `Expected no events to be published.\n${
          listing("event", records.event)
        }`,
      );
    },
    reset() {
      for (const list of Object.values(records)) list.length = 0;
      answers.clear();
    },
  };

  function givenQueryResult(
    definition: QueryDefinition<unknown, unknown>,
    answer: unknown,
  ): void {
    if (typeof definition !== "function" || definition.kind !== "query") {
      throw new TypeError(
        `Cannot givenQueryResult() for ${
          typeof definition === "function"
            ? `${definition.kind} "${definition.name}"`
            : describe(definition)
        }: it takes a query definition from defineQuery()`,
      );
    }
    answers.set(definition.name, { answer });
  }

  // Tracks which queries, commands and tasks have a handler, so that an
  // unhandled command or task is recorded instead of failing.
  // deno-lint-ignore no-explicit-any
  function tracked<F extends (definition: any, handler: any) => Unregister>(
    register: F,
  ): F {
    return ((definition: { readonly name: string }, handler: unknown) => {
      const unregister = register(definition, handler);
      handled.add(definition.name);
      return () => {
        unregister();
        handled.delete(definition.name);
      };
    }) as F;
  }

  // What the fake does before the real bus: record, then answer from a given
  // result, skip what has no handler, or fall through to the handlers.
  function intercept(
    message: AnyMessage,
  ): Answer | "skip" | "next" {
    records[message.kind].push(message);
    if (message.kind === "event") return "next";
    if (message.kind === "query") {
      const given = answers.get(message.type);
      if (given !== undefined) return given;
      if (!handled.has(message.type)) {
        throw new NoHandlerError(
          "query",
          message.type,
          `give it a result with givenQueryResult(${message.type}, result) or register a handler with registerQuery()`,
        );
      }
      return "next";
    }
    return handled.has(message.type) ? "next" : "skip";
  }

  // The fake bus: the real bus's methods, registrations tracked, plus the
  // recorder and givenQueryResult.
  function expose<B extends MessageBus | AsyncMessageBus>(bus: B) {
    return {
      ...bus,
      ...recorder,
      registerQuery: tracked(bus.registerQuery),
      registerCommand: tracked(bus.registerCommand),
      registerTask: tracked(bus.registerTask),
      givenQueryResult,
    };
  }

  return { intercept, expose };
}

/**
 * Creates a synchronous fake bus for unit tests.
 *
 * @returns A bus that records every dispatch and asserts on it.
 *
 * @example Testing a module that asks and tells
 * ```ts
 * import { defineCommand, defineEvent, defineQuery, type MessageBus } from "@monolith/message-bus";
 * import { createFakeBus } from "@monolith/message-bus/testing";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetCredit = defineQuery<{ userId: string }, number>("GetCredit");
 * const Checkout = defineCommand<{ userId: string; total: number }>("Checkout");
 * const CheckoutRefused = defineEvent<{ userId: string }>("CheckoutRefused");
 * const ChargeCard = defineCommand<{ userId: string; total: number }>("ChargeCard");
 *
 * function checkoutModule(bus: MessageBus): void {
 *   bus.registerCommand(Checkout, ({ payload }) => {
 *     if (bus.send(GetCredit({ userId: payload.userId })) < payload.total) {
 *       bus.publish(CheckoutRefused({ userId: payload.userId }));
 *     } else {
 *       bus.execute(ChargeCard(payload));
 *     }
 *   });
 * }
 *
 * const bus = createFakeBus();
 * checkoutModule(bus);
 * bus.givenQueryResult(GetCredit, 10);
 * bus.execute(Checkout({ userId: "u1", total: 50 }));
 * bus.assertPublished(CheckoutRefused({ userId: "u1" }));
 *
 * bus.reset();
 * bus.givenQueryResult(GetCredit, (q) => (q.payload.userId === "rich" ? 100 : 0));
 * bus.execute(Checkout({ userId: "rich", total: 50 }));
 * bus.assertExecuted(ChargeCard({ userId: "rich", total: 50 }), { count: 1 });
 * bus.assertNothingPublished();
 * deepStrictEqual(bus.sentQueries.length, 1);
 * ```
 */
export function createFakeBus(): FakeBus {
  const fake = createFakeRecorder();
  const middleware: Middleware = <M extends AnyMessage, R>(
    message: M,
    next: NextFunction<M, R>,
  ): R => {
    const step = fake.intercept(message);
    if (step === "next") return next(message);
    if (step === "skip") return undefined as R;
    const { answer } = step;
    return (typeof answer === "function" ? answer(message) : answer) as R;
  };
  return fake.expose(createBus({ middleware: [middleware] })) as FakeBus;
}

/**
 * Creates an asynchronous fake bus for unit tests.
 *
 * @returns A bus that records every dispatch and asserts on it.
 *
 * @example Testing an async module
 * ```ts
 * import { defineEvent, defineQuery, defineTask, type AsyncMessageBus } from "@monolith/message-bus";
 * import { createAsyncFakeBus } from "@monolith/message-bus/testing";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetEmail = defineQuery<{ userId: string }, string>("GetEmail");
 * const UserJoined = defineEvent<{ userId: string }>("UserJoined");
 * const SendEmail = defineTask<{ to: string }>("SendEmail");
 *
 * function welcomeModule(bus: AsyncMessageBus): void {
 *   bus.subscribe(UserJoined, async ({ payload }) => {
 *     const to = await bus.send(GetEmail({ userId: payload.userId }));
 *     await bus.dispatch(SendEmail({ to }));
 *   });
 * }
 *
 * const bus = createAsyncFakeBus();
 * welcomeModule(bus);
 * bus.givenQueryResult(GetEmail, async (q) => await Promise.resolve(`${q.payload.userId}@example.com`));
 * await bus.publish(UserJoined({ userId: "ada" }));
 * bus.assertDispatched(SendEmail({ to: "ada@example.com" }), { count: 1 });
 * deepStrictEqual(bus.publishedEvents.length, 1);
 * ```
 */
export function createAsyncFakeBus(): AsyncFakeBus {
  const fake = createFakeRecorder();
  const middleware: AsyncMiddleware = <M extends AnyMessage, R>(
    message: M,
    next: NextFunction<M, Promise<R>>,
  ): Promise<R> => {
    const step = fake.intercept(message);
    if (step === "next") return next(message);
    if (step === "skip") return Promise.resolve(undefined as R);
    const { answer } = step;
    return Promise.resolve(
      typeof answer === "function" ? answer(message) : answer,
    ) as Promise<R>;
  };
  return fake.expose(
    createAsyncBus({ middleware: [middleware] }),
  ) as AsyncFakeBus;
}
