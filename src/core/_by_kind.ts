// Per-kind words and dispatch, shared by the buses, the fakes, replay and
// redeliver.
import type { AnyMessage, MessageKind } from "./messages.ts";
import type { DispatchOptions, PublishOptions } from "./types.ts";

/** The method that dispatches each kind. */
export const DISPATCH_METHOD: Readonly<Record<MessageKind, string>> = {
  query: "send",
  command: "execute",
  event: "publish",
  task: "dispatch",
};

/** The method that registers a handler of each kind. */
export const REGISTER_METHOD: Readonly<Record<MessageKind, string>> = {
  query: "registerQuery",
  command: "registerCommand",
  event: "subscribe",
  task: "registerTask",
};

/** The function that defines each kind. */
export const DEFINE_FUNCTION: Readonly<Record<MessageKind, string>> = {
  query: "defineQuery",
  command: "defineCommand",
  event: "defineEvent",
  task: "defineTask",
};

/** The plural of each kind, for messages. */
export const PLURAL: Readonly<Record<MessageKind, string>> = {
  query: "queries",
  command: "commands",
  event: "events",
  task: "tasks",
};

/** A kind with its article: "a query", "an event". */
export function aKind(kind: MessageKind): string {
  return `${kind === "event" ? "an" : "a"} ${kind}`;
}

/** What every bus can do: dispatch each kind, with options. */
export interface AnyBus {
  send(message: never, options?: DispatchOptions): unknown;
  execute(message: never, options?: DispatchOptions): unknown;
  publish(message: never, options?: PublishOptions): unknown;
  dispatch(message: never, options?: DispatchOptions): unknown;
}

/** Dispatches `message` with the method of its kind on `bus`. */
export function dispatchByKind(
  bus: AnyBus,
  message: AnyMessage,
  options?: PublishOptions,
): unknown {
  const method = bus[DISPATCH_METHOD[message.kind] as keyof AnyBus] as (
    message: AnyMessage,
    options?: PublishOptions,
  ) => unknown;
  return options === undefined ? method(message) : method(message, options);
}
