/**
 * Marking middleware that works only on the asynchronous bus.
 *
 * @module
 */

import type { AsyncMiddleware } from "./types.ts";

// A registered symbol, so that two copies of this package agree on it.
const ASYNC_ONLY: unique symbol = Symbol.for(
  "@monolith/message-bus/async-only",
) as never;

/**
 * Marks `middleware` as one that works only on the asynchronous bus (it
 * returns promises, waits, or calls `next` again), so that `createBus()`
 * refuses it with a `TypeError` that says to use `createAsyncBus()` instead
 * of returning promises to synchronous callers. `timeout`, `retry` and
 * `concurrencyLimit` are marked. An `async function` middleware needs no
 * mark: `createBus()` refuses it anyway.
 *
 * @param middleware An asynchronous middleware.
 * @returns The same function, marked.
 * @throws {TypeError} When `middleware` is not a function.
 *
 * @example Refused by the synchronous bus
 * ```ts
 * import { asyncOnly, createAsyncBus, createBus, type AsyncMiddleware } from "@monolith/message-bus";
 * import { throws } from "node:assert/strict";
 *
 * const delayed: AsyncMiddleware = asyncOnly((message, next) =>
 *   new Promise((resolve) => setTimeout(resolve, 1)).then(() => next(message)));
 * createAsyncBus({ middleware: [delayed] });
 * throws(() => createBus({ middleware: [delayed as never] }), TypeError);
 * ```
 */
export function asyncOnly<T extends AsyncMiddleware>(middleware: T): T {
  if (typeof middleware !== "function") {
    throw new TypeError(
      `Cannot mark middleware as asyncOnly as it must be a function: current value is ${
        middleware === null ? "null" : typeof middleware
      }`,
    );
  }
  return Object.defineProperty(middleware, ASYNC_ONLY, { value: true });
}

const AsyncFunction: object = Object.getPrototypeOf(async () => {});

/**
 * Whether `middleware` works only on the asynchronous bus: marked with
 * {@linkcode asyncOnly}, or an `async function`.
 *
 * @param middleware A middleware.
 * @returns `true` when `createBus()` refuses it.
 *
 * @example Telling synchronous from asynchronous middleware
 * ```ts
 * import { type AsyncMiddleware, isAsyncOnly, type Middleware } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const passThrough: Middleware = (message, next) => next(message);
 * deepStrictEqual(isAsyncOnly(passThrough), false);
 * const awaiting: AsyncMiddleware = async (message, next) => await next(message);
 * deepStrictEqual(isAsyncOnly(awaiting), true);
 * ```
 */
export function isAsyncOnly(middleware: unknown): boolean {
  return typeof middleware === "function" &&
    ((middleware as { [ASYNC_ONLY]?: true })[ASYNC_ONLY] === true ||
      Object.getPrototypeOf(middleware) === AsyncFunction);
}
