import { deepStrictEqual } from "node:assert/strict";
import { runDemo } from "../examples/modular_monolith.ts";
import { memoryStore, recorder } from "../src/observability/mod.ts";
import { interactionMap } from "../src/observability/report.ts";

Deno.test("the modular monolith example registers, orders and notifies through the bus", async () => {
  const { trace, outbox } = await runDemo();
  deepStrictEqual(outbox, [
    "ada@example.com: Welcome!",
    "ada@example.com: Order o1: book",
  ]);
  deepStrictEqual(trace.filter((line) => !line.startsWith(" ")), [
    'command users.RegisterUser {"userId":"u1","email":"ada@example.com"}',
    'command orders.PlaceOrder {"orderId":"o1","userId":"u1","sku":"book"}',
    'command orders.PlaceOrder {"orderId":"o2","userId":"u1","sku":"lamp"}',
    'command orders.PlaceOrder {"orderId":"o3","userId":"u9","sku":"book"}',
  ]);
  deepStrictEqual(
    trace.filter((line) => line.includes("OrderRejected")).map((line) =>
      line.trim()
    ),
    [
      'event   orders.OrderRejected {"orderId":"o2","reason":"sold out"}',
      'event   orders.OrderRejected {"orderId":"o3","reason":"unknown user"}',
    ],
  );
  deepStrictEqual(
    trace.includes(
      '    event   inventory.StockReserved {"orderId":"o1","sku":"book","left":0}',
    ),
    true,
  );
});

Deno.test("the demo's recording draws the interaction map of its four modules", async () => {
  const store = memoryStore();
  await runDemo([recorder(store)]);
  const map = interactionMap(store.records);
  deepStrictEqual(map.modules.map((module) => module.name), [
    "inventory",
    "notifications",
    "orders",
    "users",
  ]);
  const edges = new Set(map.edges.map((edge) => `${edge.from}->${edge.to}`));
  for (
    const expected of [
      "orders->users", // PlaceOrder asks GetUser
      "orders->inventory", // PlaceOrder asks GetStock
      "inventory->inventory", // inventory's subscriber publishes StockReserved
      "notifications->users", // notifications' subscriber asks GetUser
      "notifications->notifications", // and dispatches SendEmail
    ]
  ) {
    deepStrictEqual(edges.has(expected), true, `${expected} in ${[...edges]}`);
  }
});
