// Checks of numeric options, with the error messages every factory shares:
// "Cannot <action> as '<name>' must be <what>: current value is <value>".

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
