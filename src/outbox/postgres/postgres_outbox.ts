// The outbox on PostgreSQL: one row per message, written by the caller's
// transaction with a NOTIFY that goes out at its commit; relays lease rows
// with FOR UPDATE SKIP LOCKED and wake on LISTEN.
import type { Sql, TransactionSql } from "postgres";
import {
  createOutbox,
  type Outbox,
  type OutboxClaim,
  type OutboxEntry,
  type OutboxOptions,
  type OutboxStore,
} from "../outbox.ts";
import { isPlainId } from "../../core/_ids.ts";
import type { MessageKind } from "../../core/messages.ts";
import {
  checkSql,
  optionsObject,
  quotedIdentifier,
  transactionProblem,
} from "./_sql.ts";

/** Options of `createPostgresOutbox`: the outbox's, and where its table is. */
export interface PostgresOutboxOptions extends OutboxOptions {
  /**
   * The schema of the outbox's table: a plain identifier.
   *
   * @default {"public"}
   */
  readonly schema?: string;
  /**
   * The outbox's table: a plain identifier.
   *
   * @default {"outbox"}
   */
  readonly table?: string;
}

/**
 * An outbox in a PostgreSQL table: `add` takes the transaction of
 * `sql.begin(async (tx) => ...)` and resolves to the message's id.
 */
export interface PostgresOutbox
  extends Outbox<TransactionSql, Promise<string>> {
  /**
   * Creates the schema, table and indexes if missing (the SQL is in
   * `createPostgresOutbox`'s documentation); safe to call again, and from
   * several processes at once.
   */
  migrate(): Promise<void>;
  /**
   * Stops listening for notifications (the relay's LISTEN connection);
   * relays that still run fall back to polling every `pollMs`. The caller
   * still owns `sql`, and ends it.
   */
  close(): Promise<void>;
}

const KINDS: ReadonlySet<string> = new Set([
  "query",
  "command",
  "event",
  "task",
]);

// PostgreSQL keeps 63 bytes of a channel name; a longer one is cut and
// made unique again with a hash of the whole.
function channelOf(schema: string, table: string): string {
  const name = `${schema}.${table}`;
  if (name.length <= 63) return name;
  let hash = 0x811c9dc5;
  for (let index = 0; index < name.length; index++) {
    hash = Math.imul(hash ^ name.charCodeAt(index), 0x01000193);
  }
  return `${name.slice(0, 54)}.${(hash >>> 0).toString(16).padStart(8, "0")}`;
}

// A row as the claim statement returns it (by position, so that a
// connection's column transforms do not rename its fields).
type ClaimRow = [
  seq: string,
  id: unknown,
  kind: unknown,
  type: unknown,
  payload: unknown,
  orderingKey: unknown,
  data: unknown,
  attempts: unknown,
  createdAt: unknown,
  lease: string,
];

interface Ref {
  readonly seq: string;
  readonly lease: string;
}

function claimOf(row: ClaimRow): OutboxClaim {
  const [seq, id, kind, type, payload, orderingKey, data, attempts, createdAt] =
    row;
  const ref: Ref = { seq, lease: row[9] };
  const shownId = typeof id === "string" ? id : `row ${seq}`;
  const problem = (why: string): OutboxClaim => ({
    id: shownId,
    entry: undefined,
    problem: `row ${seq} ${why}`,
    ref,
  });
  if (!isPlainId(id)) return problem("has no plain id");
  if (typeof kind !== "string" || !KINDS.has(kind)) {
    return problem(
      `has kind ${
        JSON.stringify(kind)
      }, not "query", "command", "event" or "task"`,
    );
  }
  if (typeof type !== "string" || type === "") {
    return problem("has no type");
  }
  if (orderingKey !== null && typeof orderingKey !== "string") {
    return problem("has an ordering key that is not text");
  }
  if (
    typeof attempts !== "number" || !Number.isInteger(attempts) ||
    attempts < 0
  ) {
    return problem("has a negative attempt count");
  }
  let decodedPayload: unknown;
  let decodedData: unknown;
  try {
    decodedPayload = typeof payload === "string" ? JSON.parse(payload) : null;
    decodedData = typeof data === "string" ? JSON.parse(data) : null;
  } catch {
    return problem("has a payload or data that is not JSON");
  }
  if (
    decodedData !== null &&
    (typeof decodedData !== "object" || Array.isArray(decodedData))
  ) {
    return problem(`has data ${data}, not an object of named values`);
  }
  const entry: OutboxEntry = {
    id,
    kind: kind as MessageKind,
    type,
    payload: decodedPayload,
    orderingKey: orderingKey as string | null,
    data: decodedData as Record<string, unknown> | null,
    attempts,
    createdAt: typeof createdAt === "number" ? createdAt : Number(createdAt),
  };
  return { id, entry, ref };
}

/**
 * Creates an outbox kept in a PostgreSQL table, on a postgres.js connection
 * (`npm:postgres`). `add(tx, message)` writes the message with one statement
 * in the caller's transaction `tx` (the one of `sql.begin(async (tx) =>
 * ...)`), with a NOTIFY that PostgreSQL sends only if it commits. Relays
 * (`process`, `relay`), in any number of processes, lease rows with
 * `FOR UPDATE SKIP LOCKED`, oldest first and one per ordering key, and
 * `relay` wakes on LISTEN (one connection per outbox, opened at its first
 * wait, released by `close()`).
 *
 * Run `migrate()` once before use; it runs, in one transaction (shown with
 * the default names):
 *
 * ```sql
 * CREATE SCHEMA IF NOT EXISTS "public";
 * CREATE TABLE IF NOT EXISTS "public"."outbox" (
 *   seq bigserial PRIMARY KEY,
 *   id text NOT NULL UNIQUE,
 *   kind text NOT NULL,
 *   type text NOT NULL,
 *   payload jsonb NOT NULL,
 *   ordering_key text,
 *   data jsonb,
 *   attempts integer NOT NULL DEFAULT 0,
 *   available_at timestamptz NOT NULL DEFAULT now(),
 *   leased_until timestamptz,
 *   lease bigint,
 *   dead boolean NOT NULL DEFAULT false,
 *   error text,
 *   created_at timestamptz NOT NULL DEFAULT now()
 * );
 * CREATE INDEX IF NOT EXISTS "outbox_due" ON "public"."outbox" (seq)
 *   WHERE NOT dead;
 * CREATE INDEX IF NOT EXISTS "outbox_key" ON "public"."outbox" (ordering_key, seq)
 *   WHERE NOT dead AND ordering_key IS NOT NULL;
 * ```
 *
 * Delivered rows are deleted; dead ones stay, with `dead` and `error`, for
 * inspection. Due and lease times are the database's clock. Messages of one
 * ordering key are delivered in the order their rows were inserted; two
 * transactions that add to one key concurrently should serialize on a row of
 * their own (the aggregate's), as they usually do.
 *
 * @param sql The connection (`postgres(url)`); the outbox never ends it.
 * @param options The table's schema and name, and the outbox's options.
 * @returns The outbox, with `migrate()` and `close()`.
 * @throws {TypeError} When `sql` is not a postgres.js connection or an
 * option has the wrong type.
 * @throws {RangeError} When `schema` or `table` is not a plain identifier,
 * or a number option is out of range.
 *
 * @example Added in a transaction that commits: delivered once, with its id
 * ```ts
 * import { createAsyncBus, defineEvent } from "@monolith/message-bus";
 * import { createPostgresOutbox } from "@monolith/message-bus/postgres";
 * import postgres from "postgres";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const OrderPlaced = defineEvent<{ orderId: string }>("orders.OrderPlaced");
 * const sql = postgres("postgres://postgres@127.0.0.1:5432/test", { onnotice: () => {} });
 * const schema = `example_${crypto.randomUUID().replaceAll("-", "")}`;
 * const outbox = createPostgresOutbox(sql, { schema });
 * try {
 *   await outbox.migrate();
 *   const bus = createAsyncBus();
 *   const heard: string[] = [];
 *   bus.subscribe(OrderPlaced, (e, context) => void heard.push(`${e.payload.orderId} ${context.id}`));
 *
 *   // The order's own writes go in the same transaction.
 *   const id = await sql.begin((tx) => outbox.add(tx, OrderPlaced({ orderId: "o1" })));
 *   await sql.begin(async (tx) => {
 *     await outbox.add(tx, OrderPlaced({ orderId: "o2" }));
 *     throw new Error("payment refused"); // rolls back: o2 is never sent
 *   }).catch(() => {});
 *
 *   deepStrictEqual(await outbox.process(bus), 1);
 *   deepStrictEqual(await outbox.process(bus), 0);
 *   deepStrictEqual(heard, [`o1 ${id}`]);
 * } finally {
 *   await outbox.close();
 *   await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
 *   await sql.end();
 * }
 * ```
 */
export function createPostgresOutbox(
  sql: Sql,
  options?: PostgresOutboxOptions,
): PostgresOutbox {
  const factory = "createPostgresOutbox";
  checkSql(factory, sql);
  const given = optionsObject(factory, options);
  const schemaName = given.schema ?? "public";
  const tableName = given.table ?? "outbox";
  const schema = quotedIdentifier(factory, "schema", schemaName);
  const table = quotedIdentifier(factory, "table", tableName);
  const q = `${schema}.${table}`;
  const channel = channelOf(schemaName, tableName);
  const notify = `pg_notify('${channel}', '')`;
  // Index names live in the table's schema; cut so that the suffix stays.
  const index = (suffix: string) => `"${tableName.slice(0, 50)}_${suffix}"`;
  // The user's choice (prepare: false behind a pooler such as PgBouncer).
  const prepare = sql.options?.prepare !== false;

  const MIGRATE = [
    `CREATE SCHEMA IF NOT EXISTS ${schema}`,
    `CREATE TABLE IF NOT EXISTS ${q} (
  seq bigserial PRIMARY KEY,
  id text NOT NULL UNIQUE,
  kind text NOT NULL,
  type text NOT NULL,
  payload jsonb NOT NULL,
  ordering_key text,
  data jsonb,
  attempts integer NOT NULL DEFAULT 0,
  available_at timestamptz NOT NULL DEFAULT now(),
  leased_until timestamptz,
  lease bigint,
  dead boolean NOT NULL DEFAULT false,
  error text,
  created_at timestamptz NOT NULL DEFAULT now()
)`,
    `CREATE INDEX IF NOT EXISTS ${index("due")} ON ${q} (seq) WHERE NOT dead`,
    `CREATE INDEX IF NOT EXISTS ${
      index("key")
    } ON ${q} (ordering_key, seq) WHERE NOT dead AND ordering_key IS NOT NULL`,
  ];
  // One statement per add: the NOTIFY is queued in the caller's transaction
  // and goes out only if it commits.
  const WRITE = `WITH e AS (INSERT INTO ${q}
  (id, kind, type, payload, ordering_key, data)
  VALUES ($1::text, $2::text, $3::text, $4::text::jsonb, $5::text, $6::text::jsonb)
  RETURNING 1)
SELECT ${notify} FROM e`;
  // The lease token is the claiming transaction's id: unique per claim
  // without a sequence of its own.
  const CLAIM = `WITH c AS (
  UPDATE ${q} SET leased_until = now() + $2::int * interval '1 millisecond',
    lease = txid_current()
  WHERE seq IN (
    SELECT o.seq FROM ${q} o
    WHERE NOT o.dead AND o.available_at <= now()
      AND (o.leased_until IS NULL OR o.leased_until <= now())
      AND (o.ordering_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM ${q} h
        WHERE h.ordering_key = o.ordering_key AND NOT h.dead AND h.seq < o.seq))
    ORDER BY o.seq
    LIMIT $1::int
    FOR UPDATE OF o SKIP LOCKED)
  RETURNING seq, id, kind, type, payload, ordering_key, data, attempts, created_at, lease)
SELECT c.seq::text, c.id, c.kind, c.type, c.payload::text, c.ordering_key,
  c.data::text, c.attempts, (extract(epoch FROM c.created_at) * 1000)::float8,
  c.lease::text
FROM c ORDER BY c.seq`;
  // Deleting the head of an ordering key makes the next one due: wake the
  // relays rather than leave it to their poll.
  const COMPLETE = `WITH d AS (
  DELETE FROM ${q} USING unnest(
    string_to_array($1::text, ',')::bigint[],
    string_to_array($2::text, ',')::bigint[]) AS c(seq, lease)
  WHERE ${q}.seq = c.seq AND ${q}.lease = c.lease
  RETURNING ${q}.ordering_key)
SELECT ${notify} FROM d WHERE ordering_key IS NOT NULL LIMIT 1`;
  const RETRY = `UPDATE ${q} SET attempts = attempts + 1,
  available_at = now() + $3::int * interval '1 millisecond',
  leased_until = NULL, lease = NULL, error = $4::text
WHERE seq = $1::bigint AND lease = $2::bigint`;
  const BURY = `WITH b AS (
  UPDATE ${q} SET dead = true, error = $3::text, leased_until = NULL, lease = NULL
  WHERE seq = $1::bigint AND lease = $2::bigint
  RETURNING ordering_key)
SELECT ${notify} FROM b WHERE ordering_key IS NOT NULL`;
  const PENDING = `SELECT count(*)::float8 FROM ${q} WHERE NOT dead`;

  // Notifications (and (re)connections of the listener, after which some
  // may have been missed) so far, and as of the last claim: a wait after
  // one that the last claim did not see returns at once.
  let notifications = 0;
  let claimedAt = 0;
  const waiters = new Set<() => void>();
  let listening: Promise<{ unlisten(): Promise<void> } | undefined> | undefined;
  let closed = false;

  function wake(): void {
    notifications++;
    for (const waiter of [...waiters]) waiter();
  }

  function listen(): void {
    if (listening !== undefined || closed) return;
    // `wake` is also the onlisten callback: once LISTEN is in place, the
    // relay looks again, so a commit before it is not left to the poll.
    listening = sql.listen(channel, wake, wake).catch(() => {
      // The relay polls meanwhile, and its claims report the database
      // being down; the next wait listens again.
      listening = undefined;
      return undefined;
    });
  }

  const store: OutboxStore<TransactionSql> = {
    name: "PostgreSQL",
    transactionProblem,
    write(tx, entry) {
      return tx.unsafe(WRITE, [
        entry.id,
        entry.kind,
        entry.type,
        JSON.stringify(entry.payload),
        entry.orderingKey,
        entry.data === null ? null : JSON.stringify(entry.data),
      ], { prepare }).then(() => undefined);
    },
    async claim(limit, leaseMs) {
      claimedAt = notifications;
      const rows = await sql.unsafe(CLAIM, [limit, leaseMs], { prepare })
        .values();
      return (rows as unknown as ClaimRow[]).map(claimOf);
    },
    async complete(claims) {
      if (claims.length === 0) return;
      const refs = claims.map((claim) => claim.ref as Ref);
      await sql.unsafe(COMPLETE, [
        refs.map((ref) => ref.seq).join(","),
        refs.map((ref) => ref.lease).join(","),
      ], { prepare });
    },
    async retry(claim, delayMs, error) {
      const { seq, lease } = claim.ref as Ref;
      await sql.unsafe(RETRY, [seq, lease, delayMs, error], { prepare });
    },
    async bury(claim, error) {
      const { seq, lease } = claim.ref as Ref;
      await sql.unsafe(BURY, [seq, lease, error], { prepare });
    },
    async pending() {
      const rows = await sql.unsafe(PENDING, [], { prepare }).values();
      return Number(rows[0]?.[0] ?? 0);
    },
    wait(ms, signal) {
      if (signal.aborted || notifications !== claimedAt) {
        return Promise.resolve();
      }
      listen();
      return new Promise<void>((resolve) => {
        const done = () => {
          waiters.delete(done);
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        waiters.add(done);
        signal.addEventListener("abort", done, { once: true });
      });
    },
  };

  const outbox = createOutbox<TransactionSql, Promise<string>>(
    store,
    factory,
    given,
  );
  return {
    ...outbox,
    async migrate() {
      await sql.begin(async (tx) => {
        // "already exists, skipping" notices are expected here.
        await tx.unsafe("SET LOCAL client_min_messages = warning");
        // Two processes migrating at once would race on the catalog.
        await tx.unsafe("SELECT pg_advisory_xact_lock(hashtext($1::text))", [
          `${schemaName}.${tableName}`,
        ]);
        for (const statement of MIGRATE) await tx.unsafe(statement);
      });
    },
    async close() {
      closed = true;
      const pending = listening;
      listening = undefined;
      const listener = await pending;
      await listener?.unlisten();
    },
  };
}
