import { deepStrictEqual, rejects, throws } from "node:assert/strict";
import {
  type AnyMessage,
  type AsyncMessageBus,
  type AsyncMiddleware,
  BatchError,
  createAsyncBus,
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  type EventMessage,
  type Middleware,
  TimeoutError,
} from "../mod.ts";
import {
  deadLetter,
  memoryDeadLetterStore,
  redeliver,
  timeout,
} from "../src/resilience/mod.ts";
import {
  createAsyncFakeBus,
  createFakeBus,
  createFakeClock,
} from "../src/testing/mod.ts";
import { batchesOver } from "../src/core/_batches.ts";

const GetUser = defineQuery<{ id: string }, { name: string }>("GetUser");
const CreateOrder = defineCommand<{ items: string[] }, string>("CreateOrder");
const OrderPlaced = defineEvent<{ id: string }>("OrderPlaced");
const SendEmail = defineTask<{ to: string }>("SendEmail");

/** A promise with its resolve and reject functions. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/** Lets every pending promise chain settle (one macrotask). */
const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

const ids = (events: readonly EventMessage<{ id: string }>[]) =>
  events.map((event) => event.payload.id);

// ---------------------------------------------------------------------------
// handleAll, synchronous bus

function syncBus(log: string[], middleware: Middleware[] = []) {
  const bus = createBus({ middleware });
  bus.registerQuery(GetUser, (q) => {
    log.push(`send ${q.payload.id}`);
    return { name: `user ${q.payload.id}` };
  });
  bus.registerCommand(CreateOrder, (c) => {
    log.push(`execute ${c.payload.items.length}`);
    return `order-${c.payload.items.length}`;
  });
  bus.subscribe(OrderPlaced, (e) => {
    log.push(`publish ${e.payload.id}`);
  });
  bus.registerTask(SendEmail, (t) => {
    log.push(`dispatch ${t.payload.to}`);
  });
  return bus;
}

Deno.test("createBus() handleAll() dispatches each message by its kind, in order, and returns the results in order", () => {
  const log: string[] = [];
  const bus = syncBus(log);
  deepStrictEqual(
    bus.handleAll([
      GetUser({ id: "2" }),
      CreateOrder({ items: ["x"] }),
      OrderPlaced({ id: "o-2" }),
      SendEmail({ to: "d@e.f" }),
    ]),
    [{ name: "user 2" }, "order-1", undefined, undefined],
  );
  deepStrictEqual(log, [
    "send 2",
    "execute 1",
    "publish o-2",
    "dispatch d@e.f",
  ]);
  deepStrictEqual(bus.handleAll([]), []);
});

Deno.test("createBus() handleAll() runs every message, then throws a BatchError with every outcome by index", () => {
  const log: string[] = [];
  const bus = syncBus(log);
  const down = new Error("mail server down");
  bus.subscribe(OrderPlaced, () => {
    throw down;
  });
  const messages = [
    GetUser({ id: "1" }),
    OrderPlaced({ id: "o-1" }),
    SendEmail({ to: "a@b.c" }),
    CreateOrder({ items: [] }),
  ] as const;
  let caught: unknown;
  try {
    bus.handleAll(messages);
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof BatchError)) throw caught;
  deepStrictEqual(caught instanceof AggregateError, true);
  deepStrictEqual(caught.name, "BatchError");
  deepStrictEqual(
    caught.message,
    '1 of 4 messages failed in handleAll(): [1] event "OrderPlaced": mail server down',
  );
  deepStrictEqual(caught.results, [
    { status: "fulfilled", value: { name: "user 1" } },
    { status: "rejected", reason: down },
    { status: "fulfilled", value: undefined },
    { status: "fulfilled", value: "order-0" },
  ]);
  deepStrictEqual(caught.errors, [down]);
  // Every message ran, the failing one included.
  deepStrictEqual(log, [
    "send 1",
    "publish o-1",
    "dispatch a@b.c",
    "execute 0",
  ]);
});

Deno.test("BatchError lists the first three failures in its message and keeps every error", () => {
  const Fail = defineTask<number>("Fail");
  const bus = createBus();
  bus.registerTask(Fail, (t) => {
    throw new Error(`no ${t.payload}`);
  });
  throws(
    () => bus.handleAll([0, 1, 2, 3, 4].map((n) => Fail(n))),
    (error) =>
      error instanceof BatchError &&
      error.message ===
        '5 of 5 messages failed in handleAll(): [0] task "Fail": no 0; [1] task "Fail": no 1; [2] task "Fail": no 2; ...' &&
      error.errors.length === 5 &&
      error.results.every((result) => result.status === "rejected"),
  );
  // A failure that is no Error, or cannot even be read.
  const Odd = defineTask<string>("Odd");
  bus.registerTask(Odd, (t) => {
    if (t.payload === "string") throw "plain string";
    throw {
      toString() {
        throw new Error("unreadable");
      },
    };
  });
  throws(() => bus.handleAll([Odd("string"), Odd("object")]), {
    name: "BatchError",
    message:
      '2 of 2 messages failed in handleAll(): [0] task "Odd": plain string; [1] task "Odd": a value that cannot be read',
  });
});

Deno.test("createBus() handleAll() refuses a value that is not a message, naming its index, before running any", () => {
  const log: string[] = [];
  const bus = syncBus(log);
  throws(
    () => bus.handleAll([GetUser({ id: "1" }), { type: "GetUser" }] as never),
    {
      name: "TypeError",
      message:
        "Cannot handleAll() as messages[1] is not a message, built by calling its definition: current value is an object with keys [type]",
    },
  );
  throws(() => bus.handleAll([null] as never), {
    name: "TypeError",
    message:
      "Cannot handleAll() as messages[0] is not a message, built by calling its definition: current value is null",
  });
  throws(() => bus.handleAll(GetUser({ id: "1" }) as never), {
    name: "TypeError",
    message:
      "Cannot handleAll() as 'messages' must be an array of messages: current value is query \"GetUser\"",
  });
  deepStrictEqual(log, []);
});

Deno.test("createBus() handleAll() gives every dispatch the signal and data, each as a dispatch of its own", () => {
  const seen: string[] = [];
  const tracing: Middleware = (message, next, context) => {
    seen.push(`${message.type} ${context.id}`);
    return next(message);
  };
  const bus = createBus({ middleware: [tracing] });
  const data: unknown[] = [];
  const signals: AbortSignal[] = [];
  bus.registerQuery(GetUser, (_q, context) => {
    data.push(context.data);
    signals.push(context.signal);
    return { name: "x" };
  });
  bus.registerTask(SendEmail, (_t, context) => {
    data.push(context.data);
    signals.push(context.signal);
  });
  const controller = new AbortController();
  bus.handleAll([GetUser({ id: "1" }), SendEmail({ to: "a" })], {
    signal: controller.signal,
    data: { tenant: "t1" } as never,
  });
  deepStrictEqual(data, [{ tenant: "t1" }, { tenant: "t1" }]);
  deepStrictEqual(signals, [controller.signal, controller.signal]);
  deepStrictEqual(seen.length, 2);
  deepStrictEqual(new Set(seen.map((line) => line.split(" ")[1])).size, 2);

  // A signal that has aborted already refuses them all.
  controller.abort(new Error("gave up"));
  seen.length = 0;
  throws(
    () => bus.handleAll([GetUser({ id: "1" })], { signal: controller.signal }),
    { message: "gave up" },
  );
  deepStrictEqual(seen, []);
});

Deno.test("createBus() handleAll() refuses wrong options with errors naming them", () => {
  const bus = createBus();
  const cases: [unknown, string, string][] = [
    [
      7,
      "TypeError",
      "Cannot handleAll() as its options must be an object: current value is 7",
    ],
    [
      { id: "x" },
      "TypeError",
      "Cannot handleAll() with an 'id' option: each message is a dispatch of its own; dispatch it alone to give it one",
    ],
    [
      { subscriber: "x" },
      "TypeError",
      "Cannot handleAll() with a 'subscriber' option: each message is a dispatch of its own; dispatch it alone to give it one",
    ],
    [
      { signal: "no" },
      "TypeError",
      "Cannot handleAll() as 'signal' must be an AbortSignal: current value is \"no\"",
    ],
    [
      { data: [] },
      "TypeError",
      "Cannot handleAll() as 'data' must be an object of named values: current value is object",
    ],
    [
      { concurrency: 2 },
      "TypeError",
      "Cannot handleAll() with a 'concurrency' option on the synchronous bus: it dispatches one message after another; use createAsyncBus() to run them concurrently",
    ],
  ];
  for (const [options, name, message] of cases) {
    throws(() => bus.handleAll([], options as never), { name, message });
  }
});

// ---------------------------------------------------------------------------
// handleAll, asynchronous bus

Deno.test("createAsyncBus() handleAll() resolves with the results in order, one message at a time by default", async () => {
  const bus = createAsyncBus();
  const gates = [deferred(), deferred()];
  const log: string[] = [];
  bus.registerQuery(GetUser, async (q) => {
    log.push(`start ${q.payload.id}`);
    await gates[Number(q.payload.id)]!.promise;
    log.push(`end ${q.payload.id}`);
    return { name: `user ${q.payload.id}` };
  });
  bus.registerCommand(CreateOrder, (c) => `order-${c.payload.items.length}`);
  bus.subscribe(OrderPlaced, () => {});
  bus.registerTask(SendEmail, async () => {});
  const all = bus.handleAll([
    GetUser({ id: "0" }),
    GetUser({ id: "1" }),
    CreateOrder({ items: ["a"] }),
    OrderPlaced({ id: "o" }),
    SendEmail({ to: "a" }),
  ]);
  await tick();
  deepStrictEqual(log, ["start 0"]);
  gates[0]!.resolve();
  await tick();
  deepStrictEqual(log, ["start 0", "end 0", "start 1"]);
  gates[1]!.resolve();
  const results: [
    { name: string },
    { name: string },
    string,
    undefined,
    undefined,
  ] = await all;
  deepStrictEqual(results, [
    { name: "user 0" },
    { name: "user 1" },
    "order-1",
    undefined,
    undefined,
  ]);
  deepStrictEqual(await bus.handleAll([]), []);
});

Deno.test("createAsyncBus() handleAll() runs at most `concurrency` at once and keeps the results in input order", async () => {
  const bus = createAsyncBus();
  const gates = new Map<string, ReturnType<typeof deferred<void>>>();
  let inFlight = 0;
  let most = 0;
  const started: string[] = [];
  bus.registerQuery(GetUser, async (q) => {
    started.push(q.payload.id);
    inFlight++;
    most = Math.max(most, inFlight);
    const gate = deferred();
    gates.set(q.payload.id, gate);
    await gate.promise;
    inFlight--;
    return { name: q.payload.id };
  });
  const all = bus.handleAll(
    ["a", "b", "c", "d"].map((id) => GetUser({ id })),
    { concurrency: 2 },
  );
  await tick();
  deepStrictEqual(started, ["a", "b"]);
  // They finish out of order.
  gates.get("b")!.resolve();
  await tick();
  deepStrictEqual(started, ["a", "b", "c"]);
  gates.get("c")!.resolve();
  await tick();
  gates.get("d")!.resolve();
  await tick();
  gates.get("a")!.resolve();
  deepStrictEqual(
    (await all).map((user) => user.name),
    ["a", "b", "c", "d"],
  );
  deepStrictEqual(most, 2);

  // Infinity: all at once.
  started.length = 0;
  const every = bus.handleAll(
    ["e", "f", "g"].map((id) => GetUser({ id })),
    { concurrency: Infinity },
  );
  await tick();
  deepStrictEqual(started, ["e", "f", "g"]);
  for (const id of ["e", "f", "g"]) gates.get(id)!.resolve();
  deepStrictEqual((await every).length, 3);
});

Deno.test("createAsyncBus() handleAll() rejects with a BatchError once every message has settled", async () => {
  const bus = createAsyncBus();
  const refused = new Error("out of stock");
  const slow = deferred();
  let slowDone = false;
  bus.registerCommand(CreateOrder, async (c) => {
    if (c.payload.items.length === 0) throw refused;
    await slow.promise;
    slowDone = true;
    return "ok";
  });
  const all = bus.handleAll(
    [CreateOrder({ items: [] }), CreateOrder({ items: ["a"] })],
    { concurrency: 2 },
  );
  let settled = false;
  all.catch(() => settled = true);
  await tick();
  deepStrictEqual(settled, false);
  slow.resolve();
  await rejects(
    all,
    (error) =>
      error instanceof BatchError &&
      error.message ===
        '1 of 2 messages failed in handleAll(): [0] command "CreateOrder": out of stock' &&
      error.results[0]?.status === "rejected" &&
      error.results[0].reason === refused &&
      error.results[1]?.status === "fulfilled" &&
      error.results[1].value === "ok",
  );
  deepStrictEqual(slowDone, true);
  // No handler is a failure like any other.
  await rejects(
    bus.handleAll([GetUser({ id: "1" })]),
    (error) =>
      error instanceof BatchError &&
      error.results[0]?.status === "rejected" &&
      (error.results[0].reason as Error).name === "NoHandlerError",
  );
});

Deno.test("createAsyncBus() handleAll() rejects, without running any, for a value that is not a message or a bad option", async () => {
  const bus = createAsyncBus();
  let ran = 0;
  bus.registerQuery(GetUser, () => {
    ran++;
    return { name: "x" };
  });
  const notAMessage = bus.handleAll([GetUser({ id: "1" }), 42] as never);
  deepStrictEqual(notAMessage instanceof Promise, true);
  await rejects(notAMessage, {
    name: "TypeError",
    message:
      "Cannot handleAll() as messages[1] is not a message, built by calling its definition: current value is the number 42",
  });
  for (const concurrency of [0, 1.5, -1, NaN, "2"]) {
    await rejects(
      bus.handleAll([GetUser({ id: "1" })], {
        concurrency: concurrency as number,
      }),
      {
        name: "RangeError",
        message:
          `Cannot handleAll() as 'concurrency' must be a positive integer or Infinity: current value is ${
            typeof concurrency === "string" ? '"2"' : concurrency
          }`,
      },
    );
  }
  await rejects(bus.handleAll([], { id: "x" } as never), TypeError);
  deepStrictEqual(ran, 0);
});

Deno.test("createAsyncBus() handleAll() gives every dispatch the signal and data; an abort fails those not yet done", async () => {
  const seen: string[] = [];
  const tracing: AsyncMiddleware = async (message, next, context) => {
    seen.push(
      `${message.type} ${(context.data as { tenant?: string }).tenant}`,
    );
    return await next(message);
  };
  const bus = createAsyncBus({ middleware: [tracing] });
  const gate = deferred();
  bus.registerTask(SendEmail, async (t) => {
    if (t.payload.to === "slow") await gate.promise;
  });
  const controller = new AbortController();
  const all = bus.handleAll(
    [
      SendEmail({ to: "fast" }),
      SendEmail({ to: "slow" }),
      SendEmail({ to: "next" }),
    ],
    { signal: controller.signal, data: { tenant: "t1" } as never },
  );
  await tick();
  const reason = new Error("gave up");
  controller.abort(reason);
  await rejects(
    all,
    (error) =>
      error instanceof BatchError &&
      JSON.stringify(error.results.map((result) => result.status)) ===
        '["fulfilled","rejected","rejected"]' &&
      error.errors[0] === reason && error.errors[1] === reason,
  );
  deepStrictEqual(seen, ["SendEmail t1", "SendEmail t1"]);
  gate.resolve();

  // A signal that has aborted already: rejected with its reason, none run.
  seen.length = 0;
  await rejects(
    bus.handleAll([SendEmail({ to: "fast" })], { signal: controller.signal }),
    (error) => error === reason,
  );
  deepStrictEqual(seen, []);
});

// ---------------------------------------------------------------------------
// subscribeBatch

Deno.test("subscribeBatch() hands over a batch when it reaches `size`; publishing resolves once the event is taken", async () => {
  const clock = createFakeClock();
  const bus = createAsyncBus();
  const batches: string[][] = [];
  const handling = deferred();
  const remove = bus.subscribeBatch(OrderPlaced, async (events) => {
    batches.push(ids(events));
    await handling.promise; // never done until the end of the test
  }, { size: 2, timeoutMs: 1_000, clock });

  await bus.publish(OrderPlaced({ id: "a" }));
  deepStrictEqual(clock.pending, 1); // the batch's timer
  await bus.publish(OrderPlaced({ id: "b" }));
  deepStrictEqual(clock.pending, 0); // cancelled: the batch is full
  await tick();
  deepStrictEqual(batches, [["a", "b"]]);
  // The handler has not finished, yet publishing goes on.
  await bus.publish(OrderPlaced({ id: "c" }));
  await bus.publish(OrderPlaced({ id: "d" }));
  await tick();
  deepStrictEqual(batches, [["a", "b"]]); // one batch at a time
  handling.resolve();
  await tick();
  deepStrictEqual(batches, [["a", "b"], ["c", "d"]]);
  await remove();
});

Deno.test("subscribeBatch() hands over a batch `timeoutMs` after its first event", async () => {
  const clock = createFakeClock();
  const bus = createAsyncBus();
  const batches: string[][] = [];
  const remove = bus.subscribeBatch(OrderPlaced, (events) => {
    batches.push(ids(events));
  }, { size: 10, timeoutMs: 1_000, clock });

  await bus.publish(OrderPlaced({ id: "a" }));
  await clock.advance(600);
  await bus.publish(OrderPlaced({ id: "b" }));
  await clock.advance(399);
  deepStrictEqual(batches, []);
  await clock.advance(1);
  deepStrictEqual(batches, [["a", "b"]]);
  // The next batch times from its own first event.
  await clock.advance(5_000);
  await bus.publish(OrderPlaced({ id: "c" }));
  await clock.advance(999);
  deepStrictEqual(batches, [["a", "b"]]);
  await clock.advance(1);
  deepStrictEqual(batches, [["a", "b"], ["c"]]);
  deepStrictEqual(clock.pending, 0);
  await remove();
});

Deno.test("subscribeBatch() remover flushes the remainder, resolves once it is handled, and takes no more events", async () => {
  const clock = createFakeClock();
  const bus = createAsyncBus();
  const batches: string[][] = [];
  const handling = deferred();
  const remove = bus.subscribeBatch(OrderPlaced, async (events) => {
    batches.push(ids(events));
    await handling.promise;
  }, { size: 10, timeoutMs: 1_000, clock });
  await bus.publish(OrderPlaced({ id: "a" }));
  await bus.publish(OrderPlaced({ id: "b" }));

  const removing = remove();
  deepStrictEqual(remove(), removing);
  deepStrictEqual(clock.pending, 0);
  let removed = false;
  removing.then(() => removed = true);
  await tick();
  deepStrictEqual([batches, removed], [[["a", "b"]], false]);
  handling.resolve();
  await removing;
  deepStrictEqual(removed, true);

  await bus.publish(OrderPlaced({ id: "c" }));
  await clock.advance(5_000);
  deepStrictEqual(batches, [["a", "b"]]);
  // Its batch event has no subscriber left either.
  await bus.publish({ kind: "event", type: "OrderPlaced[]", payload: [] });
  deepStrictEqual(batches, [["a", "b"]]);
  // Removing with nothing held resolves too.
  const empty = bus.subscribeBatch(OrderPlaced, () => {}, {
    size: 1,
    timeoutMs: 1,
    clock,
  });
  await empty();
});

Deno.test("subscribeBatch() keeps an event a publish in flight hands it while it is being removed", async () => {
  const clock = createFakeClock();
  const bus = createAsyncBus();
  const batches: string[][] = [];
  let removing: Promise<void> | undefined;
  // Subscribed first, so it runs first: it removes the batch subscription
  // in the middle of the publish.
  bus.subscribe(OrderPlaced, (event) => {
    if (event.payload.id === "late") removing = remove();
  });
  const remove = bus.subscribeBatch(OrderPlaced, (events) => {
    batches.push(ids(events));
  }, { size: 10, timeoutMs: 1_000, clock });
  await bus.publish(OrderPlaced({ id: "early" }));
  const publishing = bus.publish(OrderPlaced({ id: "late" }));
  deepStrictEqual(clock.pending, 0); // handed over at once, not timed
  await publishing;
  await removing;
  deepStrictEqual(batches, [["early"], ["late"]]);
});

Deno.test("subscribeBatch() with deadLetter: a failing batch leaves one letter listing its events, and redeliver hands it back", async () => {
  const clock = createFakeClock();
  const store = memoryDeadLetterStore();
  const bus = createAsyncBus({ middleware: [deadLetter(store, { clock })] });
  const failures: [string, string[]][] = [];
  const failedOnce = deferred();
  let indexUp = false;
  const handled: unknown[] = [];
  const remove = bus.subscribeBatch(OrderPlaced, function indexOrders(events) {
    if (!indexUp) throw new Error("index down");
    handled.push(events.map((event) => event.payload));
  }, {
    size: 3,
    timeoutMs: 1_000,
    clock,
    onError: (error, events) => {
      failures.push([(error as Error).message, ids(events)]);
      failedOnce.resolve();
    },
  });
  for (const id of ["o-1", "o-2", "o-3"]) {
    await bus.publish(OrderPlaced({ id }));
  }
  await failedOnce.promise;
  deepStrictEqual(failures, [["index down", ["o-1", "o-2", "o-3"]]]);
  const letters = await store.list();
  deepStrictEqual(letters.length, 1);
  const [letter] = letters;
  deepStrictEqual(letter?.message, {
    kind: "event",
    type: "OrderPlaced[]",
    payload: ["o-1", "o-2", "o-3"].map((id) => ({
      kind: "event",
      type: "OrderPlaced",
      payload: { id },
    })),
  });
  deepStrictEqual(
    [letter?.subscriber, letter?.handler, letter?.error.message],
    ["indexOrders", "indexOrders", "index down"],
  );

  indexUp = true;
  const report = await redeliver(store, bus);
  deepStrictEqual(report.delivered.length, 1);
  deepStrictEqual(handled, [[{ id: "o-1" }, { id: "o-2" }, { id: "o-3" }]]);
  deepStrictEqual(await store.list(), []);
  await remove();
});

Deno.test("subscribeBatch() remover resolves when the last batch fails; without onError the failure is printed", async () => {
  const bus = createAsyncBus();
  const printed: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => printed.push(args);
  try {
    const boom = new Error("boom");
    const remove = bus.subscribeBatch(OrderPlaced, () => {
      throw boom;
    }, { size: 5, timeoutMs: 1_000, id: "indexer" });
    await bus.publish(OrderPlaced({ id: "a" }));
    await remove(); // resolves: nobody would be there to catch a rejection
    deepStrictEqual(printed, [[
      'subscribeBatch: subscriber "indexer" failed to handle a batch of 1 "OrderPlaced" events:',
      boom,
    ]]);

    // An onError that throws is printed too, and does not stop the batches.
    printed.length = 0;
    const remove2 = bus.subscribeBatch(OrderPlaced, () => {
      throw boom;
    }, {
      size: 1,
      timeoutMs: 1_000,
      id: "indexer",
      onError: () => {
        throw new Error("onError broke");
      },
    });
    await bus.publish(OrderPlaced({ id: "b" }));
    await remove2();
    deepStrictEqual(
      printed.map((args) => [args[0], (args[1] as Error).message]),
      [[
        'subscribeBatch: the onError of subscriber "indexer" of "OrderPlaced" batches threw:',
        "onError broke",
      ]],
    );
  } finally {
    console.error = original;
  }
});

Deno.test("subscribeBatch() runs the handler in a dispatch: a publish to its one subscriber, seen by middleware, with a context", async () => {
  const seen: string[] = [];
  const tracing: Middleware = (message, next, context) => {
    seen.push(`${message.type} -> ${context.subscriber ?? "all"}`);
    return next(message);
  };
  const bus = createAsyncBus({ middleware: [tracing] });
  const origins: (string | undefined)[] = [];
  bus.registerTask(SendEmail, (_t, context) => {
    origins.push(context.origin);
  });
  const remove = bus.subscribeBatch(OrderPlaced, async (events, context) => {
    await context.dispatch(SendEmail({ to: `${events.length} orders` }));
  }, { size: 2, timeoutMs: 1_000, id: "mailer", module: "billing" });
  await bus.publish(OrderPlaced({ id: "a" }));
  await bus.publish(OrderPlaced({ id: "b" }));
  await remove();
  deepStrictEqual(seen, [
    "OrderPlaced -> all",
    "OrderPlaced -> all",
    "OrderPlaced[] -> mailer",
    "SendEmail -> all",
  ]);
  deepStrictEqual(origins, ["billing"]);
});

Deno.test("subscribeBatch() batches are limited by timeout like any publish, under their own type", async () => {
  const clock = createFakeClock();
  const bus = createAsyncBus({
    middleware: [
      timeout({ defaultMs: 5_000, perType: { "OrderPlaced[]": 100 }, clock }),
    ],
  });
  const errors: unknown[] = [];
  const remove = bus.subscribeBatch(OrderPlaced, () => new Promise(() => {}), {
    size: 1,
    timeoutMs: 1_000,
    clock,
    onError: (error) => errors.push(error),
  });
  await bus.publish(OrderPlaced({ id: "a" }));
  await clock.advance(99);
  deepStrictEqual(errors.length, 0);
  await clock.advance(1);
  deepStrictEqual(errors.length, 1);
  const [error] = errors;
  if (!(error instanceof TimeoutError)) throw error;
  deepStrictEqual(
    [error.kind, error.type, error.limitMs],
    ["event", "OrderPlaced[]", 100],
  );
  await remove();
});

Deno.test("subscribeBatch() ids: the handler's name, then #2, or the one given, unique per event", async () => {
  const bus = createAsyncBus();
  const seen: (string | undefined)[] = [];
  const tracing: Middleware = (message, next, context) => {
    if (message.type === "OrderPlaced[]") seen.push(context.subscriber);
    return next(message);
  };
  const traced = createAsyncBus({ middleware: [tracing] });
  function indexer(): void {}
  const removers = [
    traced.subscribeBatch(OrderPlaced, indexer, { size: 1, timeoutMs: 10 }),
    traced.subscribeBatch(OrderPlaced, indexer, { size: 1, timeoutMs: 10 }),
    traced.subscribeBatch(OrderPlaced, () => {}, {
      size: 1,
      timeoutMs: 10,
      id: "mine",
    }),
  ];
  await traced.publish(OrderPlaced({ id: "a" }));
  await Promise.all(removers.map((remove) => remove()));
  deepStrictEqual(seen.sort(), ["indexer", "indexer#2", "mine"]);

  // The id is the subscriber's on the event too: a plain subscriber's id is
  // taken, and the refused call leaves nothing behind.
  bus.subscribe(OrderPlaced, () => {}, { id: "plain" });
  for (let time = 0; time < 2; time++) {
    throws(
      () =>
        bus.subscribeBatch(OrderPlaced, () => {}, {
          size: 1,
          timeoutMs: 10,
          id: "plain",
        }),
      {
        name: "TypeError",
        message:
          'Cannot subscribe() to event "OrderPlaced" with id "plain": another subscriber of the event has that id. Give each subscriber its own id',
      },
    );
  }
  bus.subscribeBatch(OrderPlaced, () => {}, {
    size: 1,
    timeoutMs: 10,
    id: "mine",
  });
  throws(
    () =>
      bus.subscribeBatch(OrderPlaced, () => {}, {
        size: 1,
        timeoutMs: 10,
        id: "mine",
      }),
    {
      name: "TypeError",
      message:
        'Cannot subscribe() to event "OrderPlaced[]" with id "mine": another subscriber of the event has that id. Give each subscriber its own id',
    },
  );
});

Deno.test("subscribeBatch() refuses bad arguments: RangeError naming size or timeoutMs, TypeError for the rest", () => {
  const bus = createAsyncBus();
  const fine = { size: 2, timeoutMs: 100 };
  const cannot = 'Cannot subscribeBatch() to event "OrderPlaced" as';
  const ranges: [object, string][] = [
    [
      { timeoutMs: 100 },
      "'size' must be a positive integer: current value is undefined",
    ],
    [
      { ...fine, size: 0 },
      "'size' must be a positive integer: current value is 0",
    ],
    [
      { ...fine, size: 1.5 },
      "'size' must be a positive integer: current value is 1.5",
    ],
    [
      { ...fine, size: "2" },
      "'size' must be a positive integer: current value is \"2\"",
    ],
    [
      { size: 2 },
      "'timeoutMs' must be a positive finite number of milliseconds: current value is undefined",
    ],
    [
      { ...fine, timeoutMs: 0 },
      "'timeoutMs' must be a positive finite number of milliseconds: current value is 0",
    ],
    [
      { ...fine, timeoutMs: -5 },
      "'timeoutMs' must be a positive finite number of milliseconds: current value is -5",
    ],
    [
      { ...fine, timeoutMs: Infinity },
      "'timeoutMs' must be a positive finite number of milliseconds: current value is Infinity",
    ],
    [
      { ...fine, timeoutMs: NaN },
      "'timeoutMs' must be a positive finite number of milliseconds: current value is NaN",
    ],
  ];
  for (const [options, message] of ranges) {
    throws(() => bus.subscribeBatch(OrderPlaced, () => {}, options as never), {
      name: "RangeError",
      message: `${cannot} ${message}`,
    });
  }
  const types: [() => unknown, string][] = [
    [
      () => bus.subscribeBatch(OrderPlaced, () => {}, undefined as never),
      `${cannot} its options must be an object with 'size' and 'timeoutMs': current value is undefined`,
    ],
    [
      () =>
        bus.subscribeBatch(
          OrderPlaced,
          () => {},
          { ...fine, clock: {} } as never,
        ),
      `${cannot} 'clock' must have setTimeout and clearTimeout methods: current value is object`,
    ],
    [
      () =>
        bus.subscribeBatch(
          OrderPlaced,
          () => {},
          { ...fine, onError: 1 } as never,
        ),
      `${cannot} 'onError' must be a function: current value is 1`,
    ],
    [
      () => bus.subscribeBatch(OrderPlaced, () => {}, { ...fine, id: "" }),
      `${cannot} 'id' must be a non-empty string without quotes, backslashes or control characters: current value is ""`,
    ],
    [
      () =>
        bus.subscribeBatch(
          OrderPlaced,
          () => {},
          { ...fine, module: 3 } as never,
        ),
      `${cannot} 'module' must be a non-empty string without quotes, backslashes or control characters: current value is 3`,
    ],
    [
      () => bus.subscribeBatch(OrderPlaced, "handler" as never, fine),
      'Cannot subscribeBatch() to event "OrderPlaced" as its handler must be a function: current value is the string "handler"',
    ],
    [
      () => bus.subscribeBatch(GetUser as never, () => {}, fine),
      'Cannot subscribeBatch() as its first argument must be an event definition from defineEvent(): current value is query "GetUser"',
    ],
    [
      () => bus.subscribeBatch("OrderPlaced" as never, () => {}, fine),
      'Cannot subscribeBatch() as its first argument must be an event definition from defineEvent(): current value is the string "OrderPlaced"',
    ],
  ];
  for (const [call, message] of types) {
    throws(call, { name: "TypeError", message });
  }
  // Nothing was subscribed by the refused calls.
  const { subscribeBatch } = bus;
  const remove = subscribeBatch(OrderPlaced, () => {}, fine);
  return remove();
});

Deno.test("the batch methods' close() flushes every open batch subscription: what a bus's close() calls", async () => {
  const OrderShipped = defineEvent<{ id: string }>("OrderShipped");
  const bus = createAsyncBus();
  const batches = batchesOver({
    subscribe: bus.subscribe,
    dispatch: (method, message, options) =>
      (bus[method] as (m: AnyMessage, o?: object) => unknown)(
        message,
        options,
      ),
  }, true);
  const { subscribeBatch } = batches.methods as Pick<
    AsyncMessageBus,
    "subscribeBatch"
  >;
  const clock = createFakeClock();
  const handled: string[] = [];
  subscribeBatch(OrderPlaced, (events) => {
    handled.push(`placed ${ids(events)}`);
  }, { size: 10, timeoutMs: 1_000, clock });
  const removeShipped = subscribeBatch(OrderShipped, async (events) => {
    await Promise.resolve();
    handled.push(`shipped ${ids(events)}`);
  }, { size: 10, timeoutMs: 1_000, clock });
  await bus.publish(OrderPlaced({ id: "a" }));
  await bus.publish(OrderShipped({ id: "b" }));
  await bus.publish(OrderShipped({ id: "c" }));
  deepStrictEqual(handled, []);
  await batches.close();
  deepStrictEqual(handled.sort(), ["placed a", "shipped b,c"]);
  deepStrictEqual(clock.pending, 0);
  await bus.publish(OrderPlaced({ id: "d" }));
  await tick();
  deepStrictEqual(handled.length, 2);
  // Closed ones are removed: their removers return the flush done already.
  await removeShipped();
  await batches.close();
});

// ---------------------------------------------------------------------------
// Fake buses and types

Deno.test("the fake buses have handleAll() and subscribeBatch(), and record what they dispatch", async () => {
  const fake = createFakeBus();
  fake.givenQueryResult(GetUser, { name: "given" });
  deepStrictEqual(
    fake.handleAll([GetUser({ id: "1" }), SendEmail({ to: "a" })]),
    [{ name: "given" }, undefined],
  );
  fake.assertSent(GetUser({ id: "1" }));
  fake.assertDispatched(SendEmail);

  const asyncFake = createAsyncFakeBus();
  asyncFake.givenCommandResult(CreateOrder, "order-9");
  deepStrictEqual(
    await asyncFake.handleAll([CreateOrder({ items: [] })], { concurrency: 2 }),
    ["order-9"],
  );
  asyncFake.assertExecuted(CreateOrder);
  const batches: string[][] = [];
  const remove = asyncFake.subscribeBatch(OrderPlaced, (events) => {
    batches.push(ids(events));
  }, { size: 2, timeoutMs: 1_000 });
  await asyncFake.publish(OrderPlaced({ id: "a" }));
  await asyncFake.publish(OrderPlaced({ id: "b" }));
  await remove();
  deepStrictEqual(batches, [["a", "b"]]);
  // The batch is a publish too, and is recorded as one.
  deepStrictEqual(
    asyncFake.publishedEvents.map((event) => event.type),
    ["OrderPlaced", "OrderPlaced", "OrderPlaced[]"],
  );
  asyncFake.assertPublished(OrderPlaced, { count: 2 });
});

Deno.test("handleAll() and subscribeBatch() are typed", () => {
  // Never run: only `deno check` reads it.
  const check = async () => {
    const bus = createBus();
    const sync: [{ name: string }, string, undefined] = bus.handleAll([
      GetUser({ id: "1" }),
      CreateOrder({ items: [] }),
      OrderPlaced({ id: "o" }),
    ]);
    // @ts-expect-error a query's result is not a number
    const wrong: [number] = bus.handleAll([GetUser({ id: "1" })]);
    const many: (string | undefined)[] = bus.handleAll(
      [] as (ReturnType<typeof CreateOrder> | ReturnType<typeof SendEmail>)[],
    );
    // @ts-expect-error no concurrency on the synchronous bus
    bus.handleAll([], { concurrency: 2 });
    // @ts-expect-error the synchronous bus has no subscribeBatch
    bus.subscribeBatch;

    const asyncBus = createAsyncBus();
    const results: [{ name: string }, undefined] = await asyncBus.handleAll(
      [GetUser({ id: "1" }), SendEmail({ to: "a" })],
      { concurrency: 2 },
    );
    asyncBus.subscribeBatch(OrderPlaced, (events) => {
      const batch: string[] = events.map((event) => event.payload.id);
      void batch;
    }, { size: 1, timeoutMs: 1 });
    asyncBus.subscribeBatch(OrderPlaced, (events) => {
      // @ts-expect-error the payload has no `sku`
      void events[0]?.payload.sku;
    }, { size: 1, timeoutMs: 1 });
    // @ts-expect-error size and timeoutMs are required
    asyncBus.subscribeBatch(OrderPlaced, () => {}, { size: 1 });
    // @ts-expect-error a query definition is not an event definition
    asyncBus.subscribeBatch(GetUser, () => {}, { size: 1, timeoutMs: 1 });
    const removed: Promise<void> = asyncBus.subscribeBatch(
      OrderPlaced,
      () => {},
      { size: 1, timeoutMs: 1 },
    )();
    void [sync, wrong, many, results, removed];
  };
  void check;
});
