/**
 * The transactional outbox and the inbox on PostgreSQL, over postgres.js
 * (`npm:postgres`), which only this entry point imports.
 *
 * - {@linkcode createPostgresOutbox}: `add` a message in the transaction of
 *   `sql.begin(async (tx) => ...)` that changes the data it tells of; `process`
 *   or `relay` delivers it afterwards, at least once, with the same id every
 *   time. Relays in several processes share the table (`FOR UPDATE SKIP
 *   LOCKED`) and wake on `LISTEN`/`NOTIFY`.
 * - {@linkcode createPostgresInbox}: the consumer records each id in the
 *   transaction of its effects, so a redelivery changes nothing.
 *
 * See docs/outbox.md.
 *
 * @module
 */

export * from "./postgres_outbox.ts";
export * from "./postgres_inbox.ts";
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
