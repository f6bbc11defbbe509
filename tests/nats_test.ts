// createNatsBus(): what is particular to crossing NATS (the contract all
// buses share is in bus_contract_test.ts; faults in nats_faults_test.ts).
import {
  deepStrictEqual,
  match,
  ok,
  rejects,
  throws,
} from "node:assert/strict";
import {
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  NoHandlerError,
  RemoteHandlerError,
  TimeoutError,
  TransportError,
} from "../mod.ts";
import { deadLetter, memoryDeadLetterStore } from "../src/resilience/mod.ts";
import {
  createNatsBus,
  jsonCodec,
  type NatsMessageBus,
} from "../src/transports/nats/mod.ts";
import { connect } from "@nats-io/transport-node";
import { startNatsServer } from "./_nats_server.ts";
import { eventually } from "./contract/suite.ts";

const GetPrice = defineQuery<{ sku: string }, number>("catalog.GetPrice");
const Ordered = defineEvent<{ n: number }>("orders.Ordered");
const Resize = defineTask<{ n: number }>("media.Resize");

/** Buses on one private server, drained at the end. */
async function withBuses(
  count: number,
  run: (buses: NatsMessageBus[], url: string) => Promise<void>,
  options: Parameters<typeof createNatsBus>[0] = {},
): Promise<void> {
  await using server = await startNatsServer();
  const buses: NatsMessageBus[] = [];
  try {
    for (let index = 0; index < count; index++) {
      buses.push(await createNatsBus({ ...options, servers: server.url }));
    }
    await run(buses, server.url);
  } finally {
    for (const bus of buses) await bus.close();
  }
}

Deno.test("names that cannot be NATS subjects are refused at registration and dispatch, naming the character", async () => {
  await withBuses(1, async ([bus]) => {
    throws(
      () =>
        bus!.registerQuery(
          defineQuery<void, void>("catalog.Get Price"),
          () => {},
        ),
      {
        name: "TypeError",
        message:
          `Cannot registerQuery() query "catalog.Get Price": its name has a space at index 11, which this bus does not put in a NATS subject: use letters, digits, '-', '_' and ':', with '.' between words`,
      },
    );
    await rejects(
      bus!.send(defineQuery<void, void>("catalog.*")()),
      (error) =>
        error instanceof TypeError && /'\*' at index 8/.test(error.message),
    );
    throws(
      () => bus!.subscribe(defineEvent("orders..Placed"), () => {}),
      /a '\.' at index 6 that does not sit between two words/,
    );
  });
});

Deno.test("a payload JSON would change is refused before anything is sent, naming where it is", async () => {
  await withBuses(2, async ([server, client]) => {
    let calls = 0;
    const Put = defineCommand<unknown>("store.Put");
    server!.registerCommand(Put, () => {
      calls++;
    });
    await server!.ready();
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const cases: [unknown, RegExp][] = [
      [{ price: 10n }, /value\.price is a bigint \(10n\).*String\(value\)/],
      [{ at: new Date(0) }, /value\.at is a Date.*toISOString/],
      [{ tags: new Set(["a"]) }, /value\.tags is a Set.*\[\.\.\.set\]/],
      [{ run: () => 1 }, /value\.run is a function/],
      [[1, undefined], /value\[1\] is undefined/],
      [{ ratio: NaN }, /value\.ratio is NaN/],
      [cycle, /value\.self refers back/],
    ];
    for (const [payload, message] of cases) {
      await rejects(client!.execute(Put(payload)), (error) => {
        ok(error instanceof TypeError);
        match(
          error.message,
          /^Cannot execute\(\) command "store.Put": its payload cannot be sent/,
        );
        match(error.message, message);
        return true;
      });
    }
    deepStrictEqual(
      await client!.execute(Put({ fine: [1, "a", null] })),
      undefined,
    );
    deepStrictEqual(calls, 1);
    deepStrictEqual(jsonCodec.decode(jsonCodec.encode(undefined)), undefined);
  });
});

Deno.test("a result that cannot be sent back fails the caller with the remote TypeError", async () => {
  await withBuses(2, async ([server, client]) => {
    const When = defineQuery<void, Date>("clock.When");
    server!.registerQuery(When, () => new Date(0));
    await server!.ready();
    await rejects(client!.send(When()), (error) => {
      ok(error instanceof RemoteHandlerError);
      deepStrictEqual(error.name, "TypeError");
      match(
        error.message,
        /The result of query "clock.When" cannot be sent back \(value is a Date/,
      );
      return true;
    });
  });
});

Deno.test("a dispatch without a deadline waits queryTimeoutMs, then fails with TimeoutError", async () => {
  await withBuses(2, async ([server, client]) => {
    server!.registerQuery(GetPrice, () => new Promise<number>(() => {}));
    await server!.ready();
    const started = Date.now();
    await rejects(
      client!.send(GetPrice({ sku: "a" })),
      (error) => error instanceof TimeoutError && error.limitMs === 150,
    );
    ok(Date.now() - started >= 140);
    // The handler never ends: close() waits for it this long, no longer.
  }, { queryTimeoutMs: 150, closeTimeoutMs: 200 });
});

Deno.test("a NATS bus says what this process serves, checks it at startup, and close() lets a handler in flight answer", async () => {
  await withBuses(2, async ([server, client]) => {
    server!.registerQuery(GetPrice, async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return 42;
    });
    server!.subscribe(Ordered, () => {});
    server!.registerTask(Resize, () => {});
    await server!.ready();
    deepStrictEqual(
      [
        server!.registeredQueries(),
        server!.registeredEvents(),
        server!.registeredTasks(),
        client!.registeredQueries(),
      ],
      [
        ["catalog.GetPrice"],
        [{ type: "orders.Ordered", subscribers: 1 }],
        ["media.Resize"],
        [],
      ],
    );
    server!.assertHandles(GetPrice, Ordered, Resize);
    throws(() => client!.assertHandles(GetPrice), {
      name: "AggregateError",
      message:
        'The bus has no handler for 1 of the 1 messages it must handle: query "catalog.GetPrice". Register them (or the modules that handle them) before the bus takes work',
    });
    const price = client!.send(GetPrice({ sku: "a" }));
    await new Promise((resolve) => setTimeout(resolve, 30));
    await server!.close();
    deepStrictEqual(await price, 42);
    await rejects(
      server!.send(GetPrice({ sku: "a" })),
      (error) => error instanceof TransportError,
    );
  });
});

Deno.test("replicas of a query handler share requests through their queue group", async () => {
  await withBuses(3, async ([first, second, client]) => {
    const served = [0, 0];
    first!.registerQuery(GetPrice, () => ++served[0]!);
    second!.registerQuery(GetPrice, () => ++served[1]!);
    await first!.ready();
    await second!.ready();
    for (let index = 0; index < 60; index++) {
      await client!.send(GetPrice({ sku: "a" }));
    }
    deepStrictEqual(served[0]! + served[1]!, 60);
    ok(served[0]! > 0 && served[1]! > 0, `served ${served}`);
  });
});

Deno.test("events reach every plain subscriber and one subscriber per group", async () => {
  await withBuses(3, async ([a, b, publisher]) => {
    const heard = { plainA: 0, plainB: 0, groupA: 0, groupB: 0 };
    a!.subscribe(Ordered, () => void heard.plainA++);
    b!.subscribe(Ordered, () => void heard.plainB++);
    a!.subscribe(Ordered, () => void heard.groupA++, { group: "billing" });
    b!.subscribe(Ordered, () => void heard.groupB++, { group: "billing" });
    await a!.ready();
    await b!.ready();
    for (let n = 0; n < 40; n++) await publisher!.publish(Ordered({ n }));
    await eventually(
      () =>
        Promise.resolve(
          heard.plainA === 40 && heard.plainB === 40 &&
            heard.groupA + heard.groupB === 40,
        ),
      "every event heard",
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    deepStrictEqual(heard.groupA + heard.groupB, 40);
    ok(heard.groupA > 0 && heard.groupB > 0, JSON.stringify(heard));
  });
});

Deno.test("a durable subscriber gets the events published while no process had it, and a failed delivery again", async () => {
  await using server = await startNatsServer();
  const publisher = await createNatsBus({ servers: server.url });
  const first = await createNatsBus({ servers: server.url });
  const heard: number[] = [];
  first.subscribe(Ordered, (e) => void heard.push(e.payload.n), {
    durable: "ledger",
  });
  await first.ready();
  await publisher.publish(Ordered({ n: 1 }));
  await eventually(() => Promise.resolve(heard.length === 1), "first event");
  await first.drain();
  // Nobody subscribes now: the stream keeps them for "ledger".
  for (const n of [2, 3, 4]) await publisher.publish(Ordered({ n }));
  await publisher.ready();
  const second = await createNatsBus({
    servers: server.url,
    taskDefaults: { retryDelayMs: 10 },
  });
  let failOnce = true;
  second.subscribe(Ordered, (e) => {
    if (e.payload.n === 3 && failOnce) {
      failOnce = false;
      throw new Error("not yet");
    }
    heard.push(e.payload.n);
  }, { durable: "ledger" });
  await second.ready();
  await eventually(
    () => Promise.resolve(heard.length === 4),
    "the missed events",
  );
  deepStrictEqual(heard.toSorted(), [1, 2, 3, 4]);
  deepStrictEqual(failOnce, false);
  await second.drain();
  await publisher.drain();
});

Deno.test("tasks: dispatch resolves once stored, a worker registered later gets them, the same id is stored once", async () => {
  await withBuses(2, async ([dispatcher, worker]) => {
    await dispatcher!.dispatch(Resize({ n: 1 }), { id: "resize-1" });
    await dispatcher!.dispatch(Resize({ n: 1 }), { id: "resize-1" });
    await dispatcher!.dispatch(Resize({ n: 2 }), { id: "resize-2" });
    const done: string[] = [];
    worker!.registerTask(Resize, (task, context) => {
      done.push(`${task.payload.n} ${context.id} try ${context.attempt}`);
    });
    await eventually(() => Promise.resolve(done.length >= 2), "both tasks");
    await new Promise((resolve) => setTimeout(resolve, 200));
    deepStrictEqual(done.toSorted(), ["1 resize-1 try 1", "2 resize-2 try 1"]);
  });
});

Deno.test("tasks: a failed task is tried again with its attempt number, and a poison task is dead-lettered after maxDeliver", async () => {
  const store = memoryDeadLetterStore();
  await withBuses(2, async ([dispatcher, worker]) => {
    const tries: string[] = [];
    worker!.registerTask(Resize, (task, context) => {
      tries.push(`${task.payload.n}:${context.attempt}`);
      if (task.payload.n === 1 && context.attempt < 2) {
        throw new Error("flaky");
      }
      if (task.payload.n === 2) throw new RangeError("cannot resize");
    }, { maxDeliver: 3, retryDelayMs: 10 });
    await worker!.ready();
    await dispatcher!.dispatch(Resize({ n: 1 }), { id: "flaky-1" });
    await dispatcher!.dispatch(Resize({ n: 2 }), { id: "poison-1" });
    await eventually(
      async () => (await store.list()).length === 1 && tries.includes("1:2"),
      "the retry and the dead letter",
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    deepStrictEqual(tries.filter((t) => t.startsWith("1:")), ["1:1", "1:2"]);
    deepStrictEqual(tries.filter((t) => t.startsWith("2:")), [
      "2:1",
      "2:2",
      "2:3",
    ]);
    const [letter] = await store.list();
    deepStrictEqual(
      [
        letter!.id,
        letter!.message,
        letter!.error.name,
        letter!.error.message,
        letter!.attempts,
        letter!.subscriber,
      ],
      [
        "poison-1",
        { kind: "task", type: "media.Resize", payload: { n: 2 } },
        "RangeError",
        "cannot resize",
        3,
        null,
      ],
    );
  }, { deadLetters: store });
});

Deno.test("context data travels only under the keys given to propagate, and must be JSON", async () => {
  await withBuses(2, async ([server, client]) => {
    const Who = defineQuery<void, unknown>("auth.Who");
    server!.registerQuery(Who, (_query, context) => context.data);
    await server!.ready();
    deepStrictEqual(
      await client!.send(Who(), {
        data: { tenant: "t1", transaction: "local only" } as never,
      }),
      { tenant: "t1" },
    );
    await rejects(
      client!.send(Who(), { data: { tenant: 1n } as never }),
      /Cannot send\(\) query "auth.Who": context data\.tenant is a bigint/,
    );
  }, { propagate: ["tenant" as never] });
});

Deno.test("handlersOf() lists who serves a message, and a second module registering it is warned of", async () => {
  await withBuses(3, async ([a, b, client]) => {
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (line: string) => void warnings.push(line);
    try {
      a!.session("catalog").registerQuery(GetPrice, function catalogPrice() {
        return 1;
      });
      await a!.ready();
      b!.session("pricing").registerQuery(GetPrice, function pricingPrice() {
        return 2;
      });
      await b!.ready();
      await eventually(
        () => Promise.resolve(warnings.length === 1),
        "the warning",
      );
    } finally {
      console.warn = warn;
    }
    match(
      warnings[0]!,
      /query "catalog.GetPrice" is served by handler pricingPrice \(module pricing\) here and by handler catalogPrice \(module catalog\) on .*, pid \d+/,
    );
    const served = await client!.handlersOf(GetPrice);
    deepStrictEqual(
      served.map((info) => `${info.module}/${info.handler}`).toSorted(),
      ["catalog/catalogPrice", "pricing/pricingPrice"],
    );
  });
});

Deno.test("after drain(), dispatches fail with a TransportError and registrations with a TypeError; a given connection stays open", async () => {
  await using server = await startNatsServer();
  const connection = await connect({ servers: server.url });
  const bus = await createNatsBus({ connection });
  bus.registerQuery(GetPrice, () => 1);
  await bus.ready();
  deepStrictEqual(await bus.send(GetPrice({ sku: "a" })), 1);
  await bus.drain();
  await rejects(
    bus.send(GetPrice({ sku: "a" })),
    (error) => error instanceof TransportError && error.code === "closed",
  );
  await rejects(bus.dispatch(Resize({ n: 1 })), TransportError);
  throws(
    () => bus.registerQuery(GetPrice, () => 2),
    /closed createNatsBus\(\) bus/,
  );
  deepStrictEqual(connection.isClosed(), false);
  // The bus's handler is gone from the server.
  const other = await createNatsBus({ connection });
  await rejects(other.send(GetPrice({ sku: "a" })), NoHandlerError);
  await other.drain();
  await connection.close();
});

Deno.test("createNatsBus() refuses bad options with errors that name them", async () => {
  await rejects(createNatsBus({}), /needs 'servers'/);
  await rejects(
    createNatsBus({ servers: "127.0.0.1:1", prefix: "a.b" }),
    /'prefix' must be letters, digits/,
  );
  await rejects(
    createNatsBus({ servers: "127.0.0.1:1", queryTimeoutMs: 0 }),
    RangeError,
  );
  await rejects(
    createNatsBus({ servers: "127.0.0.1:1", middleware: [1 as never] }),
    /'middleware\[0\]' must be a function/,
  );
  await rejects(
    createNatsBus({ connection: {} as never }),
    /'connection' must be a NatsConnection/,
  );
  await rejects(
    createNatsBus({ servers: "127.0.0.1:1", codec: {} as never }),
    /'codec' must have encode/,
  );
});

Deno.test("a task that runs longer than ackWaitMs is not handed to another worker: its worker tells the server it is alive", async () => {
  await withBuses(3, async ([dispatcher, first, second]) => {
    const runs: string[] = [];
    const slow = async (_task: unknown, context: { attempt: number }) => {
      runs.push(`try ${context.attempt}`);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
    };
    first!.registerTask(Resize, slow, { ackWaitMs: 400 });
    second!.registerTask(Resize, slow, { ackWaitMs: 400 });
    await first!.ready();
    await second!.ready();
    await dispatcher!.dispatch(Resize({ n: 1 }), { id: "long-1" });
    await eventually(() => Promise.resolve(runs.length === 1), "it started");
    await new Promise((resolve) => setTimeout(resolve, 1_800));
    deepStrictEqual(runs, ["try 1"]);
  });
});

Deno.test("a subscriber's failure stays with its process: handlerMiddleware dead-letters it there, onError hears the rest, the publisher is not held", async () => {
  const store = memoryDeadLetterStore();
  const told: string[] = [];
  await using server = await startNatsServer();
  const subscriberNode = await createNatsBus({
    servers: server.url,
    handlerMiddleware: [deadLetter(store)],
  });
  const quietNode = await createNatsBus({
    servers: server.url,
    onError: (error, message) =>
      void told.push(
        `${message.type} ${JSON.stringify(message.payload)}: ${
          (error as Error).message
        }`,
      ),
  });
  const publisher = await createNatsBus({ servers: server.url });
  try {
    subscriberNode.subscribe(Ordered, function charge() {
      throw new Error("card declined");
    });
    quietNode.subscribe(Ordered, () => {
      throw new Error("index down");
    });
    await subscriberNode.ready();
    await quietNode.ready();
    deepStrictEqual(
      await publisher.publish(Ordered({ n: 7 }), { id: "ordered-7" }),
      undefined,
    );
    await eventually(
      async () => (await store.list()).length === 1 && told.length === 1,
      "the letter and the report",
    );
    const [letter] = await store.list();
    deepStrictEqual(
      [
        letter!.message.payload,
        letter!.handler,
        letter!.subscriber,
        letter!.error.message,
      ],
      [{ n: 7 }, "charge", "charge", "card declined"],
    );
    deepStrictEqual(told, ['orders.Ordered {"n":7}: index down']);
  } finally {
    await publisher.close();
    await quietNode.close();
    await subscriberNode.close();
  }
});
