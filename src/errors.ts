/**
 * Error classes that callers catch. Misuse that is a programming mistake (a
 * value that is not a message, a handler that is not a function, a message
 * given to the wrong method) is a built-in `TypeError` instead.
 *
 * @module
 */

import type { MessageKind } from "./messages.ts";

/**
 * A second handler was registered for a query, command or task, which have
 * exactly one handler each.
 *
 * @example Catching a duplicate registration
 * ```ts
 * import { createBus, defineCommand, DuplicateHandlerError } from "@monolith/message-bus";
 * import { throws } from "node:assert/strict";
 *
 * const Ban = defineCommand<{ id: string }>("Ban");
 * const bus = createBus();
 * bus.registerCommand(Ban, () => {});
 * throws(() => bus.registerCommand(Ban, () => {}), DuplicateHandlerError);
 * ```
 */
export class DuplicateHandlerError extends Error {
  /** The kind of the message. */
  readonly kind: MessageKind;
  /** The name of the message. */
  readonly type: string;

  /**
   * Creates the error for a second handler of `type`.
   *
   * @param kind The kind of the message.
   * @param type The name of the message.
   */
  constructor(kind: MessageKind, type: string) {
    super(
      `Cannot register a second handler for ${kind} "${type}": a ${kind} has exactly one handler. Remove the first one (call the function its registration returned) before registering another`,
    );
    this.name = "DuplicateHandlerError";
    this.kind = kind;
    this.type = type;
  }
}

/**
 * A query, command or task was dispatched with no handler registered for it.
 *
 * @example Catching a missing handler
 * ```ts
 * import { createBus, defineQuery, NoHandlerError } from "@monolith/message-bus";
 * import { throws } from "node:assert/strict";
 *
 * const GetUser = defineQuery<{ id: string }, string>("GetUser");
 * throws(() => createBus().send(GetUser({ id: "1" })), NoHandlerError);
 * ```
 */
export class NoHandlerError extends Error {
  /** The kind of the message. */
  readonly kind: MessageKind;
  /** The name of the message. */
  readonly type: string;

  /**
   * Creates the error for a dispatch of `type` that found no handler.
   *
   * @param kind The kind of the message.
   * @param type The name of the message.
   * @param hint What to do about it; defaults to registering a handler.
   */
  constructor(kind: MessageKind, type: string, hint?: string) {
    const register = `register${kind[0]!.toUpperCase()}${kind.slice(1)}`;
    super(
      `No handler for ${kind} "${type}": ${
        hint ?? `register one with ${register}() before dispatching it`
      }`,
    );
    this.name = "NoHandlerError";
    this.kind = kind;
    this.type = type;
  }
}
