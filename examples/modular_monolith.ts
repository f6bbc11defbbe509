/**
 * A modular monolith in one file: users, orders, inventory and notifications
 * modules that know each other only through message definitions, each handed
 * only the narrow part of the bus it needs.
 *
 * Run it with `deno task demo`: it records every dispatch to `./recordings`,
 * then prints the latency table and writes an HTML report of the recording.
 *
 * @module
 */

import {
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  type HandlerRegistry,
  type MessageDispatcher,
  type Middleware,
  type QueryDispatcher,
  type QueryRegistry,
} from "../mod.ts";
import {
  createLatencyStats,
  jsonlStore,
  latency,
  readRecording,
  recorder,
} from "../src/observability/mod.ts";
import { renderReport } from "../src/observability/report.ts";

// ---------------------------------------------------------------------------
// Contracts: the only thing modules share. In a real codebase each module
// publishes its contracts from its own `contracts.ts`.

/** What the users module tells others about a user. */
export interface UserView {
  readonly userId: string;
  readonly email: string;
}

const Users = {
  RegisterUser: defineCommand<{ userId: string; email: string }>(
    "users.RegisterUser",
  ),
  GetUser: defineQuery<{ userId: string }, UserView | undefined>(
    "users.GetUser",
  ),
  UserRegistered: defineEvent<{ userId: string }>("users.UserRegistered"),
};

const Orders = {
  PlaceOrder: defineCommand<{ orderId: string; userId: string; sku: string }>(
    "orders.PlaceOrder",
  ),
  OrderPlaced: defineEvent<{ orderId: string; userId: string; sku: string }>(
    "orders.OrderPlaced",
  ),
  OrderRejected: defineEvent<{ orderId: string; reason: string }>(
    "orders.OrderRejected",
  ),
};

const Inventory = {
  GetStock: defineQuery<{ sku: string }, number>("inventory.GetStock"),
  StockReserved: defineEvent<{ orderId: string; sku: string; left: number }>(
    "inventory.StockReserved",
  ),
  OutOfStock: defineEvent<{ orderId: string; sku: string }>(
    "inventory.OutOfStock",
  ),
};

const Notifications = {
  SendEmail: defineTask<{ to: string; subject: string }>(
    "notifications.SendEmail",
  ),
};

// ---------------------------------------------------------------------------
// Modules: each is a function of the narrow interfaces it needs.

// Handlers dispatch through their context, not the bus: the nested dispatch
// then carries the caller's signal, deadline and data, and the recording
// knows what caused it (the report draws that as the interaction map).

function usersModule(bus: QueryRegistry & HandlerRegistry): void {
  const users = new Map<string, UserView>();
  bus.registerCommand(Users.RegisterUser, ({ payload }, context) => {
    users.set(payload.userId, payload);
    context.publish(Users.UserRegistered({ userId: payload.userId }));
  });
  bus.registerQuery(Users.GetUser, ({ payload }) => users.get(payload.userId));
}

function ordersModule(bus: HandlerRegistry): void {
  bus.registerCommand(Orders.PlaceOrder, ({ payload }, context) => {
    if (context.send(Users.GetUser({ userId: payload.userId })) === undefined) {
      context.publish(
        Orders.OrderRejected({
          orderId: payload.orderId,
          reason: "unknown user",
        }),
      );
      return;
    }
    if (context.send(Inventory.GetStock({ sku: payload.sku })) === 0) {
      context.publish(
        Orders.OrderRejected({ orderId: payload.orderId, reason: "sold out" }),
      );
      return;
    }
    context.publish(Orders.OrderPlaced(payload));
  });
}

function inventoryModule(bus: QueryRegistry & HandlerRegistry): void {
  const stock = new Map([["book", 1], ["lamp", 0]]);
  bus.registerQuery(
    Inventory.GetStock,
    ({ payload }) => stock.get(payload.sku) ?? 0,
  );
  bus.subscribe(Orders.OrderPlaced, ({ payload }, context) => {
    const left = (stock.get(payload.sku) ?? 0) - 1;
    if (left < 0) {
      context.publish(
        Inventory.OutOfStock({ orderId: payload.orderId, sku: payload.sku }),
      );
      return;
    }
    stock.set(payload.sku, left);
    context.publish(
      Inventory.StockReserved({
        orderId: payload.orderId,
        sku: payload.sku,
        left,
      }),
    );
  });
}

function notificationsModule(bus: HandlerRegistry, outbox: string[]): void {
  const emailTo = (
    context: QueryDispatcher & MessageDispatcher,
    userId: string,
    subject: string,
  ) => {
    const user = context.send(Users.GetUser({ userId }));
    if (user) {
      context.dispatch(Notifications.SendEmail({ to: user.email, subject }));
    }
  };
  bus.subscribe(
    Users.UserRegistered,
    ({ payload }, context) => emailTo(context, payload.userId, "Welcome!"),
  );
  bus.subscribe(
    Orders.OrderPlaced,
    ({ payload }, context) =>
      emailTo(
        context,
        payload.userId,
        `Order ${payload.orderId}: ${payload.sku}`,
      ),
  );
  bus.registerTask(Notifications.SendEmail, ({ payload }) => {
    outbox.push(`${payload.to}: ${payload.subject}`);
  });
}

// ---------------------------------------------------------------------------
// The application: one bus, a tracing middleware, four modules.

/** What the demo did: every dispatch, indented by nesting, and the outbox. */
export interface DemoReport {
  readonly trace: readonly string[];
  readonly outbox: readonly string[];
}

/**
 * Wires the modules to one bus, runs a short scenario and returns what
 * happened. `middleware` runs outside the demo's own tracing.
 */
export function runDemo(middleware: readonly Middleware[] = []): DemoReport {
  const trace: string[] = [];
  let depth = 0;
  const tracing: Middleware = (message, next) => {
    trace.push(
      `${"  ".repeat(depth)}${message.kind.padEnd(7)} ${message.type} ${
        JSON.stringify(message.payload)
      }`,
    );
    depth++;
    try {
      return next(message);
    } finally {
      depth--;
    }
  };

  const bus = createBus({ middleware: [...middleware, tracing] });
  const outbox: string[] = [];
  // One session per module: what a module's subscribers dispatch is drawn
  // as coming from that module.
  usersModule(bus.session("users"));
  ordersModule(bus.session("orders"));
  inventoryModule(bus.session("inventory"));
  notificationsModule(bus.session("notifications"), outbox);

  bus.execute(Users.RegisterUser({ userId: "u1", email: "ada@example.com" }));
  bus.execute(Orders.PlaceOrder({ orderId: "o1", userId: "u1", sku: "book" }));
  bus.execute(Orders.PlaceOrder({ orderId: "o2", userId: "u1", sku: "lamp" }));
  bus.execute(Orders.PlaceOrder({ orderId: "o3", userId: "u9", sku: "book" }));
  return { trace, outbox };
}

if (import.meta.main) {
  const store = jsonlStore({ dir: "./recordings" });
  const stats = createLatencyStats();
  const { trace, outbox } = runDemo([recorder(store), latency(stats)]);
  console.log("Dispatches (nested ones indented):");
  for (const line of trace) console.log(`  ${line}`);
  console.log("\nEmails sent:");
  for (const line of outbox) console.log(`  ${line}`);

  await store.close();
  const records = [];
  for await (const record of readRecording(store.path)) records.push(record);
  const report = renderReport(records, { title: "Modular monolith demo" });
  const htmlPath = store.path.replace(/\.jsonl$/, ".html");
  await Deno.writeTextFile(htmlPath, report.html);
  console.log(`\nLatency per message type (${stats.all().length} types):`);
  console.log(report.table);
  console.log(`\nRecording: ${store.path} (${store.written} records)`);
  console.log(`Report:    ${htmlPath}`);
}
