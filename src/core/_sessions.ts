// Sessions: a scope of a bus whose registrations are removed together, and
// whose dispatches carry its id.
import {
  type Context,
  isPlainId,
  newId,
  PLAIN_ID,
  type Router,
} from "./_context.ts";
import type { Handler, Registry } from "./_registry.ts";
import type { AnyDefinition, AnyMessage, MessageKind } from "./messages.ts";
import type { RegisteredEvent, SubscribeOptions, Unregister } from "./types.ts";

/** A bus's sessions: how to open one, how many are open, closing them all. */
export interface Sessions {
  open(id?: string): object;
  readonly active: number;
  /** Closes every open session (the async ones after their handlers). */
  closeAll(): void | Promise<void>;
  /** Removes at once what the sessions still closing registered. */
  removeAll(): void;
}

/** The names registered, per kind, and how many registrations hold each. */
export type RegisteredNames = Record<MessageKind, Map<string, number>>;

/** An empty {@linkcode RegisteredNames}. */
export function registeredNames(): RegisteredNames {
  return {
    query: new Map(),
    command: new Map(),
    event: new Map(),
    task: new Map(),
  };
}

/** Counts one registration of `name`; returns what takes it back. */
export function countName(
  names: RegisteredNames,
  kind: MessageKind,
  name: string,
): () => void {
  const table = names[kind];
  table.set(name, (table.get(name) ?? 0) + 1);
  let counted = true;
  return () => {
    if (!counted) return;
    counted = false;
    const left = table.get(name)! - 1;
    if (left === 0) table.delete(name);
    else table.set(name, left);
  };
}

/** The methods of `Registrations` over `names`. */
export function registrationsOf(names: RegisteredNames): {
  registeredQueries(): string[];
  registeredCommands(): string[];
  registeredTasks(): string[];
  registeredEvents(): RegisteredEvent[];
} {
  return {
    registeredQueries: () => sortedNames(names.query),
    registeredCommands: () => sortedNames(names.command),
    registeredTasks: () => sortedNames(names.task),
    registeredEvents: () =>
      sortedNames(names.event).map((type) => ({
        type,
        subscribers: names.event.get(type)!,
      })),
  };
}

function sortedNames(table: ReadonlyMap<string, unknown>): string[] {
  return [...table.keys()].sort();
}

type Method = "send" | "execute" | "publish" | "dispatch";

function sessionIdOption(id: unknown): string {
  if (id === undefined) return newId();
  if (!isPlainId(id)) {
    throw new TypeError(
      `Cannot open a session as its id must be ${PLAIN_ID}: current value is ${
        typeof id === "string"
          ? JSON.stringify(id)
          : id === null
          ? "null"
          : typeof id
      }`,
    );
  }
  return id;
}

// A handler that counts itself in flight until its promise settles; it keeps
// the arity of the handler it wraps (a handler of one parameter gets no
// context) and its name (what observers, records and dead letters show).
function counted(
  handler: Handler,
  track: (result: unknown) => unknown,
): Handler {
  const wrapped: Handler = handler.length === 1
    ? (message) => track(handler(message, undefined))
    : (message, context) => track(handler(message, context));
  return Object.defineProperty(wrapped, "name", { value: handler.name });
}

/** The sessions of one bus. */
export function createSessions(
  registry: Registry,
  router: Router,
  root: Context,
  async: boolean,
): Sessions {
  let active = 0;
  let refused: string | undefined;
  // Each open session's close(), and what removes its registrations now.
  const closers = new Map<() => void | Promise<void>, () => void>();

  function open(given?: string): object {
    if (refused !== undefined) throw new Error(refused);
    const id = sessionIdOption(given);
    active++;
    const removers = new Set<Unregister>();
    const names = registeredNames();
    let closed = false;
    let closing: Promise<void> | undefined;
    let inFlight = 0;
    let idle: (() => void) | undefined;

    function refuse(what: string): Error {
      return new Error(
        `Cannot ${what} through session "${id}": it is closed. Open a new session, or use the bus`,
      );
    }

    // On the asynchronous bus, close() waits for the session's handlers.
    function track(result: unknown): unknown {
      if (
        !async || typeof (result as { then?: unknown } | null)?.then !==
          "function"
      ) {
        return result;
      }
      inFlight++;
      const settled = () => {
        if (--inFlight === 0) idle?.();
      };
      (result as Promise<unknown>).then(settled, settled);
      return result;
    }

    function keep(
      kind: MessageKind,
      definition: AnyDefinition,
      registered: Unregister,
    ): Unregister {
      const uncount = countName(names, kind, definition.name);
      const remove = () => {
        uncount();
        registered();
      };
      removers.add(remove);
      return () => {
        removers.delete(remove);
        remove();
      };
    }

    function registerOne(
      method: "registerQuery" | "registerCommand" | "registerTask",
    ) {
      return (
        definition: AnyDefinition,
        handler: Handler,
        options?: unknown,
      ): Unregister => {
        if (closed) throw refuse(`${method}()`);
        return keep(
          KIND[method],
          definition,
          registry[method](
            definition,
            async && typeof handler === "function"
              ? counted(handler, track)
              : handler,
            id,
            options,
          ),
        );
      };
    }

    function subscribe(
      definition: AnyDefinition,
      handler: Handler,
      options?: SubscribeOptions,
    ): Unregister {
      if (closed) throw refuse("subscribe()");
      const module = options?.module ?? id;
      return keep(
        "event",
        definition,
        registry.subscribe(
          definition,
          async && typeof handler === "function"
            ? counted(handler, track)
            : handler,
          options === undefined ? { module } : { ...options, module },
        ),
      );
    }

    function dispatching(method: Method) {
      return (message: AnyMessage, options?: unknown): unknown => {
        if (closed) {
          const error = refuse(`${method}()`);
          if (async) return Promise.reject(error);
          throw error;
        }
        return router.withOptions(method, message, root, options ?? {}, id);
      };
    }

    function removeAll(): void {
      if (!closers.delete(close)) return;
      closed = true;
      for (const remove of [...removers]) remove();
      removers.clear();
      active--;
    }

    function close(): void | Promise<void> {
      if (!async) {
        if (closed) return;
        closed = true;
        removeAll();
        return;
      }
      closing ??= (async () => {
        closed = true;
        if (inFlight > 0) {
          await new Promise<void>((resolve) => (idle = resolve));
        }
        removeAll();
      })();
      return closing;
    }

    closers.set(close, removeAll);
    const session = {
      id,
      ...registrationsOf(names),
      send: dispatching("send"),
      execute: dispatching("execute"),
      publish: dispatching("publish"),
      dispatch: dispatching("dispatch"),
      registerQuery: registerOne("registerQuery"),
      registerCommand: registerOne("registerCommand"),
      registerTask: registerOne("registerTask"),
      subscribe,
      close,
    };
    return async
      ? Object.assign(session, {
        [Symbol.asyncDispose]: close as () => Promise<void>,
      })
      : Object.assign(session, { [Symbol.dispose]: close as () => void });
  }

  return {
    open,
    get active() {
      return active;
    },
    closeAll() {
      refused ??=
        "Cannot open a session: the bus is closed (close() was called)";
      const closing = [...closers.keys()].map((close) => close());
      return async ? Promise.all(closing).then(() => {}) : undefined;
    },
    removeAll() {
      for (const remove of [...closers.values()]) remove();
    },
  };
}

const KIND = {
  registerQuery: "query",
  registerCommand: "command",
  registerTask: "task",
} as const;
