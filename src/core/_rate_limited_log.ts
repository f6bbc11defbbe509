// Console reports of failures that can repeat at the rate of dispatches (a
// store that fails, a disk that is full): every failure is reported, but at
// most one line per interval, each saying how many failures it stands for.
import type { Clock } from "./clock.ts";

/** How often a rate-limited log prints at most: once per this many ms. */
export const REPORT_INTERVAL_MS = 10_000;

/** Reports failures on the console, at most one line per interval. */
export interface RateLimitedLog {
  /**
   * Reports one failure: printed at once when the last line is older than
   * the interval, else counted and summed up when the interval ends.
   */
  report(line: string, error?: unknown): void;
  /** Prints the failures not reported yet, now. */
  flush(): void;
}

// The runtime's timer handle is a number in some Deno set-ups and a
// Node-style Timeout object (with `unref()`) in others.
function unrefTimer(handle: unknown): void {
  if (typeof handle === "number") {
    Deno.unrefTimer(handle);
  } else if (typeof (handle as { unref?: unknown })?.unref === "function") {
    (handle as { unref(): void }).unref();
  }
}

/**
 * Creates a log that prints through `print`, timed by `clock`. With
 * `unref` (for the runtime's own timers only), its timer does not keep the
 * process alive.
 */
export function rateLimitedLog(
  print: (line: string, error?: unknown) => void,
  clock: Clock,
  unref: boolean,
  intervalMs: number = REPORT_INTERVAL_MS,
): RateLimitedLog {
  let printedAt = -Infinity;
  let unreported = 0;
  let lastLine = "";
  let lastError: unknown;
  let timer: unknown;
  let armed = false;

  function printSummary(): void {
    armed = false;
    if (unreported === 0) return;
    const count = unreported;
    const error = lastError;
    unreported = 0;
    lastError = undefined;
    printedAt = clock.now();
    print(
      `${lastLine} (the last of ${count} such failures since the previous report; reports are at most one per ${intervalMs} ms)`,
      error,
    );
  }

  return {
    report(line, error) {
      const now = clock.now();
      if (!armed && now - printedAt >= intervalMs) {
        printedAt = now;
        print(line, error);
        return;
      }
      unreported++;
      lastLine = line;
      lastError = error;
      if (armed) return;
      armed = true;
      timer = clock.setTimeout(
        printSummary,
        Math.max(0, printedAt + intervalMs - now),
      );
      if (unref) unrefTimer(timer);
    },
    flush() {
      if (!armed) return;
      clock.clearTimeout(timer);
      printSummary();
    },
  };
}
