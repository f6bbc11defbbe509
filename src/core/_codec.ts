// Payloads as bytes for what leaves the process (a broker, an outbox): JSON,
// refusing every value JSON would not give back as it was, with the path to
// it and what to do.

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

/**
 * What makes `value` unfit for JSON (see {@linkcode jsonProblem}), with
 * `root` naming it in the message, or `undefined`: one quick walk for a
 * value that is fit.
 */
export function jsonSafety(value: unknown, root: string): string | undefined {
  return isJsonSafe(value, 0) ? undefined : jsonProblem(value, root, []);
}
