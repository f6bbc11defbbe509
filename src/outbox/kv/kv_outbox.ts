// The outbox on Deno KV. Keys, under the prefix:
//   ["entries", time, counter, process] an entry waiting (leased or not)
//   ["dead", time, counter, process]    an entry given up, with its error
//   ["signal"]                          set by every commit that adds, frees
//                                       an ordering key or buries: relays
//                                       watch it
// An entry's value keeps the message as one JSON string beside the few
// fields a claim reads, so that a scan skips entries without parsing them
// and `add` measures the stored size without walking the payload twice.
import { serialize } from "node:v8";
import {
  createOutbox,
  type Outbox,
  type OutboxClaim,
  type OutboxEntry,
  type OutboxOptions,
  type OutboxStore,
} from "../outbox.ts";
import { isPlainId } from "../../core/_ids.ts";
import { kvArguments, shown } from "./_arguments.ts";
import { type Clock, systemClock } from "../../core/clock.ts";
import type { MessageKind } from "../../core/messages.ts";

/** Options of {@linkcode createKvOutbox}. */
export interface KvOutboxOptions extends OutboxOptions {
  /**
   * Where the outbox keeps its keys.
   *
   * @default {["outbox"]}
   */
  readonly prefix?: Deno.KvKey;
}

/**
 * An outbox on Deno KV: `add` writes into the caller's `kv.atomic()`
 * operation and returns the message's id.
 */
export interface KvOutbox extends Outbox<Deno.AtomicOperation> {}

// Deno KV's limits: a value's serialized size, and the checks of one
// atomic operation (100 on a local file; hosted Deno KV has allowed 10, and
// so does a self-hosted denokv). An operation refused for its size is tried
// again with at most FALLBACK_CHECKS items, and fewer if that is refused too:
// ten full-size values also fit Deno KV's total size of an operation, which
// a hundred do not.
const MAX_VALUE_BYTES = 65_536;
const MAX_CHECKS = 100;
const FALLBACK_CHECKS = 10;
// An error kept with an entry is cut to this many characters, so that the
// room it needs is known when the entry is added.
const MAX_ERROR_CHARS = 1_000;
const STATE_ROOM = 2 * MAX_ERROR_CHARS + 512;
// How many entries one claim looks at, at least, before it gives up finding
// due ones: entries held behind a leased or failing one of their ordering key
// are skipped, and a claim must not read the whole outbox to fill a batch.
const MIN_SCAN = 1_000;

const KINDS = new Set(["query", "command", "event", "task"]);

// Sortable keys: time, then a counter of this process, then a part unique to
// the process. Time never goes back within a process, so one process's
// entries list in the order they were added.
const PROCESS = Array.from(
  crypto.getRandomValues(new Uint8Array(5)),
  (byte) => byte.toString(16).padStart(2, "0"),
).join("");
let lastTime = 0;
let counter = 0;

// What an entry's value holds. `message` is the JSON of the rest of the
// entry (kind, type, payload, data, createdAt).
interface Stored {
  readonly id: string;
  readonly orderingKey: string | null;
  readonly message: string;
  readonly attempts: number;
  readonly availableAt: number;
  readonly leasedUntil: number;
  readonly error: string | null;
}

interface Ref {
  readonly key: Deno.KvKey;
  readonly versionstamp: string;
  readonly value: unknown;
}

function cut(error: string): string {
  return error.length > MAX_ERROR_CHARS
    ? `${error.slice(0, MAX_ERROR_CHARS - 3)}...`
    : error;
}

// SQLite (Deno KV on a local file) refuses a write that meets another
// connection's, "database is locked", rather than waiting: relays sharing a
// file try again after a short random pause, a bounded number of times.
const BUSY_TRIES = 50;

function isBusy(error: unknown): boolean {
  return error instanceof Error &&
    /database is locked|busy/i.test(error.message);
}

// Deno KV refuses an operation with more checks, or more bytes in all, than
// it allows before writing any of it: "Too many checks (max 100)" and "Total
// mutation size too large (max 819200 bytes)" on a local file, "Too many
// checks included in atomic write." from a denokv server.
function isTooManyChecks(error: unknown): boolean {
  return error instanceof Error && /too many checks/i.test(error.message);
}

function isTooLarge(error: unknown): boolean {
  return isTooManyChecks(error) ||
    (error instanceof Error &&
      /total mutation size too large|total size of the atomic write is too large/i
        .test(error.message));
}

function fewer(count: number): number {
  return count > FALLBACK_CHECKS ? FALLBACK_CHECKS : Math.ceil(count / 2);
}

async function unlessBusy<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= BUSY_TRIES || !isBusy(error)) throw error;
      const pauseMs = 1 + Math.random() * Math.min(50, 2 ** attempt);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

function fieldOf(value: unknown, name: string): unknown {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[name]
    : undefined;
}

// The entry a value holds, or why it holds none.
function decode(value: unknown): OutboxEntry | string {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return `its value is ${
      Array.isArray(value) ? "an array" : shown(value)
    }, not an outbox entry`;
  }
  const stored = value as Partial<Stored> & { problem?: unknown };
  // An entry wrapped by an earlier claim keeps why it did not decode.
  if (typeof stored.problem === "string") return stored.problem;
  if (!isPlainId(stored.id)) return "it has no id";
  if (typeof stored.message !== "string") return "it has no message";
  let message: Record<string, unknown>;
  try {
    message = JSON.parse(stored.message);
  } catch (error) {
    return `its message is not JSON (${(error as Error).message})`;
  }
  if (typeof message !== "object" || message === null) {
    return "its message is not an object";
  }
  if (!KINDS.has(message.kind as string)) {
    return `its kind ${shown(message.kind)} is not a message kind`;
  }
  if (typeof message.type !== "string" || message.type === "") {
    return "its message has no type";
  }
  const orderingKey = stored.orderingKey ?? null;
  if (orderingKey !== null && typeof orderingKey !== "string") {
    return "its ordering key is not a string";
  }
  const data = message.data ?? null;
  if (data !== null && (typeof data !== "object" || Array.isArray(data))) {
    return "its data is not an object";
  }
  return {
    id: stored.id,
    kind: message.kind as MessageKind,
    type: message.type,
    payload: message.payload ?? null,
    orderingKey,
    data: data as Record<string, unknown> | null,
    attempts: numberOr(stored.attempts, 0),
    createdAt: numberOr(message.createdAt, 0),
  };
}

// The serialized size of `stored` with room for its error: only measured
// when a bound on it comes near the limit.
function storedSize(stored: Stored): number {
  const bound = 2 *
      (stored.message.length + stored.id.length +
        (stored.orderingKey?.length ?? 0)) + STATE_ROOM;
  if (bound <= MAX_VALUE_BYTES) return bound;
  return serialize(stored).length + STATE_ROOM;
}

/**
 * Creates an outbox on Deno KV. `add(kv.atomic(), message)` adds the message
 * to the caller's atomic operation beside its own writes: it is delivered
 * once, and only if, that operation commits. `process` and `relay` deliver
 * it afterwards, at least once, with the same id every time; relays in
 * several processes can share one KV (each entry is leased with a
 * versionstamp check), and `relay` is woken by a watched key as soon as a
 * commit adds messages.
 *
 * Entries of one process list in the order they were added (their keys are
 * its time, then its own counter); entries of several processes list by
 * their clocks, so two added in the same millisecond with one ordering key
 * by two processes are delivered in either order, and so is an entry whose
 * operation committed after another's that it was added before. A message
 * whose stored value would not fit in Deno KV's 65536 bytes per value is
 * refused at `add`. Deno KV is behind `--unstable-kv` (or
 * `"unstable": ["kv"]` in deno.json).
 *
 * @param kv The KV that keeps the entries (`await Deno.openKv()`).
 * @param options The outbox's options (attempts, delays, lease, dead letters)
 * and the prefix of its keys.
 * @returns The outbox.
 * @throws {TypeError} When `kv` is not a `Deno.Kv`, or an option is wrong.
 *
 * @example A message added in an operation that commits is delivered once
 * ```ts
 * import { createAsyncBus, defineEvent } from "@monolith/message-bus";
 * import { createKvOutbox } from "@monolith/message-bus/kv";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const OrderPlaced = defineEvent<{ orderId: string }>("orders.OrderPlaced");
 * const kv = await Deno.openKv(":memory:");
 * const outbox = createKvOutbox(kv);
 * const bus = createAsyncBus();
 * const heard: string[] = [];
 * bus.subscribe(OrderPlaced, (e, context) => void heard.push(`${e.payload.orderId} ${context.id}`));
 *
 * const tx = kv.atomic().set(["orders", "o1"], { total: 12 });
 * const id = outbox.add(tx, OrderPlaced({ orderId: "o1" }));
 * await tx.commit();
 *
 * deepStrictEqual(await outbox.process(bus), 1);
 * deepStrictEqual(await outbox.process(bus), 0);
 * deepStrictEqual(heard, [`o1 ${id}`]);
 * kv.close();
 * ```
 */
export function createKvOutbox(
  kv: Deno.Kv,
  options: KvOutboxOptions = {},
): KvOutbox {
  const prefix = kvArguments("createKvOutbox", kv, options, ["outbox"]);
  const clock: Clock = options.clock ?? systemClock;
  const entries: Deno.KvKey = [...prefix, "entries"];
  const deadPrefix: Deno.KvKey = [...prefix, "dead"];
  const signalKey: Deno.KvKey = [...prefix, "signal"];
  // The operations that set the signal already: one set per commit.
  const signaled = new WeakSet<Deno.AtomicOperation>();
  // The signal's versionstamp as the last claim saw it (undefined: no claim
  // yet), and when the first entry it skipped falls due or its lease ends.
  let seenSignal: string | null | undefined = undefined;
  let nextDueAt = Infinity;
  // The most checks this KV has taken in one operation: lowered for good
  // when it refuses an operation for its number of checks.
  let checksPerOperation = MAX_CHECKS;

  function nextKey(): Deno.KvKey {
    lastTime = Math.max(lastTime, clock.now());
    return [...entries, lastTime, ++counter, PROCESS];
  }

  // Commits what `build` adds for each item, as many items per operation as
  // the KV takes; when an operation fails a check, commits each of its items
  // alone. Returns the versionstamp of each item's commit, undefined where it
  // failed.
  async function commitEach<T>(
    items: readonly T[],
    build: (op: Deno.AtomicOperation, item: T) => void,
  ): Promise<(string | undefined)[]> {
    const stamps: (string | undefined)[] = [];
    let size = checksPerOperation;
    for (let start = 0; start < items.length;) {
      const chunk = items.slice(start, start + size);
      let result: Deno.KvCommitResult | Deno.KvCommitError;
      try {
        result = await unlessBusy(() => {
          const op = kv.atomic();
          for (const item of chunk) build(op, item);
          return op.commit();
        });
      } catch (error) {
        if (chunk.length === 1 || !isTooLarge(error)) throw error;
        size = fewer(chunk.length);
        if (isTooManyChecks(error)) {
          checksPerOperation = Math.min(checksPerOperation, size);
        }
        continue;
      }
      start += chunk.length;
      if (result.ok) {
        for (let index = 0; index < chunk.length; index++) {
          stamps.push(result.versionstamp);
        }
        continue;
      }
      // Another relay changed one of them: the others are still ours.
      for (const item of chunk) {
        const one = kv.atomic();
        build(one, item);
        const alone = await unlessBusy(() => one.commit());
        stamps.push(alone.ok ? alone.versionstamp : undefined);
      }
    }
    return stamps;
  }

  // Commits `build`, and if the value is too large for KV (a value someone
  // wrote by hand, with a lease or an error added), `fallback` instead.
  async function commitOrShrink(
    build: (op: Deno.AtomicOperation) => void,
    fallback: (op: Deno.AtomicOperation) => void,
  ): Promise<Deno.KvCommitResult | Deno.KvCommitError> {
    try {
      return await unlessBusy(() => {
        const op = kv.atomic();
        build(op);
        return op.commit();
      });
    } catch (error) {
      if (isBusy(error)) throw error;
      return await unlessBusy(() => {
        const op = kv.atomic();
        fallback(op);
        return op.commit();
      });
    }
  }

  const store: OutboxStore<Deno.AtomicOperation> = {
    name: "Deno KV",
    transactionProblem(tx) {
      if (tx instanceof Deno.Kv) {
        return "it is the Deno.Kv, not a transaction: give kv.atomic() and commit it yourself";
      }
      if (!(tx instanceof Deno.AtomicOperation)) {
        return `its first argument must be a Deno.AtomicOperation (kv.atomic()): current value is ${
          shown(tx)
        }`;
      }
      return undefined;
    },
    write(tx, entry) {
      const stored: Stored = {
        id: entry.id,
        orderingKey: entry.orderingKey,
        message: JSON.stringify({
          kind: entry.kind,
          type: entry.type,
          payload: entry.payload,
          data: entry.data,
          createdAt: entry.createdAt,
        }),
        attempts: 0,
        availableAt: 0,
        leasedUntil: 0,
        error: null,
      };
      const size = storedSize(stored);
      if (size > MAX_VALUE_BYTES) {
        throw new TypeError(
          `Cannot add() ${entry.kind} "${entry.type}" to the Deno KV outbox as its stored value would take ${size} bytes (with room for its delivery state): Deno KV keeps at most ${MAX_VALUE_BYTES} bytes per value; add a reference to the data instead`,
        );
      }
      tx.set(nextKey(), stored);
      if (!signaled.has(tx)) {
        signaled.add(tx);
        tx.set(signalKey, true);
      }
    },
    async claim(limit, leaseMs) {
      seenSignal = (await unlessBusy(() => kv.get(signalKey))).versionstamp;
      const now = clock.now();
      const scanLimit = Math.max(MIN_SCAN, 10 * limit);
      // The list is read a batch at a time and left as soon as the claim is
      // full: a batch of `limit` entries is enough when they are all due.
      const batchSize = Math.min(1_000, Math.max(100, limit));
      const found = await unlessBusy(async () => {
        const held = new Set<string>();
        const due: Deno.KvEntry<unknown>[] = [];
        nextDueAt = Infinity;
        const listed = kv.list({ prefix: entries }, {
          limit: scanLimit,
          batchSize,
        });
        for await (const item of listed) {
          const value = item.value;
          const orderingKey = fieldOf(value, "orderingKey");
          if (typeof orderingKey === "string") {
            if (held.has(orderingKey)) continue;
            held.add(orderingKey);
          }
          const dueAt = Math.max(
            numberOr(fieldOf(value, "availableAt"), 0),
            numberOr(fieldOf(value, "leasedUntil"), 0),
          );
          if (dueAt > now) {
            nextDueAt = Math.min(nextDueAt, dueAt);
            continue;
          }
          due.push(item);
          if (due.length >= limit) break;
        }
        return due;
      });
      const leasedUntil = now + leaseMs;
      const good: { item: Deno.KvEntry<unknown>; entry: OutboxEntry }[] = [];
      const claims: OutboxClaim[] = [];
      for (const item of found) {
        const decoded = decode(item.value);
        if (typeof decoded !== "string") {
          good.push({ item, entry: decoded });
          continue;
        }
        // It cannot be leased by rewriting its fields: it is wrapped, so
        // that no other relay takes it while this one dead-letters it.
        const id = isPlainId(fieldOf(item.value, "id"))
          ? fieldOf(item.value, "id") as string
          : item.key.slice(entries.length).join("-");
        const wrapped = {
          id,
          orderingKey: null,
          problem: decoded,
          raw: item.value,
          leasedUntil,
        };
        const result = await commitOrShrink(
          (op) => op.check(item).set(item.key, wrapped),
          (op) =>
            op.check(item).set(item.key, { ...wrapped, raw: "(too large)" }),
        );
        if (result.ok) {
          claims.push({
            id,
            entry: undefined,
            problem: decoded,
            ref: {
              key: item.key,
              versionstamp: result.versionstamp,
              value: wrapped,
            } satisfies Ref,
          });
        }
      }
      const leased = good.map(({ item }) => ({
        item,
        value: { ...(item.value as Stored), leasedUntil },
      }));
      const stamps = await commitEach(leased, (op, { item, value }) => {
        op.check(item).set(item.key, value);
      });
      for (let index = 0; index < leased.length; index++) {
        const versionstamp = stamps[index];
        if (versionstamp === undefined) continue;
        const { item, value } = leased[index]!;
        const entry = good[index]!.entry;
        claims.push({
          id: entry.id,
          entry,
          ref: { key: item.key, versionstamp, value } satisfies Ref,
        });
      }
      return claims;
    },
    async complete(claims) {
      await commitEach(claims, (op, claim) => {
        const ref = claim.ref as Ref;
        op.check(ref).delete(ref.key);
        // The next entry of its key is due now: one signal per operation.
        if (claim.entry?.orderingKey != null && !signaled.has(op)) {
          signaled.add(op);
          op.set(signalKey, true);
        }
      });
    },
    async retry(claim, delayMs, error) {
      const ref = claim.ref as Ref;
      const value = ref.value as Stored;
      const retried = {
        ...value,
        attempts: value.attempts + 1,
        availableAt: clock.now() + delayMs,
        leasedUntil: 0,
        error: cut(error),
      };
      await unlessBusy(() =>
        kv.atomic().check(ref).set(ref.key, retried).commit()
      );
    },
    async bury(claim, error) {
      const ref = claim.ref as Ref;
      const deadKey = [...deadPrefix, ...ref.key.slice(entries.length)];
      const dead = {
        ...(ref.value as Record<string, unknown>),
        leasedUntil: 0,
        error: cut(error),
        deadAt: clock.now(),
      };
      await commitOrShrink(
        (op) =>
          op.check(ref).delete(ref.key).set(deadKey, dead).set(signalKey, true),
        (op) =>
          op.check(ref).delete(ref.key).set(deadKey, {
            ...dead,
            raw: "(too large)",
          }).set(signalKey, true),
      );
    },
    async pending() {
      return await unlessBusy(async () => {
        let count = 0;
        for await (const _ of kv.list({ prefix: entries })) count++;
        return count;
      });
    },
    wait(ms, signal) {
      if (signal.aborted) return Promise.resolve();
      const dueInMs = Math.max(0, nextDueAt - clock.now());
      const seen = seenSignal;
      return new Promise<void>((resolve) => {
        const reader = kv.watch([signalKey]).getReader();
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          clock.clearTimeout(timer);
          signal.removeEventListener("abort", finish);
          reader.cancel().catch(() => {});
          resolve();
        };
        const timer = clock.setTimeout(finish, Math.min(ms, dueInMs));
        signal.addEventListener("abort", finish, { once: true });
        (async () => {
          // The first read is the signal as it is now: a commit between the
          // last claim and this watch has changed it already.
          while (!done) {
            const read = await reader.read();
            if (read.done) return;
            if (read.value[0]?.versionstamp !== seen) return finish();
          }
        })().catch(() => {
          // A watch that fails (the KV closed) leaves the timer to end it.
        });
      });
    },
  };

  return createOutbox<Deno.AtomicOperation>(store, "createKvOutbox", options);
}
