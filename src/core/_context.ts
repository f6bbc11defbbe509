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
import { isPlainId, PLAIN_ID } from "./_ids.ts";

export { isPlainId, PLAIN_ID };

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
).join("") + "-";
let counter = 0;

/** A new dispatch id. */
export function newId(): string {
  // Decimal: V8 turns an integer into a decimal string much faster than into
  // any other base.
  return PREFIX + (++counter);
}

/**
 * What a context shares with the contexts it derives and the dispatches it
 * starts, unless they change it: made once per bus, and again only where a
 * caller or a middleware changes one of these.
 */
interface Scope {
  readonly router: Router;
  readonly signal: AbortSignal;
  readonly deadline: number | undefined;
  readonly data: Readonly<ContextData>;
  readonly sessionId: string | undefined;
}

/** What belongs to one dispatch alone, when it is not the default. */
interface State {
  readonly attempt: number;
  readonly subscriber: string | undefined;
  readonly observer: HandlerObserver | undefined;
}

/** The rarely used parts of a context, made when first needed. */
interface Extra {
  nested?: Context;
  bound?: Bound[];
  emitted?: AnyMessage[] | undefined;
}

/**
 * A dispatch context or a scope. It is kept small (a dispatch through
 * middleware makes one): what it shares lives in `scope`, what a middleware
 * changed in `state`. The dispatch methods are created on first use and
 * bound to the context nested dispatches start from, so
 * `const { send } = context` works.
 */
export class Context {
  /** The dispatch this context belongs to; `undefined` for a scope. */
  readonly identity: Context | undefined;
  /**
   * Made by a dispatch's entry and not yet handed to a handler: the handler
   * takes it instead of making its own.
   */
  fresh: boolean;
  /** For a handler's context: the module its dispatches come from. */
  handlerModule: string | undefined;
  #id: string | undefined;
  #extra: Extra | undefined;
  #closed: boolean;
  // On a scope, while a synchronous chain runs a dispatch with it (see
  // enterFrame): `null` until something needs the dispatch, then the dispatch.
  #frame: Context | null | undefined;

  constructor(
    readonly scope: Scope,
    readonly state: State | undefined,
    identity: Context | undefined | "self",
    /**
     * For a dispatch: the context it was started from, which gives its cause
     * and origin. For a scope: the dispatch that causes what it starts.
     */
    readonly parent: Context | undefined,
    id: string | undefined,
    fresh: boolean,
    handlerModule: string | undefined,
  ) {
    this.identity = identity === "self" ? this : identity;
    this.#id = id;
    this.#extra = undefined;
    this.#closed = false;
    this.#frame = undefined;
    this.fresh = fresh;
    this.handlerModule = handlerModule;
  }

  get router(): Router {
    return this.scope.router;
  }

  get signal(): AbortSignal {
    return this.scope.signal;
  }

  get deadline(): number | undefined {
    return this.scope.deadline;
  }

  get data(): Readonly<ContextData> {
    return this.scope.data;
  }

  get sessionId(): string | undefined {
    return this.scope.sessionId;
  }

  get attempt(): number {
    return this.state === undefined ? 1 : this.state.attempt;
  }

  get subscriber(): string | undefined {
    return this.state?.subscriber;
  }

  /** Read by the bus's terminal dispatch; not part of the public type. */
  get observer(): HandlerObserver | undefined {
    return this.state?.observer;
  }

  /**
   * For a dispatch: the dispatch that caused it. For a scope: the cause of
   * the dispatches started from it.
   */
  get cause(): Context | undefined {
    const identity = this.identity;
    if (identity === undefined) return this.parent;
    if (identity !== this) return identity.cause;
    const parent = this.parent;
    return parent === undefined ? undefined : parent.identity ?? parent.cause;
  }

  /** For a dispatch: the module of the handler that started it. */
  get origin(): string | undefined {
    const identity = this.identity ?? this.framed();
    if (identity === undefined) return undefined;
    if (identity !== this) return identity.origin;
    return this.parent?.handlerModule;
  }

  get id(): string {
    const identity = this.identity ?? this.framed();
    if (identity === this) return this.#id ??= newId();
    return identity === undefined ? newId() : identity.id;
  }

  get correlationId(): string {
    const identity = this.identity ?? this.framed();
    if (identity === undefined) return this.id;
    const cause = identity.cause;
    return cause === undefined ? identity.id : cause.correlationId;
  }

  get causationId(): string | undefined {
    return (this.identity ?? this.framed())?.cause?.id;
  }

  /**
   * A synchronous chain runs a dispatch under this scope without making a
   * context for it: most dispatches never need one (their middleware and
   * handlers read no identity), and making one costs more than the chain.
   * Nested synchronous dispatches each have their frame; the caller restores
   * the one returned.
   */
  enterFrame(): Context | null | undefined {
    const saved = this.#frame;
    this.#frame = null;
    return saved;
  }

  /** Ends the frame `enterFrame()` began, restoring the one it returned. */
  leaveFrame(saved: Context | null | undefined): void {
    this.#frame = saved;
  }

  /**
   * On a scope inside a frame: the frame's dispatch, made now if it was not
   * (fresh: the handler takes it). Otherwise `undefined`.
   */
  framed(): Context | undefined {
    const frame = this.#frame;
    if (frame === undefined) return undefined;
    return frame ?? (this.#frame = newDispatch(this, true));
  }

  /**
   * The context nested dispatches start from: this one, when it carries
   * nothing that belongs to this dispatch alone; else a scope with its
   * signal, deadline, data and session, whose dispatches this one caused.
   */
  nested(): Context {
    if (this.state === undefined && !this.fresh) return this;
    const extra = this.#extra ??= {};
    return extra.nested ??= new Context(
      this.scope,
      undefined,
      undefined,
      this.identity ?? this.cause,
      undefined,
      false,
      this.handlerModule,
    );
  }

  #bind(method: Method): Bound {
    const router = this.scope.router;
    const parent = this.nested();
    const dispatch = router[method];
    return (message, options) =>
      options === undefined
        ? dispatch(message, parent)
        : router.withOptions(method, message, parent, options);
  }

  #method(index: number, method: Method): Bound {
    const extra = this.#extra ??= {};
    const bound = extra.bound ??= [];
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

  /** Cascades `message` once the handler succeeds; see `takeEmitted()`. */
  get emit(): (message: AnyMessage) => void {
    return (message) => {
      if (this.#closed) {
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
      const extra = this.#extra ??= {};
      (extra.emitted ??= []).push(message);
    };
  }

  /**
   * The messages the handler emitted, in order, and no more emits after
   * this; `undefined` when it emitted none.
   */
  takeEmitted(): AnyMessage[] | undefined {
    this.#closed = true;
    const extra = this.#extra;
    if (extra === undefined) return undefined;
    const emitted = extra.emitted;
    extra.emitted = undefined;
    return emitted;
  }

  /** Drops what the handler emitted (it failed), and no more emits. */
  discardEmitted(): void {
    this.#closed = true;
    if (this.#extra !== undefined) this.#extra.emitted = undefined;
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
    {
      router,
      signal: NEVER_ABORTED,
      deadline: undefined,
      data: NO_DATA,
      sessionId: undefined,
    },
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
    parent.scope,
    undefined,
    "self",
    parent,
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
  if (parent.identity === undefined) {
    const framed = parent.framed();
    if (framed?.fresh) {
      framed.fresh = false;
      return framed;
    }
  }
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
  const identity = dispatch.identity;
  return new Context(
    dispatch.scope,
    dispatch.state,
    identity ?? "self",
    identity === undefined ? dispatch : identity.parent,
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
  // A middleware changing a framed dispatch: the dispatch is made now.
  if (parent.identity === undefined) parent = parent.framed() ?? parent;
  const scope = parent.scope;
  const signal = change.signal ?? scope.signal;
  const deadline = change.deadline === undefined
    ? scope.deadline
    : scope.deadline === undefined
    ? change.deadline
    : Math.min(scope.deadline, change.deadline);
  const data = mergeData(scope.data, change.data);
  const attempt = change.attempt ?? parent.attempt;
  // Observers outside are told of a new try.
  if (attempt !== parent.attempt) parent.observer?.onAttempt?.(attempt);
  const observer = change.observer === undefined
    ? parent.observer
    : parent.observer === undefined
    ? change.observer
    : both(parent.observer, change.observer);
  const scopeChanged = signal !== scope.signal ||
    deadline !== scope.deadline || data !== scope.data;
  if (
    !scopeChanged && attempt === parent.attempt &&
    observer === parent.observer
  ) {
    return parent;
  }
  return new Context(
    scopeChanged ? { ...scope, signal, deadline, data } : scope,
    attempt === 1 && observer === undefined &&
      parent.subscriber === undefined
      ? undefined
      : { attempt, observer, subscriber: parent.subscriber },
    parent.identity,
    parent.parent,
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
  if (id !== undefined && !isPlainId(id)) {
    throw optionError(method, "id", PLAIN_ID, id);
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
  const scope = parent.scope;
  const changed = signal !== undefined || data !== undefined ||
    (sessionId !== undefined && sessionId !== scope.sessionId);
  return new Context(
    changed
      ? {
        router: scope.router,
        signal: signal === undefined
          ? scope.signal
          : scope.signal === NEVER_ABORTED
          ? signal
          : AbortSignal.any([scope.signal, signal]),
        deadline: scope.deadline,
        data: mergeData(scope.data, data),
        sessionId: sessionId ?? scope.sessionId,
      }
      : scope,
    subscriber === undefined
      ? undefined
      : { attempt: 1, subscriber, observer: undefined },
    "self",
    parent,
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

/** A dispatch that arrived from another process, as its headers tell it. */
export interface Inbound {
  readonly id: string;
  readonly correlationId: string | undefined;
  readonly causationId: string | undefined;
  /** The module of the handler that dispatched it, in its process. */
  readonly origin: string | undefined;
  readonly sessionId: string | undefined;
  readonly deadline: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly data: Readonly<ContextData>;
  /** Which delivery of it this is, from 1. */
  readonly attempt: number;
  /** For an event: the subscriber it is delivered to. */
  readonly subscriber: string | undefined;
}

/**
 * The context a dispatch from another process runs in here: the same id,
 * caused by a stand-in for its remote cause (so correlation and causation
 * carry over), with the remote deadline, data and session, and nested
 * dispatches going through `root`'s router.
 */
export function inboundContext(root: Context, inbound: Inbound): Context {
  const scope: Scope = {
    router: root.scope.router,
    signal: inbound.signal ?? NEVER_ABORTED,
    deadline: inbound.deadline,
    data: Object.isFrozen(inbound.data)
      ? inbound.data
      : Object.freeze({ ...inbound.data }),
    sessionId: inbound.sessionId,
  };
  const { correlationId, causationId } = inbound;
  let cause: Context | undefined;
  if (causationId !== undefined) {
    const outermost = correlationId !== undefined &&
        correlationId !== causationId
      ? new Context(
        scope,
        undefined,
        "self",
        undefined,
        correlationId,
        false,
        undefined,
      )
      : undefined;
    cause = new Context(
      scope,
      undefined,
      "self",
      outermost,
      causationId,
      false,
      undefined,
    );
  }
  // A scope whose dispatches `cause` caused, from the module `origin`.
  const parent = new Context(
    scope,
    undefined,
    undefined,
    cause,
    undefined,
    false,
    inbound.origin,
  );
  return new Context(
    scope,
    inbound.attempt === 1 && inbound.subscriber === undefined ? undefined : {
      attempt: inbound.attempt,
      subscriber: inbound.subscriber,
      observer: undefined,
    },
    "self",
    parent,
    inbound.id,
    true,
    undefined,
  );
}
