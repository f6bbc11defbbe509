// The contract's handlers in a process of their own, on the NATS server
// whose address is the first argument. Prints "ready" once they are served;
// drains and exits when its standard input closes.
import { createNatsBus } from "../../src/transports/nats/mod.ts";
import { registerContractHandlers } from "./handlers.ts";

const bus = await createNatsBus({
  servers: Deno.args[0]!,
  propagate: ["tenant" as never],
});
registerContractHandlers(bus.session("contract"), true);
await bus.ready();
console.log("ready");
for await (const _ of Deno.stdin.readable) {
  // Standard input stays open while the test runs.
}
await bus.drain();
