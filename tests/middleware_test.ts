import { deepStrictEqual, rejects, throws } from "node:assert/strict";
import {
  type AsyncMiddleware,
  createAsyncBus,
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  type Middleware,
} from "../mod.ts";

const GetUser = defineQuery<{ id: string }, string>("GetUser");
const CreateOrder = defineCommand<{ items: string[] }>("CreateOrder");
const OrderCreated = defineEvent<{ orderId: string }>("OrderCreated");
const SendEmail = defineTask<{ to: string }>("SendEmail");

function tracer(name: string, log: string[]): Middleware {
  return (message, next) => {
    log.push(`${name}> ${message.kind} ${message.type}`);
    const result = next(message);
    log.push(`${name}<`);
    return result;
  };
}

Deno.test("middleware runs first-outermost around every method, seeing message.kind", () => {
  const log: string[] = [];
  const bus = createBus({
    middleware: [tracer("a", log), tracer("b", log)],
  });
  bus.registerQuery(GetUser, (q) => {
    log.push("handler");
    return q.payload.id;
  });
  bus.registerCommand(CreateOrder, () => {});
  bus.subscribe(OrderCreated, () => {});
  bus.registerTask(SendEmail, () => {});

  deepStrictEqual(bus.send(GetUser({ id: "1" })), "1");
  deepStrictEqual(log, [
    "a> query GetUser",
    "b> query GetUser",
    "handler",
    "b<",
    "a<",
  ]);
  log.length = 0;
  bus.execute(CreateOrder({ items: [] }));
  bus.publish(OrderCreated({ orderId: "o" }));
  bus.dispatch(SendEmail({ to: "x" }));
  deepStrictEqual(log.filter((line) => line.startsWith("a>")), [
    "a> command CreateOrder",
    "a> event OrderCreated",
    "a> task SendEmail",
  ]);
});

Deno.test("middleware sees publishes with no subscribers and dispatches that fail", () => {
  const log: string[] = [];
  const bus = createBus({ middleware: [tracer("m", log)] });
  bus.publish(OrderCreated({ orderId: "o" }));
  throws(() => bus.send(GetUser({ id: "1" })), { name: "NoHandlerError" });
  deepStrictEqual(log, ["m> event OrderCreated", "m<", "m> query GetUser"]);
});

Deno.test("middleware never sees values that are not messages of the method's kind", () => {
  const log: string[] = [];
  const bus = createBus({ middleware: [tracer("m", log)] });
  const send = bus.send as (message: unknown) => unknown;
  throws(() => send(undefined), {
    name: "TypeError",
    message: /Cannot send\(\) undefined/,
  });
  throws(() => send(CreateOrder({ items: [] })), {
    name: "TypeError",
    message: /use execute\(\) for a command/,
  });
  deepStrictEqual(log, []);
});

Deno.test("middleware can answer a query without calling next", () => {
  const cache = new Map<string, unknown>([["GetUser", "cached"]]);
  const caching: Middleware = (message, next) =>
    cache.has(message.type)
      ? cache.get(message.type) as ReturnType<typeof next>
      : next(message);
  const bus = createBus({ middleware: [caching] });
  deepStrictEqual(bus.send(GetUser({ id: "1" })), "cached");
});

Deno.test("calling next twice is an error that names the message", () => {
  const twice: Middleware = (message, next) => {
    next(message);
    return next(message);
  };
  const bus = createBus({ middleware: [twice] });
  let calls = 0;
  bus.registerCommand(CreateOrder, () => {
    calls++;
  });
  throws(() => bus.execute(CreateOrder({ items: [] })), {
    name: "Error",
    message:
      'Middleware called next() twice while dispatching command "CreateOrder": on the synchronous bus call it at most once per dispatch',
  });
  deepStrictEqual(calls, 1);
});

Deno.test("calling next after the middleware returned is an error on the sync bus", () => {
  let saved: (() => unknown) | undefined;
  const late: Middleware = (message, next) => {
    saved = () => next(message);
    return undefined as ReturnType<typeof next>;
  };
  const bus = createBus({ middleware: [late] });
  bus.registerCommand(CreateOrder, () => {});
  bus.execute(CreateOrder({ items: [] }));
  throws(() => saved!(), {
    message:
      /Middleware called next\(\) for command "CreateOrder" after it had returned/,
  });
});

Deno.test("nested dispatches through the same middleware keep their own next() guard", () => {
  const log: string[] = [];
  const bus = createBus({ middleware: [tracer("m", log)] });
  bus.registerQuery(GetUser, (q) => q.payload.id);
  bus.registerCommand(CreateOrder, (c) => {
    for (const id of c.payload.items) bus.send(GetUser({ id }));
  });
  bus.execute(CreateOrder({ items: ["a", "b"] }));
  deepStrictEqual(log, [
    "m> command CreateOrder",
    "m> query GetUser",
    "m<",
    "m> query GetUser",
    "m<",
    "m<",
  ]);
});

Deno.test("a middleware that throws leaves the bus usable", () => {
  let fail = true;
  const flaky: Middleware = (message, next) => {
    if (fail) throw new Error("middleware failed");
    return next(message);
  };
  const bus = createBus({ middleware: [flaky] });
  bus.registerQuery(GetUser, () => "ok");
  throws(() => bus.send(GetUser({ id: "1" })), {
    message: "middleware failed",
  });
  fail = false;
  deepStrictEqual(bus.send(GetUser({ id: "1" })), "ok");
  // A handler error inside next() also leaves the guard reset.
  const other = createBus({ middleware: [tracer("m", [])] });
  let throwing = true;
  other.registerQuery(GetUser, () => {
    if (throwing) throw new Error("handler failed");
    return "fine";
  });
  throws(() => other.send(GetUser({ id: "1" })), { message: "handler failed" });
  throwing = false;
  deepStrictEqual(other.send(GetUser({ id: "1" })), "fine");
});

Deno.test("bad middleware options are a TypeError at creation", () => {
  throws(
    () => createBus({ middleware: [(_m, next) => next(_m), 42 as never] }),
    {
      name: "TypeError",
      message:
        "Cannot createBus() as 'middleware[1]' must be a function (message, next, context) => result: current value is number",
    },
  );
  throws(() => createAsyncBus({ middleware: "log" as never }), {
    name: "TypeError",
    message:
      "Cannot createAsyncBus() as 'middleware' must be an array of functions: current value is string",
  });
});

Deno.test("the middleware list is read once: later changes to the array do not matter", () => {
  const log: string[] = [];
  const list: Middleware[] = [tracer("a", log)];
  const bus = createBus({ middleware: list });
  list.push(tracer("b", log));
  bus.publish(OrderCreated({ orderId: "o" }));
  deepStrictEqual(log, ["a> event OrderCreated", "a<"]);
});

Deno.test("async middleware wraps every method and may await before next", async () => {
  const log: string[] = [];
  const slow: AsyncMiddleware = async (message, next) => {
    await Promise.resolve();
    log.push(`> ${message.kind}`);
    const result = await next(message);
    log.push(`< ${message.kind}`);
    return result;
  };
  const bus = createAsyncBus({ middleware: [slow] });
  bus.registerQuery(GetUser, async (q) => await Promise.resolve(q.payload.id));
  bus.registerCommand(CreateOrder, () => {});
  bus.registerTask(SendEmail, () => {});
  deepStrictEqual(await bus.send(GetUser({ id: "1" })), "1");
  await bus.execute(CreateOrder({ items: [] }));
  await bus.publish(OrderCreated({ orderId: "o" }));
  await bus.dispatch(SendEmail({ to: "x" }));
  deepStrictEqual(log, [
    "> query",
    "< query",
    "> command",
    "< command",
    "> event",
    "< event",
    "> task",
    "< task",
  ]);
});

Deno.test("async middleware: interleaved dispatches each get their own next()", async () => {
  const gates: Array<() => void> = [];
  const held: AsyncMiddleware = async (message, next) => {
    await new Promise<void>((resolve) => gates.push(resolve));
    return await next(message);
  };
  const bus = createAsyncBus({ middleware: [held] });
  bus.registerQuery(GetUser, (q) => q.payload.id);
  const first = bus.send(GetUser({ id: "1" }));
  const second = bus.send(GetUser({ id: "2" }));
  await Promise.resolve();
  gates[1]!();
  gates[0]!();
  deepStrictEqual(await Promise.all([first, second]), ["1", "2"]);
});

Deno.test("async middleware may call next again once the previous call has settled", async () => {
  const tries: number[] = [];
  const again: AsyncMiddleware = async (message, next) => {
    await next(message).catch(() => {});
    return await next(message, { attempt: 2 });
  };
  const bus = createAsyncBus({ middleware: [again] });
  bus.registerQuery(GetUser, (_q, context) => {
    tries.push(context.attempt);
    if (tries.length === 1) throw new Error("first try fails");
    return "second";
  });
  deepStrictEqual(await bus.send(GetUser({ id: "1" })), "second");
  deepStrictEqual(tries, [1, 2]);
});

Deno.test("async middleware calling next again while the previous call is pending rejects, naming the message", async () => {
  let release = () => {};
  const overlapping: AsyncMiddleware = async (message, next) => {
    const first = next(message);
    try {
      return await next(message);
    } finally {
      release();
      await first;
    }
  };
  const bus = createAsyncBus({ middleware: [overlapping] });
  let calls = 0;
  bus.registerQuery(GetUser, () => {
    calls++;
    return new Promise<string>((resolve) => (release = () => resolve("x")));
  });
  await rejects(bus.send(GetUser({ id: "1" })), {
    name: "Error",
    message:
      'Middleware called next() again for query "GetUser" while its previous call was still pending: wait for it to settle before trying again',
  });
  deepStrictEqual(calls, 1);
});

Deno.test("async middleware that throws synchronously rejects the dispatch", async () => {
  const broken: AsyncMiddleware = () => {
    throw new Error("sync throw");
  };
  const bus = createAsyncBus({ middleware: [broken] });
  const sent = bus.send(GetUser({ id: "1" }));
  deepStrictEqual(sent instanceof Promise, true);
  await rejects(sent, { message: "sync throw" });
});

Deno.test("a pass-through sync Middleware also fits the async bus", async () => {
  const log: string[] = [];
  const bus = createAsyncBus({ middleware: [tracer("m", log)] });
  bus.registerQuery(GetUser, async (q) => await Promise.resolve(q.payload.id));
  deepStrictEqual(await bus.send(GetUser({ id: "3" })), "3");
  deepStrictEqual(log, ["m> query GetUser", "m<"]);
});

Deno.test("async middleware never sees values that are not messages", async () => {
  const log: string[] = [];
  const bus = createAsyncBus({ middleware: [tracer("m", log)] });
  const dispatch = bus.dispatch as (message: unknown) => Promise<void>;
  await rejects(dispatch({}), {
    name: "TypeError",
    message: /Cannot dispatch\(\) an object/,
  });
  deepStrictEqual(log, []);
});
