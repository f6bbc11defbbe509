// Describes values in error messages.
import { KIND } from "./_envelope.ts";
import { isMessage } from "./messages.ts";

/**
 * Describes a value for an error message: its kind and type when it is a
 * message, or what it is otherwise.
 */
export function describe(value: unknown): string {
  if (isMessage(value)) return `${value.kind} "${value.type}"`;
  if (value === null || value === undefined) return String(value);
  if (typeof value === "object") {
    if (KIND in value) {
      return "a copy of a message that lost its kind and type (spread or " +
        "structuredClone); pass the message itself or build a new one with " +
        "its definition";
    }
    return `an object with keys [${Object.keys(value).join(", ")}]`;
  }
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "function") return "a function";
  return `the ${typeof value} ${String(value)}`;
}
