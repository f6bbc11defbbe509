/**
 * The asynchronous in-process bus: the same registry and routing as
 * {@linkcode createBus}, but every dispatch returns a promise, handlers may be
 * sync or async, and event subscribers run concurrently.
 *
 * @module
 */

import {
  type AsyncDispatch,
  composeAsync,
  middlewareOption,
} from "./_compose.ts";
import { createRegistry, takesContext } from "./_registry.ts";
import {
  assemble,
  asyncTerminals,
  contextualHandlerAsync,
  contextualSubscriberAsync,
  kindChecked,
  promising,
} from "./_terminals.ts";
import type { AsyncMessageBus, AsyncMiddleware, Middleware } from "./types.ts";

/** Options of {@linkcode createAsyncBus}. */
export interface AsyncBusOptions {
  /**
   * Middleware wrapping every dispatch, the first being the outermost. A
   * synchronous {@linkcode Middleware} that passes `next`'s result through
   * fits too.
   *
   * @default {[]}
   */
  readonly middleware?: readonly (AsyncMiddleware | Middleware)[];
}

/**
 * Creates an asynchronous in-process bus. Every method is a closure, so
 * `const { send } = bus` works.
 *
 * @param options Middleware to wrap every dispatch with.
 * @returns The bus.
 * @throws {TypeError} When a middleware is not a function.
 *
 * @example Async handlers and concurrent subscribers
 * ```ts
 * import { createAsyncBus, defineEvent, defineQuery } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetStock = defineQuery<{ sku: string }, number>("GetStock");
 * const Restocked = defineEvent<{ sku: string }>("Restocked");
 *
 * const bus = createAsyncBus();
 * bus.registerQuery(GetStock, async (q) => await Promise.resolve(q.payload.sku.length));
 * const heard: string[] = [];
 * bus.subscribe(Restocked, async (e) => {
 *   await Promise.resolve();
 *   heard.push(`email ${e.payload.sku}`);
 * });
 * bus.subscribe(Restocked, (e) => {
 *   heard.push(`index ${e.payload.sku}`);
 * });
 *
 * deepStrictEqual(await bus.send(GetStock({ sku: "abc" })), 3);
 * await bus.publish(Restocked({ sku: "abc" }));
 * deepStrictEqual(heard, ["index abc", "email abc"]);
 * ```
 */
export function createAsyncBus(options: AsyncBusOptions = {}): AsyncMessageBus {
  const middleware = middlewareOption(
    "createAsyncBus",
    options,
    true,
  ) as readonly AsyncMiddleware[];
  const registry = createRegistry({
    adapt: (handler, module) =>
      takesContext(handler)
        ? contextualHandlerAsync(handler, module)
        : promising(handler),
    adaptSubscriber: contextualSubscriberAsync,
    synchronous: false,
  });
  return assemble<AsyncMessageBus>(
    registry,
    asyncTerminals(registry.routes),
    middleware.length === 0 ? undefined : (kind, terminal) =>
      kindChecked(
        kind,
        composeAsync(middleware, terminal as AsyncDispatch),
        true,
      ),
    true,
  );
}
