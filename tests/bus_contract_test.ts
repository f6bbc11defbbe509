// The bus contract (tests/contract/suite.ts) against every bus: the
// synchronous and asynchronous in-process buses, and the NATS bus with its
// handlers on another connection and in another process.
import {
  type AnyMessage,
  createAsyncBus,
  createBus,
  type MessageBus,
} from "../mod.ts";
import { timeout } from "../src/resilience/mod.ts";
import { createNatsBus } from "../src/transports/nats/mod.ts";
import { registerContractHandlers } from "./contract/handlers.ts";
import { type Caller, runContract } from "./contract/suite.ts";
import { startNatsServer } from "./_nats_server.ts";

const SLOW_MS = { perType: { "contract.Slow": 300 } };

function promised(run: () => unknown): Promise<unknown> {
  try {
    return Promise.resolve(run());
  } catch (error) {
    return Promise.reject(error);
  }
}

// The synchronous bus, seen through promises.
function syncCaller(bus: MessageBus | ReturnType<MessageBus["session"]>) {
  const methods = {
    send: (m: AnyMessage, o?: object) =>
      promised(() => bus.send(m as never, o)),
    execute: (m: AnyMessage, o?: object) =>
      promised(() => bus.execute(m as never, o)),
    publish: (m: AnyMessage, o?: object) =>
      promised(() => bus.publish(m as never, o)),
    dispatch: (m: AnyMessage, o?: object) =>
      promised(() => bus.dispatch(m as never, o)),
  };
  return methods;
}

Deno.test("the bus contract holds for createBus()", async (t) => {
  await runContract(t, () => {
    const bus = createBus();
    registerContractHandlers(bus.session("contract"), false);
    const caller: Caller = {
      ...syncCaller(bus),
      session: (id) => syncCaller(bus.session(id)),
    };
    return Promise.resolve({
      caller,
      async: false,
      remote: false,
      close: () => Promise.resolve(),
    });
  });
});

Deno.test("the bus contract holds for createAsyncBus()", async (t) => {
  await runContract(t, () => {
    const bus = createAsyncBus({ middleware: [timeout(SLOW_MS)] });
    registerContractHandlers(bus.session("contract"), true);
    return Promise.resolve({
      caller: bus as unknown as Caller,
      async: true,
      remote: false,
      close: () => Promise.resolve(),
    });
  });
});

Deno.test("the bus contract holds for createNatsBus(), handlers on another connection", async (t) => {
  await using server = await startNatsServer();
  await runContract(t, async () => {
    const handlers = await createNatsBus({
      servers: server.url,
      propagate: ["tenant" as never],
    });
    registerContractHandlers(handlers.session("contract"), true);
    await handlers.ready();
    const caller = await createNatsBus({
      servers: server.url,
      middleware: [timeout(SLOW_MS)],
      propagate: ["tenant" as never],
    });
    return {
      caller: caller as unknown as Caller,
      async: true,
      remote: true,
      close: async () => {
        await caller.drain();
        await handlers.drain();
      },
    };
  });
});

Deno.test("the bus contract holds for createNatsBus(), handlers in another process", async (t) => {
  await using server = await startNatsServer();
  await runContract(t, async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./contract/worker.ts", import.meta.url).pathname,
        server.url,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let output = "";
    while (!output.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the worker exited: ${output}`);
      output += value;
    }
    const caller = await createNatsBus({
      servers: server.url,
      middleware: [timeout(SLOW_MS)],
      propagate: ["tenant" as never],
    });
    return {
      caller: caller as unknown as Caller,
      async: true,
      remote: true,
      close: async () => {
        await caller.drain();
        await child.stdin.close();
        await reader.cancel();
        await child.status;
      },
    };
  });
});
