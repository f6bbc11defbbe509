// The bus contract: what every bus does the same, whether its handlers run
// in the caller's process or across a broker. A harness gives a bus that
// dispatches and puts the handlers of handlers.ts somewhere; the suite runs
// each case as a step. Further transports plug in with a harness of their
// own.
import { deepStrictEqual, match, ok, rejects } from "node:assert/strict";
import {
  Add,
  Echo,
  Emit,
  Fail,
  Inspect,
  Log,
  Missing,
  Nested,
  NestedMissing,
  Note,
  Noted,
  Slow,
} from "./handlers.ts";
import {
  type AnyMessage,
  NoHandlerError,
  RemoteHandlerError,
  TimeoutError,
} from "../../mod.ts";

/** Dispatches as the asynchronous bus does (a sync bus is wrapped). */
export interface Caller {
  send(query: AnyMessage, options?: object): Promise<unknown>;
  execute(command: AnyMessage, options?: object): Promise<unknown>;
  publish(event: AnyMessage, options?: object): Promise<unknown>;
  dispatch(task: AnyMessage, options?: object): Promise<unknown>;
  session(id: string): Omit<Caller, "session">;
}

/** A bus to test and where its handlers run. */
export interface Harness {
  /** The bus that dispatches; its `timeout` middleware gives Slow 300 ms. */
  readonly caller: Caller;
  /** Whether handlers may be asynchronous and dispatches have deadlines. */
  readonly async: boolean;
  /** Whether the handlers are across a broker (events arrive later). */
  readonly remote: boolean;
  close(): Promise<void>;
}

/** Polls `check` until it holds, for at most `ms`. */
export async function eventually(
  check: () => Promise<boolean>,
  what: string,
  ms = 5_000,
): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`never: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Runs every case of the contract against a fresh harness per case. */
export async function runContract(
  t: Deno.TestContext,
  make: () => Promise<Harness>,
): Promise<void> {
  const cases: [string, (harness: Harness) => Promise<void>][] = [
    ["a query returns its handler's result", async ({ caller }) => {
      deepStrictEqual(await caller.send(Echo({ text: "hi" })), "echo hi");
    }],
    ["a command returns its handler's result", async ({ caller }) => {
      deepStrictEqual(await caller.execute(Add({ a: 2, b: 3 })), 5);
    }],
    ["a query nobody handles fails with NoHandlerError", async ({ caller }) => {
      await rejects(
        caller.send(Missing()),
        (error) =>
          error instanceof NoHandlerError && error.type === "contract.Missing",
      );
    }],
    [
      "a handler's error reaches the caller with its name and message",
      async ({ caller, remote }) => {
        await rejects(
          caller.send(Fail({ name: "OutOfStock", message: "sku-1 is gone" })),
          (error) =>
            error instanceof Error && error.name === "OutOfStock" &&
            error.message === "sku-1 is gone" &&
            (error instanceof RemoteHandlerError) === remote,
        );
      },
    ],
    [
      "the library's own errors come back as their classes",
      async ({ caller }) => {
        await rejects(
          caller.send(NestedMissing()),
          (error) =>
            error instanceof NoHandlerError &&
            error.type === "contract.Missing",
        );
      },
    ],
    [
      "a caller's id, data and session reach the handler",
      async ({ caller }) => {
        const seen = await caller.session("checkout").send(Inspect(), {
          id: "caller-1",
          data: { tenant: "t1" },
        });
        deepStrictEqual(seen, {
          id: "caller-1",
          correlationId: "caller-1",
          causationId: null,
          sessionId: "checkout",
          origin: null,
          tenant: "t1",
        });
      },
    ],
    [
      "a nested dispatch carries correlation, causation, origin and data on",
      async ({ caller }) => {
        const { outer, inner } = await caller.send(Nested(), {
          id: "root-1",
          data: { tenant: "t2" },
        }) as { outer: { id: string }; inner: Record<string, unknown> };
        deepStrictEqual(outer.id, "root-1");
        deepStrictEqual(
          [
            inner.correlationId,
            inner.causationId,
            inner.origin,
            inner.tenant,
          ],
          ["root-1", "root-1", "contract", "t2"],
        );
        ok(inner.id !== "root-1");
      },
    ],
    [
      "every subscriber of an event gets it",
      async ({ caller }) => {
        await caller.publish(Noted({ note: "n1" }), { id: "event-1" });
        await eventually(async () => {
          const log = await caller.send(Log()) as string[];
          return log.includes("first n1") &&
            log.includes("second n1 caused by -");
        }, "both subscribers heard n1");
      },
    ],
    ["a task reaches its handler", async ({ caller }) => {
      await caller.dispatch(Note({ note: "t1" }));
      await eventually(
        async () => (await caller.send(Log()) as string[]).includes("task t1"),
        "the task ran",
      );
    }],
    [
      "what a handler emits is published after it, caused by it",
      async ({ caller }) => {
        const id = await caller.execute(Emit({ note: "e1" }), { id: "emit-1" });
        deepStrictEqual(id, "emit-1");
        await eventually(
          async () =>
            (await caller.send(Log()) as string[]).includes(
              "second e1 caused by emit-1",
            ),
          "the emitted event was heard",
        );
      },
    ],
    [
      "a deadline stops the caller's wait and aborts the handler's signal",
      async ({ caller, async }) => {
        if (!async) return;
        await rejects(
          caller.send(Slow({ ms: 10_000 })),
          (error) => error instanceof TimeoutError,
        );
        await eventually(
          async () =>
            (await caller.send(Log()) as string[]).includes(
              "slow aborted: TimeoutError",
            ),
          "the handler's signal aborted",
        );
        match(String(await caller.send(Slow({ ms: 1 }))), /finished/);
      },
    ],
  ];
  for (const [name, run] of cases) {
    await t.step(name, async () => {
      const harness = await make();
      try {
        await run(harness);
      } finally {
        await harness.close();
      }
    });
  }
}
