// Handler registration, the routing tables both buses share, and the errors
// of routing.
import { describe } from "./_describe.ts";
import {
  aKind,
  DEFINE_FUNCTION,
  DISPATCH_METHOD,
  PLURAL,
  REGISTER_METHOD,
} from "./_by_kind.ts";
import { DuplicateHandlerError, NoHandlerError } from "./errors.ts";
import type { AnyDefinition, Message, MessageKind } from "./messages.ts";
import { isMessage } from "./messages.ts";
import type { SubscribeOptions, Unregister } from "./types.ts";

// deno-lint-ignore no-explicit-any
export type Handler = (message: any, context: any) => unknown;

/** Who an event subscriber is, for observers and redelivery. */
export interface Subscriber {
  /** Unique among the event's subscribers. */
  readonly id: string;
  /** The handler's function name, or "anonymous". */
  readonly name: string;
}

/** Routing tables, keyed by message name. */
export interface Routes {
  readonly queries: Map<string, Handler>;
  readonly commands: Map<string, Handler>;
  readonly tasks: Map<string, Handler>;
  /** Copy-on-write: a publish iterates the array it read, undisturbed. */
  readonly events: Map<string, readonly Handler[]>;
  /** The name of the handler of a query, command or task. */
  handlerName(kind: MessageKind, type: string): string;
  /** Who the subscribers in a list from `events` are, in its order. */
  subscribersOf(handlers: readonly Handler[]): readonly Subscriber[];
}

/** A handler's name for reports: its function name, or "anonymous". */
export function nameOf(handler: Handler): string {
  return handler.name || "anonymous";
}

/** The registration methods, typed loosely; each bus narrows the types. */
export interface Registry {
  readonly routes: Routes;
  registerQuery(definition: AnyDefinition, handler: Handler): Unregister;
  registerCommand(definition: AnyDefinition, handler: Handler): Unregister;
  registerTask(definition: AnyDefinition, handler: Handler): Unregister;
  subscribe(
    definition: AnyDefinition,
    handler: Handler,
    options?: SubscribeOptions,
  ): Unregister;
}

/**
 * The error for a value given to a dispatch method that cannot route it: not
 * a message, a message of another kind, or one with no handler.
 */
export function dispatchError(kind: MessageKind, value: unknown): Error {
  const method = DISPATCH_METHOD[kind];
  if (!isMessage(value)) {
    return new TypeError(
      `Cannot ${method}() ${describe(value)}: expected ${
        aKind(kind)
      } message, built by calling its definition (from ${
        DEFINE_FUNCTION[kind]
      }())`,
    );
  }
  if (value.kind !== kind) {
    return new TypeError(
      `Cannot ${method}() ${describe(value)}: ${method}() takes ${
        PLURAL[kind]
      }; use ${DISPATCH_METHOD[value.kind]}() for ${aKind(value.kind)}`,
    );
  }
  return new NoHandlerError(kind, value.type);
}

/** The error for a publish to one subscriber that the event does not have. */
export function noSubscriberError(event: Message, id: string): Error {
  return new NoHandlerError(
    "event",
    event.type,
    `it has no subscriber with id "${id}"; subscribe it (with { id: "${id}" }) before publishing to it`,
  );
}

/**
 * What a publish with no subscribers does: nothing for an event, an error for
 * anything else.
 */
export function checkUnheardEvent(value: unknown): void {
  if (!isMessage(value) || value.kind !== "event") {
    throw dispatchError("event", value);
  }
}

/** The error a publish reports: the single error, or all of them. */
export function eventError(
  event: Message,
  errors: readonly unknown[],
  subscribers: number,
): unknown {
  if (errors.length === 1) return errors[0];
  return new AggregateError(
    errors,
    `${errors.length} of ${subscribers} subscribers of event "${event.type}" failed; each error is in .errors`,
  );
}

function checkRegistration(
  kind: MessageKind,
  definition: AnyDefinition,
  handler: unknown,
): void {
  const method = REGISTER_METHOD[kind];
  const valid = typeof definition === "function" &&
    typeof definition.name === "string" &&
    Object.hasOwn(DEFINE_FUNCTION, definition.kind) &&
    typeof definition.is === "function";
  if (!valid) {
    throw new TypeError(
      `Cannot ${method}() as its first argument must be ${
        aKind(kind)
      } definition from ${DEFINE_FUNCTION[kind]}(): current value is ${
        describe(definition)
      }`,
    );
  }
  if (definition.kind !== kind) {
    throw new TypeError(
      `Cannot ${method}() ${definition.kind} "${definition.name}": ${method}() takes ${kind} definitions; use ${
        REGISTER_METHOD[definition.kind]
      }() for ${aKind(definition.kind)}`,
    );
  }
  if (typeof handler !== "function") {
    throw new TypeError(
      `Cannot ${method}() ${kind} "${definition.name}" as its handler must be a function: current value is ${
        describe(handler)
      }`,
    );
  }
}

function subscriberId(
  definition: AnyDefinition,
  name: string,
  options: SubscribeOptions | undefined,
  taken: readonly Subscriber[],
): string {
  const isTaken = (id: string) => taken.some((other) => other.id === id);
  if (options === undefined) {
    let id = name;
    for (let number = 2; isTaken(id); number++) id = `${name}#${number}`;
    return id;
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot subscribe() to event "${definition.name}" as its options must be an object: current value is ${
        describe(options)
      }`,
    );
  }
  const { id } = options;
  if (id === undefined) return subscriberId(definition, name, undefined, taken);
  if (typeof id !== "string" || id === "") {
    throw new TypeError(
      `Cannot subscribe() to event "${definition.name}" as 'id' must be a non-empty string: current value is ${
        describe(id)
      }`,
    );
  }
  if (isTaken(id)) {
    throw new TypeError(
      `Cannot subscribe() to event "${definition.name}" with id "${id}": another subscriber of the event has that id. Give each subscriber its own id`,
    );
  }
  return id;
}

/**
 * Creates empty routing tables and the methods that fill them. `adapt`
 * turns each query, command and task handler into the function the routing
 * table holds (the asynchronous bus makes every one return a promise).
 */
export function createRegistry(
  adapt: (handler: Handler) => Handler = (handler) => handler,
): Registry {
  const names = new Map<string, string>();
  const subscribers = new WeakMap<readonly Handler[], readonly Subscriber[]>();
  const routes: Routes = {
    queries: new Map(),
    commands: new Map(),
    tasks: new Map(),
    events: new Map(),
    handlerName: (kind, type) => names.get(`${kind}:${type}`) ?? "anonymous",
    subscribersOf: (handlers) => subscribers.get(handlers) ?? [],
  };
  // Which definition owns each name, and how many registrations hold it.
  const owners = new Map<
    string,
    { definition: AnyDefinition; count: number }
  >();

  function claim(kind: MessageKind, definition: AnyDefinition): Unregister {
    const name = definition.name;
    const owner = owners.get(name);
    if (owner === undefined) {
      owners.set(name, { definition, count: 1 });
    } else if (owner.definition === definition) {
      owner.count++;
    } else {
      throw new TypeError(
        `Cannot ${
          REGISTER_METHOD[kind]
        }() ${kind} "${name}": a different ${owner.definition.kind} definition named "${name}" is registered on this bus already. Define each message once, with a unique name (for example prefixed by its module, "users.${name}"), and share that definition`,
      );
    }
    return () => {
      const current = owners.get(name)!;
      if (--current.count === 0) owners.delete(name);
    };
  }

  function registerOne(
    kind: "query" | "command" | "task",
    table: Map<string, Handler>,
  ) {
    return (definition: AnyDefinition, handler: Handler): Unregister => {
      checkRegistration(kind, definition, handler);
      if (table.has(definition.name)) {
        // A second handler under another definition is a clash, not a duplicate.
        if (owners.get(definition.name)?.definition === definition) {
          throw new DuplicateHandlerError(kind, definition.name);
        }
      }
      const release = claim(kind, definition);
      table.set(definition.name, adapt(handler));
      names.set(`${kind}:${definition.name}`, nameOf(handler));
      let registered = true;
      return () => {
        if (!registered) return;
        registered = false;
        table.delete(definition.name);
        names.delete(`${kind}:${definition.name}`);
        release();
      };
    };
  }

  function subscribe(
    definition: AnyDefinition,
    handler: Handler,
    options?: SubscribeOptions,
  ): Unregister {
    checkRegistration("event", definition, handler);
    const type = definition.name;
    const handlers = routes.events.get(type) ?? [];
    const others = routes.subscribersOf(handlers);
    const name = nameOf(handler);
    const self: Subscriber = {
      id: subscriberId(definition, name, options, others),
      name,
    };
    const release = claim("event", definition);
    const list = [...handlers, handler];
    routes.events.set(type, list);
    subscribers.set(list, [...others, self]);
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const current = routes.events.get(type)!;
      const who = routes.subscribersOf(current);
      const index = who.indexOf(self);
      const rest = current.filter((_, at) => at !== index);
      if (rest.length === 0) {
        routes.events.delete(type);
      } else {
        routes.events.set(type, rest);
        subscribers.set(rest, who.filter((_, at) => at !== index));
      }
      release();
    };
  }

  return {
    routes,
    registerQuery: registerOne("query", routes.queries),
    registerCommand: registerOne("command", routes.commands),
    registerTask: registerOne("task", routes.tasks),
    subscribe,
  };
}
