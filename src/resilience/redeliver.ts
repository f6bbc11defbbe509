/**
 * Delivering dead letters again.
 *
 * @module
 */

import type { AnyMessage } from "../core/messages.ts";
import type {
  AsyncMessageBus,
  MessageBus,
  PublishOptions,
} from "../core/types.ts";
import { dispatchByKind } from "../core/_by_kind.ts";
import type { DeadLetter, DeadLetterStore } from "./dead_letter.ts";

/** What {@linkcode redeliver} did. */
export interface RedeliveryReport {
  /** The dead letters that were delivered, and removed from the store. */
  readonly delivered: readonly DeadLetter[];
  /** The dead letters that failed again (they stay), with the new error. */
  readonly failed: readonly {
    readonly letter: DeadLetter;
    readonly error: unknown;
  }[];
}

/**
 * Delivers the dead letters of `store` again, oldest first, and removes those
 * that now succeed. Each is dispatched with the letter's id as the dispatch's
 * id (`context.id`), so a `deadLetter` middleware on `bus` replaces the
 * letter when it fails again instead of adding one. An event's dead letter
 * goes to the one subscriber that failed, by its id
 * (`publish(event, { subscriber })`), not to every subscriber again.
 * Payloads arrive in their JSON form.
 *
 * @param store The dead letters.
 * @param bus The bus to deliver into (synchronous or asynchronous).
 * @returns What was delivered and what failed again.
 *
 * @example Delivering again once the carrier is back
 * ```ts
 * import { createBus, defineCommand } from "@monolith/message-bus";
 * import { deadLetter, memoryDeadLetterStore, redeliver } from "@monolith/message-bus/resilience";
 * import { deepStrictEqual, throws } from "node:assert/strict";
 *
 * const Ship = defineCommand<{ id: string }>("Ship");
 * const store = memoryDeadLetterStore();
 * const bus = createBus({ middleware: [deadLetter(store)] });
 * let carrierUp = false;
 * bus.registerCommand(Ship, function shipWithCarrier() {
 *   if (!carrierUp) throw new Error("carrier API down");
 * });
 * throws(() => bus.execute(Ship({ id: "o-1" })), /carrier API down/);
 *
 * carrierUp = true;
 * const report = await redeliver(store, bus);
 * deepStrictEqual([report.delivered.length, (await store.list()).length], [1, 0]);
 * ```
 */
export async function redeliver(
  store: DeadLetterStore,
  bus: MessageBus | AsyncMessageBus,
): Promise<RedeliveryReport> {
  const delivered: DeadLetter[] = [];
  const failed: { letter: DeadLetter; error: unknown }[] = [];
  for (const letter of await store.list()) {
    const message = { ...letter.message } as AnyMessage;
    const options: PublishOptions = letter.subscriber === null ||
        letter.message.kind !== "event"
      ? { id: letter.id }
      : { id: letter.id, subscriber: letter.subscriber };
    try {
      await dispatchByKind(bus, message, options);
      delivered.push(letter);
    } catch (error) {
      failed.push({ letter, error });
    }
  }
  if (delivered.length > 0) {
    await store.remove(delivered.map((letter) => letter.id));
  }
  return { delivered, failed };
}
