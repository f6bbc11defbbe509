// Builds a middleware chain around a terminal dispatch, once per bus method.
import { type Context, type ContextChange, derive } from "./_context.ts";

// Forwards to derive(). Module-local on purpose: V8 neither inlines nor
// ignores a call to an imported function in the chain (measured: ~7 ns per
// middleware), and only a middleware that changes the context gets here.
function changed(parent: Context, change: ContextChange): Context {
  return derive(parent, change);
}
import type { AsyncMiddleware, Middleware } from "./compose.ts";
import type { AnyMessage } from "./messages.ts";

/** A dispatch function as the chain sees it: a message and its context. */
export type Dispatch = (message: AnyMessage, context: Context) => unknown;

/** An asynchronous dispatch function as the chain sees it. */
export type AsyncDispatch = (
  message: AnyMessage,
  context: Context,
) => Promise<unknown>;

const IDLE = 0;
const CALLED = 2;

function misusedNext(state: number, message: AnyMessage): Error {
  const what = `${message.kind} "${message.type}"`;
  return new Error(
    state === CALLED
      ? `Middleware called next() twice while dispatching ${what}: call it at most once per dispatch`
      : `Middleware called next() for ${what} after it had returned: call next() before returning (on the synchronous bus) or use the asynchronous bus`,
  );
}

// The synchronous chain allocates nothing per dispatch. Each link keeps one
// variable: the context of the dispatch in its middleware (next() not yet
// called), CALLED once next() was called, or undefined outside any dispatch.
// It is saved and restored around the middleware call so that a nested
// dispatch through the same link (a handler that dispatches) has its own;
// the `finally` restores it even when the middleware throws.
const CALLED_MARK = { called: true } as unknown as Context;

function link(middleware: Middleware, inner: Dispatch): Dispatch {
  let current: Context | undefined;
  const next = (message: AnyMessage, change?: ContextChange): unknown => {
    const context = current;
    if (context === undefined || context === CALLED_MARK) {
      throw misusedNext(context === CALLED_MARK ? CALLED : IDLE, message);
    }
    current = CALLED_MARK;
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

/** Wraps `terminal` in `middleware`, the first being the outermost. */
export function chain(
  middleware: readonly Middleware[],
  terminal: Dispatch,
): Dispatch {
  let dispatch = terminal;
  for (let index = middleware.length - 1; index >= 0; index--) {
    dispatch = link(middleware[index]!, dispatch);
  }
  return dispatch;
}

/**
 * Marks a middleware that calls next() again after a failed attempt (retry):
 * its next() is not guarded against a second call.
 */
export const REPEATS_NEXT: unique symbol = Symbol("repeats next");

// An asynchronous middleware may call next() after an await, when other
// dispatches have run in between, so each dispatch gets its own guard.
function asyncLink(
  middleware: AsyncMiddleware,
  inner: AsyncDispatch,
): AsyncDispatch {
  // Retry calls next() again after a failed attempt: not guarded.
  const guarded = !(middleware as { [REPEATS_NEXT]?: true })[REPEATS_NEXT];
  return (message, context) => {
    let called = false;
    const next = (
      message: AnyMessage,
      change?: ContextChange,
    ): Promise<unknown> => {
      if (guarded) {
        if (called) throw misusedNext(CALLED, message);
        called = true;
      }
      return inner(
        message,
        change === undefined ? context : changed(context, change),
      );
    };
    try {
      return middleware(message, next, context as never);
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

/** Wraps `terminal` in asynchronous `middleware`, the first being the outermost. */
export function chainAsync(
  middleware: readonly AsyncMiddleware[],
  terminal: AsyncDispatch,
): AsyncDispatch {
  let dispatch = terminal;
  for (let index = middleware.length - 1; index >= 0; index--) {
    dispatch = asyncLink(middleware[index]!, dispatch);
  }
  return dispatch;
}

/** Checks a bus's `middleware` option and returns it as an array. */
export function middlewareOption<T>(
  factory: string,
  middleware: readonly T[] | undefined,
): readonly T[] {
  if (middleware === undefined) return [];
  if (!Array.isArray(middleware)) {
    throw new TypeError(
      `Cannot ${factory}() as 'middleware' must be an array of functions: current value is ${typeof middleware}`,
    );
  }
  middleware.forEach((entry, index) => {
    if (typeof entry !== "function") {
      throw new TypeError(
        `Cannot ${factory}() as 'middleware[${index}]' must be a function (message, next) => result: current value is ${
          entry === null ? "null" : typeof entry
        }`,
      );
    }
  });
  return [...middleware];
}
