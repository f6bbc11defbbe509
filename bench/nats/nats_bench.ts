// The NATS bus beside its floors and a peer, in one `deno run`: a query's
// round trip through createNatsBus() beside the same request made by hand
// with @nats-io/transport-node and beside moleculer over its NATS
// transporter; a task through JetStream beside a hand-written publish and
// pull consumer. It starts a nats-server of its own (a free loopback port,
// a temporary store), stops it by its PID, and prints markdown tables. See
// bench/README.md, "NATS".
//
//   npx -y deno@2.9.6 task bench:nats
import process from "node:process";
import { deepStrictEqual } from "node:assert/strict";
import {
  connect,
  MsgHdrsImpl,
  type NatsConnection,
} from "@nats-io/transport-node";
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { type BrokerOptions, ServiceBroker } from "moleculer";
import { defineQuery, defineTask } from "../../mod.ts";
import {
  createNatsBus,
  jsonCodec,
  type NatsMessageBus,
} from "../../src/transports/nats/mod.ts";
import { startNatsServer } from "../../tests/_nats_server.ts";

// Every case runs once per round, in turn, so that a stall of the shared
// machine does not fall on one case only. Latencies are pooled over the
// rounds; throughput and CPU time are medians of the rounds, and a ratio of
// throughputs is the median of the rounds' ratios.
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 10);
/** Requests timed one after the other, per round (5,000 in all). */
const SEQUENTIAL = 500;
/** Requests (or tasks) kept in flight for throughput. */
const IN_FLIGHT = 1_000;
/** Requests per throughput round. */
const REQUESTS = 10_000;
/** Tasks timed one at a time, dispatch to handler, per round (1,000 in all). */
const TASKS_SEQUENTIAL = 100;
/** Tasks per throughput round. */
const TASKS = 4_000;
/** The worker concurrency (and pull batch) of the second task group. */
const CONCURRENCY = 64;

interface GetUserPayload {
  userId: string;
  fields: string[];
}
interface User {
  id: string;
  name: string;
  email: string;
}
interface TaskPayload {
  n: number;
  sentAt: number;
}

function payloadOf(i: number): GetUserPayload {
  return { userId: `u-${i}`, fields: ["name", "email"] };
}

// The handler every request/reply case runs.
function getUser(payload: GetUserPayload): User {
  return { id: payload.userId, name: "Ada Lovelace", email: "ada@example.com" };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const encode = (value: unknown): Uint8Array =>
  encoder.encode(JSON.stringify(value));
const decode = (bytes: Uint8Array): unknown =>
  JSON.parse(decoder.decode(bytes));

// ---------------------------------------------------------------------------
// Measuring

interface Round {
  /** Operations a second. */
  readonly rate: number;
  /** CPU time of this process (user + system) per operation, in µs. */
  readonly cpuUs: number;
}

interface Case {
  readonly group: string;
  readonly name: string;
  readonly latencies: number[];
  readonly rounds: Round[];
  /** Runs once before the first round: results checked, code warmed. */
  warmUp(): Promise<void>;
  /** Adds one round's latencies and throughput. */
  measure(): Promise<void>;
}

async function timed(
  count: number,
  run: () => Promise<void>,
): Promise<Round> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await run();
  const seconds = (performance.now() - started) / 1_000;
  const used = process.cpuUsage(cpu);
  return { rate: count / seconds, cpuUs: (used.user + used.system) / count };
}

// `count` calls, `window` of them in flight at any time.
async function inFlight(
  count: number,
  window: number,
  call: (i: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) await call(next++);
  };
  await Promise.all(Array.from({ length: window }, lane));
}

function requestCase(
  group: string,
  name: string,
  call: (i: number) => Promise<User>,
): Case {
  const latencies: number[] = [];
  const rounds: Round[] = [];
  let sink = 0;
  const counted = async (i: number) => {
    sink += (await call(i)).id.length;
  };
  return {
    group,
    name,
    latencies,
    rounds,
    async warmUp() {
      deepStrictEqual(await call(7), getUser(payloadOf(7)));
      for (let i = 0; i < 1_000; i++) await counted(i);
      await inFlight(5_000, IN_FLIGHT, counted);
    },
    async measure() {
      for (let i = 0; i < SEQUENTIAL; i++) {
        const started = performance.now();
        await counted(i);
        latencies.push(performance.now() - started);
      }
      rounds.push(
        await timed(REQUESTS, () => inFlight(REQUESTS, IN_FLIGHT, counted)),
      );
      if (sink === 0.5) console.log(sink);
    },
  };
}

// A task rig stores task `n` with `dispatch`; its worker calls `onRun` once
// the handler has run, with the time the task was dispatched.
interface TaskRig {
  dispatch(n: number, sentAt: number): Promise<unknown>;
  onRun: (n: number, sentAt: number) => void;
}

function taskCase(group: string, name: string, rig: TaskRig): Case {
  const latencies: number[] = [];
  const rounds: Round[] = [];
  let next = 0;
  async function oneByOne(count: number, keep: boolean): Promise<void> {
    for (let i = 0; i < count; i++) {
      const n = next++;
      const ran = new Promise<void>((resolve) => {
        rig.onRun = (got, sentAt) => {
          if (got !== n) return;
          if (keep) latencies.push(performance.now() - sentAt);
          resolve();
        };
      });
      await rig.dispatch(n, performance.now());
      await ran;
    }
  }
  // `count` tasks dispatched with `IN_FLIGHT` dispatches in flight; resolves
  // when every handler has run.
  async function many(count: number): Promise<void> {
    const first = next;
    next += count;
    let ran = 0;
    const all = new Promise<void>((resolve) => {
      rig.onRun = (got) => {
        if (got >= first && got < first + count && ++ran === count) resolve();
      };
    });
    await inFlight(
      count,
      IN_FLIGHT,
      (i) => rig.dispatch(first + i, performance.now()),
    );
    await all;
  }
  return {
    group,
    name,
    latencies,
    rounds,
    async warmUp() {
      await oneByOne(200, false);
      await many(1_000);
    },
    async measure() {
      await oneByOne(TASKS_SEQUENTIAL, true);
      rounds.push(await timed(TASKS, () => many(TASKS)));
    },
  };
}

// ---------------------------------------------------------------------------
// The rigs

const server = await startNatsServer();
const closers: (() => Promise<unknown>)[] = [];

async function connection(noAsyncTraces = false): Promise<NatsConnection> {
  const nc = await connect({ servers: server.url, noAsyncTraces });
  closers.push(() => nc.close());
  return nc;
}

async function natsBus(
  prefix: string,
  noAsyncTraces = false,
): Promise<NatsMessageBus> {
  const bus = await createNatsBus(
    noAsyncTraces
      ? { connection: await connection(true), prefix }
      : { servers: server.url, prefix },
  );
  closers.push(() => bus.close());
  return bus;
}

// (a) Request/reply by hand: JSON encoded by hand, a responder in a queue
// group on a connection of its own, as the bus's handlers are.
async function rawRequest(
  subject: string,
  noAsyncTraces: boolean,
): Promise<(i: number) => Promise<User>> {
  const responder = await connection(noAsyncTraces);
  const requester = await connection(noAsyncTraces);
  responder.subscribe(subject, {
    queue: "raw",
    callback: (error, message) => {
      if (error !== null) return;
      message.respond(encode(getUser(decode(message.data) as GetUserPayload)));
    },
  });
  await responder.flush();
  return async (i) => {
    const reply = await requester.request(subject, encode(payloadOf(i)), {
      timeout: 5_000,
    });
    return decode(reply.data) as User;
  };
}

// (b) The bus: the handler on one bus, the caller on another.
const GetUser = defineQuery<GetUserPayload, User>("bench.GetUser");
async function busSend(
  prefix: string,
  noAsyncTraces: boolean,
): Promise<(i: number) => Promise<User>> {
  const handlers = await natsBus(prefix, noAsyncTraces);
  const caller = await natsBus(prefix, noAsyncTraces);
  handlers.registerQuery(GetUser, (query) => getUser(query.payload));
  await handlers.ready();
  return (i) => caller.send(GetUser(payloadOf(i)));
}

// (c) moleculer: a service on one broker, the caller on another, both over
// its NATS transporter (JSON serializer, no request timeout: its defaults).
async function moleculerCall(): Promise<(i: number) => Promise<User>> {
  const options: BrokerOptions = {
    transporter: { type: "NATS", options: { servers: server.url } },
    logger: false,
  };
  const service = new ServiceBroker({ ...options, nodeID: "bench-service" });
  const caller = new ServiceBroker({ ...options, nodeID: "bench-caller" });
  service.createService({
    name: "users",
    actions: { get: (context) => getUser(context.params as GetUserPayload) },
  });
  await service.start();
  await caller.start();
  closers.push(() => caller.stop(), () => service.stop());
  await caller.waitForServices("users", 10_000);
  return (i) => caller.call("users.get", payloadOf(i)) as Promise<User>;
}

// (d) Tasks by hand: a work-queue stream on file storage with a dedupe
// window, publish with a message id (as the bus does), a durable pull
// consumer with explicit ack taking `batch` messages at a time.
async function rawTasks(name: string, batch: number): Promise<TaskRig> {
  const producer = await connection();
  const worker = await connection();
  const stream = `RAW_${name}`;
  const subject = `${stream}.task.SendEmail`;
  const jsm = await jetstreamManager(producer);
  await jsm.streams.add({
    name: stream,
    subjects: [`${stream}.task.>`],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: 120_000 * 1_000_000,
  });
  await jsm.consumers.add(stream, {
    durable_name: "worker",
    ack_policy: AckPolicy.Explicit,
    filter_subject: subject,
    max_ack_pending: -1,
  });
  const js = jetstream(producer);
  const consumer = await jetstream(worker).consumers.get(stream, "worker");
  const messages = await consumer.consume({ max_messages: batch });
  closers.push(() => Promise.resolve(messages.stop()));
  const rig: TaskRig = {
    onRun: () => {},
    dispatch: (n, sentAt) =>
      js.publish(subject, encode({ n, sentAt }), { msgID: `${name}-${n}` }),
  };
  (async () => {
    for await (const message of messages) {
      const task = decode(message.data) as TaskPayload;
      rig.onRun(task.n, task.sentAt);
      message.ack();
    }
  })();
  return rig;
}

// (e) Tasks through the bus: dispatch on one bus, a worker on another.
const SendEmail = defineTask<TaskPayload>("bench.SendEmail");
async function busTasks(prefix: string, concurrency: number): Promise<TaskRig> {
  const producer = await natsBus(prefix);
  const worker = await natsBus(prefix);
  const rig: TaskRig = {
    onRun: () => {},
    dispatch: (n, sentAt) => producer.dispatch(SendEmail({ n, sentAt })),
  };
  worker.registerTask(
    SendEmail,
    (task) => rig.onRun(task.payload.n, task.payload.sentAt),
    { concurrency },
  );
  await worker.ready();
  return rig;
}

const REQUEST = "request/reply";
const TRACES = "request/reply, noAsyncTraces";
const TASK_ONE = "task, concurrency 1";
const TASK_MANY = `task, concurrency ${CONCURRENCY}`;
const RAW_TASKS = "JetStream publish + pull consumer (floor)";
const BUS_TASKS = "createNatsBus dispatch + registerTask";

let cases: Case[] = [];
const began = performance.now();
try {
  cases = [
    requestCase(
      REQUEST,
      "@nats-io/transport-node request (floor)",
      await rawRequest("raw.query.GetUser", false),
    ),
    requestCase(REQUEST, "createNatsBus send", await busSend("rr", false)),
    requestCase(
      REQUEST,
      "moleculer call, NATS transporter (peer)",
      await moleculerCall(),
    ),
    requestCase(
      TRACES,
      "@nats-io/transport-node request (floor)",
      await rawRequest("quiet.query.GetUser", true),
    ),
    requestCase(
      TRACES,
      "createNatsBus send, given the connection",
      await busSend("quiet", true),
    ),
    taskCase(TASK_ONE, RAW_TASKS, await rawTasks("one", 1)),
    taskCase(TASK_ONE, BUS_TASKS, await busTasks("one", 1)),
    taskCase(TASK_MANY, RAW_TASKS, await rawTasks("many", CONCURRENCY)),
    taskCase(TASK_MANY, BUS_TASKS, await busTasks("many", CONCURRENCY)),
  ];
  for (const item of cases) await item.warmUp();
  for (let round = 1; round <= ROUNDS; round++) {
    for (const item of cases) await item.measure();
    console.error(
      `round ${round} of ${ROUNDS} done after ${
        ((performance.now() - began) / 1_000).toFixed(0)
      } s`,
    );
  }
} finally {
  for (const close of closers.reverse()) await close().catch(() => {});
  await server[Symbol.asyncDispose]();
}

// ---------------------------------------------------------------------------
// The tables

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[middle]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function time(ms: number): string {
  return ms >= 1 ? `${ms.toFixed(2)} ms` : `${Math.round(ms * 1_000)} µs`;
}

function perSecond(rate: number): string {
  return `${Math.round(rate).toLocaleString("en-US")}/s`;
}

// A case's throughput beside its floor's, round by round: the two were
// measured seconds apart, so their ratio moves less than either.
function roundRatio(item: Case, floor: Case): number {
  return median(
    item.rounds.map((round, index) => round.rate / floor.rounds[index]!.rate),
  );
}

const rows = cases.map((item) => {
  const floor = cases.find((other) => other.group === item.group)!;
  return {
    group: item.group,
    name: item.name,
    p50: percentile(item.latencies, 0.5),
    p99: percentile(item.latencies, 0.99),
    p50Ratio: percentile(item.latencies, 0.5) /
      percentile(floor.latencies, 0.5),
    p99Ratio: percentile(item.latencies, 0.99) /
      percentile(floor.latencies, 0.99),
    rate: median(item.rounds.map((round) => round.rate)),
    rateRatio: roundRatio(item, floor),
    cpuUs: median(item.rounds.map((round) => round.cpuUs)),
  };
});

console.log(
  "| group | case | p50 | p99 | p50 × floor | p99 × floor | throughput | × floor | CPU/op |",
);
console.log(
  "| ----- | ---- | --: | --: | ----------: | ----------: | ---------: | ------: | -----: |",
);
for (const row of rows) {
  console.log(
    `| ${row.group} | ${row.name} | ${time(row.p50)} | ${time(row.p99)} | ${
      row.p50Ratio.toFixed(2)
    } | ${row.p99Ratio.toFixed(2)} | ${perSecond(row.rate)} | ${
      row.rateRatio.toFixed(2)
    } | ${row.cpuUs.toFixed(1)} µs |`,
  );
}

const caseOf = (group: string, name: string): Case =>
  cases.find((item) => item.group === group && item.name.startsWith(name))!;
const rowOf = (group: string, name: string) =>
  rows.find((row) => row.group === group && row.name.startsWith(name))!;
const bus = rowOf(REQUEST, "createNatsBus");
const targets: [string, number, boolean][] = [
  ["bus `send` p50 latency ≤ 1.1× raw", bus.p50Ratio, bus.p50Ratio <= 1.1],
  ["bus `send` p99 latency ≤ 1.1× raw", bus.p99Ratio, bus.p99Ratio <= 1.1],
  ["bus `send` throughput ≥ 0.9× raw", bus.rateRatio, bus.rateRatio >= 0.9],
];
const versusPeer = roundRatio(
  caseOf(REQUEST, "createNatsBus"),
  caseOf(REQUEST, "moleculer"),
);
targets.push([
  "bus `send` throughput ≥ 2× moleculer",
  versusPeer,
  versusPeer >= 2,
]);
for (const group of [TASK_ONE, TASK_MANY]) {
  const ratio = rowOf(group, BUS_TASKS).rateRatio;
  targets.push([
    `bus task throughput ≥ 0.8× raw, ${group.slice("task, ".length)}`,
    ratio,
    ratio >= 0.8,
  ]);
}
console.log();
console.log("| target | ratio | met |");
console.log("| ------ | ----: | --- |");
for (const [target, ratio, met] of targets) {
  console.log(`| ${target} | ${ratio.toFixed(2)} | ${met ? "yes" : "no"} |`);
}

// ---------------------------------------------------------------------------
// Pieces of a request, in this process, without the network: what the
// figures above are made of.

function perOperation(fn: (i: number) => void): number {
  const count = 20_000;
  const times: number[] = [];
  for (let round = 0; round < 5; round++) {
    const started = performance.now();
    for (let i = 0; i < count; i++) fn(i);
    times.push((performance.now() - started) * 1_000 / count);
  }
  return median(times);
}

let pieceSink = 0;
let kept: unknown;
const never = () => {};
// Calls `make` `depth` frames down, as deep as V8 records a stack by default.
function deep(depth: number, make: () => Error): Error {
  return depth === 0 ? make() : deep(depth - 1, make);
}
const pieces: [string, number][] = [
  [
    "`new Error()` 10 calls deep, its stack captured (not formatted): `nc.request` makes two unless `noAsyncTraces`",
    perOperation(() => {
      kept = deep(10, () => new Error("timed out"));
    }),
  ],
  [
    "`setTimeout` + `clearTimeout` + `new AbortController()`: a handler's deadline",
    perOperation(() => {
      const controller = new AbortController();
      clearTimeout(setTimeout(never, 5_000));
      if (controller.signal.aborted) pieceSink++;
    }),
  ],
  [
    "NATS headers `mb-id` and `mb-timeout-ms`: set, encoded, decoded, read",
    perOperation((i) => {
      const sent = new MsgHdrsImpl();
      sent.append("mb-id", `k3v9x0a1b2c3-${i}`);
      sent.append("mb-timeout-ms", "5000");
      for (const [key, values] of MsgHdrsImpl.decode(sent.encode())) {
        pieceSink += key.length + values[0]!.length;
      }
    }),
  ],
  [
    "payload to bytes and back by hand (`JSON.stringify`, `TextEncoder`)",
    perOperation((i) => {
      pieceSink += (decode(encode(payloadOf(i))) as GetUserPayload).fields
        .length;
    }),
  ],
  [
    "payload to bytes and back through `jsonCodec`",
    perOperation((i) => {
      pieceSink +=
        (jsonCodec.decode(jsonCodec.encode(payloadOf(i))) as GetUserPayload)
          .fields.length;
    }),
  ],
];
console.log();
console.log("| piece | per operation |");
console.log("| ----- | ------------: |");
for (const [piece, us] of pieces) {
  console.log(`| ${piece} | ${us.toFixed(2)} µs |`);
}
if (pieceSink === 0.5) console.log(pieceSink, kept);
console.error(
  `done in ${((performance.now() - began) / 1_000).toFixed(0)} s`,
);
