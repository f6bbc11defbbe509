import { deepStrictEqual, match, rejects } from "node:assert/strict";
import {
  createAsyncBus,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  DuplicateHandlerError,
  NoHandlerError,
} from "../mod.ts";

const GetUser = defineQuery<{ id: string }, { name: string }>("GetUser");
const CreateOrder = defineCommand<{ items: string[] }>("CreateOrder");
const OrderCreated = defineEvent<{ orderId: string }>("OrderCreated");
const SendEmail = defineTask<{ to: string }>("SendEmail");

/** A promise with its resolve and reject functions. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

Deno.test("createAsyncBus() returns a Promise from every dispatch, for sync and async handlers", async () => {
  const bus = createAsyncBus();
  const log: string[] = [];
  bus.registerQuery(GetUser, async (q) => {
    await Promise.resolve();
    return { name: q.payload.id };
  });
  bus.registerCommand(CreateOrder, (c) => {
    log.push(`order ${c.payload.items.length}`);
  });
  bus.subscribe(OrderCreated, async (e) => {
    await Promise.resolve();
    log.push(`created ${e.payload.orderId}`);
  });
  bus.registerTask(SendEmail, async (t) => {
    await Promise.resolve();
    log.push(`email ${t.payload.to}`);
  });
  const sent = bus.send(GetUser({ id: "7" }));
  const executed = bus.execute(CreateOrder({ items: ["a"] }));
  const published = bus.publish(OrderCreated({ orderId: "o" }));
  const dispatched = bus.dispatch(SendEmail({ to: "x" }));
  for (const result of [sent, executed, published, dispatched]) {
    deepStrictEqual(result instanceof Promise, true);
  }
  deepStrictEqual(await sent, { name: "7" });
  deepStrictEqual(await executed, undefined);
  deepStrictEqual(await published, undefined);
  deepStrictEqual(await dispatched, undefined);
  deepStrictEqual(log, ["order 1", "created o", "email x"]);
});

Deno.test("createAsyncBus() answers a query from a synchronous handler", async () => {
  const bus = createAsyncBus();
  bus.registerQuery(GetUser, (q) => ({ name: q.payload.id }));
  deepStrictEqual(await bus.send(GetUser({ id: "1" })), { name: "1" });
});

Deno.test("createAsyncBus() waits for a command's promise before settling", async () => {
  const bus = createAsyncBus();
  const gate = deferred();
  let done = false;
  bus.registerCommand(CreateOrder, async () => {
    await gate.promise;
    done = true;
  });
  const executed = bus.execute(CreateOrder({ items: [] }));
  await Promise.resolve();
  deepStrictEqual(done, false);
  gate.resolve();
  await executed;
  deepStrictEqual(done, true);
});

Deno.test("createAsyncBus() methods are closures that work detached", async () => {
  const { registerQuery, send } = createAsyncBus();
  registerQuery(GetUser, () => ({ name: "x" }));
  deepStrictEqual(await send(GetUser({ id: "1" })), { name: "x" });
});

Deno.test("createAsyncBus() rejects with the handler's own error, thrown or rejected", async () => {
  const bus = createAsyncBus();
  const thrown = new Error("thrown");
  const rejected = new Error("rejected");
  bus.registerQuery(GetUser, () => {
    throw thrown;
  });
  bus.registerCommand(CreateOrder, () => Promise.reject(rejected));
  bus.registerTask(SendEmail, () => {
    throw thrown;
  });
  const sent = bus.send(GetUser({ id: "1" }));
  deepStrictEqual(sent instanceof Promise, true);
  await rejects(sent, (error) => error === thrown);
  await rejects(
    bus.execute(CreateOrder({ items: [] })),
    (error) => error === rejected,
  );
  await rejects(
    bus.dispatch(SendEmail({ to: "x" })),
    (error) => error === thrown,
  );
});

Deno.test("createAsyncBus() rejects, never throws, for missing handlers and bad values", async () => {
  const bus = createAsyncBus();
  const send = bus.send as (message: unknown) => Promise<unknown>;
  const publish = bus.publish as (message: unknown) => Promise<unknown>;
  const execute = bus.execute as (message: unknown) => Promise<unknown>;
  await rejects(bus.send(GetUser({ id: "1" })), {
    name: "NoHandlerError",
    message:
      'No handler for query "GetUser": register one with registerQuery() before dispatching it',
  });
  await rejects(bus.execute(CreateOrder({ items: [] })), NoHandlerError);
  await rejects(bus.dispatch(SendEmail({ to: "x" })), NoHandlerError);
  await rejects(send(CreateOrder({ items: [] })), {
    name: "TypeError",
    message:
      'Cannot send() command "CreateOrder": send() takes queries; use execute() for a command',
  });
  await rejects(publish(null), {
    name: "TypeError",
    message:
      "Cannot publish() null: expected an event message, built by calling its definition (from defineEvent())",
  });
  await rejects(execute(42), {
    name: "TypeError",
    message: /Cannot execute\(\) the number 42/,
  });
});

Deno.test("createAsyncBus() throws DuplicateHandlerError at registration", () => {
  const bus = createAsyncBus();
  bus.registerTask(SendEmail, async () => {});
  try {
    bus.registerTask(SendEmail, async () => {});
    throw new Error("expected DuplicateHandlerError");
  } catch (error) {
    deepStrictEqual(error instanceof DuplicateHandlerError, true);
  }
});

Deno.test("createAsyncBus() publish with no subscribers resolves", async () => {
  const bus = createAsyncBus();
  deepStrictEqual(await bus.publish(OrderCreated({ orderId: "o" })), undefined);
});

Deno.test("createAsyncBus() runs event subscribers concurrently", async () => {
  const bus = createAsyncBus();
  const first = deferred();
  const log: string[] = [];
  bus.subscribe(OrderCreated, async () => {
    log.push("first started");
    await first.promise;
    log.push("first done");
  });
  bus.subscribe(OrderCreated, async () => {
    log.push("second started");
    await Promise.resolve();
    log.push("second done");
    first.resolve();
  });
  await bus.publish(OrderCreated({ orderId: "o" }));
  deepStrictEqual(log, [
    "first started",
    "second started",
    "second done",
    "first done",
  ]);
});

Deno.test("createAsyncBus() publish settles only after every subscriber has", async () => {
  const bus = createAsyncBus();
  const slow = deferred();
  let slowDone = false;
  bus.subscribe(OrderCreated, () => {
    throw new Error("fast failure");
  });
  bus.subscribe(OrderCreated, async () => {
    await slow.promise;
    slowDone = true;
  });
  const published = bus.publish(OrderCreated({ orderId: "o" }));
  let settled = false;
  published.catch(() => {}).finally(() => {
    settled = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 0));
  deepStrictEqual(settled, false);
  slow.resolve();
  await rejects(published, { message: "fast failure" });
  deepStrictEqual(slowDone, true);
});

Deno.test("createAsyncBus() reports subscriber errors as is, or in an AggregateError in subscription order", async () => {
  const bus = createAsyncBus();
  const single = new Error("only one");
  bus.subscribe(OrderCreated, () => Promise.reject(single));
  bus.subscribe(OrderCreated, () => {});
  await rejects(
    bus.publish(OrderCreated({ orderId: "o" })),
    (error) => error === single,
  );

  const other = createAsyncBus();
  const first = new Error("async first");
  const second = new Error("sync second");
  const gate = deferred();
  other.subscribe(OrderCreated, async () => {
    await gate.promise;
    throw first;
  });
  other.subscribe(OrderCreated, () => {
    throw second;
  });
  other.subscribe(OrderCreated, async () => {});
  const published = other.publish(OrderCreated({ orderId: "o" }));
  gate.resolve();
  await rejects(published, (error) => {
    if (!(error instanceof AggregateError)) return false;
    deepStrictEqual(error.errors, [first, second]);
    match(error.message, /^2 of 3 subscribers of event "OrderCreated" failed/);
    return true;
  });
});

Deno.test("createAsyncBus() subscriptions changed during a publish do not disturb it", async () => {
  const bus = createAsyncBus();
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
  await bus.publish(OrderCreated({ orderId: "o" }));
  deepStrictEqual(ran, ["first", "second"]);
});

Deno.test("createAsyncBus() waits for a foreign thenable returned by a handler", async () => {
  const bus = createAsyncBus();
  let done = false;
  const thenable = {
    then(resolve: (value: void) => void) {
      setTimeout(() => {
        done = true;
        resolve();
      }, 1);
    },
  };
  bus.registerTask(SendEmail, () => thenable as unknown as PromiseLike<void>);
  await bus.dispatch(SendEmail({ to: "x" }));
  deepStrictEqual(done, true);
});

Deno.test("createAsyncBus() takes async, bound async and plain handlers alike", async () => {
  const bus = createAsyncBus();
  const owner = {
    prefix: "bound",
    async name(q: { payload: { id: string } }) {
      await Promise.resolve();
      return { name: `${this.prefix} ${q.payload.id}` };
    },
  };
  bus.registerQuery(GetUser, owner.name.bind(owner));
  deepStrictEqual(await bus.send(GetUser({ id: "1" })), { name: "bound 1" });
  const failure = new Error("async failure");
  bus.registerTask(SendEmail, async () => {
    await Promise.resolve();
    throw failure;
  });
  await rejects(bus.dispatch(SendEmail({ to: "x" })), (e) => e === failure);
});
