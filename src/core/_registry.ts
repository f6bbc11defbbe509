// Handler registration, the routing tables both buses share, and the errors
// of routing.
import { describe } from "./_describe.ts";
import { isPlainId, PLAIN_ID } from "./_ids.ts";
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
  /** Its place in its event's arrays. */
  index: number;
  /** Unsubscribed: its place holds a no-op until the arrays are compacted. */
  removed: boolean;
  /** It takes a context parameter: a publish makes a dispatch for it. */
  readonly contextual: boolean;
  /** Higher runs first; equals run in subscription order. */
  readonly priority: number;
}

/**
 * The subscribers of one event. A publish calls `handlers` in order; an
 * unsubscribe leaves a no-op in its place (compacted when they pile up), so
 * subscribing and unsubscribing cost O(1) amortised. A publish marks the
 * arrays `shared` (one store, cheaper than counting publishes in flight); the
 * next change copies them first, so a publish in flight is undisturbed. That
 * copy is O(n), once per publish, which the publish's own O(n) pays for.
 */
export interface EventEntry {
  handlers: Handler[];
  subscribers: Subscriber[];
  /** Subscribers not removed. */
  live: number;
  /** Live subscribers that take a context parameter. */
  contextual: number;
  /** Live subscribers per priority: more than one key means groups. */
  readonly priorities: Map<number, number>;
  /** Whether live subscribers have different priorities. */
  mixed: boolean;
  /** A publish may be iterating the arrays: copy before changing them. */
  shared: boolean;
}

/** Routing tables, keyed by message name. */
export interface Routes {
  readonly queries: Map<string, Handler>;
  readonly commands: Map<string, Handler>;
  readonly tasks: Map<string, Handler>;
  readonly events: Map<string, EventEntry>;
  /** The name of the handler of a query, command or task. */
  handlerName(kind: MessageKind, type: string): string;
}

/** What a removed subscriber's place holds until compaction. */
export function removedSubscriber(): void {}

/** A handler's name for reports: its function name, or "anonymous". */
export function nameOf(handler: Handler): string {
  return handler.name || "anonymous";
}

/** The registration methods, typed loosely; each bus narrows the types. */
export interface Registry {
  readonly routes: Routes;
  /**
   * `module`: the origin of the handler's dispatches (its session's id).
   * `options`: a distributed bus's registration options (the in-process
   * buses take none).
   */
  registerQuery(
    definition: AnyDefinition,
    handler: Handler,
    module?: string,
    options?: unknown,
  ): Unregister;
  registerCommand(
    definition: AnyDefinition,
    handler: Handler,
    module?: string,
    options?: unknown,
  ): Unregister;
  registerTask(
    definition: AnyDefinition,
    handler: Handler,
    module?: string,
    options?: unknown,
  ): Unregister;
  /** The remover it returns carries the subscriber's id (`Subscribed`). */
  subscribe(
    definition: AnyDefinition,
    handler: Handler,
    options?: SubscribeOptions,
  ): Unregister;
}

/** What the registry's `subscribe` returns: the remover, with the id given. */
export type Subscribed = Unregister & { readonly subscriberId: string };

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

// The default ids of one handler name: `name`, `name#2`, ... The lowest free
// suffix is reused, so a subscriber that comes and goes keeps its id.
interface Suffixes {
  next: number;
  /** Freed suffixes, a min-heap. */
  readonly free: number[];
}

function takeSuffix(suffixes: Suffixes): number {
  const { free } = suffixes;
  if (free.length === 0) return suffixes.next++;
  const lowest = free[0]!;
  const last = free.pop()!;
  if (free.length > 0) {
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= free.length) break;
      const child = left + 1 < free.length && free[left + 1]! < free[left]!
        ? left + 1
        : left;
      if (free[child]! >= last) break;
      free[at] = free[child]!;
      at = child;
    }
    free[at] = last;
  }
  return lowest;
}

function freeSuffix(suffixes: Suffixes, suffix: number): void {
  const { free } = suffixes;
  let at = free.push(suffix) - 1;
  while (at > 0) {
    const parent = (at - 1) >> 1;
    if (free[parent]! <= suffix) break;
    free[at] = free[parent]!;
    at = parent;
  }
  free[at] = suffix;
}

function idOption(
  definition: AnyDefinition,
  options: SubscribeOptions | undefined,
): string | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot subscribe() to event "${definition.name}" as its options must be an object: current value is ${
        describe(options)
      }`,
    );
  }
  const { id } = options;
  if (id === undefined) return undefined;
  if (!isPlainId(id)) {
    throw new TypeError(
      `Cannot subscribe() to event "${definition.name}" as 'id' must be ${PLAIN_ID}: current value is ${
        describe(id)
      }`,
    );
  }
  return id;
}

function moduleOption(
  definition: AnyDefinition,
  options: SubscribeOptions | undefined,
): string | undefined {
  const module = options?.module;
  if (module === undefined) return undefined;
  if (!isPlainId(module)) {
    throw new TypeError(
      `Cannot subscribe() to event "${definition.name}" as 'module' must be ${PLAIN_ID}: current value is ${
        describe(module)
      }`,
    );
  }
  return module;
}

interface Behaviour {
  readonly priority: number;
  readonly filter: Handler | undefined;
  readonly once: boolean;
}

function behaviourOptions(
  definition: AnyDefinition,
  options: SubscribeOptions | undefined,
): Behaviour {
  const priority = options?.priority ?? 50;
  const filter = options?.filter;
  const once = options?.once ?? false;
  const problem = (name: string, what: string, value: unknown) =>
    new TypeError(
      `Cannot subscribe() to event "${definition.name}" as '${name}' must be ${what}: current value is ${
        describe(value)
      }`,
    );
  if (typeof priority !== "number" || !Number.isFinite(priority)) {
    throw problem("priority", "a finite number", priority);
  }
  if (filter !== undefined && typeof filter !== "function") {
    throw problem("filter", "a function (event, context) => boolean", filter);
  }
  if (typeof once !== "boolean") throw problem("once", "a boolean", once);
  return { priority, filter: filter as Handler | undefined, once };
}

// Below this many places, an unsubscribe compacts at once; above, no-ops
// pile up until they are half the places.
const COMPACT_AT_ONCE = 64;

const AsyncFunctionPrototype: object = Object.getPrototypeOf(async () => {});

/** Whether `handler` is an `async function`. */
export function isAsyncFunction(handler: unknown): boolean {
  return typeof handler === "function" &&
    Object.getPrototypeOf(handler) === AsyncFunctionPrototype;
}

// The synchronous bus cannot wait for a promise: an `async function` handler
// would run on, unobserved, and its failure would be an unhandled rejection.
function refuseAsync(
  kind: MessageKind,
  definition: AnyDefinition,
  handler: Handler,
): void {
  if (!isAsyncFunction(handler)) return;
  throw new TypeError(
    `Cannot ${
      REGISTER_METHOD[kind]
    }() ${kind} "${definition.name}" as its handler${
      handler.name ? ` ${handler.name}` : ""
    } is an async function, which the synchronous bus cannot wait for: register it on a bus from createAsyncBus()`,
  );
}

/**
 * Whether a handler takes a context parameter, and so gets a dispatch of its
 * own: any arity but one (a handler of one parameter cannot see a context).
 */
export function takesContext(handler: Handler): boolean {
  return handler.length !== 1;
}

/** How a bus stores its handlers. */
export interface RegistryOptions {
  /**
   * Turns each query, command and task handler into the function the routing
   * table holds (the asynchronous bus makes every one return a promise; a
   * handler that takes a context gets its dispatch made and its emitted
   * messages cascaded). `module` is what its dispatches carry as origin.
   */
  readonly adapt: (handler: Handler, module: string | undefined) => Handler;
  /** The same for an event subscriber that takes a context. */
  readonly adaptSubscriber: (
    handler: Handler,
    module: string | undefined,
  ) => Handler;
  /** Refuse `async function` handlers (the synchronous bus). */
  readonly synchronous: boolean;
}

/** Creates empty routing tables and the methods that fill them. */
export function createRegistry(options: RegistryOptions): Registry {
  const { adapt, adaptSubscriber, synchronous } = options;
  const names = new Map<string, string>();
  const routes: Routes = {
    queries: new Map(),
    commands: new Map(),
    tasks: new Map(),
    events: new Map(),
    handlerName: (kind, type) => names.get(`${kind}:${type}`) ?? "anonymous",
  };
  // Per event: the ids in use, and the default-id suffixes per name.
  const ids = new Map<string, Map<string, Subscriber>>();
  const suffixes = new Map<string, Map<string, Suffixes>>();
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
    return (
      definition: AnyDefinition,
      handler: Handler,
      module?: string,
    ): Unregister => {
      checkRegistration(kind, definition, handler);
      if (synchronous) refuseAsync(kind, definition, handler);
      if (table.has(definition.name)) {
        // A second handler under another definition is a clash, not a duplicate.
        if (owners.get(definition.name)?.definition === definition) {
          throw new DuplicateHandlerError(kind, definition.name);
        }
      }
      const release = claim(kind, definition);
      table.set(definition.name, adapt(handler, module));
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
    if (synchronous) refuseAsync("event", definition, handler);
    const type = definition.name;
    const explicit = idOption(definition, options);
    const module = moduleOption(definition, options);
    const behaviour = behaviourOptions(definition, options);
    let taken = ids.get(type);
    if (explicit !== undefined && taken?.has(explicit)) {
      throw new TypeError(
        `Cannot subscribe() to event "${type}" with id "${explicit}": another subscriber of the event has that id. Give each subscriber its own id`,
      );
    }
    const release = claim("event", definition);
    const name = nameOf(handler);
    let suffix = 0;
    let id = explicit;
    if (id === undefined) {
      let byName = suffixes.get(type);
      if (byName === undefined) suffixes.set(type, byName = new Map());
      let own = byName.get(name);
      if (own === undefined) byName.set(name, own = { next: 1, free: [] });
      // An explicit id may have taken a default one: skip it.
      do {
        suffix = takeSuffix(own);
        id = suffix === 1 ? name : `${name}#${suffix}`;
      } while (taken?.has(id));
    }
    let entry = routes.events.get(type);
    if (entry === undefined) {
      entry = {
        handlers: [],
        subscribers: [],
        live: 0,
        contextual: 0,
        priorities: new Map(),
        mixed: false,
        shared: false,
      };
      routes.events.set(type, entry);
    } else if (entry.shared) {
      entry.handlers = [...entry.handlers];
      entry.subscribers = [...entry.subscribers];
      entry.shared = false;
    }
    const { priority, filter, once } = behaviour;
    const contextual = takesContext(handler) ||
      (filter !== undefined && takesContext(filter));
    // The place of the first subscriber of a lower priority: equals keep
    // their order, and the usual case (one priority) appends.
    const last = entry.subscribers.at(-1);
    let index = entry.handlers.length;
    if (last !== undefined && last.priority < priority) {
      index = entry.subscribers.findIndex((other) => other.priority < priority);
    }
    const self: Subscriber = {
      id,
      name,
      index,
      removed: false,
      contextual,
      priority,
    };
    let stored = takesContext(handler)
      ? adaptSubscriber(handler, module)
      : handler;
    if (filter !== undefined) {
      const inner = stored;
      stored = (event, context) =>
        filter(event, context) ? inner(event, context) : undefined;
    }
    if (once) {
      const inner = stored;
      stored = (event, context) => {
        unsubscribe();
        return inner(event, context);
      };
    }
    if (index === entry.handlers.length) {
      entry.handlers.push(stored);
      entry.subscribers.push(self);
    } else {
      entry.handlers.splice(index, 0, stored);
      entry.subscribers.splice(index, 0, self);
      for (let at = index + 1; at < entry.subscribers.length; at++) {
        entry.subscribers[at]!.index = at;
      }
    }
    entry.live++;
    if (contextual) entry.contextual++;
    count(entry, priority, 1);
    if (taken === undefined) ids.set(type, taken = new Map());
    taken.set(id, self);
    const own = taken;
    function unsubscribe(): void {
      if (self.removed) return;
      self.removed = true;
      own.delete(self.id);
      if (suffix > 0) {
        const byName = suffixes.get(type)!.get(name)!;
        freeSuffix(byName, suffix);
      }
      const current = routes.events.get(type)!;
      current.live--;
      if (self.contextual) current.contextual--;
      count(current, priority, -1);
      if (current.live === 0) {
        routes.events.delete(type);
        ids.delete(type);
        suffixes.delete(type);
      } else {
        remove(current, self);
      }
      release();
    }
    return Object.assign(unsubscribe, { subscriberId: id }) as Subscribed;
  }

  function count(entry: EventEntry, priority: number, by: number): void {
    const now = (entry.priorities.get(priority) ?? 0) + by;
    if (now === 0) entry.priorities.delete(priority);
    else entry.priorities.set(priority, now);
    entry.mixed = entry.priorities.size > 1;
  }

  // Takes a subscriber out of its event's arrays: a no-op in its place, and
  // the arrays compacted when the no-ops are many (or the arrays small).
  function remove(entry: EventEntry, self: Subscriber): void {
    if (entry.shared) {
      entry.handlers = [...entry.handlers];
      entry.subscribers = [...entry.subscribers];
      entry.shared = false;
    }
    entry.handlers[self.index] = removedSubscriber;
    const places = entry.handlers.length;
    if (places > COMPACT_AT_ONCE && (places - entry.live) * 2 < places) return;
    const handlers: Handler[] = [];
    const subscribers: Subscriber[] = [];
    for (let index = 0; index < places; index++) {
      const subscriber = entry.subscribers[index]!;
      if (subscriber.removed) continue;
      subscriber.index = handlers.length;
      handlers.push(entry.handlers[index]!);
      subscribers.push(subscriber);
    }
    entry.handlers = handlers;
    entry.subscribers = subscribers;
  }

  return {
    routes,
    registerQuery: registerOne("query", routes.queries),
    registerCommand: registerOne("command", routes.commands),
    registerTask: registerOne("task", routes.tasks),
    subscribe,
  };
}
