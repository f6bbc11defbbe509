import { deepStrictEqual, rejects, throws } from "node:assert/strict";
import {
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  NoHandlerError,
} from "../mod.ts";
import {
  AssertionError,
  createAsyncFakeBus,
  createFakeBus,
} from "../src/testing/mod.ts";

const GetUser = defineQuery<{ id: string }, string>("GetUser");
const CreateOrder = defineCommand<{ items: string[] }>("CreateOrder");
const OrderCreated = defineEvent<{ orderId: string }>("OrderCreated");
const SendEmail = defineTask<{ to: string }>("SendEmail");

Deno.test("createFakeBus() records every dispatch in order, handled or not", () => {
  const bus = createFakeBus();
  bus.givenQueryResult(GetUser, "Ada");
  bus.send(GetUser({ id: "1" }));
  bus.execute(CreateOrder({ items: ["a"] }));
  bus.publish(OrderCreated({ orderId: "o-1" }));
  bus.dispatch(SendEmail({ to: "x" }));
  bus.dispatch(SendEmail({ to: "y" }));
  deepStrictEqual(bus.sentQueries.map((m) => m.payload), [{ id: "1" }]);
  deepStrictEqual(bus.executedCommands.map((m) => m.payload), [{
    items: ["a"],
  }]);
  deepStrictEqual(bus.publishedEvents.map((m) => m.payload), [{
    orderId: "o-1",
  }]);
  deepStrictEqual(bus.dispatchedTasks.map((m) => m.payload), [{ to: "x" }, {
    to: "y",
  }]);
});

Deno.test("createFakeBus() answers queries with a given value or function", () => {
  const bus = createFakeBus();
  bus.givenQueryResult(GetUser, "Ada");
  deepStrictEqual(bus.send(GetUser({ id: "1" })), "Ada");
  bus.givenQueryResult(GetUser, (q) => `user ${q.payload.id}`);
  deepStrictEqual(bus.send(GetUser({ id: "2" })), "user 2");
});

Deno.test("createFakeBus() prefers a given result to a registered handler", () => {
  const bus = createFakeBus();
  bus.registerQuery(GetUser, () => "from handler");
  deepStrictEqual(bus.send(GetUser({ id: "1" })), "from handler");
  bus.givenQueryResult(GetUser, "given");
  deepStrictEqual(bus.send(GetUser({ id: "1" })), "given");
  bus.reset();
  deepStrictEqual(bus.send(GetUser({ id: "1" })), "from handler");
});

Deno.test("createFakeBus() fails a query with no result and no handler, saying how to give one", () => {
  const bus = createFakeBus();
  throws(() => bus.send(GetUser({ id: "1" })), (error) => {
    deepStrictEqual(error instanceof NoHandlerError, true);
    deepStrictEqual(
      (error as Error).message,
      'No handler for query "GetUser": give it a result with givenQueryResult(GetUser, result) or register a handler with registerQuery()',
    );
    return true;
  });
  deepStrictEqual(bus.sentQueries.length, 1);
});

Deno.test("createFakeBus() runs handlers the module registered, and stops after removal", () => {
  const bus = createFakeBus();
  const ran: string[] = [];
  const off = bus.registerCommand(CreateOrder, (c) => {
    ran.push(c.payload.items.join());
    bus.publish(OrderCreated({ orderId: "o" }));
  });
  bus.subscribe(OrderCreated, (e) => {
    ran.push(e.payload.orderId);
  });
  bus.execute(CreateOrder({ items: ["a"] }));
  deepStrictEqual(ran, ["a", "o"]);
  off();
  bus.execute(CreateOrder({ items: ["b"] }));
  deepStrictEqual(ran, ["a", "o"]);
  deepStrictEqual(bus.executedCommands.length, 2);
});

Deno.test("createFakeBus() keeps the real bus's errors for misuse", () => {
  const bus = createFakeBus();
  bus.registerTask(SendEmail, () => {});
  throws(() => bus.registerTask(SendEmail, () => {}), {
    name: "DuplicateHandlerError",
  });
  throws(() => bus.send(CreateOrder({ items: [] }) as never), {
    name: "TypeError",
    message: /use execute\(\) for a command/,
  });
  const failure = new Error("subscriber failed");
  bus.subscribe(OrderCreated, () => {
    throw failure;
  });
  throws(
    () => bus.publish(OrderCreated({ orderId: "o" })),
    (e) => e === failure,
  );
});

Deno.test("fake assertions pass on matching messages, by definition or by payload", () => {
  const bus = createFakeBus();
  bus.execute(CreateOrder({ items: ["a"] }));
  bus.execute(CreateOrder({ items: ["b"] }));
  bus.publish(OrderCreated({ orderId: "o-1" }));
  bus.dispatch(SendEmail({ to: "x" }));
  bus.givenQueryResult(GetUser, "x");
  bus.send(GetUser({ id: "1" }));
  bus.assertExecuted(CreateOrder);
  bus.assertExecuted(CreateOrder, { count: 2 });
  bus.assertExecuted(CreateOrder({ items: ["b"] }), { count: 1 });
  bus.assertPublished(OrderCreated({ orderId: "o-1" }));
  bus.assertDispatched(SendEmail({ to: "x" }));
  bus.assertSent(GetUser({ id: "1" }), { count: 1 });
  bus.assertSent(GetUser({ id: "2" }), { count: 0 });
  // Plain messages (as parsed from JSON) match too.
  bus.assertPublished({
    kind: "event",
    type: "OrderCreated",
    payload: { orderId: "o-1" },
  });
});

Deno.test("fake assertions fail saying what was expected and listing what was recorded", () => {
  const bus = createFakeBus();
  bus.publish(OrderCreated({ orderId: "o-1" }));
  bus.publish(OrderCreated({ orderId: "o-2" }));
  throws(() => bus.assertPublished(OrderCreated({ orderId: "o-3" })), {
    name: "AssertionError",
    message:
      'Expected OrderCreated { orderId: "o-3" } to be published at least once, but it was never published.\n' +
      "2 events were published:\n" +
      '  1. OrderCreated { orderId: "o-1" }\n' +
      '  2. OrderCreated { orderId: "o-2" }',
  });
  throws(() => bus.assertPublished(OrderCreated, { count: 1 }), {
    name: "AssertionError",
    message:
      /^Expected event "OrderCreated" to be published once, but it was published 2 times\./,
  });
  throws(() => bus.assertExecuted(CreateOrder), {
    message:
      'Expected command "CreateOrder" to be executed at least once, but it was never executed.\nNo commands were executed.',
  });
  throws(() => bus.assertNothingPublished(), (error) => {
    deepStrictEqual(error instanceof AssertionError, true);
    deepStrictEqual(
      (error as Error).message,
      'Expected no events to be published.\n2 events were published:\n  1. OrderCreated { orderId: "o-1" }\n  2. OrderCreated { orderId: "o-2" }',
    );
    return true;
  });
  throws(() => bus.assertDispatched(SendEmail({ to: "x" }), { count: 2 }), {
    message:
      /^Expected SendEmail { to: "x" } to be dispatched 2 times, but it was never dispatched\.\nNo tasks were dispatched\.$/,
  });
  throws(() => bus.assertSent(GetUser), AssertionError);
});

Deno.test("fake assertions reject the wrong kind and a bad count", () => {
  const bus = createFakeBus();
  throws(() => bus.assertSent(CreateOrder as never), {
    name: "TypeError",
    message:
      'Cannot assertSent() command "CreateOrder": it checks queries; use assertExecuted() for a command',
  });
  throws(() => bus.assertPublished(SendEmail({ to: "x" }) as never), {
    name: "TypeError",
    message: /use assertDispatched\(\) for a task/,
  });
  throws(() => bus.assertExecuted(CreateOrder, { count: -1 }), {
    name: "RangeError",
    message:
      "Cannot assertExecuted() as 'count' must be a non-negative integer: current value is -1",
  });
  throws(() => bus.assertExecuted("CreateOrder" as never), {
    name: "TypeError",
    message: /Cannot assertExecuted\(\) the string "CreateOrder"/,
  });
  throws(() => bus.givenQueryResult(CreateOrder as never, 1), {
    name: "TypeError",
    message:
      'Cannot givenQueryResult() for command "CreateOrder": it takes a query definition from defineQuery()',
  });
});

Deno.test("fake reset() forgets records and given results, keeps handlers", () => {
  const bus = createFakeBus();
  const recorded = bus.publishedEvents;
  let heard = 0;
  bus.subscribe(OrderCreated, () => {
    heard++;
  });
  bus.givenQueryResult(GetUser, "x");
  bus.send(GetUser({ id: "1" }));
  bus.publish(OrderCreated({ orderId: "o" }));
  bus.reset();
  deepStrictEqual(bus.sentQueries.length, 0);
  deepStrictEqual(recorded.length, 0);
  bus.assertNothingPublished();
  throws(() => bus.send(GetUser({ id: "1" })), NoHandlerError);
  bus.publish(OrderCreated({ orderId: "o" }));
  deepStrictEqual(heard, 2);
  deepStrictEqual(recorded.length, 1);
});

Deno.test("createAsyncFakeBus() records, answers with values or async functions, and asserts", async () => {
  const bus = createAsyncFakeBus();
  bus.givenQueryResult(
    GetUser,
    async (q) => await Promise.resolve(`user ${q.payload.id}`),
  );
  deepStrictEqual(await bus.send(GetUser({ id: "1" })), "user 1");
  bus.givenQueryResult(GetUser, "plain");
  deepStrictEqual(await bus.send(GetUser({ id: "2" })), "plain");
  deepStrictEqual(await bus.execute(CreateOrder({ items: [] })), undefined);
  deepStrictEqual(await bus.dispatch(SendEmail({ to: "x" })), undefined);
  let heard = "";
  bus.subscribe(OrderCreated, async (e) => {
    await Promise.resolve();
    heard = e.payload.orderId;
  });
  await bus.publish(OrderCreated({ orderId: "o-9" }));
  deepStrictEqual(heard, "o-9");
  bus.assertSent(GetUser, { count: 2 });
  bus.assertExecuted(CreateOrder({ items: [] }));
  bus.assertDispatched(SendEmail);
  bus.assertPublished(OrderCreated({ orderId: "o-9" }), { count: 1 });
  throws(() => bus.assertNothingPublished(), AssertionError);
  bus.reset();
  await rejects(bus.send(GetUser({ id: "1" })), NoHandlerError);
  bus.assertNothingPublished();
});

Deno.test("createAsyncFakeBus() runs registered async handlers and passes their errors", async () => {
  const bus = createAsyncFakeBus();
  const failure = new Error("handler failed");
  bus.registerCommand(CreateOrder, async () => {
    await Promise.resolve();
    throw failure;
  });
  await rejects(bus.execute(CreateOrder({ items: [] })), (e) => e === failure);
  bus.registerQuery(GetUser, async (q) => await Promise.resolve(q.payload.id));
  deepStrictEqual(await bus.send(GetUser({ id: "z" })), "z");
  bus.assertExecuted(CreateOrder, { count: 1 });
});
