// Dispatch contexts: what a handler gets as its second argument. One root
// context per bus serves every dispatch that sets no signal or deadline, so
// the common path allocates nothing; a middleware (or a caller's signal)
// that narrows the deadline derives a child context.
import type { ContextChange as PublicChange } from "./interfaces.ts";
import type { AnyMessage } from "./messages.ts";

/** A signal that never aborts: the root context's. */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/**
 * Private slots that travel with a context to nested middleware and to the
 * bus, for the built-in middleware to talk to each other and to the bus.
 */
export interface ContextSlots {
  /** Told about each failing handler (name, error); set by deadLetter. */
  readonly onHandlerFailure?: (handler: string, error: unknown) => void;
  /** Counts attempts of one dispatch; set by deadLetter, bumped by retry. */
  readonly attempts?: { count: number };
}

const NO_SLOTS: ContextSlots = Object.freeze({});

/** What a middleware may change for the rest of a dispatch. */
export interface ContextChange extends PublicChange {
  /** Built-in middleware only. */
  readonly slots?: ContextSlots;
}

/** The bus's dispatch entry points that take a parent context. */
export interface Router {
  send(message: AnyMessage, context: Context): unknown;
  execute(message: AnyMessage, context: Context): unknown;
  publish(message: AnyMessage, context: Context): unknown;
  dispatch(message: AnyMessage, context: Context): unknown;
  /** The name of the handler of a query, command or task, for reports. */
  handlerName(message: AnyMessage): string | undefined;
  /** Whether dispatches return promises (the asynchronous bus). */
  readonly async: boolean;
}

/**
 * A dispatch context. The dispatch methods are created on first use and
 * bound to this context, so `const { send } = context` works and nested
 * dispatches inherit its signal and deadline.
 */
export class Context {
  readonly router: Router;
  readonly signal: AbortSignal;
  readonly deadline: number | undefined;
  readonly slots: ContextSlots;
  #send?: (message: AnyMessage) => unknown;
  #execute?: (message: AnyMessage) => unknown;
  #publish?: (message: AnyMessage) => unknown;
  #dispatch?: (message: AnyMessage) => unknown;

  constructor(
    router: Router,
    signal: AbortSignal,
    deadline: number | undefined,
    slots: ContextSlots,
  ) {
    this.router = router;
    this.signal = signal;
    this.deadline = deadline;
    this.slots = slots;
  }

  get send(): (message: AnyMessage) => unknown {
    return this.#send ??= (message) => this.router.send(message, this);
  }

  get execute(): (message: AnyMessage) => unknown {
    return this.#execute ??= (message) => this.router.execute(message, this);
  }

  get publish(): (message: AnyMessage) => unknown {
    return this.#publish ??= (message) => this.router.publish(message, this);
  }

  get dispatch(): (message: AnyMessage) => unknown {
    return this.#dispatch ??= (message) => this.router.dispatch(message, this);
  }
}

/** The root context of a bus. */
export function rootContext(router: Router): Context {
  return new Context(router, NEVER_ABORTED, undefined, NO_SLOTS);
}

/** A child of `parent` with `change` applied; `parent` when nothing changes. */
export function derive(
  parent: Context,
  change: ContextChange | undefined,
): Context {
  if (change === undefined) return parent;
  const signal = change.signal ?? parent.signal;
  const deadline = change.deadline === undefined
    ? parent.deadline
    : parent.deadline === undefined
    ? change.deadline
    : Math.min(parent.deadline, change.deadline);
  const slots = change.slots === undefined
    ? parent.slots
    : { ...parent.slots, ...change.slots };
  if (
    signal === parent.signal && deadline === parent.deadline &&
    slots === parent.slots
  ) {
    return parent;
  }
  return new Context(parent.router, signal, deadline, slots);
}

/** Checks a caller's `{ signal }` option. */
export function signalOption(
  method: string,
  options: { readonly signal?: AbortSignal } | undefined,
): AbortSignal | undefined {
  if (options === undefined) return undefined;
  const signal = options?.signal;
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) {
    throw new TypeError(
      `Cannot ${method}() as 'signal' must be an AbortSignal: current value is ${
        signal === null ? "null" : typeof signal
      }`,
    );
  }
  return signal;
}

/**
 * Runs a dispatch under a caller's signal: it rejects with the signal's
 * reason as soon as the signal aborts (at once when it already has), and the
 * handlers see the signal in their context.
 */
export function underSignal<T>(
  signal: AbortSignal,
  parent: Context,
  run: (context: Context) => Promise<T>,
): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  const context = derive(parent, {
    signal: parent.signal === NEVER_ABORTED
      ? signal
      : AbortSignal.any([parent.signal, signal]),
  });
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    run(context).then(
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
