// Type tests: every `@ts-expect-error` line must fail to compile, or
// `deno check` (and `deno test`, which type-checks) fails with "Unused
// '@ts-expect-error' directive". The function below is never called; only its
// types matter.
import {
  type AsyncMiddleware,
  createAsyncBus,
  createBus,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  type HandlerRegistry,
  type Middleware,
  type QueryDispatcher,
  type ResultOf,
} from "../mod.ts";
import {
  circuitBreaker,
  concurrencyLimit,
  deadLetter,
  memoryDeadLetterStore,
  retry,
  timeout,
} from "../src/resilience/mod.ts";

interface User {
  name: string;
}
const GetUser = defineQuery<{ userId: string }, User>("GetUser");
const CreateOrder = defineCommand<{ items: string[] }>("CreateOrder");
const OrderCreated = defineEvent<{ orderId: string }>("OrderCreated");
const SendEmail = defineTask<{ to: string }>("SendEmail");
const Tick = defineEvent("Tick");

function typeTests(): void {
  const bus = createBus();
  const asyncBus = createAsyncBus();

  // Command results are typed from the definition; none by default.
  const PlaceOrder = defineCommand<{ sku: string }, { orderId: string }>(
    "PlaceOrder",
  );
  bus.registerCommand(PlaceOrder, (c) => ({ orderId: c.payload.sku }));
  const placed: { orderId: string } = bus.execute(PlaceOrder({ sku: "a" }));
  const later2: Promise<{ orderId: string }> = asyncBus.execute(
    PlaceOrder({ sku: "a" }),
  );
  const noResult: void = bus.execute(CreateOrder({ items: [] }));
  void [placed, later2, noResult];
  // @ts-expect-error the handler must return the command's result type
  bus.registerCommand(PlaceOrder, () => 42);
  // @ts-expect-error the result is an object, not a string
  const wrongResult: string = bus.execute(PlaceOrder({ sku: "a" }));
  void wrongResult;

  // Results are typed from the definition.
  const user: User = bus.send(GetUser({ userId: "1" }));
  const later: Promise<User> = asyncBus.send(GetUser({ userId: "1" }));
  const result: ResultOf<ReturnType<typeof GetUser>> = user;
  void later;
  void result;

  // @ts-expect-error the result of GetUser is a User, not a string
  const wrong: string = bus.send(GetUser({ userId: "1" }));
  void wrong;

  // @ts-expect-error wrong payload: userId must be a string
  GetUser({ userId: 1 });
  // @ts-expect-error wrong payload: missing field
  CreateOrder({});
  // @ts-expect-error a payload is required
  OrderCreated();
  // @ts-expect-error a void event takes no payload
  Tick("extra");

  // @ts-expect-error a command given to send
  bus.send(CreateOrder({ items: [] }));
  // @ts-expect-error a query given to execute
  bus.execute(GetUser({ userId: "1" }));
  // @ts-expect-error a task given to publish
  bus.publish(SendEmail({ to: "x" }));
  // @ts-expect-error an event given to dispatch
  bus.dispatch(OrderCreated({ orderId: "o" }));
  // @ts-expect-error a plain string is not a message
  asyncBus.send("GetUser");

  // @ts-expect-error a handler returning the wrong result type
  bus.registerQuery(GetUser, () => "not a user");
  // @ts-expect-error the sync bus wants the result, not a promise of it
  bus.registerQuery(GetUser, () => Promise.resolve({ name: "x" }));
  asyncBus.registerQuery(GetUser, () => Promise.resolve({ name: "x" }));
  // @ts-expect-error an async handler must still resolve to the result type
  asyncBus.registerQuery(GetUser, () => Promise.resolve(42));
  // @ts-expect-error the handler reads a payload field that does not exist
  bus.registerCommand(CreateOrder, (c) => c.payload.userId);

  // @ts-expect-error registering an event with registerQuery
  bus.registerQuery(OrderCreated, () => ({ name: "x" }));
  // @ts-expect-error registering a query with subscribe
  bus.subscribe(GetUser, () => {});
  // @ts-expect-error registering a command with registerTask
  bus.registerTask(CreateOrder, () => {});

  // Narrow interfaces expose only their methods.
  const dispatcher: QueryDispatcher = bus;
  // @ts-expect-error a QueryDispatcher cannot publish
  dispatcher.publish(OrderCreated({ orderId: "o" }));
  const registry: HandlerRegistry = bus;
  // @ts-expect-error a HandlerRegistry cannot send
  registry.send(GetUser({ userId: "1" }));

  // Middleware must hand back what next returned.
  const passThrough: Middleware = (message, next) => next(message);
  // @ts-expect-error a middleware that changes the result type
  const stringify: Middleware = (message, next) => String(next(message));
  // @ts-expect-error a sync middleware must not turn results into promises
  const promising: Middleware = async (message, next) => await next(message);
  const asyncPassThrough: AsyncMiddleware = async (message, next) =>
    await next(message);
  // @ts-expect-error an async middleware must resolve to next's result
  const counting: AsyncMiddleware = async (message, next) => {
    await next(message);
    return 1;
  };
  // @ts-expect-error next takes the same message type it was given
  const swapping: Middleware = (_message, next) => next("other");
  createBus({ middleware: [passThrough] });
  createAsyncBus({ middleware: [asyncPassThrough, passThrough] });
  // @ts-expect-error an async middleware does not fit the sync bus
  createBus({ middleware: [asyncPassThrough] });
  void [stringify, promising, counting, swapping];

  // The context dispatches like its bus: synchronously on the sync bus,
  // with promises on the async bus.
  bus.registerQuery(GetUser, (q, context) => {
    const nested: User = context.send(GetUser(q.payload));
    return nested;
  });
  asyncBus.registerQuery(GetUser, async (q, context) => {
    // @ts-expect-error on the async bus a nested send gives a promise
    const wrong: User = context.send(GetUser(q.payload));
    void wrong;
    return await context.send(GetUser(q.payload));
  });
  // @ts-expect-error a signal must be an AbortSignal
  asyncBus.send(GetUser({ userId: "1" }), { signal: "soon" });
  bus.send(GetUser({ userId: "1" }), { signal: AbortSignal.timeout(1) });
  bus.publish(OrderCreated({ orderId: "o" }), { id: "e-1", subscriber: "a" });
  // @ts-expect-error only publish delivers to one subscriber
  bus.execute(CreateOrder({ items: [] }), { subscriber: "a" });
  // @ts-expect-error an id is a string
  asyncBus.send(GetUser({ userId: "1" }), { id: 7 });
  bus.subscribe(OrderCreated, () => {}, { id: "audit" });
  // @ts-expect-error a subscriber id is a string
  bus.subscribe(OrderCreated, () => {}, { id: 1 });

  // The async-only built-ins do not fit the sync bus.
  createAsyncBus({
    middleware: [timeout(), retry(), concurrencyLimit({ maxConcurrent: 1 })],
  });
  // @ts-expect-error timeout works only on the async bus
  createBus({ middleware: [timeout()] });
  // @ts-expect-error retry works only on the async bus
  createBus({ middleware: [retry()] });
  // @ts-expect-error concurrencyLimit works only on the async bus
  createBus({ middleware: [concurrencyLimit({ maxConcurrent: 1 })] });
  // Those that fit both buses do.
  createBus({
    middleware: [circuitBreaker(), deadLetter(memoryDeadLetterStore())],
  });
  createAsyncBus({
    middleware: [circuitBreaker(), deadLetter(memoryDeadLetterStore())],
  });

  // What a middleware reads and changes is typed.
  const attempts: Middleware = (message, next, context) => {
    const attempt: number = context.attempt;
    const id: string | undefined = context.id;
    void id;
    return next(message, {
      attempt: attempt + 1,
      observer: {
        onError: (failure) => {
          const handler: string = failure.handler;
          void [handler, failure.subscriber, failure.error];
        },
      },
    });
  };
  const badAttempt: Middleware = (message, next) =>
    // @ts-expect-error an attempt is a number
    next(message, { attempt: "2" });
  void [attempts, badAttempt];
  const narrowing: Middleware = (message, next, context) =>
    next(message, { deadline: (context.deadline ?? 0) + 1 });
  const badDeadline: Middleware = (message, next) => {
    // @ts-expect-error a deadline is a number of milliseconds
    return next(message, { deadline: "soon" });
  };
  void [narrowing, badDeadline];
}

Deno.test("type tests compile (the checks are the @ts-expect-error lines)", () => {
  void typeTests;
});
