// Application features: command results, identity and correlation, context
// data, cascading messages and sessions.
import { deepStrictEqual } from "node:assert/strict";
import {
  createAsyncBus,
  createBus,
  defineCommand,
  type Middleware,
} from "../mod.ts";

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
