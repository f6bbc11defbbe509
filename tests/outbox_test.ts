// The outbox's behaviour, whatever the store, on the memory store with a
// fake clock (the Deno KV and PostgreSQL stores have their own tests against
// real files and a real server).
import { deepStrictEqual, rejects, throws } from "node:assert/strict";
import {
  createAsyncBus,
  createBus,
  defineCommand,
  defineEvent,
  defineTask,
} from "../mod.ts";
import {
  createFakeClock,
  createMemoryOutbox,
  type OutboxMessage,
} from "../src/testing/mod.ts";
import { memoryDeadLetterStore } from "../src/resilience/mod.ts";

const OrderPlaced = defineEvent<{ orderId: string }>("orders.OrderPlaced");
const Charge = defineCommand<{ orderId: string }, string>("billing.Charge");
const Ship = defineTask<{ orderId: string }>("shipping.Ship");

Deno.test("a message added in a transaction is delivered once if it commits, never if it rolls back", async () => {
  const outbox = createMemoryOutbox();
  const bus = createAsyncBus();
  const heard: string[] = [];
  bus.subscribe(OrderPlaced, (event, context) => {
    heard.push(`${event.payload.orderId} ${context.id}`);
  });
  const committed = outbox.begin();
  const id = outbox.add(committed, OrderPlaced({ orderId: "o1" }));
  deepStrictEqual(await outbox.pending(), 0);
  committed.commit();
  const rolledBack = outbox.begin();
  outbox.add(rolledBack, OrderPlaced({ orderId: "o2" }));
  rolledBack.rollback();
  deepStrictEqual(await outbox.pending(), 1);
  deepStrictEqual(await outbox.process(bus), 1);
  deepStrictEqual(await outbox.process(bus), 0);
  deepStrictEqual(heard, [`o1 ${id}`]);
  deepStrictEqual(await outbox.pending(), 0);
});

Deno.test("each kind is delivered by its method, with its id and data, on either bus", async () => {
  const outbox = createMemoryOutbox();
  const bus = createBus();
  const seen: string[] = [];
  bus.registerCommand(Charge, (command, context) => {
    seen.push(
      `charge ${command.payload.orderId} ${context.id} ${
        (context.data as { tenant?: string }).tenant
      }`,
    );
    return "ok";
  });
  bus.registerTask(Ship, (task, context) => {
    seen.push(`ship ${task.payload.orderId} ${context.id}`);
  });
  const tx = outbox.begin();
  outbox.add(tx, Charge({ orderId: "o1" }), {
    id: "charge-o1",
    data: { tenant: "t1" } as never,
  });
  outbox.add(tx, Ship({ orderId: "o1" }), { id: "ship-o1" });
  tx.commit();
  deepStrictEqual(await outbox.process(bus), 2);
  deepStrictEqual(seen.toSorted(), [
    "charge o1 charge-o1 t1",
    "ship o1 ship-o1",
  ]);
});

Deno.test("add() refuses what it cannot keep, before anything is written", () => {
  const outbox = createMemoryOutbox();
  const other = createMemoryOutbox();
  const tx = outbox.begin();
  throws(
    () => outbox.add({} as never, OrderPlaced({ orderId: "o" })),
    /Cannot add\(\) to the outbox: its first argument must be a transaction of this outbox \(outbox\.begin\(\)\)/,
  );
  throws(
    () => outbox.add(other.begin(), OrderPlaced({ orderId: "o" })),
    /must be a transaction of this outbox/,
  );
  throws(
    () => outbox.add(tx, defineEvent<unknown>("e")({ at: new Date(0) })),
    /Cannot add\(\) to the outbox event "e": payload\.at is a Date.*toISOString.*the outbox keeps messages as JSON/,
  );
  throws(
    () => outbox.add(tx, { kind: "event" } as never),
    /it takes a message built by its definition/,
  );
  throws(
    () => outbox.add(tx, OrderPlaced({ orderId: "o" }), { id: 'a"b' }),
    /'id' must be a non-empty string without quotes/,
  );
  throws(
    () =>
      outbox.add(tx, OrderPlaced({ orderId: "o" }), {
        data: { n: 1n } as never,
      }),
    /data\.n is a bigint/,
  );
  tx.commit();
  throws(
    () => outbox.add(tx, OrderPlaced({ orderId: "o" })),
    /has committed or rolled back already/,
  );
});

Deno.test("a failed delivery is tried again with backoff, then dead-lettered after maxAttempts, and the rest flow", async () => {
  const clock = createFakeClock();
  const store = memoryDeadLetterStore();
  const outbox = createMemoryOutbox({
    clock,
    maxAttempts: 3,
    retryDelayMs: 100,
    deadLetters: store,
    onError: () => {},
  });
  const tries: string[] = [];
  const target = outbox.forward((message: OutboxMessage, info) => {
    const { orderId } = message.payload as { orderId: string };
    tries.push(`${orderId}:${info.attempt}`);
    if (orderId === "poison") throw new RangeError("cannot place");
  });
  const tx = outbox.begin();
  outbox.add(tx, OrderPlaced({ orderId: "poison" }), { id: "poison-1" });
  outbox.add(tx, OrderPlaced({ orderId: "fine" }));
  tx.commit();
  deepStrictEqual(await outbox.process(target), 1);
  deepStrictEqual(await outbox.process(target), 0); // not due yet
  await clock.advance(100);
  deepStrictEqual(await outbox.process(target), 0);
  await clock.advance(199); // the second retry waits 200 ms
  deepStrictEqual(await outbox.process(target), 0);
  deepStrictEqual(tries, ["poison:1", "fine:1", "poison:2"]);
  await clock.advance(1);
  deepStrictEqual(await outbox.process(target), 0);
  deepStrictEqual(tries, ["poison:1", "fine:1", "poison:2", "poison:3"]);
  const letters = await store.list();
  deepStrictEqual(
    letters.map((l) => [l.id, l.attempts, l.error.message, l.message.payload]),
    [["poison-1", 3, "cannot place", { orderId: "poison" }]],
  );
  deepStrictEqual(await outbox.pending(), 0);
  deepStrictEqual(outbox.dead().map((entry) => entry.id), ["poison-1"]);
});

Deno.test("a failed message holds back later messages of its ordering key only", async () => {
  const clock = createFakeClock();
  const outbox = createMemoryOutbox({
    clock,
    retryDelayMs: 50,
    onError: () => {},
  });
  const delivered: string[] = [];
  let failFirst = true;
  const target = outbox.forward((message: OutboxMessage) => {
    const { orderId } = message.payload as { orderId: string };
    if (orderId === "a1" && failFirst) {
      failFirst = false;
      throw new Error("later");
    }
    delivered.push(orderId);
  });
  const tx = outbox.begin();
  outbox.add(tx, OrderPlaced({ orderId: "a1" }), { orderingKey: "a" });
  outbox.add(tx, OrderPlaced({ orderId: "a2" }), { orderingKey: "a" });
  outbox.add(tx, OrderPlaced({ orderId: "b1" }), { orderingKey: "b" });
  outbox.add(tx, OrderPlaced({ orderId: "b2" }), { orderingKey: "b" });
  outbox.add(tx, OrderPlaced({ orderId: "free" }));
  tx.commit();
  // One per key per pass: a1 fails, b1 and free go.
  await outbox.process(target);
  deepStrictEqual(delivered.toSorted(), ["b1", "free"]);
  await outbox.process(target); // a1 waits for its retry; a2 waits for a1
  deepStrictEqual(delivered.toSorted(), ["b1", "b2", "free"]);
  await clock.advance(50);
  await outbox.process(target);
  await outbox.process(target);
  deepStrictEqual(delivered, ["b1", "free", "b2", "a1", "a2"]);
});

Deno.test("a relay that dies mid-delivery leaves its messages to the next relay after the lease, with the same id", async () => {
  const clock = createFakeClock();
  const outbox = createMemoryOutbox({ clock, leaseMs: 1_000 });
  const tx = outbox.begin();
  const id = outbox.add(tx, OrderPlaced({ orderId: "o1" }));
  tx.commit();
  const ids: string[] = [];
  // The first relay takes the lease and never finishes.
  const stuck = outbox.process(
    outbox.forward((_message, info) => {
      ids.push(info.id);
      return new Promise(() => {});
    }),
  );
  void stuck;
  await Promise.resolve();
  const next = outbox.forward((_message, info) => void ids.push(info.id));
  deepStrictEqual(await outbox.process(next), 0);
  await clock.advance(1_000);
  deepStrictEqual(await outbox.process(next), 1);
  deepStrictEqual(ids, [id, id]);
});

Deno.test("relay() delivers what is committed while it waits, and stops on its signal", async () => {
  const outbox = createMemoryOutbox();
  const bus = createAsyncBus();
  const heard: string[] = [];
  bus.subscribe(OrderPlaced, (event) => void heard.push(event.payload.orderId));
  const stop = new AbortController();
  const relaying = outbox.relay(bus, { pollMs: 60_000, signal: stop.signal });
  const tx = outbox.begin();
  outbox.add(tx, OrderPlaced({ orderId: "o1" }));
  tx.commit();
  const started = Date.now();
  while (heard.length === 0 && Date.now() - started < 2_000) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  deepStrictEqual(heard, ["o1"]);
  stop.abort();
  await relaying;
});

Deno.test("process() and relay() refuse what they cannot deliver to", async () => {
  const outbox = createMemoryOutbox({ onError: () => {} });
  await rejects(
    outbox.process(null as never),
    /give a bus, or outbox\.forward/,
  );
  await rejects(
    outbox.process(createAsyncBus(), { batchSize: 0 }),
    /'batchSize' must be an integer from 1/,
  );
  throws(() => outbox.forward(1 as never), /must be a function/);
  const tx = outbox.begin();
  outbox.add(tx, Ship({ orderId: "o" }));
  tx.commit();
  // A target without dispatch(): a failed delivery, retried, not a crash.
  deepStrictEqual(await outbox.process({ publish: () => {} }), 0);
  deepStrictEqual(await outbox.pending(), 1);
  throws(() => createMemoryOutbox({ maxAttempts: 0 }), RangeError);
  throws(
    () => createMemoryOutbox({ deadLetters: {} as never }),
    /'deadLetters' must be a dead letter store/,
  );
});
