// Dispatch contexts: what a handler gets as its second argument and a
// middleware as its third.
//
// A context is either a dispatch (it has an identity: an id, made when first
// read, and the dispatch that caused it) or a scope (no identity of its own:
// a bus's root, or what nested dispatches start from). Dispatches are made
// only where someone can see them: at the entry of a middleware chain, and
// for a handler that takes a context parameter. A bus without middleware
// hands its one root scope to handlers that take no context, so that
// dispatch allocates nothing.
import type { AnyMessage } from "./messages.ts";
import type { ContextChange, ContextData, HandlerObserver } from "./types.ts";

/** A signal that never aborts: the root context's. */
const NEVER_ABORTED: AbortSignal = new AbortController().signal;

const NO_DATA: Readonly<ContextData> = Object.freeze({});

/** The names of the dispatch methods. */
export type Method = "send" | "execute" | "publish" | "dispatch";

/** The bus's dispatch entry points that take a parent context. */
export interface Router {
  send(message: AnyMessage, context: Context): unknown;
  execute(message: AnyMessage, context: Context): unknown;
  publish(message: AnyMessage, context: Context): unknown;
  dispatch(message: AnyMessage, context: Context): unknown;
  /**
   * A dispatch with the caller's options, under `context`; `sessionId` for
   * one made through a session.
   */
  withOptions(
    method: Method,
    message: AnyMessage,
    context: Context,
    options: unknown,
    sessionId?: string,
  ): unknown;
}

type Bound = (message: AnyMessage, options?: unknown) => unknown;

// Ids: a random prefix per process and a counter, so ids are unique across
// processes without a random number per dispatch.
const PREFIX = Array.from(
  crypto.getRandomValues(new Uint8Array(6)),
  (byte) => byte.toString(36).padStart(2, "0"),
).join("");
let counter = 0;

/** A new dispatch id. */
export function newId(): string {
  return `${PREFIX}-${(++counter).toString(36)}`;
}

/** A scope's identity: none. A dispatch's: itself, or the one it derives from. */
type Identity = Context | undefined;

/**
 * A dispatch context or a scope. The dispatch methods are created on first
 * use and bound to the context nested dispatches start from, so
 * `const { send } = context` works.
 */
export class Context {
  /** The dispatch this context belongs to; `undefined` for a scope. */
  readonly identity: Identity;
  /**
   * Made by a dispatch's entry and not yet handed to a handler: the handler
   * takes it instead of making its own.
   */
  fresh: boolean;
  /** For a handler's context: the module its dispatches come from. */
  handlerModule: string | undefined;
  #id: string | undefined;
  #nested: Context | undefined;
  #bound: Bound[] | undefined;
  #emitted: AnyMessage[] | undefined;
  #emitClosed = false;

  constructor(
    readonly router: Router,
    readonly signal: AbortSignal,
    readonly deadline: number | undefined,
    readonly attempt: number,
    readonly subscriber: string | undefined,
    /** Read by the bus's terminal dispatch; not part of the public type. */
    readonly observer: HandlerObserver | undefined,
    readonly data: Readonly<ContextData>,
    readonly sessionId: string | undefined,
    identity: Identity | "self",
    /** For a dispatch: the one that caused it. For a scope: the cause of the dispatches started from it. */
    readonly cause: Context | undefined,
    /** For a dispatch: the module of the handler that made it. */
    readonly origin: string | undefined,
    id: string | undefined,
    fresh: boolean,
    handlerModule: string | undefined,
  ) {
    this.identity = identity === "self" ? this : identity;
    this.#id = id;
    this.fresh = fresh;
    this.handlerModule = handlerModule;
  }

  get id(): string {
    const identity = this.identity;
    if (identity === this) return this.#id ??= newId();
    return identity === undefined ? newId() : identity.id;
  }

  get correlationId(): string {
    const identity = this.identity;
    if (identity === undefined) return this.id;
    const cause = identity.cause;
    return cause === undefined ? identity.id : cause.correlationId;
  }

  get causationId(): string | undefined {
    return this.identity?.cause?.id;
  }

  /**
   * The context nested dispatches start from: this one, when it carries
   * nothing that belongs to this dispatch alone; else a scope with its
   * signal, deadline, data and session, whose dispatches this one caused.
   */
  nested(): Context {
    if (
      this.attempt === 1 && this.subscriber === undefined &&
      this.observer === undefined && !this.fresh
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
      this.data,
      this.sessionId,
      undefined,
      this.identity ?? this.cause,
      undefined,
      undefined,
      false,
      this.handlerModule,
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

  #method(index: number, method: Method): Bound {
    const bound = this.#bound ??= [];
    return bound[index] ??= this.#bind(method);
  }

  get send(): Bound {
    return this.#method(0, "send");
  }

  get execute(): Bound {
    return this.#method(1, "execute");
  }

  get publish(): Bound {
    return this.#method(2, "publish");
  }

  get dispatch(): Bound {
    return this.#method(3, "dispatch");
  }

  /** Cascades `message` once the handler succeeds; see `emitted()`. */
  get emit(): (message: AnyMessage) => void {
    return (message) => {
      if (this.#emitClosed) {
        throw new TypeError(
          `Cannot emit() ${
            describeMessage(message)
          } after its handler finished: dispatch it through the context (send, execute, publish, dispatch) instead`,
        );
      }
      if (
        typeof message !== "object" || message === null ||
        !["command", "event", "task"].includes(
          (message as { kind?: unknown }).kind as string,
        ) || typeof (message as { type?: unknown }).type !== "string"
      ) {
        throw new TypeError(
          `Cannot emit() ${
            describeMessage(message)
          }: emit() takes commands, events and tasks, built by their definitions; ask a query with send()`,
        );
      }
      (this.#emitted ??= []).push(message);
    };
  }

  /**
   * The messages the handler emitted, in order, and no more emits after
   * this; `undefined` when it emitted none.
   */
  takeEmitted(): AnyMessage[] | undefined {
    this.#emitClosed = true;
    const emitted = this.#emitted;
    this.#emitted = undefined;
    return emitted;
  }

  /** Drops what the handler emitted (it failed), and no more emits. */
  discardEmitted(): void {
    this.#emitClosed = true;
    this.#emitted = undefined;
  }
}

function describeMessage(message: unknown): string {
  if (typeof message !== "object" || message === null) return String(message);
  const { kind, type } = message as { kind?: unknown; type?: unknown };
  return typeof kind === "string" && typeof type === "string"
    ? `${kind} "${type}"`
    : "a value that is not a message";
}

/** The root scope of a bus. */
export function rootContext(router: Router): Context {
  return new Context(
    router,
    NEVER_ABORTED,
    undefined,
    1,
    undefined,
    undefined,
    NO_DATA,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    false,
    undefined,
  );
}

/**
 * A new dispatch under `parent` (a scope, or the dispatch that causes it):
 * the parent's signal, deadline, data and session; an id made when read.
 */
export function newDispatch(parent: Context, fresh: boolean): Context {
  return new Context(
    parent.router,
    parent.signal,
    parent.deadline,
    1,
    undefined,
    undefined,
    parent.data,
    parent.sessionId,
    "self",
    parent.identity ?? parent.cause,
    parent.handlerModule,
    undefined,
    fresh,
    undefined,
  );
}

/**
 * The context a dispatch entry runs in: `parent` itself when its entry made
 * it for this dispatch already, else a new dispatch.
 */
export function entryContext(parent: Context): Context {
  return parent.fresh ? parent : newDispatch(parent, true);
}

/**
 * The context a handler runs in: the dispatch made for it (taken: no longer
 * fresh), or a new one.
 */
export function handlerContext(parent: Context): Context {
  if (parent.fresh) {
    parent.fresh = false;
    return parent;
  }
  return newDispatch(parent, false);
}

/**
 * The context one subscriber of a publish runs in: the publish's dispatch,
 * with an emit queue and a module of its own.
 */
export function subscriberContext(
  dispatch: Context,
  handlerModule: string | undefined,
): Context {
  return new Context(
    dispatch.router,
    dispatch.signal,
    dispatch.deadline,
    dispatch.attempt,
    dispatch.subscriber,
    undefined,
    dispatch.data,
    dispatch.sessionId,
    dispatch.identity ?? "self",
    dispatch.cause,
    dispatch.origin,
    undefined,
    false,
    handlerModule,
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

function mergeData(
  parent: Readonly<ContextData>,
  change: Readonly<Partial<ContextData>> | undefined,
): Readonly<ContextData> {
  if (change === undefined) return parent;
  return Object.freeze({ ...parent, ...change });
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
  const data = mergeData(parent.data, change.data);
  if (
    signal === parent.signal && deadline === parent.deadline &&
    attempt === parent.attempt && observer === parent.observer &&
    data === parent.data
  ) {
    return parent;
  }
  return new Context(
    parent.router,
    signal,
    deadline,
    attempt,
    parent.subscriber,
    observer,
    data,
    parent.sessionId,
    parent.identity,
    parent.cause,
    parent.origin,
    undefined,
    // A middleware changes the context of a dispatch its chain's entry made:
    // the change is for the handler (another try, say) to take.
    parent.identity !== undefined,
    parent.handlerModule,
  );
}

/** What a caller's dispatch options ask for, checked. */
export interface CallerOptions {
  readonly signal: AbortSignal | undefined;
  readonly id: string | undefined;
  readonly subscriber: string | undefined;
  readonly data: Readonly<Partial<ContextData>> | undefined;
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
  const { signal, id, subscriber, data } = options as Record<string, unknown>;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw optionError(method, "signal", "an AbortSignal", signal);
  }
  if (id !== undefined && (typeof id !== "string" || id === "")) {
    throw optionError(method, "id", "a non-empty string", id);
  }
  if (
    data !== undefined &&
    (typeof data !== "object" || data === null || Array.isArray(data))
  ) {
    throw optionError(method, "data", "an object of named values", data);
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
  return { signal, id, subscriber, data } as CallerOptions;
}

/**
 * The dispatch a call with options runs as: a new dispatch under `parent`
 * with the caller's signal (joined with the parent's), id, subscriber, data
 * and session.
 */
export function withCaller(
  parent: Context,
  options: CallerOptions,
  sessionId?: string,
): Context {
  const { signal, id, subscriber, data } = options;
  return new Context(
    parent.router,
    signal === undefined
      ? parent.signal
      : parent.signal === NEVER_ABORTED
      ? signal
      : AbortSignal.any([parent.signal, signal]),
    parent.deadline,
    1,
    subscriber,
    undefined,
    mergeData(parent.data, data),
    sessionId ?? parent.sessionId,
    "self",
    parent.identity ?? parent.cause,
    parent.handlerModule,
    id,
    true,
    undefined,
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
