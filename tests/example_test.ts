import { deepStrictEqual } from "node:assert/strict";
import { runDemo } from "../examples/modular_monolith.ts";

Deno.test("the modular monolith example registers, orders and notifies through the bus", () => {
  const { trace, outbox } = runDemo();
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
