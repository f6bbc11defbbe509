import { deepStrictEqual, match, throws } from "node:assert/strict";
import {
  createAsyncBus,
  createBus,
  defineCommand,
  defineQuery,
} from "../mod.ts";
import {
  createLatencyStats,
  latency,
  type SlowDispatch,
} from "../src/observability/mod.ts";

const GetUser = defineQuery<{ ms: number }, string>("GetUser");
const Save = defineCommand<{ ms: number }>("Save");

/** A fake clock that handlers advance instead of sleeping. */
function fakeClock() {
  let now = 1_000;
  return {
    now: () => now,
    setTimeout: () => 0,
    clearTimeout: () => {},
    advance: (ms: number) => {
      now += ms;
    },
  };
}

Deno.test("createLatencyStats() gives nearest-rank percentiles, min, max and count per type", () => {
  const stats = createLatencyStats();
  const query = { kind: "query", type: "GetUser" } as const;
  for (const ms of [5, 1, 4, 2, 3]) stats.record(query, ms);
  stats.record({ kind: "command", type: "Save" }, 7);
  deepStrictEqual(stats.percentiles("GetUser"), {
    type: "GetUser",
    kind: "query",
    count: 5,
    p50Ms: 3,
    p95Ms: 5,
    p99Ms: 5,
    minMs: 1,
    maxMs: 5,
  });
  deepStrictEqual(stats.percentiles("Missing"), undefined);
  deepStrictEqual(stats.all().map((s) => [s.type, s.count]), [["GetUser", 5], [
    "Save",
    1,
  ]]);
  const many = createLatencyStats();
  for (let ms = 1000; ms >= 1; ms--) many.record(query, ms);
  const summary = many.percentiles("GetUser")!;
  deepStrictEqual([summary.p50Ms, summary.p95Ms, summary.p99Ms], [
    500,
    950,
    990,
  ]);
});

Deno.test("createLatencyStats() keeps at most maxSamples per type but counts everything", () => {
  const stats = createLatencyStats({ maxSamples: 3 });
  const query = { kind: "query", type: "GetUser" } as const;
  for (const ms of [100, 200, 300, 1, 2]) stats.record(query, ms);
  stats.record(query); // counted, not timed
  const summary = stats.percentiles("GetUser")!;
  deepStrictEqual(summary.count, 6);
  deepStrictEqual([summary.minMs, summary.maxMs], [1, 300]);
  throws(() => createLatencyStats({ maxSamples: 0 }), {
    name: "RangeError",
    message:
      "Cannot use latency stats as 'maxSamples' must be a positive integer: current value is 0",
  });
});

Deno.test("separationSignals() lists types whose p95 grew by the threshold ratio, largest first", () => {
  const stats = createLatencyStats({ maxSamples: 100 });
  const types = ["Steady", "Doubled", "Tripled"].map((type) =>
    ({ kind: "query", type }) as const
  );
  for (const message of types) {
    for (let i = 0; i < 100; i++) stats.record(message, 10);
  }
  stats.setBaseline();
  deepStrictEqual(stats.separationSignals(), []);
  for (let i = 0; i < 100; i++) {
    stats.record(types[0]!, 11);
    stats.record(types[1]!, 20);
    stats.record(types[2]!, 30);
  }
  stats.record({ kind: "event", type: "New" }, 500); // no baseline: no signal
  deepStrictEqual(stats.separationSignals(), [
    { type: "Tripled", baselineP95Ms: 10, currentP95Ms: 30, increaseRatio: 3 },
    { type: "Doubled", baselineP95Ms: 10, currentP95Ms: 20, increaseRatio: 2 },
  ]);
  deepStrictEqual(
    stats.separationSignals({ thresholdRatio: 2.5 }).map((s) => s.type),
    ["Tripled"],
  );
  throws(() => stats.separationSignals({ thresholdRatio: -1 }), RangeError);
  stats.reset();
  deepStrictEqual([stats.all(), stats.separationSignals()], [[], []]);
});

Deno.test("latency() times sync and async dispatches, failures included", async () => {
  const clock = fakeClock();
  const stats = createLatencyStats();
  const bus = createBus({
    middleware: [latency(stats, { clock, onSlow: () => {} })],
  });
  bus.registerQuery(GetUser, (q) => {
    clock.advance(q.payload.ms);
    return "ok";
  });
  bus.registerCommand(Save, (c) => {
    clock.advance(c.payload.ms);
    throw new Error("failed");
  });
  bus.send(GetUser({ ms: 4 }));
  bus.send(GetUser({ ms: 8 }));
  throws(() => bus.execute(Save({ ms: 2 })));
  deepStrictEqual(stats.percentiles("GetUser")?.maxMs, 8);
  deepStrictEqual(stats.percentiles("Save")?.maxMs, 2);

  const asyncStats = createLatencyStats();
  const asyncBus = createAsyncBus({
    middleware: [latency(asyncStats, { clock, onSlow: () => {} })],
  });
  asyncBus.registerQuery(GetUser, async (q) => {
    await Promise.resolve();
    clock.advance(q.payload.ms);
    return "later";
  });
  deepStrictEqual(await asyncBus.send(GetUser({ ms: 30 })), "later");
  deepStrictEqual(asyncStats.percentiles("GetUser")?.p50Ms, 30);
});

Deno.test("latency() reports dispatches slower than thresholdMs", () => {
  const clock = fakeClock();
  const slow: SlowDispatch[] = [];
  const bus = createBus({
    middleware: [latency(createLatencyStats(), {
      thresholdMs: 50,
      clock,
      onSlow: (s) => slow.push(s),
    })],
  });
  bus.registerQuery(GetUser, (q) => {
    clock.advance(q.payload.ms);
    return "x";
  });
  bus.send(GetUser({ ms: 50 }));
  bus.send(GetUser({ ms: 51 }));
  deepStrictEqual(slow, [{
    type: "GetUser",
    kind: "query",
    durationMs: 51,
    thresholdMs: 50,
  }]);
});

Deno.test("latency() warns by default once per type per minute", () => {
  const clock = fakeClock();
  const bus = createBus({
    middleware: [latency(createLatencyStats(), { clock })],
  });
  bus.registerQuery(GetUser, (q) => {
    clock.advance(q.payload.ms);
    return "x";
  });
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (message: string) => warnings.push(message);
  try {
    bus.send(GetUser({ ms: 150 }));
    bus.send(GetUser({ ms: 150 })); // within the minute: quiet
    clock.advance(60_000);
    bus.send(GetUser({ ms: 150 }));
    bus.send(GetUser({ ms: 10 })); // not slow
  } finally {
    console.warn = original;
  }
  deepStrictEqual(warnings.length, 2);
  match(
    warnings[0]!,
    /^latency: query "GetUser" took 150\.0 ms \(threshold 100 ms\); further slow "GetUser" dispatches are not reported for a minute$/,
  );
});

Deno.test("latency() with sampleEvery times one dispatch in n and still counts all", () => {
  const clock = fakeClock();
  const stats = createLatencyStats();
  const bus = createBus({
    middleware: [latency(stats, { sampleEvery: 4, clock })],
  });
  let calls = 0;
  bus.registerQuery(GetUser, (q) => {
    calls++;
    clock.advance(q.payload.ms);
    return "x";
  });
  for (let i = 1; i <= 8; i++) bus.send(GetUser({ ms: i }));
  const summary = stats.percentiles("GetUser")!;
  deepStrictEqual([calls, summary.count], [8, 8]);
  // The first and fifth dispatches were timed.
  deepStrictEqual([summary.minMs, summary.maxMs], [1, 5]);
  throws(() => latency(stats, { sampleEvery: 0.5 }), {
    name: "RangeError",
    message:
      "Cannot use latency stats as 'sampleEvery' must be a positive integer: current value is 0.5",
  });
  throws(() => latency(stats, { thresholdMs: 0 }), RangeError);
});
