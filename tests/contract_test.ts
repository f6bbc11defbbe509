// The public middleware contract: what a middleware reads from the context,
// what it may change through next(), and what the bus tells its observers.
import { deepStrictEqual, rejects, throws } from "node:assert/strict";
import {
  type AsyncMiddleware,
  asyncOnly,
  createAsyncBus,
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  type HandlerCall,
  type HandlerFailure,
  type HandlerObserver,
  type Middleware,
  type MiddlewareContext,
  NoHandlerError,
} from "../mod.ts";
import {
  circuitBreaker,
  concurrencyLimit,
  deadLetter,
  memoryDeadLetterStore,
  redeliver,
  retry,
  timeout,
} from "../src/resilience/mod.ts";
import { createFakeClock } from "../src/testing/mod.ts";

const GetUser = defineQuery<{ id: string }, string>("GetUser");
const Save = defineCommand<string>("Save");
const Saved = defineEvent<string>("Saved");
const Resize = defineTask<string>("Resize");

/** A middleware that observes each dispatch and keeps what it was told. */
function observing(log: string[]): Middleware {
  return (message, next) => {
    const observer: HandlerObserver = {
      onCall: (call) =>
        log.push(
          `call ${message.type} ${call.handler} ${call.subscriber} ${call.attempt}`,
        ),
      onError: (failure) =>
        log.push(
          `error ${message.type} ${failure.handler} ${failure.subscriber} ${
            (failure.error as Error).message
          }`,
        ),
    };
    return next(message, { observer });
  };
}

Deno.test("createBus() refuses async-only middleware at run time, saying to use createAsyncBus()", () => {
  const cases: [string, unknown][] = [
    ["timeout", timeout()],
    ["retry", retry()],
    ["concurrencyLimit", concurrencyLimit({ maxConcurrent: 1 })],
  ];
  for (const [name, middleware] of cases) {
    throws(() => createBus({ middleware: [middleware as Middleware] }), {
      name: "TypeError",
      message: new RegExp(
        `^Cannot createBus\\(\\) as 'middleware\\[0\\]' \\(\\w*\\) works only on the asynchronous bus: it returns promises\\. Use createAsyncBus\\(\\) for it$`,
      ),
    }, name);
    createAsyncBus({ middleware: [middleware as AsyncMiddleware] });
  }
  const awaiting = async function awaiting(
    message: Parameters<AsyncMiddleware>[0],
    next: Parameters<AsyncMiddleware>[1],
  ) {
    return await next(message);
  };
  throws(
    () => createBus({ middleware: [(m, n) => n(m), awaiting as never] }),
    {
      name: "TypeError",
      message:
        "Cannot createBus() as 'middleware[1]' (awaiting) works only on the asynchronous bus: it returns promises. Use createAsyncBus() for it",
    },
  );
  const marked = asyncOnly(function marked(message, next) {
    return next(message);
  } as AsyncMiddleware);
  throws(() => createBus({ middleware: [marked as never] }), TypeError);
  throws(() => asyncOnly(42 as never), {
    name: "TypeError",
    message:
      "Cannot mark middleware as asyncOnly as it must be a function: current value is number",
  });
});

Deno.test("observers are told which handler runs and fails, on the sync bus", () => {
  const log: string[] = [];
  const bus = createBus({ middleware: [observing(log)] });
  bus.registerQuery(GetUser, function findUser(q) {
    return q.payload.id;
  });
  bus.registerCommand(Save, function save() {
    throw new Error("disk full");
  });
  bus.registerTask(Resize, () => {});
  bus.subscribe(Saved, function audit() {});
  bus.subscribe(Saved, () => {
    throw new Error("smtp down");
  });
  bus.send(GetUser({ id: "1" }));
  throws(() => bus.execute(Save("x")), { message: "disk full" });
  bus.dispatch(Resize("a.png"));
  throws(() => bus.publish(Saved("x")), { message: "smtp down" });
  deepStrictEqual(log, [
    "call GetUser findUser undefined 1",
    "call Save save undefined 1",
    "error Save save undefined disk full",
    "call Resize anonymous undefined 1",
    "call Saved audit audit 1",
    "call Saved anonymous anonymous 1",
    "error Saved anonymous anonymous smtp down",
  ]);
});

Deno.test("observers are told which handler runs and fails, on the async bus, after it settles", async () => {
  const log: string[] = [];
  const bus = createAsyncBus({ middleware: [observing(log)] });
  bus.registerCommand(Save, async function save() {
    await Promise.resolve();
    throw new Error("disk full");
  });
  bus.subscribe(Saved, async function email() {
    await Promise.resolve();
    throw new Error("smtp down");
  });
  bus.subscribe(Saved, function ledger() {
    throw new Error("ledger locked");
  });
  bus.subscribe(Saved, function audit() {});
  await rejects(bus.execute(Save("x")), { message: "disk full" });
  await rejects(bus.publish(Saved("x")), AggregateError);
  deepStrictEqual(log, [
    "call Save save undefined 1",
    "error Save save undefined disk full",
    "call Saved email email 1",
    "call Saved ledger ledger 1",
    "call Saved audit audit 1",
    "error Saved email email smtp down",
    "error Saved ledger ledger ledger locked",
  ]);
});

Deno.test("outer and inner observers are both told; nested dispatches have their own", () => {
  const outer: string[] = [];
  const inner: string[] = [];
  const bus = createBus({ middleware: [observing(outer), observing(inner)] });
  bus.registerQuery(GetUser, function findUser(q) {
    return q.payload.id;
  });
  bus.registerCommand(Save, function save(_c, context) {
    context.send(GetUser({ id: "1" }));
  });
  bus.execute(Save("x"));
  // Each dispatch passes through both middleware; the nested send's call is
  // told to the observers of the nested dispatch only.
  deepStrictEqual(outer, [
    "call Save save undefined 1",
    "call GetUser findUser undefined 1",
  ]);
  deepStrictEqual(inner, outer);
});

Deno.test("retry sets context.attempt for each try; nested dispatches start at 1", async () => {
  class Busy extends Error {}
  const clock = createFakeClock();
  const calls: HandlerCall[] = [];
  const watch: Middleware = (message, next) =>
    next(message, { observer: { onCall: (call) => calls.push(call) } });
  const bus = createAsyncBus({
    middleware: [watch, retry({ retryable: [Busy], clock, delayMs: 10 })],
  });
  const seen: [string, number][] = [];
  bus.registerQuery(GetUser, (_q, context) => {
    seen.push(["GetUser", context.attempt]);
    return "Ada";
  });
  bus.registerCommand(Save, async function save(_c, context) {
    seen.push(["Save", context.attempt]);
    await context.send(GetUser({ id: "1" }));
    if (context.attempt < 3) throw new Busy("busy");
  });
  const saving = bus.execute(Save("x"));
  await clock.advance(100);
  await saving;
  deepStrictEqual(seen, [
    ["Save", 1],
    ["GetUser", 1],
    ["Save", 2],
    ["GetUser", 1],
    ["Save", 3],
    ["GetUser", 1],
  ]);
  deepStrictEqual(
    calls.filter((call) => call.handler === "save").map((call) => call.attempt),
    [1, 2, 3],
  );
});

Deno.test("a caller's { id } is context.id for middleware and handlers, and is not inherited", async () => {
  const seen: (string | undefined)[] = [];
  const spy: Middleware = (message, next, context) => {
    seen.push(`middleware ${message.type} ${context.id}`);
    return next(message);
  };
  const sync = createBus({ middleware: [spy] });
  let nested: {
    id: string;
    causationId: string | undefined;
    correlationId: string;
  } = { id: "", causationId: undefined, correlationId: "" };
  sync.registerQuery(GetUser, (_q, context) => {
    nested = context;
    seen.push(`handler GetUser ${context.id}`);
    return "x";
  });
  sync.registerCommand(Save, (_c, context) => {
    seen.push(`handler Save ${context.id}`);
    context.send(GetUser({ id: "1" }));
  });
  sync.execute(Save("x"), { id: "cmd-1" });
  deepStrictEqual(seen.slice(0, 2), [
    "middleware Save cmd-1",
    "handler Save cmd-1",
  ]);
  // The nested dispatch has an id of its own, caused by cmd-1.
  deepStrictEqual(seen.slice(2), [
    `middleware GetUser ${nested.id}`,
    `handler GetUser ${nested.id}`,
  ]);
  deepStrictEqual(nested.id === "cmd-1", false);
  deepStrictEqual([nested.causationId, nested.correlationId], [
    "cmd-1",
    "cmd-1",
  ]);

  const plain = createAsyncBus();
  let id: string | undefined;
  plain.registerCommand(Save, (_c, context) => {
    id = context.id;
  });
  await plain.execute(Save("x"), { id: "from-outbox" });
  deepStrictEqual(id, "from-outbox");
  await plain.execute(Save("x"));
  deepStrictEqual(typeof id === "string" && id !== "from-outbox", true);
  await rejects(plain.execute(Save("x"), { id: "" }), {
    name: "TypeError",
    message:
      `Cannot execute() as 'id' must be a non-empty string without quotes, backslashes or control characters: current value is ""`,
  });
  throws(() => sync.send(GetUser({ id: "1" }), { id: 7 as never }), {
    name: "TypeError",
    message:
      "Cannot send() as 'id' must be a non-empty string without quotes, backslashes or control characters: current value is number",
  });
});

Deno.test("the sync bus takes { signal }: an aborted one refuses the dispatch; handlers see it", () => {
  const bus = createBus();
  let calls = 0;
  let seen: AbortSignal | undefined;
  bus.registerCommand(Save, (_c, context) => {
    calls++;
    seen = context.signal;
  });
  const reason = new Error("too late");
  throws(
    () => bus.execute(Save("x"), { signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  deepStrictEqual(calls, 0);
  const controller = new AbortController();
  bus.execute(Save("x"), { signal: controller.signal });
  deepStrictEqual([calls, seen === controller.signal], [1, true]);
  throws(() => bus.execute(Save("x"), { subscriber: "a" } as never), {
    name: "TypeError",
    message:
      "Cannot execute() with a 'subscriber' option: only publish() delivers to one subscriber",
  });
  throws(() => bus.execute(Save("x"), "soon" as never), {
    name: "TypeError",
    message:
      `Cannot execute() as 'options' must be an object: current value is "soon"`,
  });
});

Deno.test("subscribers get stable ids: the function name, #2 for a repeat, or the id given", () => {
  const calls: string[] = [];
  const watch: Middleware = (message, next) =>
    next(message, {
      observer: { onCall: (call) => void calls.push(call.subscriber!) },
    });
  const bus = createBus({ middleware: [watch] });
  const audit = () => {};
  bus.subscribe(Saved, audit);
  bus.subscribe(Saved, audit);
  bus.subscribe(Saved, () => {});
  bus.subscribe(Saved, () => {});
  const unsubscribe = bus.subscribe(Saved, () => {}, { id: "ledger" });
  bus.publish(Saved("x"));
  deepStrictEqual(calls, [
    "audit",
    "audit#2",
    "anonymous",
    "anonymous#2",
    "ledger",
  ]);
  throws(() => bus.subscribe(Saved, () => {}, { id: "audit" }), {
    name: "TypeError",
    message:
      'Cannot subscribe() to event "Saved" with id "audit": another subscriber of the event has that id. Give each subscriber its own id',
  });
  throws(() => bus.subscribe(Saved, () => {}, { id: "" }), {
    name: "TypeError",
    message:
      `Cannot subscribe() to event "Saved" as 'id' must be a non-empty string without quotes, backslashes or control characters: current value is the string ""`,
  });
  unsubscribe();
  bus.subscribe(Saved, () => {}, { id: "ledger" }); // the id is free again
});

Deno.test("publish(event, { subscriber }) delivers to that one subscriber, on both buses and through middleware", async () => {
  const heard: string[] = [];
  const sync = createBus({ middleware: [(m, next) => next(m)] });
  const plain = createBus();
  const async = createAsyncBus();
  for (const bus of [sync, plain, async]) {
    heard.length = 0;
    bus.subscribe(Saved, (e) => void heard.push(`first ${e.payload}`));
    bus.subscribe(Saved, (e) => void heard.push(`second ${e.payload}`));
    await bus.publish(Saved("x"), { subscriber: "anonymous#2" });
    deepStrictEqual(heard, ["second x"]);
  }
  throws(() => plain.publish(Saved("x"), { subscriber: "nobody" }), {
    name: "NoHandlerError",
    message:
      'No handler for event "Saved": it has no subscriber with id "nobody"; subscribe it (with { id: "nobody" }) before publishing to it',
  });
  await rejects(
    async.publish(defineEvent("Unheard")(), { subscriber: "x" }),
    NoHandlerError,
  );
  const targets: (string | undefined)[] = [];
  const spy: Middleware = (message, next, context: MiddlewareContext) => {
    targets.push(context.subscriber);
    return next(message);
  };
  const watched = createBus({ middleware: [spy] });
  watched.subscribe(Saved, () => {}, { id: "audit" });
  watched.publish(Saved("x"), { subscriber: "audit" });
  watched.publish(Saved("x"));
  deepStrictEqual(targets, ["audit", undefined]);
});

Deno.test("redeliver() finds the failed subscriber by its id, not its function name", async () => {
  const store = memoryDeadLetterStore();
  const bus = createBus({ middleware: [deadLetter(store)] });
  const heard: string[] = [];
  let down = true;
  bus.subscribe(Saved, () => void heard.push("first"));
  bus.subscribe(Saved, () => {
    heard.push("second");
    if (down) throw new Error("down");
  });
  throws(() => bus.publish(Saved("x")), { message: "down" });
  const [letter] = await store.list();
  deepStrictEqual([letter?.handler, letter?.subscriber], [
    "anonymous",
    "anonymous#2",
  ]);
  heard.length = 0;
  down = false;
  const report = await redeliver(store, bus);
  deepStrictEqual(report.delivered.length, 1);
  deepStrictEqual(heard, ["second"]);
  deepStrictEqual(await store.list(), []);
});

Deno.test("a redelivery that fails again replaces its dead letter instead of adding one", async () => {
  const store = memoryDeadLetterStore();
  const bus = createAsyncBus({ middleware: [deadLetter(store)] });
  let failures = 0;
  bus.registerCommand(Save, () => {
    throw new Error(`failure ${++failures}`);
  });
  bus.subscribe(Saved, function email() {
    throw new Error(`smtp ${++failures}`);
  });
  await rejects(bus.execute(Save("x")));
  await rejects(bus.publish(Saved("x"), { id: "evt-1" }));
  const before = await store.list();
  deepStrictEqual(before.map((l) => l.error.message), ["failure 1", "smtp 2"]);
  deepStrictEqual(before[1]?.id, "evt-1/email");
  for (let round = 0; round < 2; round++) {
    const report = await redeliver(store, bus);
    deepStrictEqual(report.failed.length, 2);
  }
  const after = await store.list();
  deepStrictEqual(after.map((l) => l.id), before.map((l) => l.id));
  deepStrictEqual(after.map((l) => l.error.message), ["failure 5", "smtp 6"]);
});

Deno.test("deadLetter learns the handler and attempts through the public observer, even when a timeout cuts it off", async () => {
  const clock = createFakeClock();
  const store = memoryDeadLetterStore();
  const bus = createAsyncBus({
    middleware: [
      deadLetter(store, { clock }),
      retry({ clock, delayMs: 10 }),
      timeout({ defaultMs: 100, clock }),
    ],
  });
  bus.registerTask(Resize, function resize() {
    return new Promise<void>(() => {}); // hangs every time
  });
  const resizing = bus.dispatch(Resize("a.png"));
  resizing.catch(() => {});
  await clock.advance(1_000);
  await rejects(resizing, { name: "TimeoutError" });
  const [letter] = await store.list();
  deepStrictEqual(
    [letter?.handler, letter?.subscriber, letter?.attempts, letter?.error.name],
    ["resize", null, 3, "TimeoutError"],
  );
});

Deno.test("the failure an observer is told is the handler's own error object", () => {
  const failures: HandlerFailure[] = [];
  const bus = createBus({
    middleware: [
      (message, next) =>
        next(message, { observer: { onError: (f) => void failures.push(f) } }),
    ],
  });
  const error = new RangeError("bad");
  bus.registerCommand(Save, () => {
    throw error;
  });
  throws(() => bus.execute(Save("x")), (thrown) => thrown === error);
  deepStrictEqual(failures[0]?.error === error, true);
});

Deno.test("observers are told of each new try; a dead letter tells of the last try only", async () => {
  const clock = createFakeClock();
  const store = memoryDeadLetterStore();
  const attempts: number[] = [];
  const watch: Middleware = (message, next) =>
    next(message, {
      observer: { onAttempt: (attempt) => void attempts.push(attempt) },
    });
  const bus = createAsyncBus({
    middleware: [
      deadLetter(store, { clock }),
      watch,
      retry({ clock, delayMs: 10, retryable: () => true }),
      circuitBreaker({ failureThreshold: 1, recoveryTimeoutMs: 60_000, clock }),
    ],
  });
  bus.registerCommand(Save, function save() {
    throw new Error("down");
  });
  const saving = bus.execute(Save("x"));
  saving.catch(() => {});
  await clock.advance(1_000);
  // The first try reached the handler and opened the circuit; the other two
  // were refused without a handler.
  await rejects(saving, { name: "CircuitOpenError" });
  deepStrictEqual(attempts, [2, 3]);
  const [letter] = await store.list();
  deepStrictEqual(
    [letter?.handler, letter?.attempts, letter?.error.name],
    [null, 3, "CircuitOpenError"],
  );
});
