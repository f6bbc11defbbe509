import type { SerializedError } from "./types.ts";

// JSON encoding that no value can break: the documented forms below are what
// a recording holds for values JSON has no form for. The fast path is plain
// JSON.stringify, taken when a quick walk finds nothing special.

/** Replaces redacted values. */
export const REDACTED = "***REDACTED***";

const MAX_PLAIN_DEPTH = 32;

// Whether `value` is data JSON.stringify renders faithfully: primitives other
// than bigint and symbol, plain objects and arrays, shallow enough that a
// cycle would have been found. Any redacted key also sends it to the slow path.
function isPlain(
  value: unknown,
  depth: number,
  redact: ReadonlySet<string> | undefined,
): boolean {
  if (value === null) return true;
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object": {
      if (depth > MAX_PLAIN_DEPTH) return false;
      if (Array.isArray(value)) {
        for (let index = 0; index < value.length; index++) {
          const item = value[index];
          if (item === undefined || !isPlain(item, depth + 1, redact)) {
            return false;
          }
        }
        return true;
      }
      const prototype = Object.getPrototypeOf(value);
      if (prototype !== Object.prototype && prototype !== null) return false;
      for (const key in value) {
        if (redact !== undefined && redact.has(key)) return false;
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined || !isPlain(item, depth + 1, redact)) {
          return false;
        }
      }
      return true;
    }
    default:
      return false;
  }
}

// What a value that threw while being read is written as.
function unserializable(error: unknown): string {
  return `[Unserializable: ${describeThrown(error)}]`;
}

// The message of a thrown value, which may itself throw when read (a revoked
// Proxy, a getter on `message`, a `toString` that throws).
function describeThrown(error: unknown): string {
  try {
    return error instanceof Error ? String(error.message) : String(error);
  } catch {
    return "a value that cannot be read";
  }
}

/**
 * Turns any value into JSON-safe data, in these forms:
 *
 * - `undefined` at the top or in an array: `null`; in an object: the key is
 *   left out (JSON's own rule). Non-finite numbers: `null` (JSON's rule).
 * - bigint: `{ "$bigint": "123" }`.
 * - symbol: `"Symbol(description)"`; function: `"[Function name]"`.
 * - Error: `{ "name", "message" }`, plus `"errors"` for an AggregateError and
 *   `"cause"` when it has one.
 * - Date: its ISO string (`null` when invalid).
 * - Map: `{ "$map": [[key, value], ...] }`; Set: `{ "$set": [value, ...] }`.
 * - A value met again inside itself (a cycle): `"[Circular]"`.
 * - An object with `toJSON()`: what it returns, encoded the same way.
 * - Other objects: their own enumerable string-keyed properties.
 * - A property whose getter or `toJSON` throws, or an object that throws when
 *   looked at (a Proxy whose traps throw, a revoked Proxy):
 *   `"[Unserializable: message]"`.
 * - A key listed in `redact`, at any depth: `"***REDACTED***"`; for a Map,
 *   the value of an entry whose key is such a string. Inside an error, its
 *   cause and inner errors are redacted, its `name` and `message` are not.
 */
export function toJsonValue(
  value: unknown,
  redact?: ReadonlySet<string>,
): unknown {
  return encode(value, redact, []);
}

function encode(
  value: unknown,
  redact: ReadonlySet<string> | undefined,
  ancestors: object[],
): unknown {
  switch (typeof value) {
    case "undefined":
      return null;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "bigint":
      return { $bigint: value.toString() };
    case "symbol":
      return value.toString();
    case "function":
      return `[Function ${value.name || "anonymous"}]`;
    case "object":
      break;
    default:
      return value;
  }
  if (value === null) return null;
  if (ancestors.includes(value)) return "[Circular]";
  ancestors.push(value);
  try {
    return encodeObject(value, redact, ancestors);
  } catch (error) {
    return unserializable(error);
  } finally {
    ancestors.pop();
  }
}

function encodeObject(
  value: object,
  redact: ReadonlySet<string> | undefined,
  ancestors: object[],
): unknown {
  if (value instanceof Error) return encodeError(value, redact, ancestors);
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? null : value.toISOString();
  }
  if (value instanceof Map) {
    return {
      $map: Array.from(value, ([key, item]) => [
        encode(key, redact, ancestors),
        typeof key === "string" && redact?.has(key)
          ? REDACTED
          : encode(item, redact, ancestors),
      ]),
    };
  }
  if (value instanceof Set) {
    return {
      $set: Array.from(value, (item) => encode(item, redact, ancestors)),
    };
  }
  if (Array.isArray(value)) {
    return value.map((item) => encode(item, redact, ancestors));
  }
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === "function") {
    const replaced = toJSON.call(value);
    if (replaced !== value) return encode(replaced, redact, ancestors);
  }
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    if (redact?.has(key)) {
      result[key] = REDACTED;
      continue;
    }
    let item: unknown;
    try {
      item = (value as Record<string, unknown>)[key];
    } catch (error) {
      result[key] = unserializable(error);
      continue;
    }
    if (item !== undefined) result[key] = encode(item, redact, ancestors);
  }
  return result;
}

function encodeError(
  error: Error,
  redact: ReadonlySet<string> | undefined,
  ancestors: object[],
): unknown {
  // Each part is read on its own, so that one that throws when read (a
  // getter) spoils only itself.
  const result: Record<string, unknown> = {
    name: readString(() => error.name),
    message: readString(() => error.message),
  };
  try {
    if (error instanceof AggregateError) {
      result.errors = Array.from(
        error.errors,
        (inner) => encode(inner, redact, ancestors),
      );
    }
  } catch (failure) {
    result.errors = unserializable(failure);
  }
  try {
    const cause = error.cause;
    if (cause !== undefined) result.cause = encode(cause, redact, ancestors);
  } catch (failure) {
    result.cause = unserializable(failure);
  }
  return result;
}

function readString(read: () => unknown): string {
  try {
    return String(read());
  } catch (error) {
    return unserializable(error);
  }
}

/**
 * `JSON.stringify` for any value, in the forms of {@linkcode toJsonValue}:
 * plain data takes the native path, anything else is encoded first. Never
 * throws.
 */
export function stringify(
  value: unknown,
  redact?: ReadonlySet<string>,
): string {
  try {
    // A getter may throw on the first read (in isPlain) or only on a later
    // one (in JSON.stringify); either way the value takes the slow path,
    // which gives what throws its documented form.
    if (isPlain(value, 0, redact)) return JSON.stringify(value);
  } catch {
    // The slow path below.
  }
  return JSON.stringify(encode(value, redact, []));
}

/**
 * The JSON form of an error in a record: name, message, inner errors and
 * cause, with `redact` applied inside the inner errors and the cause. Never
 * throws: what cannot be read takes the `"[Unserializable: message]"` form.
 */
export function errorJson(
  error: unknown,
  redact?: ReadonlySet<string>,
): SerializedError {
  let isError: boolean;
  try {
    isError = error instanceof Error;
  } catch (failure) {
    return { name: "unknown", message: unserializable(failure) };
  }
  if (isError) {
    const json = encode(error, redact, []);
    if (typeof json === "object" && json !== null) {
      return json as SerializedError;
    }
    return { name: "Error", message: String(json) };
  }
  return { name: typeof error, message: readString(() => String(error)) };
}

/**
 * The JSON form of a record-like object whose own keys are fields of a
 * format, not data: `redact` applies below them, never to them.
 */
export function toJsonFields(
  fields: Readonly<Record<string, unknown>>,
  redact: ReadonlySet<string> | undefined,
): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(fields)) {
    const value = fields[key];
    if (value !== undefined) result[key] = encode(value, redact, []);
  }
  return result;
}
