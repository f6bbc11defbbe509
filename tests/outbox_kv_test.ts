// The outbox and inbox on Deno KV, against real KV files in temporary
// folders: transactions, refusals, poison messages, per-key order, entries
// that no longer decode, the relay's wake-up, a relay killed mid-delivery,
// and three relays sharing 10,000 messages.
import { deepStrictEqual, throws } from "node:assert/strict";
import { createAsyncBus, defineEvent } from "../mod.ts";
import {
  createKvInbox,
  createKvOutbox,
  type KvOutbox,
} from "../src/outbox/kv/mod.ts";
import { memoryDeadLetterStore } from "../src/resilience/mod.ts";
import { createFakeClock } from "../src/testing/mod.ts";

const OrderPlaced = defineEvent<{ orderId: string }>("orders.OrderPlaced");

interface TempKv {
  readonly kv: Deno.Kv;
  readonly path: string;
  open(): Promise<Deno.Kv>;
  [Symbol.asyncDispose](): Promise<void>;
}

// A KV file in a folder of its own, closed and removed at the end.
async function tempKv(): Promise<TempKv> {
  const dir = await Deno.makeTempDir({ prefix: "outbox_kv_" });
  const path = `${dir}/outbox.sqlite`;
  const handles: Deno.Kv[] = [];
  const open = async () => {
    const kv = await Deno.openKv(path);
    handles.push(kv);
    return kv;
  };
  const kv = await open();
  return {
    kv,
    path,
    open,
    async [Symbol.asyncDispose]() {
      for (const handle of handles) handle.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function entryKeys(kv: Deno.Kv): Promise<Deno.KvKey[]> {
  const keys: Deno.KvKey[] = [];
  for await (const item of kv.list({ prefix: ["outbox", "entries"] })) {
    keys.push(item.key);
  }
  return keys;
}

// Processes until nothing is delivered or left, at most `passes` times.
async function drain(
  outbox: KvOutbox,
  target: Parameters<KvOutbox["process"]>[0],
  passes = 50,
): Promise<number> {
  let delivered = 0;
  for (let pass = 0; pass < passes; pass++) {
    delivered += await outbox.process(target);
    if (await outbox.pending() === 0) break;
  }
  return delivered;
}

Deno.test("createKvOutbox() delivers a message once if its operation commits, never if it fails its check", async () => {
  await using temp = await tempKv();
  const { kv } = temp;
  const outbox = createKvOutbox(kv);
  const bus = createAsyncBus();
  const heard: string[] = [];
  bus.subscribe(OrderPlaced, (event, context) => {
    heard.push(`${event.payload.orderId} ${context.id}`);
  });
  await kv.set(["orders", "o2"], { total: 1 });
  const failing = kv.atomic().check({
    key: ["orders", "o2"],
    versionstamp: null,
  })
    .set(["orders", "o2"], { total: 2 });
  outbox.add(failing, OrderPlaced({ orderId: "o2" }));
  deepStrictEqual((await failing.commit()).ok, false);
  const committing = kv.atomic().set(["orders", "o1"], { total: 12 });
  const id = outbox.add(committing, OrderPlaced({ orderId: "o1" }));
  deepStrictEqual(typeof id, "string");
  deepStrictEqual(await outbox.pending(), 0);
  deepStrictEqual((await committing.commit()).ok, true);
  deepStrictEqual(await outbox.pending(), 1);
  deepStrictEqual(await outbox.process(bus), 1);
  deepStrictEqual(await outbox.process(bus), 0);
  deepStrictEqual(heard, [`o1 ${id}`]);
  deepStrictEqual(await outbox.pending(), 0);
});

Deno.test("createKvOutbox() refuses what it cannot keep at add(), before anything is written", async () => {
  await using temp = await tempKv();
  const { kv } = temp;
  const outbox = createKvOutbox(kv);
  const tx = kv.atomic();
  throws(
    () => outbox.add(kv as never, OrderPlaced({ orderId: "o" })),
    new TypeError(
      "Cannot add() to the outbox: it is the Deno.Kv, not a transaction: give kv.atomic() and commit it yourself",
    ),
  );
  throws(
    () => outbox.add({} as never, OrderPlaced({ orderId: "o" })),
    new TypeError(
      "Cannot add() to the outbox: its first argument must be a Deno.AtomicOperation (kv.atomic()): current value is object",
    ),
  );
  throws(
    () => outbox.add(tx, OrderPlaced({ orderId: 1n as never })),
    (error: unknown) =>
      error instanceof TypeError && /payload\.orderId/.test(error.message),
  );
  throws(
    () => outbox.add(tx, OrderPlaced({ orderId: new Date() as never })),
    (error: unknown) =>
      error instanceof TypeError && /payload\.orderId/.test(error.message),
  );
  throws(
    () => outbox.add(tx, OrderPlaced({ orderId: "x".repeat(70_000) })),
    (error: unknown) =>
      error instanceof TypeError &&
      /^Cannot add\(\) event "orders\.OrderPlaced" to the Deno KV outbox as its stored value would take \d+ bytes \(with room for its delivery state\): Deno KV keeps at most 65536 bytes per value/
        .test(error.message),
  );
  // Just under the limit with two-byte characters: measured, and refused.
  throws(
    () => outbox.add(tx, OrderPlaced({ orderId: "\u4e00".repeat(32_000) })),
    TypeError,
  );
  deepStrictEqual((await tx.commit()).ok, true);
  deepStrictEqual(await outbox.pending(), 0);
  deepStrictEqual(await entryKeys(kv), []);
  // Large, but within the limit: kept.
  const large = kv.atomic();
  outbox.add(large, OrderPlaced({ orderId: "x".repeat(60_000) }));
  await large.commit();
  deepStrictEqual(await outbox.pending(), 1);
  throws(
    () => createKvOutbox(kv, { prefix: 3 as never }),
    new TypeError(
      "Cannot createKvOutbox() as 'prefix' must be a Deno.KvKey: current value is 3",
    ),
  );
  throws(
    () => createKvOutbox({} as never),
    /^TypeError: Cannot createKvOutbox\(\) as its first argument must be a Deno\.Kv/,
  );
  throws(
    () => createKvOutbox(kv, null as never),
    new TypeError("Cannot createKvOutbox() as its options must be an object"),
  );
  throws(
    () => createKvInbox("kv" as never),
    new TypeError(
      'Cannot createKvInbox() as its first argument must be a Deno.Kv (await Deno.openKv()): current value is "kv"',
    ),
  );
  throws(
    () => createKvInbox(kv, { prefix: "inbox" as never }),
    new TypeError(
      "Cannot createKvInbox() as 'prefix' must be a Deno.KvKey: current value is \"inbox\"",
    ),
  );
});

Deno.test("createKvOutbox() dead-letters a message that always fails after maxAttempts, delivering the others", async () => {
  await using temp = await tempKv();
  const { kv } = temp;
  const deadLetters = memoryDeadLetterStore();
  const outbox = createKvOutbox(kv, {
    maxAttempts: 3,
    retryDelayMs: 0,
    deadLetters,
    onError: () => {},
  });
  const delivered: string[] = [];
  const tx = kv.atomic();
  for (const orderId of ["o1", "poison", "o2"]) {
    outbox.add(tx, OrderPlaced({ orderId }), { id: `placed-${orderId}` });
  }
  await tx.commit();
  const target = outbox.forward((message) => {
    const { orderId } = message.payload as { orderId: string };
    if (orderId === "poison") throw new Error("cannot place it");
    delivered.push(orderId);
  });
  deepStrictEqual(await drain(outbox, target, 10), 2);
  deepStrictEqual(delivered, ["o1", "o2"]);
  deepStrictEqual(
    deadLetters.letters.map((letter) => [
      letter.id,
      letter.attempts,
      letter.error.message,
    ]),
    [["placed-poison", 3, "cannot place it"]],
  );
  deepStrictEqual(await outbox.pending(), 0);
  const dead = [];
  for await (const item of kv.list({ prefix: ["outbox", "dead"] })) {
    dead.push(item.value as { id: string; error: string; attempts: number });
  }
  deepStrictEqual(
    dead.map(({ id, error, attempts }) => [id, error, attempts]),
    [["placed-poison", "Error: cannot place it", 2]],
  );
});

Deno.test("createKvOutbox() keeps each ordering key's order, a failing message holding back only its own key", async () => {
  await using temp = await tempKv();
  const { kv } = temp;
  const clock = createFakeClock(Date.now());
  const outbox = createKvOutbox(kv, {
    retryDelayMs: 60_000,
    clock,
    onError: () => {},
  });
  const tx = kv.atomic();
  for (const n of [1, 2, 3]) {
    for (const key of ["a", "b", "c"]) {
      outbox.add(tx, OrderPlaced({ orderId: `${key}${n}` }), {
        orderingKey: key,
      });
    }
  }
  await tx.commit();
  let failed = false;
  const seen: string[] = [];
  const target = outbox.forward((message) => {
    const { orderId } = message.payload as { orderId: string };
    if (orderId === "b1" && !failed) {
      failed = true;
      throw new Error("b1 fails once");
    }
    seen.push(orderId);
  });
  for (let pass = 0; pass < 5; pass++) await outbox.process(target);
  deepStrictEqual(seen.filter((id) => !id.startsWith("b")), [
    "a1",
    "c1",
    "a2",
    "c2",
    "a3",
    "c3",
  ]);
  deepStrictEqual(seen.filter((id) => id.startsWith("b")), []);
  deepStrictEqual(await outbox.pending(), 3);
  await clock.advance(60_000);
  for (let pass = 0; pass < 5; pass++) await outbox.process(target);
  deepStrictEqual(seen.filter((id) => id.startsWith("b")), ["b1", "b2", "b3"]);
  deepStrictEqual(await outbox.pending(), 0);
});

Deno.test("createKvOutbox() dead-letters an entry that no longer decodes, with the reason, and delivers the others", async () => {
  await using temp = await tempKv();
  const { kv } = temp;
  const deadLetters = memoryDeadLetterStore();
  const outbox = createKvOutbox(kv, { deadLetters, onError: () => {} });
  const tx = kv.atomic();
  for (const orderId of ["o1", "o2", "o3", "o4"]) {
    outbox.add(tx, OrderPlaced({ orderId }), {
      id: `placed-${orderId}`,
      orderingKey: "k",
    });
  }
  await tx.commit();
  const keys = await entryKeys(kv);
  await kv.set(keys[1]!, "garbage");
  const third = await kv.get<Record<string, unknown>>(keys[2]!);
  await kv.set(keys[2]!, { ...third.value, message: "{not json" });
  const delivered: string[] = [];
  const target = outbox.forward((message) => {
    delivered.push((message.payload as { orderId: string }).orderId);
  });
  await drain(outbox, target, 10);
  deepStrictEqual(delivered, ["o1", "o4"]);
  deepStrictEqual(deadLetters.letters.length, 2);
  const [garbage, notJson] = deadLetters.letters;
  deepStrictEqual(
    garbage!.error.message.startsWith("outbox entry ") &&
      garbage!.error.message.endsWith(
        'no longer decodes: its value is "garbage", not an outbox entry',
      ),
    true,
  );
  deepStrictEqual(notJson!.id, "placed-o3");
  deepStrictEqual(
    /^outbox entry placed-o3 no longer decodes: its message is not JSON/.test(
      notJson!.error.message,
    ),
    true,
  );
  deepStrictEqual(await outbox.pending(), 0);
  const next = kv.atomic();
  outbox.add(next, OrderPlaced({ orderId: "o5" }));
  await next.commit();
  deepStrictEqual(await outbox.process(target), 1);
  deepStrictEqual(delivered, ["o1", "o4", "o5"]);
});

Deno.test("createKvOutbox() relay() is woken by a commit, long before pollMs, and stops on its signal", async () => {
  await using temp = await tempKv();
  const { kv } = temp;
  const outbox = createKvOutbox(kv);
  const stop = new AbortController();
  let resolveHeard: (id: string) => void = () => {};
  const heard = new Promise<string>((resolve) => resolveHeard = resolve);
  const relaying = outbox.relay(
    outbox.forward((_message, info) => resolveHeard(info.id)),
    { pollMs: 10_000, signal: stop.signal },
  );
  // The relay's first pass finds nothing, then it waits on the signal key.
  await new Promise((resolve) => setTimeout(resolve, 100));
  const started = Date.now();
  const tx = kv.atomic();
  const id = outbox.add(tx, OrderPlaced({ orderId: "o1" }));
  await tx.commit();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("not woken"), 2_000);
  });
  deepStrictEqual(await Promise.race([heard, late]), id);
  clearTimeout(timer);
  deepStrictEqual(Date.now() - started < 2_000, true);
  stop.abort();
  await relaying;
});

Deno.test("createKvOutbox() delivers again, with the same id, what a relay killed mid-delivery left: the inbox keeps the effect once", async () => {
  await using temp = await tempKv();
  const { kv, path } = temp;
  const outbox = createKvOutbox(kv, { leaseMs: 1_000 });
  const inbox = createKvInbox(kv);
  const tx = kv.atomic();
  const id = outbox.add(tx, OrderPlaced({ orderId: "o1" }));
  await tx.commit();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-kv",
      new URL("./fixtures/outbox_kv_relay_child.ts", import.meta.url).pathname,
      path,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let output = "";
  const deadline = Date.now() + 20_000;
  while (!output.includes("\n") && Date.now() < deadline) {
    const read = await lines.read();
    if (read.done) break;
    output += read.value;
  }
  child.kill("SIGKILL");
  await child.status;
  await lines.cancel();
  deepStrictEqual(output, `effect ${id}\n`);
  deepStrictEqual(await inbox.has(id), true);
  const redelivered: string[] = [];
  const target = outbox.forward(async (_message, info) => {
    const result = await inbox.record(
      kv.atomic().sum(["effects"], 1n),
      info.id,
    ).commit();
    redelivered.push(`${info.id} ${result.ok}`);
  });
  // The child's lease runs out after a second.
  for (let pass = 0; pass < 40 && redelivered.length === 0; pass++) {
    await outbox.process(target);
    if (redelivered.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  deepStrictEqual(redelivered, [`${id} false`]);
  deepStrictEqual(
    (await kv.get<Deno.KvU64>(["effects"])).value?.value,
    1n,
  );
  deepStrictEqual(await outbox.pending(), 0);
});

// The KV with `list` and `atomic` replaced, everything else its own.
function wrappedKv(
  kv: Deno.Kv,
  replace: Partial<Pick<Deno.Kv, "list" | "atomic">>,
): Deno.Kv {
  return new Proxy(kv, {
    get(target, name) {
      const replaced = replace[name as keyof typeof replace];
      if (replaced !== undefined) return replaced;
      const value = Reflect.get(target, name, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("createKvOutbox() leases the rest of a batch when another relay took one of its entries between the scan and the lease", async () => {
  await using temp = await tempKv();
  const { kv } = temp;
  const tx = kv.atomic();
  const writer = createKvOutbox(kv);
  for (const orderId of ["o1", "o2", "o3", "o4", "o5"]) {
    writer.add(tx, OrderPlaced({ orderId }), { id: `placed-${orderId}` });
  }
  await tx.commit();
  // The third entry is leased by someone else once this relay has read it.
  const outbox = createKvOutbox(wrappedKv(kv, {
    list: ((selector: Deno.KvListSelector, options?: Deno.KvListOptions) =>
      (async function* () {
        let index = 0;
        for await (const item of kv.list(selector, options)) {
          yield item;
          if (++index === 3) {
            const value = item.value as Record<string, unknown>;
            await kv.set(item.key, {
              ...value,
              leasedUntil: Date.now() + 60_000,
            });
          }
        }
      })()) as unknown as Deno.Kv["list"],
  }));
  const delivered: string[] = [];
  const target = outbox.forward((_message, info) => {
    delivered.push(info.id);
  });
  deepStrictEqual(await outbox.process(target), 4);
  deepStrictEqual(delivered.sort(), [
    "placed-o1",
    "placed-o2",
    "placed-o4",
    "placed-o5",
  ]);
  deepStrictEqual(await outbox.pending(), 1);
});

Deno.test("createKvOutbox() on a KV that takes fewer checks per operation commits in smaller operations, and keeps to them", async () => {
  await using temp = await tempKv();
  const { kv } = temp;
  const writer = createKvOutbox(kv);
  const tx = kv.atomic();
  for (let n = 0; n < 25; n++) {
    writer.add(tx, OrderPlaced({ orderId: `o${n}` }));
  }
  await tx.commit();
  // What a denokv server answers to more than 10 checks.
  const committed: number[] = [];
  let refused = 0;
  const outbox = createKvOutbox(wrappedKv(kv, {
    atomic: () => {
      const op = kv.atomic();
      const check = op.check.bind(op);
      const commit = op.commit.bind(op);
      let checks = 0;
      op.check = (...given) => {
        checks += given.length;
        return check(...given);
      };
      op.commit = () => {
        if (checks > 10) {
          refused++;
          return Promise.reject(
            new TypeError("Too many checks included in atomic write."),
          );
        }
        committed.push(checks);
        return commit();
      };
      return op;
    },
  }));
  const delivered: string[] = [];
  const target = outbox.forward((message) => {
    delivered.push((message.payload as { orderId: string }).orderId);
  });
  deepStrictEqual(await outbox.process(target), 25);
  deepStrictEqual(delivered.length, 25);
  deepStrictEqual(await outbox.pending(), 0);
  // Refused once, for the lease of 25; the deletes keep to 10.
  deepStrictEqual(refused, 1);
  deepStrictEqual(committed, [10, 10, 5, 10, 10, 5]);
});

Deno.test("createKvOutbox() leases a batch of large messages that do not fit one operation together", async () => {
  await using temp = await tempKv();
  const { kv } = temp;
  const outbox = createKvOutbox(kv);
  const text = "x".repeat(30_000);
  // Thirty values of about 30 KB each: more than Deno KV takes in one
  // operation, so they are added a few at a time.
  for (let start = 0; start < 30; start += 5) {
    const tx = kv.atomic();
    for (let n = start; n < start + 5; n++) {
      outbox.add(tx, OrderPlaced({ orderId: `o${n} ${text}` }));
    }
    deepStrictEqual((await tx.commit()).ok, true);
  }
  let delivered = 0;
  const target = outbox.forward(() => {
    delivered++;
  });
  deepStrictEqual(await outbox.process(target), 30);
  deepStrictEqual(delivered, 30);
  deepStrictEqual(await outbox.pending(), 0);
});

Deno.test("createKvOutbox() with three relays in three processes delivers 10,000 messages at least once, each key in order", async () => {
  await using temp = await tempKv();
  const { kv, path } = temp;
  const total = 10_000;
  const writer = createKvOutbox(kv);
  for (let start = 0; start < total; start += 100) {
    const tx = kv.atomic();
    for (let n = start; n < start + 100; n++) {
      // One in five has no key; the others spread over 40 keys.
      writer.add(
        tx,
        OrderPlaced({ orderId: String(n) }),
        n % 5 === 0 ? {} : { orderingKey: `k${n % 50}` },
      );
    }
    deepStrictEqual((await tx.commit()).ok, true);
  }
  const started = Date.now();
  const worker = new URL(
    "./fixtures/outbox_kv_relay_worker.ts",
    import.meta.url,
  ).pathname;
  const children = [0, 1, 2].map(() =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--unstable-kv", worker, path],
      stdout: "piped",
      stderr: "inherit",
    }).spawn()
  );
  const stopAll = () => {
    for (const child of children) {
      try {
        child.kill("SIGTERM");
      } catch {
        // It has exited already.
      }
    }
  };
  // Bounded: a relay that does not stop on SIGTERM is killed, and the
  // counts below say what was missed.
  const timer = setTimeout(stopAll, 45_000);
  const killer = setTimeout(() => {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // It has exited already.
      }
    }
  }, 50_000);
  const counts = new Map<number, number>();
  // Per ordering key: each message's first delivery, with the versionstamp
  // of a write its relay made while delivering it.
  const firstOrder = new Map<string, [number, string][]>();
  await Promise.all(children.map(async (child) => {
    let rest = "";
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        const [orderId, orderingKey, stamp] = line.split(" ");
        const n = Number(orderId);
        const seen = counts.get(n) ?? 0;
        counts.set(n, seen + 1);
        if (seen === 0 && orderingKey !== "null") {
          const list = firstOrder.get(orderingKey!) ?? [];
          list.push([n, stamp!]);
          firstOrder.set(orderingKey!, list);
        }
      }
      if (counts.size === total) stopAll();
    }
    await child.status;
  }));
  clearTimeout(timer);
  clearTimeout(killer);
  const elapsedMs = Date.now() - started;
  const duplicates = [...counts.values()].reduce(
    (sum, count) => sum + count - 1,
    0,
  );
  console.log(
    `kv: ${total} messages, 3 relays, ${duplicates} duplicates (${elapsedMs} ms)`,
  );
  deepStrictEqual(counts.size, total);
  for (const [key, deliveries] of firstOrder) {
    const list = deliveries.sort(([, a], [, b]) => a < b ? -1 : 1)
      .map(([n]) => n);
    deepStrictEqual(
      list.every((n, index) => index === 0 || n > list[index - 1]!),
      true,
      `key ${key} out of order: ${list.join(" ")}`,
    );
  }
  deepStrictEqual(firstOrder.size, 40);
});

Deno.test("createKvInbox() records an id once, in the caller's operation", async () => {
  await using temp = await tempKv();
  const { kv } = temp;
  const inbox = createKvInbox(kv, { prefix: ["handled"], expireInMs: 60_000 });
  deepStrictEqual(await inbox.has("m1"), false);
  const first = await inbox.record(kv.atomic().set(["effect"], 1), "m1")
    .commit();
  deepStrictEqual(first.ok, true);
  const again = await inbox.record(kv.atomic().set(["effect"], 2), "m1")
    .commit();
  deepStrictEqual(again.ok, false);
  deepStrictEqual((await kv.get(["effect"])).value, 1);
  deepStrictEqual(await inbox.has("m1"), true);
  deepStrictEqual(
    (await kv.get(["handled", "m1"])).versionstamp !== null,
    true,
  );
  throws(
    () => inbox.record(kv as never, "m2"),
    new TypeError(
      "Cannot record() in the inbox as its first argument must be a Deno.AtomicOperation (kv.atomic()): current value is the Deno.Kv",
    ),
  );
  throws(
    () => createKvInbox(kv, { expireInMs: 0 }),
    new RangeError(
      "Cannot createKvInbox() as 'expireInMs' must be a positive integer: current value is 0",
    ),
  );
});
