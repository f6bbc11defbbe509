/**
 * Fake buses for unit tests: real buses that record every dispatch, answer
 * queries and commands with results a test gives them, and assert on what a
 * module sent, executed, published and dispatched.
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
  AsyncSession,
  MessageBus,
  Middleware,
  NextFunction,
  Session,
  Unregister,
} from "../core/types.ts";
import { aKind, DEFINE_FUNCTION, PLURAL } from "../core/_by_kind.ts";
import { describe } from "../core/_describe.ts";
import {
  type AnyMessage,
  type CommandDefinition,
  type CommandMessage,
  type EventDefinition,
  type EventMessage,
  isMessage,
  type Message,
  type MessageKind,
  type QueryDefinition,
  type QueryMessage,
  type TaskDefinition,
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
 *   error.message === "Expected Ticked 2 to be published once, but it was never published.\n" +
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
 * Options of the fake buses' assertions: how many matching messages there
 * must be. Without options, exactly one. `count` and `atLeast` exclude each
 * other.
 */
export type AssertOptions =
  | {
    /**
     * How many matching messages there must be, exactly; 0 asserts there is
     * none.
     *
     * @default {1}
     */
    readonly count?: number;
    /** Excluded by `count`. */
    readonly atLeast?: never;
  }
  | {
    /** The fewest matching messages there must be: a positive integer. */
    readonly atLeast: number;
    /** Excluded by `atLeast`. */
    readonly count?: never;
  };

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
   * Asserts a query was sent exactly once, or as `options` say.
   *
   * @throws {AssertionError} Listing the queries that were sent.
   */
  assertSent(expected: Expected<"query">, options?: AssertOptions): void;
  /**
   * Asserts a command was executed exactly once, or as `options` say.
   *
   * @throws {AssertionError} Listing the commands that were executed.
   */
  assertExecuted(expected: Expected<"command">, options?: AssertOptions): void;
  /**
   * Asserts an event was published exactly once, or as `options` say.
   *
   * @throws {AssertionError} Listing the events that were published.
   */
  assertPublished(expected: Expected<"event">, options?: AssertOptions): void;
  /**
   * Asserts a task was dispatched exactly once, or as `options` say.
   *
   * @throws {AssertionError} Listing the tasks that were dispatched.
   */
  assertDispatched(expected: Expected<"task">, options?: AssertOptions): void;
  /**
   * Asserts no query was sent at all.
   *
   * @throws {AssertionError} Listing the queries that were sent.
   */
  assertNothingSent(): void;
  /**
   * Asserts no command was executed at all.
   *
   * @throws {AssertionError} Listing the commands that were executed.
   */
  assertNothingExecuted(): void;
  /**
   * Asserts no event was published at all.
   *
   * @throws {AssertionError} Listing the events that were published.
   */
  assertNothingPublished(): void;
  /**
   * Asserts no task was dispatched at all.
   *
   * @throws {AssertionError} Listing the tasks that were dispatched.
   */
  assertNothingDispatched(): void;
  /** The queries of one definition that were sent, in order. */
  sent<P, R>(definition: QueryDefinition<P, R>): QueryMessage<P, R>[];
  /** The commands of one definition that were executed, in order. */
  executed<P, R>(definition: CommandDefinition<P, R>): CommandMessage<P, R>[];
  /** The events of one definition that were published, in order. */
  published<P>(definition: EventDefinition<P>): EventMessage<P>[];
  /** The tasks of one definition that were dispatched, in order. */
  dispatched<P>(definition: TaskDefinition<P>): TaskMessage<P>[];
  /**
   * Forgets what was recorded and every given query and command result.
   * Registered handlers stay.
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
  /**
   * Answers a command with `result`, or with `result(command)` when it is a
   * function, instead of its handler; the command is still recorded. To
   * answer with a function value, wrap it: `() => fn`.
   */
  givenCommandResult<P, R>(
    definition: CommandDefinition<P, R>,
    result: R | ((command: CommandMessage<P, R>) => R),
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
  /**
   * Answers a command with `result`, or with `result(command)` (which may
   * return a promise) when it is a function, instead of its handler; the
   * command is still recorded.
   */
  givenCommandResult<P, R>(
    definition: CommandDefinition<P, R>,
    result: R | ((command: CommandMessage<P, R>) => R | PromiseLike<R>),
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

// The reading methods are named after the verb: sent(), executed(), ...
const READ_METHOD = VERB;

const GIVEN_METHOD: Readonly<Record<MessageKind, string | undefined>> = {
  query: "givenQueryResult",
  command: "givenCommandResult",
  event: undefined,
  task: undefined,
};

function times(count: number): string {
  return count === 1 ? "once" : `${count} times`;
}

function inspect(value: unknown): string {
  return Deno.inspect(value, { compact: true, breakLength: Infinity });
}

function show(message: Message): string {
  return `${message.type} ${inspect(message.payload)}`;
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

type AnyDefinitionLike = { readonly kind: MessageKind; readonly name: string };

// A definition from define*(): a function that knows its kind and name.
function isDefinition(value: unknown): value is AnyDefinitionLike {
  if (typeof value !== "function") return false;
  const { kind, name } = value as { kind?: unknown; name?: unknown };
  return typeof kind === "string" && Object.hasOwn(VERB, kind) &&
    typeof name === "string";
}

function describeArgument(value: unknown): string {
  return isDefinition(value)
    ? `${value.kind} "${value.name}"`
    : describe(value);
}

function matcher(
  kind: MessageKind,
  expected: Expected<MessageKind>,
): { test: (message: Message) => boolean; label: string } {
  if (isDefinition(expected)) {
    checkKind(kind, expected.kind, expected.name);
    const name = expected.name;
    return {
      test: (message) => message.type === name,
      label: `${kind} "${name}"`,
    };
  }
  if (typeof expected === "function" || !isMessage(expected)) {
    throw new TypeError(
      `Cannot ${ASSERT_METHOD[kind]}() ${describe(expected)}: expected ${
        aKind(kind)
      } definition or ${aKind(kind)} message`,
    );
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

// How many matching messages an assertion wants: exactly `n`, or at least.
interface Wanted {
  readonly n: number;
  readonly exact: boolean;
}

const EXACTLY_ONCE: Wanted = { n: 1, exact: true };

function wanted(kind: MessageKind, options: unknown): Wanted {
  const method = ASSERT_METHOD[kind];
  if (options === undefined) return EXACTLY_ONCE;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot ${method}() as its options must be an object such as { count: 2 }: current value is ${
        describe(options)
      }`,
    );
  }
  // A misspelt option would silently mean "exactly once".
  for (const key of Object.keys(options)) {
    if (key !== "count" && key !== "atLeast") {
      throw new TypeError(
        `Cannot ${method}() with option '${key}': it takes 'count' or 'atLeast'`,
      );
    }
  }
  const { count, atLeast } = options as { count?: unknown; atLeast?: unknown };
  if (count !== undefined && atLeast !== undefined) {
    throw new TypeError(
      `Cannot ${method}() with both 'count' and 'atLeast': give one`,
    );
  }
  if (atLeast !== undefined) {
    // At least 0 would assert nothing.
    if (!Number.isInteger(atLeast) || (atLeast as number) < 1) {
      throw new RangeError(
        `Cannot ${method}() as 'atLeast' must be a positive integer: current value is ${
          inspect(atLeast)
        }`,
      );
    }
    return { n: atLeast as number, exact: false };
  }
  if (count === undefined) return EXACTLY_ONCE;
  if (!Number.isInteger(count) || (count as number) < 0) {
    throw new RangeError(
      `Cannot ${method}() as 'count' must be a non-negative integer: current value is ${
        inspect(count)
      }`,
    );
  }
  return { n: count as number, exact: true };
}

type Answer = { readonly answer: unknown };
type Answerable = "query" | "command";

// The recording, given results and assertions both fake buses share.
function createFakeRecorder() {
  const records: Record<MessageKind, AnyMessage[]> = {
    query: [],
    command: [],
    event: [],
    task: [],
  };
  const answers: Record<Answerable, Map<string, Answer>> = {
    query: new Map(),
    command: new Map(),
  };
  // Names with a handler, per kind: like the real bus, a query and a task may
  // share a name.
  const handled: Record<MessageKind, Set<string>> = {
    query: new Set(),
    command: new Set(),
    event: new Set(),
    task: new Set(),
  };

  function assertRecorded(
    kind: MessageKind,
    expected: Expected<MessageKind>,
    options?: AssertOptions,
  ): void {
    const { n, exact } = wanted(kind, options);
    const { test, label } = matcher(kind, expected);
    const recorded = records[kind];
    const found = recorded.filter(test).length;
    if (exact ? found === n : found >= n) return;
    const verb = VERB[kind];
    const actual = found === 0 ? `never ${verb}` : `${verb} ${times(found)}`;
    throw new AssertionError(
      `Expected ${label} to be ${verb} ${exact ? "" : "at least "}${
        times(n)
      }, but it was ${actual}.\n${listing(kind, recorded)}`,
    );
  }

  function assertNothing(kind: MessageKind): void {
    const recorded = records[kind];
    if (recorded.length === 0) return;
    throw new AssertionError(
      `Expected no ${PLURAL[kind]} to be ${VERB[kind]}.\n${
        listing(kind, recorded)
      }`,
    );
  }

  function read(kind: MessageKind, definition: unknown): AnyMessage[] {
    const method = READ_METHOD[kind];
    if (!isDefinition(definition)) {
      throw new TypeError(
        `Cannot ${method}() ${
          isMessage(definition)
            ? `a message (${describe(definition)})`
            : describe(definition)
        }: it takes ${aKind(kind)} definition from ${DEFINE_FUNCTION[kind]}()`,
      );
    }
    if (definition.kind !== kind) {
      throw new TypeError(
        `Cannot ${method}() ${definition.kind} "${definition.name}": it reads ${
          PLURAL[kind]
        }; use ${READ_METHOD[definition.kind]}() for ${aKind(definition.kind)}`,
      );
    }
    const name = definition.name;
    return records[kind].filter((message) => message.type === name);
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
    assertNothingSent: () => assertNothing("query"),
    assertNothingExecuted: () => assertNothing("command"),
    assertNothingPublished: () => assertNothing("event"),
    assertNothingDispatched: () => assertNothing("task"),
    sent: <P, R>(definition: QueryDefinition<P, R>) =>
      read("query", definition) as QueryMessage<P, R>[],
    executed: <P, R>(definition: CommandDefinition<P, R>) =>
      read("command", definition) as CommandMessage<P, R>[],
    published: <P>(definition: EventDefinition<P>) =>
      read("event", definition) as EventMessage<P>[],
    dispatched: <P>(definition: TaskDefinition<P>) =>
      read("task", definition) as TaskMessage<P>[],
    reset() {
      for (const list of Object.values(records)) list.length = 0;
      answers.query.clear();
      answers.command.clear();
    },
  };

  function given(kind: Answerable, definition: unknown, answer: unknown): void {
    if (!isDefinition(definition) || definition.kind !== kind) {
      const other = isDefinition(definition)
        ? GIVEN_METHOD[definition.kind]
        : undefined;
      throw new TypeError(
        `Cannot ${GIVEN_METHOD[kind]}() for ${
          describeArgument(definition)
        }: it takes ${aKind(kind)} definition from ${DEFINE_FUNCTION[kind]}()${
          other === undefined || !isDefinition(definition)
            ? ""
            : `; use ${other}() for ${aKind(definition.kind)}`
        }`,
      );
    }
    answers[kind].set(definition.name, { answer });
  }

  // Tracks which queries, commands and tasks have a handler, so that an
  // unhandled command or task is recorded instead of failing.
  function tracked<
    // deno-lint-ignore no-explicit-any
    F extends (definition: any, handler: any) => Unregister,
  >(
    kind: MessageKind,
    register: F,
  ): F {
    return ((definition: { readonly name: string }, handler: unknown) => {
      const unregister = register(definition, handler);
      handled[kind].add(definition.name);
      let registered = true;
      return () => {
        unregister();
        // A second call must not forget a handler registered since.
        if (!registered) return;
        registered = false;
        handled[kind].delete(definition.name);
      };
    }) as F;
  }

  // What the fake does before the real bus: record, then answer from a given
  // result, skip what has no handler, or fall through to the handlers.
  function intercept(
    message: AnyMessage,
  ): Answer | "skip" | "next" {
    const { kind, type } = message;
    records[kind].push(message);
    if (kind === "event") return "next";
    if (kind === "query" || kind === "command") {
      const given = answers[kind].get(type);
      if (given !== undefined) return given;
    }
    if (handled[kind].has(type)) return "next";
    if (kind === "query") {
      throw new NoHandlerError(
        "query",
        type,
        `give it a result with givenQueryResult(${type}, result) or register a handler with registerQuery()`,
      );
    }
    return "skip";
  }

  // The fake bus: the real bus's methods, registrations tracked, plus the
  // recorder and the given results.
  function expose<B extends MessageBus | AsyncMessageBus>(bus: B) {
    const fake = {
      ...bus,
      ...recorder,
      registerQuery: tracked("query", bus.registerQuery),
      registerCommand: tracked("command", bus.registerCommand),
      registerTask: tracked("task", bus.registerTask),
      session: (id?: string) => fakeSession(bus.session(id)),
      givenQueryResult: (definition: unknown, answer: unknown) =>
        given("query", definition, answer),
      givenCommandResult: (definition: unknown, answer: unknown) =>
        given("command", definition, answer),
    };
    return Object.defineProperty(fake, "activeSessions", {
      get: () => bus.activeSessions,
      enumerable: true,
    });
  }

  // A session of the fake: what it registers is tracked like the fake's own,
  // and forgotten when it closes.
  function fakeSession<S extends Session | AsyncSession>(session: S): S {
    const removers: Unregister[] = [];
    // deno-lint-ignore no-explicit-any
    type Register = (definition: any, handler: any) => Unregister;
    const keep = (kind: MessageKind, register: Register) =>
    (
      definition: never,
      handler: never,
    ) => {
      const remove = tracked(kind, register)(definition, handler);
      removers.push(remove);
      return remove;
    };
    const forget = () => {
      for (const remove of removers.splice(0)) remove();
    };
    const close = () => {
      const closing = session.close();
      if (closing instanceof Promise) return closing.then(forget);
      forget();
      return closing;
    };
    return {
      ...session,
      registerQuery: keep("query", session.registerQuery as Register),
      registerCommand: keep("command", session.registerCommand as Register),
      registerTask: keep("task", session.registerTask as Register),
      close,
      [Symbol.dispose]: close,
      [Symbol.asyncDispose]: close,
    } as unknown as S;
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
 * const ChargeCard = defineCommand<{ userId: string; total: number }, string>("ChargeCard");
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
 * bus.assertPublished(CheckoutRefused({ userId: "u1" })); // exactly once
 * bus.assertExecuted(ChargeCard, { count: 0 });
 *
 * bus.reset();
 * bus.givenQueryResult(GetCredit, (q) => (q.payload.userId === "rich" ? 100 : 0));
 * bus.givenCommandResult(ChargeCard, "charge-1");
 * bus.execute(Checkout({ userId: "rich", total: 50 }));
 * bus.execute(Checkout({ userId: "rich", total: 50 }));
 * bus.assertExecuted(ChargeCard({ userId: "rich", total: 50 }), { count: 2 });
 * bus.assertSent(GetCredit, { atLeast: 1 });
 * bus.assertNothingPublished();
 * deepStrictEqual(bus.sent(GetCredit).map((q) => q.payload.userId), ["rich", "rich"]);
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
 * import { defineCommand, defineEvent, defineQuery, type AsyncMessageBus } from "@monolith/message-bus";
 * import { createAsyncFakeBus } from "@monolith/message-bus/testing";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetEmail = defineQuery<{ userId: string }, string>("GetEmail");
 * const UserJoined = defineEvent<{ userId: string }>("UserJoined");
 * const SendEmail = defineCommand<{ to: string }, { messageId: string }>("SendEmail");
 * const EmailSent = defineEvent<{ messageId: string }>("EmailSent");
 *
 * function welcomeModule(bus: AsyncMessageBus): void {
 *   bus.subscribe(UserJoined, async ({ payload }) => {
 *     const to = await bus.send(GetEmail({ userId: payload.userId }));
 *     const { messageId } = await bus.execute(SendEmail({ to }));
 *     await bus.publish(EmailSent({ messageId }));
 *   });
 * }
 *
 * const bus = createAsyncFakeBus();
 * welcomeModule(bus);
 * bus.givenQueryResult(GetEmail, async (q) => await Promise.resolve(`${q.payload.userId}@example.com`));
 * bus.givenCommandResult(SendEmail, (c) => ({ messageId: `m-${c.payload.to}` }));
 * await bus.publish(UserJoined({ userId: "ada" }));
 * bus.assertExecuted(SendEmail({ to: "ada@example.com" }));
 * deepStrictEqual(bus.published(EmailSent).map((e) => e.payload), [{ messageId: "m-ada@example.com" }]);
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
