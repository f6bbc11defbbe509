/**
 * Dispatch benchmarks: the bus beside its physical floors and its peers, in
 * one `deno bench` run so that ratios are comparable.
 *
 * Every bench body runs N = 1,000 operations, so a reported time of 20 µs is
 * 20 ns per operation: a single dispatch is too short to time on its own
 * (Deno.bench adds a few ns of its own per call). Each operation builds its
 * message in the loop with a varying payload, and every result goes into a
 * sink, so nothing is optimised away. Floors build a plain object literal
 * `{ kind, type, payload }`, the physical minimum; the bus cases call the
 * definition; peers get an equal literal in their own way.
 *
 * Targets, each read off a single run (`deno task bench:summary`; the
 * figures are in bench/README.md):
 * - sync `send` <= 1.3x the `Map.get + call` floor, and faster than
 *   eventemitter3's `emit`;
 * - sync `publish` to 3 subscribers <= 1.3x the `Map.get + loop over 3`
 *   floor, and faster than eventemitter3; <= 1.5x with one subscriber
 *   filtered and two priorities;
 * - each pass-through middleware adds <= 3 ns per dispatch (the 0, 1 and 3
 *   middleware cases of `send`, `execute`, `dispatch` and `publish`);
 * - async `send` <= 1.25x the `await` floor, and >= 2.5x faster than
 *   @nestjs/cqrs `QueryBus.execute`.
 *
 * @module
 */

import "reflect-metadata";
import { QueryBus } from "@nestjs/cqrs";
import Emittery from "emittery";
import EventEmitterModule from "eventemitter3";
import { Mediator, RequestData } from "mediatr-ts";
import mittModule from "mitt";
import {
  createAsyncBus,
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  type Middleware,
} from "../mod.ts";

// The CommonJS peers' default exports, typed as what they are at run time.
type Listener = (message: Literal) => void;
const mitt = mittModule as unknown as () => {
  on(type: string, handler: Listener): void;
  emit(type: string, message: Literal): void;
};
const EventEmitter = EventEmitterModule as unknown as new () => {
  on(type: string, listener: Listener): unknown;
  emit(type: string, message: Literal): boolean;
};

const N = 1000;
let sink = 0;

type Payload = { id: number };
type Literal = { kind: string; type: string; payload: Payload };
type Handler = (message: Literal, context: object) => number;

const GetUser = defineQuery<Payload, number>("GetUser");
const CreateOrder = defineCommand<Payload>("CreateOrder");
const OrderCreated = defineEvent<Payload>("OrderCreated");
const SendEmail = defineTask<Payload>("SendEmail");

// One set of handlers serves the floors, the buses and the peers alike, so no
// case pays for a call site that has seen more functions than another.
const answer = (message: { payload: Payload }): number => message.payload.id;
const work = (message: { payload: Payload }): void => {
  sink += message.payload.id;
};
const subscribers = [
  (message: { payload: Payload }): void => {
    sink += message.payload.id;
  },
  (message: { payload: Payload }): void => {
    sink ^= message.payload.id;
  },
  (_message: { payload: Payload }): void => {
    sink -= 1;
  },
];
const passThrough: Middleware = (message, next) => next(message);
const context = Object.freeze({});

function buses(middleware: Middleware[]) {
  const bus = createBus({ middleware });
  bus.registerQuery(GetUser, answer);
  bus.registerCommand(CreateOrder, work);
  bus.registerTask(SendEmail, work);
  for (const subscriber of subscribers) bus.subscribe(OrderCreated, subscriber);
  return bus;
}
const bus0 = buses([]);
const bus1 = buses([passThrough]);
const bus3 = buses([passThrough, passThrough, passThrough]);

// Floors.
const handlers = new Map<string, Handler>([
  ["GetUser", answer],
  ["CreateOrder", (m) => (work(m), 0)],
  ["SendEmail", (m) => (work(m), 0)],
]);
const eventHandlers = new Map<string, ReadonlyArray<(m: Literal) => void>>([
  ["OrderCreated", subscribers],
]);

// --- create ---------------------------------------------------------------

Deno.bench({
  name: "object literal x1000",
  group: "create",
  baseline: true,
  fn() {
    for (let i = 0; i < N; i++) {
      const message = { kind: "query", type: "GetUser", payload: { id: i } };
      sink += message.payload.id;
    }
  },
});

Deno.bench({
  name: "GetUser(payload) x1000",
  group: "create",
  fn() {
    for (let i = 0; i < N; i++) sink += GetUser({ id: i }).payload.id;
  },
});

Deno.bench({
  name: "Object.freeze(literal) x1000",
  group: "create",
  fn() {
    for (let i = 0; i < N; i++) {
      const message = Object.freeze({
        kind: "query",
        type: "GetUser",
        payload: { id: i },
      });
      sink += message.payload.id;
    }
  },
});

// --- send, execute, dispatch (1:1) ----------------------------------------

// Every case is its own function literal, never one closure made in a loop:
// closures of one literal share V8's type feedback, so a loop over cases would
// make the later cases pay for call sites the earlier ones made polymorphic.
function bench(group: string, name: string, fn: () => void, baseline = false) {
  Deno.bench({ name: `${name} x1000`, group, baseline, fn });
}

bench("send", "Map.get + call (floor)", () => {
  for (let i = 0; i < N; i++) {
    const message = { kind: "query", type: "GetUser", payload: { id: i } };
    sink += handlers.get(message.type)!(message, context);
  }
}, true);
bench("send", "direct call (floor)", () => {
  for (let i = 0; i < N; i++) {
    const message = { kind: "query", type: "GetUser", payload: { id: i } };
    sink += answer(message);
  }
});
bench("send", "bus.send", () => {
  const { send } = bus0;
  for (let i = 0; i < N; i++) sink += send(GetUser({ id: i }));
});
bench("send", "bus.send + 1 middleware", () => {
  const { send } = bus1;
  for (let i = 0; i < N; i++) sink += send(GetUser({ id: i }));
});
bench("send", "bus.send + 3 middleware", () => {
  const { send } = bus3;
  for (let i = 0; i < N; i++) sink += send(GetUser({ id: i }));
});

bench("execute", "Map.get + call (floor)", () => {
  for (let i = 0; i < N; i++) {
    const message = {
      kind: "command",
      type: "CreateOrder",
      payload: { id: i },
    };
    handlers.get(message.type)!(message, context);
  }
}, true);
bench("execute", "bus.execute", () => {
  const { execute } = bus0;
  for (let i = 0; i < N; i++) execute(CreateOrder({ id: i }));
});
bench("execute", "bus.execute + 1 middleware", () => {
  const { execute } = bus1;
  for (let i = 0; i < N; i++) execute(CreateOrder({ id: i }));
});
bench("execute", "bus.execute + 3 middleware", () => {
  const { execute } = bus3;
  for (let i = 0; i < N; i++) execute(CreateOrder({ id: i }));
});

bench("dispatch", "Map.get + call (floor)", () => {
  for (let i = 0; i < N; i++) {
    const message = { kind: "task", type: "SendEmail", payload: { id: i } };
    handlers.get(message.type)!(message, context);
  }
}, true);
bench("dispatch", "bus.dispatch", () => {
  const { dispatch } = bus0;
  for (let i = 0; i < N; i++) dispatch(SendEmail({ id: i }));
});
bench("dispatch", "bus.dispatch + 1 middleware", () => {
  const { dispatch } = bus1;
  for (let i = 0; i < N; i++) dispatch(SendEmail({ id: i }));
});
bench("dispatch", "bus.dispatch + 3 middleware", () => {
  const { dispatch } = bus3;
  for (let i = 0; i < N; i++) dispatch(SendEmail({ id: i }));
});

// Sync peers: emitters cannot answer, so their listener writes to the sink.
const mittQuery = mitt();
mittQuery.on("GetUser", subscribers[0]!);
const ee3Query = new EventEmitter();
ee3Query.on("GetUser", subscribers[0]!);
bench("send", "mitt emit (peer)", () => {
  for (let i = 0; i < N; i++) {
    mittQuery.emit("GetUser", {
      kind: "query",
      type: "GetUser",
      payload: { id: i },
    });
  }
});
bench("send", "eventemitter3 emit (peer)", () => {
  for (let i = 0; i < N; i++) {
    ee3Query.emit("GetUser", {
      kind: "query",
      type: "GetUser",
      payload: { id: i },
    });
  }
});

// --- publish to 3 subscribers (1:N) ---------------------------------------

bench("publish3", "Map.get + loop over 3 (floor)", () => {
  for (let i = 0; i < N; i++) {
    const message = { kind: "event", type: "OrderCreated", payload: { id: i } };
    const list = eventHandlers.get(message.type)!;
    for (let index = 0; index < list.length; index++) list[index]!(message);
  }
}, true);
bench("publish3", "bus.publish", () => {
  const { publish } = bus0;
  for (let i = 0; i < N; i++) publish(OrderCreated({ id: i }));
});
bench("publish3", "bus.publish + 1 middleware", () => {
  const { publish } = bus1;
  for (let i = 0; i < N; i++) publish(OrderCreated({ id: i }));
});
bench("publish3", "bus.publish + 3 middleware", () => {
  const { publish } = bus3;
  for (let i = 0; i < N; i++) publish(OrderCreated({ id: i }));
});
// One subscriber filtered, two priorities (target: at most 1.5x the floor).
const busOptions = createBus();
busOptions.subscribe(OrderCreated, subscribers[0]!, { priority: 60 });
busOptions.subscribe(OrderCreated, subscribers[1]!, {
  filter: (event) => event.payload.id >= 0,
});
busOptions.subscribe(OrderCreated, subscribers[2]!);
bench("publish3", "bus.publish, a filter and two priorities", () => {
  const { publish } = busOptions;
  for (let i = 0; i < N; i++) publish(OrderCreated({ id: i }));
});
const mittEvents = mitt();
const ee3Events = new EventEmitter();
for (const subscriber of subscribers) {
  mittEvents.on("OrderCreated", subscriber);
  ee3Events.on("OrderCreated", subscriber);
}
bench("publish3", "mitt emit (peer)", () => {
  for (let i = 0; i < N; i++) {
    mittEvents.emit("OrderCreated", {
      kind: "event",
      type: "OrderCreated",
      payload: { id: i },
    });
  }
});
bench("publish3", "eventemitter3 emit (peer)", () => {
  for (let i = 0; i < N; i++) {
    ee3Events.emit("OrderCreated", {
      kind: "event",
      type: "OrderCreated",
      payload: { id: i },
    });
  }
});

// --- async send -----------------------------------------------------------

// The floor's async function, and the handler every async case awaits. It
// has nothing to wait for, on purpose: the floor is the cost of `await`.
// deno-lint-ignore require-await
async function answerLater(message: { payload: Payload }): Promise<number> {
  return message.payload.id;
}
const asyncBus = createAsyncBus();
asyncBus.registerQuery(GetUser, answerLater);
const asyncBus1 = createAsyncBus({ middleware: [passThrough] });
asyncBus1.registerQuery(GetUser, answerLater);
const asyncBusSync = createAsyncBus();
asyncBusSync.registerQuery(GetUser, answer);

const asyncHandlers = new Map<
  string,
  (message: Literal, context: object) => Promise<number>
>([["GetUser", answerLater]]);

function benchAsync(name: string, fn: () => Promise<void>, baseline = false) {
  Deno.bench({ name: `${name} x1000`, group: "async send", baseline, fn });
}

benchAsync("await async function (floor)", async () => {
  for (let i = 0; i < N; i++) {
    const message = { kind: "query", type: "GetUser", payload: { id: i } };
    sink += await answerLater(message);
  }
}, true);
// What routing adds to that floor: the handler is looked up, then awaited.
benchAsync("Map.get + await (floor)", async () => {
  for (let i = 0; i < N; i++) {
    const message = { kind: "query", type: "GetUser", payload: { id: i } };
    sink += await asyncHandlers.get(message.type)!(message, context);
  }
});
benchAsync("asyncBus.send", async () => {
  const { send } = asyncBus;
  for (let i = 0; i < N; i++) sink += await send(GetUser({ id: i }));
});
benchAsync("asyncBus.send + 1 middleware", async () => {
  const { send } = asyncBus1;
  for (let i = 0; i < N; i++) sink += await send(GetUser({ id: i }));
});
benchAsync("asyncBus.send, sync handler", async () => {
  const { send } = asyncBusSync;
  for (let i = 0; i < N; i++) sink += await send(GetUser({ id: i }));
});

// Async peers. @nestjs/cqrs: a QueryBus with one handler bound the way its
// module does it, without booting a Nest application (no DI container is
// needed for a static handler); the query class carries the metadata that
// @QueryHandler would set.
class GetUserQuery {
  constructor(readonly payload: Payload) {}
}
Reflect.defineMetadata("__query__", { id: "GetUser" }, GetUserQuery);
const nestQueryBus = new QueryBus({} as never, undefined as never);
nestQueryBus.bind(
  {
    isDependencyTreeStatic: () => true,
    instance: { execute: answerLater },
  } as never,
  "GetUser",
);
benchAsync("@nestjs/cqrs QueryBus.execute (peer)", async () => {
  for (let i = 0; i < N; i++) {
    sink += await nestQueryBus.execute<GetUserQuery, number>(
      new GetUserQuery({ id: i }),
    );
  }
});

// mediatr-ts: a request class and a handler class, registered without
// decorators.
class GetUserRequest extends RequestData<number> {
  constructor(readonly payload: Payload) {
    super();
  }
}
class GetUserHandler {
  handle(request: GetUserRequest): Promise<number> {
    return answerLater(request);
  }
}
const mediator = new Mediator();
mediator.registerHandler(GetUserRequest, GetUserHandler as never);
benchAsync("mediatr-ts Mediator.send (peer)", async () => {
  for (let i = 0; i < N; i++) {
    sink += await mediator.send(new GetUserRequest({ id: i }));
  }
});

// emittery cannot answer either: its listener writes to the sink.
const emittery = new Emittery<{ GetUser: Literal }>();
emittery.on("GetUser", (event) => {
  sink += event.data.payload.id;
});
benchAsync("emittery emit (peer)", async () => {
  for (let i = 0; i < N; i++) {
    await emittery.emit("GetUser", {
      kind: "query",
      type: "GetUser",
      payload: { id: i },
    });
  }
});

globalThis.addEventListener("unload", () => {
  // Reading the sink keeps every result alive.
  if (sink === 0.5) console.log(sink);
});
