/**
 * The demo's four modules (users, orders, inventory, notifications) and the
 * contracts they share. Each module is a function of the narrow asynchronous
 * interfaces it needs, so the same code runs on `createAsyncBus()` in one
 * process (examples/modular_monolith.ts) and on `createNatsBus()` spread over
 * several (examples/distributed/).
 *
 * @module
 */

import {
  type AsyncDispatchContext,
  type AsyncHandlerRegistry,
  type AsyncQueryRegistry,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
} from "../mod.ts";

// ---------------------------------------------------------------------------
// Contracts: the only thing modules share. In a real codebase each module
// publishes its contracts from its own `contracts.ts`. Payloads are plain
// JSON, so they cross a process boundary as they are.

/** What the users module tells others about a user. */
export interface UserView {
  readonly userId: string;
  readonly email: string;
}

/** The users module's messages. */
export const Users = {
  RegisterUser: defineCommand<{ userId: string; email: string }>(
    "users.RegisterUser",
  ),
  GetUser: defineQuery<{ userId: string }, UserView | undefined>(
    "users.GetUser",
  ),
  UserRegistered: defineEvent<{ userId: string }>("users.UserRegistered"),
};

/** The orders module's messages. */
export const Orders = {
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

/** The inventory module's messages. */
export const Inventory = {
  GetStock: defineQuery<{ sku: string }, number>("inventory.GetStock"),
  StockReserved: defineEvent<{ orderId: string; sku: string; left: number }>(
    "inventory.StockReserved",
  ),
  OutOfStock: defineEvent<{ orderId: string; sku: string }>(
    "inventory.OutOfStock",
  ),
};

/** The notifications module's messages. */
export const Notifications = {
  SendEmail: defineTask<{ to: string; subject: string }>(
    "notifications.SendEmail",
  ),
  EmailSent: defineEvent<{ to: string; subject: string }>(
    "notifications.EmailSent",
  ),
};

// ---------------------------------------------------------------------------
// Modules: each is a function of the narrow interfaces it needs.

// Handlers dispatch through their context, not the bus: the nested dispatch
// then carries the caller's signal, deadline and data, and the recording
// knows what caused it (the report draws that as the interaction map). They
// await what they dispatch: on one process's bus a command's promise then
// resolves once its subscribers have run too; across a NATS server, once its
// events are sent and its tasks stored, while subscribers and workers in
// other processes carry on.

/** What a module registers its handlers on: a bus or a session of one. */
export type ModuleRegistry = AsyncQueryRegistry & AsyncHandlerRegistry;

/** Keeps users; answers who a user is; tells others when one registers. */
export function usersModule(bus: ModuleRegistry): void {
  const users = new Map<string, UserView>();
  bus.registerCommand(Users.RegisterUser, async ({ payload }, context) => {
    users.set(payload.userId, payload);
    await context.publish(Users.UserRegistered({ userId: payload.userId }));
  });
  bus.registerQuery(Users.GetUser, ({ payload }) => users.get(payload.userId));
}

/** Places an order when its user exists and its item is in stock. */
export function ordersModule(bus: AsyncHandlerRegistry): void {
  bus.registerCommand(Orders.PlaceOrder, async ({ payload }, context) => {
    const { orderId, userId, sku } = payload;
    if (await context.send(Users.GetUser({ userId })) === undefined) {
      await context.publish(
        Orders.OrderRejected({ orderId, reason: "unknown user" }),
      );
      return;
    }
    if (await context.send(Inventory.GetStock({ sku })) === 0) {
      await context.publish(
        Orders.OrderRejected({ orderId, reason: "sold out" }),
      );
      return;
    }
    await context.publish(Orders.OrderPlaced(payload));
  });
}

/** Counts stock, and reserves an item for each order placed. */
export function inventoryModule(bus: ModuleRegistry): void {
  const stock = new Map([["book", 1], ["lamp", 0]]);
  bus.registerQuery(
    Inventory.GetStock,
    ({ payload }) => stock.get(payload.sku) ?? 0,
  );
  bus.subscribe(Orders.OrderPlaced, async ({ payload }, context) => {
    const { orderId, sku } = payload;
    const left = (stock.get(sku) ?? 0) - 1;
    if (left < 0) {
      await context.publish(Inventory.OutOfStock({ orderId, sku }));
      return;
    }
    stock.set(sku, left);
    await context.publish(Inventory.StockReserved({ orderId, sku, left }));
  });
}

/**
 * Emails a user when they register and when they place an order: each email
 * is a task, appended to `outbox` (the stand-in for a mail server) by
 * whichever process works the task queue.
 */
export function notificationsModule(
  bus: AsyncHandlerRegistry,
  outbox: string[],
): void {
  const emailTo = async (
    context: AsyncDispatchContext,
    userId: string,
    subject: string,
  ) => {
    const user = await context.send(Users.GetUser({ userId }));
    if (user) {
      await context.dispatch(
        Notifications.SendEmail({ to: user.email, subject }),
      );
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
  bus.registerTask(Notifications.SendEmail, async ({ payload }, context) => {
    outbox.push(`${payload.to}: ${payload.subject}`);
    await context.publish(Notifications.EmailSent(payload));
  });
}
