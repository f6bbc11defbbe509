// Faults and hostile input on the core buses and the middleware around them.
import { deepStrictEqual, rejects, throws } from "node:assert/strict";
import {
  createAsyncBus,
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  type Middleware,
} from "../mod.ts";
import {
  memoryStore,
  readRecording,
  recorder,
} from "../src/observability/mod.ts";
import { retry } from "../src/resilience/mod.ts";

const Save = defineCommand<string>("Save");
const Saved = defineEvent<string>("Saved");
const Resize = defineTask<string>("Resize");

const root = new URL("../", import.meta.url);

/** Runs `code` in a child Deno process; resolves with its exit and time. */
async function runChild(code: string): Promise<
  { success: boolean; ms: number; stdout: string; stderr: string }
> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", new URL("deno.json", root).pathname, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(code));
  await writer.close();
  const { success, stdout, stderr } = await child.output();
  return {
    success,
    ms: performance.now() - started,
    stdout: new TextDecoder().decode(stdout),
    stderr: new TextDecoder().decode(stderr),
  };
}

Deno.test("timeout() does not keep the process alive after the last dispatch", async () => {
  const { success, ms, stdout, stderr } = await runChild(`
    import { createAsyncBus, defineQuery } from "${new URL("mod.ts", root)}";
    import { timeout } from "${new URL("src/resilience/mod.ts", root)}";
    const Ping = defineQuery("Ping");
    const bus = createAsyncBus({ middleware: [timeout({ defaultMs: 30_000 })] });
    bus.registerQuery(Ping, () => "pong");
    console.log(await bus.send(Ping()));
  `);
  deepStrictEqual([success, stdout.trim()], [true, "pong"], stderr);
  // With the timer kept alive the process would live for 30 s.
  deepStrictEqual(ms < 10_000, true, `the process lived ${ms} ms`);
});

Deno.test("the sync bus refuses async function handlers at registration, naming createAsyncBus()", () => {
  const bus = createBus();
  throws(() => bus.registerCommand(Save, async function save() {}), {
    name: "TypeError",
    message:
      'Cannot registerCommand() command "Save" as its handler save is an async function, which the synchronous bus cannot wait for: register it on a bus from createAsyncBus()',
  });
  throws(() => bus.subscribe(Saved, async () => {}), {
    name: "TypeError",
    message:
      'Cannot subscribe() event "Saved" as its handler is an async function, which the synchronous bus cannot wait for: register it on a bus from createAsyncBus()',
  });
  throws(() => bus.registerTask(Resize, async () => {}), TypeError);
  throws(
    () =>
      bus.registerQuery(defineQuery("Q"), async () => await Promise.resolve(1)),
    TypeError,
  );
  // The asynchronous bus takes them.
  createAsyncBus().registerCommand(Save, async () => {});
});

Deno.test("a sync-bus handler that returns a promise fails its dispatch, and its rejection is reported, never unhandled", async () => {
  const reported: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void reported.push(args);
  try {
    for (const middleware of [[], [(m, next) => next(m)] as Middleware[]]) {
      const bus = createBus({ middleware });
      const failure = new Error("rejected later");
      bus.registerCommand(Save, () => Promise.reject(failure));
      bus.registerTask(Resize, () => Promise.resolve());
      const heard: string[] = [];
      bus.subscribe(Saved, function first() {
        heard.push("first");
      });
      bus.subscribe(Saved, () => Promise.reject(failure));
      bus.subscribe(Saved, function third() {
        heard.push("third");
      });
      throws(() => bus.execute(Save("x")), {
        name: "TypeError",
        message:
          'Cannot wait for the handler of command "Save": it returned a promise, and the synchronous bus does not wait for promises. Register it on a bus from createAsyncBus()',
      });
      throws(() => bus.dispatch(Resize("x")), TypeError);
      throws(() => bus.publish(Saved("x")), {
        name: "TypeError",
        message:
          'Cannot wait for subscriber "anonymous" of event "Saved": it returned a promise, and the synchronous bus does not wait for promises. Register it on a bus from createAsyncBus()',
      });
      deepStrictEqual(heard, ["first", "third"]); // the others still ran
      // Let the rejections settle: they are reported, not unhandled (an
      // unhandled rejection would fail this test).
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    console.error = original;
  }
  deepStrictEqual(reported.length, 4);
  deepStrictEqual(
    String(reported[0]![0]),
    'The promise the handler of command "Save" returned on the synchronous bus rejected:',
  );
});

Deno.test("bad factory arguments are TypeErrors naming the factory and the argument", () => {
  throws(() => createBus(null as never), {
    name: "TypeError",
    message:
      "Cannot createBus() as its options must be an object ({ middleware }): current value is null",
  });
  throws(() => createAsyncBus(42 as never), {
    name: "TypeError",
    message:
      "Cannot createAsyncBus() as its options must be an object ({ middleware }): current value is number",
  });
  throws(() => defineQuery(Object.create(null)), {
    name: "TypeError",
    message:
      "Cannot define query as its name must be a non-empty string: current value is an object",
  });
});

Deno.test("subscribing and unsubscribing take amortised constant time, not time in the number of subscribers", () => {
  // Linear work grows 10x from 4,000 to 40,000 subscribers; quadratic work
  // grows 100x. The ratio is read within one run, so the machine's speed
  // does not matter.
  function churn(count: number): number {
    const bus = createBus();
    const started = performance.now();
    const removers = [];
    for (let index = 0; index < count; index++) {
      removers.push(bus.subscribe(Saved, () => {}));
    }
    for (const remove of removers) remove();
    return performance.now() - started;
  }
  churn(4_000); // warm up
  const small = Math.max(churn(4_000), 0.5);
  const large = churn(40_000);
  deepStrictEqual(large / small < 40, true, `${small} ms, then ${large} ms`);
});

Deno.test("subscribing and unsubscribing during a publish does not disturb it; order and ids survive compaction", async () => {
  for (const bus of [createBus(), createAsyncBus()]) {
    const heard: string[] = [];
    const removers: (() => void)[] = [];
    let late = () => {};
    const changer = bus.subscribe(Saved, () => {
      heard.push("changer");
      removers[1]!(); // a later subscriber, removed mid-publish
      late = bus.subscribe(Saved, () => void heard.push("late"));
    }, { id: "changer" });
    for (let index = 0; index < 100; index++) {
      removers.push(
        bus.subscribe(Saved, (e) => void heard.push(`${index}:${e.payload}`)),
      );
    }
    // Remove every other one: small lists compact at once, large ones later.
    for (let index = 0; index < 100; index += 2) removers[index]!();
    await bus.publish(Saved("a"));
    // Every subscriber of the moment ran, in order; "late" did not.
    deepStrictEqual(heard.slice(0, 3), ["changer", "1:a", "3:a"]);
    deepStrictEqual([heard.length, heard.at(-1)], [51, "99:a"]);
    heard.length = 0;
    changer();
    await bus.publish(Saved("b"));
    deepStrictEqual(heard.includes("1:b"), false);
    deepStrictEqual([heard.length, heard[0], heard.at(-1)], [
      50,
      "3:b",
      "late",
    ]);
    late();
    // A default id freed by an unsubscribe is given again.
    heard.length = 0;
    bus.subscribe(Saved, () => void heard.push("again"));
    await bus.publish(Saved("c"), { subscriber: "anonymous" });
    deepStrictEqual(heard, ["again"]);
  }
});

Deno.test("an observing middleware passes a revoked Proxy result through and records it", () => {
  const store = memoryStore();
  const bus = createBus({ middleware: [recorder(store)] });
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  const GetProxy = defineQuery<void, object>("GetProxy");
  bus.registerQuery(GetProxy, () => proxy);
  deepStrictEqual(bus.send(GetProxy()) === proxy, true);
  deepStrictEqual(store.records.length, 1);
  deepStrictEqual(
    String(store.records[0]?.result).startsWith("[Unserializable"),
    true,
  );
});

Deno.test("readRecording(): an onBrokenLine that throws is reported as its own failure, and reading goes on", async () => {
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
  await Deno.writeTextFile(path, `${good}\nnot json\n${good}\n`);
  const printed: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void printed.push(args);
  const records = [];
  try {
    for await (
      const record of readRecording(path, {
        onBrokenLine: () => {
          throw new Error("callback bug");
        },
      })
    ) {
      records.push(record);
    }
  } finally {
    console.error = original;
  }
  deepStrictEqual(records.length, 2);
  deepStrictEqual(
    [String(printed[0]![0]), (printed[0]![1] as Error).message],
    [`readRecording: onBrokenLine threw for line 2 of ${path}`, "callback bug"],
  );
  await Deno.remove(path);
});

Deno.test("retry(): a retryable predicate that throws is reported, and the handler's own error reaches the caller", async () => {
  const printed: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void printed.push(args);
  try {
    const bus = createAsyncBus({
      middleware: [retry({
        retryable: () => {
          throw new Error("predicate bug");
        },
      })],
    });
    const failure = new Error("handler failed");
    let calls = 0;
    bus.registerCommand(Save, () => {
      calls++;
      throw failure;
    });
    await rejects(bus.execute(Save("x")), (error) => error === failure);
    deepStrictEqual(calls, 1);
  } finally {
    console.error = original;
  }
  deepStrictEqual(
    String(printed[0]![0]),
    `retry: 'retryable' threw for command "Save"; the handler's error is not retried:`,
  );
});
