import {
  deepStrictEqual,
  notDeepStrictEqual,
  throws,
} from "node:assert/strict";
import {
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  isMessage,
} from "../mod.ts";

Deno.test("a definition builds { kind, type, payload } for each kind", () => {
  const cases = [
    [defineQuery<{ id: string }, number>("Q"), "query"],
    [defineCommand<{ id: string }>("C"), "command"],
    [defineEvent<{ id: string }>("E"), "event"],
    [defineTask<{ id: string }>("T"), "task"],
  ] as const;
  for (const [definition, kind] of cases) {
    const message = definition({ id: "1" });
    deepStrictEqual(
      [message.kind, message.type, message.payload],
      [kind, definition.name, { id: "1" }],
    );
    deepStrictEqual(definition.kind, kind);
  }
});

Deno.test("a message survives JSON.stringify as its three fields", () => {
  const OrderCreated = defineEvent<{ orderId: string; items: string[] }>(
    "OrderCreated",
  );
  const text = JSON.stringify(OrderCreated({ orderId: "o-1", items: ["a"] }));
  deepStrictEqual(
    text,
    '{"kind":"event","type":"OrderCreated","payload":{"orderId":"o-1","items":["a"]}}',
  );
  deepStrictEqual(isMessage(JSON.parse(text)), true);
});

Deno.test("a message's envelope fields cannot be reassigned", () => {
  const GetUser = defineQuery<{ id: string }, string>("GetUser");
  const message = GetUser({ id: "1" }) as unknown as Record<string, unknown>;
  for (const field of ["kind", "type", "payload"]) {
    throws(() => {
      message[field] = "changed";
    }, TypeError);
  }
  deepStrictEqual(
    [message.kind, message.type, message.payload],
    ["query", "GetUser", { id: "1" }],
  );
});

Deno.test("deepStrictEqual tells messages apart by payload, kind and type", () => {
  const A = defineEvent<{ n: number }>("A");
  const B = defineEvent<{ n: number }>("B");
  deepStrictEqual(A({ n: 1 }), A({ n: 1 }));
  notDeepStrictEqual(A({ n: 1 }), A({ n: 2 }));
  notDeepStrictEqual(A({ n: 1 }), B({ n: 1 }));
});

Deno.test("an empty or non-string name is a TypeError naming the value", () => {
  throws(() => defineQuery(""), {
    name: "TypeError",
    message:
      'Cannot define query as its name must be a non-empty string: current value is ""',
  });
  throws(() => defineEvent("   "), TypeError);
  throws(() => defineCommand(42 as unknown as string), {
    name: "TypeError",
    message:
      "Cannot define command as its name must be a non-empty string: current value is 42",
  });
  throws(() => defineTask(undefined as unknown as string), TypeError);
});

Deno.test("a definition knows its kind and name and recognises its messages", () => {
  const Ping = defineTask("Ping");
  const Pong = defineTask("Pong");
  deepStrictEqual([Ping.kind, Ping.name], ["task", "Ping"]);
  deepStrictEqual(Ping.is(Ping()), true);
  deepStrictEqual(Ping.is(Pong()), false);
  deepStrictEqual(Ping.is({ kind: "task", type: "Ping", payload: null }), true);
  deepStrictEqual(
    Ping.is({ kind: "event", type: "Ping", payload: null }),
    false,
  );
  deepStrictEqual(Ping.is(null), false);
});

Deno.test("a definition with a void payload takes no argument", () => {
  const Tick = defineEvent("Tick");
  deepStrictEqual(Tick().payload, undefined);
  const parsed = JSON.parse(JSON.stringify(Tick()));
  deepStrictEqual(parsed, { kind: "event", type: "Tick" });
  deepStrictEqual(isMessage(parsed), true);
});

Deno.test("isMessage() accepts envelopes and plain messages, nothing else", () => {
  deepStrictEqual(isMessage(defineCommand("C")()), true);
  deepStrictEqual(isMessage({ kind: "query", type: "Q", payload: 1 }), true);
  for (
    const value of [
      null,
      undefined,
      "query",
      42,
      {},
      { kind: "other", type: "Q", payload: 1 },
      { kind: "query", type: "", payload: 1 },
      { kind: "query", type: 7, payload: 1 },
    ]
  ) {
    deepStrictEqual(isMessage(value), false, String(JSON.stringify(value)));
  }
});
