// Boundary values the rest of the suite does not pin down: each test here
// fails when the comparison or the end of a queue it names is changed.
import { deepStrictEqual, rejects } from "node:assert/strict";
import {
  createAsyncBus,
  defineCommand,
  defineQuery,
  defineTask,
  QueueFullError,
  TimeoutError,
} from "../mod.ts";
import {
  createLatencyStats,
  createMetrics,
  readRecording,
} from "../src/observability/mod.ts";
import { concurrencyLimit, retry, timeout } from "../src/resilience/mod.ts";
import { createFakeClock } from "../src/testing/mod.ts";

Deno.test("timeout(): a nested dispatch whose own limit is shorter than the outer deadline times out at its own limit", async () => {
  const clock = createFakeClock();
  const Outer = defineCommand("Outer");
  const Inner = defineQuery<void, string>("Inner");
  const bus = createAsyncBus({
    middleware: [
      timeout({ clock, defaultMs: 1_000, perType: { Inner: 100 } }),
    ],
  });
  bus.registerQuery(Inner, () => new Promise<string>(() => {}));
  let innerError: unknown;
  let innerFailedAt = -1;
  bus.registerCommand(Outer, async (_command, context) => {
    try {
      await context.send(Inner());
    } catch (error) {
      innerError = error;
      innerFailedAt = clock.now();
    }
  });
  const startedAt = clock.now();
  const outer = bus.execute(Outer());
  await clock.advance(100);
  await outer;
  deepStrictEqual(innerError instanceof TimeoutError, true);
  deepStrictEqual((innerError as TimeoutError).type, "Inner");
  deepStrictEqual(innerFailedAt - startedAt, 100);
});

Deno.test("concurrencyLimit({ strategy: 'drop-oldest', maxQueue: 2 }) drops the oldest waiter, not the newest", async () => {
  const Job = defineTask<string>("Job");
  const limit = concurrencyLimit({
    maxConcurrent: 1,
    maxQueue: 2,
    strategy: "drop-oldest",
  });
  const bus = createAsyncBus({ middleware: [limit] });
  const ran: string[] = [];
  let finish = () => {};
  bus.registerTask(Job, (job) => {
    ran.push(job.payload);
    return new Promise<void>((resolve) => (finish = resolve));
  });
  const outcomes = ["a", "b", "c", "d"].map((name) =>
    bus.dispatch(Job(name)).then(
      () => `${name} ran`,
      (error) =>
        `${name} ${error instanceof QueueFullError ? error.outcome : error}`,
    )
  );
  deepStrictEqual([limit.active, limit.queued, limit.dropped], [1, 2, 1]);
  for (let step = 0; step < 3; step++) {
    finish();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  deepStrictEqual(await Promise.all(outcomes), [
    "a ran",
    "b dropped",
    "c ran",
    "d ran",
  ]);
  deepStrictEqual(ran, ["a", "c", "d"]);
});

Deno.test("concurrencyLimit({ strategy: 'drop-oldest', maxQueue: 0 }) rejects the second dispatch and drops no one", async () => {
  const Job = defineTask<string>("Job");
  const limit = concurrencyLimit({
    maxConcurrent: 1,
    maxQueue: 0,
    strategy: "drop-oldest",
  });
  const bus = createAsyncBus({ middleware: [limit] });
  let finish = () => {};
  bus.registerTask(
    Job,
    () => new Promise<void>((resolve) => (finish = resolve)),
  );
  const first = bus.dispatch(Job("a"));
  await rejects(
    bus.dispatch(Job("b")),
    (error) =>
      error instanceof QueueFullError && error.outcome === "rejected" &&
      error.maxQueue === 0,
  );
  deepStrictEqual(
    [limit.rejected, limit.dropped, limit.queued],
    [1, 0, 0],
  );
  finish();
  await first;
});

Deno.test("createMetrics(): a duration exactly on a bucket bound counts in that bucket (le is inclusive)", () => {
  const metrics = createMetrics({ bucketsMs: [1, 5, 10] });
  const query = { kind: "query", type: "GetUser" } as const;
  for (const ms of [5, 10, 1]) {
    metrics.countStarted(query);
    metrics.countFinished(query, ms, false);
  }
  deepStrictEqual(metrics.snapshot()[0]!.buckets, [1, 2, 3]);
  const text = metrics.toPrometheus();
  for (
    const [le, count] of [
      ["0.001", 1],
      ["0.005", 2],
      ["0.01", 3],
      ["+Inf", 3],
    ] as const
  ) {
    deepStrictEqual(
      text.includes(`le="${le}"} ${count}\n`),
      true,
      `le="${le}" should count ${count} in:\n${text}`,
    );
  }
});

Deno.test("createLatencyStats(): past maxSamples the oldest sample goes, and count keeps counting", () => {
  const stats = createLatencyStats({ maxSamples: 3 });
  const query = { kind: "query", type: "GetUser" } as const;
  for (const ms of [10, 20, 30, 40, 50]) stats.record(query, ms);
  const first = stats.percentiles("GetUser")!;
  deepStrictEqual(
    [first.count, first.minMs, first.p50Ms, first.maxMs],
    [5, 30, 40, 50],
  );
  stats.record(query, 60);
  const second = stats.percentiles("GetUser")!;
  deepStrictEqual(
    [second.count, second.minMs, second.p50Ms, second.maxMs],
    [6, 40, 50, 60],
  );
});

Deno.test("retry() retries a DOMException named TimeoutError by default", async () => {
  const clock = createFakeClock();
  const Fetch = defineQuery<void, string>("Fetch");
  const bus = createAsyncBus({
    middleware: [retry({ clock, maxAttempts: 2, delayMs: 10, jitter: 0 })],
  });
  let calls = 0;
  bus.registerQuery(Fetch, () => {
    calls++;
    if (calls === 1) {
      return Promise.reject(new DOMException("too slow", "TimeoutError"));
    }
    return Promise.resolve("ok");
  });
  const result = bus.send(Fetch());
  await clock.advance(10);
  deepStrictEqual([await result, calls], ["ok", 2]);
  // Another DOMException is not transient: no retry.
  const Other = defineQuery<void, string>("Other");
  let otherCalls = 0;
  bus.registerQuery(Other, () => {
    otherCalls++;
    return Promise.reject(new DOMException("gone", "AbortError"));
  });
  await rejects(bus.send(Other()), { name: "AbortError" });
  deepStrictEqual(otherCalls, 1);
});

Deno.test("readRecording() skips blank lines in the middle of a recording", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const line = (type: string) =>
      JSON.stringify({
        ts: "2026-01-01T00:00:00.000Z",
        type: "query",
        class: type,
        payload: null,
        duration_ns: 1000,
        result: "ok",
        error: null,
      });
    const path = `${dir}/run.jsonl`;
    await Deno.writeTextFile(
      path,
      `${line("A")}\n\n   \n${line("B")}\n\n${line("C")}\n`,
    );
    const broken: number[] = [];
    const types: string[] = [];
    for await (
      const record of readRecording(path, {
        onBrokenLine: (_line, _file, number) => broken.push(number),
      })
    ) {
      types.push(record.type);
    }
    deepStrictEqual([types, broken], [["A", "B", "C"], []]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("separationSignals() skips a type whose baseline p95 is 0 instead of reporting an infinite increase", () => {
  const stats = createLatencyStats();
  const fast = { kind: "query", type: "Fast" } as const;
  const slow = { kind: "query", type: "Slow" } as const;
  stats.record(fast, 0);
  stats.record(slow, 10);
  stats.setBaseline();
  for (let i = 0; i < 10; i++) {
    stats.record(fast, 5);
    stats.record(slow, 40);
  }
  deepStrictEqual(stats.separationSignals(), [
    { type: "Slow", baselineP95Ms: 10, currentP95Ms: 40, increaseRatio: 4 },
  ]);
});
