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
import type { AnyDefinition, AnyMessage } from "./messages.ts";
import type { SubscribeOptions, Unregister } from "./types.ts";

/** A bus's sessions: how to open one, and how many are open. */
export interface Sessions {
  open(id?: string): object;
  readonly active: number;
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

  function open(given?: string): object {
    const id = sessionIdOption(given);
    active++;
    const removers = new Set<Unregister>();
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

    function keep(remove: Unregister): Unregister {
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

    const session = {
      id,
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
  };
}
