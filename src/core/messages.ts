/**
 * Message definitions and the message envelope.
 *
 * A definition is a function that builds messages of one kind and one name.
 * A message is `{ kind, type, payload }`: plain data that survives
 * `JSON.stringify`, whose envelope fields cannot be reassigned.
 *
 * @module
 */

import { Envelope } from "./_envelope.ts";

/**
 * The four kinds of message a bus routes.
 */
export type MessageKind = "query" | "command" | "event" | "task";

/**
 * The key under which a query message's type carries its result type. No
 * message has a value under it; {@linkcode ResultOf} reads the type.
 */
export const resultType: unique symbol = Symbol("resultType");

/**
 * A message: the kind, the name it is routed by (`type`) and its payload.
 *
 * @typeParam K The kind of message.
 * @typeParam P The payload type.
 */
export interface Message<K extends MessageKind = MessageKind, P = unknown> {
  /** What the message is: query, command, event or task. */
  readonly kind: K;
  /** The name the message is routed by: its definition's name. */
  readonly type: string;
  /** The data the message carries. */
  readonly payload: P;
}

/**
 * A query: asks exactly one handler for a typed result.
 *
 * @typeParam P The payload type.
 * @typeParam R The result type.
 */
export interface QueryMessage<P = unknown, R = unknown>
  extends Message<"query", P> {
  /** Type-only: the result type. Never present at run time. */
  readonly [resultType]?: R;
}

/**
 * A command: tells exactly one handler to change something. Its handler may
 * answer with a result (say, the id of what it created); by default none.
 *
 * @typeParam P The payload type.
 * @typeParam R The result type.
 */
export interface CommandMessage<P = unknown, R = unknown>
  extends Message<"command", P> {
  /** Type-only: the result type. Never present at run time. */
  readonly [resultType]?: R;
}

/**
 * An event: says something happened; zero or more subscribers hear it.
 *
 * @typeParam P The payload type.
 */
export interface EventMessage<P = unknown> extends Message<"event", P> {}

/**
 * A task: work for exactly one handler, typically slow or deferrable; no
 * answer.
 *
 * @typeParam P The payload type.
 */
export interface TaskMessage<P = unknown> extends Message<"task", P> {}

/**
 * Any message of any kind.
 */
export type AnyMessage =
  | QueryMessage
  | CommandMessage
  | EventMessage
  | TaskMessage;

/**
 * The result type of a query or command message type, `never` for events
 * and tasks.
 *
 * @typeParam M A message type.
 */
export type ResultOf<M> = M extends QueryMessage<unknown, infer R> ? R
  : M extends CommandMessage<unknown, infer R> ? R
  : never;

/**
 * What every definition has: it knows its kind and name, builds messages and
 * recognises them.
 *
 * @typeParam K The kind of message it builds.
 * @typeParam P The payload type.
 * @typeParam M The message type it builds.
 */
export interface Definition<
  K extends MessageKind,
  P,
  M extends Message<K, P>,
> {
  /**
   * Builds a message carrying `payload`, which is optional when the payload
   * type is `void` or `undefined`.
   */
  (...args: [P] extends [void] ? [payload?: P] : [payload: P]): M;
  /** The kind of message this definition builds. */
  readonly kind: K;
  /** The name its messages are routed by (their `type`). */
  readonly name: string;
  /** Whether `value` is a message of this definition (same kind and name). */
  is(value: unknown): value is M;
}

/**
 * Builds queries; see {@linkcode defineQuery}.
 *
 * @typeParam P The payload type.
 * @typeParam R The result type.
 */
export interface QueryDefinition<P = unknown, R = unknown>
  extends Definition<"query", P, QueryMessage<P, R>> {}

/**
 * Builds commands; see {@linkcode defineCommand}.
 *
 * @typeParam P The payload type.
 * @typeParam R The result type.
 */
export interface CommandDefinition<P = unknown, R = unknown>
  extends Definition<"command", P, CommandMessage<P, R>> {}

/**
 * Builds events; see {@linkcode defineEvent}.
 *
 * @typeParam P The payload type.
 */
export interface EventDefinition<P = unknown>
  extends Definition<"event", P, EventMessage<P>> {}

/**
 * Builds tasks; see {@linkcode defineTask}.
 *
 * @typeParam P The payload type.
 */
export interface TaskDefinition<P = unknown>
  extends Definition<"task", P, TaskMessage<P>> {}

/**
 * Any definition of any kind.
 */
export type AnyDefinition =
  // deno-lint-ignore no-explicit-any
  | QueryDefinition<any, any>
  // deno-lint-ignore no-explicit-any
  | CommandDefinition<any>
  // deno-lint-ignore no-explicit-any
  | EventDefinition<any>
  // deno-lint-ignore no-explicit-any
  | TaskDefinition<any>;

const KINDS: ReadonlySet<unknown> = new Set([
  "query",
  "command",
  "event",
  "task",
]);

/**
 * Whether `value` is a message: an object with a known `kind` and a
 * non-empty string `type`. Plain objects parsed from JSON count (a missing
 * `payload`, as JSON leaves an `undefined` one, reads as `undefined`).
 *
 * @param value Anything.
 * @returns `true` when the bus can route `value`.
 *
 * @example Messages from definitions and from JSON
 * ```ts
 * import { defineEvent, isMessage } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const Pinged = defineEvent<number>("Pinged");
 * deepStrictEqual(isMessage(Pinged(1)), true);
 * deepStrictEqual(isMessage(JSON.parse(JSON.stringify(Pinged(1)))), true);
 * deepStrictEqual(isMessage({ type: "Pinged", payload: 1 }), false);
 * ```
 */
export function isMessage(value: unknown): value is AnyMessage {
  if (typeof value !== "object" || value === null) return false;
  const { kind, type } = value as Partial<Message>;
  return KINDS.has(kind) && typeof type === "string" && type !== "";
}

function define<K extends MessageKind, P, M extends Message<K, P>>(
  kind: K,
  name: string,
): Definition<K, P, M> {
  if (typeof name !== "string" || name.trim() === "") {
    throw new TypeError(
      `Cannot define ${kind} as its name must be a non-empty string: current value is ${
        typeof name === "string"
          ? JSON.stringify(name)
          : name === null
          ? "null"
          : typeof name === "object" || typeof name === "function"
          ? `${typeof name === "object" ? "an object" : "a function"}`
          : String(name)
      }`,
    );
  }
  const definition = (payload: P): M =>
    new Envelope(kind, name, payload) as unknown as M;
  Object.defineProperty(definition, "name", { value: name });
  Object.defineProperty(definition, "kind", { value: kind, enumerable: true });
  Object.defineProperty(definition, "is", {
    value: (value: unknown): boolean =>
      isMessage(value) && value.type === name && value.kind === kind,
  });
  return definition as unknown as Definition<K, P, M>;
}

/**
 * Defines a query: a question with exactly one handler and a typed answer.
 *
 * @typeParam P The payload type.
 * @typeParam R The result type the handler returns.
 * @param name The unique name messages are routed by.
 * @returns A function that builds query messages.
 * @throws {TypeError} When `name` is empty or not a string.
 *
 * @example Defining and building a query
 * ```ts
 * import { defineQuery } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetUser = defineQuery<{ userId: string }, { name: string }>("GetUser");
 * const query = GetUser({ userId: "1" });
 * deepStrictEqual([query.kind, query.type, query.payload], ["query", "GetUser", { userId: "1" }]);
 * ```
 */
export function defineQuery<P = void, R = unknown>(
  name: string,
): QueryDefinition<P, R> {
  return define<"query", P, QueryMessage<P, R>>("query", name);
}

/**
 * Defines a command: an instruction with exactly one handler, which may
 * answer with a result (`execute` returns it).
 *
 * @typeParam P The payload type.
 * @typeParam R The result type; none by default.
 * @param name The unique name messages are routed by.
 * @returns A function that builds command messages.
 * @throws {TypeError} When `name` is empty or not a string.
 *
 * @example A command that answers with the id it created
 * ```ts
 * import { createBus, defineCommand } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const CreateOrder = defineCommand<{ items: string[] }, string>("CreateOrder");
 * const bus = createBus();
 * bus.registerCommand(CreateOrder, (c) => `order-${c.payload.items.length}`);
 * const id: string = bus.execute(CreateOrder({ items: ["a"] }));
 * deepStrictEqual(id, "order-1");
 * ```
 */
export function defineCommand<P = void, R = void>(
  name: string,
): CommandDefinition<P, R> {
  return define<"command", P, CommandMessage<P, R>>("command", name);
}

/**
 * Defines an event: a fact that zero or more subscribers hear.
 *
 * @typeParam P The payload type.
 * @param name The unique name messages are routed by.
 * @returns A function that builds event messages.
 * @throws {TypeError} When `name` is empty or not a string.
 *
 * @example Defining and building an event
 * ```ts
 * import { defineEvent } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const OrderCreated = defineEvent<{ orderId: string }>("OrderCreated");
 * deepStrictEqual(OrderCreated({ orderId: "o-1" }).type, "OrderCreated");
 * ```
 */
export function defineEvent<P = void>(name: string): EventDefinition<P> {
  return define<"event", P, EventMessage<P>>("event", name);
}

/**
 * Defines a task: work for exactly one handler, with no answer.
 *
 * @typeParam P The payload type.
 * @param name The unique name messages are routed by.
 * @returns A function that builds task messages.
 * @throws {TypeError} When `name` is empty or not a string.
 *
 * @example Defining and building a task
 * ```ts
 * import { defineTask } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const SendEmail = defineTask<{ to: string }>("SendEmail");
 * deepStrictEqual(SendEmail({ to: "a@b.c" }).payload, { to: "a@b.c" });
 * ```
 */
export function defineTask<P = void>(name: string): TaskDefinition<P> {
  return define<"task", P, TaskMessage<P>>("task", name);
}
