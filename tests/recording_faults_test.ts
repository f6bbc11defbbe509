// The recording stores under real faults: a full file system (a small
// tmpfs), a stuck one (a FIFO nobody reads), processes killed by signals,
// several stores in one directory, very long lines. Tests that need root
// (mount) or a tool (mkfifo) say why they skip when they cannot run.
import { deepStrictEqual, match, ok, throws } from "node:assert/strict";
import { createBus, defineEvent } from "../mod.ts";
import {
  type DispatchRecord,
  jsonlStore,
  listRuns,
  readRecording,
  recorder,
} from "../src/observability/mod.ts";
import { createWriter, fileWriter } from "../src/core/_jsonl_writer.ts";

const Saved = defineEvent<unknown>("Saved");
const modUrl = new URL("../mod.ts", import.meta.url).href;
const observabilityUrl = new URL(
  "../src/observability/mod.ts",
  import.meta.url,
).href;

/** Replaces console.warn and console.error while `run` runs. */
async function quiet<T>(run: () => Promise<T>): Promise<{
  value: T;
  printed: string[];
}> {
  const printed: string[] = [];
  const { warn, error } = console;
  console.warn = console.error = (...args: unknown[]) => {
    printed.push(args.map(String).join(" "));
  };
  try {
    return { value: await run(), printed };
  } finally {
    console.warn = warn;
    console.error = error;
  }
}

/** Every record of a file, and every line readRecording skipped. */
async function readWithBroken(
  path: string,
): Promise<{ records: DispatchRecord[]; broken: number[] }> {
  const records: DispatchRecord[] = [];
  const broken: number[] = [];
  for await (
    const record of readRecording(path, {
      onBrokenLine: (_line, _path, lineNumber) => broken.push(lineNumber),
    })
  ) {
    records.push(record);
  }
  return { records, broken };
}

async function run(command: string, ...args: string[]): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(command, {
      args,
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** A Deno child running `script`, its stdout read line by line. */
function spawnScript(script: string): {
  child: Deno.ChildProcess;
  nextLine: () => Promise<string | undefined>;
  rest: () => Promise<string[]>;
} {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const input = child.stdin.getWriter();
  input.write(new TextEncoder().encode(`
    import { createBus, defineEvent } from "${modUrl}";
    import { jsonlStore, recorder } from "${observabilityUrl}";
    const Saved = defineEvent("Saved");
    ${script}
  `)).then(() => input.close());
  const lines = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let buffered = "";
  const queue: string[] = [];
  let done = false;
  async function fill(): Promise<void> {
    while (queue.length === 0 && !done) {
      const { value, done: ended } = await lines.read();
      if (ended) {
        done = true;
        if (buffered !== "") queue.push(buffered);
        buffered = "";
        return;
      }
      buffered += value;
      const parts = buffered.split("\n");
      buffered = parts.pop()!;
      queue.push(...parts);
    }
  }
  return {
    child,
    async nextLine() {
      await fill();
      return queue.shift();
    },
    async rest() {
      const all: string[] = [];
      for (;;) {
        await fill();
        const line = queue.shift();
        if (line === undefined) return all;
        all.push(line);
      }
    },
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test("jsonlStore() on a file system that fills up and frees again leaves whole lines only, and written counts them", async () => {
  if (Deno.uid() !== 0) {
    console.log("skipped: mounting a tmpfs needs root");
    return;
  }
  const dir = await Deno.makeTempDir();
  if (!await run("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir)) {
    console.log("skipped: mount -t tmpfs failed (no CAP_SYS_ADMIN?)");
    await Deno.remove(dir);
    return;
  }
  let store: ReturnType<typeof jsonlStore> | undefined;
  try {
    // Leaves 12 KiB: a page for the lock file, two for the run.
    await Deno.writeFile(`${dir}/filler`, new Uint8Array(244 * 1024));
    store = jsonlStore({ dir, maxQueue: 100_000 });
    const bus = createBus({ middleware: [recorder(store)] });
    const padding = "p".repeat(250);
    const { printed } = await quiet(async () => {
      for (let i = 0; i < 3000; i++) bus.publish(Saved({ i, padding }));
      await store!.flush();
      await Deno.remove(`${dir}/filler`); // the disk has room again
      for (let i = 3000; i < 3200; i++) bus.publish(Saved({ i, padding }));
      await store!.close();
    });
    match(printed[0]!, /writing records failed/);
    const text = await Deno.readTextFile(store.path);
    deepStrictEqual(text.endsWith("\n"), true);
    const { records, broken } = await readWithBroken(store.path);
    deepStrictEqual(broken, []);
    deepStrictEqual(records.length, store.written);
    deepStrictEqual(text.split("\n").length - 1, store.written);
    deepStrictEqual(store.written + store.dropped, 3200);
    deepStrictEqual(store.pending, 0);
    const last = records.slice(-200).map((r) => (r.payload as { i: number }).i);
    deepStrictEqual(last, Array.from({ length: 200 }, (_, i) => 3000 + i));
  } finally {
    await store?.close();
    if (!await run("umount", dir)) await run("umount", "-l", dir);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createWriter() over a sink that cannot cut a torn line starts the next write on a new line", async () => {
  const chunks: string[] = [];
  let calls = 0;
  const decoder = new TextDecoder();
  const writer = createWriter<number>({
    write(bytes) {
      calls++;
      if (calls === 1) {
        // Half of it lands, then the disk is full.
        chunks.push(decoder.decode(bytes.subarray(0, 25)));
        return Promise.resolve(25);
      }
      if (calls === 2) return Promise.reject(new Error("ENOSPC"));
      chunks.push(decoder.decode(bytes));
      return Promise.resolve(bytes.length);
    },
    writeSync: () => 0,
    close() {},
  }, {
    encode: (n) => JSON.stringify({ n, text: "0123456789" }),
    maxQueue: 100,
    closeTimeoutMs: 1000,
    redact: undefined,
    label: "test",
  });
  const { printed } = await quiet(async () => {
    for (let n = 0; n < 3; n++) writer.write(n);
    await writer.flush();
    writer.write(3);
    await writer.close();
  });
  match(
    printed[0]!,
    /test: writing records failed; 3 records are counted as dropped \(3 dropped so far\); a torn line is left in the file, on a line of its own/,
  );
  deepStrictEqual(
    chunks.join(""),
    '{"n":0,"text":"0123456789\n{"n":3,"text":"0123456789"}\n',
  );
  deepStrictEqual([writer.written, writer.dropped, writer.pending], [1, 3, 0]);
});

Deno.test("createWriter() counts the whole lines of a write cut short as written", async () => {
  let calls = 0;
  const landed: Uint8Array[] = [];
  const cuts: number[] = [];
  const writer = createWriter<number>({
    write(bytes) {
      if (++calls === 1) {
        landed.push(bytes.subarray(0, 40)); // two whole lines and a half
        return Promise.resolve(40);
      }
      return Promise.reject(new Error("ENOSPC"));
    },
    writeSync: () => 0,
    close() {},
    truncate(length) {
      cuts.push(length);
      return Promise.resolve();
    },
  }, {
    encode: (n) => JSON.stringify({ n, text: "abcdefgh" }),
    maxQueue: 100,
    closeTimeoutMs: 1000,
    redact: undefined,
    label: "test",
  });
  await quiet(async () => {
    for (let n = 0; n < 4; n++) writer.write(n);
    await writer.close();
  });
  // Each line is 26 bytes with its newline: one whole line in 40 bytes.
  deepStrictEqual(cuts, [26]);
  deepStrictEqual([writer.written, writer.dropped], [1, 3]);
});

Deno.test("jsonlStore() never deletes the run of a store that is still open, in this process or another; a dead process's run goes", async () => {
  const dir = await Deno.makeTempDir();
  const writing = spawnScript(`
    const store = jsonlStore({ dir: ${JSON.stringify(dir)} });
    const bus = createBus({ middleware: [recorder(store)] });
    let i = 0;
    setInterval(() => { for (let n = 0; n < 10; n++) bus.publish(Saved(i++)); }, 5);
    console.log(store.path);
  `);
  try {
    const other = (await writing.nextLine())!;
    deepStrictEqual(await exists(other), true);
    const open = jsonlStore({ dir });
    for (let i = 0; i < 10; i++) await jsonlStore({ dir }).close();
    deepStrictEqual(await exists(other), true, "the other process's run");
    deepStrictEqual(await exists(open.path), true, "this process's open run");

    writing.child.kill("SIGKILL");
    await writing.child.status;
    const last = jsonlStore({ dir, maxRuns: 1 });
    deepStrictEqual(
      (await listRuns(dir)).map((r) => r.path),
      [open.path, last.path].sort(),
    );
    deepStrictEqual(await exists(`${other}.lock`), false);
    await open.close();
    await last.close();
    deepStrictEqual(await exists(`${open.path}.lock`), false);
  } finally {
    try {
      writing.child.kill("SIGKILL");
    } catch {
      // Ended already.
    }
    await writing.child.status;
    await writing.rest();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("jsonlStore({ flushOnSignals }) writes everything queued when SIGTERM comes, then exits with 143", async () => {
  const dir = await Deno.makeTempDir();
  const producing = spawnScript(`
    const store = jsonlStore({
      dir: ${JSON.stringify(dir)},
      maxQueue: 1_000_000,
      flushOnSignals: ["SIGTERM", "SIGINT"],
    });
    const bus = createBus({ middleware: [recorder(store)] });
    console.log(store.path);
    let i = 0;
    function burst() {
      for (let n = 0; n < 20_000; n++) bus.publish(Saved(i++));
      console.log(i);
      setTimeout(burst, 1);
    }
    burst();
  `);
  const path = (await producing.nextLine())!;
  let queued = 0;
  const started = Date.now();
  while (queued < 60_000 && Date.now() - started < 10_000) {
    queued = Number(await producing.nextLine());
  }
  producing.child.kill("SIGTERM");
  const status = await producing.child.status;
  for (const line of await producing.rest()) queued = Number(line);
  deepStrictEqual([status.code, status.signal], [143, null]);
  const { records, broken } = await readWithBroken(path);
  deepStrictEqual(broken, []);
  ok(records.length >= queued, `${records.length} of ${queued} on disk`);
  deepStrictEqual(
    records.every((record, index) => record.payload === index),
    true,
    "every record, in order, once",
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("jsonlStore({ flushOnSignals }) writes what was queued just before the signal; close() stops listening", async () => {
  const dir = await Deno.makeTempDir();
  const killed = spawnScript(`
    const store = jsonlStore({ dir: ${
    JSON.stringify(dir)
  }, flushOnSignals: ["SIGTERM"] });
    const bus = createBus({ middleware: [recorder(store)] });
    console.log(store.path);
    for (let i = 0; i < 9000; i++) bus.publish(Saved(i));
    Deno.kill(Deno.pid, "SIGTERM");
    setTimeout(() => {}, 5000);
  `);
  const path = (await killed.nextLine())!;
  const status = await killed.child.status;
  await killed.rest();
  deepStrictEqual([status.code, status.signal], [143, null]);
  deepStrictEqual((await readWithBroken(path)).records.length, 9000);

  const closed = spawnScript(`
    const store = jsonlStore({ dir: ${
    JSON.stringify(dir)
  }, flushOnSignals: ["SIGTERM"] });
    await store.close();
    console.log("closed");
    setTimeout(() => {}, 5000);
  `);
  deepStrictEqual(await closed.nextLine(), "closed");
  closed.child.kill("SIGTERM");
  deepStrictEqual((await closed.child.status).signal, "SIGTERM");
  await closed.rest();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("jsonlStore() writes what is queued when the process dies of an uncaught error", async () => {
  const dir = await Deno.makeTempDir();
  const failing = spawnScript(`
    const store = jsonlStore({ dir: ${JSON.stringify(dir)} });
    const bus = createBus({ middleware: [recorder(store)] });
    console.log(store.path);
    setTimeout(() => {
      for (let i = 0; i < 5000; i++) bus.publish(Saved(i));
      throw new Error("boom");
    }, 0);
  `);
  const path = (await failing.nextLine())!;
  const status = await failing.child.status;
  await failing.rest();
  deepStrictEqual(status.code, 1);
  deepStrictEqual((await readWithBroken(path)).records.length, 5000);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("createWriter() on a stuck file: flush() settles when close() gives up, and counts follow the write that was stuck", async () => {
  const dir = await Deno.makeTempDir();
  const fifo = `${dir}/stuck.fifo`;
  if (!await run("mkfifo", fifo)) {
    console.log("skipped: mkfifo is not available");
    await Deno.remove(dir, { recursive: true });
    return;
  }
  // Read and write: opening does not wait for a reader (Linux); nobody reads.
  const file = await Deno.open(fifo, { read: true, write: true });
  const writer = createWriter<number>({
    write: (bytes) => file.write(bytes),
    writeSync: (bytes) => file.writeSync(bytes),
    close: () => file.close(),
  }, {
    encode: (n) => JSON.stringify({ n, padding: "x".repeat(80) }),
    maxQueue: 100_000,
    closeTimeoutMs: 50,
    redact: undefined,
    label: "fifo",
  });
  // Reads what the stuck write holds, up to the end: once the writer has
  // closed the file and the write has ended.
  let reading: Promise<string> | undefined;
  function readFifo(): Promise<string> {
    reading ??= (async () => {
      const reader = await Deno.open(fifo, { read: true });
      let text = "";
      const decoder = new TextDecoder();
      for await (const chunk of reader.readable) {
        text += decoder.decode(chunk, { stream: true });
      }
      return text;
    })();
    return reading;
  }
  try {
    for (let n = 0; n < 20_000; n++) writer.write(n);
    let flushed = false;
    writer.flush().then(() => flushed = true);
    const { printed } = await quiet(() => writer.close());
    await new Promise((resolve) => setTimeout(resolve, 0));
    deepStrictEqual(flushed, true, "flush() settled");
    match(printed[0]!, /gave up after 50 ms/);
    // 8192 lines (one batch) are stuck in write(); the rest is given up.
    deepStrictEqual(
      [writer.written, writer.dropped, writer.pending],
      [0, 20_000 - 8192, 8192],
    );

    // The disk comes back: the stuck batch lands, and is counted as written.
    const lines = (await readFifo()).split("\n").length - 1;
    for (let i = 0; i < 100 && writer.pending > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    deepStrictEqual(lines, 8192);
    deepStrictEqual(
      [writer.written, writer.dropped, writer.pending],
      [lines, 20_000 - lines, 0],
    );
  } finally {
    // The stuck write must end, or this process could not.
    await quiet(() => writer.close());
    await readFifo();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("jsonlStore() and fileWriter() refuse a FIFO or a device instead of blocking on it", async () => {
  const dir = await Deno.makeTempDir();
  const fifo = `${dir}/fifo`;
  if (!await run("mkfifo", fifo)) {
    console.log("skipped: mkfifo is not available");
    await Deno.remove(dir, { recursive: true });
    return;
  }
  throws(() => jsonlStore({ dir: fifo }), {
    name: "NotADirectory",
    message:
      `Cannot open jsonlStore as 'dir' must be a directory: ${fifo} is a FIFO`,
  });
  throws(() => jsonlStore({ dir: "/dev/null" }), {
    name: "NotADirectory",
    message:
      "Cannot open jsonlStore as 'dir' must be a directory: /dev/null is a character device",
  });
  const file = await Deno.open(fifo, { read: true, write: true });
  throws(
    () =>
      fileWriter(file, {
        encode: String,
        maxQueue: 10,
        closeTimeoutMs: 10,
        redact: undefined,
        label: "jsonlStore(x)",
      }),
    {
      name: "TypeError",
      message:
        "Cannot write jsonlStore(x) as its file must be a regular file: it is a FIFO",
    },
  );
  file.close();
  // A FIFO named like a run is no run: rotation neither opens nor deletes it.
  const lookalike = `${dir}/run-2000-01-01T00-00-00-000000Z-1.jsonl`;
  await run("mkfifo", lookalike);
  const store = jsonlStore({ dir, maxRuns: 1 });
  await store.close();
  deepStrictEqual(await exists(lookalike), true);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("readRecording() reads very long lines in time linear in their length", async () => {
  const path = await Deno.makeTempFile({ suffix: ".jsonl" });
  const line = JSON.stringify({
    ts: "2026-02-12T14:30:45.123456Z",
    type: "event",
    class: "Big",
    payload: "x".repeat(6 * 1024 * 1024),
    duration_ns: 1,
    result: null,
    error: null,
  });
  await Deno.writeTextFile(path, `${line}\n${line}\n`);
  async function plain(): Promise<number> {
    const started = performance.now();
    const text = await Deno.readTextFile(path);
    for (const each of text.split("\n")) if (each !== "") JSON.parse(each);
    return performance.now() - started;
  }
  async function streamed(): Promise<number> {
    const started = performance.now();
    let count = 0;
    for await (const record of readRecording(path)) {
      count += (record.payload as string).length > 0 ? 1 : 0;
    }
    deepStrictEqual(count, 2);
    return performance.now() - started;
  }
  const base = Math.min(await plain(), await plain());
  const took = Math.min(await streamed(), await streamed());
  ok(
    took < base * 8 + 50,
    `readRecording took ${took.toFixed(0)} ms, a plain read and parse ${
      base.toFixed(0)
    } ms`,
  );
  await Deno.remove(path);
});
