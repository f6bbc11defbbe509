// Checks of factory arguments, with the error messages every factory shares:
// "Cannot <action> as '<name>' must be <what>: current value is <value>".
// A value of the wrong type is a TypeError, a number out of range a
// RangeError.
import type { Clock } from "./clock.ts";

/**
 * The longest delay a runtime timer takes, in milliseconds (2³¹ − 1): a
 * longer one fires after 1 ms instead.
 */
export const MAX_TIMER_MS = 2_147_483_647;

/** `value` as an error message shows it: short, and on one line. */
export function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return "an array";
  if (value !== null && typeof value === "object") {
    let keys: string[];
    try {
      keys = Object.keys(value);
    } catch {
      return "an object";
    }
    return keys.length === 0
      ? "{}"
      : `an object with ${keys.slice(0, 5).join(", ")}${
        keys.length > 5 ? ", ..." : ""
      }`;
  }
  return String(value);
}

/** Returns `value` when `valid` accepts it, else throws a RangeError. */
export function numberOption(
  action: string,
  name: string,
  value: unknown,
  valid: (value: number) => boolean,
  what: string,
): number {
  if (typeof value !== "number" || !valid(value)) {
    throw new RangeError(
      `Cannot ${action} as '${name}' must be ${what}: current value is ${
        String(value)
      }`,
    );
  }
  return value;
}

/** Returns `value` when it is an integer of at least `min`. */
export function integerOption(
  action: string,
  name: string,
  value: unknown,
  min: number,
): number {
  return numberOption(
    action,
    name,
    value,
    (number) => Number.isInteger(number) && number >= min,
    `an integer of at least ${min}`,
  );
}

/**
 * Returns `value` when `valid` accepts it (else a RangeError saying `what`)
 * and a timer can wait that long: at most {@linkcode MAX_TIMER_MS}.
 */
export function timerMsOption(
  action: string,
  name: string,
  value: unknown,
  valid: (value: number) => boolean,
  what: string,
): number {
  const ms = numberOption(action, name, value, valid, what);
  if (ms > MAX_TIMER_MS) {
    throw new RangeError(
      `Cannot ${action} as '${name}' must be at most ${MAX_TIMER_MS} ms (2^31 - 1, the longest a timer waits): current value is ${ms}`,
    );
  }
  return ms;
}

/**
 * Returns the options object of a factory: `{}` when it is `undefined`, the
 * object itself otherwise; anything else is a TypeError.
 */
export function optionsObject<T extends object>(
  action: string,
  value: T | undefined,
  name = "options",
): T | Record<never, never> {
  if (value === undefined) return {};
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new TypeError(
      `Cannot ${action} as '${name}' must be an object: current value is ${
        shown(value)
      }`,
    );
  }
  return value;
}

/**
 * Returns `value` when it is a {@linkcode Clock} (it has `now`, `setTimeout`
 * and `clearTimeout` functions), `fallback` when it is `undefined`; anything
 * else is a TypeError.
 */
export function clockOption(
  action: string,
  value: unknown,
  fallback: Clock,
): Clock {
  if (value === undefined) return fallback;
  const clock = value as Partial<Clock> | null;
  if (
    clock === null || typeof clock !== "object" ||
    typeof clock.now !== "function" ||
    typeof clock.setTimeout !== "function" ||
    typeof clock.clearTimeout !== "function"
  ) {
    throw new TypeError(
      `Cannot ${action} as 'clock' must have now(), setTimeout() and clearTimeout() methods: current value is ${
        shown(value)
      }`,
    );
  }
  return clock as Clock;
}

/**
 * Returns `value` when it is a function or `undefined`; anything else is a
 * TypeError.
 */
export function functionOption<F extends (...args: never[]) => unknown>(
  action: string,
  name: string,
  value: F | undefined,
): F | undefined {
  if (value !== undefined && typeof value !== "function") {
    throw new TypeError(
      `Cannot ${action} as '${name}' must be a function: current value is ${
        shown(value)
      }`,
    );
  }
  return value;
}
