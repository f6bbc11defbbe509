import { deepStrictEqual, rejects, throws } from "node:assert/strict";
import {
  createAsyncBus,
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  type GaugeSink,
} from "../mod.ts";
import { createMetrics } from "../src/observability/mod.ts";
import {
  circuitBreaker,
  type DeadLetter,
  jsonlDeadLetterStore,
  memoryDeadLetterStore,
} from "../src/resilience/mod.ts";
import { createFakeClock } from "../src/testing/mod.ts";

const GetUser = defineQuery<string, string>("GetUser");
const Ban = defineCommand<string>("Ban");
const Banned = defineEvent<string>("Banned");
const Purge = defineTask<string>("Purge");

/** The gauge lines of a Prometheus text, HELP and TYPE included. */
function gaugeLines(text: string): string[] {
  const lines = text.trimEnd().split("\n");
  const first = lines.findIndex((line) => / gauge$/.test(line));
  return first === -1 ? [] : lines.slice(first - 1);
}

function letter(id: string): DeadLetter {
  return {
    id,
    message: { kind: "task", type: "Purge", payload: id },
    error: { name: "Error", message: "disk full" },
    handler: "purge",
    subscriber: null,
    attempts: 1,
    at: "2026-02-12T14:30:45.000Z",
  };
}

Deno.test("observeGauge() series are read into gauges() and the Prometheus text, sorted, as gauges", () => {
  const m = createMetrics();
  let depth = 3;
  m.observeGauge("queue_depth", () => depth, {
    help: "Jobs waiting.",
    labels: { queue: "mail" },
  });
  m.observeGauge("queue_depth", () => 7, { labels: { queue: "images" } });
  m.observeGauge("alive", () => 1);
  depth = 4;
  deepStrictEqual(m.gauges(), [
    { name: "alive", labels: {}, value: 1 },
    { name: "queue_depth", labels: { queue: "images" }, value: 7 },
    { name: "queue_depth", labels: { queue: "mail" }, value: 4 },
  ]);
  deepStrictEqual(gaugeLines(m.toPrometheus()), [
    "# HELP message_bus_alive The alive gauge.",
    "# TYPE message_bus_alive gauge",
    "message_bus_alive 1",
    "# HELP message_bus_queue_depth Jobs waiting.",
    "# TYPE message_bus_queue_depth gauge",
    'message_bus_queue_depth{queue="images"} 7',
    'message_bus_queue_depth{queue="mail"} 4',
  ]);
});

Deno.test("observeGauge() sorts and escapes labels, and the prefix applies", () => {
  const m = createMetrics({ prefix: "shop" });
  m.observeGauge("open", () => 2, {
    labels: { z: "last", a: 'a "quoted"\nvalue' },
    help: "Open \\ things\nnow.",
  });
  deepStrictEqual(gaugeLines(m.toPrometheus()), [
    "# HELP shop_open Open \\\\ things\\nnow.",
    "# TYPE shop_open gauge",
    'shop_open{a="a \\"quoted\\"\\nvalue",z="last"} 2',
  ]);
});

Deno.test("observeGauge(): a series of the same name and labels replaces the first; removing it removes only its own", () => {
  const m = createMetrics();
  const first = m.observeGauge("workers", () => 1);
  const second = m.observeGauge("workers", () => 2);
  deepStrictEqual(m.gauges(), [{ name: "workers", labels: {}, value: 2 }]);
  first();
  deepStrictEqual(m.gauges(), [{ name: "workers", labels: {}, value: 2 }]);
  second();
  second();
  deepStrictEqual([m.gauges(), gaugeLines(m.toPrometheus())], [[], []]);
});

Deno.test("observeGauge() checks its arguments", () => {
  const m = createMetrics();
  throws(() => m.observeGauge("queue-depth", () => 1), {
    name: "TypeError",
    message:
      "Cannot observe a gauge as 'name' must be a Prometheus metric name ([a-zA-Z0-9_:]* after the prefix): current value is \"queue-depth\"",
  });
  throws(() => m.observeGauge("depth", 3 as never), {
    name: "TypeError",
    message:
      "Cannot observe gauge \"depth\" as 'read' must be a function returning its value: current value is 3",
  });
  throws(() => m.observeGauge("depth", () => 1, { labels: { "a-b": "x" } }), {
    name: "TypeError",
    message:
      'Cannot observe gauge "depth" as label names must match [a-zA-Z_][a-zA-Z0-9_]* and not start with "__": current value is "a-b"',
  });
  throws(() => m.observeGauge("depth", () => 1, { labels: { __name: "x" } }), {
    name: "TypeError",
  });
  throws(
    () => m.observeGauge("depth", () => 1, { labels: { queue: 1 as never } }),
    {
      name: "TypeError",
      message:
        "Cannot observe gauge \"depth\" as label 'queue' must be a string: current value is 1",
    },
  );
  throws(() => m.observeGauge("depth", () => 1, { help: 1 as never }), {
    name: "TypeError",
    message:
      "Cannot observe gauge \"depth\" as 'help' must be a string: current value is 1",
  });
});

Deno.test("a gauge whose read throws or returns no number is left out and reported", () => {
  const { error } = console;
  const printed: unknown[][] = [];
  console.error = (...args: unknown[]) => void printed.push(args);
  try {
    const m = createMetrics();
    m.observeGauge("broken", () => {
      throw new Error("cannot read");
    });
    m.observeGauge("text", () => "3" as never);
    m.observeGauge("fine", () => 1);
    deepStrictEqual(m.gauges(), [{ name: "fine", labels: {}, value: 1 }]);
    deepStrictEqual(printed.map((args) => args[0]), [
      "metrics: reading gauge broken{} threw; the series is left out this time:",
      'metrics: gauge text{} read "3", not a number; the series is left out this time',
    ]);
  } finally {
    console.error = error;
  }
});

Deno.test("reset() forgets the counts and keeps the gauges", () => {
  const m = createMetrics();
  m.countStarted({ kind: "query", type: "GetUser" });
  m.observeGauge("alive", () => 1);
  m.reset();
  deepStrictEqual([m.snapshot(), m.gauges()], [[], [{
    name: "alive",
    labels: {},
    value: 1,
  }]]);
});

Deno.test("createBus({ metrics }) reports open sessions and registered handlers per kind", () => {
  const m = createMetrics();
  const bus = createBus({ metrics: m });
  const read = () =>
    Object.fromEntries(
      m.gauges().map((gauge) => [
        gauge.labels.kind === undefined
          ? gauge.name
          : `${gauge.name} ${gauge.labels.kind}`,
        gauge.value,
      ]),
    );
  deepStrictEqual(read(), {
    "active_sessions": 0,
    "registered_handlers command": 0,
    "registered_handlers event": 0,
    "registered_handlers query": 0,
    "registered_handlers task": 0,
  });
  bus.registerQuery(GetUser, (q) => q.payload);
  bus.registerCommand(Ban, () => {});
  bus.registerTask(Purge, () => {});
  bus.subscribe(Banned, () => {});
  const unsubscribe = bus.subscribe(Banned, () => {});
  const session = bus.session();
  session.subscribe(Banned, () => {});
  deepStrictEqual(read(), {
    "active_sessions": 1,
    "registered_handlers command": 1,
    "registered_handlers event": 3,
    "registered_handlers query": 1,
    "registered_handlers task": 1,
  });
  unsubscribe();
  session.close();
  deepStrictEqual(
    [read()["active_sessions"], read()["registered_handlers event"]],
    [0, 1],
  );
});

Deno.test("createAsyncBus({ metrics, eventQueue }) reports the queue's size and backpressure", async () => {
  const m = createMetrics();
  const bus = createAsyncBus({
    metrics: m,
    eventQueue: {
      maxSize: 4,
      concurrency: 1,
      strategy: "adaptive",
      highWater: 2,
      lowWater: 1,
    },
  });
  const waiting: (() => void)[] = [];
  bus.subscribe(
    Banned,
    () => new Promise<void>((resolve) => waiting.push(resolve)),
  );
  const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
  const queueGauges = () =>
    m.gauges().filter((gauge) => gauge.name.startsWith("event_queue_"))
      .map((gauge) => [gauge.name, gauge.value]);
  deepStrictEqual(queueGauges(), [
    ["event_queue_backpressure", 0],
    ["event_queue_size", 0],
  ]);
  await bus.publish(Banned("a"));
  await settle();
  await bus.publish(Banned("b"));
  await bus.publish(Banned("c"));
  deepStrictEqual(queueGauges(), [
    ["event_queue_backpressure", 1],
    ["event_queue_size", 2],
  ]);
  while (waiting.length > 0) {
    waiting.shift()!();
    await settle();
  }
  await bus.close();
  deepStrictEqual(queueGauges(), [
    ["event_queue_backpressure", 0],
    ["event_queue_size", 0],
  ]);
});

Deno.test("the buses refuse a metrics option without observeGauge()", () => {
  throws(() => createBus({ metrics: {} as GaugeSink }), {
    name: "TypeError",
    message:
      "Cannot createBus() as 'metrics' must have an observeGauge() method (metrics from createMetrics()): current value is {}",
  });
  throws(() => createAsyncBus({ metrics: null as never }), {
    name: "TypeError",
    message:
      "Cannot createAsyncBus() as 'metrics' must have an observeGauge() method (metrics from createMetrics()): current value is null",
  });
});

Deno.test("circuitBreaker({ metrics }) reports each circuit's state: 0 closed, 1 open, 2 half-open", async () => {
  const clock = createFakeClock();
  const m = createMetrics();
  const breaker = circuitBreaker({
    failureThreshold: 1,
    recoveryTimeoutMs: 1_000,
    clock,
    metrics: m,
  });
  const bus = createAsyncBus({ middleware: [breaker] });
  let down = true;
  let release = () => {};
  bus.registerCommand(Ban, () => {
    if (down) throw new Error("directory down");
    return new Promise<void>((resolve) => (release = resolve));
  });
  bus.registerQuery(GetUser, (q) => q.payload);
  const state = () =>
    m.gauges().map((gauge) => [gauge.labels.type, gauge.value]);
  await bus.send(GetUser("1"));
  deepStrictEqual(state(), [["GetUser", 0]]);
  await rejects(bus.execute(Ban("x")), { message: "directory down" });
  deepStrictEqual(state(), [["Ban", 1], ["GetUser", 0]]);
  await clock.advance(1_000);
  down = false;
  const trial = bus.execute(Ban("x"));
  deepStrictEqual(state(), [["Ban", 2], ["GetUser", 0]]);
  release();
  await trial;
  deepStrictEqual(state(), [["Ban", 0], ["GetUser", 0]]);
  deepStrictEqual(
    gaugeLines(m.toPrometheus())[0],
    "# HELP message_bus_circuit_state The state of each message type's circuit: 0 closed, 1 open, 2 half-open.",
  );
});

Deno.test("circuitBreaker({ metrics }): a dispatch that found no handler leaves no series", async () => {
  const m = createMetrics();
  const bus = createAsyncBus({ middleware: [circuitBreaker({ metrics: m })] });
  await rejects(bus.execute(Ban("x")));
  deepStrictEqual(m.gauges(), []);
  throws(() => circuitBreaker({ metrics: 1 as never }), {
    name: "TypeError",
    message:
      "Cannot create circuitBreaker as 'metrics' must have an observeGauge() method (metrics from createMetrics()): current value is 1",
  });
});

Deno.test("memoryDeadLetterStore() keeps at most maxSize letters, dropping the oldest (and its claim), counted in dropped", async () => {
  const store = memoryDeadLetterStore({ maxSize: 2 });
  store.add(letter("1"));
  store.add(letter("2"));
  deepStrictEqual(await store.claim(["1", "2"]), ["1", "2"]);
  store.add(letter("2")); // a replacement drops nothing
  deepStrictEqual([store.letters.map((l) => l.id), store.dropped], [
    ["1", "2"],
    0,
  ]);
  store.add(letter("3"));
  store.add(letter("1")); // a new letter again: its old claim is gone
  deepStrictEqual([store.letters.map((l) => l.id), store.dropped], [
    ["3", "1"],
    2,
  ]);
  deepStrictEqual(await store.claim(["1", "3"]), ["1", "3"]);
});

Deno.test("memoryDeadLetterStore() keeps 1000 letters by default, and checks its options", () => {
  const store = memoryDeadLetterStore();
  for (let i = 0; i <= 1000; i++) store.add(letter(String(i)));
  deepStrictEqual(
    [store.letters.length, store.letters[0]?.id, store.dropped],
    [1000, "1", 1],
  );
  throws(() => memoryDeadLetterStore({ maxSize: 0 }), {
    name: "RangeError",
    message:
      "Cannot create memoryDeadLetterStore as 'maxSize' must be an integer of at least 1: current value is 0",
  });
  throws(() => memoryDeadLetterStore({ metrics: {} as never }), {
    name: "TypeError",
    message:
      "Cannot create memoryDeadLetterStore as 'metrics' must have an observeGauge() method (metrics from createMetrics()): current value is {}",
  });
});

Deno.test("memoryDeadLetterStore({ metrics }) reports the letters it keeps", async () => {
  const m = createMetrics();
  const store = memoryDeadLetterStore({ metrics: m });
  store.add(letter("1"));
  store.add(letter("2"));
  deepStrictEqual(m.gauges(), [{
    name: "dead_letters",
    labels: { store: "memory" },
    value: 2,
  }]);
  await store.remove(["1"]);
  deepStrictEqual(m.gauges()[0]?.value, 1);
});

Deno.test("jsonlDeadLetterStore({ metrics }) reports the letters it keeps until it closes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = createMetrics();
    const store = jsonlDeadLetterStore({ dir, metrics: m });
    store.add(letter("1"));
    store.add(letter("2"));
    await store.remove(["2"]);
    deepStrictEqual(m.gauges(), [{
      name: "dead_letters",
      labels: { store: "jsonl" },
      value: 1,
    }]);
    await store.close();
    deepStrictEqual(m.gauges(), []);
    throws(() => jsonlDeadLetterStore({ dir, metrics: [] as never }), {
      name: "TypeError",
      message:
        "Cannot open jsonlDeadLetterStore as 'metrics' must have an observeGauge() method (metrics from createMetrics()): current value is an array",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
