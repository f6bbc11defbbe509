import { deepStrictEqual, match, throws } from "node:assert/strict";
import {
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  type DispatchContext,
  DuplicateHandlerError,
  NoHandlerError,
} from "../mod.ts";

const GetUser = defineQuery<{ id: string }, { name: string }>("GetUser");
const CreateOrder = defineCommand<{ items: string[] }>("CreateOrder");
const OrderCreated = defineEvent<{ orderId: string }>("OrderCreated");
const SendEmail = defineTask<{ to: string }>("SendEmail");

Deno.test("createBus() routes each kind to its handler and returns the query result", () => {
  const bus = createBus();
  const log: string[] = [];
  bus.registerQuery(GetUser, (q) => ({ name: `user ${q.payload.id}` }));
  bus.registerCommand(CreateOrder, (c) => {
    log.push(`order ${c.payload.items.join(",")}`);
  });
  bus.subscribe(OrderCreated, (e) => {
    log.push(`created ${e.payload.orderId}`);
  });
  bus.registerTask(SendEmail, (t) => {
    log.push(`email ${t.payload.to}`);
  });

  deepStrictEqual(bus.send(GetUser({ id: "7" })), { name: "user 7" });
  deepStrictEqual(bus.execute(CreateOrder({ items: ["a", "b"] })), undefined);
  deepStrictEqual(bus.publish(OrderCreated({ orderId: "o-1" })), undefined);
  deepStrictEqual(bus.dispatch(SendEmail({ to: "a@b.c" })), undefined);
  deepStrictEqual(log, ["order a,b", "created o-1", "email a@b.c"]);
});

Deno.test("createBus() methods are closures that work detached", () => {
  const { registerQuery, send, subscribe, publish } = createBus();
  registerQuery(GetUser, () => ({ name: "x" }));
  let heard = 0;
  subscribe(OrderCreated, () => {
    heard++;
  });
  deepStrictEqual(send(GetUser({ id: "1" })), { name: "x" });
  publish(OrderCreated({ orderId: "o" }));
  deepStrictEqual(heard, 1);
});

Deno.test("createBus() calls handlers with the message and a context of each dispatch", () => {
  const bus = createBus();
  const contexts: DispatchContext[] = [];
  const messages: unknown[] = [];
  bus.registerQuery(GetUser, (q, context) => {
    messages.push(q);
    contexts.push(context);
    return { name: "x" };
  });
  bus.subscribe(OrderCreated, (_e, context) => {
    contexts.push(context);
  });
  const query = GetUser({ id: "1" });
  bus.send(query);
  bus.send(GetUser({ id: "2" }));
  bus.publish(OrderCreated({ orderId: "o" }));
  deepStrictEqual(messages[0] === query, true);
  deepStrictEqual(contexts.length, 3);
  // Each dispatch is its own, with its own id; none aborts or has a deadline.
  deepStrictEqual(new Set(contexts.map((context) => context.id)).size, 3);
  deepStrictEqual(contexts.every((context) => !context.signal.aborted), true);
  deepStrictEqual(contexts[0]!.deadline, undefined);
});

Deno.test("createBus() routes plain messages parsed from JSON", () => {
  const bus = createBus();
  bus.registerQuery(GetUser, (q) => ({ name: q.payload.id }));
  const wire = JSON.parse(JSON.stringify(GetUser({ id: "9" })));
  deepStrictEqual(bus.send(wire), { name: "9" });
});

Deno.test("createBus() passes a handler's own error to the caller unchanged", () => {
  const bus = createBus();
  const failure = new RangeError("boom");
  bus.registerQuery(GetUser, () => {
    throw failure;
  });
  bus.registerCommand(CreateOrder, () => {
    throw failure;
  });
  bus.registerTask(SendEmail, () => {
    throw failure;
  });
  throws(() => bus.send(GetUser({ id: "1" })), (error) => error === failure);
  throws(
    () => bus.execute(CreateOrder({ items: [] })),
    (error) => error === failure,
  );
  throws(
    () => bus.dispatch(SendEmail({ to: "x" })),
    (error) => error === failure,
  );
});

Deno.test("createBus() throws DuplicateHandlerError for a second query, command or task handler", () => {
  const bus = createBus();
  bus.registerQuery(GetUser, () => ({ name: "x" }));
  bus.registerCommand(CreateOrder, () => {});
  bus.registerTask(SendEmail, () => {});
  throws(() => bus.registerQuery(GetUser, () => ({ name: "y" })), {
    name: "DuplicateHandlerError",
    message:
      'Cannot register a second handler for query "GetUser": a query has exactly one handler. Remove the first one (call the function its registration returned) before registering another',
  });
  throws(
    () => bus.registerCommand(CreateOrder, () => {}),
    DuplicateHandlerError,
  );
  throws(() => bus.registerTask(SendEmail, () => {}), DuplicateHandlerError);
});

Deno.test("createBus() throws NoHandlerError naming the message and the register method", () => {
  const bus = createBus();
  throws(() => bus.send(GetUser({ id: "1" })), {
    name: "NoHandlerError",
    message:
      'No handler for query "GetUser": register one with registerQuery() before dispatching it',
  });
  throws(() => bus.execute(CreateOrder({ items: [] })), {
    name: "NoHandlerError",
    message:
      'No handler for command "CreateOrder": register one with registerCommand() before dispatching it',
  });
  throws(() => bus.dispatch(SendEmail({ to: "x" })), (error) => {
    return error instanceof NoHandlerError && error.kind === "task" &&
      error.type === "SendEmail";
  });
});

Deno.test("createBus() rejects a message given to the wrong method", () => {
  const bus = createBus();
  bus.registerQuery(GetUser, () => ({ name: "x" }));
  bus.registerCommand(CreateOrder, () => {});
  const send = bus.send as (message: unknown) => unknown;
  const execute = bus.execute as (message: unknown) => unknown;
  const publish = bus.publish as (message: unknown) => unknown;
  const dispatch = bus.dispatch as (message: unknown) => unknown;
  throws(() => send(CreateOrder({ items: [] })), {
    name: "TypeError",
    message:
      'Cannot send() command "CreateOrder": send() takes queries; use execute() for a command',
  });
  throws(() => execute(GetUser({ id: "1" })), {
    name: "TypeError",
    message:
      'Cannot execute() query "GetUser": execute() takes commands; use send() for a query',
  });
  throws(() => publish(SendEmail({ to: "x" })), {
    name: "TypeError",
    message:
      'Cannot publish() task "SendEmail": publish() takes events; use dispatch() for a task',
  });
  throws(() => dispatch(OrderCreated({ orderId: "o" })), {
    name: "TypeError",
    message:
      'Cannot dispatch() event "OrderCreated": dispatch() takes tasks; use publish() for an event',
  });
  // A forged message whose name has a handler of another kind is still refused.
  throws(
    () => execute({ kind: "command", type: "GetUser", payload: {} }),
    NoHandlerError,
  );
  throws(
    () => send({ kind: "command", type: "GetUser", payload: {} }),
    TypeError,
  );
});

Deno.test("createBus() rejects values that are not messages with a clear TypeError", () => {
  const bus = createBus();
  const send = bus.send as (message: unknown) => unknown;
  const publish = bus.publish as (message: unknown) => unknown;
  throws(() => send(undefined), {
    name: "TypeError",
    message:
      "Cannot send() undefined: expected a query message, built by calling its definition (from defineQuery())",
  });
  throws(() => send(null), {
    name: "TypeError",
    message: /Cannot send\(\) null/,
  });
  throws(() => send("GetUser"), {
    name: "TypeError",
    message: /Cannot send\(\) the string "GetUser"/,
  });
  throws(() => publish({ orderId: "o" }), {
    name: "TypeError",
    message:
      /Cannot publish\(\) an object with keys \[orderId\]: expected an event message/,
  });
  throws(() => publish({ ...OrderCreated({ orderId: "o" }) }), {
    name: "TypeError",
    message: /a copy of a message that lost its kind and type/,
  });
});

Deno.test("createBus() rejects registrations with a bad definition or handler", () => {
  const bus = createBus();
  throws(
    () => bus.registerQuery(OrderCreated as never, () => ({ name: "x" })),
    {
      name: "TypeError",
      message:
        'Cannot registerQuery() event "OrderCreated": registerQuery() takes query definitions; use subscribe() for an event',
    },
  );
  throws(() => bus.subscribe(GetUser as never, () => {}), {
    name: "TypeError",
    message: /use registerQuery\(\) for a query/,
  });
  throws(() => bus.registerCommand("CreateOrder" as never, () => {}), {
    name: "TypeError",
    message:
      'Cannot registerCommand() as its first argument must be a command definition from defineCommand(): current value is the string "CreateOrder"',
  });
  throws(() => bus.registerTask(SendEmail, "handler" as never), {
    name: "TypeError",
    message:
      'Cannot registerTask() task "SendEmail" as its handler must be a function: current value is the string "handler"',
  });
  throws(() => bus.subscribe(OrderCreated, undefined as never), TypeError);
});

Deno.test("createBus() refuses two different definitions under one name", () => {
  const bus = createBus();
  const Copy = defineQuery<{ id: string }, { name: string }>("GetUser");
  const Clash = defineEvent("GetUser");
  bus.registerQuery(GetUser, () => ({ name: "x" }));
  throws(() => bus.registerQuery(Copy, () => ({ name: "y" })), {
    name: "TypeError",
    message:
      /Cannot registerQuery\(\) query "GetUser": a different query definition named "GetUser" is registered on this bus already/,
  });
  throws(() => bus.subscribe(Clash, () => {}), {
    name: "TypeError",
    message: /a different query definition named "GetUser"/,
  });
});

Deno.test("createBus() removers unregister once and never remove a newer handler", () => {
  const bus = createBus();
  const remove = bus.registerQuery(GetUser, () => ({ name: "first" }));
  remove();
  throws(() => bus.send(GetUser({ id: "1" })), NoHandlerError);
  bus.registerQuery(GetUser, () => ({ name: "second" }));
  remove();
  deepStrictEqual(bus.send(GetUser({ id: "1" })), { name: "second" });

  // Once every registration of a name is gone, another definition may take it.
  const other = createBus();
  const off = other.subscribe(OrderCreated, () => {});
  off();
  const Reused = defineCommand("OrderCreated");
  other.registerCommand(Reused, () => {});
  other.execute(Reused());
});

Deno.test("createBus() publish with no subscribers is silent", () => {
  const bus = createBus();
  deepStrictEqual(bus.publish(OrderCreated({ orderId: "o" })), undefined);
  const off = bus.subscribe(OrderCreated, () => {});
  off();
  deepStrictEqual(bus.publish(OrderCreated({ orderId: "o" })), undefined);
});

Deno.test("createBus() runs every subscriber when one throws, then rethrows that error", () => {
  const bus = createBus();
  const failure = new Error("second failed");
  const ran: number[] = [];
  bus.subscribe(OrderCreated, () => {
    ran.push(1);
  });
  bus.subscribe(OrderCreated, () => {
    ran.push(2);
    throw failure;
  });
  bus.subscribe(OrderCreated, () => {
    ran.push(3);
  });
  throws(
    () => bus.publish(OrderCreated({ orderId: "o" })),
    (error) => error === failure,
  );
  deepStrictEqual(ran, [1, 2, 3]);
});

Deno.test("createBus() throws an AggregateError holding every subscriber error in order", () => {
  const bus = createBus();
  const first = new Error("first");
  const third = new TypeError("third");
  bus.subscribe(OrderCreated, () => {
    throw first;
  });
  bus.subscribe(OrderCreated, () => {});
  bus.subscribe(OrderCreated, () => {
    throw third;
  });
  throws(() => bus.publish(OrderCreated({ orderId: "o" })), (error) => {
    if (!(error instanceof AggregateError)) return false;
    deepStrictEqual(error.errors, [first, third]);
    match(
      error.message,
      /^2 of 3 subscribers of event "OrderCreated" failed/,
    );
    return true;
  });
});

Deno.test("createBus() subscriptions changed during a publish do not disturb it", () => {
  const bus = createBus();
  const ran: string[] = [];
  let removeSecond = () => {};
  bus.subscribe(OrderCreated, () => {
    ran.push("first");
    removeSecond();
    bus.subscribe(OrderCreated, () => {
      ran.push("added");
    });
  });
  removeSecond = bus.subscribe(OrderCreated, () => {
    ran.push("second");
  });
  bus.publish(OrderCreated({ orderId: "o" }));
  deepStrictEqual(ran, ["first", "second"]);
  ran.length = 0;
  removeSecond = () => {};
  bus.publish(OrderCreated({ orderId: "o" }));
  deepStrictEqual(ran, ["first", "added"]);
});

Deno.test("createBus() runs a function subscribed twice twice, and removes one at a time", () => {
  const bus = createBus();
  let calls = 0;
  const handler = () => {
    calls++;
  };
  const offFirst = bus.subscribe(OrderCreated, handler);
  bus.subscribe(OrderCreated, handler);
  bus.publish(OrderCreated({ orderId: "o" }));
  deepStrictEqual(calls, 2);
  offFirst();
  offFirst();
  bus.publish(OrderCreated({ orderId: "o" }));
  deepStrictEqual(calls, 3);
});

Deno.test("createBus() handlers may dispatch nested messages", () => {
  const bus = createBus();
  bus.registerQuery(GetUser, (q) => ({ name: q.payload.id }));
  const names: string[] = [];
  bus.registerCommand(CreateOrder, (c) => {
    for (const id of c.payload.items) {
      names.push(bus.send(GetUser({ id })).name);
    }
    bus.publish(OrderCreated({ orderId: "o" }));
  });
  bus.subscribe(OrderCreated, () => bus.dispatch(SendEmail({ to: "x" })));
  bus.registerTask(SendEmail, () => {
    names.push("mailed");
  });
  bus.execute(CreateOrder({ items: ["a", "b"] }));
  deepStrictEqual(names, ["a", "b", "mailed"]);
});

Deno.test("createBus() context dispatches nested messages, also when detached", () => {
  const bus = createBus();
  bus.registerQuery(GetUser, (q) => ({ name: q.payload.id }));
  const sent: string[] = [];
  bus.registerTask(SendEmail, (t) => {
    sent.push(t.payload.to);
  });
  bus.registerCommand(CreateOrder, (c, context) => {
    const { send, dispatch } = context;
    for (const id of c.payload.items) {
      dispatch(SendEmail({ to: send(GetUser({ id })).name }));
    }
    context.publish(OrderCreated({ orderId: "o" }));
  });
  let heard = 0;
  bus.subscribe(OrderCreated, () => {
    heard++;
  });
  bus.execute(CreateOrder({ items: ["a", "b"] }));
  deepStrictEqual([sent, heard], [["a", "b"], 1]);
});
