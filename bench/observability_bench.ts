/**
 * What observing every dispatch costs: the latency middleware and the
 * recorder with a JSONL store, each beside a plain `send` in the same run,
 * and the JSONL writer's throughput to disk.
 *
 * Every bench body runs N = 1,000 dispatches (time per dispatch = reported
 * time / 1000), each case its own function literal (see dispatch_bench.ts).
 *
 * Targets:
 * - `latency` adds at most 60 ns to a sync `send`;
 * - `recorder` with `jsonlStore` adds at most 1 µs to a sync `send` with a
 *   small payload;
 * - the writer sustains at least 500,000 records/s to disk with no drops at
 *   the default queue bound (group "writer": 10,000 records per iteration).
 *
 * Reading the clock is part of timing a dispatch, so the "clock" case shows
 * what two `performance.now()` calls cost on the machine at hand.
 *
 * @module
 */

import { createBus, defineQuery } from "../mod.ts";
import {
  createLatencyStats,
  type DispatchRecord,
  jsonlStore,
  latency,
  memoryStore,
  recorder,
} from "../src/observability/mod.ts";

const N = 1000;
let sink = 0;

const GetUser = defineQuery<{ id: number }, number>("GetUser");
const answer = (query: { payload: { id: number } }) => query.payload.id;

const plain = createBus();
plain.registerQuery(GetUser, answer);

const timed = createBus({ middleware: [latency(createLatencyStats())] });
timed.registerQuery(GetUser, answer);

const sampled = createBus({
  middleware: [latency(createLatencyStats(), { sampleEvery: 16 })],
});
sampled.registerQuery(GetUser, answer);

const dir = await Deno.makeTempDir({ prefix: "message-bus-bench-" });
const store = jsonlStore({ dir });
const recorded = createBus({ middleware: [recorder(store)] });
recorded.registerQuery(GetUser, answer);

const memory = memoryStore();
const inMemory = createBus({ middleware: [recorder(memory)] });
inMemory.registerQuery(GetUser, answer);

Deno.bench({
  name: "bus.send x1000",
  group: "latency",
  baseline: true,
  fn() {
    const { send } = plain;
    for (let i = 0; i < N; i++) sink += send(GetUser({ id: i }));
  },
});
Deno.bench({
  name: "bus.send + two performance.now() (clock) x1000",
  group: "latency",
  fn() {
    const { send } = plain;
    for (let i = 0; i < N; i++) {
      const start = performance.now();
      sink += send(GetUser({ id: i }));
      sink += performance.now() - start;
    }
  },
});
Deno.bench({
  name: "bus.send + latency x1000",
  group: "latency",
  fn() {
    const { send } = timed;
    for (let i = 0; i < N; i++) sink += send(GetUser({ id: i }));
  },
});
Deno.bench({
  name: "bus.send + latency, sampleEvery 16 x1000",
  group: "latency",
  fn() {
    const { send } = sampled;
    for (let i = 0; i < N; i++) sink += send(GetUser({ id: i }));
  },
});

Deno.bench({
  name: "bus.send x1000",
  group: "recorder",
  baseline: true,
  fn() {
    const { send } = plain;
    for (let i = 0; i < N; i++) sink += send(GetUser({ id: i }));
  },
});
Deno.bench({
  name: "bus.send + recorder(jsonlStore) x1000",
  group: "recorder",
  async fn(b) {
    const { send } = recorded;
    b.start();
    for (let i = 0; i < N; i++) sink += send(GetUser({ id: i }));
    b.end();
    // The disk gets its turn outside the timed part, as it would between
    // requests; this keeps the queue from overflowing (see "dropped" below).
    await store.flush();
  },
});
Deno.bench({
  name: "bus.send + recorder(memoryStore) x1000",
  group: "recorder",
  fn(b) {
    const { send } = inMemory;
    b.start();
    for (let i = 0; i < N; i++) sink += send(GetUser({ id: i }));
    b.end();
    memory.clear();
  },
});

const WRITER_BATCH = 10_000;
const writerStore = jsonlStore({ dir });
const sample: DispatchRecord = {
  ts: "2026-02-12T14:30:45.123456Z",
  kind: "query",
  type: "GetUser",
  payload: { id: 1 },
  durationMs: 0.00085,
  result: 1,
  error: null,
};
Deno.bench({
  name: "jsonlStore: 10,000 records to disk (write + flush)",
  group: "writer",
  baseline: true,
  async fn() {
    for (let i = 0; i < WRITER_BATCH; i++) writerStore.write(sample);
    await writerStore.flush();
  },
});

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink);
  // Dropped records would mean the numbers above measured the drop path.
  console.error(
    `recorder store: ${store.written} written, ${store.dropped} dropped; writer store: ${writerStore.written} written, ${writerStore.dropped} dropped`,
  );
  Deno.removeSync(dir, { recursive: true });
});
