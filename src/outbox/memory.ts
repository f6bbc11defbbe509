// An outbox in memory, for unit tests: the same behaviour as the stores on
// Deno KV and PostgreSQL (transactions that commit or roll back, leases,
// retries, dead entries, ordering keys), with nothing durable.
import {
  createOutbox,
  type Outbox,
  type OutboxClaim,
  type OutboxEntry,
  type OutboxOptions,
  type OutboxStore,
} from "./outbox.ts";
import { type Clock, systemClock } from "../core/clock.ts";

/** A transaction of a memory outbox: what was added exists once it commits. */
export interface MemoryTransaction {
  /** Makes what was added to it visible to the outbox. */
  commit(): void;
  /** Drops what was added to it. */
  rollback(): void;
  /** Whether it is still open. */
  readonly open: boolean;
}

/** The outbox `createMemoryOutbox` returns. */
export interface MemoryOutbox extends Outbox<MemoryTransaction> {
  /** Starts a transaction to `add` messages to. */
  begin(): MemoryTransaction;
  /** The entries marked dead, oldest first. */
  dead(): readonly OutboxEntry[];
}

interface Slot {
  entry: OutboxEntry;
  availableAt: number;
  leasedUntil: number;
  lease: number;
  dead: boolean;
  error: string | null;
}

// A transaction holds its writes until it ends; `owner` is its outbox's
// list of slots, so a transaction of another outbox is refused.
class Transaction implements MemoryTransaction {
  writes: Slot[] | undefined = [];

  constructor(
    readonly owner: Slot[],
    private readonly onCommit: (writes: Slot[]) => void,
  ) {}

  get open(): boolean {
    return this.writes !== undefined;
  }

  commit(): void {
    const writes = this.writes;
    if (writes === undefined) {
      throw new TypeError(
        "Cannot commit() a memory outbox transaction that has committed or rolled back already",
      );
    }
    this.writes = undefined;
    this.onCommit(writes);
  }

  rollback(): void {
    this.writes = undefined;
  }
}

/**
 * Creates an outbox held in memory, timed by `options.clock` (a fake one
 * drives retries and leases in tests without sleeping).
 *
 * @param options The outbox's options (attempts, delays, lease, dead letters).
 * @returns The outbox, with `begin()` for transactions and `dead()`.
 *
 * @example A message added in a transaction that commits is delivered once
 * ```ts
 * import { createAsyncBus, defineEvent } from "@monolith/message-bus";
 * import { createMemoryOutbox } from "@monolith/message-bus/testing";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const OrderPlaced = defineEvent<{ orderId: string }>("orders.OrderPlaced");
 * const outbox = createMemoryOutbox();
 * const bus = createAsyncBus();
 * const heard: string[] = [];
 * bus.subscribe(OrderPlaced, (e, context) => void heard.push(`${e.payload.orderId} ${context.id}`));
 *
 * const kept = outbox.begin();
 * outbox.add(kept, OrderPlaced({ orderId: "o1" }), { id: "placed-o1" });
 * kept.commit();
 * const dropped = outbox.begin();
 * outbox.add(dropped, OrderPlaced({ orderId: "o2" }));
 * dropped.rollback();
 *
 * deepStrictEqual(await outbox.process(bus), 1);
 * deepStrictEqual(await outbox.process(bus), 0);
 * deepStrictEqual(heard, ["o1 placed-o1"]);
 * ```
 */
export function createMemoryOutbox(
  options: OutboxOptions = {},
): MemoryOutbox {
  const clock: Clock = options?.clock ?? systemClock;
  const slots: Slot[] = [];
  const waiters = new Set<() => void>();
  let leases = 0;
  // Commits so far, and as of the last claim: a wait after a commit that
  // the last claim did not see returns at once.
  let commits = 0;
  let claimedAt = 0;

  function wake(): void {
    commits++;
    for (const waiter of [...waiters]) waiter();
  }

  function slotOf(claim: OutboxClaim): Slot | undefined {
    const { slot, lease } = claim.ref as { slot: Slot; lease: number };
    // A lease that ran out and went to another relay is no longer this one's.
    return slot.lease === lease ? slot : undefined;
  }

  const store: OutboxStore<MemoryTransaction> = {
    name: "memory",
    transactionProblem(tx) {
      if (!(tx instanceof Transaction) || tx.owner !== slots) {
        return "its first argument must be a transaction of this outbox (outbox.begin())";
      }
      if (!tx.open) {
        return "the transaction has committed or rolled back already";
      }
      return undefined;
    },
    write(tx, entry) {
      (tx as Transaction).writes!.push({
        entry,
        availableAt: -Infinity,
        leasedUntil: -Infinity,
        lease: 0,
        dead: false,
        error: null,
      });
    },
    claim(limit, leaseMs) {
      claimedAt = commits;
      const now = clock.now();
      const held = new Set<string>();
      const claims: OutboxClaim[] = [];
      for (const slot of slots) {
        if (claims.length >= limit) break;
        if (slot.dead) continue;
        const key = slot.entry.orderingKey;
        if (key !== null) {
          if (held.has(key)) continue;
          held.add(key);
        }
        if (slot.availableAt > now || slot.leasedUntil > now) continue;
        slot.leasedUntil = now + leaseMs;
        slot.lease = ++leases;
        claims.push({
          id: slot.entry.id,
          entry: slot.entry,
          ref: { slot, lease: slot.lease },
        });
      }
      return Promise.resolve(claims);
    },
    complete(claims) {
      const done = new Set(claims.map(slotOf));
      for (let index = slots.length - 1; index >= 0; index--) {
        if (done.has(slots[index]!)) slots.splice(index, 1);
      }
      return Promise.resolve();
    },
    retry(claim, delayMs, error) {
      const slot = slotOf(claim);
      if (slot !== undefined) {
        slot.entry = { ...slot.entry, attempts: slot.entry.attempts + 1 };
        slot.availableAt = clock.now() + delayMs;
        slot.leasedUntil = -Infinity;
        slot.error = error;
      }
      return Promise.resolve();
    },
    bury(claim, error) {
      const slot = slotOf(claim);
      if (slot !== undefined) {
        slot.dead = true;
        slot.error = error;
        wake();
      }
      return Promise.resolve();
    },
    pending() {
      return Promise.resolve(slots.filter((slot) => !slot.dead).length);
    },
    wait(ms, signal) {
      if (signal.aborted || commits !== claimedAt) return Promise.resolve();
      return new Promise<void>((resolve) => {
        const done = () => {
          waiters.delete(done);
          clock.clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = clock.setTimeout(done, ms);
        waiters.add(done);
        signal.addEventListener("abort", done, { once: true });
      });
    },
  };

  const outbox = createOutbox<MemoryTransaction>(
    store,
    "createMemoryOutbox",
    options,
  );
  return {
    ...outbox,
    begin() {
      return new Transaction(slots, (writes) => {
        slots.push(...writes);
        if (writes.length > 0) wake();
      });
    },
    dead() {
      return slots.filter((slot) => slot.dead).map((slot) => slot.entry);
    },
  };
}
