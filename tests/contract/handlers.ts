// The handlers the bus contract suite dispatches to, registered wherever a
// harness puts them: on the same bus, on another connection, in another
// process. What subscribers and workers saw is read back with a query, so
// the suite checks effects the same way in every set-up.
import {
  type AsyncDispatchContext,
  defineCommand,
  defineEvent,
  defineQuery,
  defineTask,
  type DispatchContext,
} from "../../mod.ts";

/** What a handler saw of its dispatch. */
export interface Seen {
  readonly id: string;
  readonly correlationId: string;
  readonly causationId: string | null;
  readonly sessionId: string | null;
  readonly origin: string | null;
  readonly tenant: string | null;
}

export const Echo = defineQuery<{ text: string }, string>("contract.Echo");
export const Add = defineCommand<{ a: number; b: number }, number>(
  "contract.Add",
);
export const Fail = defineQuery<{ name: string; message: string }, never>(
  "contract.Fail",
);
export const Inspect = defineQuery<void, Seen>("contract.Inspect");
export const Nested = defineQuery<void, { outer: Seen; inner: Seen }>(
  "contract.Nested",
);
export const NestedMissing = defineQuery<void, void>("contract.NestedMissing");
export const Missing = defineQuery<void, void>("contract.Missing");
export const Slow = defineQuery<{ ms: number }, string>("contract.Slow");
export const Noted = defineEvent<{ note: string }>("contract.Noted");
export const Note = defineTask<{ note: string }>("contract.Note");
export const Emit = defineCommand<{ note: string }, string>("contract.Emit");
export const Log = defineQuery<void, string[]>("contract.Log");

type Context = DispatchContext | AsyncDispatchContext;

function seen(context: Context): Seen {
  return {
    id: context.id,
    correlationId: context.correlationId,
    causationId: context.causationId ?? null,
    sessionId: context.sessionId ?? null,
    origin: context.origin ?? null,
    tenant: (context.data as { tenant?: string }).tenant ?? null,
  };
}

/** The registration methods the suite's handlers need. */
export interface Registrations {
  // deno-lint-ignore no-explicit-any
  registerQuery(definition: any, handler: any): unknown;
  // deno-lint-ignore no-explicit-any
  registerCommand(definition: any, handler: any): unknown;
  // deno-lint-ignore no-explicit-any
  subscribe(definition: any, handler: any, options?: any): unknown;
  // deno-lint-ignore no-explicit-any
  registerTask(definition: any, handler: any): unknown;
}

/**
 * Registers the suite's handlers on `target` (a bus, or a session named
 * "contract" so that their dispatches have an origin). `async`: the target
 * takes asynchronous handlers (every bus but the synchronous one).
 */
export function registerContractHandlers(
  target: Registrations,
  async: boolean,
): void {
  const log: string[] = [];
  target.registerQuery(
    Echo,
    (query: ReturnType<typeof Echo>) => `echo ${query.payload.text}`,
  );
  target.registerCommand(
    Add,
    (command: ReturnType<typeof Add>) => command.payload.a + command.payload.b,
  );
  target.registerQuery(Fail, (query: ReturnType<typeof Fail>) => {
    const error = new Error(query.payload.message);
    error.name = query.payload.name;
    throw error;
  });
  target.registerQuery(
    Inspect,
    (_query: unknown, context: Context) => seen(context),
  );
  target.registerQuery(Log, (_query: unknown, _context: Context) => [...log]);
  target.subscribe(Noted, (event: ReturnType<typeof Noted>) => {
    log.push(`first ${event.payload.note}`);
  });
  target.subscribe(
    Noted,
    (event: ReturnType<typeof Noted>, context: Context) => {
      log.push(
        `second ${event.payload.note} caused by ${context.causationId ?? "-"}`,
      );
    },
  );
  target.registerTask(Note, (task: ReturnType<typeof Note>) => {
    log.push(`task ${task.payload.note}`);
  });
  target.registerCommand(
    Emit,
    (command: ReturnType<typeof Emit>, context: Context) => {
      context.emit(Noted({ note: command.payload.note }));
      return context.id;
    },
  );
  if (!async) {
    target.registerQuery(
      Nested,
      (_query: unknown, context: DispatchContext) => ({
        outer: seen(context),
        inner: context.send(Inspect()),
      }),
    );
    target.registerQuery(
      NestedMissing,
      (_query: unknown, context: DispatchContext) => context.send(Missing()),
    );
    return;
  }
  target.registerQuery(
    Nested,
    async (_query: unknown, context: AsyncDispatchContext) => ({
      outer: seen(context),
      inner: await context.send(Inspect()),
    }),
  );
  target.registerQuery(
    NestedMissing,
    (_query: unknown, context: AsyncDispatchContext) => context.send(Missing()),
  );
  target.registerQuery(
    Slow,
    (query: ReturnType<typeof Slow>, context: AsyncDispatchContext) =>
      new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve("finished"), query.payload.ms);
        context.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          log.push(`slow aborted: ${(context.signal.reason as Error).name}`);
          resolve("aborted");
        }, { once: true });
      }),
  );
}
