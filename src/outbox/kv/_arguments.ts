// The arguments every factory of ./kv checks the same way.

/** A value as an error message shows it. */
export function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  return value === null ? "null" : typeof value;
}

/**
 * Checks a factory's `kv` and `options`, and returns its key prefix
 * (`fallback` when none is given).
 */
export function kvArguments(
  factory: string,
  kv: unknown,
  options: unknown,
  fallback: Deno.KvKey,
): Deno.KvKey {
  if (!(kv instanceof Deno.Kv)) {
    throw new TypeError(
      `Cannot ${factory}() as its first argument must be a Deno.Kv (await Deno.openKv()): current value is ${
        shown(kv)
      }`,
    );
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Cannot ${factory}() as its options must be an object`);
  }
  const prefix = (options as { prefix?: unknown }).prefix ?? fallback;
  if (
    !Array.isArray(prefix) ||
    !prefix.every((part) =>
      typeof part === "string" || typeof part === "number" ||
      typeof part === "bigint" || typeof part === "boolean" ||
      part instanceof Uint8Array
    )
  ) {
    throw new TypeError(
      `Cannot ${factory}() as 'prefix' must be a Deno.KvKey: current value is ${
        shown(prefix)
      }`,
    );
  }
  return prefix as Deno.KvKey;
}
