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
  /**
   * The dead letters listed but not delivered because a concurrent
   * redelivery had claimed them, or they were removed in the meantime.
   */
  readonly skipped: readonly DeadLetter[];
}

/**
 * Delivers the dead letters of `store` again, oldest first, and removes those
 * that now succeed. Each is dispatched with the letter's id as the dispatch's
 * id (`context.id`), so a `deadLetter` middleware on `bus` replaces the
 * letter when it fails again instead of adding one. An event's dead letter
 * goes to the one subscriber that failed, by its id
 * (`publish(event, { subscriber })`), not to every subscriber again. On a bus
 * with an event queue, an event waits for its delivery
 * (`{ awaitDelivery: true }`), not only for the queue to accept it.
 * Payloads arrive in their JSON form.
 *
 * When the store has `claim` and `release` (see `DeadLetterStore`), the
 * letters are claimed before any is delivered and the claims end when the
 * call does, so two concurrent calls never deliver one letter twice: what one
 * claimed, the other skips. Through a store without them, concurrent calls
 * may each deliver a letter.
 *
 * @param store The dead letters.
 * @param bus The bus to deliver into (synchronous or asynchronous).
 * @returns What was delivered, what failed again and what was skipped.
 * @throws {TypeError} When `store` has one of `claim` and `release` but not
 * the other.
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
 *
 * @example Two redeliveries at once deliver each letter once
 * ```ts
 * import { createBus, defineTask } from "@monolith/message-bus";
 * import { deadLetter, memoryDeadLetterStore, redeliver } from "@monolith/message-bus/resilience";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const Resize = defineTask<string>("Resize");
 * const store = memoryDeadLetterStore();
 * const bus = createBus({ middleware: [deadLetter(store)] });
 * let up = false;
 * let resized = 0;
 * bus.registerTask(Resize, function resize() {
 *   if (!up) throw new Error("disk full");
 *   resized++;
 * });
 * for (const name of ["a.png", "b.png", "c.png"]) {
 *   try {
 *     bus.dispatch(Resize(name));
 *   } catch {
 *     // dead-lettered
 *   }
 * }
 *
 * up = true;
 * const [first, second] = await Promise.all([
 *   redeliver(store, bus),
 *   redeliver(store, bus),
 * ]);
 * deepStrictEqual(resized, 3);
 * deepStrictEqual([first.delivered.length, second.skipped.length], [3, 3]);
 * ```
 */
export async function redeliver(
  store: DeadLetterStore,
  bus: MessageBus | AsyncMessageBus,
): Promise<RedeliveryReport> {
  const { claim, release } = store;
  if ((claim === undefined) !== (release === undefined)) {
    throw new TypeError(
      `Cannot redeliver as 'store' must have both claim() and release(), or neither: it has only ${
        claim === undefined ? "release()" : "claim()"
      }`,
    );
  }
  const listed = await store.list();
  const ids = listed.map((letter) => letter.id);
  const claimed = new Set<string>(
    claim === undefined ? ids : await claim.call(store, ids),
  );

  const delivered: DeadLetter[] = [];
  const failed: { letter: DeadLetter; error: unknown }[] = [];
  const skipped: DeadLetter[] = [];
  let removed = false;
  try {
    for (const letter of listed) {
      if (!claimed.has(letter.id)) {
        skipped.push(letter);
        continue;
      }
      const message = { ...letter.message } as AnyMessage;
      // An event waits for its delivery even on a bus with an event queue,
      // so that the letter is removed only when it was delivered.
      const options: PublishOptions = letter.message.kind !== "event"
        ? { id: letter.id }
        : letter.subscriber === null
        ? { id: letter.id, awaitDelivery: true }
        : { id: letter.id, subscriber: letter.subscriber, awaitDelivery: true };
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
    removed = true;
  } finally {
    // `remove` ended the claims of the delivered letters; end the others'.
    if (removed) {
      for (const letter of delivered) claimed.delete(letter.id);
    }
    if (release !== undefined && claimed.size > 0) {
      await release.call(store, [...claimed]);
    }
  }
  return { delivered, failed, skipped };
}
