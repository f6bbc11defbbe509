// Handler registration and the routing tables both buses and the fakes share.
import { describe } from "./_describe.ts";
import { DuplicateHandlerError, NoHandlerError } from "./errors.ts";
import type { Unregister } from "./interfaces.ts";
import type {
  AnyDefinition,
  AnyMessage,
  Message,
  MessageKind,
} from "./messages.ts";
import { isMessage } from "./messages.ts";

// deno-lint-ignore no-explicit-any
export type Handler = (message: any, context: any) => unknown;

/** Routing tables, keyed by message name. */
export interface Routes {
  readonly queries: Map<string, Handler>;
  readonly commands: Map<string, Handler>;
  readonly tasks: Map<string, Handler>;
  /** Copy-on-write: a publish iterates the array it read, undisturbed. */
  readonly events: Map<string, readonly Handler[]>;
  /** The name of the handler of a query, command or task. */
  handlerName(message: AnyMessage): string | undefined;
}

/** A handler's name for reports: its function name, or "anonymous". */
export function nameOf(handler: Handler): string {
  return handler.name || "anonymous";
}

/**
 * A bus's way to deliver an event to one subscriber, found by name, for
 * redelivering a dead letter without running the other subscribers again.
 */
export const DELIVER_TO: unique symbol = Symbol("deliver to");

/** A bus with {@linkcode DELIVER_TO}. */
export type Deliverable = {
  [DELIVER_TO]?: (event: AnyMessage, subscriber: string) => unknown;
};

/** Adds {@linkcode DELIVER_TO} to a bus object. */
export function withDeliverTo<B extends object>(
  bus: B,
  routes: Routes,
  invoke: (subscriber: Handler, event: AnyMessage) => unknown,
): B {
  (bus as Deliverable)[DELIVER_TO] = (event, name) => {
    const subscriber = routes.events.get(event.type)?.find((handler) =>
      nameOf(handler) === name
    );
    if (subscriber === undefined) {
      throw new NoHandlerError(
        "event",
        event.type,
        `no subscriber named "${name}"; subscribe it again before redelivering`,
      );
    }
    return invoke(subscriber, event);
  };
  return bus;
}

/** The registration methods, typed loosely; each bus narrows the types. */
export interface Registry {
  readonly routes: Routes;
  registerQuery(definition: AnyDefinition, handler: Handler): Unregister;
  registerCommand(definition: AnyDefinition, handler: Handler): Unregister;
  registerTask(definition: AnyDefinition, handler: Handler): Unregister;
  subscribe(definition: AnyDefinition, handler: Handler): Unregister;
}

/** The method that dispatches each kind. */
export const DISPATCH_METHOD: Readonly<Record<MessageKind, string>> = {
  query: "send",
  command: "execute",
  event: "publish",
  task: "dispatch",
};

const REGISTER_METHOD: Readonly<Record<MessageKind, string>> = {
  query: "registerQuery",
  command: "registerCommand",
  event: "subscribe",
  task: "registerTask",
};

/** The plural of each kind, for messages. */
export const PLURAL: Readonly<Record<MessageKind, string>> = {
  query: "queries",
  command: "commands",
  event: "events",
  task: "tasks",
};

/** A kind with its article: "a query", "an event". */
export function aKind(kind: MessageKind): string {
  return `${kind === "event" ? "an" : "a"} ${kind}`;
}

const DEFINE_FUNCTION: Readonly<Record<MessageKind, string>> = {
  query: "defineQuery",
  command: "defineCommand",
  event: "defineEvent",
  task: "defineTask",
};

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

/**
 * Creates empty routing tables and the methods that fill them. `adapt`
 * turns each query, command and task handler into the function the routing
 * table holds (the asynchronous bus makes every one return a promise).
 */
export function createRegistry(
  adapt: (handler: Handler) => Handler = (handler) => handler,
): Registry {
  const names = new Map<string, string>();
  const routes: Routes = {
    queries: new Map(),
    commands: new Map(),
    tasks: new Map(),
    events: new Map(),
    handlerName: (message) => names.get(`${message.kind}:${message.type}`),
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

  function subscribe(definition: AnyDefinition, handler: Handler): Unregister {
    checkRegistration("event", definition, handler);
    const release = claim("event", definition);
    const name = definition.name;
    routes.events.set(name, [...(routes.events.get(name) ?? []), handler]);
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      const handlers = routes.events.get(name)!;
      const index = handlers.indexOf(handler);
      const rest = [...handlers.slice(0, index), ...handlers.slice(index + 1)];
      if (rest.length === 0) routes.events.delete(name);
      else routes.events.set(name, rest);
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

/** Whether a query, command or task has a handler in `routes`. */
export function hasHandler(routes: Routes, message: AnyMessage): boolean {
  switch (message.kind) {
    case "query":
      return routes.queries.has(message.type);
    case "command":
      return routes.commands.has(message.type);
    case "task":
      return routes.tasks.has(message.type);
    case "event":
      return routes.events.has(message.type);
  }
}

/** Dispatches `message` with the method of its kind on `bus`. */
export function dispatchByKind(
  bus: {
    send(message: AnyMessage): unknown;
    execute(message: AnyMessage): unknown;
    publish(message: AnyMessage): unknown;
    dispatch(message: AnyMessage): unknown;
  },
  message: AnyMessage,
): unknown {
  switch (message.kind) {
    case "query":
      return bus.send(message);
    case "command":
      return bus.execute(message);
    case "event":
      return bus.publish(message);
    case "task":
      return bus.dispatch(message);
  }
}
