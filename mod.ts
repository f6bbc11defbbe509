/**
 * A typed message bus for modular monoliths: modules talk through queries,
 * commands, events and tasks instead of importing each other.
 *
 * - Buses: {@linkcode createBus}, {@linkcode createAsyncBus}; messages from
 *   {@linkcode defineQuery}, {@linkcode defineCommand},
 *   {@linkcode defineEvent}, {@linkcode defineTask}.
 * - Observability: {@linkcode recorder} with {@linkcode memoryStore} or
 *   {@linkcode jsonlStore}, {@linkcode readRecording}, {@linkcode replay},
 *   {@linkcode latency}, {@linkcode metrics}, {@linkcode renderReport}.
 * - Resilience: {@linkcode timeout}, {@linkcode retry},
 *   {@linkcode deadLetter}, {@linkcode circuitBreaker},
 *   {@linkcode concurrencyLimit}.
 * - Tests: fake buses and a fake clock in `@monolith/message-bus/testing`.
 *
 * ```ts
 * import { createBus, defineEvent, defineQuery } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const GetUser = defineQuery<{ userId: string }, { name: string }>("GetUser");
 * const UserSeen = defineEvent<{ userId: string }>("UserSeen");
 *
 * const bus = createBus();
 * bus.registerQuery(GetUser, (q) => ({ name: `user ${q.payload.userId}` }));
 * const seen: string[] = [];
 * bus.subscribe(UserSeen, (e) => seen.push(e.payload.userId));
 *
 * deepStrictEqual(bus.send(GetUser({ userId: "1" })), { name: "user 1" });
 * bus.publish(UserSeen({ userId: "1" }));
 * deepStrictEqual(seen, ["1"]);
 * ```
 *
 * @module
 */

export * from "./src/messages.ts";
export * from "./src/errors.ts";
export * from "./src/interfaces.ts";
export * from "./src/compose.ts";
export * from "./src/bus.ts";
export * from "./src/async_bus.ts";
// Observability
export * from "./src/middleware/recorder.ts";
export * from "./src/stores/memory.ts";
export * from "./src/stores/jsonl.ts";
export * from "./src/replay.ts";
export * from "./src/middleware/latency.ts";
export * from "./src/middleware/metrics.ts";
export * from "./src/report.ts";
// Resilience
export * from "./src/clock.ts";
export * from "./src/middleware/timeout.ts";
export * from "./src/middleware/retry.ts";
export * from "./src/middleware/circuit_breaker.ts";
export * from "./src/middleware/dead_letter.ts";
export * from "./src/middleware/concurrency_limit.ts";
export * from "./src/stores/dead_letters.ts";
