import { deepStrictEqual } from "node:assert/strict";
import { runOutboxDemo } from "../examples/outbox.ts";

const LINES = [
  "orders: PlaceOrder o1 book -> placed (order and OrderCreated committed together)",
  "orders: PlaceOrder o2 piano -> refused (rolled back: no event)",
  "orders: PlaceOrder o1 lamp -> exists (rolled back: no event)",
  "notifications: OrderCreated o1 emailed",
  "notifications: OrderCreated o1 was handled already: no email",
  "outbox: 0 pending",
];

Deno.test("the outbox demo on Deno KV: the committed order's event is delivered, the rolled-back ones' never, and the redelivery emails nothing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const report = await runOutboxDemo({ kind: "kv", path: `${dir}/demo.kv` });
    deepStrictEqual([report.lines, report.emails], [LINES, [
      "order o1: book, 30",
    ]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the outbox demo on PostgreSQL does the same, in a schema it drops", async () => {
  const schema = `outbox_demo_test_${crypto.randomUUID().slice(0, 8)}`;
  const report = await runOutboxDemo({
    kind: "postgres",
    url: "postgres://postgres@127.0.0.1:5432/test",
    schema,
  });
  deepStrictEqual([report.lines, report.emails], [LINES, [
    "order o1: book, 30",
  ]]);
});

Deno.test("deno task demo:outbox runs the demo on Deno KV", async () => {
  const env = { ...Deno.env.toObject() };
  delete env.DATABASE_URL;
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "demo:outbox"],
    env,
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  deepStrictEqual(output.code, 0, new TextDecoder().decode(output.stderr));
  deepStrictEqual(
    text.split("\n").filter((line) => line.startsWith("  ")).map((line) =>
      line.trim()
    ),
    [...LINES, "order o1: book, 30"],
  );
});
