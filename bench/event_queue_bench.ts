/**
 * The event queue of the asynchronous bus beside a hand-written array queue,
 * in one `deno bench` run so that ratios are comparable.
 *
 * Every bench body publishes N = 1,000 events without waiting for each, then
 * waits until all have been delivered to one synchronous subscriber (a
 * reported time of 20 µs is 20 ns per event). The floor is the least a queue
 * between publishers and subscribers does: it pushes each event onto an
 * array, schedules one drain in a microtask, and the drain looks the
 * subscribers up (`Map.get`) and calls them.
 *
 * Target: enqueue and delivery through `createAsyncBus({ eventQueue })` at
 * least 0.5x the floor's throughput (at most 2x its time), for each
 * strategy while the queue has room.
 *
 * A second group has publishers that wait for each publish, through a queue
 * small enough that "adaptive" holds them back, beside the bus without a
 * queue (which delivers within `publish`).
 *
 * @module
 */

import { createAsyncBus, defineEvent, type EventMessage } from "../mod.ts";

const N = 1000;
let sink = 0;

const Clicked = defineEvent<{ id: number }>("Clicked");
function count(event: EventMessage<{ id: number }>): void {
  sink += event.payload.id;
}

// The floor: an array queue drained in a microtask.
type Literal = { kind: string; type: string; payload: { id: number } };
const subscribers = new Map<string, ((event: Literal) => void)[]>([
  ["Clicked", [count as (event: Literal) => void]],
]);
const DONE: Promise<void> = Promise.resolve();
let items: Literal[] = [];
let scheduled = false;
let idle: (() => void) | undefined;
function drainFloor(): void {
  const batch = items;
  items = [];
  scheduled = false;
  for (let index = 0; index < batch.length; index++) {
    const event = batch[index]!;
    const list = subscribers.get(event.type)!;
    for (let at = 0; at < list.length; at++) list[at]!(event);
  }
  idle?.();
}
function publishFloor(event: Literal): Promise<void> {
  items.push(event);
  if (!scheduled) {
    scheduled = true;
    queueMicrotask(drainFloor);
  }
  return DONE;
}
function floorDrained(): Promise<void> {
  if (!scheduled) return DONE;
  return new Promise<void>((resolve) => {
    idle = () => {
      idle = undefined;
      resolve();
    };
  });
}

function queued(strategy: "drop-oldest" | "reject-new" | "adaptive") {
  const bus = createAsyncBus({
    eventQueue: { maxSize: 4 * N, concurrency: 4, strategy },
  });
  bus.subscribe(Clicked, count);
  return bus;
}
const rejectNew = queued("reject-new");
const dropOldest = queued("drop-oldest");
const adaptive = queued("adaptive");

Deno.bench({
  name: "array queue + microtask drain (floor) x1000",
  group: "enqueue + deliver",
  baseline: true,
  async fn() {
    for (let i = 0; i < N; i++) {
      publishFloor({ kind: "event", type: "Clicked", payload: { id: i } });
    }
    await floorDrained();
  },
});
for (
  const [name, bus] of [
    ["reject-new", rejectNew],
    ["drop-oldest", dropOldest],
    ["adaptive", adaptive],
  ] as const
) {
  Deno.bench({
    name: `eventQueue "${name}" x1000`,
    group: "enqueue + deliver",
    async fn() {
      const { publish } = bus;
      for (let i = 0; i < N; i++) publish(Clicked({ id: i }));
      await bus.drain();
    },
  });
}

// Publishers that wait for each publish.
const plain = createAsyncBus();
plain.subscribe(Clicked, count);
const held = createAsyncBus({
  eventQueue: { maxSize: 64, concurrency: 4, strategy: "adaptive" },
});
held.subscribe(Clicked, count);

Deno.bench({
  name: "no queue: await publish x1000",
  group: "awaited publish",
  baseline: true,
  async fn() {
    const { publish } = plain;
    for (let i = 0; i < N; i++) await publish(Clicked({ id: i }));
  },
});
Deno.bench({
  name: "eventQueue adaptive, maxSize 64: await publish x1000",
  group: "awaited publish",
  async fn() {
    const { publish } = held;
    for (let i = 0; i < N; i++) await publish(Clicked({ id: i }));
    await held.drain();
  },
});

addEventListener("unload", () => {
  if (sink === 0) console.log(sink);
});
