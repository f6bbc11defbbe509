// Faults of the built-in middleware when callers, callbacks, options and
// message names misbehave: callers who give up, names without end, hostile
// recordings, callbacks that throw, options no timer can honour.
import {
  deepStrictEqual,
  match,
  ok,
  rejects,
  throws,
} from "node:assert/strict";
import {
  type AsyncMiddleware,
  CircuitOpenError,
  createAsyncBus,
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  NoHandlerError,
  TimeoutError,
} from "../mod.ts";
import {
  createLatencyStats,
  createMetrics,
  type DispatchRecord,
  latency,
  metrics,
  replay,
} from "../src/observability/mod.ts";
import { renderReport } from "../src/observability/report.ts";
import {
  circuitBreaker,
  concurrencyLimit,
  retry,
  timeout,
} from "../src/resilience/mod.ts";
import { createFakeClock } from "../src/testing/mod.ts";

const GetQuote = defineQuery<string, number>("GetQuote");
const Charge = defineCommand<number>("Charge");
const Resize = defineTask<string>("Resize");

class Flaky extends Error {
  override name = "Flaky";
}

/** Collects what `console[method]` prints while `body` runs. */
async function printed(
  method: "warn" | "error",
  body: () => unknown,
): Promise<string[]> {
  const lines: string[] = [];
  const original = console[method];
  console[method] = (...args: unknown[]) => {
    lines.push(
      args.map((arg) => arg instanceof Error ? arg.message : String(arg))
        .join(" "),
    );
  };
  try {
    await body();
  } finally {
    console[method] = original;
  }
  return lines;
}

/** Whether `promise` has settled, once pending callbacks have run. */
function settledFlag(promise: Promise<unknown>): { settled: boolean } {
  const flag = { settled: false };
  promise.then(
    () => (flag.settled = true),
    () => (flag.settled = true),
  );
  return flag;
}

// --- 13: concurrencyLimit and callers who gave up ---------------------------

/** A bus whose one Resize handler holds until released, in order. */
function limitedBus(
  middleware: AsyncMiddleware[],
  limit: ReturnType<typeof concurrencyLimit>,
) {
  const bus = createAsyncBus({ middleware: [...middleware, limit] });
  const ran: string[] = [];
  const holds: (() => void)[] = [];
  bus.registerTask(Resize, ({ payload }) => {
    ran.push(payload);
    return new Promise<void>((resolve) => holds.push(resolve));
  });
  return { bus, ran, release: () => holds.shift()!() };
}

Deno.test("concurrencyLimit() drops a waiting dispatch whose signal aborts at once: no handler, the signal's reason, room in the queue", async () => {
  const limit = concurrencyLimit({ maxConcurrent: 1, maxQueue: 1 });
  const { bus, ran, release } = limitedBus([], limit);
  const first = bus.dispatch(Resize("a"));
  const controller = new AbortController();
  const second = bus.dispatch(Resize("b"), { signal: controller.signal });
  deepStrictEqual(limit.queued, 1);

  const reason = new Error("the user left");
  controller.abort(reason);
  deepStrictEqual(limit.queued, 0);
  await rejects(second, (error) => error === reason);
  // The queue has room again: a new dispatch waits instead of being refused.
  const third = bus.dispatch(Resize("c"));
  deepStrictEqual([limit.queued, limit.rejected], [1, 0]);

  release();
  await first;
  await Promise.resolve();
  release();
  await third;
  deepStrictEqual(ran, ["a", "c"]);
  deepStrictEqual([limit.active, limit.queued], [0, 0]);
});

Deno.test("concurrencyLimit() drops a waiting dispatch once its deadline passes, in its clock's time, with a TimeoutError", async () => {
  const clock = createFakeClock();
  // Sets a deadline and nothing else: no signal aborts when it passes.
  const deadline: AsyncMiddleware = (message, next) =>
    next(message, { deadline: clock.now() + 100 });
  const limit = concurrencyLimit({ maxConcurrent: 1, maxQueue: 1, clock });
  const { bus, ran, release } = limitedBus([deadline], limit);
  const first = bus.dispatch(Resize("a"));
  const second = bus.dispatch(Resize("b"));
  second.catch(() => {});
  deepStrictEqual(limit.queued, 1);

  await clock.advance(99);
  deepStrictEqual(limit.queued, 1);
  await clock.advance(1);
  deepStrictEqual(limit.queued, 0);
  await rejects(
    second,
    (error) =>
      error instanceof TimeoutError && error.type === "Resize" &&
      error.limitMs === 100,
  );

  release();
  await first;
  deepStrictEqual(ran, ["a"]);
  deepStrictEqual(clock.pending, 0);
});

Deno.test("concurrencyLimit() refuses at once a caller that must wait and whose deadline has passed or signal aborted", async () => {
  const clock = createFakeClock(1_000);
  const past: AsyncMiddleware = (message, next) =>
    next(message, { deadline: 500 });
  const limit = concurrencyLimit({
    maxConcurrent: 1,
    maxQueue: 1,
    strategy: "drop-oldest",
    clock,
  });
  const { bus, ran, release } = limitedBus([], limit);
  const late = createAsyncBus({ middleware: [past, limit] });
  late.registerTask(Resize, () => {
    ran.push("late");
  });
  const first = bus.dispatch(Resize("a"));
  const waiting = bus.dispatch(Resize("b"));
  await rejects(late.dispatch(Resize("c")), TimeoutError);
  // The waiting one was not dropped for a caller who had given up.
  deepStrictEqual([limit.queued, limit.dropped], [1, 0]);

  release();
  await first;
  await Promise.resolve();
  release();
  await waiting;
  deepStrictEqual(ran, ["a", "b"]);
});

// --- 16: per-type state is bounded ------------------------------------------

Deno.test("metrics(), latency() and circuitBreaker() keep nothing for names without a handler, sync and async", async () => {
  const m = createMetrics();
  const stats = createLatencyStats();
  const sampled = createLatencyStats();
  const breaker = circuitBreaker({ failureThreshold: 1 });
  const middleware = [
    metrics(m),
    latency(stats),
    latency(sampled, { sampleEvery: 4 }),
    breaker,
  ];
  const bus = createBus({ middleware });
  const asyncBus = createAsyncBus({ middleware });
  for (let i = 0; i < 10; i++) {
    const Unknown = defineQuery(`Unknown${i}`);
    throws(() => bus.send(Unknown()), NoHandlerError);
    await rejects(asyncBus.send(Unknown()), NoHandlerError);
    // A second time: no circuit opened, no sampled-out count kept.
    throws(() => bus.send(Unknown()), NoHandlerError);
  }
  deepStrictEqual(m.snapshot(), []);
  deepStrictEqual(stats.all(), []);
  deepStrictEqual(sampled.all(), []);
  deepStrictEqual(breaker.states(), {});
  deepStrictEqual(/Unknown/.test(m.toPrometheus()), false);

  // A handler's own nested dispatch without a handler is its failure.
  bus.registerCommand(Charge, (_command, context) => {
    context.send(defineQuery("Nowhere")());
  });
  throws(() => bus.execute(Charge(1)), NoHandlerError);
  deepStrictEqual(
    m.snapshot().map((e) => [e.type, e.dispatched, e.failed]),
    [["Charge", 1, 1]],
  );
  deepStrictEqual(breaker.states(), { Charge: "open" });
});

Deno.test("metrics() counts types past maxTypes together as _other, with one warning", async () => {
  const m = createMetrics({ maxTypes: 2, bucketsMs: [1] });
  const bus = createBus({ middleware: [metrics(m)] });
  const warnings = await printed("warn", () => {
    for (const name of ["A", "B", "C", "D", "C"]) {
      const Happened = defineEvent(name);
      bus.publish(Happened()); // no subscriber: succeeds
    }
  });
  deepStrictEqual(
    m.snapshot().map((e) => [e.type, e.dispatched, e.succeeded]),
    [["A", 1, 1], ["B", 1, 1], ["_other", 3, 3]],
  );
  deepStrictEqual(warnings.length, 1);
  match(warnings[0]!, /^metrics: more than 2 message types; event "C"/);
  match(
    m.toPrometheus(),
    /^message_bus_dispatched_total\{kind="event",type="_other"\} 3$/m,
  );
});

Deno.test("latency stats count types past maxTypes together as _other, with one warning", async () => {
  const stats = createLatencyStats({ maxTypes: 2 });
  const warnings = await printed("warn", () => {
    for (
      const [type, ms] of [["A", 1], ["B", 2], ["C", 3], ["D", 4]] as const
    ) {
      stats.record({ kind: "query", type }, ms);
    }
  });
  deepStrictEqual(
    stats.all().map((s) => [s.type, s.count, s.minMs, s.maxMs]),
    [["A", 1, 1, 1], ["B", 1, 2, 2], ["_other", 2, 3, 4]],
  );
  deepStrictEqual(warnings.length, 1);
  match(warnings[0]!, /^latency: more than 2 message types; query "C"/);
  // Without a duration, only a type already timed is counted.
  deepStrictEqual(stats.record({ kind: "query", type: "A" }), true);
  deepStrictEqual(stats.record({ kind: "query", type: "E" }), false);
  deepStrictEqual(stats.percentiles("A")?.count, 2);
});

Deno.test("circuitBreaker() gives types past maxTypes one shared circuit, _other, with one warning", async () => {
  const breaker = circuitBreaker({ failureThreshold: 1, maxTypes: 1 });
  const bus = createBus({ middleware: [breaker] });
  const Other = defineCommand("Other");
  bus.registerCommand(Charge, () => {});
  bus.registerCommand(Other, () => {
    throw new Error("down");
  });
  bus.registerQuery(GetQuote, () => 1);
  const warnings = await printed("warn", () => {
    bus.execute(Charge(1));
    throws(() => bus.execute(Other()), { message: "down" });
  });
  // GetQuote shares the circuit Other opened.
  throws(() => bus.send(GetQuote("x")), CircuitOpenError);
  deepStrictEqual(breaker.states(), { _other: "open", Charge: "closed" });
  deepStrictEqual(breaker.state("_other"), "open");
  deepStrictEqual(warnings.length, 1);
  match(
    warnings[0]!,
    /^circuitBreaker: more than 1 message types; command "Other"/,
  );
});

Deno.test("20,000 distinct names leave bounded state and a bounded exposition", async () => {
  const m = createMetrics();
  const stats = createLatencyStats();
  const breaker = circuitBreaker();
  const bus = createBus({
    middleware: [metrics(m), latency(stats), breaker],
  });
  const warnings = await printed("warn", () => {
    for (let i = 0; i < 10_000; i++) {
      try {
        bus.send(defineQuery(`q${i}`)()); // no handler
      } catch { /* NoHandlerError */ }
      bus.publish(defineEvent(`e${i}`)()); // no subscriber
    }
  });
  deepStrictEqual(warnings.length, 3); // one per table
  const entries = m.snapshot();
  deepStrictEqual(entries.length, 1_001); // 1,000 names and _other
  deepStrictEqual(entries.every((e) => e.kind === "event"), true);
  deepStrictEqual(entries.find((e) => e.type === "_other")?.dispatched, 9_000);
  deepStrictEqual(stats.all().length, 1_001);
  deepStrictEqual(Object.keys(breaker.states()).length, 1_001);
  const text = m.toPrometheus();
  deepStrictEqual(/type="q/.test(text), false);
  ok(text.length < 2_000_000, `${text.length} characters`);
});

// --- 18: the report escapes every field -------------------------------------

const HOSTILE = `<img src=x onerror=alert(1)>"'&</script>`;

function escaped(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;")
    .replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

Deno.test("renderReport() escapes every field of a record, and the title", () => {
  const hostile = {
    ts: `ts${HOSTILE}`,
    kind: `kind${HOSTILE}` as DispatchRecord["kind"],
    type: `type${HOSTILE}`,
    payload: { text: `payload${HOSTILE}` },
    durationMs: 5,
    result: `result${HOSTILE}`,
    error: { name: `name${HOSTILE}`, message: `message${HOSTILE}` },
  };
  const { html } = renderReport([hostile], { title: `title${HOSTILE}` });
  for (const text of [`ts${HOSTILE}`, `kind${HOSTILE}`, `type${HOSTILE}`]) {
    ok(html.includes(escaped(text)), text);
  }
  ok(html.includes(escaped(`name${HOSTILE}: message${HOSTILE}`)));
  ok(html.includes(escaped(JSON.stringify(hostile.payload))));
  ok(html.includes(`<title>${escaped(`title${HOSTILE}`)}</title>`));
  ok(html.includes(`<h1>${escaped(`title${HOSTILE}`)}</h1>`));
  deepStrictEqual(html.includes("<img"), false);
  deepStrictEqual(html.includes("</script"), false);
  deepStrictEqual(html.includes("'"), false);
  deepStrictEqual(html.includes(`"&`), false);

  // Fields of other types than the record's are shown, escaped, too.
  const odd = renderReport([{
    ...hostile,
    ts: 7 as unknown as string,
    error: HOSTILE as unknown as DispatchRecord["error"],
  }]).html;
  ok(odd.includes(escaped(HOSTILE)));
  deepStrictEqual(odd.includes("<img"), false);
});

// --- callbacks that throw ----------------------------------------------------

Deno.test("latency(): an onSlow that throws is reported and changes no outcome", async () => {
  const clock = createFakeClock();
  const stats = createLatencyStats();
  const bus = createAsyncBus({
    middleware: [
      latency(stats, {
        thresholdMs: 10,
        clock,
        onSlow: () => {
          throw new Error("onSlow broke");
        },
      }),
    ],
  });
  bus.registerQuery(
    GetQuote,
    ({ payload }) =>
      new Promise((resolve, reject) => {
        clock.setTimeout(
          () =>
            payload === "bad" ? reject(new Flaky("slow and bad")) : resolve(1),
          50,
        );
      }),
  );
  const errors = await printed("error", async () => {
    const good = bus.send(GetQuote("good"));
    const bad = bus.send(GetQuote("bad"));
    bad.catch(() => {});
    await clock.advance(50);
    deepStrictEqual(await good, 1);
    await rejects(bad, { name: "Flaky", message: "slow and bad" });
  });
  deepStrictEqual(errors, [
    `latency: 'onSlow' threw for query "GetQuote"; the dispatch goes on: onSlow broke`,
    `latency: 'onSlow' threw for query "GetQuote"; the dispatch goes on: onSlow broke`,
  ]);
  deepStrictEqual(stats.percentiles("GetQuote")?.count, 2);
});

Deno.test("circuitBreaker(): an onStateChange that throws is reported and changes no outcome", async () => {
  const clock = createFakeClock();
  const breaker = circuitBreaker({
    failureThreshold: 1,
    recoveryTimeoutMs: 100,
    clock,
    onStateChange: ({ to }) => {
      throw new Error(`told of ${to}`);
    },
  });
  const bus = createBus({ middleware: [breaker] });
  let up = false;
  bus.registerCommand(Charge, () => {
    if (!up) throw new Flaky("provider down");
  });
  const errors = await printed("error", async () => {
    throws(() => bus.execute(Charge(1)), { name: "Flaky" });
    await clock.advance(100);
    up = true;
    deepStrictEqual(bus.execute(Charge(2)), undefined);
  });
  deepStrictEqual(breaker.state("Charge"), "closed");
  deepStrictEqual(errors, [
    `circuitBreaker: 'onStateChange' threw for command "Charge" (closed -> open); the dispatch goes on: told of open`,
    `circuitBreaker: 'onStateChange' threw for command "Charge" (open -> half-open); the dispatch goes on: told of half-open`,
    `circuitBreaker: 'onStateChange' threw for command "Charge" (half-open -> closed); the dispatch goes on: told of closed`,
  ]);
});

Deno.test("retry(): an onRetry that throws is reported and the retries go on", async () => {
  const clock = createFakeClock();
  const bus = createAsyncBus({
    middleware: [
      retry({
        retryable: [Flaky],
        delayMs: 10,
        clock,
        onRetry: () => {
          throw new Error("onRetry broke");
        },
      }),
    ],
  });
  bus.registerQuery(GetQuote, (_query, context) => {
    if (context.attempt < 3) throw new Flaky("busy");
    return 42;
  });
  const errors = await printed("error", async () => {
    const quote = bus.send(GetQuote("x"));
    await clock.advance(10 + 20);
    deepStrictEqual(await quote, 42);
  });
  deepStrictEqual(errors, [
    `retry: 'onRetry' threw for query "GetQuote"; the retry goes on: onRetry broke`,
    `retry: 'onRetry' threw for query "GetQuote"; the retry goes on: onRetry broke`,
  ]);
});

// --- retry and the deadline ---------------------------------------------------

Deno.test("retry() gives up at once, with the handler's error, when the delay would end at or after the deadline", async () => {
  const clock = createFakeClock();
  const retries: number[] = [];
  const deadline: AsyncMiddleware = (message, next) =>
    next(message, { deadline: clock.now() + 2_500 });
  const bus = createAsyncBus({
    middleware: [
      deadline,
      retry({
        retryable: [Flaky],
        delayMs: 1_000,
        multiplier: 2,
        maxAttempts: 5,
        clock,
        onRetry: (info) => retries.push(info.delayMs),
      }),
    ],
  });
  let calls = 0;
  bus.registerQuery(GetQuote, () => {
    calls++;
    throw new Flaky(`attempt ${calls}`);
  });
  const quote = bus.send(GetQuote("x"));
  quote.catch(() => {});
  await clock.advance(1_000);
  // The second delay (2,000 ms) would end at 3,000, past the deadline.
  const flag = settledFlag(quote);
  await clock.advance(0);
  deepStrictEqual(flag.settled, true);
  await rejects(quote, { name: "Flaky", message: "attempt 2" });
  deepStrictEqual([calls, retries, clock.pending], [2, [1_000], 0]);
});

// --- the half-open circuit ----------------------------------------------------

Deno.test("circuitBreaker(): a half-open circuit runs at most successThreshold trials at a time; the rest fail fast", async () => {
  const clock = createFakeClock();
  const breaker = circuitBreaker({
    failureThreshold: 1,
    successThreshold: 2,
    recoveryTimeoutMs: 100,
    clock,
  });
  const bus = createAsyncBus({ middleware: [breaker] });
  let up = false;
  let calls = 0;
  const holds: (() => void)[] = [];
  bus.registerQuery(GetQuote, () => {
    calls++;
    if (!up) throw new Flaky("down");
    return new Promise<number>((resolve) => holds.push(() => resolve(1)));
  });
  await rejects(bus.send(GetQuote("x")), Flaky);
  await clock.advance(100);
  up = true;
  const trials = [bus.send(GetQuote("a")), bus.send(GetQuote("b"))];
  await rejects(bus.send(GetQuote("c")), CircuitOpenError);
  await rejects(bus.send(GetQuote("d")), CircuitOpenError);
  deepStrictEqual([calls, breaker.state("GetQuote")], [3, "half-open"]);

  holds.shift()!();
  deepStrictEqual(await trials[0], 1);
  // One trial slot is free again.
  const third = bus.send(GetQuote("e"));
  deepStrictEqual(calls, 4);
  holds.shift()!();
  deepStrictEqual(await trials[1], 1);
  deepStrictEqual(breaker.state("GetQuote"), "closed");
  holds.shift()!();
  deepStrictEqual(await third, 1);
});

// --- timer-based options past 2^31 - 1 ms -------------------------------------

Deno.test("timer-based options over 2^31 - 1 ms are a RangeError at creation", () => {
  const tooLong = 2 ** 31;
  const message = (name: string) =>
    `'${name}' must be at most 2147483647 ms (2^31 - 1, the longest a timer waits): current value is 2147483648`;
  throws(() => timeout({ defaultMs: tooLong }), {
    name: "RangeError",
    message: `Cannot create timeout as ${message("defaultMs")}`,
  });
  throws(() => timeout({ perType: { GetQuote: tooLong } }), {
    name: "RangeError",
    message: `Cannot create timeout as ${message("perType.GetQuote")}`,
  });
  throws(() => retry({ delayMs: tooLong }), {
    name: "RangeError",
    message: `Cannot create retry as ${message("delayMs")}`,
  });
  throws(() => retry({ maxDelayMs: tooLong }), {
    name: "RangeError",
    message: `Cannot create retry as ${message("maxDelayMs")}`,
  });
  throws(() => circuitBreaker({ recoveryTimeoutMs: tooLong }), {
    name: "RangeError",
    message: `Cannot create circuitBreaker as ${message("recoveryTimeoutMs")}`,
  });
  // The longest timer is fine.
  timeout({ defaultMs: tooLong - 1 });
  retry({ delayMs: tooLong - 1, maxDelayMs: tooLong - 1 });
  circuitBreaker({ recoveryTimeoutMs: tooLong - 1 });
});

// --- bad factory arguments ---------------------------------------------------

Deno.test("bad factory arguments are TypeErrors naming the factory and the argument", async () => {
  const clockMessage = (factory: string, value: string) =>
    `Cannot create ${factory} as 'clock' must have now(), setTimeout() and clearTimeout() methods: current value is ${value}`;
  throws(() => retry({ clock: {} as never }), {
    name: "TypeError",
    message: clockMessage("retry", "{}"),
  });
  throws(() => timeout({ clock: { now: () => 0 } as never }), {
    name: "TypeError",
    message: clockMessage("timeout", "an object with now"),
  });
  throws(() => circuitBreaker({ clock: null as never }), {
    name: "TypeError",
    message: clockMessage("circuitBreaker", "null"),
  });
  throws(() => concurrencyLimit({ maxConcurrent: 1, clock: 5 as never }), {
    name: "TypeError",
    message: clockMessage("concurrencyLimit", "5"),
  });
  throws(
    () => latency(createLatencyStats(), { clock: {} as never }),
    { name: "TypeError", message: clockMessage("latency", "{}") },
  );
  throws(
    () => metrics(createMetrics(), { clock: {} as never }),
    { name: "TypeError", message: clockMessage("metrics middleware", "{}") },
  );
  throws(() => timeout(null as never), {
    name: "TypeError",
    message:
      "Cannot create timeout as 'options' must be an object: current value is null",
  });
  throws(() => circuitBreaker(7 as never), {
    name: "TypeError",
    message:
      "Cannot create circuitBreaker as 'options' must be an object: current value is 7",
  });
  throws(() => retry("fast" as never), {
    name: "TypeError",
    message:
      "Cannot create retry as 'options' must be an object: current value is \"fast\"",
  });
  throws(() => concurrencyLimit(null as never), {
    name: "TypeError",
    message:
      "Cannot create concurrencyLimit as 'options' must be an object: current value is null",
  });
  throws(() => retry({ onRetry: "log" as never }), {
    name: "TypeError",
    message:
      "Cannot create retry as 'onRetry' must be a function: current value is \"log\"",
  });
  throws(() => latency(null as never), {
    name: "TypeError",
    message:
      "Cannot create latency as 'stats' must be latency stats (from createLatencyStats()): current value is null",
  });
  throws(() => metrics({} as never), {
    name: "TypeError",
    message:
      "Cannot create metrics middleware as 'm' must be metrics (from createMetrics()), with countStarted(), countFinished() and discardStarted(): current value is {}",
  });
  throws(() => renderReport([{}] as never), {
    name: "TypeError",
    message:
      "Cannot render report as record 0 must be a dispatch record, with a string 'kind' and 'type' and a number 'durationMs': current value is {}",
  });
  throws(() => renderReport(null as never), {
    name: "TypeError",
    message:
      "Cannot render report as 'records' must be an iterable of dispatch records: current value is null",
  });

  const bus = createBus();
  await rejects(replay([null] as never, bus, undefined as never), TypeError);
  await rejects(replay([null] as never, bus, { definitions: [GetQuote] }), {
    name: "TypeError",
    message:
      "Cannot replay as record 0 of 'records' must be a dispatch record, with a string 'kind' and 'type': current value is null",
  });
  await rejects(replay([], null as never, { definitions: [] }), {
    name: "TypeError",
    message:
      "Cannot replay as 'bus' must be a message bus, with send(), execute(), publish() and dispatch(): current value is null",
  });
  await rejects(replay(42 as never, bus, { definitions: [] }), {
    name: "TypeError",
    message:
      "Cannot replay as 'records' must be an iterable or async iterable of dispatch records: current value is 42",
  });
});

// --- Prometheus label values ---------------------------------------------------

Deno.test("toPrometheus() removes CR and NUL from label values, which the format cannot escape", () => {
  const m = createMetrics({ prefix: "app" });
  m.countStarted({ kind: "event", type: "odd\r\nname\u0000!" });
  const lines = m.toPrometheus().split("\n");
  deepStrictEqual(
    lines.find((line) => line.startsWith("app_dispatched_total{")),
    'app_dispatched_total{kind="event",type="odd\\nname!"} 1',
  );
  deepStrictEqual(/[\r\0]/.test(m.toPrometheus()), false);
});
