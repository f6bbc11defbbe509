// What an id may be, and unique ids for what is not a dispatch (an outbox
// entry). A dispatch's id is made in _context.ts, on its own counter.

/**
 * Whether `value` can be an id: a non-empty string with no quote, backslash
 * or control character, so that a record line carries it as it is.
 */
export function isPlainId(value: unknown): value is string {
  if (typeof value !== "string" || value === "") return false;
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (code < 0x20 || code === 0x22 || code === 0x5c) return false;
  }
  return true;
}

/** What an id option must be, for error messages. */
export const PLAIN_ID =
  "a non-empty string without quotes, backslashes or control characters";

// A random prefix per process and a counter: unique across processes
// without a random number per id.
const PREFIX = Array.from(
  crypto.getRandomValues(new Uint8Array(6)),
  (byte) => byte.toString(36).padStart(2, "0"),
).join("") + "-";
let counter = 0;

/** A new unique id, for what is not a dispatch. */
export function uniqueId(): string {
  return PREFIX + (++counter);
}
