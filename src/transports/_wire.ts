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

/**
 * Turns payloads, results and error data into bytes and back. The default,
 * `jsonCodec`, never evaluates code or revives classes.
 */
export interface Codec {
  /**
   * The bytes of `value`. Throws a `TypeError` naming what it cannot encode
   * (where in the value, and what it is) rather than encode it differently.
   */
  encode(value: unknown): Uint8Array;
  /** The value `encode` was given. */
  decode(bytes: Uint8Array): unknown;
}

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The default codec: JSON text. It refuses, with a `TypeError` naming the
 * path, every value JSON would not give back as it was: a bigint, a
 * function, a symbol, `undefined` in an array, a number that is not finite,
 * a cycle, and any object that is not a plain object or an array (a `Date`,
 * a `Map`, a class instance). `undefined` as the whole value is encoded as
 * no bytes, and decoded back; an `undefined` property is left out, as JSON
 * does.
 */
export const jsonCodec: Codec = {
  encode(value) {
    if (value === undefined) return EMPTY;
    if (!isJsonSafe(value, 0)) {
      const problem = jsonProblem(value, "value", []);
      if (problem !== undefined) throw new TypeError(problem);
    }
    return encoder.encode(JSON.stringify(value));
  },
  decode(bytes) {
    if (bytes.length === 0) return undefined;
    return JSON.parse(decoder.decode(bytes));
  },
};

// Past this depth the quick check gives up, and jsonProblem (which finds
// cycles) decides.
const MAX_QUICK_DEPTH = 64;

// Whether `value` is fit for JSON, found without building paths: the common
// case costs one walk. `false` may also mean "too deep to tell quickly".
function isJsonSafe(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object":
      break;
    default:
      return false;
  }
  if (value === null) return true;
  if (depth > MAX_QUICK_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let index = 0; index < value.length; index++) {
      const item = value[index];
      if (item === undefined || !isJsonSafe(item, depth + 1)) return false;
    }
    return true;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== undefined && !isJsonSafe(item, depth + 1)) return false;
  }
  return true;
}

/**
 * What makes `value` unfit for JSON, as "path is what: do this", or
 * `undefined` when it is fit.
 */
export function jsonProblem(
  value: unknown,
  path: string,
  ancestors: object[],
): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined;
    case "number":
      return Number.isFinite(value)
        ? undefined
        : `${path} is ${value}, which JSON turns into null: send a finite number, or null`;
    case "bigint":
      return `${path} is a bigint (${value}n), which JSON cannot hold: send it as a string (String(value))`;
    case "undefined":
      return `${path} is undefined, which JSON turns into null in an array: use null`;
    case "function":
      return `${path} is a function (${
        value.name || "anonymous"
      }): send data, not code`;
    case "symbol":
      return `${path} is a symbol, which JSON cannot hold: send a string`;
  }
  if (value === null) return undefined;
  const object = value as object;
  if (ancestors.includes(object)) {
    return `${path} refers back to one of the values that contain it (a cycle): send a tree`;
  }
  if (Array.isArray(object)) {
    ancestors.push(object);
    for (let index = 0; index < object.length; index++) {
      const problem = jsonProblem(
        object[index],
        `${path}[${index}]`,
        ancestors,
      );
      if (problem !== undefined) return problem;
    }
    ancestors.pop();
    return undefined;
  }
  const prototype = Object.getPrototypeOf(object);
  if (prototype !== Object.prototype && prototype !== null) {
    const name = (object as { constructor?: { name?: unknown } }).constructor
      ?.name;
    const what = typeof name === "string" && name !== "" ? name : "an object";
    const hint = object instanceof Date
      ? "send its ISO string (toISOString())"
      : object instanceof Map
      ? "send Object.fromEntries(map) or [...map]"
      : object instanceof Set
      ? "send [...set]"
      : "send a plain object of its fields";
    return `${path} is a ${what}, which JSON would not give back as one: ${hint}`;
  }
  ancestors.push(object);
  for (const key of Object.keys(object)) {
    const item = (object as Record<string, unknown>)[key];
    if (item === undefined) continue;
    const problem = jsonProblem(
      item,
      /^[A-Za-z_$][\w$]*$/.test(key)
        ? `${path}.${key}`
        : `${path}[${JSON.stringify(key)}]`,
      ancestors,
    );
    if (problem !== undefined) return problem;
  }
  ancestors.pop();
  return undefined;
}

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
