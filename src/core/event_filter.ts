/**
 * A bus-level filter of events, as middleware.
 *
 * @module
 */

import type { AnyDefinition, EventMessage } from "./messages.ts";
import type { Middleware, MiddlewareContext, NextFunction } from "./types.ts";
import type { AnyMessage } from "./messages.ts";

/** Decides whether an event is published: `true` lets it through. */
export type EventPredicate = (
  event: EventMessage,
  context: MiddlewareContext,
) => boolean;

/**
 * A middleware for the synchronous or asynchronous bus that drops the events
 * `predicate` refuses: no subscriber hears them, and the publish succeeds
 * (with `undefined`, or a promise of it). Other kinds pass through. A
 * predicate that throws fails the publish with its error.
 *
 * @param predicate Which events to publish; see {@linkcode eventsOf} and
 * {@linkcode inSession} for the common cases.
 * @returns The middleware.
 * @throws {TypeError} When `predicate` is not a function.
 *
 * @example Publishing only the events of some definitions
 * ```ts
 * import { createBus, defineEvent, eventFilter, eventsOf } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const OrderPlaced = defineEvent<{ id: string }>("orders.OrderPlaced");
 * const Debug = defineEvent<string>("debug.Trace");
 * const bus = createBus({ middleware: [eventFilter(eventsOf(OrderPlaced))] });
 * const heard: string[] = [];
 * bus.subscribe(OrderPlaced, (e) => void heard.push(e.payload.id));
 * bus.subscribe(Debug, (e) => void heard.push(e.payload));
 * bus.publish(OrderPlaced({ id: "o-1" }));
 * bus.publish(Debug("noise"));
 * deepStrictEqual(heard, ["o-1"]);
 * ```
 */
export function eventFilter(predicate: EventPredicate): Middleware {
  if (typeof predicate !== "function") {
    throw new TypeError(
      `Cannot create eventFilter as 'predicate' must be a function (event, context) => boolean: current value is ${
        predicate === null ? "null" : typeof predicate
      }`,
    );
  }
  return <M extends AnyMessage, R>(
    message: M,
    next: NextFunction<M, R>,
    context: MiddlewareContext,
  ): R => {
    if (
      message.kind === "event" && !predicate(message as EventMessage, context)
    ) {
      return undefined as R;
    }
    return next(message);
  };
}

/**
 * A predicate that lets through the events of `definitions` only.
 *
 * @param definitions Event definitions.
 * @returns The predicate, for {@linkcode eventFilter}.
 * @throws {TypeError} When a definition is not an event definition.
 *
 * @example
 * ```ts
 * import { defineEvent, eventsOf } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const Placed = defineEvent("Placed");
 * const Shipped = defineEvent("Shipped");
 * const onlyPlaced = eventsOf(Placed);
 * deepStrictEqual(onlyPlaced(Placed(), {} as never), true);
 * deepStrictEqual(onlyPlaced(Shipped(), {} as never), false);
 * ```
 */
export function eventsOf(...definitions: AnyDefinition[]): EventPredicate {
  for (const definition of definitions) {
    if (typeof definition !== "function" || definition.kind !== "event") {
      throw new TypeError(
        `Cannot create eventsOf as its arguments must be event definitions (from defineEvent()): found ${
          typeof definition === "function"
            ? `${definition.kind} "${definition.name}"`
            : typeof definition
        }`,
      );
    }
  }
  const names = new Set(definitions.map((definition) => definition.name));
  return (event) => names.has(event.type);
}

/**
 * A predicate that lets through the events published in the session `id`
 * (or in a dispatch made there), and drops the others.
 *
 * @param id A session id (see `bus.session(id)`).
 * @returns The predicate, for {@linkcode eventFilter}.
 *
 * @example Only the events of one session
 * ```ts
 * import { createBus, defineEvent, eventFilter, inSession } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const Ticked = defineEvent<number>("Ticked");
 * const bus = createBus({ middleware: [eventFilter(inSession("job-7"))] });
 * const heard: number[] = [];
 * bus.subscribe(Ticked, (e) => void heard.push(e.payload));
 * bus.session("job-7").publish(Ticked(1));
 * bus.publish(Ticked(2));
 * deepStrictEqual(heard, [1]);
 * ```
 */
export function inSession(id: string): EventPredicate {
  if (typeof id !== "string" || id === "") {
    throw new TypeError(
      `Cannot create inSession as 'id' must be a non-empty string: current value is ${
        typeof id === "string" ? '""' : typeof id
      }`,
    );
  }
  return (_event, context) => context.sessionId === id;
}
