import { deepStrictEqual, rejects, throws } from "node:assert/strict";
import {
  type CommandMessage,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  type EventMessage,
  type MessageKind,
  NoHandlerError,
  type QueryMessage,
  type TaskMessage,
} from "../mod.ts";
import {
  AssertionError,
  type AssertOptions,
  createAsyncFakeBus,
  createFakeBus,
  type FakeBus,
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
  bus.assertExecuted(CreateOrder, { atLeast: 1 });
  bus.assertExecuted(CreateOrder, { count: 2 });
  bus.assertExecuted(CreateOrder({ items: ["b"] }));
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
      'Expected OrderCreated { orderId: "o-3" } to be published once, but it was never published.\n' +
      "2 events were published:\n" +
      '  1. OrderCreated { orderId: "o-1" }\n' +
      '  2. OrderCreated { orderId: "o-2" }',
  });
  throws(() => bus.assertPublished(OrderCreated, { count: 1 }), {
    name: "AssertionError",
    message:
      /^Expected event "OrderCreated" to be published once, but it was published 2 times\./,
  });
  throws(() => bus.assertPublished(OrderCreated, { atLeast: 3 }), {
    name: "AssertionError",
    message:
      /^Expected event "OrderCreated" to be published at least 3 times, but it was published 2 times\.\n2 events were published:\n/,
  });
  throws(() => bus.assertExecuted(CreateOrder), {
    message:
      'Expected command "CreateOrder" to be executed once, but it was never executed.\nNo commands were executed.',
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
      'Cannot givenQueryResult() for command "CreateOrder": it takes a query definition from defineQuery(); use givenCommandResult() for a command',
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

const PlaceOrder = defineCommand<{ sku: string }, string>("PlaceOrder");

// One dispatch of each kind, with what each kind's assertions are called.
const KINDS: readonly {
  kind: MessageKind;
  plural: string;
  verb: string;
  dispatch: (bus: FakeBus, n: number) => void;
  assert: (bus: FakeBus, options?: AssertOptions) => void;
  assertNothing: (bus: FakeBus) => void;
  method: string;
  /** How the message `dispatch(bus, 1)` records is listed. */
  first: string;
}[] = [
  {
    kind: "query",
    plural: "queries",
    verb: "sent",
    dispatch: (bus, n) => {
      bus.givenQueryResult(GetUser, "x");
      bus.send(GetUser({ id: `${n}` }));
    },
    assert: (bus, options) => bus.assertSent(GetUser, options),
    assertNothing: (bus) => bus.assertNothingSent(),
    method: "assertSent",
    first: 'GetUser { id: "1" }',
  },
  {
    kind: "command",
    plural: "commands",
    verb: "executed",
    dispatch: (bus, n) => bus.execute(CreateOrder({ items: [`${n}`] })),
    assert: (bus, options) => bus.assertExecuted(CreateOrder, options),
    assertNothing: (bus) => bus.assertNothingExecuted(),
    method: "assertExecuted",
    first: 'CreateOrder { items: [ "1" ] }',
  },
  {
    kind: "event",
    plural: "events",
    verb: "published",
    dispatch: (bus, n) => bus.publish(OrderCreated({ orderId: `${n}` })),
    assert: (bus, options) => bus.assertPublished(OrderCreated, options),
    assertNothing: (bus) => bus.assertNothingPublished(),
    method: "assertPublished",
    first: 'OrderCreated { orderId: "1" }',
  },
  {
    kind: "task",
    plural: "tasks",
    verb: "dispatched",
    dispatch: (bus, n) => bus.dispatch(SendEmail({ to: `${n}` })),
    assert: (bus, options) => bus.assertDispatched(SendEmail, options),
    assertNothing: (bus) => bus.assertNothingDispatched(),
    method: "assertDispatched",
    first: 'SendEmail { to: "1" }',
  },
];

Deno.test("fake assertions mean exactly once by default, for every kind", () => {
  for (const { kind, verb, dispatch, assert } of KINDS) {
    const bus = createFakeBus();
    throws(() => assert(bus), {
      name: "AssertionError",
      message: new RegExp(
        `^Expected ${kind} "\\w+" to be ${verb} once, but it was never ${verb}\\.\\n`,
      ),
    });
    dispatch(bus, 1);
    assert(bus);
    dispatch(bus, 2);
    throws(() => assert(bus), {
      name: "AssertionError",
      message: new RegExp(
        `^Expected ${kind} "\\w+" to be ${verb} once, but it was ${verb} 2 times\\.\\n2 \\w+ were ${verb}:\\n  1\\. `,
      ),
    });
  }
});

Deno.test("fake assertions take an exact count, 0 included, or atLeast", () => {
  for (const { kind, verb, dispatch, assert } of KINDS) {
    const bus = createFakeBus();
    assert(bus, { count: 0 });
    dispatch(bus, 1);
    throws(() => assert(bus, { count: 0 }), {
      message: new RegExp(
        `^Expected ${kind} "\\w+" to be ${verb} 0 times, but it was ${verb} once\\.`,
      ),
    });
    assert(bus, { atLeast: 1 });
    throws(() => assert(bus, { atLeast: 2 }), {
      message: new RegExp(
        `^Expected ${kind} "\\w+" to be ${verb} at least 2 times, but it was ${verb} once\\.`,
      ),
    });
    dispatch(bus, 2);
    dispatch(bus, 3);
    assert(bus, { count: 3 });
    assert(bus, { atLeast: 2 });
    assert(bus, { atLeast: 3 });
    throws(() => assert(bus, { count: 2 }), AssertionError);
    throws(() => assert(bus, { atLeast: 4 }), AssertionError);
  }
  const bus = createFakeBus();
  throws(() => bus.assertPublished(OrderCreated, { atLeast: 1 }), {
    message:
      'Expected event "OrderCreated" to be published at least once, but it was never published.\nNo events were published.',
  });
});

Deno.test("fake assertion options: both is a TypeError, bad numbers are RangeErrors naming the option", () => {
  const bus = createFakeBus();
  for (const { method, assert } of KINDS) {
    throws(() => assert(bus, { count: 1, atLeast: 1 } as never), {
      name: "TypeError",
      message: `Cannot ${method}() with both 'count' and 'atLeast': give one`,
    });
    for (
      const [count, shown] of [[-1, "-1"], [1.5, "1.5"], [NaN, "NaN"], [
        Infinity,
        "Infinity",
      ], ["2", '"2"']] as const
    ) {
      throws(() => assert(bus, { count } as never), {
        name: "RangeError",
        message:
          `Cannot ${method}() as 'count' must be a non-negative integer: current value is ${shown}`,
      });
    }
    for (const [atLeast, shown] of [[0, "0"], [-2, "-2"], [0.5, "0.5"]]) {
      throws(() => assert(bus, { atLeast } as never), {
        name: "RangeError",
        message:
          `Cannot ${method}() as 'atLeast' must be a positive integer: current value is ${shown}`,
      });
    }
    throws(() => assert(bus, 2 as never), {
      name: "TypeError",
      message:
        `Cannot ${method}() as its options must be an object such as { count: 2 }: current value is the number 2`,
    });
    throws(() => assert(bus, { times: 2 } as never), {
      name: "TypeError",
      message:
        `Cannot ${method}() with option 'times': it takes 'count' or 'atLeast'`,
    });
  }
  // @ts-expect-error count and atLeast exclude each other
  const both: AssertOptions = { count: 1, atLeast: 1 };
  throws(() => bus.assertPublished(OrderCreated, both), TypeError);
});

Deno.test("assertNothingSent/Executed/Published/Dispatched() pass on none and list what was recorded", () => {
  for (const { kind, plural, verb, dispatch, assertNothing, first } of KINDS) {
    const bus = createFakeBus();
    for (const other of KINDS) other.assertNothing(bus);
    // Other kinds do not count.
    for (const other of KINDS) if (other.kind !== kind) other.dispatch(bus, 0);
    assertNothing(bus);
    dispatch(bus, 1);
    throws(() => assertNothing(bus), (error) => {
      deepStrictEqual(error instanceof AssertionError, true);
      deepStrictEqual(
        (error as Error).message,
        `Expected no ${plural} to be ${verb}.\n1 ${kind} was ${verb}:\n  1. ${first}`,
      );
      return true;
    });
    bus.reset();
    assertNothing(bus);
  }
});

Deno.test("sent/executed/published/dispatched() return one definition's messages in order", () => {
  const bus = createFakeBus();
  const OtherEvent = defineEvent<number>("OtherEvent");
  bus.givenQueryResult(GetUser, "x");
  bus.send(GetUser({ id: "1" }));
  bus.execute(CreateOrder({ items: ["a"] }));
  bus.execute(PlaceOrder({ sku: "s" }));
  bus.execute(CreateOrder({ items: ["b"] }));
  bus.publish(OrderCreated({ orderId: "o-1" }));
  bus.publish(OtherEvent(7));
  bus.publish(OrderCreated({ orderId: "o-2" }));
  bus.dispatch(SendEmail({ to: "x" }));

  const queries: QueryMessage<{ id: string }, string>[] = bus.sent(GetUser);
  const commands: CommandMessage<{ items: string[] }, void>[] = bus.executed(
    CreateOrder,
  );
  const events: EventMessage<{ orderId: string }>[] = bus.published(
    OrderCreated,
  );
  const tasks: TaskMessage<{ to: string }>[] = bus.dispatched(SendEmail);
  deepStrictEqual(queries.map((q) => q.payload.id), ["1"]);
  deepStrictEqual(commands.map((c) => c.payload.items), [["a"], ["b"]]);
  deepStrictEqual(events.map((e) => e.payload.orderId), ["o-1", "o-2"]);
  deepStrictEqual(tasks.map((t) => t.payload.to), ["x"]);
  deepStrictEqual(bus.published(OtherEvent).map((e) => e.payload), [7]);
  deepStrictEqual(events[0], bus.publishedEvents[0]);
  // A copy: changing it changes nothing recorded.
  events.length = 0;
  deepStrictEqual(bus.published(OrderCreated).length, 2);
  deepStrictEqual(bus.publishedEvents.length, 3);
  bus.reset();
  deepStrictEqual(bus.published(OrderCreated), []);
  // @ts-expect-error a payload field the definition does not have
  bus.sent(GetUser)[0]?.payload.name;
});

Deno.test("sent/executed/published/dispatched() reject the wrong kind naming the right method, and non-definitions", () => {
  const bus = createFakeBus();
  // @ts-expect-error a command definition given to published()
  throws(() => bus.published(CreateOrder), {
    name: "TypeError",
    message:
      'Cannot published() command "CreateOrder": it reads events; use executed() for a command',
  });
  // @ts-expect-error an event definition given to sent()
  throws(() => bus.sent(OrderCreated), {
    name: "TypeError",
    message:
      'Cannot sent() event "OrderCreated": it reads queries; use published() for an event',
  });
  // @ts-expect-error a query definition given to dispatched()
  throws(() => bus.dispatched(GetUser), {
    name: "TypeError",
    message:
      'Cannot dispatched() query "GetUser": it reads tasks; use sent() for a query',
  });
  // @ts-expect-error a task definition given to executed()
  throws(() => bus.executed(SendEmail), {
    name: "TypeError",
    message:
      'Cannot executed() task "SendEmail": it reads commands; use dispatched() for a task',
  });
  throws(() => bus.published(OrderCreated({ orderId: "o" }) as never), {
    name: "TypeError",
    message:
      'Cannot published() a message (event "OrderCreated"): it takes an event definition from defineEvent()',
  });
  throws(() => bus.executed("CreateOrder" as never), {
    name: "TypeError",
    message:
      'Cannot executed() the string "CreateOrder": it takes a command definition from defineCommand()',
  });
  throws(() => bus.sent((() => "x") as never), {
    name: "TypeError",
    message:
      "Cannot sent() a function: it takes a query definition from defineQuery()",
  });
});

Deno.test("fake assertions reject a plain function that is not a definition", () => {
  const bus = createFakeBus();
  throws(() => bus.assertExecuted(function CreateOrder() {} as never), {
    name: "TypeError",
    message:
      "Cannot assertExecuted() a function: expected a command definition or a command message",
  });
});

Deno.test("createFakeBus() givenCommandResult() answers a command with a value or function, instead of its handler", () => {
  const bus = createFakeBus();
  let handled = 0;
  bus.registerCommand(PlaceOrder, (c) => {
    handled++;
    return `handled ${c.payload.sku}`;
  });
  const fromHandler: string = bus.execute(PlaceOrder({ sku: "a" }));
  deepStrictEqual([fromHandler, handled], ["handled a", 1]);
  bus.givenCommandResult(PlaceOrder, "order-1");
  deepStrictEqual(bus.execute(PlaceOrder({ sku: "b" })), "order-1");
  bus.givenCommandResult(PlaceOrder, (c) => `order-${c.payload.sku}`);
  deepStrictEqual(bus.execute(PlaceOrder({ sku: "c" })), "order-c");
  deepStrictEqual(handled, 1);
  deepStrictEqual(bus.executed(PlaceOrder).map((c) => c.payload.sku), [
    "a",
    "b",
    "c",
  ]);
  bus.reset();
  deepStrictEqual(bus.execute(PlaceOrder({ sku: "d" })), "handled d");
  deepStrictEqual(handled, 2);
  // @ts-expect-error a result of the wrong type
  bus.givenCommandResult(PlaceOrder, 1);
});

Deno.test("createFakeBus() records a command with neither handler nor given result and returns undefined", () => {
  const bus = createFakeBus();
  deepStrictEqual(bus.execute(PlaceOrder({ sku: "a" })), undefined);
  bus.givenCommandResult(PlaceOrder, "given");
  deepStrictEqual(bus.execute(PlaceOrder({ sku: "b" })), "given");
  bus.assertExecuted(PlaceOrder, { count: 2 });
  bus.reset();
  deepStrictEqual(bus.execute(PlaceOrder({ sku: "c" })), undefined);
  bus.assertExecuted(PlaceOrder({ sku: "c" }));
});

Deno.test("givenCommandResult() and givenQueryResult() reject other definitions, naming the right method", () => {
  const bus = createFakeBus();
  throws(() => bus.givenCommandResult(GetUser as never, 1), {
    name: "TypeError",
    message:
      'Cannot givenCommandResult() for query "GetUser": it takes a command definition from defineCommand(); use givenQueryResult() for a query',
  });
  throws(() => bus.givenCommandResult(OrderCreated as never, 1), {
    name: "TypeError",
    message:
      'Cannot givenCommandResult() for event "OrderCreated": it takes a command definition from defineCommand()',
  });
  throws(() => bus.givenCommandResult(PlaceOrder({ sku: "a" }) as never, 1), {
    name: "TypeError",
    message:
      'Cannot givenCommandResult() for command "PlaceOrder": it takes a command definition from defineCommand()',
  });
  throws(() => bus.givenQueryResult(undefined as never, 1), {
    name: "TypeError",
    message:
      "Cannot givenQueryResult() for undefined: it takes a query definition from defineQuery()",
  });
});

Deno.test("fake given results and handlers are per kind: a query and a command or task may share a name", () => {
  const bus = createFakeBus();
  const Same = defineQuery<void, string>("Same");
  const SameCommand = defineCommand<void, string>("Same");
  const SameTask = defineTask("Same");
  bus.registerQuery(Same, () => "query");
  bus.givenQueryResult(Same, "given query");
  deepStrictEqual(bus.execute(SameCommand()), undefined);
  deepStrictEqual(bus.dispatch(SameTask()), undefined);
  bus.givenCommandResult(SameCommand, "given command");
  deepStrictEqual(bus.send(Same()), "given query");
  deepStrictEqual(bus.execute(SameCommand()), "given command");
  bus.assertDispatched(SameTask);
});

Deno.test("createFakeBus() keeps a handler registered after an old unregister is called again", () => {
  const bus = createFakeBus();
  const off = bus.registerCommand(PlaceOrder, () => "first");
  off();
  bus.registerCommand(PlaceOrder, () => "second");
  off();
  deepStrictEqual(bus.execute(PlaceOrder({ sku: "a" })), "second");
});

Deno.test("createAsyncFakeBus() givenCommandResult() answers with a value, a function or an async function", async () => {
  const bus = createAsyncFakeBus();
  bus.registerCommand(PlaceOrder, () => "handled");
  deepStrictEqual(await bus.execute(PlaceOrder({ sku: "a" })), "handled");
  bus.givenCommandResult(PlaceOrder, "plain");
  const id: string = await bus.execute(PlaceOrder({ sku: "b" }));
  deepStrictEqual(id, "plain");
  bus.givenCommandResult(PlaceOrder, (c) => `sync ${c.payload.sku}`);
  deepStrictEqual(await bus.execute(PlaceOrder({ sku: "c" })), "sync c");
  bus.givenCommandResult(
    PlaceOrder,
    async (c) => await Promise.resolve(`async ${c.payload.sku}`),
  );
  deepStrictEqual(await bus.execute(PlaceOrder({ sku: "d" })), "async d");
  const failure = new Error("given failed");
  bus.givenCommandResult(PlaceOrder, () => Promise.reject(failure));
  await rejects(bus.execute(PlaceOrder({ sku: "e" })), (e) => e === failure);
  bus.givenCommandResult(PlaceOrder, () => {
    throw failure;
  });
  await rejects(bus.execute(PlaceOrder({ sku: "f" })), (e) => e === failure);
  bus.assertExecuted(PlaceOrder, { count: 6 });
  bus.reset();
  deepStrictEqual(await bus.execute(PlaceOrder({ sku: "g" })), "handled");
  bus.assertNothingSent();
  bus.assertNothingDispatched();
  deepStrictEqual(bus.executed(PlaceOrder).map((c) => c.payload.sku), ["g"]);
});

Deno.test("createAsyncFakeBus() records a command with neither handler nor given result and resolves undefined", async () => {
  const bus = createAsyncFakeBus();
  deepStrictEqual(await bus.execute(PlaceOrder({ sku: "a" })), undefined);
  bus.assertExecuted(PlaceOrder({ sku: "a" }));
  throws(() => bus.assertNothingExecuted(), AssertionError);
});
