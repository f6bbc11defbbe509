/**
 * The transactional outbox: the orders module writes an order and its
 * `OrderCreated` event in one transaction, a relay delivers the event to the
 * bus afterwards, and the notifications module emails once per event, even
 * when the event comes twice (its inbox records the ids it handled, in the
 * transaction of its own writes).
 *
 * Run it with `deno task demo:outbox`: on Deno KV, in a temporary file, by
 * default; on PostgreSQL when `DATABASE_URL` is set
 * (`DATABASE_URL=postgres://postgres@127.0.0.1:5432/test deno task demo:outbox`),
 * in a schema of its own that it drops at the end.
 *
 * @module
 */

import postgres from "postgres";
import { createAsyncBus, defineCommand, defineEvent } from "../mod.ts";
import { createKvInbox, createKvOutbox } from "../src/outbox/kv/mod.ts";
import {
  createPostgresInbox,
  createPostgresOutbox,
} from "../src/outbox/postgres/mod.ts";

/** An order, as the orders module keeps it. */
export interface Order {
  readonly orderId: string;
  readonly sku: string;
  readonly total: number;
}

/** The orders module's messages. */
export const Orders = {
  PlaceOrder: defineCommand<Order, "placed" | "exists" | "refused">(
    "orders.PlaceOrder",
  ),
  OrderCreated: defineEvent<Order>("orders.OrderCreated"),
};

/**
 * What the modules need of the database, on either store: the order and its
 * event in one transaction; an email and the id of the event that caused it
 * in another.
 */
interface Storage {
  readonly name: string;
  /**
   * Saves `order` with its `OrderCreated` in one transaction; `check` runs
   * inside it and may throw, which rolls both back.
   */
  saveOrder(
    order: Order,
    check: (order: Order) => void,
  ): Promise<"placed" | "exists">;
  /** Sends an email for the event `id` unless one was sent: true if it was. */
  sendEmail(id: string, line: string): Promise<boolean>;
  /** The emails sent, oldest first. */
  emails(): Promise<string[]>;
  /** The outbox the orders module writes to. */
  readonly outbox: {
    relay(
      bus: ReturnType<typeof createAsyncBus>,
      options: { signal: AbortSignal; pollMs: number },
    ): Promise<void>;
    pending(): Promise<number>;
  };
  close(): Promise<void>;
}

async function kvStorage(path: string): Promise<Storage> {
  const kv = await Deno.openKv(path);
  const outbox = createKvOutbox(kv);
  const inbox = createKvInbox(kv);
  return {
    name: `Deno KV (${path})`,
    async saveOrder(order, check) {
      const key = ["orders", order.orderId];
      // The check makes the commit fail when the order exists: the order
      // and its event are written together, or neither is.
      const tx = kv.atomic()
        .check({ key, versionstamp: null })
        .set(key, order);
      outbox.add(tx, Orders.OrderCreated(order), {
        orderingKey: order.orderId,
      });
      check(order);
      const { ok } = await tx.commit();
      return ok ? "placed" : "exists";
    },
    async sendEmail(id, line) {
      const tx = inbox.record(kv.atomic(), id).set(["emails", id], line);
      return (await tx.commit()).ok;
    },
    async emails() {
      const lines: string[] = [];
      for await (const entry of kv.list<string>({ prefix: ["emails"] })) {
        lines.push(entry.value);
      }
      return lines;
    },
    outbox,
    close() {
      kv.close();
      return Promise.resolve();
    },
  };
}

async function postgresStorage(url: string, schema: string): Promise<Storage> {
  const sql = postgres(url, { max: 4, onnotice: () => {} });
  const outbox = createPostgresOutbox(sql, { schema });
  const inbox = createPostgresInbox(sql, { schema });
  await outbox.migrate();
  await inbox.migrate();
  await sql`create table if not exists ${sql(schema)}.orders (
    order_id text primary key, sku text not null, total integer not null)`;
  await sql`create table if not exists ${sql(schema)}.emails (
    seq bigserial primary key, event_id text not null, line text not null)`;
  return {
    name: `PostgreSQL (schema ${schema})`,
    async saveOrder(order, check) {
      try {
        await sql.begin(async (tx) => {
          await tx`insert into ${sql(schema)}.orders
            values (${order.orderId}, ${order.sku}, ${order.total})`;
          await outbox.add(tx, Orders.OrderCreated(order), {
            orderingKey: order.orderId,
          });
          check(order);
        });
        return "placed";
      } catch (error) {
        // 23505: unique_violation, the order exists.
        if ((error as { code?: string }).code === "23505") return "exists";
        throw error;
      }
    },
    async sendEmail(id, line) {
      return await sql.begin(async (tx) => {
        if (!(await inbox.record(tx, id))) return false;
        await tx`insert into ${sql(schema)}.emails (event_id, line)
          values (${id}, ${line})`;
        return true;
      });
    },
    async emails() {
      const rows = await sql<{ line: string }[]>`
        select line from ${sql(schema)}.emails order by seq`;
      return rows.map((row) => row.line);
    },
    outbox,
    async close() {
      await outbox.close();
      await sql`drop schema if exists ${sql(schema)} cascade`;
      await sql.end();
    },
  };
}

/** Where the demo keeps its data. */
export type DemoStore =
  | { readonly kind: "kv"; readonly path: string }
  | {
    readonly kind: "postgres";
    readonly url: string;
    readonly schema: string;
  };

/** What the demo did, line by line, and the emails it sent. */
export interface OutboxDemoReport {
  readonly store: string;
  readonly lines: readonly string[];
  readonly emails: readonly string[];
}

/**
 * Runs the scenario on `where`: three orders (one placed, one refused by
 * payment inside its transaction, one that exists already), the relay
 * delivering what committed, and the same event delivered a second time.
 */
export async function runOutboxDemo(
  where: DemoStore,
): Promise<OutboxDemoReport> {
  const storage = where.kind === "kv"
    ? await kvStorage(where.path)
    : await postgresStorage(where.url, where.schema);
  const lines: string[] = [];
  const bus = createAsyncBus();

  // The orders module: the command handler writes the order and its event
  // in one transaction, and publishes nothing itself.
  bus.registerCommand(Orders.PlaceOrder, async ({ payload }) => {
    try {
      return await storage.saveOrder(payload, (order) => {
        if (order.total > 1_000) throw new RangeError("payment refused");
      });
    } catch (error) {
      if (error instanceof RangeError) return "refused";
      throw error;
    }
  });

  // The notifications module: one email per OrderCreated, by its id.
  const handled: string[] = [];
  bus.subscribe(Orders.OrderCreated, async ({ payload }, context) => {
    const sent = await storage.sendEmail(
      context.id,
      `order ${payload.orderId}: ${payload.sku}, ${payload.total}`,
    );
    handled.push(context.id);
    lines.push(
      `notifications: OrderCreated ${payload.orderId} ${
        sent ? "emailed" : "was handled already: no email"
      }`,
    );
  });

  const stop = new AbortController();
  const relaying = storage.outbox.relay(bus, {
    signal: stop.signal,
    pollMs: 1_000,
  });
  try {
    for (
      const order of [
        { orderId: "o1", sku: "book", total: 30 },
        { orderId: "o2", sku: "piano", total: 4_000 },
        { orderId: "o1", sku: "lamp", total: 20 },
      ]
    ) {
      const result = await bus.execute(Orders.PlaceOrder(order));
      lines.push(
        `orders: PlaceOrder ${order.orderId} ${order.sku} -> ${result}${
          result === "placed"
            ? " (order and OrderCreated committed together)"
            : " (rolled back: no event)"
        }`,
      );
    }
    // The relay delivers what committed, then forgets it: wait for both,
    // bounded.
    const deadline = Date.now() + 10_000;
    while (
      (handled.length < 1 || await storage.outbox.pending() > 0) &&
      Date.now() < deadline
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // A relay that died after delivering and before recording it delivers
    // the event again, with the same id: the inbox keeps the email single.
    if (handled[0] !== undefined) {
      await bus.publish(
        Orders.OrderCreated({ orderId: "o1", sku: "book", total: 30 }),
        { id: handled[0] },
      );
    }
    lines.push(`outbox: ${await storage.outbox.pending()} pending`);
    return { store: storage.name, lines, emails: await storage.emails() };
  } finally {
    stop.abort();
    await relaying;
    await storage.close();
  }
}

if (import.meta.main) {
  const url = Deno.env.get("DATABASE_URL");
  let dir: string | undefined;
  let where: DemoStore;
  if (url === undefined) {
    dir = await Deno.makeTempDir({ prefix: "outbox-demo-" });
    where = { kind: "kv", path: `${dir}/demo.kv` };
  } else {
    where = {
      kind: "postgres",
      url,
      schema: `outbox_demo_${Date.now().toString(36)}`,
    };
  }
  try {
    const report = await runOutboxDemo(where);
    console.log(`Store: ${report.store}`);
    for (const line of report.lines) console.log(`  ${line}`);
    console.log("Emails sent:");
    for (const line of report.emails) console.log(`  ${line}`);
  } finally {
    if (dir !== undefined) await Deno.remove(dir, { recursive: true });
  }
}
