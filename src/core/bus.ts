/**
 * The synchronous, in-process bus: a registry and a router. A dispatch is a
 * `Map.get` and a call; with middleware, the chain was composed once when the
 * bus was built.
 *
 * @module
 */

import { composeEntry, middlewareOption } from "./_compose.ts";
import { createRegistry, dispatchError, takesContext } from "./_registry.ts";
import {
  assemble,
  contextualHandler,
  contextualSubscriber,
  syncTerminals,
} from "./_terminals.ts";
import type { GaugeSink, MessageBus, Middleware } from "./types.ts";
import { gaugeSinkOption, observeBus } from "./_bus_gauges.ts";

/** Options of {@linkcode createBus}. */
export interface BusOptions {
  /**
   * Middleware wrapping every dispatch, the first being the outermost.
   * Asynchronous-only middleware (see `asyncOnly`) is refused.
   *
   * @default {[]}
   */
  readonly middleware?: readonly Middleware[];
  /**
   * Where the bus reports its gauges (sessions open, handlers registered per
   * kind): a `Metrics` from `createMetrics()` of
   * `@monolith/message-bus/observability`.
   */
  readonly metrics?: GaugeSink;
}

/**
 * Creates a synchronous in-process bus. Every method is a closure, so
 * `const { send } = bus` works.
 *
 * @param options Middleware to wrap every dispatch with, and where to report
 * gauges.
 * @returns The bus.
 * @throws {TypeError} When a middleware is not a function, or works only on
 * the asynchronous bus, or `metrics` has no `observeGauge` method.
 *
 * @example Queries, commands, events and tasks
 * ```ts
 * import {
 *   createBus,
 *   defineCommand,
 *   defineEvent,
 *   defineQuery,
 *   defineTask,
 * } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetUser = defineQuery<{ userId: string }, { name: string }>("GetUser");
 * const Rename = defineCommand<{ userId: string; name: string }>("Rename");
 * const Renamed = defineEvent<{ userId: string }>("Renamed");
 * const SendEmail = defineTask<{ to: string }>("SendEmail");
 *
 * const names = new Map([["1", "Ada"]]);
 * const log: string[] = [];
 * const bus = createBus();
 * bus.registerQuery(GetUser, (q) => ({ name: names.get(q.payload.userId) ?? "?" }));
 * bus.registerCommand(Rename, (c) => {
 *   names.set(c.payload.userId, c.payload.name);
 *   bus.publish(Renamed({ userId: c.payload.userId }));
 * });
 * bus.subscribe(Renamed, (e) => bus.dispatch(SendEmail({ to: `user-${e.payload.userId}` })));
 * bus.registerTask(SendEmail, (t) => log.push(t.payload.to));
 *
 * bus.execute(Rename({ userId: "1", name: "Grace" }));
 * deepStrictEqual(bus.send(GetUser({ userId: "1" })), { name: "Grace" });
 * deepStrictEqual(log, ["user-1"]);
 * ```
 */
export function createBus(options: BusOptions = {}): MessageBus {
  const middleware = middlewareOption(
    "createBus",
    options,
    false,
  );
  const gauges = gaugeSinkOption("createBus", options.metrics);
  const registry = createRegistry({
    adapt: (handler, module) =>
      takesContext(handler) ? contextualHandler(handler, module) : handler,
    adaptSubscriber: contextualSubscriber,
    synchronous: true,
  });
  const bus = assemble<MessageBus>(
    registry,
    syncTerminals(registry.routes),
    middleware.length === 0 ? undefined : (kind, terminal) =>
      composeEntry(
        kind,
        (message) => dispatchError(kind, message),
        middleware,
        terminal,
      ),
    false,
  );
  if (gauges !== undefined) observeBus(gauges, registry.routes, bus);
  return bus;
}
