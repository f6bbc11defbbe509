// What a distributed bus puts on the wire, whatever the broker: payloads
// through a codec (JSON by default, refusing what JSON would change), the
// dispatch's identity and deadline in headers, and errors in a JSON form
// that brings the library's own errors back as their classes.
import {
  CircuitOpenError,
  DuplicateHandlerError,
  MessageError,
  NoHandlerError,
  QueueFullError,
  RemoteHandlerError,
  TimeoutError,
  TransportError,
} from "../core/errors.ts";
import type { MessageKind } from "../core/messages.ts";
import { jsonProblem } from "../core/_codec.ts";

export { type Codec, jsonCodec, jsonProblem } from "../core/_codec.ts";

/** The headers a distributed bus sets, as the broker sees them. */
export const HEADER = {
  id: "mb-id",
  correlationId: "mb-correlation-id",
  causationId: "mb-causation-id",
  sessionId: "mb-session-id",
  origin: "mb-origin",
  timeoutMs: "mb-timeout-ms",
  data: "mb-data",
  status: "mb-status",
} as const;

/** The `mb-status` of a reply that carries an error instead of a result. */
export const STATUS_ERROR = "error";

/** An error as it crosses the wire. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  /** The error's JSON-safe own properties, when it has any. */
  readonly data?: Record<string, unknown>;
  /** For the library's own errors: the fields that rebuild them. */
  readonly kind?: MessageKind;
  readonly type?: string;
  readonly limitMs?: number;
  readonly retryInMs?: number;
  readonly maxQueue?: number;
  readonly outcome?: "rejected" | "dropped";
  readonly code?: "closed" | "refused" | "disconnected";
}

// Fields of the library's errors that are carried as fields, not data.
const OWN_FIELDS = new Set([
  "kind",
  "type",
  "limitMs",
  "retryInMs",
  "maxQueue",
  "outcome",
  "code",
  "stack",
  "message",
  "name",
  "cause",
]);

/** The wire form of a thrown value. Never throws. */
export function toWireError(error: unknown): WireError {
  try {
    if (!(error instanceof Error)) {
      return { name: "Error", message: safeString(error) };
    }
    const base = {
      name: safeString(error.name),
      message: safeString(error.message),
    };
    let data: Record<string, unknown> | undefined;
    for (const key of Object.keys(error)) {
      if (OWN_FIELDS.has(key)) continue;
      const value = (error as unknown as Record<string, unknown>)[key];
      if (value === undefined) continue;
      if (jsonProblem(value, key, []) !== undefined) continue;
      (data ??= {})[key] = value;
    }
    if (error instanceof MessageError && isLibraryError(error)) {
      const fields = error as unknown as Record<string, unknown>;
      return {
        ...base,
        kind: error.kind,
        type: error.type,
        ...pick(fields, "limitMs", "retryInMs", "maxQueue", "outcome", "code"),
        ...(data === undefined ? {} : { data }),
      };
    }
    return data === undefined ? base : { ...base, data };
  } catch (failure) {
    return {
      name: "Error",
      message: `an error that cannot be read (${safeString(failure)})`,
    };
  }
}

function pick(
  fields: Record<string, unknown>,
  ...keys: string[]
): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const key of keys) {
    if (fields[key] !== undefined) result[key] = fields[key];
  }
  return result;
}

function isLibraryError(error: MessageError): boolean {
  return error instanceof NoHandlerError || error instanceof TimeoutError ||
    error instanceof CircuitOpenError || error instanceof QueueFullError ||
    error instanceof DuplicateHandlerError || error instanceof TransportError;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return "a value that cannot be read";
  }
}

/**
 * The error a caller gets for a wire error from the handler of `kind`
 * `type`: the library's own errors as their classes (with the remote
 * message), anything else as a `RemoteHandlerError`.
 */
export function fromWireError(
  wire: WireError,
  kind: MessageKind,
  type: string,
): Error {
  const name = typeof wire?.name === "string" ? wire.name : "Error";
  const message = typeof wire?.message === "string"
    ? wire.message
    : "a remote handler failed without a message";
  const ownKind = wire.kind ?? kind;
  const ownType = typeof wire.type === "string" ? wire.type : type;
  let error: MessageError | undefined;
  switch (name) {
    case "NoHandlerError":
      error = new NoHandlerError(ownKind, ownType);
      break;
    case "TimeoutError":
      error = new TimeoutError(ownKind, ownType, wire.limitMs ?? 0);
      break;
    case "CircuitOpenError":
      error = new CircuitOpenError(ownKind, ownType, wire.retryInMs ?? 0);
      break;
    case "QueueFullError":
      error = new QueueFullError(
        ownKind,
        ownType,
        wire.maxQueue ?? 0,
        wire.outcome ?? "rejected",
      );
      break;
    case "DuplicateHandlerError":
      error = new DuplicateHandlerError(ownKind, ownType);
      break;
    case "TransportError":
      error = new TransportError(
        ownKind,
        ownType,
        wire.code ?? "refused",
        message,
      );
      break;
  }
  if (error === undefined || wire.kind === undefined) {
    return new RemoteHandlerError(kind, type, {
      name,
      message,
      ...(wire.data === undefined ? {} : { data: wire.data }),
    });
  }
  error.message = message;
  if (wire.data !== undefined) Object.assign(error, wire.data);
  return error;
}
