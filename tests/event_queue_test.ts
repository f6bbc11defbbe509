import { deepStrictEqual, rejects, throws } from "node:assert/strict";
import {
  type AsyncMessageBus,
  type AsyncMiddleware,
  createAsyncBus,
  defineEvent,
  type EventMessage,
  type Middleware,
  type QueuedAsyncMessageBus,
  QueueFullError,
} from "../mod.ts";
import {
  deadLetter,
  memoryDeadLetterStore,
  redeliver,
} from "../src/resilience/mod.ts";
import { createFakeClock } from "../src/testing/mod.ts";

const Clicked = defineEvent<number>("Clicked");
const Shipped = defineEvent<{ id: string }>("Shipped");

/** Lets every queued microtask and promise chain run. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Subscriber calls that finish when the test says so, in order. */
function gates() {
  const open: (() => void)[] = [];
  return {
    wait(): Promise<void> {
      return new Promise<void>((resolve) => open.push(resolve));
    },
    /** Finishes the oldest call waiting. */
    release(): void {
      open.shift()!();
    },
    get waiting(): number {
      return open.length;
    },
  };
}

/** Whether `promise` has settled, after letting pending work run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  await settle();
  return done;
}

/** Runs `body` with console.error and console.warn captured. */
async function capturingConsole(
  body: (printed: { errors: unknown[][]; warnings: string[] }) => Promise<void>,
): Promise<void> {
  const { error, warn } = console;
  const printed = { errors: [] as unknown[][], warnings: [] as string[] };
  console.error = (...args: unknown[]) => void printed.errors.push(args);
  console.warn = (...args: unknown[]) =>
    void printed.warnings.push(args.join(" "));
  try {
    await body(printed);
  } finally {
    console.error = error;
    console.warn = warn;
  }
}

Deno.test("createAsyncBus() without eventQueue has no queue: publish delivers at once and settles with the outcome", async () => {
  const bus = createAsyncBus();
  bus.subscribe(Clicked, () => {
    throw new Error("subscriber failed");
  });
  // Every bus can close; only a queued one has a queue to drain.
  deepStrictEqual(["queue" in bus, "drain" in bus, "close" in bus], [
    false,
    false,
    true,
  ]);
  await rejects(bus.publish(Clicked(1)), { message: "subscriber failed" });
});

Deno.test("eventQueue: publish resolves once accepted, before the subscribers finish, and workers deliver in order", async () => {
  const bus = createAsyncBus({
    eventQueue: { maxSize: 10, concurrency: 1, strategy: "reject-new" },
  });
  const gate = gates();
  const heard: number[] = [];
  bus.subscribe(Clicked, async (event) => {
    heard.push(event.payload);
    await gate.wait();
  });
  await bus.publish(Clicked(1));
  await bus.publish(Clicked(2));
  await bus.publish(Clicked(3));
  await settle();
  deepStrictEqual(
    [heard, bus.queue.size, bus.queue.active, gate.waiting],
    [[1], 2, 1, 1],
  );
  const drained = bus.drain();
  gate.release();
  await settle();
  gate.release();
  await settle();
  deepStrictEqual(await settled(drained), false);
  gate.release();
  await drained;
  deepStrictEqual([heard, bus.queue.size, bus.queue.active], [
    [1, 2, 3],
    0,
    0,
  ]);
});

Deno.test("eventQueue: at most `concurrency` events are delivered at once", async () => {
  const bus = createAsyncBus({
    eventQueue: { maxSize: 10, concurrency: 2, strategy: "reject-new" },
  });
  const gate = gates();
  let running = 0;
  let most = 0;
  bus.subscribe(Clicked, async () => {
    most = Math.max(most, ++running);
    await gate.wait();
    running--;
  });
  // One arrives while another is delivered: a second worker takes it.
  bus.publish(Clicked(0));
  await settle();
  bus.publish(Clicked(1));
  await settle();
  deepStrictEqual([bus.queue.active, bus.queue.size], [2, 0]);
  for (let i = 2; i < 5; i++) bus.publish(Clicked(i));
  await settle();
  deepStrictEqual([bus.queue.active, bus.queue.size, gate.waiting], [2, 3, 2]);
  const drained = bus.drain();
  while (gate.waiting > 0) {
    gate.release();
    await settle();
  }
  await drained;
  deepStrictEqual([most, bus.queue.active, bus.queue.size], [2, 0, 0]);
});

Deno.test("eventQueue: a subscriber's failure does not reach the publisher; the bus's middleware and onError see it", async () => {
  const store = memoryDeadLetterStore();
  const told: [string, string][] = [];
  const bus = createAsyncBus({
    middleware: [deadLetter(store)],
    eventQueue: {
      maxSize: 10,
      concurrency: 1,
      strategy: "reject-new",
      onError: (error, event) =>
        void told.push([(error as Error).message, event.type]),
    },
  });
  bus.subscribe(Shipped, function sendMail() {
    throw new Error("mail server down");
  });
  await bus.publish(Shipped({ id: "o-1" }), { id: "publish-1" });
  await bus.drain();
  deepStrictEqual(told, [["mail server down", "Shipped"]]);
  deepStrictEqual(
    store.letters.map((letter) => [
      letter.subscriber,
      letter.error.message,
      letter.message.payload,
    ]),
    [["sendMail", "mail server down", { id: "o-1" }]],
  );
});

Deno.test("eventQueue: a queued publish runs through the middleware with its id, data and subscriber", async () => {
  const seen: string[] = [];
  const watch: Middleware = (message, next, context) => {
    seen.push(`${message.type} ${context.id} ${context.subscriber}`);
    return next(message);
  };
  const bus = createAsyncBus({
    middleware: [watch],
    eventQueue: { maxSize: 10, concurrency: 1, strategy: "adaptive" },
  });
  const heard: string[] = [];
  bus.subscribe(Clicked, () => void heard.push("a"), { id: "a" });
  bus.subscribe(Clicked, () => void heard.push("b"), { id: "b" });
  await bus.publish(Clicked(1), { id: "p-1", subscriber: "b" });
  await bus.drain();
  deepStrictEqual([seen, heard], [["Clicked p-1 b"], ["b"]]);
});

Deno.test("eventQueue: failures are reported on the console by default, at most one line per 10 seconds, and close() prints the rest", async () => {
  await capturingConsole(async (printed) => {
    const clock = createFakeClock();
    const bus = createAsyncBus({
      eventQueue: {
        maxSize: 10,
        concurrency: 1,
        strategy: "reject-new",
        clock,
      },
    });
    bus.subscribe(Clicked, (event) => {
      throw new Error(`failure ${event.payload}`);
    });
    await bus.publish(Clicked(1));
    await bus.publish(Clicked(2));
    await bus.publish(Clicked(3));
    await bus.drain();
    deepStrictEqual(printed.errors.length, 1);
    deepStrictEqual(
      printed.errors[0]![0],
      'createAsyncBus: a queued publish of event "Clicked" failed, and its publisher is no longer waiting (pass eventQueue.onError to handle these failures yourself):',
    );
    deepStrictEqual((printed.errors[0]![1] as Error).message, "failure 1");
    await bus.close();
    deepStrictEqual(printed.errors.length, 2);
    deepStrictEqual(
      String(printed.errors[1]![0]).endsWith(
        "(the last of 2 such failures since the previous report; reports are at most one per 10000 ms)",
      ),
      true,
    );
    deepStrictEqual((printed.errors[1]![1] as Error).message, "failure 3");
  });
});

Deno.test("eventQueue: an onError that throws is reported, and the queue goes on", async () => {
  await capturingConsole(async (printed) => {
    const bus = createAsyncBus({
      eventQueue: {
        maxSize: 10,
        concurrency: 1,
        strategy: "reject-new",
        onError: () => {
          throw new Error("onError broke");
        },
      },
    });
    const heard: number[] = [];
    bus.subscribe(Clicked, (event) => {
      heard.push(event.payload);
      if (event.payload === 1) throw new Error("first fails");
    });
    bus.publish(Clicked(1));
    bus.publish(Clicked(2));
    await bus.drain();
    deepStrictEqual(heard, [1, 2]);
    deepStrictEqual(
      printed.errors.map((args) => [args[0], (args[1] as Error).message]),
      [[
        `createAsyncBus: the event queue's onError threw for event "Clicked":`,
        "onError broke",
      ]],
    );
  });
});

Deno.test('eventQueue "reject-new": a publish to a full queue rejects with QueueFullError, counted in rejected', async () => {
  const bus = createAsyncBus({
    eventQueue: { maxSize: 2, concurrency: 1, strategy: "reject-new" },
  });
  const gate = gates();
  const heard: number[] = [];
  bus.subscribe(Clicked, async (event) => {
    heard.push(event.payload);
    await gate.wait();
  });
  await bus.publish(Clicked(1)); // taken by the worker
  await settle();
  await bus.publish(Clicked(2));
  await bus.publish(Clicked(3));
  await rejects(
    bus.publish(Clicked(4)),
    (error) =>
      error instanceof QueueFullError && error.outcome === "rejected" &&
      error.kind === "event" && error.type === "Clicked" &&
      error.maxQueue === 2 &&
      error.message ===
        'Cannot publish event "Clicked" as the event queue is full (maxSize 2, strategy "reject-new"). Raise maxSize or concurrency, or choose strategy "adaptive" to slow publishers to the subscribers\' pace',
  );
  deepStrictEqual(
    [bus.queue.rejected, bus.queue.dropped, bus.queue.size],
    [1, 0, 2],
  );
  const drained = bus.drain();
  while (gate.waiting > 0) {
    gate.release();
    await settle();
  }
  await drained;
  deepStrictEqual(heard, [1, 2, 3]);
});

Deno.test('eventQueue "drop-oldest": the oldest waiting event is dropped, counted and dead-lettered', async () => {
  const clock = createFakeClock(Date.UTC(2026, 1, 12, 14, 30));
  const store = memoryDeadLetterStore();
  const bus = createAsyncBus({
    eventQueue: {
      maxSize: 2,
      concurrency: 1,
      strategy: "drop-oldest",
      deadLetters: store,
      clock,
    },
  });
  const gate = gates();
  const heard: string[] = [];
  bus.subscribe(Shipped, async (event) => {
    heard.push(event.payload.id);
    await gate.wait();
  }, { id: "shipper" });
  await bus.publish(Shipped({ id: "a" })); // taken by the worker
  await settle();
  await bus.publish(Shipped({ id: "b" }), {
    id: "publish-b",
    subscriber: "shipper",
  });
  await bus.publish(Shipped({ id: "c" }));
  await bus.publish(Shipped({ id: "d" })); // b is dropped
  deepStrictEqual(
    [bus.queue.size, bus.queue.dropped, bus.queue.rejected],
    [2, 1, 0],
  );
  deepStrictEqual(store.letters, [{
    id: "publish-b",
    message: { kind: "event", type: "Shipped", payload: { id: "b" } },
    error: {
      name: "QueueFullError",
      message:
        'Dropped event "Shipped" while it waited: the event queue was full (maxSize 2) and a newer event took its place (strategy "drop-oldest")',
    },
    handler: null,
    subscriber: "shipper",
    attempts: 0,
    at: "2026-02-12T14:30:00.000Z",
  }]);
  const drained = bus.drain();
  while (gate.waiting > 0) {
    gate.release();
    await settle();
  }
  await drained;
  deepStrictEqual(heard, ["a", "c", "d"]);
});

Deno.test('eventQueue "drop-oldest": without deadLetters a drop is counted; a dead letter store that fails is reported', async () => {
  await capturingConsole(async (printed) => {
    const bus = createAsyncBus({
      eventQueue: {
        maxSize: 1,
        concurrency: 1,
        strategy: "drop-oldest",
        deadLetters: {
          add: () => Promise.reject(new Error("store down")),
        },
      },
    });
    const gate = gates();
    bus.subscribe(Clicked, () => gate.wait());
    await bus.publish(Clicked(1));
    await settle();
    await bus.publish(Clicked(2));
    await bus.publish(Clicked(3));
    await settle();
    deepStrictEqual(bus.queue.dropped, 1);
    deepStrictEqual(
      printed.errors.map((args) => [args[0], (args[1] as Error).message]),
      [[
        'createAsyncBus: the dead letter store failed to keep dropped event "Clicked", which is lost:',
        "store down",
      ]],
    );
    while (gate.waiting > 0) {
      gate.release();
      await settle();
    }
    await bus.close();
  });
});

Deno.test('eventQueue "adaptive": above the high-water mark publishes wait until the queue is down to the low-water mark, and nothing is dropped', async () => {
  const bus = createAsyncBus({
    eventQueue: {
      maxSize: 10,
      concurrency: 1,
      strategy: "adaptive",
      highWater: 4,
      lowWater: 2,
    },
  });
  const gate = gates();
  const heard: number[] = [];
  bus.subscribe(Clicked, async (event) => {
    heard.push(event.payload);
    await gate.wait();
  });
  await bus.publish(Clicked(0)); // taken by the worker
  await settle();
  for (let i = 1; i <= 4; i++) await bus.publish(Clicked(i));
  deepStrictEqual([bus.queue.size, bus.queue.backpressure], [4, true]);
  const fifth = bus.publish(Clicked(5));
  const sixth = bus.publish(Clicked(6));
  deepStrictEqual(await settled(fifth), false);
  deepStrictEqual([bus.queue.waiting, bus.queue.size], [2, 4]);

  gate.release(); // 1 is taken: 3 wait, above the low-water mark
  await settle();
  deepStrictEqual(
    [await settled(fifth), bus.queue.size, bus.queue.backpressure],
    [false, 3, true],
  );
  gate.release(); // 2 is taken: 2 wait, the low-water mark
  await settle();
  deepStrictEqual(await settled(fifth), true);
  deepStrictEqual(await settled(sixth), true);
  deepStrictEqual(
    [bus.queue.size, bus.queue.waiting, bus.queue.backpressure],
    [4, 0, true],
  );

  const drained = bus.drain();
  while (gate.waiting > 0) {
    gate.release();
    await settle();
  }
  await drained;
  deepStrictEqual(heard, [0, 1, 2, 3, 4, 5, 6]);
  deepStrictEqual([bus.queue.dropped, bus.queue.rejected], [0, 0]);
});

Deno.test('eventQueue "adaptive": the marks default to 80% and 50% of maxSize', async () => {
  const bus = createAsyncBus({
    eventQueue: { maxSize: 10, concurrency: 1, strategy: "adaptive" },
  });
  const gate = gates();
  bus.subscribe(Clicked, () => gate.wait());
  await bus.publish(Clicked(0));
  await settle();
  for (let i = 1; i <= 7; i++) await bus.publish(Clicked(i));
  deepStrictEqual([bus.queue.size, bus.queue.backpressure], [7, false]);
  await bus.publish(Clicked(8));
  deepStrictEqual([bus.queue.size, bus.queue.backpressure], [8, true]);
  for (let i = 0; i < 2; i++) {
    gate.release();
    await settle();
  }
  deepStrictEqual([bus.queue.size, bus.queue.backpressure], [6, true]);
  gate.release();
  await settle();
  deepStrictEqual([bus.queue.size, bus.queue.backpressure], [5, false]);
  while (gate.waiting > 0) {
    gate.release();
    await settle();
  }
  await bus.close();
});

Deno.test('eventQueue "adaptive": a held publish whose signal aborts leaves the line', async () => {
  const bus = createAsyncBus({
    eventQueue: {
      maxSize: 2,
      concurrency: 1,
      strategy: "adaptive",
      highWater: 1,
      lowWater: 0,
    },
  });
  const gate = gates();
  const heard: number[] = [];
  bus.subscribe(Clicked, async (event) => {
    heard.push(event.payload);
    await gate.wait();
  });
  await bus.publish(Clicked(0));
  await settle();
  await bus.publish(Clicked(1));
  const controller = new AbortController();
  const held = bus.publish(Clicked(2), { signal: controller.signal });
  const after = bus.publish(Clicked(3));
  deepStrictEqual(bus.queue.waiting, 2);
  controller.abort(new Error("not needed any more"));
  await rejects(held, { message: "not needed any more" });
  deepStrictEqual(bus.queue.waiting, 1);
  while (gate.waiting > 0) {
    gate.release();
    await settle();
  }
  await after;
  await bus.drain();
  deepStrictEqual(heard, [0, 1, 3]);
});

Deno.test("eventQueue: publish refuses a non-event, bad options and an aborted signal at once, queueing nothing", async () => {
  const bus = createAsyncBus({
    eventQueue: { maxSize: 2, concurrency: 1, strategy: "reject-new" },
  });
  await rejects(
    bus.publish({ kind: "command", type: "Clicked" } as never),
    TypeError,
  );
  await rejects(
    bus.publish(Clicked(1), { id: 42 } as never),
    {
      name: "TypeError",
      message:
        "Cannot publish() as 'id' must be a non-empty string without quotes, backslashes or control characters: current value is number",
    },
  );
  await rejects(
    bus.publish(Clicked(1), { signal: AbortSignal.abort(new Error("gone")) }),
    { message: "gone" },
  );
  deepStrictEqual([bus.queue.size, bus.queue.rejected], [0, 0]);
});

Deno.test("eventQueue: drain() resolves at once when idle, and once the queue is empty and the workers idle", async () => {
  const bus = createAsyncBus({
    eventQueue: { maxSize: 5, concurrency: 2, strategy: "reject-new" },
  });
  await bus.drain();
  const gate = gates();
  bus.subscribe(Clicked, () => gate.wait());
  bus.publish(Clicked(1));
  bus.publish(Clicked(2));
  bus.publish(Clicked(3));
  const drained = bus.drain();
  await settle();
  deepStrictEqual(await settled(drained), false);
  gate.release();
  gate.release();
  await settle();
  deepStrictEqual([await settled(drained), bus.queue.size], [false, 0]);
  gate.release();
  await drained;
  deepStrictEqual(bus.queue.active, 0);
});

Deno.test("eventQueue: close() stops accepting, drains, and calling it again is harmless", async () => {
  const bus = createAsyncBus({
    eventQueue: { maxSize: 5, concurrency: 1, strategy: "reject-new" },
  });
  const gate = gates();
  const heard: number[] = [];
  bus.subscribe(Clicked, async (event) => {
    heard.push(event.payload);
    await gate.wait();
  });
  bus.publish(Clicked(1));
  bus.publish(Clicked(2));
  const closed = bus.close();
  deepStrictEqual(bus.close(), closed);
  await rejects(bus.publish(Clicked(3)), {
    name: "Error",
    message:
      'Cannot publish event "Clicked" as the bus is closed: its event queue accepts no more events. Publish before close(), or create another bus',
  });
  await settle();
  deepStrictEqual(await settled(closed), false);
  gate.release();
  await settle();
  gate.release();
  await closed;
  await bus.close();
  deepStrictEqual([heard, bus.queue.dropped], [[1, 2], 0]);
});

Deno.test("eventQueue: close() drops what is left after closeTimeoutMs: counted, dead-lettered and reported", async () => {
  await capturingConsole(async (printed) => {
    const clock = createFakeClock();
    const store = memoryDeadLetterStore();
    const bus = createAsyncBus({
      eventQueue: {
        maxSize: 5,
        concurrency: 1,
        strategy: "reject-new",
        closeTimeoutMs: 1_000,
        deadLetters: store,
        clock,
      },
    });
    const gate = gates();
    bus.subscribe(Clicked, () => gate.wait());
    for (let i = 1; i <= 3; i++) bus.publish(Clicked(i));
    await settle();
    const closed = bus.close();
    await clock.advance(999);
    deepStrictEqual(await settled(closed), false);
    await clock.advance(1);
    await closed;
    deepStrictEqual([bus.queue.size, bus.queue.dropped], [0, 2]);
    deepStrictEqual(
      store.letters.map((letter) => [letter.message.payload, letter.error]),
      [2, 3].map((payload) => [payload, {
        name: "Error",
        message:
          'Dropped event "Clicked" while it waited: the bus closed and its event queue did not drain within closeTimeoutMs (1000 ms)',
      }]),
    );
    deepStrictEqual(printed.warnings, [
      "createAsyncBus: close() dropped 2 queued events that did not get delivered within closeTimeoutMs (1000 ms); they were handed to eventQueue.deadLetters. They are counted in queue.dropped",
    ]);
    gate.release(); // the event in flight finishes
    await bus.drain();
  });
});

Deno.test('eventQueue: close() refuses publishes held back by backpressure ("adaptive"), counted in rejected', async () => {
  const bus = createAsyncBus({
    eventQueue: {
      maxSize: 2,
      concurrency: 1,
      strategy: "adaptive",
      highWater: 1,
      lowWater: 0,
    },
  });
  const gate = gates();
  bus.subscribe(Clicked, () => gate.wait());
  await bus.publish(Clicked(0));
  await settle();
  await bus.publish(Clicked(1));
  const held = bus.publish(Clicked(2));
  const closed = bus.close();
  await rejects(held, {
    message:
      'Cannot publish event "Clicked" as the bus is closed: its event queue accepts no more events. Publish before close(), or create another bus',
  });
  deepStrictEqual([bus.queue.waiting, bus.queue.rejected], [0, 1]);
  gate.release();
  await settle();
  gate.release();
  await closed;
  deepStrictEqual(bus.queue.dropped, 0);
});

Deno.test("eventQueue: { awaitDelivery: true } settles with the subscribers' outcome, not through onError", async () => {
  const told: unknown[] = [];
  const bus = createAsyncBus({
    eventQueue: {
      maxSize: 5,
      concurrency: 1,
      strategy: "reject-new",
      onError: (error) => void told.push(error),
    },
  });
  bus.subscribe(Clicked, async (event) => {
    await Promise.resolve();
    if (event.payload < 0) throw new RangeError("negative");
  });
  await bus.publish(Clicked(1), { awaitDelivery: true });
  await rejects(bus.publish(Clicked(-1), { awaitDelivery: true }), {
    name: "RangeError",
    message: "negative",
  });
  await bus.drain();
  deepStrictEqual(told, []);
});

Deno.test("eventQueue: a publish awaiting delivery rejects when its event is dropped", async () => {
  const bus = createAsyncBus({
    eventQueue: { maxSize: 1, concurrency: 1, strategy: "drop-oldest" },
  });
  const gate = gates();
  bus.subscribe(Clicked, () => gate.wait());
  await bus.publish(Clicked(0));
  await settle();
  const first = bus.publish(Clicked(1), { awaitDelivery: true });
  await bus.publish(Clicked(2));
  await rejects(
    first,
    (error) => error instanceof QueueFullError && error.outcome === "dropped",
  );
  while (gate.waiting > 0) {
    gate.release();
    await settle();
  }
  await bus.close();
});

Deno.test("eventQueue: redeliver() into a queued bus removes a letter only once it was delivered", async () => {
  const store = memoryDeadLetterStore();
  const bus = createAsyncBus({
    middleware: [deadLetter(store)],
    eventQueue: {
      maxSize: 5,
      concurrency: 1,
      strategy: "reject-new",
      onError: () => {},
    },
  });
  let down = true;
  bus.subscribe(Shipped, function sendMail() {
    if (down) throw new Error("mail server down");
  });
  await bus.publish(Shipped({ id: "o-1" }));
  await bus.drain();
  deepStrictEqual(store.letters.length, 1);

  const again = await redeliver(store, bus);
  deepStrictEqual(
    [again.delivered.length, again.failed.length, store.letters.length],
    [0, 1, 1],
  );
  down = false;
  const fixed = await redeliver(store, bus);
  deepStrictEqual(
    [fixed.delivered.length, fixed.failed.length, store.letters.length],
    [1, 0, 0],
  );
});

Deno.test("eventQueue: publishes through a session, and nested ones, are delivered at once, not queued", async () => {
  const Packed = defineEvent<string>("Packed");
  const bus = createAsyncBus({
    eventQueue: { maxSize: 5, concurrency: 1, strategy: "reject-new" },
  });
  const heard: string[] = [];
  bus.subscribe(Packed, (event) => {
    heard.push(`packed ${event.payload}`);
    if (event.payload === "bad") throw new Error("cannot pack");
  });
  bus.subscribe(Shipped, async (event, context) => {
    await context.publish(Packed(event.payload.id));
    heard.push(`shipped ${event.payload.id}`);
  });
  await using session = bus.session();
  await rejects(session.publish(Packed("bad")), { message: "cannot pack" });
  deepStrictEqual(bus.queue.size, 0);
  await bus.publish(Shipped({ id: "o-1" }));
  await bus.drain();
  deepStrictEqual(heard, ["packed bad", "packed o-1", "shipped o-1"]);
});

Deno.test("eventQueue: a worker goes on after a middleware that returns no promise", async () => {
  const broken = ((message: never, next: (message: never) => unknown) => {
    next(message);
    return undefined;
  }) as unknown as Middleware;
  const bus = createAsyncBus({
    middleware: [broken],
    eventQueue: { maxSize: 5, concurrency: 1, strategy: "reject-new" },
  });
  const heard: number[] = [];
  bus.subscribe(Clicked, (event) => void heard.push(event.payload));
  bus.publish(Clicked(1));
  bus.publish(Clicked(2));
  await bus.drain();
  deepStrictEqual(heard, [1, 2]);
});

Deno.test("eventQueue: a worker delivers through an async middleware, one event after another", async () => {
  const order: string[] = [];
  const logging: AsyncMiddleware = async (message, next) => {
    order.push(`> ${(message as EventMessage<number>).payload}`);
    const result = await next(message);
    order.push(`< ${(message as EventMessage<number>).payload}`);
    return result;
  };
  const bus = createAsyncBus({
    middleware: [logging],
    eventQueue: { maxSize: 5, concurrency: 1, strategy: "reject-new" },
  });
  bus.subscribe(Clicked, () => {});
  bus.publish(Clicked(1));
  bus.publish(Clicked(2));
  await bus.drain();
  deepStrictEqual(order, ["> 1", "< 1", "> 2", "< 2"]);
});

Deno.test("createAsyncBus() checks the eventQueue option", () => {
  const make = (eventQueue: unknown) => () =>
    createAsyncBus({ eventQueue: eventQueue as never });
  const base = { maxSize: 10, concurrency: 1, strategy: "adaptive" };
  throws(make(null), {
    name: "TypeError",
    message:
      "Cannot createAsyncBus() as 'eventQueue' must be an object: current value is null",
  });
  throws(make({ ...base, maxSize: 0 }), {
    name: "RangeError",
    message:
      "Cannot createAsyncBus() as 'eventQueue.maxSize' must be an integer of at least 1: current value is 0",
  });
  throws(make({ ...base, concurrency: 1.5 }), {
    name: "RangeError",
    message:
      "Cannot createAsyncBus() as 'eventQueue.concurrency' must be an integer of at least 1: current value is 1.5",
  });
  throws(make({ ...base, strategy: "drop-newest" }), {
    name: "RangeError",
    message:
      'Cannot createAsyncBus() as \'eventQueue.strategy\' must be "drop-oldest", "reject-new" or "adaptive": current value is "drop-newest"',
  });
  throws(make({ ...base, highWater: 11 }), {
    name: "RangeError",
    message:
      "Cannot createAsyncBus() as 'eventQueue.highWater' must be at most maxSize (10): current value is 11",
  });
  throws(make({ ...base, highWater: 5, lowWater: 5 }), {
    name: "RangeError",
    message:
      "Cannot createAsyncBus() as 'eventQueue.lowWater' must be below highWater (5): current value is 5",
  });
  throws(make({ ...base, closeTimeoutMs: -1 }), {
    name: "RangeError",
    message:
      "Cannot createAsyncBus() as 'eventQueue.closeTimeoutMs' must be a non-negative number of milliseconds: current value is -1",
  });
  throws(make({ ...base, deadLetters: {} }), {
    name: "TypeError",
    message:
      "Cannot createAsyncBus() as 'eventQueue.deadLetters' must have an add(letter) method (a dead letter store): current value is {}",
  });
  throws(make({ ...base, onError: "log" }), {
    name: "TypeError",
    message:
      `Cannot createAsyncBus() as 'eventQueue.onError' must be a function: current value is "log"`,
  });
  // maxSize 1: the marks are 1 and 0.
  createAsyncBus({
    eventQueue: { maxSize: 1, concurrency: 1, strategy: "adaptive" },
  });
});

// Compiled by `deno check`, never run: the queued bus's type.
function _types(bus: QueuedAsyncMessageBus, plain: AsyncMessageBus): void {
  const queued: QueuedAsyncMessageBus = createAsyncBus({
    eventQueue: { maxSize: 1, concurrency: 1, strategy: "reject-new" },
  });
  const size: number = queued.queue.size;
  const drained: Promise<void> = bus.drain();
  // @ts-expect-error A bus without an event queue has no `queue`.
  plain.queue;
  // @ts-expect-error Nor `drain()`.
  plain.drain();
  createAsyncBus({
    eventQueue: {
      maxSize: 1,
      concurrency: 1,
      // @ts-expect-error An unknown strategy.
      strategy: "drop-newest",
    },
  });
  // Any dead letter store takes dropped events.
  createAsyncBus({
    eventQueue: {
      maxSize: 1,
      concurrency: 1,
      strategy: "drop-oldest",
      deadLetters: memoryDeadLetterStore(),
    },
  });
  void [size, drained];
}
void _types;
