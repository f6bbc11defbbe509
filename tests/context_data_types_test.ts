// Declaration merging types `context.data` for the whole application.
import { deepStrictEqual } from "node:assert/strict";
import { createAsyncBus, defineQuery } from "../mod.ts";

declare module "../mod.ts" {
  interface ContextData {
    readonly tenant?: string;
  }
}

Deno.test("ContextData extended by declaration merging types context.data and the data option", async () => {
  const GetPlan = defineQuery<void, string>("billing.GetPlan");
  const bus = createAsyncBus();
  bus.registerQuery(GetPlan, (_q, context) => {
    const tenant: string | undefined = context.data.tenant;
    return `plan of ${tenant}`;
  });
  deepStrictEqual(
    await bus.send(GetPlan(), { data: { tenant: "t1" } }),
    "plan of t1",
  );
  // @ts-expect-error a declared field has its declared type
  await bus.send(GetPlan(), { data: { tenant: 7 } });
});
