/**
 * What each resilience middleware adds to an asynchronous `send` on the
 * success path, and what a dispatch refused by an open circuit costs, beside
 * a plain `send` in the same run.
 *
 * Every bench body runs N = 1,000 awaited dispatches (time per dispatch =
 * reported time / 1000), each case its own function literal.
 *
 * Targets:
 * - each of these middleware adds at most 150 ns to an async `send` on the
 *   success path;
 * - with the circuit breaker open, a rejected dispatch costs at most 1 µs.
 *
 * @module
 */

import { createAsyncBus, defineQuery } from "../mod.ts";
import {
  circuitBreaker,
  concurrencyLimit,
  deadLetter,
  memoryDeadLetterStore,
  retry,
  timeout,
} from "../src/resilience/mod.ts";

const N = 1000;
let sink = 0;

const GetUser = defineQuery<{ id: number }, number>("GetUser");
const Broken = defineQuery<{ id: number }, number>("Broken");
// One handler for every bus, as in dispatch_bench.ts.
// deno-lint-ignore require-await
async function answer(query: { payload: { id: number } }): Promise<number> {
  return query.payload.id;
}

const plain = createAsyncBus();
plain.registerQuery(GetUser, answer);
const withTimeout = createAsyncBus({ middleware: [timeout()] });
withTimeout.registerQuery(GetUser, answer);
const withRetry = createAsyncBus({ middleware: [retry()] });
withRetry.registerQuery(GetUser, answer);
const withBreaker = createAsyncBus({ middleware: [circuitBreaker()] });
withBreaker.registerQuery(GetUser, answer);
const withDeadLetter = createAsyncBus({
  middleware: [deadLetter(memoryDeadLetterStore())],
});
withDeadLetter.registerQuery(GetUser, answer);
const withLimit = createAsyncBus({
  middleware: [concurrencyLimit({ maxConcurrent: 64 })],
});
withLimit.registerQuery(GetUser, answer);

// An open circuit: one failure opens it, and it stays open for the run.
const openBreaker = circuitBreaker({
  failureThreshold: 1,
  recoveryTimeoutMs: 3_600_000,
});
const open = createAsyncBus({ middleware: [openBreaker] });
open.registerQuery(Broken, () => {
  throw new Error("down");
});
await open.send(Broken({ id: 0 })).catch(() => {});
if (openBreaker.state("Broken") !== "open") throw new Error("not open");

Deno.bench({
  name: "asyncBus.send x1000",
  group: "success path",
  baseline: true,
  async fn() {
    const { send } = plain;
    for (let i = 0; i < N; i++) sink += await send(GetUser({ id: i }));
  },
});
Deno.bench({
  name: "+ timeout x1000",
  group: "success path",
  async fn() {
    const { send } = withTimeout;
    for (let i = 0; i < N; i++) sink += await send(GetUser({ id: i }));
  },
});
Deno.bench({
  name: "+ retry x1000",
  group: "success path",
  async fn() {
    const { send } = withRetry;
    for (let i = 0; i < N; i++) sink += await send(GetUser({ id: i }));
  },
});
Deno.bench({
  name: "+ circuitBreaker x1000",
  group: "success path",
  async fn() {
    const { send } = withBreaker;
    for (let i = 0; i < N; i++) sink += await send(GetUser({ id: i }));
  },
});
Deno.bench({
  name: "+ deadLetter x1000",
  group: "success path",
  async fn() {
    const { send } = withDeadLetter;
    for (let i = 0; i < N; i++) sink += await send(GetUser({ id: i }));
  },
});
Deno.bench({
  name: "+ concurrencyLimit x1000",
  group: "success path",
  async fn() {
    const { send } = withLimit;
    for (let i = 0; i < N; i++) sink += await send(GetUser({ id: i }));
  },
});

Deno.bench({
  name: "asyncBus.send x1000",
  group: "open circuit",
  baseline: true,
  async fn() {
    const { send } = plain;
    for (let i = 0; i < N; i++) sink += await send(GetUser({ id: i }));
  },
});
Deno.bench({
  name: "send refused by an open circuit x1000",
  group: "open circuit",
  async fn() {
    const { send } = open;
    for (let i = 0; i < N; i++) {
      try {
        await send(Broken({ id: i }));
      } catch {
        sink++;
      }
    }
  },
});

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink);
});
