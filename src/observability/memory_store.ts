/**
 * A record store that keeps records in an array, for tests.
 *
 * @module
 */

import { toJsonValue } from "../core/_json.ts";
import type { DispatchRecord, RecordStore } from "./recorder.ts";

/**
 * A store holding records in memory; see {@linkcode memoryStore}.
 */
export interface MemoryStore extends RecordStore {
  /** The records so far, oldest first, in the form a JSONL file holds. */
  readonly records: readonly DispatchRecord[];
  /** Forgets every record. */
  clear(): void;
}

/**
 * Creates a store that keeps every record in an array. Each record is kept in
 * its JSON form, as a JSONL file would hold it (BigInt, Map, Set, cycles and
 * the like have documented forms; see `docs/observability.md` in the
 * repository), so a handler that later mutates a payload does not change what
 * was recorded.
 *
 * @returns The store.
 *
 * @example Records in their JSON form
 * ```ts
 * import { createBus, defineEvent } from "@monolith/message-bus";
 * import { memoryStore, recorder } from "@monolith/message-bus/observability";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const Counted = defineEvent<{ n: bigint }>("Counted");
 * const store = memoryStore();
 * const bus = createBus({ middleware: [recorder(store)] });
 * bus.publish(Counted({ n: 10n }));
 * deepStrictEqual(store.records[0]?.payload, { n: { $bigint: "10" } });
 * store.clear();
 * deepStrictEqual(store.records.length, 0);
 * ```
 */
export function memoryStore(): MemoryStore {
  const records: DispatchRecord[] = [];
  return {
    records,
    write(record) {
      records.push(toJsonValue(record) as DispatchRecord);
    },
    clear() {
      records.length = 0;
    },
  };
}
