// Dispatch contexts: what a handler gets as its second argument and a
// middleware as its third. One root context per bus serves every dispatch
// that sets nothing, so the common path allocates nothing; a caller's options
// or a middleware's change derive a child context.
import type { AnyMessage } from "./messages.ts";
import type { ContextChange, HandlerObserver } from "./types.ts";

/** A signal that never aborts: the root context's. */
const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/** The names of the dispatch methods. */
export type Method = "send" | "execute" | "publish" | "dispatch";

/** The bus's dispatch entry points that take a parent context. */
export interface Router {
  send(message: AnyMessage, context: Context): unknown;
  execute(message: AnyMessage, context: Context): unknown;
  publish(message: AnyMessage, context: Context): unknown;
  dispatch(message: AnyMessage, context: Context): unknown;
  /** A dispatch with the caller's options, under `context`. */
  withOptions(
    method: Method,
    message: AnyMessage,
    context: Context,
    options: unknown,
  ): unknown;
}

type Bound = (message: AnyMessage, options?: unknown) => unknown;

/**
 * A dispatch context. The dispatch methods are created on first use and
 * bound to the context nested dispatches start from, so `const { send } =
 * context` works and nested dispatches inherit the signal and deadline.
 */
export class Context {
  #nested?: Context;
  #send?: Bound;
  #execute?: Bound;
  #publish?: Bound;
  #dispatch?: Bound;

  constructor(
    readonly router: Router,
    readonly signal: AbortSignal,
    readonly deadline: number | undefined,
    readonly attempt: number,
    readonly id: string | undefined,
    readonly subscriber: string | undefined,
    /** Read by the bus's terminal dispatch; not part of the public type. */
    readonly observer: HandlerObserver | undefined,
  ) {}

  /**
   * The context nested dispatches start from: this one's signal and
   * deadline, and none of what belongs to this dispatch alone (attempt, id,
   * subscriber, observer).
   */
  nested(): Context {
    if (
      this.attempt === 1 && this.id === undefined &&
      this.subscriber === undefined && this.observer === undefined
    ) {
      return this;
    }
    return this.#nested ??= new Context(
      this.router,
      this.signal,
      this.deadline,
      1,
      undefined,
      undefined,
      undefined,
    );
  }

  #bind(method: Method): Bound {
    const { router } = this;
    const parent = this.nested();
    const dispatch = router[method];
    return (message, options) =>
      options === undefined
        ? dispatch(message, parent)
        : router.withOptions(method, message, parent, options);
  }

  get send(): Bound {
    return this.#send ??= this.#bind("send");
  }

  get execute(): Bound {
    return this.#execute ??= this.#bind("execute");
  }

  get publish(): Bound {
    return this.#publish ??= this.#bind("publish");
  }

  get dispatch(): Bound {
    return this.#dispatch ??= this.#bind("dispatch");
  }
}

/** The root context of a bus. */
export function rootContext(router: Router): Context {
  return new Context(
    router,
    NEVER_ABORTED,
    undefined,
    1,
    undefined,
    undefined,
    undefined,
  );
}

// Both observers are told, the inner one first.
function both(outer: HandlerObserver, inner: HandlerObserver): HandlerObserver {
  return {
    onAttempt: (attempt) => {
      inner.onAttempt?.(attempt);
      outer.onAttempt?.(attempt);
    },
    onCall: (call) => {
      inner.onCall?.(call);
      outer.onCall?.(call);
    },
    onError: (failure) => {
      inner.onError?.(failure);
      outer.onError?.(failure);
    },
  };
}

/** A child of `parent` with `change` applied; `parent` when nothing changes. */
export function derive(parent: Context, change: ContextChange): Context {
  const signal = change.signal ?? parent.signal;
  const deadline = change.deadline === undefined
    ? parent.deadline
    : parent.deadline === undefined
    ? change.deadline
    : Math.min(parent.deadline, change.deadline);
  const attempt = change.attempt ?? parent.attempt;
  // Observers outside are told of a new try.
  if (attempt !== parent.attempt) parent.observer?.onAttempt?.(attempt);
  const observer = change.observer === undefined
    ? parent.observer
    : parent.observer === undefined
    ? change.observer
    : both(parent.observer, change.observer);
  if (
    signal === parent.signal && deadline === parent.deadline &&
    attempt === parent.attempt && observer === parent.observer
  ) {
    return parent;
  }
  return new Context(
    parent.router,
    signal,
    deadline,
    attempt,
    parent.id,
    parent.subscriber,
    observer,
  );
}

/** What a caller's dispatch options ask for, checked. */
export interface CallerOptions {
  readonly signal: AbortSignal | undefined;
  readonly id: string | undefined;
  readonly subscriber: string | undefined;
}

function optionError(
  method: string,
  name: string,
  what: string,
  value: unknown,
) {
  return new TypeError(
    `Cannot ${method}() as '${name}' must be ${what}: current value is ${
      value === null
        ? "null"
        : typeof value === "string"
        ? JSON.stringify(value)
        : typeof value
    }`,
  );
}

/** Checks a caller's dispatch options; throws a TypeError naming a bad one. */
export function callerOptions(method: string, options: unknown): CallerOptions {
  if (typeof options !== "object" || options === null) {
    throw optionError(method, "options", "an object", options);
  }
  const { signal, id, subscriber } = options as Record<string, unknown>;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw optionError(method, "signal", "an AbortSignal", signal);
  }
  if (id !== undefined && (typeof id !== "string" || id === "")) {
    throw optionError(method, "id", "a non-empty string", id);
  }
  if (subscriber !== undefined) {
    if (method !== "publish") {
      throw new TypeError(
        `Cannot ${method}() with a 'subscriber' option: only publish() delivers to one subscriber`,
      );
    }
    if (typeof subscriber !== "string" || subscriber === "") {
      throw optionError(method, "subscriber", "a non-empty string", subscriber);
    }
  }
  return { signal, id, subscriber } as CallerOptions;
}

/**
 * The context a dispatch with caller options runs in: a child of `parent`
 * with the caller's signal (joined with the parent's), id and subscriber.
 */
export function withCaller(parent: Context, options: CallerOptions): Context {
  const { signal, id, subscriber } = options;
  if (signal === undefined && id === undefined && subscriber === undefined) {
    return parent;
  }
  return new Context(
    parent.router,
    signal === undefined
      ? parent.signal
      : parent.signal === NEVER_ABORTED
      ? signal
      : AbortSignal.any([parent.signal, signal]),
    parent.deadline,
    parent.attempt,
    id ?? parent.id,
    subscriber ?? parent.subscriber,
    parent.observer,
  );
}

/**
 * Runs an asynchronous dispatch under a caller's signal: it rejects with the
 * signal's reason as soon as the signal aborts (at once when it already has).
 */
export function underSignal<T>(
  signal: AbortSignal,
  run: () => Promise<T>,
): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    run().then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
