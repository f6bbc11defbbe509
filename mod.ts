/**
 * A typed message bus for modular monoliths: modules talk through queries,
 * commands, events and tasks instead of importing each other.
 *
 * This is the core: messages ({@linkcode defineQuery},
 * {@linkcode defineCommand}, {@linkcode defineEvent}, {@linkcode defineTask}),
 * the buses ({@linkcode createBus}, {@linkcode createAsyncBus}), their errors
 * and types, the middleware contract (described in the package README's
 * Middleware section) and the clocks. It does no file I/O. The other
 * families are separate entry points:
 *
 * - `@monolith/message-bus/observability`: recording, replay, latency,
 *   metrics;
 * - `@monolith/message-bus/resilience`: timeout, retry, circuit breaker, dead
 *   letters, concurrency limit;
 * - `@monolith/message-bus/testing`: fake buses and a fake clock;
 * - `@monolith/message-bus/report`: the HTML report of a recording, also a
 *   command line program.
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

export * from "./src/core/messages.ts";
export * from "./src/core/errors.ts";
export * from "./src/core/types.ts";
export * from "./src/core/bus.ts";
export * from "./src/core/async_bus.ts";
export * from "./src/core/async_only.ts";
export * from "./src/core/event_filter.ts";
export * from "./src/core/clock.ts";
