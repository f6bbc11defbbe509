import { deepStrictEqual, match, rejects, throws } from "node:assert/strict";
import {
  createAsyncBus,
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
} from "../mod.ts";
import {
  type DispatchRecord,
  jsonlStore,
  listRuns,
  memoryStore,
  readRecording,
  recorder,
} from "../src/observability/mod.ts";
import { createWriter } from "../src/core/_jsonl_writer.ts";
import { createFakeClock } from "../src/testing/mod.ts";

const GetUser = defineQuery<{ id: string }, { name: string }>("GetUser");
const Save = defineCommand<unknown>("Save");
const Saved = defineEvent<{ id: string }>("Saved");

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

async function readAll(path: string): Promise<DispatchRecord[]> {
  const records: DispatchRecord[] = [];
  for await (const record of readRecording(path)) records.push(record);
  return records;
}

/** Replaces console[method] while `run` runs, collecting what it printed. */
async function capture(
  method: "warn" | "error",
  run: () => unknown,
): Promise<string[]> {
  const lines: string[] = [];
  const original = console[method];
  console[method] = (...args: unknown[]) => {
    lines.push(args.map(String).join(" "));
  };
  try {
    await run();
  } finally {
    console[method] = original;
  }
  return lines;
}

Deno.test("recorder() writes one record per dispatch, saying kind and type like a message", () => {
  const store = memoryStore();
  const bus = createBus({ middleware: [recorder(store)] });
  bus.registerQuery(GetUser, (q) => ({ name: `user ${q.payload.id}` }));
  bus.registerCommand(Save, () => {});
  bus.send(GetUser({ id: "1" }));
  bus.execute(Save({ any: "thing" }));
  bus.publish(Saved({ id: "1" }));

  deepStrictEqual(store.records.length, 3);
  const [query, command, event] = store.records;
  deepStrictEqual(Object.keys(query!), [
    "ts",
    "kind",
    "type",
    "payload",
    "durationMs",
    "result",
    "error",
    "id",
    "correlationId",
  ]);
  // Each outermost dispatch has its own id, and is its own correlation.
  deepStrictEqual(query!.correlationId, query!.id);
  deepStrictEqual(new Set(store.records.map((r) => r.id)).size, 3);
  match(query!.ts, TS);
  deepStrictEqual(typeof query!.durationMs, "number");
  deepStrictEqual(query!.durationMs >= 0, true);
  deepStrictEqual(
    [query!.kind, query!.type, query!.payload, query!.result, query!.error],
    ["query", "GetUser", { id: "1" }, { name: "user 1" }, null],
  );
  deepStrictEqual([command!.kind, command!.type, command!.result], [
    "command",
    "Save",
    null,
  ]);
  deepStrictEqual([event!.kind, event!.type], ["event", "Saved"]);
  // ts is the start of the dispatch, in order.
  deepStrictEqual(query!.ts <= command!.ts && command!.ts <= event!.ts, true);
});

Deno.test("recorder() records failures with the error's name and message, and rethrows it unchanged", () => {
  const store = memoryStore();
  const bus = createBus({ middleware: [recorder(store)] });
  const failure = new RangeError("too big");
  bus.registerCommand(Save, () => {
    throw failure;
  });
  throws(() => bus.execute(Save(1)), (error) => error === failure);
  throws(() => bus.send(GetUser({ id: "1" })), { name: "NoHandlerError" });
  deepStrictEqual(store.records[0]?.error, {
    name: "RangeError",
    message: "too big",
  });
  deepStrictEqual(store.records[0]?.result, null);
  deepStrictEqual(store.records[1]?.error?.name, "NoHandlerError");
});

Deno.test("recorder() records every inner error of an AggregateError", () => {
  const store = memoryStore();
  const bus = createBus({ middleware: [recorder(store)] });
  bus.subscribe(Saved, () => {
    throw new Error("first");
  });
  bus.subscribe(Saved, () => {
    throw new TypeError("second");
  });
  throws(() => bus.publish(Saved({ id: "1" })), AggregateError);
  deepStrictEqual(store.records[0]?.error, {
    name: "AggregateError",
    message:
      '2 of 2 subscribers of event "Saved" failed; each error is in .errors',
    errors: [
      { name: "Error", message: "first" },
      { name: "TypeError", message: "second" },
    ],
  });
});

Deno.test('recorder() mode "errors" records only failed dispatches', () => {
  const store = memoryStore();
  const bus = createBus({ middleware: [recorder(store, { mode: "errors" })] });
  bus.registerCommand(Save, (c) => {
    if (c.payload === "fail") throw new Error("failed");
  });
  bus.execute(Save("ok"));
  throws(() => bus.execute(Save("fail")));
  deepStrictEqual(store.records.map((r) => r.payload), ["fail"]);
});

Deno.test("recorder() on the async bus records when the dispatch settles", async () => {
  const store = memoryStore();
  const bus = createAsyncBus({ middleware: [recorder(store)] });
  bus.registerQuery(GetUser, async (q) => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { name: q.payload.id };
  });
  const failure = new Error("async failure");
  bus.registerCommand(Save, async () => {
    await Promise.resolve();
    throw failure;
  });
  const pending = bus.send(GetUser({ id: "7" }));
  deepStrictEqual(store.records.length, 0);
  deepStrictEqual(await pending, { name: "7" });
  await rejects(bus.execute(Save(1)), (error) => error === failure);
  deepStrictEqual(store.records.length, 2);
  deepStrictEqual(store.records[0]?.result, { name: "7" });
  deepStrictEqual(store.records[0]!.durationMs >= 15, true);
  deepStrictEqual(store.records[1]?.error, {
    name: "Error",
    message: "async failure",
  });
});

Deno.test("recorder() never lets a store failure break a dispatch, and reports every failure, at most one line per 10 s", async () => {
  const clock = createFakeClock();
  const bus = createBus({
    middleware: [recorder({
      write() {
        throw new Error("disk on fire");
      },
    }, { clock })],
  });
  bus.registerQuery(GetUser, () => ({ name: "x" }));
  bus.registerCommand(Save, () => {});
  const printed = await capture("error", async () => {
    deepStrictEqual(bus.send(GetUser({ id: "1" })), { name: "x" });
    deepStrictEqual(bus.send(GetUser({ id: "2" })), { name: "x" });
    bus.execute(Save(1));
    await clock.advance(10_000); // the summary of the two not printed
    await clock.advance(10_000);
    bus.execute(Save(2)); // a new burst, printed at once
  });
  deepStrictEqual(printed, [
    'recorder: the store failed to take the record of query "GetUser" Error: disk on fire',
    'recorder: the store failed to take the record of command "Save" (the last of 2 such failures since the previous report; reports are at most one per 10000 ms) Error: disk on fire',
    'recorder: the store failed to take the record of command "Save" Error: disk on fire',
  ]);
});

Deno.test("recorder() rejects a bad store or mode", () => {
  throws(() => recorder({} as never), {
    name: "TypeError",
    message:
      "Cannot create recorder as 'store' must have a write(record) method: current value is object",
  });
  throws(() => recorder(memoryStore(), { mode: "some" as never }), {
    name: "TypeError",
    message:
      'Cannot create recorder as \'mode\' must be "all" or "errors": current value is "some"',
  });
});

Deno.test("values with no JSON form get their documented forms, and never break a dispatch", async () => {
  const cyclic: Record<string, unknown> = { name: "loop" };
  cyclic.self = cyclic;
  const inner = new Error("inner");
  const payload = {
    big: 12345678901234567890n,
    cyclic,
    missing: undefined,
    list: [1, undefined, () => 1],
    fn: function namedFunction() {},
    symbol: Symbol("tag"),
    error: new TypeError("bad", { cause: inner }),
    aggregate: new AggregateError([inner], "many"),
    date: new Date("2026-02-12T14:30:45.123Z"),
    invalidDate: new Date("nope"),
    map: new Map<unknown, unknown>([["a", 1], [2, { b: 2n }]]),
    set: new Set(["x", 1]),
    nan: Number.NaN,
    message: Save({ nested: true }),
    throwing: {
      get boom() {
        throw new Error("getter exploded");
      },
    },
  };
  const expected = {
    big: { $bigint: "12345678901234567890" },
    cyclic: { name: "loop", self: "[Circular]" },
    list: [1, null, "[Function anonymous]"],
    fn: "[Function namedFunction]",
    symbol: "Symbol(tag)",
    error: {
      name: "TypeError",
      message: "bad",
      cause: { name: "Error", message: "inner" },
    },
    aggregate: {
      name: "AggregateError",
      message: "many",
      errors: [{ name: "Error", message: "inner" }],
    },
    date: "2026-02-12T14:30:45.123Z",
    invalidDate: null,
    map: { $map: [["a", 1], [2, { b: { $bigint: "2" } }]] },
    set: { $set: ["x", 1] },
    nan: null,
    message: { kind: "command", type: "Save", payload: { nested: true } },
    throwing: { boom: "[Unserializable: getter exploded]" },
  };
  const memory = memoryStore();
  const dir = await Deno.makeTempDir();
  const file = jsonlStore({ dir });
  const bus = createBus({ middleware: [recorder(memory), recorder(file)] });
  bus.registerCommand(Save, () => {});
  bus.execute(Save(payload));
  await file.close();
  deepStrictEqual(memory.records[0]?.payload, expected);
  const [line] = (await Deno.readTextFile(file.path)).split("\n");
  deepStrictEqual(JSON.parse(line!).payload, expected);
});

Deno.test("jsonlStore() writes one JSON line per record to a new run file", async () => {
  const dir = await Deno.makeTempDir();
  const store = jsonlStore({ dir });
  const bus = createBus({ middleware: [recorder(store)] });
  bus.registerQuery(GetUser, (q) => ({ name: q.payload.id }));
  for (let i = 0; i < 100; i++) bus.send(GetUser({ id: String(i) }));
  deepStrictEqual(store.written, 0); // nothing is written on the dispatch path
  await store.flush();
  deepStrictEqual(store.written, 100);
  bus.send(GetUser({ id: "last" }));
  await store.close();
  await store.close(); // idempotent

  match(store.path, /\/run-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{6}Z-\d+\.jsonl$/);
  const text = await Deno.readTextFile(store.path);
  const lines = text.split("\n");
  deepStrictEqual(lines.length, 102);
  deepStrictEqual(lines.at(-1), "");
  const first = JSON.parse(lines[0]!);
  match(
    lines[0]!,
    /^\{"ts":"[^"]+","type":"query","class":"GetUser","payload":\{"id":"0"\},"duration_ns":\d+,"result":\{"name":"0"\},"error":null,"id":"[0-9a-z-]+","correlation_id":"[0-9a-z-]+"\}$/,
  );
  match(first.ts, TS);
  deepStrictEqual(JSON.parse(lines[100]!).payload, { id: "last" });
  deepStrictEqual([store.written, store.dropped, store.pending], [101, 0, 0]);
});

Deno.test("jsonlStore() supports await using", async () => {
  const dir = await Deno.makeTempDir();
  let path = "";
  {
    await using store = jsonlStore({ dir });
    path = store.path;
    const bus = createBus({ middleware: [recorder(store)] });
    bus.publish(Saved({ id: "1" }));
  }
  deepStrictEqual((await readAll(path)).map((r) => r.type), ["Saved"]);
});

Deno.test("jsonlStore() keeps at most maxRuns runs, deleting the oldest at open", async () => {
  const dir = await Deno.makeTempDir();
  for (let i = 0; i < 5; i++) {
    await Deno.writeTextFile(
      `${dir}/run-2020-01-0${i + 1}T00-00-00-000000Z-1.jsonl`,
      "",
    );
  }
  await Deno.writeTextFile(`${dir}/notes.txt`, "not a run");
  const store = jsonlStore({ dir, maxRuns: 3 });
  await store.close();
  const names = (await listRuns(dir)).map((run) => run.name);
  deepStrictEqual(names, [
    "run-2020-01-04T00-00-00-000000Z-1.jsonl",
    "run-2020-01-05T00-00-00-000000Z-1.jsonl",
    store.path.split("/").at(-1),
  ]);
  deepStrictEqual(await Deno.readTextFile(`${dir}/notes.txt`), "not a run");
  // A second store in the same directory gets its own file.
  const second = jsonlStore({ dir, maxRuns: 3 });
  await second.close();
  deepStrictEqual(second.path === store.path, false);
  deepStrictEqual((await listRuns(dir)).length, 3);
});

Deno.test("jsonlStore() redacts fields at any depth, through objects and arrays", async () => {
  const dir = await Deno.makeTempDir();
  const store = jsonlStore({ dir, redact: ["password", "token"] });
  const bus = createBus({ middleware: [recorder(store)] });
  bus.registerQuery(
    GetUser,
    () => ({ name: "x", token: "secret-result" } as never),
  );
  bus.registerCommand(Save, () => {});
  bus.execute(Save({
    user: { password: "p1", name: "ada" },
    sessions: [{ token: "t1" }, { token: "t2", keep: 1 }],
    password: "top",
  }));
  bus.send(GetUser({ id: "1" }));
  await store.close();
  const [command, query] = await readAll(store.path);
  deepStrictEqual(command?.payload, {
    user: { password: "***REDACTED***", name: "ada" },
    sessions: [{ token: "***REDACTED***" }, {
      token: "***REDACTED***",
      keep: 1,
    }],
    password: "***REDACTED***",
  });
  deepStrictEqual(query?.result, { name: "x", token: "***REDACTED***" });
});

Deno.test("jsonlStore() drops the oldest records when the queue is full, counts them and warns once per burst", async () => {
  const dir = await Deno.makeTempDir();
  const store = jsonlStore({ dir, maxQueue: 5 });
  const bus = createBus({ middleware: [recorder(store)] });
  bus.registerCommand(Save, () => {});
  const warnings = await capture("warn", async () => {
    for (let i = 0; i < 20; i++) bus.execute(Save(i));
    deepStrictEqual(store.dropped, 15);
    await store.flush();
    // A second burst warns again.
    for (let i = 20; i < 27; i++) bus.execute(Save(i));
    await store.close();
  });
  deepStrictEqual(store.dropped, 17);
  deepStrictEqual(warnings.length, 2);
  match(
    warnings[0]!,
    /the queue is full \(maxQueue 5\).*dropping records \(1 dropped so far\)/,
  );
  deepStrictEqual(
    (await readAll(store.path)).map((r) => r.payload),
    [15, 16, 17, 18, 19, 22, 23, 24, 25, 26],
  );
});

Deno.test("jsonlStore() counts records that come after close() as dropped", async () => {
  const dir = await Deno.makeTempDir();
  const store = jsonlStore({ dir });
  const bus = createBus({ middleware: [recorder(store)] });
  await store.close();
  const warnings = await capture(
    "warn",
    () => bus.publish(Saved({ id: "late" })),
  );
  deepStrictEqual(store.dropped, 1);
  match(warnings[0]!, /the store is closed/);
});

Deno.test("jsonlStore() rejects bad options with the option's name and value", () => {
  throws(() => jsonlStore({ dir: "" }), {
    name: "TypeError",
    message:
      "Cannot open jsonlStore as 'dir' must be a non-empty string: current value is \"\"",
  });
  throws(() => jsonlStore({ dir: "x", maxRuns: 0 }), {
    name: "RangeError",
    message:
      "Cannot open jsonlStore as 'maxRuns' must be a positive integer: current value is 0",
  });
  throws(() => jsonlStore({ dir: "x", maxQueue: 1.5 }), RangeError);
  throws(() => jsonlStore({ dir: "x", closeTimeoutMs: -1 }), RangeError);
  throws(() => jsonlStore({ dir: "x", redact: "password" as never }), {
    name: "TypeError",
    message: /'redact' must be an array of field names/,
  });
});

Deno.test("close() waits at most closeTimeoutMs for a stuck write, then counts what is queued as dropped and leaves the write in flight pending", async () => {
  let closed = false;
  const writer = createWriter({
    write: () => new Promise<number>(() => {}), // the disk never answers
    writeSync: () => 0,
    close: () => {
      closed = true;
    },
  }, {
    encode: (item: unknown) => JSON.stringify(item),
    maxQueue: 100,
    closeTimeoutMs: 30,
    redact: undefined,
    label: "test",
  });
  const record = {
    ts: "2026-02-12T14:30:45.123456Z",
    type: "event",
    class: "Saved",
    payload: 1,
    duration_ns: 1,
    result: null,
    error: null,
  } as const;
  for (let i = 0; i < 3; i++) writer.write(record);
  await Promise.resolve(); // the first batch is now stuck in write()
  writer.write(record);
  const started = performance.now();
  const warnings = await capture("warn", () => writer.close());
  const waited = performance.now() - started;
  deepStrictEqual(waited >= 25 && waited < 1000, true, `waited ${waited} ms`);
  // The stuck batch may still reach the disk: it is counted when it does.
  deepStrictEqual(
    [writer.written, writer.dropped, writer.pending, closed],
    [0, 1, 3, true],
  );
  match(
    warnings[0]!,
    /close\(\) gave up after 30 ms \(closeTimeoutMs\) with 1 queued records unwritten, counted as dropped; the 3 records of the write in flight are counted when it ends/,
  );
});

Deno.test("records taken before the process exits reach the file, even on Deno.exit()", async () => {
  const dir = await Deno.makeTempDir();
  for (const exit of ["", "Deno.exit(0);"]) {
    const script = `
      import { createBus, defineEvent } from "${new URL(
      "../mod.ts",
      import.meta.url,
    )}";
      import { jsonlStore, recorder } from "${new URL(
      "../src/observability/mod.ts",
      import.meta.url,
    )}";
      const Saved = defineEvent("Saved");
      const store = jsonlStore({ dir: ${JSON.stringify(dir)}, maxRuns: 100 });
      const bus = createBus({ middleware: [recorder(store)] });
      for (let i = 0; i < 2500; i++) bus.publish(Saved(i));
      console.log(store.path);
      ${exit}
    `;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = output.stdin.getWriter();
    await writer.write(new TextEncoder().encode(script));
    await writer.close();
    const { success, stdout, stderr } = await output.output();
    deepStrictEqual(success, true, new TextDecoder().decode(stderr));
    const path = new TextDecoder().decode(stdout).trim();
    const records = await readAll(path);
    deepStrictEqual(records.length, 2500, `exit: ${exit || "normal end"}`);
    deepStrictEqual(records.at(-1)?.payload, 2499);
  }
});

Deno.test("readRecording() skips every broken line, says which, and goes on", async () => {
  const path = await Deno.makeTempFile({ suffix: ".jsonl" });
  const good = JSON.stringify({
    ts: "2026-02-12T14:30:45.123456Z",
    type: "event",
    class: "Saved",
    payload: 1,
    duration_ns: 5,
    result: null,
    error: null,
  });
  await Deno.writeTextFile(path, `${good}\n${good}\n{"ts":"2026-0`);
  const warnings = await capture("warn", async () => {
    deepStrictEqual(
      await readAll(path),
      [1, 2].map(() => ({
        ts: "2026-02-12T14:30:45.123456Z",
        kind: "event",
        type: "Saved",
        payload: 1,
        durationMs: 0.000005,
        result: null,
        error: null,
      })),
    );
  });
  deepStrictEqual(warnings.length, 1);
  match(warnings[0]!, /skipped line 3 of .* \(13 characters\)/);

  // A complete last line without its newline is still a record.
  await Deno.writeTextFile(path, `${good}\n${good}`);
  deepStrictEqual((await readAll(path)).length, 2);

  await Deno.writeTextFile(
    path,
    `${good}\nnot json\n\n${good}\n{"type":1}\n${good}\n{"ts":"2`,
  );
  const broken: string[] = [];
  const records: DispatchRecord[] = [];
  for await (
    const record of readRecording(path, {
      onBrokenLine: (line, file, lineNumber) =>
        broken.push(`${file === path} ${lineNumber}: ${line}`),
    })
  ) {
    records.push(record);
  }
  deepStrictEqual(records.length, 3);
  deepStrictEqual(broken, [
    "true 2: not json",
    'true 5: {"type":1}',
    'true 7: {"ts":"2',
  ]);

  // By default: a warning for each of the first 10, one for the rest.
  await Deno.writeTextFile(path, `${"{\n".repeat(25)}${good}\n`);
  const many = await capture("warn", async () => {
    deepStrictEqual((await readAll(path)).length, 1);
  });
  deepStrictEqual(many.length, 11);
  match(
    many[10]!,
    /skipped 15 more lines of .* that are not JSON dispatch records/,
  );
});

Deno.test("listRuns() lists run files oldest first, and none for a missing directory", async () => {
  deepStrictEqual(await listRuns("/definitely/not/here"), []);
  const dir = await Deno.makeTempDir();
  const first = jsonlStore({ dir });
  await first.close();
  await new Promise((resolve) => setTimeout(resolve, 2));
  const second = jsonlStore({ dir });
  second.write({
    ts: "2026-02-12T14:30:45.123456Z",
    kind: "event",
    type: "Saved",
    payload: 1,
    durationMs: 0.001,
    result: null,
    error: null,
  });
  await second.close();
  const runs = await listRuns(dir);
  deepStrictEqual(runs.map((run) => run.path), [first.path, second.path]);
  deepStrictEqual(runs[0]?.size, 0);
  deepStrictEqual(runs[1]!.size > 0, true);
});

Deno.test("values that throw while being read are recorded in the [Unserializable] form, never lost", async () => {
  const { proxy: revoked, revoke } = Proxy.revocable({}, {});
  revoke();
  const payloads: unknown[] = [
    {
      get boom() {
        throw new Error("getter exploded");
      },
    },
    new Proxy({}, {
      ownKeys() {
        throw new Error("no keys");
      },
    }),
    revoked,
    { nested: [revoked] },
  ];
  const memory = memoryStore();
  const dir = await Deno.makeTempDir();
  const file = jsonlStore({ dir });
  const bus = createBus({ middleware: [recorder(memory), recorder(file)] });
  bus.registerCommand(Save, (command) => {
    if (command.payload === "throw revoked") throw revoked;
    if (command.payload === "throw odd") {
      throw Object.defineProperty(new Error(), "message", {
        get() {
          throw new Error("no message");
        },
      });
    }
  });
  const printed = await capture("error", () => {
    for (const payload of payloads) bus.execute(Save(payload));
    throws(() => bus.execute(Save("throw revoked")));
    throws(() => bus.execute(Save("throw odd")));
  });
  deepStrictEqual(printed, []);
  await file.close();
  deepStrictEqual([file.written, file.dropped], [6, 0]);
  const revokedForm =
    "[Unserializable: Cannot perform 'getPrototypeOf' on a proxy that has been revoked]";
  const expected = [
    { boom: "[Unserializable: getter exploded]" },
    "[Unserializable: no keys]",
    revokedForm,
    { nested: [revokedForm] },
  ];
  const fromFile = await readAll(file.path);
  for (const records of [memory.records, fromFile]) {
    deepStrictEqual(records.slice(0, 4).map((r) => r.payload), expected);
    match(records[4]!.error!.message, /^\[Unserializable: .*revoked\]$/);
    deepStrictEqual(records[5]!.error, {
      name: "Error",
      message: "[Unserializable: no message]",
    });
  }
});

Deno.test("recorder() reports a store whose write returns a promise that rejects, instead of an unhandled rejection", async () => {
  const bus = createBus({
    middleware: [recorder({
      write: (() => Promise.reject(new Error("disk gone"))) as () => void,
    })],
  });
  bus.registerQuery(GetUser, () => ({ name: "x" }));
  const printed = await capture("error", async () => {
    deepStrictEqual(bus.send(GetUser({ id: "1" })), { name: "x" });
    await new Promise((resolve) => setTimeout(resolve, 0));
  });
  deepStrictEqual(printed, [
    'recorder: the store failed to take the record of query "GetUser" Error: disk gone',
  ]);
});

Deno.test("jsonlStore() counts a record it cannot encode as dropped, and says so", async () => {
  const dir = await Deno.makeTempDir();
  const store = jsonlStore({ dir });
  const printed = await capture("error", () => {
    store.write({
      ts: "2026-02-12T14:30:45.123456Z",
      kind: "event",
      type: "Saved",
      payload: 1,
      durationMs: 1n as never, // not a number: the line cannot be built
      result: null,
      error: null,
    });
  });
  await store.close();
  deepStrictEqual([store.written, store.dropped], [0, 1]);
  match(printed[0]!, /a record could not be encoded; it is counted as dropped/);
});

Deno.test("redact reaches Map entries and the error's cause and inner errors, alike in jsonlStore and memoryStore", async () => {
  const redact = ["password", "token"];
  const memory = memoryStore({ redact });
  const dir = await Deno.makeTempDir();
  const file = jsonlStore({ dir, redact });
  const bus = createBus({ middleware: [recorder(memory), recorder(file)] });
  bus.registerCommand(Save, () => {
    throw new AggregateError(
      [new Error("inner", { cause: { token: "t1", keep: 1 } })],
      "failed",
      { cause: new Map([["password", "p2"], ["user", "ada"]]) },
    );
  });
  throws(() =>
    bus.execute(Save({
      credentials: new Map<unknown, unknown>([["password", "p1"], [1, "x"]]),
    }))
  );
  await file.close();
  const payload = {
    credentials: { $map: [["password", "***REDACTED***"], [1, "x"]] },
  };
  const error = {
    name: "AggregateError",
    message: "failed",
    errors: [{
      name: "Error",
      message: "inner",
      cause: { token: "***REDACTED***", keep: 1 },
    }],
    cause: { $map: [["password", "***REDACTED***"], ["user", "ada"]] },
  };
  const [fromFile] = await readAll(file.path);
  for (const record of [memory.records[0], fromFile]) {
    deepStrictEqual([record?.payload, record?.error], [payload, error]);
  }
  // A record from elsewhere, its error in JSON form already, is redacted too.
  const copy = memoryStore({ redact: ["token", "name"] });
  copy.write({
    ...fromFile!,
    error: {
      name: "Error",
      message: "m",
      cause: { token: "t", name: "n" },
    },
  });
  deepStrictEqual(copy.records[0]?.error, {
    name: "Error",
    message: "m",
    cause: { token: "***REDACTED***", name: "***REDACTED***" },
  });
});

Deno.test("jsonlStore() and memoryStore() reject a missing options object and out-of-range numbers, naming the argument", () => {
  throws(() => jsonlStore(undefined as never), {
    name: "TypeError",
    message:
      "Cannot open jsonlStore as 'options' must be an object with a 'dir': current value is undefined",
  });
  throws(() => jsonlStore({ dir: "x", maxQueue: 1e300 }), {
    name: "RangeError",
    message:
      "Cannot open jsonlStore as 'maxQueue' must be a positive integer of at most 4294967295: current value is 1e+300",
  });
  throws(() => jsonlStore({ dir: "x", closeTimeoutMs: 2 ** 31 }), {
    name: "RangeError",
    message:
      "Cannot open jsonlStore as 'closeTimeoutMs' must be a positive integer of at most 2147483647: current value is 2147483648",
  });
  throws(() => jsonlStore({ dir: "x", flushOnSignals: ["SIGKILL" as never] }), {
    name: "TypeError",
    message:
      'Cannot open jsonlStore as \'flushOnSignals\' must be an array of "SIGHUP", "SIGINT", "SIGQUIT", "SIGTERM": current value is ["SIGKILL"]',
  });
  throws(() => memoryStore(null as never), {
    name: "TypeError",
    message:
      "Cannot create memoryStore as 'options' must be an object: current value is null",
  });
  throws(() => memoryStore({ redact: "token" as never }), {
    name: "TypeError",
    message:
      "Cannot create memoryStore as 'redact' must be an array of field names: current value is \"token\"",
  });
});
