/**
 * The dispatcher of the distributed demo: registers a user and places three
 * orders, like the in-process demo, on a NATS bus whose handlers live in the
 * worker processes. It prints which process serves each query and command,
 * what it dispatches, the events it hears (events fan out to every
 * subscriber, this process included) and the emails the notifications
 * module sent. Start the workers first (see examples/distributed/main.ts).
 *
 * ```sh
 * NATS_URL=127.0.0.1:4222 deno run --allow-net --allow-env=NATS_URL \
 *   --allow-sys=hostname examples/distributed/dispatcher.ts
 * ```
 *
 * @module
 */

import type { EventDefinition, Middleware } from "../../mod.ts";
import { createNatsBus } from "../../src/transports/nats/mod.ts";
import { Inventory, Notifications, Orders, Users } from "../modules.ts";
import { DEMO_PREFIX, natsUrl } from "./settings.ts";

/** How long the dispatcher waits for the emails its orders cause. */
const EMAILS_WAIT_MS = 10_000;

const line = (message: { kind: string; type: string; payload: unknown }) =>
  `${message.kind.padEnd(7)} ${message.type} ${
    JSON.stringify(message.payload)
  }`;

if (import.meta.main) {
  // `middleware` wraps what this process dispatches (the handlers run
  // elsewhere); the workers' `handlerMiddleware` wraps what they handle.
  const tracing: Middleware = (message, next) => {
    console.log(`dispatches ${line(message)}`);
    return next(message);
  };
  await using bus = await createNatsBus({
    servers: natsUrl(),
    prefix: DEMO_PREFIX,
    name: "demo dispatcher",
    middleware: [tracing],
  });

  // Every event reaches this subscriber as well as the modules' own.
  const heard: string[] = [];
  let emailsExpected = 0;
  const emails: string[] = [];
  let dispatched = false;
  const { promise: allSent, resolve: sent } = Promise.withResolvers<void>();
  const checkEmails = () => {
    if (dispatched && emails.length >= emailsExpected) sent();
  };
  const events = [
    Users.UserRegistered,
    Orders.OrderPlaced,
    Orders.OrderRejected,
    Inventory.StockReserved,
    Inventory.OutOfStock,
    Notifications.EmailSent,
  ] as EventDefinition<unknown>[];
  for (const definition of events) {
    bus.subscribe(definition, (event, context) => {
      heard.push(
        `${event.type} ${JSON.stringify(event.payload)} from ${
          context.origin ?? "outside"
        }`,
      );
      // Each registration and each placed order sends one email.
      if (Users.UserRegistered.is(event) || Orders.OrderPlaced.is(event)) {
        emailsExpected++;
      }
      if (Notifications.EmailSent.is(event)) {
        emails.push(`${event.payload.to}: ${event.payload.subject}`);
      }
      checkEmails();
    });
  }
  await bus.ready();

  console.log("Who serves what:");
  for (
    const definition of [
      Users.RegisterUser,
      Users.GetUser,
      Orders.PlaceOrder,
      Inventory.GetStock,
    ]
  ) {
    const served = (await bus.handlersOf(definition)).map((info) =>
      `${info.module} in pid ${info.pid}`
    );
    console.log(
      `  ${definition.name.padEnd(18)} ${served.join(", ") || "nobody"}`,
    );
  }

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

  // Emails are tasks on a JetStream work queue: the commands above resolved
  // once the tasks were stored, not once a worker had sent them.
  dispatched = true;
  checkEmails();
  const timer = setTimeout(sent, EMAILS_WAIT_MS);
  await allSent;
  clearTimeout(timer);

  console.log("Events heard:");
  for (const event of heard) console.log(`  ${event}`);
  console.log("Emails sent:");
  for (const email of emails) console.log(`  ${email}`);
  if (emails.length < emailsExpected) {
    console.error(
      `Only ${emails.length} of ${emailsExpected} emails were sent within ${EMAILS_WAIT_MS} ms`,
    );
    Deno.exitCode = 1;
  }
}
