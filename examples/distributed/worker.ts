/**
 * A worker process of the distributed demo: hosts the modules named in its
 * arguments (of users, orders, inventory, notifications) on a NATS bus, with
 * the same module code the in-process demo runs on `createAsyncBus()`.
 *
 * ```sh
 * NATS_URL=127.0.0.1:4222 deno run --allow-net --allow-env=NATS_URL \
 *   --allow-sys=hostname examples/distributed/worker.ts users inventory
 * ```
 *
 * It prints "ready" once its handlers are served, then a line for each
 * message the server delivers to it. It drains (finishes what it is
 * handling, then disconnects) and exits when its standard input closes or
 * on Ctrl-C.
 *
 * @module
 */

import type { Middleware } from "../../mod.ts";
import { createNatsBus } from "../../src/transports/nats/mod.ts";
import {
  inventoryModule,
  type ModuleRegistry,
  notificationsModule,
  ordersModule,
  usersModule,
} from "../modules.ts";
import { DEMO_PREFIX, natsUrl } from "./settings.ts";

const outbox: string[] = [];
const hosts: Record<string, (session: ModuleRegistry) => void> = {
  users: usersModule,
  orders: ordersModule,
  inventory: inventoryModule,
  notifications: (session) => notificationsModule(session, outbox),
};

if (import.meta.main) {
  const names = Deno.args;
  const unknown = names.filter((name) => !Object.hasOwn(hosts, name));
  if (names.length === 0 || unknown.length > 0) {
    console.error(
      `Cannot start a worker as its arguments must name modules of ${
        Object.keys(hosts).join(", ")
      }: current value is ${JSON.stringify(names)}`,
    );
    Deno.exit(2);
  }

  // handlerMiddleware wraps what the server delivers to this process, with
  // the caller's context rebuilt: `origin` is the module that dispatched.
  const handled: Middleware = (message, next, context) => {
    const from = context.origin === undefined ? "" : ` from ${context.origin}`;
    console.log(
      `handles ${message.kind.padEnd(7)} ${message.type} ${
        JSON.stringify(message.payload)
      }${from}`,
    );
    return next(message);
  };

  const bus = await createNatsBus({
    servers: natsUrl(),
    prefix: DEMO_PREFIX,
    name: `demo worker (${names.join(", ")})`,
    handlerMiddleware: [handled],
  });
  // A session per module, as in one process: what each module dispatches
  // carries its name as `origin`, across the server too.
  for (const name of names) hosts[name]!(bus.session(name));
  await bus.ready();
  console.log(`ready: ${names.join(", ")} in pid ${Deno.pid}`);

  const { promise: stopped, resolve: stop } = Promise.withResolvers<string>();
  const interrupted = () => stop("interrupted");
  Deno.addSignalListener("SIGINT", interrupted);
  (async () => {
    for await (const _ of Deno.stdin.readable) {
      // Whoever started this process keeps its standard input open.
    }
    stop("standard input closed");
  })();
  const reason = await stopped;
  Deno.removeSignalListener("SIGINT", interrupted);
  await bus.drain();
  console.log(`drained (${reason})`);
  for (const line of outbox) console.log(`outbox: ${line}`);
  // A read of a terminal's standard input may still be pending.
  Deno.exit(0);
}
