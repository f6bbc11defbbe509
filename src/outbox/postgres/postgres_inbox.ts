// The consumer's side of at-least-once delivery on PostgreSQL: the ids it
// has handled, recorded in the transaction of its own effects.
import type { Sql, TransactionSql } from "postgres";
import {
  checkSql,
  optionsObject,
  quotedIdentifier,
  transactionProblem,
} from "./_sql.ts";
import { isPlainId, PLAIN_ID } from "../../core/_ids.ts";

/** Options of `createPostgresInbox`: where its table is. */
export interface PostgresInboxOptions {
  /**
   * The schema of the inbox's table: a plain identifier.
   *
   * @default {"public"}
   */
  readonly schema?: string;
  /**
   * The inbox's table: a plain identifier.
   *
   * @default {"inbox"}
   */
  readonly table?: string;
}

/** The ids of messages a consumer has handled, in a PostgreSQL table. */
export interface PostgresInbox {
  /**
   * Creates the schema and table if missing (the SQL is in
   * `createPostgresInbox`'s documentation); safe to call again.
   */
  migrate(): Promise<void>;
  /**
   * Records `id` in the consumer's transaction `tx`: `true` the first time,
   * `false` when it was recorded before (skip the effects).
   */
  record(tx: TransactionSql, id: string): Promise<boolean>;
  /** Whether `id` was recorded (by a transaction that committed). */
  has(id: string): Promise<boolean>;
}

/**
 * Creates an inbox in a PostgreSQL table, so that a message delivered more
 * than once (the outbox delivers at least once) has its effects once: the
 * handler records the message's id in the transaction of its effects, and
 * skips them when the id was there already. Two deliveries at once wait on
 * each other's row: one records it, the other gets `false`.
 *
 * `migrate()` runs, in one transaction (shown with the default names):
 *
 * ```sql
 * CREATE SCHEMA IF NOT EXISTS "public";
 * CREATE TABLE IF NOT EXISTS "public"."inbox" (
 *   id text PRIMARY KEY,
 *   at timestamptz NOT NULL DEFAULT now()
 * );
 * ```
 *
 * `record(tx, id)` is `INSERT ... ON CONFLICT (id) DO NOTHING RETURNING id`.
 * Rows are never deleted: delete old ones by `at` when redeliveries of them
 * can no longer come.
 *
 * @param sql The connection (`postgres(url)`); the inbox never ends it.
 * @param options The table's schema and name.
 * @returns The inbox.
 * @throws {TypeError} When `sql` is not a postgres.js connection.
 * @throws {RangeError} When `schema` or `table` is not a plain identifier.
 *
 * @example A handler that has its effects once, however often it is delivered
 * ```ts
 * import { createAsyncBus, defineEvent } from "@monolith/message-bus";
 * import { createPostgresInbox } from "@monolith/message-bus/postgres";
 * import postgres from "postgres";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const OrderPlaced = defineEvent<{ orderId: string }>("orders.OrderPlaced");
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/test", { onnotice: () => {} });
 * const schema = `example_${crypto.randomUUID().replaceAll("-", "")}`;
 * const inbox = createPostgresInbox(sql, { schema });
 * try {
 *   await inbox.migrate();
 *   await sql.unsafe(`CREATE TABLE "${schema}".shipments (order_id text)`);
 *   const bus = createAsyncBus();
 *   bus.subscribe(OrderPlaced, async (event, context) => {
 *     await sql.begin(async (tx) => {
 *       if (!(await inbox.record(tx, context.id))) return; // handled before
 *       await tx`INSERT INTO ${tx(schema)}.shipments VALUES (${event.payload.orderId})`;
 *     });
 *   });
 *
 *   // The outbox delivers at least once: the same id may come again.
 *   await bus.publish(OrderPlaced({ orderId: "o1" }), { id: "placed-o1" });
 *   await bus.publish(OrderPlaced({ orderId: "o1" }), { id: "placed-o1" });
 *
 *   const rows = await sql`SELECT order_id FROM ${sql(schema)}.shipments`;
 *   deepStrictEqual(rows.map((row) => row.order_id), ["o1"]);
 *   deepStrictEqual(await inbox.has("placed-o1"), true);
 * } finally {
 *   await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
 *   await sql.end();
 * }
 * ```
 */
export function createPostgresInbox(
  sql: Sql,
  options?: PostgresInboxOptions,
): PostgresInbox {
  const factory = "createPostgresInbox";
  checkSql(factory, sql);
  const given = optionsObject(factory, options);
  const schemaName = given.schema ?? "public";
  const tableName = given.table ?? "inbox";
  const schema = quotedIdentifier(factory, "schema", schemaName);
  const q = `${schema}.${quotedIdentifier(factory, "table", tableName)}`;
  const prepare = sql.options?.prepare !== false;
  const RECORD =
    `INSERT INTO ${q} (id) VALUES ($1::text) ON CONFLICT (id) DO NOTHING RETURNING 1`;
  const HAS = `SELECT 1 FROM ${q} WHERE id = $1::text`;

  function checkId(where: string, id: unknown): void {
    if (!isPlainId(id)) {
      throw new TypeError(
        `Cannot ${where} in the inbox as the id must be ${PLAIN_ID}: current value is ${
          typeof id === "string" ? JSON.stringify(id) : typeof id
        }`,
      );
    }
  }

  return {
    async migrate() {
      await sql.begin(async (tx) => {
        await tx.unsafe("SET LOCAL client_min_messages = warning");
        await tx.unsafe("SELECT pg_advisory_xact_lock(hashtext($1::text))", [
          `${schemaName}.${tableName}`,
        ]);
        await tx.unsafe(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        await tx.unsafe(
          `CREATE TABLE IF NOT EXISTS ${q} (
  id text PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT now()
)`,
        );
      });
    },
    async record(tx, id) {
      const problem = transactionProblem(tx);
      if (problem !== undefined) {
        throw new TypeError(`Cannot record() in the inbox: ${problem}`);
      }
      checkId("record()", id);
      const rows = await tx.unsafe(RECORD, [id], { prepare }).values();
      return rows.length > 0;
    },
    async has(id) {
      checkId("look up", id);
      const rows = await sql.unsafe(HAS, [id], { prepare }).values();
      return rows.length > 0;
    },
  };
}
