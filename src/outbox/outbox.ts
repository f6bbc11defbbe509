// The transactional outbox, whatever the store: a message is written in the
// caller's transaction (`add`), and delivered afterwards, at least once, to a
// bus or a forwarder (`process`, `relay`). The store (`OutboxStore`: Deno KV,
// PostgreSQL, memory) keeps entries, hands out leases on the ones that are
// due, and wakes the relay; everything else (ids, JSON checks, retries with
// backoff, dead letters, per-key order across a batch) is here.
import { jsonSafety } from "../core/_codec.ts";
import { isPlainId, PLAIN_ID, uniqueId } from "../core/_ids.ts";
import { errorJson, toJsonValue } from "../core/_json.ts";
import { rateLimitedLog } from "../core/_rate_limited_log.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import type { MessageKind } from "../core/messages.ts";
import type {
  ContextData,
  DeadLetterRecord,
  DeadLetterRecordSink,
} from "../core/types.ts";

// ---------------------------------------------------------------------------
// The store seam

/** A message as the outbox keeps it: JSON-safe throughout. */
export interface OutboxEntry {
  /** Fixed at `add`, kept through every delivery: the idempotency key. */
  readonly id: string;
  /** The message's kind. */
  readonly kind: MessageKind;
  /** The message's name. */
  readonly type: string;
  /** The message's payload, as JSON data. */
  readonly payload: unknown;
  /** Entries with one key are delivered in the order they were added. */
  readonly orderingKey: string | null;
  /** The context data to deliver it with. */
  readonly data: Readonly<Record<string, unknown>> | null;
  /** How many deliveries were tried so far. */
  readonly attempts: number;
  /** When it was added, in epoch milliseconds. */
  readonly createdAt: number;
}

/** An entry the store leased to one relay. */
export interface OutboxClaim {
  /** The entry's id (also when it no longer decodes, if the store knows it). */
  readonly id: string;
  /** The entry; `undefined` when it no longer decodes (see `problem`). */
  readonly entry: OutboxEntry | undefined;
  /** Why it does not decode. */
  readonly problem?: string;
  /** The store's own handle on it (a key and versionstamp, a row). */
  readonly ref: unknown;
}

/**
 * What the outbox needs of a store. A store hands out leases: a claimed
 * entry is no one else's until it is completed, retried, buried or its
 * lease runs out (its relay died: it is claimed again, with the same id).
 */
export interface OutboxStore<Tx> {
  /** The store's name, for messages: "Deno KV". */
  readonly name: string;
  /**
   * Why `tx` is not a transaction this store can write into ("it is the
   * connection, not a transaction: use sql.begin()"), or `undefined`.
   */
  transactionProblem(tx: unknown): string | undefined;
  /** Writes `entry` as part of `tx`: it exists once, and only if, tx commits. */
  write(tx: Tx, entry: OutboxEntry): void | Promise<void>;
  /**
   * Leases up to `limit` entries that are due and unleased, oldest first,
   * each the oldest unfinished entry of its ordering key (so no two share a
   * key), for `leaseMs`.
   */
  claim(limit: number, leaseMs: number): Promise<OutboxClaim[]>;
  /** Forgets entries that were delivered. */
  complete(claims: readonly OutboxClaim[]): Promise<void>;
  /** Makes an entry due again after `delayMs`, one attempt more. */
  retry(claim: OutboxClaim, delayMs: number, error: string): Promise<void>;
  /** Marks an entry dead: never delivered again, no longer holding its key. */
  bury(claim: OutboxClaim, error: string): Promise<void>;
  /** How many entries wait (due or not, leased or not; not dead ones). */
  pending(): Promise<number>;
  /**
   * Resolves when entries may have been added (a notification), after `ms`
   * at the latest, or at once when `signal` aborts.
   */
  wait(ms: number, signal: AbortSignal): Promise<void>;
}

// ---------------------------------------------------------------------------
// The outbox

/** A message the outbox takes: built by a definition, or its JSON form. */
export interface OutboxMessage {
  /** The message's kind. */
  readonly kind: MessageKind;
  /** The message's name. */
  readonly type: string;
  /** Its payload, JSON data. */
  readonly payload?: unknown;
}

/** Options of `add`. */
export interface AddOptions {
  /**
   * The message's id, kept through every delivery (`context.id` of its
   * handler). Default: a new unique id.
   */
  readonly id?: string;
  /**
   * Messages with one key are delivered in the order they were added, each
   * after the one before it succeeded or went dead. Without a key, a message
   * waits for no other.
   */
  readonly orderingKey?: string;
  /** Context data (JSON) the message is delivered with. */
  readonly data?: Readonly<Partial<ContextData>>;
}

/** What a relay delivers to: a bus, or a function (see `forward`). */
export interface OutboxTarget {
  /** Delivers a query. */
  // deno-lint-ignore no-explicit-any
  send?(query: any, options?: any): unknown;
  /** Delivers a command. */
  // deno-lint-ignore no-explicit-any
  execute?(command: any, options?: any): unknown;
  /** Delivers an event. */
  // deno-lint-ignore no-explicit-any
  publish?(event: any, options?: any): unknown;
  /** Delivers a task. */
  // deno-lint-ignore no-explicit-any
  dispatch?(task: any, options?: any): unknown;
}

/** What a forwarder is told with each message. */
export interface ForwardInfo {
  /** The message's id, the same on every delivery. */
  readonly id: string;
  /** Which delivery this is, from 1. */
  readonly attempt: number;
  /** Its ordering key, if it has one. */
  readonly orderingKey: string | null;
  /** The context data it was added with. */
  readonly data: Readonly<Record<string, unknown>> | null;
}

/** A function that takes each message instead of a bus (see `forward`). */
export interface Forwarder {
  /** Delivers one message; a throw or a rejection is a failed delivery. */
  readonly forward: (
    message: OutboxMessage,
    info: ForwardInfo,
  ) => unknown;
}

/** Options of `process`. */
export interface ProcessOptions {
  /**
   * How many messages one pass leases and delivers at most (concurrently;
   * no two with one ordering key).
   *
   * @default {100}
   */
  readonly batchSize?: number;
}

/** Options of `relay`. */
export interface RelayOptions extends ProcessOptions {
  /**
   * How long the relay waits for a notification before it looks again,
   * in milliseconds.
   *
   * @default {1000}
   */
  readonly pollMs?: number;
  /** Stops the relay; `relay()` resolves once its pass in progress ends. */
  readonly signal?: AbortSignal;
}

/** A message the outbox gave up on, as its dead-letter store gets it. */
export type OutboxDeadLetter = DeadLetterRecord;

/**
 * Where the outbox puts messages it gave up on: any dead letter store of
 * `@monolith/message-bus/resilience` fits.
 */
export type OutboxDeadLetterSink = DeadLetterRecordSink<OutboxDeadLetter>;

/** Options every outbox takes. */
export interface OutboxOptions {
  /**
   * How many deliveries a message gets in all; after the last failure it goes
   * to `deadLetters` and is marked dead.
   *
   * @default {5}
   */
  readonly maxAttempts?: number;
  /**
   * The delay before a failed message is tried again, doubled at each
   * failure up to `maxRetryDelayMs`.
   *
   * @default {1000}
   */
  readonly retryDelayMs?: number;
  /**
   * The longest delay between two tries of a message.
   *
   * @default {60000}
   */
  readonly maxRetryDelayMs?: number;
  /**
   * How long a relay holds the messages it leased: a relay that dies
   * mid-delivery has its messages delivered again (same ids) after this.
   * Longer than a delivery takes.
   *
   * @default {30000}
   */
  readonly leaseMs?: number;
  /** Where messages given up go; without it they are reported and dropped. */
  readonly deadLetters?: OutboxDeadLetterSink;
  /**
   * Told of each failed delivery and of relay errors (a store that is down);
   * by default they are reported on the console, at most one line per 10 s.
   */
  readonly onError?: (
    error: unknown,
    message: OutboxMessage | undefined,
  ) => void;
  /** The clock of dead letters' `at`. @default {systemClock} */
  readonly clock?: Clock;
}

/**
 * A transactional outbox: `add` a message in the transaction that changes
 * the data it tells of; `process` or `relay` delivers it afterwards, at least
 * once, with the same id every time.
 */
export interface Outbox<Tx, Added = string> {
  /**
   * Adds `message` to `tx`: it is delivered once, and only if, `tx`
   * commits.
   *
   * @returns The message's id.
   * @throws {TypeError} When `tx` is not a transaction of this store, the
   * message is not a message, its payload or data is not JSON, or an option
   * is wrong: before anything is written.
   */
  add(tx: Tx, message: OutboxMessage, options?: AddOptions): Added;
  /**
   * One pass: leases due messages (up to `batchSize`), delivers each to
   * `target` by its kind (`send`, `execute`, `publish`, `dispatch`, with
   * `{ id, data }`), forgets those delivered, retries or buries the others.
   *
   * @returns How many were delivered.
   */
  process(
    target: OutboxTarget | Forwarder,
    options?: ProcessOptions,
  ): Promise<number>;
  /**
   * Processes until `signal` aborts: again at once while passes are full,
   * else when the store says messages were added, or every `pollMs`.
   */
  relay(
    target: OutboxTarget | Forwarder,
    options?: RelayOptions,
  ): Promise<void>;
  /** How many messages wait (not dead ones). */
  pending(): Promise<number>;
  /**
   * A target that hands each message to `forward` instead of a bus: to
   * push it to an external queue, say.
   */
  forward(
    forward: (message: OutboxMessage, info: ForwardInfo) => unknown,
  ): Forwarder;
}

const KINDS = new Set(["query", "command", "event", "task"]);
const METHOD = {
  query: "send",
  command: "execute",
  event: "publish",
  task: "dispatch",
} as const;

function integer(
  where: string,
  name: string,
  value: unknown,
  fallback: number,
  minimum: number,
): number {
  if (value === undefined) return fallback;
  if (
    typeof value !== "number" || !Number.isInteger(value) || value < minimum ||
    value > 2_147_483_647
  ) {
    throw new RangeError(
      `Cannot ${where} as '${name}' must be an integer from ${minimum} to 2147483647: current value is ${
        typeof value === "number" ? value : typeof value
      }`,
    );
  }
  return value;
}

/**
 * Creates an outbox over `store`; the stores' factories (`createKvOutbox`,
 * `createPostgresOutbox`, `createMemoryOutbox`) call it.
 */
export function createOutbox<Tx, Added = string>(
  store: OutboxStore<Tx>,
  factory: string,
  options: OutboxOptions = {},
): Outbox<Tx, Added> {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Cannot ${factory}() as its options must be an object`);
  }
  const maxAttempts = integer(
    factory,
    "maxAttempts",
    options.maxAttempts,
    5,
    1,
  );
  const retryDelayMs = integer(
    factory,
    "retryDelayMs",
    options.retryDelayMs,
    1_000,
    0,
  );
  const maxRetryDelayMs = integer(
    factory,
    "maxRetryDelayMs",
    options.maxRetryDelayMs,
    60_000,
    0,
  );
  const leaseMs = integer(factory, "leaseMs", options.leaseMs, 30_000, 1);
  const deadLetters = options.deadLetters;
  if (deadLetters !== undefined && typeof deadLetters?.add !== "function") {
    throw new TypeError(
      `Cannot ${factory}() as 'deadLetters' must be a dead letter store (with add(letter))`,
    );
  }
  const onError = options.onError;
  if (onError !== undefined && typeof onError !== "function") {
    throw new TypeError(`Cannot ${factory}() as 'onError' must be a function`);
  }
  const clock = options.clock ?? systemClock;
  const log = rateLimitedLog(
    (line, error) => console.error(line, error),
    clock,
    clock === systemClock,
  );

  function report(
    error: unknown,
    message: OutboxMessage | undefined,
    line: string,
  ): void {
    if (onError !== undefined) {
      try {
        onError(error, message);
      } catch (failure) {
        log.report(`${factory}: onError threw`, failure);
      }
      return;
    }
    log.report(`${factory}: ${line}`, error);
  }

  function entryOf(
    message: OutboxMessage,
    given: AddOptions | undefined,
  ): OutboxEntry {
    const where = "add() to the outbox";
    if (
      typeof message !== "object" || message === null ||
      !KINDS.has((message as { kind?: unknown }).kind as string) ||
      typeof message.type !== "string" || message.type === ""
    ) {
      throw new TypeError(
        `Cannot ${where}: it takes a message built by its definition (defineEvent(), defineCommand(), ...), not ${
          message === null ? "null" : typeof message
        }`,
      );
    }
    const what = `${message.kind} "${message.type}"`;
    const addOptions = given ?? {};
    if (typeof addOptions !== "object" || addOptions === null) {
      throw new TypeError(
        `Cannot ${where} ${what} as its options must be an object`,
      );
    }
    const { id, orderingKey, data } = addOptions;
    if (id !== undefined && !isPlainId(id)) {
      throw new TypeError(
        `Cannot ${where} ${what} as 'id' must be ${PLAIN_ID}`,
      );
    }
    if (
      orderingKey !== undefined &&
      (typeof orderingKey !== "string" || orderingKey === "")
    ) {
      throw new TypeError(
        `Cannot ${where} ${what} as 'orderingKey' must be a non-empty string`,
      );
    }
    const payloadProblem = jsonSafety(message.payload, "payload");
    if (payloadProblem !== undefined) {
      throw new TypeError(
        `Cannot ${where} ${what}: ${payloadProblem} (the outbox keeps messages as JSON)`,
      );
    }
    if (
      data !== undefined &&
      (typeof data !== "object" || data === null || Array.isArray(data))
    ) {
      throw new TypeError(
        `Cannot ${where} ${what} as 'data' must be an object of named values`,
      );
    }
    const dataProblem = data === undefined
      ? undefined
      : jsonSafety(data, "data");
    if (dataProblem !== undefined) {
      throw new TypeError(`Cannot ${where} ${what}: ${dataProblem}`);
    }
    return {
      id: id ?? uniqueId(),
      kind: message.kind,
      type: message.type,
      payload: message.payload ?? null,
      orderingKey: orderingKey ?? null,
      data: (data as Record<string, unknown> | undefined) ?? null,
      attempts: 0,
      createdAt: Date.now(),
    };
  }

  function add(tx: Tx, message: OutboxMessage, given?: AddOptions): Added {
    const problem = store.transactionProblem(tx);
    if (problem !== undefined) {
      throw new TypeError(`Cannot add() to the outbox: ${problem}`);
    }
    const entry = entryOf(message, given);
    const written = store.write(tx, entry);
    return (written instanceof Promise
      ? written.then(() => entry.id)
      : entry.id) as Added;
  }

  function deliver(
    target: OutboxTarget | Forwarder,
    entry: OutboxEntry,
  ): unknown {
    const message: OutboxMessage = {
      kind: entry.kind,
      type: entry.type,
      payload: entry.payload,
    };
    if (isForwarder(target)) {
      return target.forward(message, {
        id: entry.id,
        attempt: entry.attempts + 1,
        orderingKey: entry.orderingKey,
        data: entry.data,
      });
    }
    const method = target[METHOD[entry.kind]];
    if (typeof method !== "function") {
      throw new TypeError(
        `Cannot deliver ${entry.kind} "${entry.type}": the target has no ${
          METHOD[entry.kind]
        }() method; give process() a bus, or outbox.forward(handler)`,
      );
    }
    return method.call(
      target,
      message,
      entry.data === null
        ? { id: entry.id }
        : { id: entry.id, data: entry.data },
    );
  }

  async function giveUp(
    claim: OutboxClaim,
    error: unknown,
    attempts: number,
  ): Promise<void> {
    const entry = claim.entry;
    const shown = entry === undefined ? undefined : {
      kind: entry.kind,
      type: entry.type,
      payload: entry.payload,
    };
    const reason = describe(error);
    if (deadLetters === undefined) {
      report(
        error,
        shown,
        `message ${claim.id} is dead after ${attempts} attempts (${reason}); give the outbox deadLetters to keep such messages`,
      );
    } else {
      const redact = deadLetters.redact === undefined
        ? undefined
        : new Set(deadLetters.redact);
      const letter: OutboxDeadLetter = {
        id: claim.id,
        message: {
          kind: entry?.kind ?? "event",
          type: entry?.type ?? "unknown",
          payload: entry === undefined
            ? null
            : toJsonValue(entry.payload, redact),
        },
        error: errorJson(error, redact),
        handler: null,
        subscriber: null,
        attempts,
        at: new Date(clock.now()).toISOString(),
      };
      // A store that refuses it: the message stays, to be tried on the
      // store again after its next lease.
      await deadLetters.add(letter);
    }
    await store.bury(claim, reason);
  }

  async function process(
    target: OutboxTarget | Forwarder,
    given: ProcessOptions = {},
  ): Promise<number> {
    checkTarget(target);
    const batchSize = integer(
      "process() the outbox",
      "batchSize",
      given?.batchSize,
      100,
      1,
    );
    const claims = await store.claim(batchSize, leaseMs);
    if (claims.length === 0) return 0;
    const delivered: OutboxClaim[] = [];
    await Promise.all(claims.map(async (claim) => {
      const entry = claim.entry;
      if (entry === undefined) {
        await giveUp(
          claim,
          new TypeError(
            `outbox entry ${claim.id} no longer decodes: ${
              claim.problem ?? "unknown reason"
            }`,
          ),
          0,
        ).catch((error) =>
          report(error, undefined, `could not bury entry ${claim.id}`)
        );
        return;
      }
      try {
        await deliver(target, entry);
        delivered.push(claim);
      } catch (error) {
        const attempts = entry.attempts + 1;
        const message = {
          kind: entry.kind,
          type: entry.type,
          payload: entry.payload,
        };
        try {
          if (attempts >= maxAttempts) {
            await giveUp(claim, error, attempts);
          } else {
            report(
              error,
              message,
              `delivery ${attempts} of ${entry.kind} "${entry.type}" (id ${entry.id}) failed; it is tried again`,
            );
            await store.retry(
              claim,
              Math.min(maxRetryDelayMs, retryDelayMs * 2 ** (attempts - 1)),
              describe(error),
            );
          }
        } catch (failure) {
          // Its lease runs out and it is tried again: never lost.
          report(
            failure,
            message,
            `could not record the failure of message ${entry.id}`,
          );
        }
      }
    }));
    if (delivered.length > 0) await store.complete(delivered);
    return delivered.length;
  }

  async function relay(
    target: OutboxTarget | Forwarder,
    given: RelayOptions = {},
  ): Promise<void> {
    checkTarget(target);
    const where = "relay() the outbox";
    const batchSize = integer(where, "batchSize", given?.batchSize, 100, 1);
    const pollMs = integer(where, "pollMs", given?.pollMs, 1_000, 1);
    const signal = given?.signal ?? new AbortController().signal;
    if (!(signal instanceof AbortSignal)) {
      throw new TypeError(`Cannot ${where} as 'signal' must be an AbortSignal`);
    }
    while (!signal.aborted) {
      let count = 0;
      try {
        count = await process(target, { batchSize });
      } catch (error) {
        report(
          error,
          undefined,
          `a relay pass failed; trying again in ${pollMs} ms`,
        );
      }
      if (count < batchSize && !signal.aborted) {
        await store.wait(pollMs, signal);
      }
    }
  }

  return {
    add,
    process,
    relay,
    pending: () => store.pending(),
    forward(forward) {
      if (typeof forward !== "function") {
        throw new TypeError(
          "Cannot forward() from the outbox as its argument must be a function (message, info) => result",
        );
      }
      return { forward };
    },
  };
}

function isForwarder(target: OutboxTarget | Forwarder): target is Forwarder {
  return typeof (target as Forwarder).forward === "function";
}

function checkTarget(target: unknown): void {
  if (typeof target !== "object" || target === null) {
    throw new TypeError(
      `Cannot deliver from the outbox to ${
        target === null ? "null" : typeof target
      }: give a bus, or outbox.forward(handler)`,
    );
  }
}

function describe(error: unknown): string {
  try {
    return error instanceof Error
      ? `${error.name}: ${error.message}`
      : String(error);
  } catch {
    return "an error that cannot be read";
  }
}
