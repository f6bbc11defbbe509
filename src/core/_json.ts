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
 * - A property whose getter or `toJSON` throws: `"[Unserializable: message]"`.
 * - A key listed in `redact`, at any depth: `"***REDACTED***"`.
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
    return `[Unserializable: ${
      error instanceof Error ? error.message : String(error)
    }]`;
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
        encode(item, redact, ancestors),
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
      result[key] = `[Unserializable: ${
        error instanceof Error ? error.message : String(error)
      }]`;
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
  const result: Record<string, unknown> = {
    name: error.name,
    message: error.message,
  };
  if (error instanceof AggregateError) {
    result.errors = Array.from(
      error.errors,
      (inner) => encode(inner, redact, ancestors),
    );
  }
  if (error.cause !== undefined) {
    result.cause = encode(error.cause, redact, ancestors);
  }
  return result;
}

/**
 * `JSON.stringify` for any value, in the forms of {@linkcode toJsonValue}:
 * plain data takes the native path, anything else is encoded first.
 */
export function stringify(
  value: unknown,
  redact?: ReadonlySet<string>,
): string {
  if (isPlain(value, 0, redact)) return JSON.stringify(value);
  return JSON.stringify(encode(value, redact, []));
}

/** The JSON form of an error in a record: name, message, inner errors. */
export function errorJson(error: unknown): SerializedError {
  if (error instanceof Error) {
    return encode(error, undefined, []) as SerializedError;
  }
  return { name: typeof error, message: String(error) };
}
