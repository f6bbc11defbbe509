// What a bus says it handles (introspection, the startup check) and what a
// closed bus answers; the bus methods in _terminals.ts call these only off
// their hot path.
import { describe } from "./_describe.ts";
import { DEFINE_FUNCTION, DISPATCH_METHOD } from "./_by_kind.ts";
import { dispatchError, type Routes } from "./_registry.ts";
import { BusClosedError, NoHandlerError } from "./errors.ts";
import {
  type AnyDefinition,
  type AnyMessage,
  isMessage,
  type MessageKind,
} from "./messages.ts";
import type { RegisteredEvent, Registrations } from "./types.ts";

/** The error of a dispatch made on a closed bus. */
export function closedDispatch(
  kind: MessageKind,
  message: AnyMessage,
): Error {
  // Not a message of the method's kind: the same error as on an open bus.
  if (!isMessage(message) || message.kind !== kind) {
    return dispatchError(kind, message);
  }
  return new BusClosedError(kind, message.type, DISPATCH_METHOD[kind]);
}

/** The error of a registration on a closed bus, when it names a message. */
export function closedRegistration(
  kind: MessageKind,
  definition: unknown,
  method: string,
): Error | undefined {
  const name = (definition as { name?: unknown } | null)?.name;
  if (typeof definition !== "function" || typeof name !== "string") {
    return undefined;
  }
  return new BusClosedError(kind, name, method);
}

/** What a bus handles, read from its routing tables. */
export function routesRegistrations(routes: Routes): Registrations {
  const sorted = (table: ReadonlyMap<string, unknown>) =>
    [...table.keys()].sort();
  return {
    registeredQueries: () => sorted(routes.queries),
    registeredCommands: () => sorted(routes.commands),
    registeredTasks: () => sorted(routes.tasks),
    registeredEvents: (): RegisteredEvent[] =>
      sorted(routes.events).map((type) => ({
        type,
        subscribers: routes.events.get(type)!.live,
      })),
  };
}

const KINDS = new Set<unknown>(Object.keys(DEFINE_FUNCTION));

/**
 * Throws one `AggregateError` listing every definition in `definitions`
 * that has no handler in `routes` (an event: no subscriber).
 */
export function assertHandles(
  routes: Routes,
  definitions: readonly AnyDefinition[],
): void {
  const missing: NoHandlerError[] = [];
  definitions.forEach((definition, index) => {
    if (
      typeof definition !== "function" ||
      typeof definition.name !== "string" || !KINDS.has(definition.kind)
    ) {
      throw new TypeError(
        `Cannot assertHandles() as its argument ${index} must be a message definition (from defineQuery(), defineCommand(), defineEvent() or defineTask()): current value is ${
          describe(definition)
        }`,
      );
    }
    const { kind, name } = definition;
    const handled = kind === "query"
      ? routes.queries.has(name)
      : kind === "command"
      ? routes.commands.has(name)
      : kind === "task"
      ? routes.tasks.has(name)
      : routes.events.has(name);
    if (!handled) {
      missing.push(
        new NoHandlerError(
          kind,
          name,
          kind === "event"
            ? "subscribe to it before the bus takes work"
            : undefined,
        ),
      );
    }
  });
  if (missing.length === 0) return;
  const listed = missing.map((error) =>
    `${error.kind} "${error.type}"${
      error.kind === "event" ? " (no subscriber)" : ""
    }`
  ).join(", ");
  throw new AggregateError(
    missing,
    `The bus has no handler for ${missing.length} of the ${definitions.length} messages it must handle: ${listed}. Register them (or the modules that handle them) before the bus takes work`,
  );
}

/**
 * Resolves with `true` when `work` settles within `ms`, with `false` when
 * `ms` passes first.
 */
export function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    work.then(() => true, () => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
