import { deepStrictEqual, throws } from "node:assert/strict";
import {
  createAsyncBus,
  createBus,
  defineCommand,
  defineQuery,
} from "../mod.ts";
import {
  createMetrics,
  metrics,
  metricsHandler,
} from "../src/observability/mod.ts";

const GetUser = defineQuery<{ ms: number }, string>("GetUser");
const Save = defineCommand<{ fail: boolean }>("Save");

function fakeClock() {
  let now = 0;
  return {
    now: () => now,
    setTimeout: () => 0,
    clearTimeout: () => {},
    advance: (ms: number) => void (now += ms),
  };
}

Deno.test("metrics() counts dispatched, succeeded and failed per kind and type", async () => {
  const m = createMetrics();
  const bus = createBus({ middleware: [metrics(m)] });
  bus.registerQuery(GetUser, () => "x");
  bus.registerCommand(Save, (c) => {
    if (c.payload.fail) throw new Error("failed");
  });
  bus.send(GetUser({ ms: 0 }));
  bus.execute(Save({ fail: false }));
  throws(() => bus.execute(Save({ fail: true })));
  throws(() => bus.send(defineQuery("Unknown")()), { name: "NoHandlerError" });

  const asyncBus = createAsyncBus({ middleware: [metrics(m)] });
  asyncBus.registerCommand(Save, async () => {
    await Promise.resolve();
    throw new Error("async failure");
  });
  await asyncBus.execute(Save({ fail: true })).catch(() => {});

  deepStrictEqual(
    m.snapshot().map((
      e,
    ) => [e.kind, e.type, e.dispatched, e.succeeded, e.failed]),
    [
      ["command", "Save", 3, 1, 2],
      ["query", "GetUser", 1, 1, 0],
      // A type with no handler leaves no state (see middleware_faults_test).
    ],
  );
});

Deno.test("toPrometheus() renders HELP, TYPE, counters and cumulative histogram buckets", () => {
  const clock = fakeClock();
  const m = createMetrics({ bucketsMs: [1, 10, 100] });
  const bus = createBus({ middleware: [metrics(m, { clock })] });
  bus.registerQuery(GetUser, (q) => {
    clock.advance(q.payload.ms);
    return "x";
  });
  for (const ms of [0.5, 5, 5, 50, 500]) bus.send(GetUser({ ms }));
  deepStrictEqual(
    m.toPrometheus(),
    [
      "# HELP message_bus_dispatched_total Dispatches started, by message kind and type.",
      "# TYPE message_bus_dispatched_total counter",
      'message_bus_dispatched_total{kind="query",type="GetUser"} 5',
      "# HELP message_bus_succeeded_total Dispatches that returned or resolved, by message kind and type.",
      "# TYPE message_bus_succeeded_total counter",
      'message_bus_succeeded_total{kind="query",type="GetUser"} 5',
      "# HELP message_bus_failed_total Dispatches that threw or rejected, by message kind and type.",
      "# TYPE message_bus_failed_total counter",
      'message_bus_failed_total{kind="query",type="GetUser"} 0',
      "# HELP message_bus_dispatch_duration_seconds Duration of finished dispatches in seconds, by message kind and type.",
      "# TYPE message_bus_dispatch_duration_seconds histogram",
      'message_bus_dispatch_duration_seconds_bucket{kind="query",type="GetUser",le="0.001"} 1',
      'message_bus_dispatch_duration_seconds_bucket{kind="query",type="GetUser",le="0.01"} 3',
      'message_bus_dispatch_duration_seconds_bucket{kind="query",type="GetUser",le="0.1"} 4',
      'message_bus_dispatch_duration_seconds_bucket{kind="query",type="GetUser",le="+Inf"} 5',
      'message_bus_dispatch_duration_seconds_sum{kind="query",type="GetUser"} 0.5605',
      'message_bus_dispatch_duration_seconds_count{kind="query",type="GetUser"} 5',
      "",
    ].join("\n"),
  );
});

Deno.test("toPrometheus() escapes label values", () => {
  const m = createMetrics({ prefix: "app" });
  m.countStarted({ kind: "event", type: 'odd "name"\\with\nbreak' });
  const line = m.toPrometheus().split("\n").find((l) =>
    l.startsWith("app_dispatched_total{")
  );
  deepStrictEqual(
    line,
    'app_dispatched_total{kind="event",type="odd \\"name\\"\\\\with\\nbreak"} 1',
  );
});

Deno.test("createMetrics() rejects a bad prefix or bucketsMs", () => {
  throws(() => createMetrics({ prefix: "9 lives" }), {
    name: "TypeError",
    message:
      "Cannot create metrics as 'prefix' must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*): current value is \"9 lives\"",
  });
  throws(() => createMetrics({ bucketsMs: [100, 10] }), {
    name: "RangeError",
    message:
      "Cannot create metrics as 'bucketsMs' must be ascending positive numbers of milliseconds: current value is [100, 10]",
  });
  throws(() => createMetrics({ bucketsMs: [] }), RangeError);
});

Deno.test("metricsHandler() serves the metrics over real HTTP on 127.0.0.1", async () => {
  const m = createMetrics();
  const bus = createBus({ middleware: [metrics(m)] });
  bus.registerQuery(GetUser, () => "x");
  bus.send(GetUser({ ms: 0 }));
  const handler = metricsHandler(m);
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) =>
      new URL(request.url).pathname === "/metrics"
        ? handler(request)
        : new Response("not found", { status: 404 }),
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  const response = await fetch(`${base}/metrics`);
  deepStrictEqual(response.status, 200);
  deepStrictEqual(
    response.headers.get("content-type"),
    "text/plain; version=0.0.4; charset=utf-8",
  );
  const text = await response.text();
  deepStrictEqual(text, m.toPrometheus());
  deepStrictEqual(
    text.includes('message_bus_succeeded_total{kind="query",type="GetUser"} 1'),
    true,
  );
  const post = await fetch(`${base}/metrics`, { method: "POST" });
  deepStrictEqual([post.status, post.headers.get("allow")], [405, "GET, HEAD"]);
  await post.body?.cancel();
});
