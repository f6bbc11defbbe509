/**
 * A modular monolith in one process: the users, orders, inventory and
 * notifications modules of examples/modules.ts, which know each other only
 * through message definitions, on one asynchronous bus, each registered
 * through a session of its own. examples/distributed/ runs the same module
 * code across processes.
 *
 * Run it with `deno task demo`: it records every dispatch to `./recordings`,
 * then prints the latency table and writes an HTML report of the recording.
 *
 * @module
 */

import {
  type AsyncMiddleware,
  createAsyncBus,
  type Middleware,
} from "../mod.ts";
import {
  createLatencyStats,
  jsonlStore,
  latency,
  readRecording,
  recorder,
} from "../src/observability/mod.ts";
import { renderReport } from "../src/observability/report.ts";
import {
  inventoryModule,
  notificationsModule,
  Orders,
  ordersModule,
  Users,
  usersModule,
} from "./modules.ts";

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
export async function runDemo(
  middleware: readonly (Middleware | AsyncMiddleware)[] = [],
): Promise<DemoReport> {
  const trace: string[] = [];
  // Subscribers run concurrently, so nesting is read from causation (the
  // dispatch that caused this one) rather than from a depth counter.
  const depths = new Map<string, number>();
  const tracing: Middleware = (message, next, context) => {
    const cause = context.causationId;
    const depth = cause === undefined ? 0 : (depths.get(cause) ?? -1) + 1;
    depths.set(context.id, depth);
    trace.push(
      `${"  ".repeat(depth)}${message.kind.padEnd(7)} ${message.type} ${
        JSON.stringify(message.payload)
      }`,
    );
    return next(message);
  };

  const bus = createAsyncBus({ middleware: [...middleware, tracing] });
  const outbox: string[] = [];
  // One session per module: what a module's subscribers dispatch is drawn
  // as coming from that module.
  usersModule(bus.session("users"));
  ordersModule(bus.session("orders"));
  inventoryModule(bus.session("inventory"));
  notificationsModule(bus.session("notifications"), outbox);

  await bus.execute(
    Users.RegisterUser({ userId: "u1", email: "ada@example.com" }),
  );
  for (
    const order of [
      { orderId: "o1", userId: "u1", sku: "book" },
      { orderId: "o2", userId: "u1", sku: "lamp" },
      { orderId: "o3", userId: "u9", sku: "book" },
    ]
  ) {
    await bus.execute(Orders.PlaceOrder(order));
  }
  return { trace, outbox };
}

if (import.meta.main) {
  const store = jsonlStore({ dir: "./recordings" });
  const stats = createLatencyStats();
  const { trace, outbox } = await runDemo([recorder(store), latency(stats)]);
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
