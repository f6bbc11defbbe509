// The outbox beside its floors and two job queues on the same PostgreSQL.
//
// Under `deno bench`: what `add` costs inside a transaction, a PostgreSQL
// transaction (`sql.begin`, one business insert; also with
// `synchronous_commit` off) and a Deno KV atomic operation (one business
// `set`), each alone as the floor and with `outbox.add`.
//
// Under `deno run`: the same transactions timed in turn, then throughput and
// latency of delivery, for the PostgreSQL and Deno KV outboxes (a relay
// delivering to a bus) and for pg-boss and graphile-worker (workers running
// a handler), each on schemas (or a file) of its own that are dropped at the
// end:
// - drain: messages committed beforehand, then the relay or workers start;
//   timed until every message reached its handler and is marked done;
// - latency: one message committed at a steady rate while the relay or
//   workers run; each is timed from the moment its commit returned to the
//   moment its handler ran.
// See bench/README.md, "Outbox".
//
//   deno bench -A --config bench/outbox/deno.json bench/outbox/
//   deno run -A --config bench/outbox/deno.json bench/outbox/outbox_bench.ts
import postgres from "postgres";
import { PgBoss } from "pg-boss";
import {
  Logger,
  makeWorkerUtils,
  run as runGraphileWorker,
} from "graphile-worker";
import { createAsyncBus, defineEvent } from "../../mod.ts";
import { createKvOutbox } from "../../src/outbox/kv/mod.ts";
import { createPostgresOutbox } from "../../src/outbox/postgres/mod.ts";

const DATABASE = Deno.env.get("BENCH_DATABASE_URL") ??
  "postgres://postgres@127.0.0.1:5432/test";

// A type, not an interface: postgres.js takes it as JSON only so.
type Order = {
  readonly orderId: string;
  readonly customerId: string;
  readonly total: number;
  /** Which message of a run this is: the handler's index into its records. */
  readonly seq: number;
};

const OrderPlaced = defineEvent<Order>("orders.OrderPlaced");

function orderOf(seq: number): Order {
  return { orderId: `o-${seq}`, customerId: "c-42", total: 1999, seq };
}

// Schemas of one run start with this, the process id keeping two runs apart.
const RUN = `outbox_bench_${Deno.pid}`;

// ---------------------------------------------------------------------------
// Part 1: a transaction alone (the floor), and with `outbox.add`.

/** A transaction with one business write, with and without `add`. */
interface TxPair {
  readonly group: string;
  readonly floorName: string;
  readonly addName: string;
  floor(seq: number): Promise<void>;
  withAdd(seq: number): Promise<void>;
}

/** The pairs, on a schema and a file of their own, and how to drop them. */
interface TxPairs {
  readonly pairs: readonly TxPair[];
  /** Drops the schema and the file, and ends the connections. */
  close(): Promise<void>;
  /** Drops the schema and the file; waits for nothing (see below). */
  closeSync(): void;
}

async function txPairs(): Promise<TxPairs> {
  const schema = `${RUN}_tx`;
  const sql = postgres(DATABASE, { max: 1, onnotice: () => {} });
  // The same transactions without waiting for the disk at commit: what
  // `add` costs apart from the flush of the write-ahead log.
  const sqlNoSync = postgres(DATABASE, {
    max: 1,
    onnotice: () => {},
    connection: { synchronous_commit: "off" },
  });
  await sql.unsafe(`create schema "${schema}"`);
  // Each case writes a business table of its own, so both grow alike.
  for (const table of ["floor_orders", "outbox_orders"]) {
    await sql.unsafe(
      `create table "${schema}"."${table}" (id text primary key, body jsonb not null)`,
    );
  }
  const pgOutbox = createPostgresOutbox(sql, { schema, table: "outbox" });
  await pgOutbox.migrate();
  const pgOutboxNoSync = createPostgresOutbox(sqlNoSync, {
    schema,
    table: "outbox",
  });
  const kvPath = await Deno.makeTempFile({ suffix: ".sqlite3" });
  const kv = await Deno.openKv(kvPath);
  const kvOutbox = createKvOutbox(kv, { prefix: ["outbox"] });

  function postgresPair(
    group: string,
    sql: postgres.Sql,
    outbox: typeof pgOutbox,
  ): TxPair {
    return {
      group,
      floorName: "sql.begin + insert (floor)",
      addName: "sql.begin + insert + outbox.add",
      async floor(seq) {
        const order = orderOf(seq);
        await sql.begin(async (tx) => {
          await tx`insert into ${tx(schema)}.floor_orders ${
            tx({ id: order.orderId, body: tx.json(order) })
          }`;
        });
      },
      async withAdd(seq) {
        const order = orderOf(seq);
        await sql.begin(async (tx) => {
          await tx`insert into ${tx(schema)}.outbox_orders ${
            tx({ id: order.orderId, body: tx.json(order) })
          }`;
          await outbox.add(tx, OrderPlaced(order));
        });
      },
    };
  }

  return {
    pairs: [
      postgresPair("postgres tx", sql, pgOutbox),
      postgresPair(
        "postgres tx, synchronous_commit off",
        sqlNoSync,
        pgOutboxNoSync,
      ),
      {
        group: "kv atomic",
        floorName: "kv.atomic().set().commit() (floor)",
        addName: "kv.atomic().set() + outbox.add + commit()",
        async floor(seq) {
          const order = orderOf(seq);
          await kv.atomic().set(["floor_orders", order.orderId], order)
            .commit();
        },
        async withAdd(seq) {
          const order = orderOf(seq);
          const op = kv.atomic().set(["outbox_orders", order.orderId], order);
          kvOutbox.add(op, OrderPlaced(order));
          await op.commit();
        },
      },
    ],
    async close() {
      kv.close();
      removeKvFile(kvPath);
      await pgOutbox.close();
      await pgOutboxNoSync.close();
      await sql.unsafe(`drop schema if exists "${schema}" cascade`);
      await Promise.all([sql.end(), sqlNoSync.end()]);
    },
    // Deno bench runs no asynchronous work once its benches are done: the
    // schema is dropped by psql, synchronously, and the process's end
    // closes the connections.
    closeSync() {
      kv.close();
      removeKvFile(kvPath);
      new Deno.Command("psql", {
        args: [DATABASE, "-qc", `drop schema if exists "${schema}" cascade`],
        stdout: "null",
        stderr: "inherit",
      }).outputSync();
    },
  };
}

function removeKvFile(path: string): void {
  for (const suffix of ["", "-shm", "-wal"]) {
    try {
      Deno.removeSync(path + suffix);
    } catch {
      // Not made by SQLite in this run.
    }
  }
}

// Under `deno bench`. Iterations are counted, so the tables grow by as much
// in every run (the outbox's table by 4,400 rows, never drained).
if (!import.meta.main) {
  const { pairs, closeSync } = await txPairs();
  globalThis.addEventListener("unload", closeSync);
  const n = 2_000;
  const warmup = 200;
  let seq = 0;
  for (const pair of pairs) {
    Deno.bench({
      name: pair.floorName,
      group: pair.group,
      baseline: true,
      n,
      warmup,
      // An async function: Deno bench awaits only those.
      async fn() {
        await pair.floor(seq++);
      },
    });
    Deno.bench({
      name: pair.addName,
      group: pair.group,
      n,
      warmup,
      async fn() {
        await pair.withAdd(seq++);
      },
    });
  }
}

/** Times of one pair's cases, in milliseconds. */
interface PairTimes {
  readonly pair: TxPair;
  readonly floor: number[];
  readonly withAdd: number[];
}

// Business ids of the interleaved runs, never repeated across groups (which
// share the business tables).
let txSeq = 0;

// Under `deno run`: the two cases of a pair in turn (floor, add, add,
// floor, ...), so that a busy neighbour or a slow disk weighs on both
// alike; Deno bench runs one case after the other.
async function interleaved(pair: TxPair, count: number): Promise<PairTimes> {
  const floor: number[] = [];
  const withAdd: number[] = [];
  for (let i = 0; i < TX_WARM_UP; i++) {
    await pair.floor(txSeq++);
    await pair.withAdd(txSeq++);
  }
  for (let i = 0; i < count; i++) {
    const order = i % 2 === 0
      ? [pair.floor, pair.withAdd] as const
      : [pair.withAdd, pair.floor] as const;
    for (const run of order) {
      const started = performance.now();
      await run(txSeq++);
      (run === pair.floor ? floor : withAdd).push(
        performance.now() - started,
      );
    }
  }
  return { pair, floor, withAdd };
}

// ---------------------------------------------------------------------------
// Part 2 (`deno run`): drain throughput and commit-to-delivery latency.

/** Pairs of transactions timed in turn, per group. */
const TX_PAIRS = Number(Deno.env.get("BENCH_TX_PAIRS") ?? 1_000);
/** Pairs run before timing. */
const TX_WARM_UP = 100;
/** Messages committed before the relay or workers start. */
const DRAIN = Number(Deno.env.get("BENCH_DRAIN") ?? 10_000);
/** Messages committed one at a time while the relay or workers run. */
const PACED = Number(Deno.env.get("BENCH_PACED") ?? 2_000);
/** The gap between two paced commits, in milliseconds. */
const PACE_MS = 2;
/** Paced commits that may be waiting for the database at once. */
const PACE_IN_FLIGHT = 16;
/** Messages delivered once before measuring, to warm each contender. */
const WARM_UP = 1_000;
/** The longest any one phase may take. */
const PHASE_LIMIT_MS = 60_000;
/**
 * Messages our relay leases per pass, and pg-boss's workers per fetch:
 * graphile-worker's documented local queue holds as many. Each does better
 * with 500 than with 100 here.
 */
const BATCH = 500;
/** Messages per transaction when filling (a KV operation takes 1,000 writes). */
const FILL = 100;

/** One system delivering messages: ours on a store, or a peer. */
interface Contender {
  readonly name: string;
  /** How it is set up, for the report. */
  readonly settings: string;
  /** Commits messages `from` .. `from + count - 1`, many per transaction. */
  fill(from: number, count: number): Promise<void>;
  /** Commits one message on its own; resolves when the commit returned. */
  commitOne(seq: number): Promise<void>;
  /** Starts delivering each message to `deliver`, with its `seq`. */
  start(deliver: (seq: number) => void): Promise<void>;
  /** How many messages are not yet marked done. */
  unfinished(): Promise<number>;
  /** Stops delivering, once the work in hand is done. */
  stop(): Promise<void>;
  /** Drops what it made (schemas, files) and closes its connections. */
  close(): Promise<void>;
}

// The producers commit on `sql`, with PostgreSQL's defaults. With
// `relayNoSync`, the relay has a connection of its own whose commits (its
// leases and deletions) do not wait for the disk: a crash of the server can
// lose the last of them, and those messages are delivered again, with the
// same ids, as after a relay's crash.
async function oursOnPostgres(relayNoSync: boolean): Promise<Contender> {
  const schema = `${RUN}_ours${relayNoSync ? "_nosync" : ""}`;
  const sql = postgres(DATABASE, { max: 10, onnotice: () => {} });
  await sql.unsafe(`create schema "${schema}"`);
  const outbox = createPostgresOutbox(sql, { schema, table: "outbox" });
  await outbox.migrate();
  const relaySql = relayNoSync
    ? postgres(DATABASE, {
      max: 10,
      onnotice: () => {},
      connection: { synchronous_commit: "off" },
    })
    : sql;
  const relayOutbox = relayNoSync
    ? createPostgresOutbox(relaySql, { schema, table: "outbox" })
    : outbox;
  const bus = createAsyncBus();
  let deliver: (seq: number) => void = () => {};
  bus.subscribe(OrderPlaced, (event) => deliver(event.payload.seq));
  let controller = new AbortController();
  let relaying: Promise<void> = Promise.resolve();
  return {
    name: relayNoSync
      ? "createPostgresOutbox relay, synchronous_commit off"
      : "createPostgresOutbox relay",
    settings:
      `one relay, batchSize ${BATCH}, pollMs 1000 (woken by LISTEN/NOTIFY), ${
        relayNoSync
          ? "a 10-connection pool of its own with synchronous_commit off (the producers' has PostgreSQL's default, on)"
          : "a 10-connection pool shared with the producers"
      }`,
    async fill(from, count) {
      for (let done = 0; done < count; done += FILL) {
        await sql.begin(async (tx) => {
          for (let i = done; i < Math.min(count, done + FILL); i++) {
            await outbox.add(tx, OrderPlaced(orderOf(from + i)));
          }
        });
      }
    },
    async commitOne(seq) {
      await sql.begin((tx) => outbox.add(tx, OrderPlaced(orderOf(seq))));
    },
    start(given) {
      deliver = given;
      controller = new AbortController();
      relaying = relayOutbox.relay(bus, {
        batchSize: BATCH,
        pollMs: 1_000,
        signal: controller.signal,
      });
      return Promise.resolve();
    },
    unfinished: () => outbox.pending(),
    async stop() {
      controller.abort();
      await relaying;
    },
    async close() {
      await relayOutbox.close();
      await outbox.close();
      if (relayNoSync) await relaySql.end();
      await sql.unsafe(`drop schema if exists "${schema}" cascade`);
      await sql.end();
    },
  };
}

async function oursOnKv(): Promise<Contender> {
  const path = await Deno.makeTempFile({ suffix: ".sqlite3" });
  const kv = await Deno.openKv(path);
  const outbox = createKvOutbox(kv, { prefix: ["outbox"] });
  const bus = createAsyncBus();
  let deliver: (seq: number) => void = () => {};
  bus.subscribe(OrderPlaced, (event) => deliver(event.payload.seq));
  let controller = new AbortController();
  let relaying: Promise<void> = Promise.resolve();
  return {
    name: "createKvOutbox relay",
    settings:
      `one relay, batchSize ${BATCH}, pollMs 1000 (woken by kv.watch), a temporary file`,
    async fill(from, count) {
      // A KV atomic operation holds at most 1,000 mutations.
      for (let done = 0; done < count; done += FILL) {
        const op = kv.atomic();
        for (let i = done; i < Math.min(count, done + FILL); i++) {
          outbox.add(op, OrderPlaced(orderOf(from + i)));
        }
        await op.commit();
      }
    },
    async commitOne(seq) {
      const op = kv.atomic();
      outbox.add(op, OrderPlaced(orderOf(seq)));
      await op.commit();
    },
    start(given) {
      deliver = given;
      controller = new AbortController();
      relaying = outbox.relay(bus, {
        batchSize: BATCH,
        pollMs: 1_000,
        signal: controller.signal,
      });
      return Promise.resolve();
    },
    unfinished: () => outbox.pending(),
    async stop() {
      controller.abort();
      await relaying;
    },
    close() {
      kv.close();
      removeKvFile(path);
      return Promise.resolve();
    },
  };
}

async function pgBoss(): Promise<Contender> {
  const schema = `${RUN}_pgboss`;
  const queue = "orders";
  const boss = new PgBoss({
    connectionString: DATABASE,
    schema,
    max: 10,
    useListenNotify: true,
    // Maintenance and cron off: they would only add load to the bench.
    supervise: false,
    schedule: false,
  });
  boss.on("error", (error) => console.error("pg-boss:", error));
  await boss.start();
  await boss.createQueue(queue, { notify: true });
  const sql = postgres(DATABASE, { max: 1, onnotice: () => {} });
  const workOptions = {
    batchSize: BATCH,
    localConcurrency: 2,
    burstWhenBatchFull: true,
    pollingIntervalSeconds: 0.5,
    notifyPollingIntervalSeconds: 0.5,
  };
  return {
    name: "pg-boss 12.38.0 send + work",
    settings:
      `useListenNotify with a notify queue, work({ batchSize: ${BATCH}, localConcurrency: 2, burstWhenBatchFull: true, pollingIntervalSeconds: 0.5 }), a 10-connection pool`,
    async fill(from, count) {
      for (let done = 0; done < count; done += FILL) {
        const jobs = [];
        for (let i = done; i < Math.min(count, done + FILL); i++) {
          jobs.push({ data: orderOf(from + i) });
        }
        await boss.insert(queue, jobs);
      }
    },
    async commitOne(seq) {
      await boss.send(queue, orderOf(seq));
    },
    async start(deliver) {
      await boss.work<Order>(queue, workOptions, (jobs) => {
        for (const job of jobs) deliver(job.data.seq);
        return Promise.resolve();
      });
    },
    async unfinished() {
      const [row] = await sql.unsafe<{ count: string }[]>(
        `select count(*) from "${schema}".job where name = $1 and state < 'completed'`,
        [queue],
      );
      return Number(row?.count ?? 0);
    },
    async stop() {
      await boss.offWork(queue, { wait: true });
    },
    async close() {
      await boss.stop({ graceful: true, close: true, timeout: 10_000 });
      await sql.unsafe(`drop schema if exists "${schema}" cascade`);
      await sql.end();
    },
  };
}

async function graphileWorker(): Promise<Contender> {
  const schema = `${RUN}_graphile`;
  const logger = new Logger(() => (level, message) => {
    if (level === "error") console.error("graphile-worker:", message);
  });
  const common = { connectionString: DATABASE, schema, logger };
  const utils = await makeWorkerUtils(common);
  await utils.migrate();
  const sql = postgres(DATABASE, { max: 1, onnotice: () => {} });
  let runner: Awaited<ReturnType<typeof runGraphileWorker>> | undefined;
  return {
    name: "graphile-worker 0.18.0 addJob + run",
    settings:
      "concurrency 24, maxPoolSize 25, localQueue { size: 500 }, completeJobBatchDelay 0, failJobBatchDelay 0 (its documented fast set-up), LISTEN/NOTIFY, pollInterval 500",
    async fill(from, count) {
      for (let done = 0; done < count; done += FILL) {
        const jobs = [];
        for (let i = done; i < Math.min(count, done + FILL); i++) {
          jobs.push({ identifier: "deliver", payload: orderOf(from + i) });
        }
        await utils.addJobs(jobs);
      }
    },
    async commitOne(seq) {
      await utils.addJob("deliver", orderOf(seq));
    },
    async start(deliver) {
      runner = await runGraphileWorker({
        ...common,
        concurrency: 24,
        maxPoolSize: 25,
        pollInterval: 500,
        noHandleSignals: true,
        taskList: {
          deliver: (payload) => {
            deliver((payload as Order).seq);
            return Promise.resolve();
          },
        },
        preset: {
          worker: {
            localQueue: { size: 500 },
            completeJobBatchDelay: 0,
            failJobBatchDelay: 0,
          },
        },
      });
    },
    async unfinished() {
      const [row] = await sql.unsafe<{ count: string }[]>(
        `select count(*) from "${schema}"._private_jobs`,
      );
      return Number(row?.count ?? 0);
    },
    async stop() {
      await runner?.stop();
      runner = undefined;
    },
    async close() {
      await utils.release();
      await sql.unsafe(`drop schema if exists "${schema}" cascade`);
      await sql.end();
    },
  };
}

// ---------------------------------------------------------------------------
// Measuring

async function until(
  what: string,
  done: () => boolean | Promise<boolean>,
  everyMs = 2,
): Promise<void> {
  const deadline = performance.now() + PHASE_LIMIT_MS;
  while (!(await done())) {
    if (performance.now() > deadline) {
      throw new Error(`Timed out after ${PHASE_LIMIT_MS} ms waiting ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** Delivery times by `seq`, and how many distinct messages arrived. */
function recorder(size: number) {
  const at = new Float64Array(size).fill(NaN);
  let distinct = 0;
  let duplicates = 0;
  return {
    at,
    get distinct() {
      return distinct;
    },
    get duplicates() {
      return duplicates;
    },
    deliver(seq: number) {
      if (!Number.isNaN(at[seq]!)) {
        duplicates++;
        return;
      }
      at[seq] = performance.now();
      distinct++;
    },
  };
}

interface Drained {
  readonly rate: number;
  readonly duplicates: number;
}

// `count` messages committed first, then timed from start to the last
// delivered and marked done.
async function drain(
  contender: Contender,
  from: number,
  count: number,
): Promise<Drained> {
  await contender.fill(from, count);
  await until(
    "for the fill to be visible",
    async () => (await contender.unfinished()) >= count,
    20,
  );
  const seen = recorder(from + count);
  const started = performance.now();
  await contender.start((seq) => seen.deliver(seq));
  await until(
    `for ${contender.name} to deliver ${count}`,
    () => seen.distinct === count,
  );
  await until(
    `for ${contender.name} to mark ${count} done`,
    async () => (await contender.unfinished()) === 0,
  );
  const seconds = (performance.now() - started) / 1_000;
  await contender.stop();
  return { rate: count / seconds, duplicates: seen.duplicates };
}

interface Paced {
  readonly latencies: number[];
  /** The commits per second the producer reached. */
  readonly rate: number;
  readonly duplicates: number;
}

// One message committed every PACE_MS while the contender delivers: a
// commit starts on time even when the ones before it have not returned
// (a commit that waits for the disk takes longer than PACE_MS), up to
// PACE_IN_FLIGHT at once.
async function paced(
  contender: Contender,
  from: number,
  count: number,
): Promise<Paced> {
  const committedAt = new Float64Array(from + count);
  const seen = recorder(from + count);
  await contender.start((seq) => seen.deliver(seq));
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = started + i * PACE_MS - performance.now();
    if (wait > 0.5) await new Promise((resolve) => setTimeout(resolve, wait));
    while (inFlight.size >= PACE_IN_FLIGHT) await Promise.race(inFlight);
    const seq = from + i;
    const commit: Promise<void> = contender.commitOne(seq).then(() => {
      committedAt[seq] = performance.now();
      inFlight.delete(commit);
    });
    inFlight.add(commit);
  }
  await Promise.all(inFlight);
  const rate = count / ((performance.now() - started) / 1_000);
  await until(
    `for ${contender.name} to deliver ${count} paced`,
    () => seen.distinct === count,
  );
  await contender.stop();
  const latencies: number[] = [];
  for (let i = from; i < from + count; i++) {
    // A handler may run before the producer's `await` of the commit
    // resumes: that message's latency is 0.
    latencies.push(Math.max(0, seen.at[i]! - committedAt[i]!));
  }
  return { latencies, rate, duplicates: seen.duplicates };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

function time(ms: number): string {
  return ms >= 1 ? `${ms.toFixed(2)} ms` : `${Math.round(ms * 1_000)} µs`;
}

function perSecond(rate: number): string {
  return `${Math.round(rate).toLocaleString("en-US")}/s`;
}

interface Row {
  readonly name: string;
  readonly settings: string;
  readonly drain: Drained;
  readonly paced: Paced;
  readonly p50: number;
  readonly p99: number;
}

if (import.meta.main) {
  const began = performance.now();
  const only = Deno.env.get("BENCH_ONLY")?.split(",");
  const makers: [string, () => Promise<Contender>][] = [
    ["pg-boss", pgBoss],
    ["graphile-worker", graphileWorker],
    ["postgres", () => oursOnPostgres(false)],
    ["postgres-nosync", () => oursOnPostgres(true)],
    ["kv", oursOnKv],
  ];
  const txTimes: PairTimes[] = [];
  if (only === undefined || only.includes("tx")) {
    const { pairs, close } = await txPairs();
    try {
      for (const pair of pairs) txTimes.push(await interleaved(pair, TX_PAIRS));
    } finally {
      await close();
    }
    console.error(
      `transactions done after ${
        ((performance.now() - began) / 1_000).toFixed(0)
      } s`,
    );
  }
  const rows: Row[] = [];
  for (const [key, make] of makers) {
    if (only !== undefined && !only.includes(key)) continue;
    const contender = await make();
    try {
      // Seqs never repeat within a contender: a late duplicate of one phase
      // cannot count for the next.
      await drain(contender, 0, WARM_UP);
      const drained = await drain(contender, WARM_UP, DRAIN);
      const pacedRun = await paced(contender, WARM_UP + DRAIN, PACED);
      rows.push({
        name: contender.name,
        settings: contender.settings,
        drain: drained,
        paced: pacedRun,
        p50: percentile(pacedRun.latencies, 0.5),
        p99: percentile(pacedRun.latencies, 0.99),
      });
      console.error(
        `${contender.name} done after ${
          ((performance.now() - began) / 1_000).toFixed(0)
        } s`,
      );
    } finally {
      await contender.close();
    }
  }

  if (txTimes.length > 0) {
    console.log(
      `transactions: ${TX_PAIRS.toLocaleString("en-US")} of each case, in turn`,
    );
    console.log();
    console.log(
      "| group | floor p50 | + add p50 | × floor | floor p75 | + add p75 | × floor | ≤ 1.3× |",
    );
    console.log("| ----- | --: | --: | --: | --: | --: | --: | --- |");
    for (const { pair, floor, withAdd } of txTimes) {
      const p50 = percentile(withAdd, 0.5) / percentile(floor, 0.5);
      const p75 = percentile(withAdd, 0.75) / percentile(floor, 0.75);
      console.log(
        `| ${pair.group} | ${time(percentile(floor, 0.5))} | ${
          time(percentile(withAdd, 0.5))
        } | ${p50.toFixed(2)} | ${time(percentile(floor, 0.75))} | ${
          time(percentile(withAdd, 0.75))
        } | ${p75.toFixed(2)} | ${p50 <= 1.3 ? "yes" : "no"} |`,
      );
    }
    console.log();
  }
  if (rows.length > 0) {
    console.log(
      `drain: ${DRAIN.toLocaleString("en-US")} messages committed first; ` +
        `latency: ${
          PACED.toLocaleString("en-US")
        } messages, one committed every ${PACE_MS} ms`,
    );
    console.log();
    console.log(
      "| case | drain, delivered + marked | p50 | p99 | paced commits | duplicates |",
    );
    console.log("| ---- | ------: | --: | --: | ------: | --: |");
    for (const row of rows) {
      console.log(
        `| ${row.name} | ${perSecond(row.drain.rate)} | ${time(row.p50)} | ${
          time(row.p99)
        } | ${perSecond(row.paced.rate)} | ${
          row.drain.duplicates + row.paced.duplicates
        } |`,
      );
    }
  }
  const peers = rows.filter((row) =>
    row.name.startsWith("pg-boss") || row.name.startsWith("graphile")
  );
  const ours = rows.filter((row) => !peers.includes(row));
  if (peers.length > 0 && ours.length > 0) {
    const best = peers.reduce((a, b) => a.drain.rate >= b.drain.rate ? a : b);
    const fastest = peers.reduce((a, b) => a.p99 <= b.p99 ? a : b);
    console.log();
    console.log(
      `| case | throughput × best peer (${best.name}) | p50 × that peer | p99 × lowest peer p99 (${fastest.name}) |`,
    );
    console.log("| ---- | ----: | ----: | ----: |");
    for (const row of ours) {
      console.log(
        `| ${row.name} | ${(row.drain.rate / best.drain.rate).toFixed(2)} | ${
          (row.p50 / best.p50).toFixed(2)
        } | ${(row.p99 / fastest.p99).toFixed(2)} |`,
      );
    }
  }
  console.log();
  for (const row of rows) console.log(`- ${row.name}: ${row.settings}`);
  console.error(
    `done in ${((performance.now() - began) / 1_000).toFixed(0)} s`,
  );
}
