/**
 * Fake buses for unit tests: they record every dispatch, answer queries and
 * commands with results you give them, and assert on what a module sent,
 * executed, published and dispatched.
 *
 * A fake bus is a real bus underneath: handlers the module under test
 * registers run as usual, so a test can drive the module through its own
 * messages. What has no handler is recorded and not an error, except a query
 * with neither a given result nor a handler, which has no answer to return.
 *
 * ```ts
 * import { defineCommand, defineEvent, type MessageBus } from "@monolith/message-bus";
 * import { createFakeBus } from "@monolith/message-bus/testing";
 *
 * const PlaceOrder = defineCommand<{ sku: string }>("PlaceOrder");
 * const OrderPlaced = defineEvent<{ sku: string }>("OrderPlaced");
 *
 * function ordersModule(bus: MessageBus): void {
 *   bus.registerCommand(PlaceOrder, (c) => bus.publish(OrderPlaced({ sku: c.payload.sku })));
 * }
 *
 * const bus = createFakeBus();
 * ordersModule(bus);
 * bus.execute(PlaceOrder({ sku: "a" }));
 * bus.assertPublished(OrderPlaced({ sku: "a" })); // exactly once
 * ```
 *
 * A fake clock (`createFakeClock`) drives the timed middleware in tests
 * without sleeping.
 *
 * @module
 */

export * from "./fake_bus.ts";
export * from "./fake_clock.ts";
export * from "../outbox/memory.ts";
export type {
  AddOptions,
  Forwarder,
  ForwardInfo,
  Outbox,
  OutboxDeadLetter,
  OutboxDeadLetterSink,
  OutboxEntry,
  OutboxMessage,
  OutboxOptions,
  OutboxTarget,
  ProcessOptions,
  RelayOptions,
} from "../outbox/outbox.ts";
