// Builds a middleware chain around a terminal dispatch, once per bus method.
import type { AsyncMiddleware, Middleware } from "./compose.ts";
import type { AnyMessage } from "./messages.ts";

/** A dispatch function as the chain sees it. */
export type Dispatch = (message: AnyMessage) => unknown;

/** An asynchronous dispatch function as the chain sees it. */
export type AsyncDispatch = (message: AnyMessage) => Promise<unknown>;

const IDLE = 0;
const ACTIVE = 1;
const CALLED = 2;

function misusedNext(state: number, message: AnyMessage): Error {
  const what = `${message.kind} "${message.type}"`;
  return new Error(
    state === CALLED
      ? `Middleware called next() twice while dispatching ${what}: call it at most once per dispatch`
      : `Middleware called next() for ${what} after it had returned: call next() before returning (on the synchronous bus) or use the asynchronous bus`,
  );
}

// The synchronous chain allocates nothing per dispatch: each link keeps one
// state variable, saved and restored around the middleware call so that a
// nested dispatch through the same link (a handler that dispatches) sees its
// own state. The `finally` restores it even when the middleware throws.
function link(middleware: Middleware, inner: Dispatch): Dispatch {
  let state = IDLE;
  const next = (message: AnyMessage): unknown => {
    if (state !== ACTIVE) throw misusedNext(state, message);
    state = CALLED;
    return inner(message);
  };
  return (message) => {
    const outer = state;
    state = ACTIVE;
    try {
      return middleware(message, next);
    } finally {
      state = outer;
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

// An asynchronous middleware may call next() after an await, when other
// dispatches have run in between, so each dispatch gets its own guard.
function asyncLink(
  middleware: AsyncMiddleware,
  inner: AsyncDispatch,
): AsyncDispatch {
  return (message) => {
    let called = false;
    const next = (message: AnyMessage): Promise<unknown> => {
      if (called) throw misusedNext(CALLED, message);
      called = true;
      return inner(message);
    };
    try {
      return middleware(message, next);
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
