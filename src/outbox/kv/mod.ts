/**
 * The transactional outbox on Deno KV: {@linkcode createKvOutbox} adds a
 * message to the caller's `kv.atomic()` operation beside the data it tells
 * of, and delivers it after the commit, at least once, with the same id
 * every time, to a bus or a forwarder; relays in several processes can share
 * one KV. {@linkcode createKvInbox} is the consumer's side: it records the ids
 * a handler has handled in the operation that makes its effects, so a
 * redelivery changes nothing.
 *
 * Deno KV is behind Deno's `--unstable-kv` flag, or `"unstable": ["kv"]` in
 * deno.json. See docs/outbox.md.
 *
 * @module
 */

export * from "./kv_outbox.ts";
export * from "./kv_inbox.ts";
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
} from "../outbox.ts";
export type { Clock } from "../../core/clock.ts";
export type { MessageKind } from "../../core/messages.ts";
export type { ContextData, SerializedError } from "../../core/types.ts";
