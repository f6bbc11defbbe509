/**
 * Dispatches 1,000,000 messages through `recorder(jsonlStore())` with the
 * default queue bound and reports records written, records dropped (expected
 * 0 below the bound), throughput and peak memory.
 *
 * The dispatches come in bursts of 1,000, with the event loop free in between,
 * as they would between requests; the writer drains the queue in the gaps.
 *
 * Usage: `deno task bench:million [count]`.
 *
 * @module
 */

import { createBus, defineQuery } from "../mod.ts";
import { jsonlStore, recorder } from "../src/observability/mod.ts";

const TOTAL = Number(Deno.args[0] ?? 1_000_000);
const BURST = 1_000;

const GetUser = defineQuery<{ id: number; name: string }, { ok: boolean }>(
  "GetUser",
);
const dir = await Deno.makeTempDir({ prefix: "message-bus-million-" });
const store = jsonlStore({ dir });
const bus = createBus({ middleware: [recorder(store)] });
bus.registerQuery(GetUser, () => ({ ok: true }));

let peakRss = 0;
let peakHeap = 0;
function sampleMemory(): void {
  const { rss, heapUsed } = Deno.memoryUsage();
  peakRss = Math.max(peakRss, rss);
  peakHeap = Math.max(peakHeap, heapUsed);
}

const started = performance.now();
let dispatchMs = 0;
for (let sent = 0; sent < TOTAL; sent += BURST) {
  const burstStart = performance.now();
  for (let i = sent; i < Math.min(TOTAL, sent + BURST); i++) {
    bus.send(GetUser({ id: i, name: "user" }));
  }
  dispatchMs += performance.now() - burstStart;
  if ((sent / BURST) % 50 === 0) sampleMemory();
  await new Promise((resolve) => setTimeout(resolve, 0));
}
await store.close();
sampleMemory();
const elapsedMs = performance.now() - started;
const { size } = await Deno.stat(store.path);
await Deno.remove(dir, { recursive: true });

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
console.log(`dispatched:        ${TOTAL.toLocaleString("en")}`);
console.log(`records written:   ${store.written.toLocaleString("en")}`);
console.log(`records dropped:   ${store.dropped.toLocaleString("en")}`);
console.log(`file size:         ${mb(size)}`);
console.log(
  `time:              ${(elapsedMs / 1000).toFixed(2)} s in all, ${
    (dispatchMs * 1e6 / TOTAL).toFixed(0)
  } ns per recorded send on the dispatch path`,
);
console.log(
  `throughput:        ${
    Math.round(store.written / (elapsedMs / 1000)).toLocaleString("en")
  } records/s to disk, end to end`,
);
console.log(`peak memory:       ${mb(peakRss)} RSS, ${mb(peakHeap)} JS heap`);
if (store.written + store.dropped !== TOTAL) {
  console.error("Records were lost without being counted");
  Deno.exit(1);
}
