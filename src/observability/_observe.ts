// The pattern the observing middleware share: time a dispatch, sync or
// async, and report how it ended without changing what the caller sees.
import type { AnyMessage } from "../core/messages.ts";
import type {
  Middleware,
  MiddlewareContext,
  NextFunction,
} from "../core/types.ts";

/**
 * Told how a dispatch ended: `start` is the clock's reading at the start,
 * `failed` says whether `outcome` is a result or an error; `context` is the
 * dispatch's.
 */
export type Observer = (
  message: AnyMessage,
  start: number,
  outcome: unknown,
  failed: boolean,
  context: MiddlewareContext,
) => void;

/**
 * A middleware that calls `observer` once per dispatch, when it returns or
 * throws, or when its promise settles. The result, or the error object,
 * reaches the caller unchanged.
 */
export function observing(observer: Observer, now: () => number): Middleware {
  return <M extends AnyMessage, R>(
    message: M,
    next: NextFunction<M, R>,
    context: MiddlewareContext,
  ): R => {
    const start = now();
    let result: R;
    try {
      result = next(message);
    } catch (error) {
      observer(message, start, error, true, context);
      throw error;
    }
    if (isPromise(result)) {
      return result.then(
        (value) => {
          observer(message, start, value, false, context);
          return value;
        },
        (error) => {
          observer(message, start, error, true, context);
          throw error;
        },
      ) as R;
    }
    observer(message, start, result, false, context);
    return result;
  };
}

// A revoked Proxy throws even on `instanceof`: it is not a promise.
function isPromise(value: unknown): value is Promise<unknown> {
  try {
    return value instanceof Promise;
  } catch {
    return false;
  }
}
