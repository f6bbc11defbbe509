import { deepStrictEqual, rejects } from "node:assert/strict";
import {
  type AsyncMiddleware,
  createAsyncBus,
  createBus,
  defineCommand,
  defineQuery,
  type Middleware,
  type MiddlewareContext,
} from "../mod.ts";

const GetUser = defineQuery<{ id: string }, string>("GetUser");
const GetName = defineQuery<{ id: string }, string>("GetName");
const Save = defineCommand<string>("Save");

Deno.test("async dispatches take { signal }: handlers see it, and the dispatch rejects when it aborts", async () => {
  const bus = createAsyncBus();
  let seen: AbortSignal | undefined;
  bus.registerQuery(GetUser, (_q, context) => {
    seen = context.signal;
    return new Promise<string>(() => {}); // never answers by itself
  });
  const controller = new AbortController();
  const pending = bus.send(GetUser({ id: "1" }), { signal: controller.signal });
  await Promise.resolve();
  deepStrictEqual(seen?.aborted, false);
  const reason = new Error("caller gave up");
  controller.abort(reason);
  await rejects(pending, (error) => error === reason);
  deepStrictEqual(seen?.aborted, true);
});

Deno.test("an already aborted signal rejects at once, without running the handler", async () => {
  const bus = createAsyncBus();
  let calls = 0;
  bus.registerCommand(Save, () => {
    calls++;
  });
  const reason = new Error("too late");
  await rejects(
    bus.execute(Save("x"), { signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  deepStrictEqual(calls, 0);
});

Deno.test("a bad signal option rejects with a TypeError", async () => {
  const bus = createAsyncBus();
  await rejects(bus.send(GetUser({ id: "1" }), { signal: "soon" as never }), {
    name: "TypeError",
    message:
      `Cannot send() as 'signal' must be an AbortSignal: current value is "soon"`,
  });
});

Deno.test("nested dispatches through the context inherit the caller's signal", async () => {
  const bus = createAsyncBus();
  const signals: AbortSignal[] = [];
  bus.registerQuery(GetName, (_q, context) => {
    signals.push(context.signal);
    return "Ada";
  });
  bus.registerQuery(GetUser, async (q, context) => {
    signals.push(context.signal);
    return `user ${await context.send(GetName(q.payload))}`;
  });
  const controller = new AbortController();
  deepStrictEqual(
    await bus.send(GetUser({ id: "1" }), { signal: controller.signal }),
    "user Ada",
  );
  deepStrictEqual(signals.length, 2);
  deepStrictEqual(signals[0], signals[1]);
  controller.abort();
  deepStrictEqual(signals[1]!.aborted, true);
});

Deno.test("without a signal a dispatch's context never aborts, and each dispatch has its own id", async () => {
  const bus = createAsyncBus();
  const contexts: unknown[] = [];
  bus.registerQuery(GetUser, (_q, context) => {
    contexts.push(context);
    deepStrictEqual([context.signal.aborted, context.deadline], [
      false,
      undefined,
    ]);
    return "x";
  });
  await bus.send(GetUser({ id: "1" }));
  await bus.send(GetUser({ id: "2" }));
  const [first, second] = contexts as { id: string; signal: AbortSignal }[];
  deepStrictEqual(first!.signal === second!.signal, true); // the bus's own
  deepStrictEqual(first!.id === second!.id, false);
});

Deno.test("middleware get the context and can change the signal and deadline for what follows", async () => {
  const seen: { deadline: number | undefined; aborted: boolean }[] = [];
  const narrow: AsyncMiddleware = (message, next, context) => {
    seen.push({ deadline: context.deadline, aborted: context.signal.aborted });
    return next(message, {
      deadline: message.type === "GetUser" ? 1_000 : 5_000,
      signal: AbortSignal.abort("stop"),
    });
  };
  const bus = createAsyncBus({ middleware: [narrow] });
  const deadlines: (number | undefined)[] = [];
  bus.registerQuery(GetName, (_q, context) => {
    deadlines.push(context.deadline);
    return "Ada";
  });
  bus.registerQuery(GetUser, async (q, context) => {
    deadlines.push(context.deadline);
    deepStrictEqual(context.signal.aborted, true);
    return await context.send(GetName(q.payload));
  });
  await bus.send(GetUser({ id: "1" }));
  // The nested dispatch keeps the earlier deadline (1,000, not 5,000).
  deepStrictEqual(deadlines, [1_000, 1_000]);
  deepStrictEqual(seen[1], { deadline: 1_000, aborted: true });
});

Deno.test("sync middleware see the context and pass it on unchanged by default: one dispatch, one id", () => {
  const contexts: MiddlewareContext[] = [];
  const ids: string[] = [];
  const spy: Middleware = (message, next, context) => {
    contexts.push(context);
    const result = next(message);
    ids.push(context.id); // read after the handler: the same dispatch
    return result;
  };
  const bus = createBus({ middleware: [spy, spy] });
  bus.registerQuery(GetUser, (_q, context) => {
    contexts.push(context);
    ids.push(context.id);
    return "x";
  });
  bus.send(GetUser({ id: "1" }));
  bus.send(GetUser({ id: "2" }));
  deepStrictEqual(contexts.length, 6);
  deepStrictEqual(contexts[0] === contexts[1], true); // passed on unchanged
  // Each dispatch has one id, seen alike by its middleware and its handler.
  deepStrictEqual(ids.length, 6);
  deepStrictEqual(new Set(ids.slice(0, 3)).size, 1);
  deepStrictEqual(new Set(ids.slice(3)).size, 1);
  deepStrictEqual(ids[0] === ids[3], false);
});

Deno.test("sync dispatches nested through the bus inside a middleware chain keep their own ids, and the outer one's is restored", () => {
  const GetName = defineQuery<{ id: string }, string>("GetName");
  const seen: string[] = [];
  const spy: Middleware = (message, next, context) => {
    const before = context.id;
    const result = next(message);
    seen.push(`${message.type} ${before === context.id}`);
    return result;
  };
  const bus = createBus({ middleware: [spy] });
  const handlerIds: string[] = [];
  bus.registerQuery(GetName, (_q, context) => {
    handlerIds.push(context.id);
    return "Ada";
  });
  bus.registerQuery(GetUser, (q, context) => {
    handlerIds.push(context.id);
    return bus.send(GetName(q.payload)); // through the bus: no causation
  });
  bus.send(GetUser({ id: "1" }));
  deepStrictEqual(seen, ["GetName true", "GetUser true"]);
  deepStrictEqual(handlerIds[0] === handlerIds[1], false);
});
