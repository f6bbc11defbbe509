// Application features: command results, identity and correlation, context
// data, cascading messages and sessions.
import { deepStrictEqual, match, rejects, throws } from "node:assert/strict";
import {
  createAsyncBus,
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  eventFilter,
  eventsOf,
  type Middleware,
  type MiddlewareContext,
} from "../mod.ts";
import {
  jsonlStore,
  memoryStore,
  readRecording,
  recorder,
  replay,
} from "../src/observability/mod.ts";

const CreateUser = defineCommand<{ name: string }, { userId: string }>(
  "users.CreateUser",
);

Deno.test("execute() returns the command handler's result, on both buses and through middleware", async () => {
  const passThrough: Middleware = (message, next) => next(message);
  for (const middleware of [[], [passThrough]]) {
    const bus = createBus({ middleware });
    bus.registerCommand(CreateUser, (c) => ({ userId: `u-${c.payload.name}` }));
    deepStrictEqual(bus.execute(CreateUser({ name: "ada" })), {
      userId: "u-ada",
    });
    const asyncBus = createAsyncBus({ middleware });
    asyncBus.registerCommand(CreateUser, async (c) => {
      await Promise.resolve();
      return { userId: `u-${c.payload.name}` };
    });
    deepStrictEqual(await asyncBus.execute(CreateUser({ name: "grace" })), {
      userId: "u-grace",
    });
  }
});

const GetUser = defineQuery<{ userId: string }, string>("users.GetUser");
const PlaceOrder = defineCommand<{ sku: string }, string>("orders.PlaceOrder");
const OrderPlaced = defineEvent<{ orderId: string }>("orders.OrderPlaced");
const SendEmail = defineTask<{ to: string }>("notifications.SendEmail");

interface Seen {
  readonly type: string;
  readonly id: string;
  readonly correlationId: string;
  readonly causationId: string | undefined;
}

function seen(type: string, context: MiddlewareContext): Seen {
  return {
    type,
    id: context.id,
    correlationId: context.correlationId,
    causationId: context.causationId,
  };
}

Deno.test("nested dispatches carry the outermost id as correlationId and their parent's as causationId, on both buses", async () => {
  const passThrough: Middleware = (message, next) => next(message);
  for (const middleware of [[], [passThrough]]) {
    for (const asynchronous of [false, true]) {
      const bus = asynchronous
        ? createAsyncBus({ middleware })
        : createBus({ middleware });
      const log: Seen[] = [];
      bus.registerCommand(PlaceOrder, (c, context) => {
        log.push(seen("PlaceOrder", context));
        const user = context.send(GetUser({ userId: "u1" }));
        void user;
        context.publish(OrderPlaced({ orderId: c.payload.sku }));
        return "o-1";
      });
      bus.registerQuery(GetUser, (_q, context) => {
        log.push(seen("GetUser", context));
        return "Ada";
      });
      bus.subscribe(OrderPlaced, (_e, context) => {
        log.push(seen("OrderPlaced", context));
        context.dispatch(SendEmail({ to: "ada@example.com" }));
      });
      bus.registerTask(SendEmail, (_t, context) => {
        log.push(seen("SendEmail", context));
      });
      await bus.execute(PlaceOrder({ sku: "book" }), { id: "place-1" });
      await new Promise((resolve) => setTimeout(resolve, 0));
      const [place, user, placed, email] = log;
      deepStrictEqual(place, {
        type: "PlaceOrder",
        id: "place-1",
        correlationId: "place-1",
        causationId: undefined,
      });
      deepStrictEqual(
        [user!.correlationId, user!.causationId],
        ["place-1", "place-1"],
      );
      deepStrictEqual(
        [placed!.correlationId, placed!.causationId],
        ["place-1", "place-1"],
      );
      deepStrictEqual(
        [email!.correlationId, email!.causationId],
        ["place-1", placed!.id],
      );
      deepStrictEqual(new Set(log.map((entry) => entry.id)).size, 4);
    }
  }
});

Deno.test("an id is made when read and stays the dispatch's; ids differ across processes", async () => {
  const bus = createBus();
  const ids: string[] = [];
  bus.registerCommand(PlaceOrder, (_c, context) => {
    ids.push(context.id, context.id, context.correlationId);
    return "";
  });
  bus.execute(PlaceOrder({ sku: "a" }));
  bus.execute(PlaceOrder({ sku: "b" }));
  deepStrictEqual(ids[0] === ids[1] && ids[1] === ids[2], true);
  deepStrictEqual(ids[0] === ids[3], false);
  match(ids[0]!, /^[0-9a-z]+-[0-9a-z]+$/);
  const prefixes = new Set<string>();
  for (let run = 0; run < 2; run++) {
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { createBus, defineCommand } from "${new URL(
          "../mod.ts",
          import.meta.url,
        )}";
        const C = defineCommand("C");
        const bus = createBus();
        bus.registerCommand(C, (_c, context) => console.log(context.id));
        bus.execute(C());`,
      ],
      stdout: "piped",
    }).output();
    prefixes.add(new TextDecoder().decode(stdout).trim().split("-")[0]!);
  }
  deepStrictEqual(prefixes.size, 2);
});

Deno.test("context data: a caller's data reaches every nested dispatch; middleware merge into it; it is read-only", async () => {
  const tenant: Middleware = (message, next, context) =>
    next(message, { data: { ...context.data, traced: true } as never });
  for (const asynchronous of [false, true]) {
    const options = { middleware: [tenant] };
    const bus = asynchronous ? createAsyncBus(options) : createBus(options);
    const data: unknown[] = [];
    bus.registerCommand(PlaceOrder, (_c, context) => {
      data.push(context.data);
      context.send(GetUser({ userId: "u1" }));
      return "";
    });
    bus.registerQuery(GetUser, (_q, context) => {
      data.push(context.data);
      throws(() => {
        (context.data as Record<string, unknown>).tenant = "other";
      }, TypeError);
      return "";
    });
    await bus.execute(PlaceOrder({ sku: "a" }), {
      data: { tenant: "t1" } as never,
    });
    deepStrictEqual(data, [
      { tenant: "t1", traced: true },
      { tenant: "t1", traced: true },
    ]);
  }
  await rejects(
    createAsyncBus().execute(PlaceOrder({ sku: "a" }), { data: 7 as never }),
    {
      name: "TypeError",
      message:
        "Cannot execute() as 'data' must be an object of named values: current value is number",
    },
  );
});

Deno.test("context.emit cascades after the handler succeeds, in order, caused by it; a failed handler's emits are dropped", async () => {
  for (const asynchronous of [false, true]) {
    const bus = asynchronous ? createAsyncBus() : createBus();
    const log: string[] = [];
    let placed: Seen | undefined;
    bus.registerCommand(PlaceOrder, (c, context) => {
      context.emit(OrderPlaced({ orderId: c.payload.sku }));
      context.emit(SendEmail({ to: "ada@example.com" }));
      log.push("handler done");
      if (c.payload.sku === "broken") throw new Error("out of stock");
      placed = seen("PlaceOrder", context);
      return "o-1";
    });
    bus.subscribe(OrderPlaced, (e, context) => {
      log.push(`placed ${e.payload.orderId} by ${context.causationId}`);
    });
    bus.registerTask(SendEmail, () => void log.push("email"));
    deepStrictEqual(await bus.execute(PlaceOrder({ sku: "book" })), "o-1");
    deepStrictEqual(log, [
      "handler done",
      `placed book by ${placed!.id}`,
      "email",
    ]);
    log.length = 0;
    try {
      await bus.execute(PlaceOrder({ sku: "broken" }));
    } catch (error) {
      deepStrictEqual((error as Error).message, "out of stock");
    }
    deepStrictEqual(log, ["handler done"]); // nothing cascaded
  }
});

Deno.test("context.emit: a failing emitted dispatch fails its cause after all emitted ran; queries and late emits are refused", async () => {
  const bus = createAsyncBus();
  const log: string[] = [];
  let late: (() => void) | undefined;
  bus.registerCommand(PlaceOrder, (_c, context) => {
    context.emit(SendEmail({ to: "a" }));
    context.emit(OrderPlaced({ orderId: "o" }));
    throws(() => context.emit(GetUser({ userId: "u" }) as never), {
      name: "TypeError",
      message:
        'Cannot emit() query "users.GetUser": emit() takes commands, events and tasks, built by their definitions; ask a query with send()',
    });
    late = () => context.emit(OrderPlaced({ orderId: "late" }));
    return "o-1";
  });
  bus.registerTask(SendEmail, () => {
    log.push("email");
    throw new Error("smtp down");
  });
  bus.subscribe(OrderPlaced, () => void log.push("placed"));
  await rejects(bus.execute(PlaceOrder({ sku: "a" })), {
    message: "smtp down",
  });
  deepStrictEqual(log, ["email", "placed"]);
  throws(() => late!(), {
    name: "TypeError",
    message:
      'Cannot emit() event "orders.OrderPlaced" after its handler finished: dispatch it through the context (send, execute, publish, dispatch) instead',
  });
});

Deno.test("the recorder writes id, correlation_id and causation_id; replay keeps the causal structure", async () => {
  const store = memoryStore();
  const bus = createBus({ middleware: [recorder(store)] });
  bus.registerCommand(PlaceOrder, (c, context) => {
    context.publish(OrderPlaced({ orderId: c.payload.sku }));
    return `o-${c.payload.sku}`;
  });
  const heard: string[] = [];
  bus.subscribe(OrderPlaced, (e) => void heard.push(e.payload.orderId));
  bus.execute(PlaceOrder({ sku: "book" }), { id: "p-1" });
  const [placed, place] = store.records;
  deepStrictEqual(
    [place!.type, place!.id, place!.correlationId, place!.causationId],
    ["orders.PlaceOrder", "p-1", "p-1", undefined],
  );
  deepStrictEqual(
    [placed!.type, placed!.correlationId, placed!.causationId],
    ["orders.OrderPlaced", "p-1", "p-1"],
  );
  const dir = await Deno.makeTempDir();
  const file = jsonlStore({ dir });
  for (const record of store.records) file.write(record);
  await file.close();
  const lines = (await Deno.readTextFile(file.path)).trim().split("\n").map((
    line,
  ) => JSON.parse(line));
  deepStrictEqual(
    [
      lines[0].id === placed!.id,
      lines[0].correlation_id,
      lines[0].causation_id,
    ],
    [true, "p-1", "p-1"],
  );
  // An old line without ids still reads.
  await Deno.writeTextFile(
    file.path,
    '{"ts":"2026-02-12T14:30:45.123456Z","type":"event","class":"X","payload":1,"duration_ns":5,"result":null,"error":null}\n',
  );
  const old = [];
  for await (const record of readRecording(file.path)) old.push(record);
  deepStrictEqual([old.length, old[0]!.id], [1, undefined]);
  await Deno.remove(dir, { recursive: true });

  heard.length = 0;
  const again = memoryStore();
  const replayBus = createBus({ middleware: [recorder(again)] });
  replayBus.registerCommand(PlaceOrder, (c, context) => {
    context.publish(OrderPlaced({ orderId: c.payload.sku }));
    return `o-${c.payload.sku}`;
  });
  replayBus.subscribe(OrderPlaced, (e) => void heard.push(e.payload.orderId));
  const report = await replay(store.records, replayBus, {
    definitions: [PlaceOrder, OrderPlaced],
  });
  deepStrictEqual(
    [report.total, report.replayed, report.nested, report.matched],
    [2, 1, 1, 1],
  );
  deepStrictEqual(heard, ["book"]); // the event was published once, by its cause
  deepStrictEqual(again.records.map((r) => [r.type, r.causationId]), [
    ["orders.OrderPlaced", "p-1"],
    ["orders.PlaceOrder", undefined],
  ]);
});

Deno.test("sessions: registrations go together at close, dispatches carry the session id, and sessions are counted", async () => {
  for (const asynchronous of [false, true]) {
    const bus = asynchronous ? createAsyncBus() : createBus();
    const sessionIds: (string | undefined)[] = [];
    bus.registerQuery(GetUser, (_q, context) => {
      sessionIds.push(context.sessionId);
      return "Ada";
    });
    deepStrictEqual(bus.activeSessions, 0);
    {
      {
        const session = bus.session("orders");
        deepStrictEqual([session.id, bus.activeSessions], ["orders", 1]);
        session.registerCommand(PlaceOrder, (c, context) => {
          context.send(GetUser({ userId: "u1" })); // nested: inherits it
          return `o-${c.payload.sku}`;
        });
        const heard: string[] = [];
        session.subscribe(
          OrderPlaced,
          (e) => void heard.push(e.payload.orderId),
        );
        deepStrictEqual(
          await session.execute(PlaceOrder({ sku: "a" })),
          "o-a",
        );
        await session.publish(OrderPlaced({ orderId: "o-a" }));
        deepStrictEqual(heard, ["o-a"]);
        await bus.send(GetUser({ userId: "u2" })); // not through the session
        deepStrictEqual(sessionIds, ["orders", undefined]);
        await session.close();
        await session.close(); // harmless
      }
    }
    deepStrictEqual(bus.activeSessions, 0);
    // What the session registered is gone.
    try {
      await bus.execute(PlaceOrder({ sku: "b" }));
      throw new Error("expected NoHandlerError");
    } catch (error) {
      deepStrictEqual((error as Error).name, "NoHandlerError");
    }
    await bus.publish(OrderPlaced({ orderId: "x" })); // nobody hears it
    const closed = bus.session("closed");
    await closed.close();
    throws(() => closed.registerQuery(GetUser, () => ""), {
      message:
        'Cannot registerQuery() through session "closed": it is closed. Open a new session, or use the bus',
    });
  }
});

Deno.test("sessions close with using / await using; an async session waits for its handlers in flight", async () => {
  const bus = createBus();
  {
    using session = bus.session();
    session.registerTask(SendEmail, () => {});
    deepStrictEqual(bus.activeSessions, 1);
    match(session.id, /^[0-9a-z]+-[0-9a-z]+$/);
  }
  deepStrictEqual(bus.activeSessions, 0);
  throws(() => bus.dispatch(SendEmail({ to: "a" })), {
    name: "NoHandlerError",
  });

  const asyncBus = createAsyncBus();
  const log: string[] = [];
  let release = () => {};
  {
    await using session = asyncBus.session("mail");
    session.registerTask(SendEmail, async () => {
      await new Promise<void>((resolve) => (release = resolve));
      log.push("sent");
    });
    const sending = asyncBus.dispatch(SendEmail({ to: "a" }));
    setTimeout(() => release(), 20);
    void sending;
    log.push("closing");
  }
  log.push("closed");
  deepStrictEqual(log, ["closing", "sent", "closed"]);
  await rejects(asyncBus.dispatch(SendEmail({ to: "a" })), {
    name: "NoHandlerError",
  });
});

Deno.test("a handler registered through an async session keeps its name for observers", async () => {
  const names: string[] = [];
  const observe: Middleware = (message, next) =>
    next(message, {
      observer: { onCall: (call) => void names.push(call.handler) },
    });
  const bus = createAsyncBus({ middleware: [observe] });
  bus.session("mail").registerTask(SendEmail, function sendWelcome() {});
  await bus.dispatch(SendEmail({ to: "a" }));
  deepStrictEqual(names, ["sendWelcome"]);
});

Deno.test("the recorder writes the origin of a dispatch made by a subscriber with a module, or registered through a session", () => {
  const store = memoryStore();
  const bus = createBus({ middleware: [recorder(store)] });
  bus.registerTask(SendEmail, () => {});
  bus.subscribe(OrderPlaced, (_e, context) => {
    context.dispatch(SendEmail({ to: "by-module" }));
  }, { module: "notifications" });
  const session = bus.session("billing");
  session.subscribe(OrderPlaced, (_e, context) => {
    context.dispatch(SendEmail({ to: "by-session" }));
  });
  bus.publish(OrderPlaced({ orderId: "o" }));
  const emails = store.records.filter((r) => r.type === SendEmail.name);
  deepStrictEqual(
    emails.map((r) => [(r.payload as { to: string }).to, r.origin]),
    [["by-module", "notifications"], ["by-session", "billing"]],
  );
  const [event] = store.records.filter((r) => r.type === OrderPlaced.name);
  deepStrictEqual(emails.every((r) => r.causationId === event!.id), true);
});

Deno.test("subscriber priority: higher first, stable among equals; on the async bus each priority after the one above settled", async () => {
  for (const asynchronous of [false, true]) {
    const bus = asynchronous ? createAsyncBus() : createBus();
    const log: string[] = [];
    const subscriber = (name: string) => async () => {
      log.push(`${name} start`);
      if (asynchronous) await new Promise((resolve) => setTimeout(resolve, 2));
      log.push(`${name} end`);
    };
    const sync = (name: string) => () => void log.push(name);
    if (asynchronous) {
      bus.subscribe(OrderPlaced, subscriber("low"), { priority: 10 });
      bus.subscribe(OrderPlaced, subscriber("default-a"));
      bus.subscribe(OrderPlaced, subscriber("high"), { priority: 90 });
      bus.subscribe(OrderPlaced, subscriber("default-b"));
      await bus.publish(OrderPlaced({ orderId: "o" }));
      deepStrictEqual(log, [
        "high start",
        "high end",
        "default-a start",
        "default-b start",
        "default-a end",
        "default-b end",
        "low start",
        "low end",
      ]);
    } else {
      bus.subscribe(OrderPlaced, sync("low"), { priority: 10 });
      bus.subscribe(OrderPlaced, sync("default-a"));
      bus.subscribe(OrderPlaced, sync("high"), { priority: 90 });
      bus.subscribe(OrderPlaced, sync("default-b"));
      bus.subscribe(OrderPlaced, sync("high-2"), { priority: 90 });
      bus.publish(OrderPlaced({ orderId: "o" }));
      deepStrictEqual(log, ["high", "high-2", "default-a", "default-b", "low"]);
    }
  }
});

Deno.test("subscriber filter and once; bad options are TypeErrors", async () => {
  for (const asynchronous of [false, true]) {
    const bus = asynchronous ? createAsyncBus() : createBus();
    const heard: string[] = [];
    bus.subscribe(
      OrderPlaced,
      (e) => void heard.push(`big ${e.payload.orderId}`),
      { filter: (e) => e.payload.orderId.startsWith("big") },
    );
    bus.subscribe(
      OrderPlaced,
      (e) => void heard.push(`session ${e.payload.orderId}`),
      { filter: (_e, context) => context.sessionId === "s" },
    );
    bus.subscribe(
      OrderPlaced,
      (e) => void heard.push(`once ${e.payload.orderId}`),
      {
        once: true,
      },
    );
    await bus.publish(OrderPlaced({ orderId: "small" }));
    await bus.publish(OrderPlaced({ orderId: "big-1" }));
    await bus.session("s").publish(OrderPlaced({ orderId: "x" }));
    deepStrictEqual(heard, ["once small", "big big-1", "session x"]);
    throws(() => bus.subscribe(OrderPlaced, () => {}, { priority: NaN }), {
      name: "TypeError",
      message:
        "Cannot subscribe() to event \"orders.OrderPlaced\" as 'priority' must be a finite number: current value is the number NaN",
    });
    throws(
      () => bus.subscribe(OrderPlaced, () => {}, { filter: true as never }),
      TypeError,
    );
    throws(
      () => bus.subscribe(OrderPlaced, () => {}, { once: "yes" as never }),
      TypeError,
    );
  }
});

Deno.test("eventFilter() drops refused events on both buses; other kinds pass", async () => {
  const Debug = defineEvent<string>("debug.Trace");
  for (const asynchronous of [false, true]) {
    const options = { middleware: [eventFilter(eventsOf(OrderPlaced))] };
    const bus = asynchronous ? createAsyncBus(options) : createBus(options);
    const heard: string[] = [];
    bus.subscribe(OrderPlaced, (e) => void heard.push(e.payload.orderId));
    bus.subscribe(Debug, (e) => void heard.push(e.payload));
    bus.registerQuery(GetUser, () => "Ada");
    const dropped = bus.publish(Debug("noise"));
    if (asynchronous) deepStrictEqual(dropped instanceof Promise, true);
    await dropped;
    await bus.publish(OrderPlaced({ orderId: "o-1" }));
    deepStrictEqual(await bus.send(GetUser({ userId: "u" })), "Ada");
    deepStrictEqual(heard, ["o-1"]);
  }
  throws(() => eventFilter(42 as never), TypeError);
  throws(() => eventsOf(GetUser as never), {
    name: "TypeError",
    message:
      'Cannot create eventsOf as its arguments must be event definitions (from defineEvent()): found query "users.GetUser"',
  });
});

Deno.test("ids, subscriber ids, modules and session ids with quotes, backslashes or control characters are refused", async () => {
  const bus = createAsyncBus();
  bus.registerCommand(PlaceOrder, () => "");
  await rejects(bus.execute(PlaceOrder({ sku: "a" }), { id: 'outbox "7"' }), {
    name: "TypeError",
    message:
      `Cannot execute() as 'id' must be a non-empty string without quotes, backslashes or control characters: current value is "outbox \\"7\\""`,
  });
  throws(() => bus.subscribe(OrderPlaced, () => {}, { id: "a\nb" }), TypeError);
  throws(
    () => bus.subscribe(OrderPlaced, () => {}, { module: "a\\b" }),
    TypeError,
  );
  throws(() => bus.session("tab\there"), {
    name: "TypeError",
    message:
      `Cannot open a session as its id must be a non-empty string without quotes, backslashes or control characters: current value is "tab\\there"`,
  });
  // Plain ids, any other character included, are fine and read back.
  const dir = await Deno.makeTempDir();
  const store = jsonlStore({ dir });
  const recorded = createBus({ middleware: [recorder(store)] });
  recorded.registerCommand(PlaceOrder, () => "");
  recorded.execute(PlaceOrder({ sku: "a" }), { id: "outbox/7:é 1" });
  await store.close();
  const records = [];
  for await (const record of readRecording(store.path)) records.push(record);
  deepStrictEqual(records[0]!.id, "outbox/7:é 1");
  await Deno.remove(dir, { recursive: true });
});
