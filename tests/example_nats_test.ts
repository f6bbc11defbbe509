// The distributed demo (examples/distributed/main.ts) run as `deno task
// demo:nats` runs it: a launcher, two worker processes and a dispatcher,
// against a nats-server of the test's own, or one the launcher starts.
import assert from "node:assert/strict";
import { startNatsServer } from "./_nats_server.ts";

const root = new URL("..", import.meta.url);

async function runDemo(url: string): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "examples/distributed/main.ts", url],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, `${stdout}\n${stderr}`);
  return stdout;
}

/** The lines a process of the demo printed, without its name. */
function linesOf(stdout: string, name: string): string[] {
  const prefix = `${name.padEnd(10)} | `;
  return stdout.split("\n").filter((line) => line.startsWith(prefix)).map((
    line,
  ) => line.slice(prefix.length));
}

function pidOf(lines: string[], modules: string): string {
  const ready = lines.find((line) => line.startsWith(`ready: ${modules} in`));
  const pid = ready?.match(/in pid (\d+)$/)?.[1];
  assert.ok(pid, `no ready line for ${modules} in ${lines.join("\n")}`);
  return pid;
}

Deno.test("the distributed demo serves each module from its own worker process", async () => {
  await using server = await startNatsServer();
  const stdout = await runDemo(server.url);
  assert.match(
    stdout,
    new RegExp(`^nats-server: using the one at ${server.url}$`, "m"),
  );

  const workerA = linesOf(stdout, "worker-a");
  const workerB = linesOf(stdout, "worker-b");
  const dispatcher = linesOf(stdout, "dispatcher");
  const pidA = pidOf(workerA, "users, inventory");
  const pidB = pidOf(workerB, "orders, notifications");
  assert.notEqual(pidA, pidB);

  // The dispatcher asked the server who serves what: the workers' modules.
  for (
    const [type, module, pid] of [
      ["users.RegisterUser", "users", pidA],
      ["users.GetUser", "users", pidA],
      ["orders.PlaceOrder", "orders", pidB],
      ["inventory.GetStock", "inventory", pidA],
    ] as const
  ) {
    assert.ok(
      dispatcher.includes(`  ${type.padEnd(18)} ${module} in pid ${pid}`),
      `${type} served by ${module} in ${pid}:\n${dispatcher.join("\n")}`,
    );
  }

  // Commands from the dispatcher, and queries from a module in worker-b to
  // one in worker-a, handled in the process that hosts the module only.
  const command =
    'orders.PlaceOrder {"orderId":"o1","userId":"u1","sku":"book"}';
  assert.ok(workerB.includes(`handles command ${command}`));
  assert.ok(!workerA.some((line) => line.includes("orders.PlaceOrder")));
  assert.ok(
    workerA.includes(
      'handles query   users.GetUser {"userId":"u9"} from orders',
    ),
  );
  assert.ok(
    workerA.includes(
      'handles query   inventory.GetStock {"sku":"lamp"} from orders',
    ),
  );
  // An event fans out to both workers' subscribers (inventory and
  // notifications) and to the dispatcher's.
  const event =
    'orders.OrderPlaced {"orderId":"o1","userId":"u1","sku":"book"}';
  assert.ok(workerA.includes(`handles event   ${event} from orders`));
  assert.ok(workerB.includes(`handles event   ${event} from orders`));
  assert.ok(dispatcher.includes(`  ${event} from orders`));
  assert.ok(
    dispatcher.includes(
      '  inventory.StockReserved {"orderId":"o1","sku":"book","left":0} from inventory',
    ),
  );
  for (
    const rejected of [
      '{"orderId":"o2","reason":"sold out"}',
      '{"orderId":"o3","reason":"unknown user"}',
    ]
  ) {
    assert.ok(
      dispatcher.includes(`  orders.OrderRejected ${rejected} from orders`),
    );
  }

  // Emails are tasks, worked in worker-b; the dispatcher hears them sent.
  const emails = [
    "ada@example.com: Welcome!",
    "ada@example.com: Order o1: book",
  ];
  assert.equal(
    workerB.filter((line) =>
      line.startsWith("handles task    notifications.SendEmail")
    ).length,
    2,
  );
  const sent = dispatcher.slice(dispatcher.indexOf("Emails sent:") + 1);
  assert.deepEqual(sent.map((line) => line.trim()).sort(), emails.sort());
  assert.deepEqual(
    workerB.filter((line) => line.startsWith("outbox: ")).sort(),
    emails.map((email) => `outbox: ${email}`).sort(),
  );

  // Both workers drained when the launcher closed their standard input.
  assert.ok(workerA.includes("drained (standard input closed)"));
  assert.ok(workerB.includes("drained (standard input closed)"));
});

Deno.test("the distributed demo starts a nats-server when none answers, and stops it", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closed = listener.addr.port;
  listener.close();

  const stdout = await runDemo(`127.0.0.1:${closed}`);
  const started = stdout.match(
    /^nats-server: started on 127\.0\.0\.1:(\d+) \(pid \d+, store (\S+)\)$/m,
  );
  assert.ok(started, stdout);
  assert.match(stdout, /^dispatcher \| {3}ada@example\.com: Order o1: book$/m);
  assert.match(stdout, /^nats-server: stopped$/m);
  // Gone, with its store.
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: Number(started[1]) }),
    Deno.errors.ConnectionRefused,
  );
  await assert.rejects(Deno.stat(started[2]!), Deno.errors.NotFound);
});
