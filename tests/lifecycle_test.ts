// What a bus says it handles, its startup check, and closing it.
import {
  deepStrictEqual,
  match,
  notStrictEqual,
  rejects,
  strictEqual,
  throws,
} from "node:assert/strict";
import {
  BusClosedError,
  createAsyncBus,
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  NoHandlerError,
} from "../mod.ts";
import { createAsyncFakeBus, createFakeBus } from "../src/testing/mod.ts";

const GetUser = defineQuery<string, string>("users.GetUser");
const Rename = defineCommand<string>("users.Rename");
const Renamed = defineEvent<string>("users.Renamed");
const SendEmail = defineTask<string>("mail.SendEmail");
const Audit = defineQuery<string, string>("audit.Find");

function captureWarnings(): { lines: string[]; restore: () => void } {
  const lines: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => void lines.push(args.join(" "));
  return { lines, restore: () => (console.warn = original) };
}

Deno.test("registered*() list what a bus handles, sorted, events with their subscriber counts; a session lists its own", async () => {
  for (const bus of [createBus(), createAsyncBus()]) {
    bus.registerQuery(GetUser, (q) => q.payload);
    bus.registerQuery(Audit, (q) => q.payload);
    bus.registerCommand(Rename, () => {});
    bus.subscribe(Renamed, () => {});
    const second = bus.subscribe(Renamed, () => {});
    const session = bus.session("mail");
    session.registerTask(SendEmail, () => {});
    session.subscribe(Renamed, () => {});
    deepStrictEqual(bus.registeredQueries(), ["audit.Find", "users.GetUser"]);
    deepStrictEqual(bus.registeredCommands(), ["users.Rename"]);
    deepStrictEqual(bus.registeredTasks(), ["mail.SendEmail"]);
    deepStrictEqual(bus.registeredEvents(), [
      { type: "users.Renamed", subscribers: 3 },
    ]);
    deepStrictEqual(
      [
        session.registeredQueries(),
        session.registeredCommands(),
        session.registeredTasks(),
        session.registeredEvents(),
      ],
      [[], [], ["mail.SendEmail"], [{ type: "users.Renamed", subscribers: 1 }]],
    );
    second();
    deepStrictEqual(bus.registeredEvents(), [
      { type: "users.Renamed", subscribers: 2 },
    ]);
    await session.close();
    deepStrictEqual(
      [
        bus.registeredTasks(),
        bus.registeredEvents(),
        session.registeredTasks(),
      ],
      [[], [{ type: "users.Renamed", subscribers: 1 }], []],
    );
  }
});

Deno.test("the fakes report what the module under test registered", async () => {
  function mailModule(bus: {
    registerTask: typeof fake.registerTask;
    subscribe: typeof fake.subscribe;
  }): void {
    bus.registerTask(SendEmail, () => {});
    bus.subscribe(Renamed, () => {});
  }
  const fake = createFakeBus();
  mailModule(fake);
  deepStrictEqual(
    [fake.registeredTasks(), fake.registeredEvents(), fake.registeredQueries()],
    [["mail.SendEmail"], [{ type: "users.Renamed", subscribers: 1 }], []],
  );
  const asyncFake = createAsyncFakeBus();
  const session = asyncFake.session("mail");
  session.registerTask(SendEmail, () => {});
  deepStrictEqual(
    [asyncFake.registeredTasks(), session.registeredTasks()],
    [["mail.SendEmail"], ["mail.SendEmail"]],
  );
  await session.close();
  deepStrictEqual(asyncFake.registeredTasks(), []);
});

Deno.test("assertHandles() throws one error listing every missing handler", () => {
  const bus = createBus();
  bus.registerQuery(GetUser, (q) => q.payload);
  bus.subscribe(Renamed, () => {});
  bus.assertHandles(GetUser, Renamed);
  let caught: unknown;
  try {
    bus.assertHandles(GetUser, Rename, Renamed, SendEmail, defineEvent("Gone"));
  } catch (error) {
    caught = error;
  }
  strictEqual(caught instanceof AggregateError, true);
  const error = caught as AggregateError;
  deepStrictEqual(
    error.message,
    'The bus has no handler for 3 of the 5 messages it must handle: command "users.Rename", task "mail.SendEmail", event "Gone" (no subscriber). Register them (or the modules that handle them) before the bus takes work',
  );
  deepStrictEqual(
    error.errors.map((
      e: NoHandlerError,
    ) => [e instanceof NoHandlerError, e.kind, e.type]),
    [
      [true, "command", "users.Rename"],
      [true, "task", "mail.SendEmail"],
      [true, "event", "Gone"],
    ],
  );
  throws(
    // @ts-expect-error Not a definition.
    () => bus.assertHandles(GetUser, "users.Rename"),
    {
      name: "TypeError",
      message:
        'Cannot assertHandles() as its argument 1 must be a message definition (from defineQuery(), defineCommand(), defineEvent() or defineTask()): current value is the string "users.Rename"',
    },
  );
});

Deno.test("createBus().close() closes its sessions, removes every registration, and refuses dispatches and registrations after", () => {
  const bus = createBus();
  bus.registerQuery(GetUser, (q) => q.payload);
  const session = bus.session("users");
  session.registerCommand(Rename, () => {});
  bus.close();
  bus.close(); // harmless
  deepStrictEqual(
    [bus.registeredQueries(), bus.registeredCommands(), bus.activeSessions],
    [[], [], 0],
  );
  throws(() => bus.send(GetUser("u1")), {
    name: "BusClosedError",
    message:
      'Cannot send() query "users.GetUser": the bus is closed (close() was called). Dispatch and register before closing, or create another bus',
  });
  throws(() => bus.execute(Rename("x"), { id: "c1" }), BusClosedError);
  throws(() => bus.publish(Renamed("x")), BusClosedError);
  throws(() => bus.dispatch(SendEmail("x")), BusClosedError);
  // Not a message: the same error as on an open bus.
  throws(() => bus.send(Renamed("x") as never), TypeError);
  throws(() => bus.registerQuery(Audit, (q) => q.payload), {
    name: "BusClosedError",
    message:
      'Cannot registerQuery() query "audit.Find": the bus is closed (close() was called). Dispatch and register before closing, or create another bus',
  });
  throws(() => bus.subscribe(Renamed, () => {}), BusClosedError);
  throws(() => session.execute(Rename("x")), /session "users": it is closed/);
  throws(() => bus.session(), {
    message: "Cannot open a session: the bus is closed (close() was called)",
  });
});

Deno.test("using bus = createBus() closes it at the end of the scope", () => {
  let outer: ReturnType<typeof createBus>;
  {
    using bus = createBus();
    bus.registerQuery(GetUser, (q) => q.payload);
    outer = bus;
  }
  throws(() => outer.send(GetUser("u1")), BusClosedError);
});

Deno.test("createAsyncBus().close() refuses new work at once, lets handlers in flight finish (nested dispatches included), then removes everything", async () => {
  const bus = createAsyncBus();
  bus.registerQuery(GetUser, (q) => `user ${q.payload}`);
  let finish = () => {};
  const seen: string[] = [];
  const session = bus.session("users");
  session.registerCommand(Rename, async (command, context) => {
    await new Promise<void>((resolve) => (finish = resolve));
    seen.push(await context.send(GetUser(command.payload)));
  });
  const renaming = bus.execute(Rename("u1"));
  const closing = bus.close();
  strictEqual(bus.close(), closing);
  await rejects(bus.send(GetUser("u2")), {
    name: "BusClosedError",
    message:
      'Cannot send() query "users.GetUser": the bus is closed (close() was called). Dispatch and register before closing, or create another bus',
  });
  await rejects(bus.publish(Renamed("x"), { id: "e1" }), BusClosedError);
  await rejects(session.send(GetUser("u3")), /it is closed/);
  throws(() => bus.registerTask(SendEmail, () => {}), BusClosedError);
  // Still registered while the handler runs.
  deepStrictEqual(bus.registeredQueries(), ["users.GetUser"]);
  let closed = false;
  closing.then(() => (closed = true));
  await new Promise((resolve) => setTimeout(resolve, 20));
  strictEqual(closed, false);
  finish();
  await renaming;
  await closing;
  deepStrictEqual(seen, ["user u1"]);
  deepStrictEqual(
    [bus.registeredQueries(), bus.registeredCommands(), bus.activeSessions],
    [[], [], 0],
  );
});

Deno.test("createAsyncBus({ closeTimeoutMs }): close() stops waiting for a handler that never ends, says so, and removes everything", async () => {
  const warnings = captureWarnings();
  try {
    const bus = createAsyncBus({ closeTimeoutMs: 30 });
    const session = bus.session("stuck");
    session.registerCommand(Rename, () => new Promise<void>(() => {}));
    void bus.execute(Rename("x"));
    const startedAt = Date.now();
    await bus.close();
    const waited = Date.now() - startedAt;
    strictEqual(waited >= 25 && waited < 2_000, true, `waited ${waited} ms`);
    deepStrictEqual(warnings.lines, [
      "createAsyncBus: close() stopped waiting after closeTimeoutMs (30 ms) for the handlers in flight of its sessions and batch subscriptions; every registration is removed now",
    ]);
    deepStrictEqual(bus.registeredCommands(), []);
  } finally {
    warnings.restore();
  }
  throws(() => createAsyncBus({ closeTimeoutMs: -1 }), {
    name: "RangeError",
    message:
      "Cannot createAsyncBus() as 'closeTimeoutMs' must be a non-negative number of milliseconds: current value is -1",
  });
});

Deno.test("await using an async bus closes what it owns: the event queue is drained and batch subscriptions flushed before registrations go", async () => {
  const heard: string[] = [];
  let outer: ReturnType<typeof createAsyncBus> | undefined;
  {
    await using bus = createAsyncBus({
      eventQueue: { maxSize: 10, concurrency: 1, strategy: "reject-new" },
    });
    outer = bus;
    bus.subscribe(Renamed, async (event) => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      heard.push(`event ${event.payload}`);
    });
    bus.subscribeBatch(Renamed, (events) => {
      heard.push(`batch ${events.map((e) => e.payload).join(",")}`);
    }, { size: 10, timeoutMs: 60_000 });
    await bus.publish(Renamed("a"));
    await bus.publish(Renamed("b"));
  }
  deepStrictEqual(heard.sort(), ["batch a,b", "event a", "event b"]);
  notStrictEqual(outer, undefined);
  await rejects(outer!.publish(Renamed("c")), Error);
  deepStrictEqual(outer!.registeredEvents(), []);
});

Deno.test("a closed bus's error says what was refused, for every method and kind", () => {
  const bus = createBus();
  bus.close();
  for (
    const [call, text] of [
      [
        () => bus.registerCommand(Rename, () => {}),
        'registerCommand() command "users.Rename"',
      ],
      [
        () => bus.registerTask(SendEmail, () => {}),
        'registerTask() task "mail.SendEmail"',
      ],
      [
        () => bus.dispatch(SendEmail("x"), { id: "t1" }),
        'dispatch() task "mail.SendEmail"',
      ],
    ] as const
  ) {
    throws(call, (error: unknown) => {
      match(
        (error as Error).message,
        new RegExp(
          `^Cannot ${text.replace(/[()]/g, "\\$&")}: the bus is closed`,
        ),
      );
      return error instanceof BusClosedError;
    });
  }
});
