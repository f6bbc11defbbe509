// Timestamps for records: ISO 8601 in UTC with microseconds.

let cachedSecond = Number.NaN;
let cachedPrefix = "";

/**
 * Formats epoch milliseconds (with a fraction) as `2026-02-12T14:30:45.123456Z`.
 * `Date.prototype.toISOString` costs more than the rest of a record line, so
 * the part up to the second is formatted once per second and reused.
 */
export function isoTimestamp(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const micros = Math.min(
    999_999,
    Math.floor((epochMs - second * 1000) * 1000),
  );
  return `${cachedPrefix}${String(micros).padStart(6, "0")}Z`;
}
