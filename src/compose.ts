/**
 * Middleware types. A middleware is a pure function `(message, next) =>
 * result` that wraps every dispatch of a bus; the bus composes its list once
 * when it is built, the first middleware being the outermost.
 *
 * @module
 */

import type {
  AsyncDispatchContext,
  BaseContext,
  ContextChange,
} from "./interfaces.ts";
import type { AnyMessage } from "./messages.ts";

/**
 * Passes the message on to the next middleware, or to the handlers after the
 * last one. Call it at most once per dispatch. A `change` (a signal, a
 * deadline) applies to the rest of the dispatch and every nested dispatch.
 *
 * @typeParam M The message type.
 * @typeParam R What the dispatch returns.
 *
 * @example
 * ```ts
 * import type { AnyMessage, Next } from "@monolith/message-bus";
 *
 * const next: Next<AnyMessage, number> = () => 1;
 * ```
 */
export type Next<M extends AnyMessage = AnyMessage, R = unknown> = (
  message: M,
  change?: ContextChange,
) => R;

/**
 * Wraps every dispatch of a synchronous bus. It is generic over the message
 * and the result, so it must hand back what `next` returned (or throw): a
 * middleware that changes the result type does not compile. Read
 * `message.kind` to tell `send`, `execute`, `publish` and `dispatch` apart;
 * `context` has the dispatch's signal and deadline.
 *
 * @example A middleware that counts dispatches by kind
 * ```ts
 * import { createBus, defineQuery, type Middleware } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const counts = { query: 0, command: 0, event: 0, task: 0 };
 * const count: Middleware = (message, next) => {
 *   counts[message.kind]++;
 *   return next(message);
 * };
 * const Ping = defineQuery<void, string>("Ping");
 * const bus = createBus({ middleware: [count] });
 * bus.registerQuery(Ping, () => "pong");
 * deepStrictEqual(bus.send(Ping()), "pong");
 * deepStrictEqual(counts.query, 1);
 * ```
 */
export type Middleware = <M extends AnyMessage, R>(
  message: M,
  next: Next<M, R>,
  context: BaseContext,
) => R;

/**
 * Wraps every dispatch of an asynchronous bus: `next` returns a promise and so
 * must the middleware, of the same result. A {@linkcode Middleware} that only
 * passes `next`'s value through fits here too.
 *
 * @example Timing every dispatch
 * ```ts
 * import { createAsyncBus, defineCommand, type AsyncMiddleware } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const timings: string[] = [];
 * const time: AsyncMiddleware = async (message, next) => {
 *   const start = performance.now();
 *   try {
 *     return await next(message);
 *   } finally {
 *     timings.push(`${message.type} ${performance.now() - start}ms`);
 *   }
 * };
 * const Save = defineCommand<string>("Save");
 * const bus = createAsyncBus({ middleware: [time] });
 * bus.registerCommand(Save, async () => {});
 * await bus.execute(Save("x"));
 * deepStrictEqual(timings.length, 1);
 * ```
 */
export type AsyncMiddleware = <M extends AnyMessage, R>(
  message: M,
  next: Next<M, Promise<R>>,
  context: AsyncDispatchContext,
) => Promise<R>;
