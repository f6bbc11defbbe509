// Many timeouts on one timer. Setting and clearing a runtime timer costs
// more than a dispatch, so neither the timeout middleware nor a distributed
// bus's deadlines set one per dispatch. Entries with the same delay arrive in due order, so each delay
// keeps a linked list: adding is O(1), cancelling (the common case: the
// dispatch finished in time) is O(1), and the one timer is armed for the
// earliest head.
import type { Clock } from "./clock.ts";

/** A scheduled callback; `cancel()` removes it. */
export interface Scheduled {
  cancel(): void;
}

interface List {
  head: Entry | undefined;
  tail: Entry | undefined;
}

// A class, so that `cancel` is shared rather than a closure per entry.
class Entry implements Scheduled {
  prev: Entry | undefined;
  next: Entry | undefined;
  list: List | undefined;

  constructor(
    readonly due: number,
    readonly fire: () => void,
    list: List,
  ) {
    this.prev = list.tail;
    this.next = undefined;
    this.list = list;
  }

  cancel(): void {
    unlink(this);
  }
}

function unlink(entry: Entry): void {
  const list = entry.list;
  if (list === undefined) return;
  if (entry.prev) entry.prev.next = entry.next;
  else list.head = entry.next;
  if (entry.next) entry.next.prev = entry.prev;
  else list.tail = entry.prev;
  entry.prev = entry.next = entry.list = undefined;
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

/** Callbacks on one timer of a clock. */
export interface TimerQueue {
  /**
   * Calls `fire` `delayMs` after `now` (the caller's reading of the clock,
   * which it needs anyway), unless cancelled.
   */
  schedule(delayMs: number, now: number, fire: () => void): Scheduled;
}

/**
 * Creates a timer queue over `clock`. With `unref`, its timer does not keep
 * the process alive: it only watches dispatches that are in flight.
 */
export function createTimerQueue(clock: Clock, unref: boolean): TimerQueue {
  const lists = new Map<number, List>();
  let armedAt: number | undefined;
  let handle: unknown;

  function arm(due: number): void {
    if (armedAt !== undefined && armedAt <= due) return;
    if (armedAt !== undefined) clock.clearTimeout(handle);
    armedAt = due;
    handle = clock.setTimeout(onTimer, Math.max(0, due - clock.now()));
    if (unref) unrefTimer(handle);
  }

  function onTimer(): void {
    armedAt = undefined;
    const now = clock.now();
    let earliest = Infinity;
    for (const [delay, list] of lists) {
      while (list.head !== undefined && list.head.due <= now) {
        const entry = list.head;
        unlink(entry);
        entry.fire();
      }
      if (list.head !== undefined) earliest = Math.min(earliest, list.head.due);
      // Delays come and go (a deadline's time left): keep only lists in use.
      else if (lists.size > 16) lists.delete(delay);
    }
    if (earliest !== Infinity) arm(earliest);
  }

  return {
    schedule(delayMs, now, fire) {
      let list = lists.get(delayMs);
      if (list === undefined) {
        list = { head: undefined, tail: undefined };
        lists.set(delayMs, list);
      }
      const entry = new Entry(now + delayMs, fire, list);
      if (list.tail) list.tail.next = entry;
      else list.head = entry;
      list.tail = entry;
      arm(entry.due);
      return entry;
    },
  };
}
