import { deepStrictEqual, match, rejects, throws } from "node:assert/strict";
import {
  CircuitOpenError,
  createAsyncBus,
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  QueueFullError,
  TimeoutError,
} from "../mod.ts";
import {
  circuitBreaker,
  type CircuitStateChange,
  concurrencyLimit,
  deadLetter,
  jsonlDeadLetterStore,
  memoryDeadLetterStore,
  redeliver,
  retry,
  type RetryInfo,
  timeout,
} from "../src/resilience/mod.ts";
import { createFakeClock } from "../src/testing/mod.ts";

const GetQuote = defineQuery<{ sku: string }, number>("GetQuote");
const Charge = defineCommand<{ amount: number }>("Charge");
const Charged = defineEvent<{ amount: number }>("Charged");
const Resize = defineTask<string>("Resize");

class Flaky extends Error {
  override name = "Flaky";
}

/** A handler result that settles only when the test says so. */
function gate<T>() {
  return Promise.withResolvers<T>();
}

// --- timeout -------------------------------------------------------------

Deno.test("timeout() rejects with TimeoutError naming the type and limit, and aborts the handler's signal", async () => {
  const clock = createFakeClock();
  const bus = createAsyncBus({
    middleware: [timeout({ defaultMs: 100, perType: { GetQuote: 50 }, clock })],
  });
  let signal: AbortSignal | undefined;
  let deadline: number | undefined;
  bus.registerQuery(GetQuote, (_q, context) => {
    signal = context.signal;
    deadline = context.deadline;
    return new Promise<number>(() => {});
  });
  const quote = bus.send(GetQuote({ sku: "a" }));
  quote.catch(() => {});
  await clock.advance(49);
  deepStrictEqual(signal?.aborted, false);
  deepStrictEqual(deadline, 50);
  await clock.advance(1);
  await rejects(quote, (error) => {
    deepStrictEqual(error instanceof TimeoutError, true);
    const timeoutError = error as TimeoutError;
    deepStrictEqual([timeoutError.type, timeoutError.limitMs], [
      "GetQuote",
      50,
    ]);
    match(timeoutError.message, /^Query "GetQuote" timed out after 50 ms/);
    return true;
  });
  deepStrictEqual(signal?.aborted, true);
  deepStrictEqual(signal?.reason instanceof TimeoutError, true);
});

Deno.test("timeout() lets a dispatch that finishes in time through, untouched", async () => {
  const clock = createFakeClock();
  const bus = createAsyncBus({
    middleware: [timeout({ defaultMs: 100, clock })],
  });
  const failure = new Error("own error");
  bus.registerQuery(GetQuote, async () => await Promise.resolve(7));
  bus.registerCommand(Charge, () => Promise.reject(failure));
  deepStrictEqual(await bus.send(GetQuote({ sku: "a" })), 7);
  await rejects(
    bus.execute(Charge({ amount: 1 })),
    (error) => error === failure,
  );
  await clock.advance(1_000); // nothing fires late
  deepStrictEqual(clock.pending <= 1, true);
});

Deno.test("timeout(): a nested dispatch keeps the outer deadline and stops when the outer gives up", async () => {
  const clock = createFakeClock();
  const bus = createAsyncBus({
    middleware: [timeout({ defaultMs: 100, clock })],
  });
  let innerSignal: AbortSignal | undefined;
  let innerDeadline: number | undefined;
  bus.registerQuery(GetQuote, (_q, context) => {
    innerSignal = context.signal;
    innerDeadline = context.deadline;
    return new Promise<number>(() => {});
  });
  bus.registerCommand(Charge, async (_c, context) => {
    await clock.advance(0);
    await context.send(GetQuote({ sku: "a" }));
  });
  const charging = bus.execute(Charge({ amount: 1 }));
  charging.catch(() => {});
  await clock.advance(10);
  deepStrictEqual(innerDeadline, 100); // not 10 + 100
  await clock.advance(90);
  await rejects(charging, TimeoutError);
  deepStrictEqual(innerSignal?.aborted, true);
});

Deno.test("timeout() rejects bad limits", () => {
  throws(() => timeout({ defaultMs: 0 }), {
    name: "RangeError",
    message:
      "Cannot create timeout as 'defaultMs' must be a positive number of milliseconds: current value is 0",
  });
  throws(() => timeout({ perType: { GetQuote: -5 } }), {
    message: /'perType\.GetQuote' must be a positive number/,
  });
});

// --- retry ---------------------------------------------------------------

Deno.test("retry() retries retryable errors with exponential backoff, then succeeds", async () => {
  const clock = createFakeClock();
  const retries: RetryInfo[] = [];
  const bus = createAsyncBus({
    middleware: [retry({ clock, onRetry: (info) => retries.push(info) })],
  });
  const calls: number[] = [];
  bus.registerQuery(GetQuote, () => {
    calls.push(clock.now());
    if (calls.length < 3) throw new Deno.errors.ConnectionRefused("down");
    return 42;
  });
  const quote = bus.send(GetQuote({ sku: "a" }));
  await clock.advance(10_000);
  deepStrictEqual(await quote, 42);
  // Retry 1 waits 2 s, retry 2 waits 4 s.
  deepStrictEqual(calls, [0, 2_000, 6_000]);
  deepStrictEqual(retries.map((r) => [r.attempt, r.delayMs]), [[1, 2_000], [
    2,
    4_000,
  ]]);
});

Deno.test("retry() gives up after maxAttempts with the last error unchanged", async () => {
  const clock = createFakeClock();
  const bus = createAsyncBus({
    middleware: [
      retry({
        clock,
        maxAttempts: 4,
        delayMs: 3_000,
        multiplier: 3,
        maxDelayMs: 10_000,
        retryable: [Flaky],
      }),
    ],
  });
  const errors: Flaky[] = [];
  const times: number[] = [];
  bus.registerCommand(Charge, () => {
    times.push(clock.now());
    const error = new Flaky(`attempt ${errors.length + 1}`);
    errors.push(error);
    throw error;
  });
  const charging = bus.execute(Charge({ amount: 1 }));
  charging.catch(() => {});
  await clock.advance(60_000);
  await rejects(charging, (error) => error === errors[3]);
  // 3 s, 9 s, then 27 s capped at maxDelayMs 10 s.
  deepStrictEqual(times, [0, 3_000, 12_000, 22_000]);
});

Deno.test("retry() does not retry other errors, events, or after the signal aborts", async () => {
  const clock = createFakeClock();
  const bus = createAsyncBus({ middleware: [retry({ clock })] });
  let commandCalls = 0;
  bus.registerCommand(Charge, () => {
    commandCalls++;
    throw new RangeError("not retryable by default");
  });
  await rejects(bus.execute(Charge({ amount: 1 })), RangeError);
  deepStrictEqual(commandCalls, 1);

  let eventCalls = 0;
  bus.subscribe(Charged, () => {
    eventCalls++;
    throw new Deno.errors.ConnectionReset("reset");
  });
  await rejects(bus.publish(Charged({ amount: 1 })));
  deepStrictEqual(eventCalls, 1);

  let taskCalls = 0;
  bus.registerTask(Resize, () => {
    taskCalls++;
    throw new Deno.errors.TimedOut("slow");
  });
  const controller = new AbortController();
  const resizing = bus.dispatch(Resize("a.png"), { signal: controller.signal });
  resizing.catch(() => {});
  await clock.advance(1_000);
  controller.abort(new Error("shutting down"));
  await rejects(resizing, { message: "shutting down" });
  await clock.advance(60_000);
  deepStrictEqual(taskCalls, 1);
});

Deno.test("retry() jitter shortens each delay by a random fraction", async () => {
  const clock = createFakeClock();
  const delays: number[] = [];
  const bus = createAsyncBus({
    middleware: [retry({
      clock,
      jitter: 0.5,
      random: () => 1 / 2,
      onRetry: (info) => delays.push(info.delayMs),
    })],
  });
  bus.registerQuery(GetQuote, () => {
    throw new TimeoutError("query", "GetQuote", 1);
  });
  const quote = bus.send(GetQuote({ sku: "a" }));
  quote.catch(() => {});
  await clock.advance(10_000);
  await rejects(quote, TimeoutError);
  deepStrictEqual(delays, [1_500, 3_000]);
});

Deno.test("retry() rejects bad options naming the option and its value", () => {
  throws(() => retry({ maxAttempts: 0 }), {
    name: "RangeError",
    message:
      "Cannot create retry as 'maxAttempts' must be a positive integer: current value is 0",
  });
  throws(() => retry({ multiplier: 0.5 }), {
    name: "RangeError",
    message:
      "Cannot create retry as 'multiplier' must be a number of at least 1: current value is 0.5",
  });
  throws(() => retry({ maxDelayMs: -1 }), {
    name: "RangeError",
    message:
      "Cannot create retry as 'maxDelayMs' must be a number of at least 0: current value is -1",
  });
  throws(() => retry({ delayMs: Number.NaN }), RangeError);
  throws(() => retry({ retryable: [] }), {
    name: "RangeError",
    message:
      "Cannot create retry as 'retryable' must list at least one error class: current value is [] (which would never retry). Leave it out for the default, connection errors and timeouts",
  });
  throws(() => retry({ jitter: 2 }), {
    message:
      "Cannot create retry as 'jitter' must be a number from 0 to 1: current value is 2",
  });
  throws(() => retry({ retryable: [42] as never }), RangeError);
});

// --- circuit breaker -------------------------------------------------------

Deno.test("circuitBreaker() opens after the threshold, fails fast, half-opens after the recovery time, closes on success", async () => {
  const clock = createFakeClock();
  const changes: CircuitStateChange[] = [];
  const breaker = circuitBreaker({
    failureThreshold: 2,
    recoveryTimeoutMs: 1_000,
    successThreshold: 2,
    clock,
    onStateChange: (change) => changes.push(change),
  });
  const bus = createAsyncBus({ middleware: [breaker] });
  let healthy = false;
  let calls = 0;
  bus.registerCommand(Charge, () => {
    calls++;
    if (!healthy) throw new Error("provider down");
  });
  await rejects(bus.execute(Charge({ amount: 1 })), {
    message: "provider down",
  });
  deepStrictEqual(breaker.state("Charge"), "closed");
  await rejects(bus.execute(Charge({ amount: 1 })), {
    message: "provider down",
  });
  deepStrictEqual(breaker.state("Charge"), "open");

  await clock.advance(400);
  await rejects(bus.execute(Charge({ amount: 1 })), (error) => {
    deepStrictEqual(error instanceof CircuitOpenError, true);
    match(
      (error as Error).message,
      /circuit for command "Charge" is open.*let through 1000 ms after it opened/,
    );
    deepStrictEqual((error as CircuitOpenError).retryInMs, 600);
    return true;
  });
  deepStrictEqual(calls, 2);

  await clock.advance(600);
  healthy = true;
  await bus.execute(Charge({ amount: 1 }));
  deepStrictEqual(breaker.state("Charge"), "half-open");
  await bus.execute(Charge({ amount: 1 }));
  deepStrictEqual(breaker.state("Charge"), "closed");
  deepStrictEqual(changes.map((c) => `${c.from}->${c.to}`), [
    "closed->open",
    "open->half-open",
    "half-open->closed",
  ]);
  deepStrictEqual((changes[0]?.error as Error).message, "provider down");
  deepStrictEqual(breaker.states(), { Charge: "closed" });
});

Deno.test("circuitBreaker(): a failed trial opens the circuit again; circuits are per type; it works on the sync bus", async () => {
  const clock = createFakeClock();
  const breaker = circuitBreaker({
    failureThreshold: 1,
    recoveryTimeoutMs: 10,
    clock,
  });
  const bus = createBus({ middleware: [breaker] });
  bus.registerCommand(Charge, () => {
    throw new Error("down");
  });
  bus.registerTask(Resize, () => {});
  throws(() => bus.execute(Charge({ amount: 1 })), { message: "down" });
  throws(() => bus.execute(Charge({ amount: 1 })), CircuitOpenError);
  bus.dispatch(Resize("a.png")); // another type is not affected
  deepStrictEqual(breaker.state("Resize"), "closed");
  await clock.advance(10);
  throws(() => bus.execute(Charge({ amount: 1 })), { message: "down" });
  deepStrictEqual(breaker.state("Charge"), "open");
  deepStrictEqual(breaker.state("Never"), "closed");
});

Deno.test("circuitBreaker() rejects bad options", () => {
  throws(() => circuitBreaker({ failureThreshold: 0 }), {
    name: "RangeError",
    message:
      "Cannot create circuitBreaker as 'failureThreshold' must be an integer of at least 1: current value is 0",
  });
  throws(() => circuitBreaker({ recoveryTimeoutMs: -1 }), RangeError);
  throws(() => circuitBreaker({ successThreshold: 1.5 }), RangeError);
});

// --- dead letters ----------------------------------------------------------

Deno.test("deadLetter() keeps failed commands, tasks and each failing subscriber, without changing what the caller sees", async () => {
  const store = memoryDeadLetterStore();
  const at = Date.parse("2026-02-12T14:30:45.000Z");
  const bus = createAsyncBus({
    middleware: [
      deadLetter(store, { clock: { ...createFakeClock(), now: () => at } }),
    ],
  });
  const failure = new Error("charge failed");
  bus.registerCommand(Charge, function chargeCard() {
    throw failure;
  });
  bus.registerQuery(GetQuote, () => {
    throw new Error("queries are not dead-lettered");
  });
  bus.subscribe(Charged, function audit() {});
  bus.subscribe(Charged, async function email() {
    await Promise.resolve();
    throw new Error("smtp down");
  });
  bus.subscribe(Charged, function ledger() {
    throw new Error("ledger locked");
  });
  await rejects(
    bus.execute(Charge({ amount: 5 })),
    (error) => error === failure,
  );
  await rejects(bus.send(GetQuote({ sku: "a" })));
  await rejects(bus.publish(Charged({ amount: 5 })), AggregateError);
  await rejects(bus.dispatch(Resize("a.png")), { name: "NoHandlerError" });

  const letters = await store.list();
  deepStrictEqual(
    letters.map((
      l,
    ) => [l.message.type, l.handler, l.error.message, l.attempts]),
    [
      ["Charge", "chargeCard", "charge failed", 1],
      ["Charged", "email", "smtp down", 1],
      ["Charged", "ledger", "ledger locked", 1],
      [
        "Resize",
        null,
        'No handler for task "Resize": register one with registerTask() before dispatching it',
        1,
      ],
    ],
  );
  deepStrictEqual(letters[0]?.message, {
    kind: "command",
    type: "Charge",
    payload: { amount: 5 },
  });
  deepStrictEqual(letters[0]?.at, "2026-02-12T14:30:45.000Z");
  deepStrictEqual(new Set(letters.map((l) => l.id)).size, 4);
});

Deno.test("redeliver() re-dispatches dead letters, removes those that succeed, and sends an event to the failed subscriber only", async () => {
  const store = memoryDeadLetterStore();
  const bus = createBus({ middleware: [deadLetter(store)] });
  let up = false;
  const calls: string[] = [];
  bus.registerCommand(Charge, function chargeCard() {
    calls.push("charge");
    if (!up) throw new Error("down");
  });
  bus.subscribe(Charged, function audit() {
    calls.push("audit");
  });
  bus.subscribe(Charged, function email() {
    calls.push("email");
    if (!up) throw new Error("smtp down");
  });
  bus.registerTask(Resize, function resize() {
    throw new Error("always broken");
  });
  throws(() => bus.execute(Charge({ amount: 1 })));
  throws(() => bus.publish(Charged({ amount: 1 })));
  throws(() => bus.dispatch(Resize("a.png")));
  calls.length = 0;

  up = true;
  const report = await redeliver(store, bus);
  deepStrictEqual(report.delivered.map((l) => l.message.type), [
    "Charge",
    "Charged",
  ]);
  deepStrictEqual(report.failed.map((f) => (f.error as Error).message), [
    "always broken",
  ]);
  deepStrictEqual(calls, ["charge", "email"]); // audit did not run again
  deepStrictEqual((await store.list()).map((l) => l.message.type), ["Resize"]);
});

Deno.test("jsonlDeadLetterStore() keeps letters across runs, with removals", async () => {
  const dir = await Deno.makeTempDir();
  const first = jsonlDeadLetterStore({ dir });
  const bus = createAsyncBus({ middleware: [deadLetter(first)] });
  bus.registerCommand(Charge, function chargeCard() {
    throw new Error("down");
  });
  bus.registerTask(Resize, function resize() {
    throw new Error("disk full");
  });
  await rejects(bus.execute(Charge({ amount: 1 })));
  await rejects(bus.dispatch(Resize("a.png")));
  const [charge] = await first.list();
  await first.remove([charge!.id]);
  await first.close();
  deepStrictEqual([first.written, first.dropped], [3, 0]);

  await using second = jsonlDeadLetterStore({ dir });
  const letters = await second.list();
  deepStrictEqual(letters.map((l) => [l.message.type, l.handler]), [[
    "Resize",
    "resize",
  ]]);
  // Opening compacted the log: one line per kept letter.
  deepStrictEqual(
    (await Deno.readTextFile(second.path)).trim().split("\n").length,
    1,
  );
});

Deno.test("deadLetter() and its stores reject bad arguments", () => {
  throws(() => deadLetter({} as never), {
    name: "TypeError",
    message:
      "Cannot create deadLetter as 'store' must have an add(letter) method: current value is object",
  });
  throws(() => jsonlDeadLetterStore({ dir: "" }), TypeError);
  throws(() => jsonlDeadLetterStore({ dir: "x", maxQueue: 0 }), RangeError);
});

// --- concurrency limit -----------------------------------------------------

Deno.test("concurrencyLimit() runs at most maxConcurrent at once and queues the rest in order", async () => {
  const limit = concurrencyLimit({ maxConcurrent: 2, maxQueue: 10 });
  const bus = createAsyncBus({ middleware: [limit] });
  const gates = new Map<string, PromiseWithResolvers<void>>();
  const started: string[] = [];
  bus.registerTask(Resize, (t) => {
    started.push(t.payload);
    const g = gate<void>();
    gates.set(t.payload, g);
    return g.promise;
  });
  const all = ["a", "b", "c", "d"].map((name) => bus.dispatch(Resize(name)));
  await Promise.resolve();
  deepStrictEqual([started, limit.active, limit.queued], [["a", "b"], 2, 2]);
  gates.get("b")!.resolve();
  await all[1];
  await Promise.resolve();
  deepStrictEqual(started, ["a", "b", "c"]);
  gates.get("a")!.resolve();
  gates.get("c")!.resolve();
  await Promise.all(all.slice(0, 3));
  await Promise.resolve();
  gates.get("d")!.resolve();
  await all[3];
  deepStrictEqual([limit.active, limit.queued, limit.rejected, limit.dropped], [
    0,
    0,
    0,
    0,
  ]);
});

Deno.test("concurrencyLimit() with a full queue rejects the new dispatch, or drops the oldest waiting one", async () => {
  for (const strategy of ["reject", "drop-oldest"] as const) {
    const limit = concurrencyLimit({ maxConcurrent: 1, maxQueue: 1, strategy });
    const bus = createAsyncBus({ middleware: [limit] });
    const g = gate<void>();
    bus.registerTask(Resize, () => g.promise);
    const running = bus.dispatch(Resize("running"));
    const waiting = bus.dispatch(Resize("waiting"));
    waiting.catch(() => {});
    const arriving = bus.dispatch(Resize("arriving"));
    arriving.catch(() => {});
    if (strategy === "reject") {
      await rejects(arriving, (error) => {
        deepStrictEqual(error instanceof QueueFullError, true);
        deepStrictEqual((error as QueueFullError).outcome, "rejected");
        return true;
      });
      deepStrictEqual([limit.rejected, limit.dropped], [1, 0]);
    } else {
      await rejects(waiting, {
        name: "QueueFullError",
        message:
          'Dropped task "Resize" while it waited: the queue was full (maxQueue 1) and a newer dispatch took its place (strategy "drop-oldest")',
      });
      deepStrictEqual([limit.rejected, limit.dropped], [0, 1]);
    }
    g.resolve();
    await running;
  }
});

Deno.test("concurrencyLimit() rejects bad options", () => {
  throws(() => concurrencyLimit({ maxConcurrent: 0 }), {
    name: "RangeError",
    message:
      "Cannot create concurrencyLimit as 'maxConcurrent' must be an integer of at least 1: current value is 0",
  });
  throws(
    () => concurrencyLimit({ maxConcurrent: 1, strategy: "lifo" as never }),
    RangeError,
  );
});

// --- composition -----------------------------------------------------------

function stack() {
  const clock = createFakeClock();
  const store = memoryDeadLetterStore();
  const breaker = circuitBreaker({
    failureThreshold: 3,
    recoveryTimeoutMs: 60_000,
    clock,
  });
  const timeouts: number[] = [];
  const bus = createAsyncBus({
    middleware: [
      deadLetter(store),
      retry({ clock, retryable: [Flaky, TimeoutError] }),
      breaker,
      timeout({ defaultMs: 1_000, clock }),
    ],
  });
  return { clock, store, breaker, bus, timeouts };
}

Deno.test("[deadLetter, retry, circuitBreaker, timeout]: a command that fails twice then succeeds is retried and never dead-lettered", async () => {
  const { clock, store, bus } = stack();
  let calls = 0;
  bus.registerCommand(Charge, () => {
    if (++calls < 3) throw new Flaky(`attempt ${calls}`);
  });
  const charging = bus.execute(Charge({ amount: 1 }));
  await clock.advance(10_000);
  await charging;
  deepStrictEqual([calls, (await store.list()).length], [3, 0]);
});

Deno.test("[deadLetter, retry, circuitBreaker, timeout]: one that always fails is dead-lettered once, after its last attempt, with attempts: 3, and the caller gets the last error unchanged", async () => {
  const { clock, store, bus } = stack();
  const errors: Flaky[] = [];
  bus.registerCommand(Charge, function chargeCard() {
    const error = new Flaky(`attempt ${errors.length + 1}`);
    errors.push(error);
    throw error;
  });
  const charging = bus.execute(Charge({ amount: 1 }));
  charging.catch(() => {});
  await clock.advance(2_000);
  deepStrictEqual((await store.list()).length, 0); // not after an earlier attempt
  await clock.advance(10_000);
  await rejects(charging, (error) => error === errors[2]);
  const letters = await store.list();
  deepStrictEqual(
    letters.map((l) => [l.handler, l.attempts, l.error.message]),
    [["chargeCard", 3, "attempt 3"]],
  );
});

Deno.test("[deadLetter, retry, circuitBreaker, timeout]: each attempt gets its own timeout", async () => {
  const { clock, store, bus } = stack();
  const starts: number[] = [];
  bus.registerQuery(GetQuote, () => {
    starts.push(clock.now());
    // The first two attempts hang; the third answers.
    return starts.length < 3 ? new Promise<number>(() => {}) : 9;
  });
  const quote = bus.send(GetQuote({ sku: "a" }));
  await clock.advance(20_000);
  deepStrictEqual(await quote, 9);
  // 1 s timeout + 2 s backoff, then 1 s timeout + 4 s backoff.
  deepStrictEqual(starts, [0, 3_000, 8_000]);
  deepStrictEqual((await store.list()).length, 0);
});

Deno.test("[deadLetter, retry, circuitBreaker, timeout]: an open circuit is not retried", async () => {
  const { clock, store, breaker, bus } = stack();
  let calls = 0;
  bus.registerTask(Resize, function resize() {
    calls++;
    throw new Flaky("down");
  });
  const first = bus.dispatch(Resize("a.png"));
  first.catch(() => {});
  await clock.advance(10_000);
  await rejects(first, Flaky); // 3 attempts opened the circuit
  deepStrictEqual([calls, breaker.state("Resize")], [3, "open"]);
  const second = bus.dispatch(Resize("b.png"));
  second.catch(() => {});
  await clock.advance(10_000);
  await rejects(second, CircuitOpenError);
  deepStrictEqual(calls, 3); // failed fast, no retries
  deepStrictEqual(
    (await store.list()).map((l) => [l.error.name, l.attempts]),
    [["Flaky", 3], ["CircuitOpenError", 1]],
  );
});

Deno.test("retry() takes a predicate for what is retryable", async () => {
  const clock = createFakeClock();
  const bus = createAsyncBus({
    middleware: [retry({
      clock,
      delayMs: 1_000,
      multiplier: 1,
      retryable: (error) => error instanceof Error && error.message === "busy",
    })],
  });
  const messages = ["busy", "broken", "busy"];
  let calls = 0;
  bus.registerCommand(Charge, () => {
    throw new Error(messages[calls++]);
  });
  const charging = bus.execute(Charge({ amount: 1 }));
  charging.catch(() => {});
  await clock.advance(5_000);
  // "busy" was retried; "broken" is not retryable and ends it at once.
  await rejects(charging, { message: "broken" });
  deepStrictEqual(calls, 2);
});

Deno.test("dead letters taken before the process exits reach the file, even on Deno.exit()", async () => {
  const dir = await Deno.makeTempDir();
  const script = `
    import { createBus, defineCommand } from "${new URL(
    "../mod.ts",
    import.meta.url,
  )}";
    import { deadLetter, jsonlDeadLetterStore } from "${new URL(
    "../src/resilience/mod.ts",
    import.meta.url,
  )}";
    const Ship = defineCommand("Ship");
    const store = jsonlDeadLetterStore({ dir: ${JSON.stringify(dir)} });
    const bus = createBus({ middleware: [deadLetter(store)] });
    bus.registerCommand(Ship, function ship() { throw new Error("down"); });
    for (let i = 0; i < 500; i++) { try { bus.execute(Ship(i)); } catch {} }
    Deno.exit(0);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "-"],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script));
  await writer.close();
  const { success, stderr } = await child.output();
  deepStrictEqual(success, true, new TextDecoder().decode(stderr));
  await using store = jsonlDeadLetterStore({ dir });
  const letters = await store.list();
  deepStrictEqual(letters.length, 500);
  deepStrictEqual(letters[499]?.message.payload, 499);
});
