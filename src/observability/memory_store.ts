/**
 * A record store that keeps records in an array, for tests.
 *
 * @module
 */

import { recordJson } from "./_record_line.ts";
import type { DispatchRecord, RecordStore } from "./recorder.ts";

/** Options of {@linkcode memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Field names whose values are kept as `"***REDACTED***"`, as
   * `jsonlStore` writes them: at any depth of payloads, results and errors
   * (an error's cause and inner errors), through objects, arrays and the
   * entries of Maps.
   *
   * @default {[]}
   */
  readonly redact?: readonly string[];
}

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
 * was recorded. With `redact`, the listed fields are redacted as `jsonlStore`
 * redacts them, so a test sees what a file would hold.
 *
 * @param options What to redact.
 * @returns The store.
 * @throws {TypeError} When `options` is not an object or `redact` is not an
 * array of strings.
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
 *
 * @example Redacting as a JSONL file would
 * ```ts
 * import { createBus, defineCommand } from "@monolith/message-bus";
 * import { memoryStore, recorder } from "@monolith/message-bus/observability";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const LogIn = defineCommand<{ user: string; password: string }>("LogIn");
 * const store = memoryStore({ redact: ["password"] });
 * const bus = createBus({ middleware: [recorder(store)] });
 * bus.registerCommand(LogIn, () => {});
 * bus.execute(LogIn({ user: "ada", password: "hunter2" }));
 * deepStrictEqual(store.records[0]?.payload, {
 *   user: "ada",
 *   password: "***REDACTED***",
 * });
 * ```
 */
export function memoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot create memoryStore as 'options' must be an object: current value is ${
        String(options)
      }`,
    );
  }
  const redactList = options.redact ?? [];
  if (
    !Array.isArray(redactList) ||
    !redactList.every((field) => typeof field === "string")
  ) {
    throw new TypeError(
      `Cannot create memoryStore as 'redact' must be an array of field names: current value is ${
        JSON.stringify(redactList)
      }`,
    );
  }
  const redact = redactList.length > 0 ? new Set(redactList) : undefined;
  const records: DispatchRecord[] = [];
  return {
    records,
    write(record) {
      records.push(recordJson(record, redact));
    },
    clear() {
      records.length = 0;
    },
  };
}
