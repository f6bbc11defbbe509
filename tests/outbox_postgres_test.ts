// The outbox and the inbox on PostgreSQL, against the local server
// (postgres://postgres@127.0.0.1:5432/test): each test in a schema of its
// own, dropped at its end.
import { deepStrictEqual, ok, rejects, throws } from "node:assert/strict";
import postgres from "postgres";
import { createAsyncBus, defineEvent } from "../mod.ts";
import {
  createPostgresInbox,
  createPostgresOutbox,
  type OutboxMessage,
  type PostgresOutbox,
  type PostgresOutboxOptions,
} from "../src/outbox/postgres/mod.ts";
import { memoryDeadLetterStore } from "../src/resilience/mod.ts";

const DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";
const OrderPlaced = defineEvent<{ orderId: string }>("orders.OrderPlaced");

type Sql = ReturnType<typeof postgres>;

function connect(): Sql {
  return postgres(DATABASE_URL, { onnotice: () => {} });
}

// A fresh schema with an outbox in it; the schema is dropped and every
// connection ended whatever the test does.
async function withOutbox(
  options: Omit<PostgresOutboxOptions, "schema">,
  test: (sql: Sql, outbox: PostgresOutbox, schema: string) => Promise<void>,
): Promise<void> {
  const sql = connect();
  const schema = `outbox_test_${crypto.randomUUID().replaceAll("-", "")}`;
  const outbox = createPostgresOutbox(sql, { ...options, schema });
  try {
    await outbox.migrate();
    await test(sql, outbox, schema);
  } finally {
    await outbox.close();
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await sql.end();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("createPostgresOutbox() delivers a committed message exactly once, with the id add() resolved to, and a rolled-back one never", async () => {
  await withOutbox({}, async (sql, outbox) => {
    const bus = createAsyncBus();
    const heard: string[] = [];
    bus.subscribe(OrderPlaced, (event, context) => {
      heard.push(`${event.payload.orderId} ${context.id}`);
    });
    await rejects(
      sql.begin(async (tx) => {
        await outbox.add(tx, OrderPlaced({ orderId: "lost" }));
        throw new Error("rolled back");
      }),
      /rolled back/,
    );
    deepStrictEqual(await outbox.pending(), 0);
    const id = await sql.begin((tx) =>
      outbox.add(tx, OrderPlaced({ orderId: "o1" }))
    );
    deepStrictEqual(await outbox.pending(), 1);
    deepStrictEqual(await outbox.process(bus), 1);
    deepStrictEqual(await outbox.process(bus), 0);
    deepStrictEqual(heard, [`o1 ${id}`]);
    deepStrictEqual(await outbox.pending(), 0);
  });
});

Deno.test("createPostgresOutbox() migrate() is idempotent and the options are checked", async () => {
  await withOutbox({}, async (sql, outbox, schema) => {
    await outbox.migrate();
    await Promise.all([outbox.migrate(), outbox.migrate()]);
    const tables = await sql`
      SELECT table_name FROM information_schema.tables
      WHERE table_schema = ${schema}`;
    deepStrictEqual(tables.map((row) => row.table_name), ["outbox"]);
    throws(
      () => createPostgresOutbox(sql, { schema: 'x"; DROP TABLE y; --' }),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message ===
          `Cannot createPostgresOutbox() as 'schema' must be a plain identifier (a letter or _, then letters, digits or _, at most 63): current value is "x\\"; DROP TABLE y; --"`,
    );
    throws(
      () => createPostgresOutbox(sql, { table: 3 as never }),
      /^TypeError: Cannot createPostgresOutbox\(\) as 'table' must be a string: current value is number$/,
    );
    throws(
      () => createPostgresOutbox({} as never),
      /must be a postgres\.js connection/,
    );
    throws(
      () => createPostgresOutbox(sql, { leaseMs: 0 }),
      /'leaseMs' must be an integer from 1/,
    );
  });
});

Deno.test("createPostgresOutbox() add() refuses the connection and payloads that are not JSON, before writing", async () => {
  await withOutbox({}, async (sql, outbox) => {
    throws(
      () => outbox.add(sql as never, OrderPlaced({ orderId: "o" })),
      (error: unknown) =>
        error instanceof TypeError &&
        error.message ===
          "Cannot add() to the outbox: its first argument is the connection, not a transaction: call it inside sql.begin(async (tx) => ...) with tx",
    );
    throws(
      () => outbox.add({} as never, OrderPlaced({ orderId: "o" })),
      /its first argument must be the transaction of sql\.begin\(async \(tx\) => \.\.\.\), not object/,
    );
    await rejects(
      sql.begin((tx) =>
        outbox.add(tx, {
          kind: "event",
          type: "orders.OrderPlaced",
          payload: { total: 10n },
        })
      ),
      /payload\.total is a bigint/,
    );
    await rejects(
      sql.begin((tx) =>
        outbox.add(tx, {
          kind: "event",
          type: "orders.OrderPlaced",
          payload: { at: new Date() },
        })
      ),
      (error: unknown) =>
        error instanceof TypeError && /payload\.at/.test(error.message),
    );
    deepStrictEqual(await outbox.pending(), 0);
  });
});

Deno.test("createPostgresOutbox() dead-letters a poison message after maxAttempts while the rest flow", async () => {
  const letters = memoryDeadLetterStore();
  await withOutbox(
    {
      maxAttempts: 3,
      retryDelayMs: 0,
      deadLetters: letters,
      onError: () => {},
    },
    async (sql, outbox, schema) => {
      const tries: string[] = [];
      const target = outbox.forward((message: OutboxMessage, info) => {
        const { orderId } = message.payload as { orderId: string };
        tries.push(`${orderId}:${info.attempt}`);
        if (orderId === "poison") throw new RangeError("cannot place");
      });
      await sql.begin(async (tx) => {
        await outbox.add(tx, OrderPlaced({ orderId: "poison" }), {
          id: "poison-1",
        });
        await outbox.add(tx, OrderPlaced({ orderId: "fine" }));
      });
      deepStrictEqual(await outbox.process(target), 1);
      deepStrictEqual(await outbox.process(target), 0);
      deepStrictEqual(await outbox.process(target), 0);
      deepStrictEqual(await outbox.process(target), 0);
      deepStrictEqual(tries, ["poison:1", "fine:1", "poison:2", "poison:3"]);
      deepStrictEqual(
        (await letters.list()).map((l) => [
          l.id,
          l.attempts,
          l.error.message,
          l.message.payload,
        ]),
        [["poison-1", 3, "cannot place", { orderId: "poison" }]],
      );
      deepStrictEqual(await outbox.pending(), 0);
      const [row] = await sql`
        SELECT dead, attempts, error FROM ${sql(schema)}.outbox`;
      deepStrictEqual({ ...row }, {
        dead: true,
        attempts: 2,
        error: "RangeError: cannot place",
      });
    },
  );
});

Deno.test("createPostgresOutbox() holds back only the ordering key of a failed message", async () => {
  await withOutbox(
    { retryDelayMs: 0, onError: () => {} },
    async (sql, outbox) => {
      const delivered: string[] = [];
      let failures = 2;
      const target = outbox.forward((message: OutboxMessage) => {
        const { orderId } = message.payload as { orderId: string };
        if (orderId === "a1" && failures > 0) {
          failures--;
          throw new Error("later");
        }
        delivered.push(orderId);
      });
      await sql.begin(async (tx) => {
        for (const [orderId, key] of [["a1", "a"], ["a2", "a"], ["b1", "b"]]) {
          await outbox.add(tx, OrderPlaced({ orderId: orderId! }), {
            orderingKey: key!,
          });
        }
        await outbox.add(tx, OrderPlaced({ orderId: "b2" }), {
          orderingKey: "b",
        });
        await outbox.add(tx, OrderPlaced({ orderId: "free" }));
      });
      await outbox.process(target); // a1 fails; b1 and free go
      deepStrictEqual(delivered, ["b1", "free"]);
      await outbox.process(target); // a1 fails again; a2 waits for it
      deepStrictEqual(delivered, ["b1", "free", "b2"]);
      await outbox.process(target);
      await outbox.process(target);
      deepStrictEqual(delivered, ["b1", "free", "b2", "a1", "a2"]);
    },
  );
});

Deno.test("createPostgresOutbox() dead-letters a row that no longer decodes, with the reason, and delivers the others", async () => {
  const letters = memoryDeadLetterStore();
  await withOutbox(
    { deadLetters: letters, onError: () => {} },
    async (sql, outbox, schema) => {
      const delivered: string[] = [];
      const target = outbox.forward((_message, info) =>
        void delivered.push(info.id)
      );
      await sql.begin(async (tx) => {
        await outbox.add(tx, OrderPlaced({ orderId: "o1" }), {
          id: "bad-kind",
        });
        await outbox.add(tx, OrderPlaced({ orderId: "o2" }), {
          id: "bad-data",
        });
        await outbox.add(tx, OrderPlaced({ orderId: "o3" }), { id: "fine" });
      });
      await sql`
        UPDATE ${
        sql(schema)
      }.outbox SET kind = 'nonsense' WHERE id = 'bad-kind'`;
      await sql`
        UPDATE ${sql(schema)}.outbox SET data = '[1, 2]' WHERE id = 'bad-data'`;
      deepStrictEqual(await outbox.process(target), 1);
      deepStrictEqual(delivered, ["fine"]);
      const reasons = (await letters.list()).map((l) =>
        [l.id, l.error.message] as const
      )
        .toSorted();
      ok(
        /^outbox entry bad-data no longer decodes: row \d+ has data \[1, 2\], not an object of named values$/
          .test(reasons[0]![1]),
      );
      ok(
        /^outbox entry bad-kind no longer decodes: row \d+ has kind "nonsense", not "query", "command", "event" or "task"$/
          .test(reasons[1]![1]),
      );
      deepStrictEqual(reasons.map(([id]) => id), ["bad-data", "bad-kind"]);
      deepStrictEqual(await outbox.pending(), 0);
      deepStrictEqual(await outbox.process(target), 0);
    },
  );
});

Deno.test("createPostgresOutbox() relay() wakes on the NOTIFY of a commit and of a key freed, stops on its signal, and close() stops listening", async () => {
  await withOutbox({}, async (sql, outbox, schema) => {
    const listeners = async () => {
      const [row] = await sql`
        SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND query = ${`listen "${schema}.outbox"`}`;
      return row!.n as number;
    };
    let deliveredAt = 0;
    const delivered: string[] = [];
    const target = outbox.forward((message: OutboxMessage) => {
      delivered.push((message.payload as { orderId: string }).orderId);
      if (delivered.length === 2) deliveredAt = Date.now();
    });
    const stop = new AbortController();
    const relaying = outbox.relay(target, {
      pollMs: 10_000,
      signal: stop.signal,
    });
    const started = Date.now();
    while (await listeners() === 0 && Date.now() - started < 5_000) {
      await delay(20);
    }
    deepStrictEqual(await listeners(), 1);
    // Past the pass that follows LISTEN: the relay is in its 10 s wait.
    await delay(200);
    // The second waits for the first: completing the first wakes the relay.
    await sql.begin(async (tx) => {
      await outbox.add(tx, OrderPlaced({ orderId: "o1" }), {
        orderingKey: "k",
      });
      await outbox.add(tx, OrderPlaced({ orderId: "o2" }), {
        orderingKey: "k",
      });
    });
    const committedAt = Date.now();
    while (deliveredAt === 0 && Date.now() - committedAt < 3_000) {
      await delay(10);
    }
    deepStrictEqual(delivered, ["o1", "o2"]);
    ok(deliveredAt - committedAt < 2_000, "within 2 s of the commit");
    stop.abort();
    deepStrictEqual(
      await Promise.race([relaying.then(() => "stopped"), delay(1_000)]),
      "stopped",
    );
    await outbox.close();
    deepStrictEqual(await listeners(), 0);
  });
});

Deno.test("createPostgresOutbox() gives a message whose relay was killed mid-delivery to the next relay after its lease, with the same id, and the inbox keeps the effect once", async () => {
  await withOutbox({ leaseMs: 1_000 }, async (sql, outbox, schema) => {
    const inbox = createPostgresInbox(sql, { schema });
    await inbox.migrate();
    await sql`CREATE TABLE ${sql(schema)}.effects (id text)`;
    const id = await sql.begin((tx) =>
      outbox.add(tx, OrderPlaced({ orderId: "o1" }))
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--config",
        new URL("../deno.json", import.meta.url).pathname,
        new URL("./fixtures/outbox_postgres_relay_child.ts", import.meta.url)
          .pathname,
        schema,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    let killed = false;
    try {
      const lines = child.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      let output = "";
      const deadline = Date.now() + 30_000;
      while (!output.includes("\n") && Date.now() < deadline) {
        const read = await Promise.race([lines.read(), delay(1_000)]);
        if (read === undefined) continue;
        if (read.done) break;
        output += read.value;
      }
      deepStrictEqual(output, `committed ${id}\n`);
      child.kill("SIGKILL");
      killed = true;
      await lines.cancel();
      await child.status;
      deepStrictEqual(await inbox.has(id), true);

      const seen: [string, boolean][] = [];
      const target = outbox.forward(async (_message, info) => {
        await sql.begin(async (tx) => {
          const first = await inbox.record(tx, info.id);
          seen.push([info.id, first]);
          if (first) {
            await tx`INSERT INTO ${
              tx(schema)
            }.effects (id) VALUES (${info.id})`;
          }
        });
      });
      const started = Date.now();
      let delivered = 0;
      while (delivered === 0 && Date.now() - started < 5_000) {
        delivered = await outbox.process(target);
        if (delivered === 0) await delay(100);
      }
      deepStrictEqual(delivered, 1);
      deepStrictEqual(seen, [[id, false]]);
      const effects = await sql`SELECT id FROM ${sql(schema)}.effects`;
      deepStrictEqual(effects.map((row) => row.id), [id]);
      deepStrictEqual(await outbox.pending(), 0);
    } finally {
      if (!killed) {
        child.kill("SIGKILL");
        await child.stdout.cancel().catch(() => {});
        await child.status;
      }
    }
  });
});

Deno.test("createPostgresInbox() refuses the connection, and records an id once", async () => {
  const sql = connect();
  const schema = `inbox_test_${crypto.randomUUID().replaceAll("-", "")}`;
  try {
    const inbox = createPostgresInbox(sql, { schema });
    await inbox.migrate();
    await inbox.migrate();
    await rejects(
      inbox.record(sql as never, "m1"),
      /^TypeError: Cannot record\(\) in the inbox: its first argument is the connection, not a transaction/,
    );
    deepStrictEqual(
      await sql.begin(async (tx) => [
        await inbox.record(tx, "m1"),
        await inbox.record(tx, "m1"),
      ]),
      [true, false],
    );
    await rejects(
      sql.begin(async (tx) => {
        await inbox.record(tx, "m2");
        throw new Error("rolled back");
      }),
      /rolled back/,
    );
    deepStrictEqual([await inbox.has("m1"), await inbox.has("m2")], [
      true,
      false,
    ]);
    throws(
      () => createPostgresInbox(sql, { table: "in box" }),
      /^RangeError: Cannot createPostgresInbox\(\) as 'table' must be a plain identifier/,
    );
  } finally {
    await sql.unsafe(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await sql.end();
  }
});

Deno.test("createPostgresOutbox() delivers 10,000 messages with three relays at least once, in order per ordering key", async () => {
  await withOutbox({}, async (sql, outbox, schema) => {
    const total = 10_000;
    const keyOf = (n: number) => n % 11 === 10 ? undefined : `k${n % 50}`;
    for (let batch = 0; batch < 10; batch++) {
      await sql.begin(async (tx) => {
        const adds: Promise<string>[] = [];
        for (let index = 0; index < total / 10; index++) {
          const n = batch * (total / 10) + index;
          const key = keyOf(n);
          adds.push(outbox.add(
            tx,
            OrderPlaced({ orderId: String(n) }),
            key === undefined
              ? { id: `m${n}` }
              : { id: `m${n}`, orderingKey: key },
          ));
        }
        await Promise.all(adds);
      });
    }
    deepStrictEqual(await outbox.pending(), total);

    const deliveries = new Map<string, number>();
    const last = new Map<string, number>();
    const outOfOrder: string[] = [];
    const stop = new AbortController();
    const clients = [connect(), connect(), connect()];
    const relays = clients.map((client) =>
      createPostgresOutbox(client, { schema, onError: () => {} })
    );
    try {
      const running = relays.map((relay) =>
        relay.relay(
          relay.forward((message: OutboxMessage, info) => {
            const count = (deliveries.get(info.id) ?? 0) + 1;
            deliveries.set(info.id, count);
            if (count > 1 || info.orderingKey === null) return;
            const n = Number((message.payload as { orderId: string }).orderId);
            if ((last.get(info.orderingKey) ?? -1) > n) {
              outOfOrder.push(`${info.orderingKey}: ${n}`);
            }
            last.set(info.orderingKey, n);
          }),
          { signal: stop.signal },
        )
      );
      const started = Date.now();
      while (deliveries.size < total && Date.now() - started < 45_000) {
        await delay(50);
      }
      stop.abort();
      await Promise.all(running);
    } finally {
      stop.abort();
      await Promise.all(relays.map((relay) => relay.close()));
      await Promise.all(clients.map((client) => client.end()));
    }
    let duplicates = 0;
    for (const count of deliveries.values()) duplicates += count - 1;
    console.log(
      `postgres: ${total} messages, 3 relays, ${duplicates} duplicates`,
    );
    deepStrictEqual(deliveries.size, total);
    deepStrictEqual(outOfOrder, []);
    deepStrictEqual(await outbox.pending(), 0);
  });
});

Deno.test("createPostgresOutbox() leaves a message alone when a relay whose lease ran out retries or buries it", async () => {
  for (const maxAttempts of [5, 1]) {
    await withOutbox(
      { leaseMs: 200, maxAttempts, onError: () => {} },
      async (sql, outbox, schema) => {
        await sql.begin((tx) => outbox.add(tx, OrderPlaced({ orderId: "o" })));
        // The slow relay fails after its lease went to the next one.
        const slow = outbox.process(outbox.forward(async () => {
          await delay(600);
          throw new Error("too late");
        }));
        await delay(300);
        let release = () => {};
        const next = outbox.process(
          outbox.forward(() => new Promise<void>((r) => release = r)),
        );
        await slow;
        const [row] = await sql`
          SELECT attempts, dead, lease IS NOT NULL AS leased
          FROM ${sql(schema)}.outbox`;
        deepStrictEqual({ ...row }, { attempts: 0, dead: false, leased: true });
        release();
        deepStrictEqual(await next, 1);
        const rows = await sql`SELECT 1 FROM ${sql(schema)}.outbox`;
        deepStrictEqual(rows.length, 0);
      },
    );
  }
});
