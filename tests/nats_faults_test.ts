// Real faults against createNatsBus(), each on a nats-server of its own: a
// worker process killed with SIGKILL mid-queue, the server restarted
// mid-stream, a task that always fails, a slow subscriber beside fast ones.
// The counts asserted are those of what happened (logs on disk, the
// broker's own stream state), never what a process says it meant to do.
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { defineEvent, defineQuery, defineTask, TimeoutError } from "../mod.ts";
import { createNatsBus } from "../src/transports/nats/mod.ts";
import {
  type DeadLetter,
  memoryDeadLetterStore,
} from "../src/resilience/mod.ts";
import { startNatsServer } from "./_nats_server.ts";
import { Work } from "./fixtures/nats_task_worker.ts";

const WORKER = new URL("./fixtures/nats_task_worker.ts", import.meta.url);
const CONFIG = new URL("../deno.json", import.meta.url);

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 20 ms until it holds; fails after `withinMs`. */
async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  withinMs = 20_000,
): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > withinMs) {
      throw new Error(`Timed out after ${withinMs} ms waiting for ${what}`);
    }
    await delay(20);
  }
}

/** The broker's view of a stream, on a connection of the test's own. */
async function streamWatcher(url: string, stream: string): Promise<{
  messages(): Promise<number>;
  [Symbol.asyncDispose](): Promise<void>;
}> {
  const nc = await connect({ servers: url });
  const jsm: JetStreamManager = await jetstreamManager(nc);
  return {
    messages: async () => (await jsm.streams.info(stream)).state.messages,
    [Symbol.asyncDispose]: () => nc.close(),
  };
}

async function lines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").filter((line) => line !== "");
}

async function countFiles(dir: string): Promise<number> {
  let count = 0;
  for await (const _ of Deno.readDir(dir)) count++;
  return count;
}

interface WorkerProcess {
  readonly log: string;
  readonly child: Deno.ChildProcess;
  /** Closes its standard input (it drains and exits) and waits for it. */
  stop(): Promise<Deno.CommandStatus>;
  /** Kills it if it runs, and lets go of its output. */
  [Symbol.asyncDispose](): Promise<void>;
}

async function spawnWorker(
  url: string,
  prefix: string,
  log: string,
  effects: string,
): Promise<WorkerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      CONFIG.pathname,
      WORKER.pathname,
      url,
      prefix,
      log,
      effects,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let output = "";
  while (!output.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`A worker exited before it was ready: ${output}`);
    output += value;
  }
  return {
    log,
    child,
    async stop() {
      await child.stdin.close().catch(() => {});
      return await child.status;
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // It has exited.
      }
      await child.status;
      await child.stdin.close().catch(() => {});
      await reader.cancel();
    },
  };
}

Deno.test("createNatsBus() loses no task when a worker process is killed with SIGKILL mid-queue", async () => {
  const TASKS = 10_000;
  const prefix = "kill";
  await using server = await startNatsServer();
  const dir = await Deno.makeTempDir({ prefix: "mb-kill-" });
  const effects = `${dir}/effects`;
  await Deno.mkdir(effects);
  const workers: WorkerProcess[] = [];
  try {
    await using dispatcher = await createNatsBus({
      servers: server.url,
      prefix,
    });
    const ids = Array.from({ length: TASKS }, (_, n) => `task-${n}`);
    for (let start = 0; start < TASKS; start += 500) {
      await Promise.all(
        ids.slice(start, start + 500).map((id, offset) =>
          dispatcher.dispatch(Work({ n: start + offset }), { id })
        ),
      );
    }
    await using stream = await streamWatcher(server.url, `${prefix}_TASKS`);
    strictEqual(await stream.messages(), TASKS);

    workers.push(
      ...await Promise.all(
        [0, 1, 2].map((n) =>
          spawnWorker(server.url, prefix, `${dir}/worker-${n}.log`, effects)
        ),
      ),
    );
    const [victim, ...survivors] = workers as [
      WorkerProcess,
      ...WorkerProcess[],
    ];
    await until(
      "the first worker to handle 300 tasks",
      async () => (await lines(victim.log)).length >= 300,
    );
    victim.child.kill("SIGKILL");
    const killed = await victim.child.status;
    strictEqual(killed.signal, "SIGKILL");
    const queuedAtKill = await stream.messages();
    ok(queuedAtKill > 0, "tasks were still queued when the worker was killed");

    // Done when the broker holds no task: every one was acked.
    await until("the task stream to empty", async () => {
      return (await stream.messages()) === 0;
    }, 40_000);
    for (const worker of survivors) strictEqual((await worker.stop()).code, 0);

    const victimLines = await lines(victim.log);
    const survivorLines = (await Promise.all(
      survivors.map((worker) => lines(worker.log)),
    )).flat();
    const handlings = new Map<string, number>();
    let redelivered = 0;
    for (const line of [...victimLines, ...survivorLines]) {
      const [id, attempt] = line.split(" ") as [string, string];
      handlings.set(id, (handlings.get(id) ?? 0) + 1);
      if (Number(attempt) > 1) redelivered++;
    }
    const twice = [...handlings.values()].filter((count) => count > 1).length;
    const effectFiles = new Set<string>();
    for await (const entry of Deno.readDir(effects)) {
      effectFiles.add(entry.name);
    }
    console.log(
      `killed a worker after it handled ${victimLines.length} tasks, with ${queuedAtKill} still in the stream; the survivors handled ${survivorLines.length}; ${redelivered} handlings were redeliveries (attempt > 1), ${twice} tasks were handled twice; ${effectFiles.size} effects`,
    );
    // Not one lost: every task handled, every effect exactly once.
    strictEqual(handlings.size, TASKS);
    deepStrictEqual(new Set(handlings.keys()), new Set(ids));
    strictEqual(effectFiles.size, TASKS);
    deepStrictEqual(effectFiles, new Set(ids));
    strictEqual(await countFiles(effects), TASKS);
    // The kill cost something: what it had taken came back to the others.
    ok(
      twice > 0 || redelivered > 0,
      "the killed worker had tasks in flight, which were delivered again",
    );
  } finally {
    for (const worker of workers) await worker[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

const Ping = defineQuery<{ n: number }, number>("faults.Ping");
const Stored = defineTask<{ n: number }>("faults.Stored");
const Live = defineTask<{ n: number }>("faults.Live");
const Beat = defineEvent<{ n: number }>("faults.Beat");

Deno.test("createNatsBus() reconnects after a nats-server restart and keeps what was stored", async () => {
  await using server = await startNatsServer();
  const statuses = { client: [] as string[], worker: [] as string[] };
  await using client = await createNatsBus({
    servers: server.url,
    onStatus: (status) => statuses.client.push(status),
  });
  // Outlives its deadline while the server is down.
  await using impatient = await createNatsBus({
    servers: server.url,
    queryTimeoutMs: 200,
  });
  await using worker = await createNatsBus({
    servers: server.url,
    onStatus: (status) => statuses.worker.push(status),
  });
  worker.registerQuery(Ping, (query) => query.payload.n + 1);
  const live: number[] = [];
  worker.registerTask(Live, (task) => {
    live.push(task.payload.n);
  });
  await worker.ready();
  // Its own subscriptions are sent again as the client reconnects, before
  // what it publishes.
  const beats: number[] = [];
  client.subscribe(Beat, (event) => void beats.push(event.payload.n));
  await client.ready();
  strictEqual(await client.send(Ping({ n: 1 })), 2);
  await client.dispatch(Live({ n: 1 }));
  await until("the live task before the restart", () => live.length === 1);
  // No worker takes these until after the restart.
  await Promise.all(
    Array.from(
      { length: 200 },
      (_, n) => client.dispatch(Stored({ n }), { id: `stored-${n}` }),
    ),
  );

  await server.stop();
  await until(
    "both buses to see the connection lost",
    () => client.status === "reconnecting" && worker.status === "reconnecting",
    5_000,
  );
  // Sent while the server is down. The worker asks its own handler across
  // the server: another connection's handler may not have subscribed again
  // yet when the query goes out, which NATS answers with "no responders".
  const query = worker.send(Ping({ n: 41 })).then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  const storedWhileDown = client.dispatch(Stored({ n: 200 }), {
    id: "stored-200",
  });
  // Waits for the connection instead of being dropped by the client.
  const publishedWhileDown = client.publish(Beat({ n: 7 }));
  const lost = await impatient.send(Ping({ n: 0 })).then(
    () => undefined,
    (error: unknown) => error,
  );
  ok(lost instanceof TimeoutError, `${lost}`);
  strictEqual(
    lost.message,
    'Query "faults.Ping" timed out after 200 ms while the connection to NATS was lost: it waited for the connection to come back until its deadline',
  );

  await server.start();
  const outcome = await query;
  console.log(
    "error" in outcome
      ? `the query sent while the server was down failed: ${outcome.error}`
      : `the query sent while the server was down succeeded after the reconnect: ${outcome.result}`,
  );
  if ("error" in outcome) {
    const { error } = outcome;
    ok(error instanceof TimeoutError, `${error}`);
    ok(error.message.includes("while the connection to NATS was lost"));
  } else {
    strictEqual(outcome.result, 42);
  }
  await storedWhileDown;
  await publishedWhileDown;
  await until(
    "the event published while the server was down",
    () => beats.length === 1,
  );
  deepStrictEqual(beats, [7]);
  await until(
    "both buses to reconnect",
    () => client.status === "connected" && worker.status === "connected",
    10_000,
  );
  deepStrictEqual(statuses, {
    client: ["reconnecting", "connected"],
    worker: ["reconnecting", "connected"],
  });

  // A worker registered before the restart still takes tasks.
  await client.dispatch(Live({ n: 2 }));
  await until("the live task after the restart", () => live.length === 2);
  deepStrictEqual(live, [1, 2]);
  // What was stored before the restart is handled after it, once.
  const stored: number[] = [];
  worker.registerTask(Stored, (task) => {
    stored.push(task.payload.n);
  });
  await until("the 201 stored tasks", () => stored.length >= 201);
  await delay(100);
  deepStrictEqual(
    stored.toSorted((a, b) => a - b),
    Array.from({ length: 201 }, (_, n) => n),
  );
});

const Poison = defineTask<{ order: string }>("faults.Poison");

Deno.test("createNatsBus() dead-letters a task that always fails after maxDeliver tries", async () => {
  await using server = await startNatsServer();
  const deadLetters = memoryDeadLetterStore();
  await using bus = await createNatsBus({ servers: server.url, deadLetters });
  const attempts: number[] = [];
  bus.registerTask(Poison, function poison(task, context) {
    attempts.push(context.attempt);
    throw new Error(`Cannot ship order ${task.payload.order}: no address`);
  }, { maxDeliver: 3, retryDelayMs: 10, ackWaitMs: 1_000 });
  await bus.ready();
  await bus.dispatch(Poison({ order: "o-13" }), { id: "poison-1" });
  await until("a dead letter", () => deadLetters.letters.length > 0, 10_000);
  // Gone from the broker: it is not tried a fourth time.
  await using stream = await streamWatcher(server.url, "mb_TASKS");
  await until("the task stream to empty", async () => {
    return (await stream.messages()) === 0;
  }, 5_000);

  deepStrictEqual(attempts, [1, 2, 3]);
  strictEqual(deadLetters.letters.length, 1);
  const [letter] = deadLetters.letters as [DeadLetter];
  deepStrictEqual({ ...letter, at: "" }, {
    id: "poison-1",
    message: {
      kind: "task",
      type: "faults.Poison",
      payload: { order: "o-13" },
    },
    error: { name: "Error", message: "Cannot ship order o-13: no address" },
    handler: "poison",
    subscriber: null,
    attempts: 3,
    at: "",
  });
  ok(!Number.isNaN(Date.parse(letter.at)));
});

const Ticked = defineEvent<{ n: number }>("faults.Ticked");

Deno.test("createNatsBus() delivers to fast subscribers while a slow one works through its events", async () => {
  const EVENTS = 20;
  const SLOW_MS = 50;
  await using server = await startNatsServer();
  await using publisher = await createNatsBus({ servers: server.url });
  await using subscribers = await createNatsBus({ servers: server.url });
  await using elsewhere = await createNatsBus({ servers: server.url });
  const started = performance.now();
  const slow: number[] = [];
  const fast: number[] = [];
  const fastElsewhere: number[] = [];
  let running = 0;
  let mostRunning = 0;
  subscribers.subscribe(Ticked, async function slowly(event) {
    mostRunning = Math.max(mostRunning, ++running);
    await delay(SLOW_MS);
    running--;
    slow.push(event.payload.n);
  });
  subscribers.subscribe(Ticked, (event) => {
    fast.push(event.payload.n);
  });
  elsewhere.subscribe(Ticked, (event) => {
    fastElsewhere.push(event.payload.n);
  });
  await subscribers.ready();
  await elsewhere.ready();

  const sent = performance.now();
  for (let n = 0; n < EVENTS; n++) await publisher.publish(Ticked({ n }));
  await until(
    "the fast subscribers to get every event",
    () => fast.length === EVENTS && fastElsewhere.length === EVENTS,
    5_000,
  );
  const fastMs = performance.now() - sent;
  const slowAtFast = slow.length;
  await until("the slow subscriber to finish", () => slow.length === EVENTS);
  const slowMs = performance.now() - sent;
  console.log(
    `fast subscribers had all ${EVENTS} events after ${
      Math.round(fastMs)
    } ms, when the slow one had handled ${slowAtFast}; it finished after ${
      Math.round(slowMs)
    } ms (set up in ${Math.round(sent - started)} ms)`,
  );

  const all = Array.from({ length: EVENTS }, (_, n) => n);
  deepStrictEqual(fast, all);
  deepStrictEqual(fastElsewhere, all);
  deepStrictEqual(slow, all);
  // The slow one takes its events one at a time, so at least EVENTS x SLOW_MS.
  strictEqual(mostRunning, 1);
  ok(slowMs >= EVENTS * SLOW_MS - 20, `${slowMs}`);
  ok(slowAtFast < EVENTS / 2, `${slowAtFast}`);
  ok(fastMs < (EVENTS * SLOW_MS) / 2, `${fastMs}`);
});
