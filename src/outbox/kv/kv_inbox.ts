// The consumer's side of "effects once": the ids it handled, recorded in the
// same atomic operation as its effects.
import { isPlainId } from "../../core/_ids.ts";
import { kvArguments, shown } from "./_arguments.ts";

/** Options of {@linkcode createKvInbox}. */
export interface KvInboxOptions {
  /**
   * Where the inbox keeps the ids it recorded.
   *
   * @default {["inbox"]}
   */
  readonly prefix?: Deno.KvKey;
  /**
   * How long a recorded id is kept, in milliseconds (Deno KV deletes it
   * some time after). Default: forever.
   */
  readonly expireInMs?: number;
}

/** The ids a consumer on Deno KV has handled. */
export interface KvInbox {
  /**
   * Adds to `tx` a check that `id` was never recorded, and records it: the
   * commit fails (`ok: false`) when it was. Returns `tx`.
   */
  record(tx: Deno.AtomicOperation, id: string): Deno.AtomicOperation;
  /** Whether `id` was recorded. */
  has(id: string): Promise<boolean>;
}

/**
 * Creates an inbox on Deno KV: a handler records the message's id
 * (`context.id`, the same on every delivery of an outbox message) in the
 * atomic operation that makes its effects, so a redelivery fails that
 * operation's check and changes nothing.
 *
 * @param kv The KV of the consumer's own data.
 * @param options Where the ids are kept, and for how long.
 * @returns The inbox.
 * @throws {TypeError} When `kv` is not a `Deno.Kv` or `prefix` not a key.
 * @throws {RangeError} When `expireInMs` is not a positive integer.
 *
 * @example A redelivered message changes nothing
 * ```ts
 * import { createKvInbox } from "@monolith/message-bus/kv";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const kv = await Deno.openKv(":memory:");
 * const inbox = createKvInbox(kv);
 * // A handler, given the message's context.id:
 * async function onPaymentReceived(orderId: string, context: { id: string }) {
 *   const res = await inbox.record(
 *     kv.atomic().sum(["paid", orderId], 1n),
 *     context.id,
 *   ).commit();
 *   if (!res.ok) return; // handled already: a redelivery
 * }
 *
 * await onPaymentReceived("o1", { id: "payment-1" });
 * await onPaymentReceived("o1", { id: "payment-1" });
 * deepStrictEqual((await kv.get<Deno.KvU64>(["paid", "o1"])).value?.value, 1n);
 * deepStrictEqual(await inbox.has("payment-1"), true);
 * kv.close();
 * ```
 */
export function createKvInbox(
  kv: Deno.Kv,
  options: KvInboxOptions = {},
): KvInbox {
  const prefix = kvArguments("createKvInbox", kv, options, ["inbox"]);
  const expireInMs = options.expireInMs;
  if (
    expireInMs !== undefined &&
    (typeof expireInMs !== "number" || !Number.isInteger(expireInMs) ||
      expireInMs < 1)
  ) {
    throw new RangeError(
      `Cannot createKvInbox() as 'expireInMs' must be a positive integer: current value is ${
        shown(expireInMs)
      }`,
    );
  }
  const setOptions = expireInMs === undefined
    ? undefined
    : { expireIn: expireInMs };

  function keyOf(where: string, id: unknown): Deno.KvKey {
    if (!isPlainId(id)) {
      throw new TypeError(
        `Cannot ${where} as 'id' must be a non-empty string without quotes, backslashes or control characters: current value is ${
          shown(id)
        }`,
      );
    }
    return [...prefix, id];
  }

  return {
    record(tx, id) {
      if (!(tx instanceof Deno.AtomicOperation)) {
        throw new TypeError(
          `Cannot record() in the inbox as its first argument must be a Deno.AtomicOperation (kv.atomic()): current value is ${
            (tx as unknown) instanceof Deno.Kv ? "the Deno.Kv" : shown(tx)
          }`,
        );
      }
      const key = keyOf("record() in the inbox", id);
      return tx.check({ key, versionstamp: null }).set(
        key,
        Date.now(),
        setOptions,
      );
    },
    async has(id) {
      const key = keyOf("ask has() of the inbox", id);
      return (await kv.get(key)).versionstamp !== null;
    },
  };
}
