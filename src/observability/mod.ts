/**
 * Observability for the message bus: recording every dispatch (to memory or
 * to JSON Lines files), reading and replaying recordings, latency
 * percentiles with separation signals, and Prometheus metrics. Each tool is a
 * middleware (or a store behind one) for the synchronous and the
 * asynchronous bus; what the caller gets never changes. The HTML report of
 * a recording is a separate entry point, `@monolith/message-bus/report`.
 *
 * ```ts
 * import { createBus, defineQuery } from "@monolith/message-bus";
 * import { createLatencyStats, latency, memoryStore, recorder } from "@monolith/message-bus/observability";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetUser = defineQuery<{ id: string }, string>("users.GetUser");
 * const store = memoryStore();
 * const stats = createLatencyStats();
 * const bus = createBus({ middleware: [recorder(store), latency(stats)] });
 * bus.registerQuery(GetUser, (q) => q.payload.id);
 * bus.send(GetUser({ id: "1" }));
 * deepStrictEqual(store.records[0]?.type, "users.GetUser");
 * deepStrictEqual(stats.percentiles("users.GetUser")?.count, 1);
 * ```
 *
 * @module
 */

export * from "./recorder.ts";
export * from "./memory_store.ts";
export * from "./jsonl_store.ts";
export * from "./replay.ts";
export * from "./latency.ts";
export * from "./metrics.ts";
