/**
 * Resilience middleware for the message bus: time limits that travel with a
 * dispatch, retries with backoff, a circuit breaker per message type, dead
 * letters with stores and redelivery, and a concurrency limit with a bounded
 * queue. Each is written with the public middleware contract of
 * `@monolith/message-bus`.
 *
 * The recommended order, outermost first, is
 * `[deadLetter, retry, circuitBreaker, timeout]`: `deadLetter` sees only the
 * final outcome, `retry` each attempt's, `circuitBreaker` counts every attempt
 * (and its `CircuitOpenError` is not retried), and `timeout` limits each
 * attempt on its own:
 *
 * ```ts
 * import { createAsyncBus, defineCommand } from "@monolith/message-bus";
 * import {
 *   circuitBreaker,
 *   deadLetter,
 *   memoryDeadLetterStore,
 *   retry,
 *   timeout,
 * } from "@monolith/message-bus/resilience";
 * import { createFakeClock } from "@monolith/message-bus/testing";
 * import { deepStrictEqual, rejects } from "node:assert/strict";
 *
 * class ProviderDown extends Error {}
 * const Charge = defineCommand<{ amount: number }>("payments.Charge");
 * const clock = createFakeClock();
 * const letters = memoryDeadLetterStore();
 * const bus = createAsyncBus({
 *   middleware: [
 *     deadLetter(letters, { clock }),
 *     retry({ retryable: [ProviderDown], clock }),
 *     circuitBreaker({ clock }),
 *     timeout({ defaultMs: 2_000, clock }),
 *   ],
 * });
 * bus.registerCommand(Charge, function chargeCard() {
 *   throw new ProviderDown("payment provider down");
 * });
 * const charging = bus.execute(Charge({ amount: 10 }));
 * charging.catch(() => {});
 * await clock.advance(2_000 + 4_000);
 * await rejects(charging, ProviderDown);
 * const [letter] = await letters.list();
 * deepStrictEqual([letter?.handler, letter?.attempts], ["chargeCard", 3]);
 * ```
 *
 * @module
 */

export * from "./timeout.ts";
export * from "./retry.ts";
export * from "./circuit_breaker.ts";
export * from "./concurrency_limit.ts";
export * from "./dead_letter.ts";
export * from "./dead_letter_stores.ts";
export * from "./redeliver.ts";
