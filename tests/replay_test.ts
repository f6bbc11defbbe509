import { deepStrictEqual, rejects } from "node:assert/strict";
import {
  createAsyncBus,
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
} from "../mod.ts";
import {
  jsonlStore,
  memoryStore,
  readRecording,
  recorder,
  replay,
} from "../src/observability/mod.ts";
import { createFakeBus } from "../src/testing/mod.ts";

const GetPrice = defineQuery<{ sku: string }, number>("GetPrice");
const Charge = defineCommand<{ amount: number }>("Charge");
const Charged = defineEvent<{ amount: number }>("Charged");

function production() {
  const store = memoryStore();
  const bus = createBus({ middleware: [recorder(store)] });
  bus.registerQuery(GetPrice, (q) => (q.payload.sku === "book" ? 12 : 5));
  bus.registerCommand(Charge, (c) => {
    if (c.payload.amount > 100) throw new RangeError("limit exceeded");
    bus.publish(Charged(c.payload));
  });
  bus.subscribe(Charged, () => {});
  bus.send(GetPrice({ sku: "book" }));
  bus.send(GetPrice({ sku: "pen" }));
  bus.execute(Charge({ amount: 50 }));
  try {
    bus.execute(Charge({ amount: 500 }));
  } catch { /* recorded */ }
  return store.records;
}

Deno.test("replay() reports nothing when the new code behaves the same", async () => {
  const records = production();
  const bus = createBus();
  bus.registerQuery(GetPrice, (q) => (q.payload.sku === "book" ? 12 : 5));
  bus.registerCommand(Charge, (c) => {
    if (c.payload.amount > 100) throw new RangeError("limit exceeded");
  });
  const report = await replay(records, bus, {
    definitions: [GetPrice, Charge, Charged],
  });
  deepStrictEqual(report.total, records.length);
  deepStrictEqual(report.replayed, records.length);
  deepStrictEqual(report.matched, records.length);
  deepStrictEqual([report.differences, report.skipped], [[], []]);
});

Deno.test("replay() reports each changed result and error, with what was expected and what came", async () => {
  const records = production();
  const bus = createAsyncBus();
  bus.registerQuery(
    GetPrice,
    async (q) => await Promise.resolve(q.payload.sku === "book" ? 13 : 5),
  );
  bus.registerCommand(Charge, (c) => {
    if (c.payload.amount > 1000) throw new RangeError("limit exceeded");
  });
  const report = await replay(records, bus, {
    definitions: [GetPrice, Charge, Charged],
  });
  deepStrictEqual(report.matched, records.length - 2);
  deepStrictEqual(
    report.differences.map((
      d,
    ) => [d.index, d.record.type, d.expected, d.actual]),
    [
      [0, "GetPrice", { result: 12, error: null }, { result: 13, error: null }],
      [4, "Charge", {
        result: null,
        error: { name: "RangeError", message: "limit exceeded" },
      }, { result: null, error: null }],
    ],
  );
});

Deno.test("replay() skips records it has no definition for, or of another kind, and says why", async () => {
  const records = production();
  const OtherCharge = defineEvent<{ amount: number }>("Charge");
  const bus = createBus();
  bus.registerQuery(GetPrice, (q) => (q.payload.sku === "book" ? 12 : 5));
  const report = await replay(records, bus, {
    definitions: [GetPrice, OtherCharge],
  });
  deepStrictEqual(report.replayed, 2);
  deepStrictEqual(report.skipped.map((s) => [s.index, s.reason]), [
    // The event is recorded before the command that published it: records
    // are written as dispatches end.
    [2, 'no definition named "Charged" in options.definitions'],
    [3, 'the recording says command "Charge", the definition is an event'],
    [4, 'the recording says command "Charge", the definition is an event'],
  ]);
});

Deno.test("replay() reads a JSONL recording and replays into a fake bus", async () => {
  const dir = await Deno.makeTempDir();
  const store = jsonlStore({ dir });
  const bus = createBus({ middleware: [recorder(store)] });
  bus.registerQuery(GetPrice, () => 12);
  bus.send(GetPrice({ sku: "book" }));
  await store.close();

  const fake = createFakeBus();
  fake.givenQueryResult(GetPrice, 12);
  const report = await replay(readRecording(store.path), fake, {
    definitions: [GetPrice],
  });
  deepStrictEqual([report.total, report.matched], [1, 1]);
  fake.assertSent(GetPrice({ sku: "book" }), { count: 1 });
});

Deno.test("replay() rejects bad definitions", async () => {
  await rejects(replay([], createBus(), {} as never), {
    name: "TypeError",
    message:
      "Cannot replay as 'definitions' must be an array of message definitions: current value is undefined",
  });
  await rejects(
    replay([], createBus(), {
      definitions: [GetPrice, defineQuery("GetPrice")],
    }),
    {
      message:
        "Cannot replay as two definitions in 'definitions' are named \"GetPrice\"",
    },
  );
});
