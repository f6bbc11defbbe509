/**
 * Stores for dead letters: in memory, and in a JSON Lines file with the same
 * durability rules as the recording store.
 *
 * @module
 */

import { fileWriter, withCounts } from "../core/_jsonl_writer.ts";
import type { DeadLetter, DeadLetterStore } from "./dead_letter.ts";

/**
 * A dead letter store in memory; see {@linkcode memoryDeadLetterStore}.
 */
export interface MemoryDeadLetterStore extends DeadLetterStore {
  /** The dead letters kept, oldest first. */
  readonly letters: readonly DeadLetter[];
}

/**
 * Creates a dead letter store that keeps letters in an array, oldest first.
 * A letter with the id of a kept one replaces it, in its place.
 *
 * @returns The store.
 *
 * @example Adding, replacing and removing letters
 * ```ts
 * import { type DeadLetter, memoryDeadLetterStore } from "@monolith/message-bus/resilience";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const letter = (id: string, attempts: number): DeadLetter => ({
 *   id,
 *   message: { kind: "task", type: "Resize", payload: "a.png" },
 *   error: { name: "Error", message: "disk full" },
 *   handler: "resize",
 *   subscriber: null,
 *   attempts,
 *   at: "2026-02-12T14:30:45.000Z",
 * });
 * const store = memoryDeadLetterStore();
 * store.add(letter("1", 1));
 * store.add(letter("2", 1));
 * store.add(letter("1", 3)); // a redelivery that failed again
 * deepStrictEqual(store.letters.map((l) => [l.id, l.attempts]), [["1", 3], ["2", 1]]);
 * await store.remove(["1"]);
 * deepStrictEqual((await store.list()).map((l) => l.id), ["2"]);
 * ```
 */
export function memoryDeadLetterStore(): MemoryDeadLetterStore {
  let letters: DeadLetter[] = [];
  return {
    get letters() {
      return letters;
    },
    add(letter) {
      const index = letters.findIndex((kept) => kept.id === letter.id);
      if (index === -1) letters.push(letter);
      else letters = letters.with(index, letter);
    },
    list() {
      return Promise.resolve([...letters]);
    },
    remove(ids) {
      const gone = new Set(ids);
      letters = letters.filter((letter) => !gone.has(letter.id));
      return Promise.resolve();
    },
  };
}

/**
 * Options of {@linkcode jsonlDeadLetterStore}.
 */
export interface JsonlDeadLetterStoreOptions {
  /** The directory of `dead-letters.jsonl`; created when missing. */
  readonly dir: string;
  /**
   * How many dead letters may wait for the disk; beyond it the oldest
   * waiting one is dropped and counted.
   *
   * @default {10000}
   */
  readonly maxQueue?: number;
  /**
   * How long `close()` waits for the disk.
   *
   * @default {5000}
   */
  readonly closeTimeoutMs?: number;
}

/**
 * A dead letter store in a JSONL file; see {@linkcode jsonlDeadLetterStore}.
 */
export interface JsonlDeadLetterStore extends DeadLetterStore, AsyncDisposable {
  /** The file. */
  readonly path: string;
  /** Lines written so far. */
  readonly written: number;
  /** Lines dropped: full queue, failed write, close timeout, after close. */
  readonly dropped: number;
  /** Lines waiting to be written. */
  readonly pending: number;
  /** Resolves when every letter taken so far is written. */
  flush(): Promise<void>;
  /** Writes what waits (for at most `closeTimeoutMs`) and closes the file. */
  close(): Promise<void>;
}

type Line = { readonly add: DeadLetter } | { readonly remove: string };

/**
 * Opens a dead letter store in `dir/dead-letters.jsonl`: an append-only log
 * of added and removed letters, compacted when the store opens. Writes are
 * batched off the dispatch path through a bounded queue, drops are counted,
 * and what is queued at `unload` is written synchronously, as for
 * `jsonlStore`.
 *
 * @param options The directory and limits.
 * @returns The open store.
 * @throws {TypeError} When `dir` is not a non-empty string.
 * @throws {RangeError} When `maxQueue` or `closeTimeoutMs` is not a positive
 * integer.
 * @throws {SyntaxError} When a line of the existing file, other than a torn
 * last one, is not JSON.
 *
 * @example Dead letters survive a restart
 * ```ts
 * import { jsonlDeadLetterStore } from "@monolith/message-bus/resilience";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const first = jsonlDeadLetterStore({ dir });
 * first.add({
 *   id: "1",
 *   message: { kind: "command", type: "Ship", payload: { id: "o-1" } },
 *   error: { name: "Error", message: "carrier down" },
 *   handler: "ship",
 *   subscriber: null,
 *   attempts: 3,
 *   at: "2026-02-12T14:30:45.000Z",
 * });
 * await first.close();
 *
 * await using second = jsonlDeadLetterStore({ dir });
 * deepStrictEqual((await second.list()).map((letter) => letter.id), ["1"]);
 * ```
 */
export function jsonlDeadLetterStore(
  options: JsonlDeadLetterStoreOptions,
): JsonlDeadLetterStore {
  const { dir } = options;
  if (typeof dir !== "string" || dir === "") {
    throw new TypeError(
      `Cannot open jsonlDeadLetterStore as 'dir' must be a non-empty string: current value is ${
        JSON.stringify(dir)
      }`,
    );
  }
  const maxQueue = options.maxQueue ?? 10_000;
  const closeTimeoutMs = options.closeTimeoutMs ?? 5_000;
  for (
    const [name, value] of [["maxQueue", maxQueue], [
      "closeTimeoutMs",
      closeTimeoutMs,
    ]] as const
  ) {
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot open jsonlDeadLetterStore as '${name}' must be a positive integer: current value is ${value}`,
      );
    }
  }
  Deno.mkdirSync(dir, { recursive: true });
  const path = dir.endsWith("/")
    ? `${dir}dead-letters.jsonl`
    : `${dir}/dead-letters.jsonl`;

  // Compact what a previous run left: keep the letters not removed.
  const letters = new Map<string, DeadLetter>();
  let existing = "";
  try {
    existing = Deno.readTextFileSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const lines = existing.split("\n");
  lines.forEach((text, index) => {
    if (text.trim() === "") return;
    let line: Line;
    try {
      line = JSON.parse(text);
    } catch {
      if (index === lines.length - 1) return; // a torn last line
      throw new SyntaxError(
        `Cannot open ${path}: line ${index + 1} is not JSON`,
      );
    }
    if ("add" in line) letters.set(line.add.id, line.add);
    else letters.delete(line.remove);
  });
  Deno.writeTextFileSync(
    path,
    [...letters.values()].map((letter) =>
      `${JSON.stringify({ add: letter })}\n`
    )
      .join(""),
  );

  const file = Deno.openSync(path, { write: true, append: true });
  const writer = fileWriter<Line>(file, {
    encode: (line) => JSON.stringify(line),
    maxQueue,
    closeTimeoutMs,
    redact: undefined,
    label: `jsonlDeadLetterStore(${path})`,
  });
  return withCounts({
    path,
    add(letter: DeadLetter) {
      letters.set(letter.id, letter);
      writer.write({ add: letter });
    },
    list() {
      return Promise.resolve([...letters.values()]);
    },
    async remove(ids: readonly string[]) {
      for (const id of ids) {
        if (letters.delete(id)) writer.write({ remove: id });
      }
      await writer.flush();
    },
    flush: writer.flush,
    close: writer.close,
    [Symbol.asyncDispose]: writer.close,
  }, writer);
}
