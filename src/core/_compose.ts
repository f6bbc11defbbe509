// Composes a middleware list around a terminal dispatch, once per bus method:
// the first middleware is the outermost.
import { isAsyncOnly } from "./async_only.ts";
import { type Context, derive, entryContext } from "./_context.ts";
import type { AnyMessage } from "./messages.ts";
import type { AsyncMiddleware, ContextChange, Middleware } from "./types.ts";

/** A dispatch function as the chain sees it: a message and its context. */
export type Dispatch = (message: AnyMessage, context: Context) => unknown;

/** An asynchronous dispatch function as the chain sees it. */
export type AsyncDispatch = (
  message: AnyMessage,
  context: Context,
) => Promise<unknown>;

// Forwards to derive(). Declared in this module on purpose, for the reason
// _terminals.ts gives: V8 neither inlines nor drops a call to an imported
// function in the chain, and only a middleware that changes the context gets
// here.
function changed(parent: Context, change: ContextChange): Context {
  return derive(parent, change);
}

// Forwards to entryContext(), for the same reason.
function entered(parent: Context): Context {
  return entryContext(parent);
}

function misusedNext(twice: boolean, message: AnyMessage): Error {
  return new Error(
    twice
      ? `Middleware called next() twice while dispatching ${
        what(message)
      }: on the synchronous bus call it at most once per dispatch`
      : `Middleware called next() for ${
        what(message)
      } after it had returned: call next() before returning, or use the asynchronous bus`,
  );
}

function what(message: AnyMessage): string {
  return `${message.kind} "${message.type}"`;
}

// The synchronous chain allocates nothing per dispatch. Each link keeps one
// variable: the context of the dispatch in its middleware (next() not yet
// called), CALLED once next() was called, or undefined outside any dispatch.
// It is saved and restored around the middleware call so that a nested
// dispatch through the same link (a handler that dispatches) has its own;
// the `finally` restores it even when the middleware throws.
const CALLED = { called: true } as unknown as Context;

function link(middleware: Middleware, inner: Dispatch): Dispatch {
  let current: Context | undefined;
  const next = (message: AnyMessage, change?: ContextChange): unknown => {
    const context = current;
    if (context === undefined || context === CALLED) {
      throw misusedNext(context === CALLED, message);
    }
    current = CALLED;
    return inner(
      message,
      change === undefined ? context : changed(context, change),
    );
  };
  return (message, context) => {
    const outer = current;
    current = context;
    try {
      return middleware(message, next, context);
    } finally {
      current = outer;
    }
  };
}

// The outermost link of a synchronous chain also checks the message's kind
// and starts the dispatch: under a dispatch (or a fresh one), it makes the
// chain's context; under a scope, it runs the chain in a frame of the scope
// (Context.enterFrame). One link does what two would, in one try/finally,
// and the rare cases (another kind, a dispatch already made) are a function
// of their own: V8 inlines a chain only within a cumulative bytecode budget,
// and a separate frame function put a 3-middleware chain past it (execute
// went from 12 to 25 ns). Its next() is the same as link()'s.
function entryLink(
  kind: string,
  refuse: (message: AnyMessage) => Error,
  middleware: Middleware,
  inner: Dispatch,
): Dispatch {
  let current: Context | undefined;
  const next = (message: AnyMessage, change?: ContextChange): unknown => {
    const context = current;
    if (context === undefined || context === CALLED) {
      throw misusedNext(context === CALLED, message);
    }
    current = CALLED;
    return inner(
      message,
      change === undefined ? context : changed(context, change),
    );
  };
  // Under a dispatch, or for a message of another kind: off the hot path.
  const started = (message: AnyMessage, context: Context): unknown => {
    if (message?.kind !== kind) throw refuse(message);
    context = entered(context);
    const outer = current;
    current = context;
    try {
      return middleware(message, next, context);
    } finally {
      current = outer;
    }
  };
  return (message, context) => {
    if (
      message?.kind !== kind || context.identity !== undefined || context.fresh
    ) {
      return started(message, context);
    }
    const saved = context.enterFrame();
    const outer = current;
    current = context;
    try {
      return middleware(message, next, context);
    } finally {
      current = outer;
      context.leaveFrame(saved);
    }
  };
}

/**
 * Wraps `terminal` in `middleware` (at least one), the first being the
 * outermost, for the synchronous bus: the chain refuses messages of another
 * kind than `kind` with `refuse`'s error and starts each dispatch.
 */
export function composeEntry(
  kind: string,
  refuse: (message: AnyMessage) => Error,
  middleware: readonly Middleware[],
  terminal: Dispatch,
): Dispatch {
  const inner = compose(middleware.slice(1), terminal);
  return entryLink(kind, refuse, middleware[0]!, inner);
}

/** Wraps `terminal` in `middleware`, the first being the outermost. */
export function compose(
  middleware: readonly Middleware[],
  terminal: Dispatch,
): Dispatch {
  let dispatch = terminal;
  for (let index = middleware.length - 1; index >= 0; index--) {
    dispatch = link(middleware[index]!, dispatch);
  }
  return dispatch;
}

const NOT_YET = Symbol("not settled yet");
const NOT_YET_PROMISE = Promise.resolve(NOT_YET);

// Whether `promise` has settled: a settled promise's reaction is queued before
// the already resolved NOT_YET_PROMISE's, so it wins the race.
function settledYet(promise: Promise<unknown>): Promise<boolean> {
  return Promise.race([promise, NOT_YET_PROMISE]).then(
    (value) => value !== NOT_YET,
    () => true,
  );
}

// An asynchronous middleware may call next() after an await, when other
// dispatches have run in between, so each dispatch gets its own next(). It
// may call it again once the previous call has settled (retry); only then is
// the previous call checked, so the first call costs nothing more.
function asyncLink(
  middleware: AsyncMiddleware,
  inner: AsyncDispatch,
): AsyncDispatch {
  return (message, context) => {
    let last: Promise<unknown> | undefined;
    const next = (
      message: AnyMessage,
      change?: ContextChange,
    ): Promise<unknown> => {
      const into = change === undefined ? context : changed(context, change);
      if (last === undefined) return last = inner(message, into);
      return last = settledYet(last).then((settled) => {
        if (!settled) {
          throw new Error(
            `Middleware called next() again for ${
              what(message)
            } while its previous call was still pending: wait for it to settle before trying again`,
          );
        }
        return inner(message, into);
      });
    };
    try {
      return middleware(message, next, context as never);
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

/** Wraps `terminal` in asynchronous `middleware`, the first being the outermost. */
export function composeAsync(
  middleware: readonly AsyncMiddleware[],
  terminal: AsyncDispatch,
): AsyncDispatch {
  let dispatch = terminal;
  for (let index = middleware.length - 1; index >= 0; index--) {
    dispatch = asyncLink(middleware[index]!, dispatch);
  }
  return dispatch;
}

/**
 * Checks a bus's `middleware` option and returns a copy. The synchronous bus
 * (`asyncAllowed` false) refuses asynchronous-only middleware.
 */
export function middlewareOption<T>(
  factory: string,
  options: { readonly middleware?: readonly T[] } | undefined,
  asyncAllowed: boolean,
): readonly T[] {
  if (options === undefined) return [];
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot ${factory}() as its options must be an object ({ middleware }): current value is ${
        options === null ? "null" : typeof options
      }`,
    );
  }
  const middleware = options.middleware;
  if (middleware === undefined) return [];
  if (!Array.isArray(middleware)) {
    throw new TypeError(
      `Cannot ${factory}() as 'middleware' must be an array of functions: current value is ${typeof middleware}`,
    );
  }
  middleware.forEach((entry, index) => {
    if (typeof entry !== "function") {
      throw new TypeError(
        `Cannot ${factory}() as 'middleware[${index}]' must be a function (message, next, context) => result: current value is ${
          entry === null ? "null" : typeof entry
        }`,
      );
    }
    if (!asyncAllowed && isAsyncOnly(entry)) {
      throw new TypeError(
        `Cannot ${factory}() as 'middleware[${index}]' (${
          entry.name || "anonymous"
        }) works only on the asynchronous bus: it returns promises. Use createAsyncBus() for it`,
      );
    }
  });
  return [...middleware];
}
