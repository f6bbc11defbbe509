/**
 * Stores for dead letters: in memory, and in a JSON Lines file with the same
 * durability rules as the recording store.
 *
 * @module
 */

import {
  fileWriter,
  type FlushSignal,
  signalsOption,
  withCounts,
  type Writer,
} from "../core/_jsonl_writer.ts";
import { toJsonValue } from "../core/_json.ts";
import {
  integerOption,
  numberOption,
  optionsObject,
  shown,
} from "../core/_options.ts";
import type { GaugeSink } from "../core/types.ts";
import type { DeadLetter, DeadLetterStore } from "./dead_letter.ts";

// Checks the `metrics` option of a store.
function gaugeSinkOption(
  action: string,
  value: unknown,
): GaugeSink | undefined {
  if (
    value !== undefined &&
    typeof (value as Partial<GaugeSink> | null)?.observeGauge !== "function"
  ) {
    throw new TypeError(
      `Cannot ${action} as 'metrics' must have an observeGauge() method (metrics from createMetrics()): current value is ${
        shown(value)
      }`,
    );
  }
  return value as GaugeSink | undefined;
}

const GAUGE_HELP = "Dead letters kept in the store now, by kind of store.";

/** Options of {@linkcode memoryDeadLetterStore}. */
export interface MemoryDeadLetterStoreOptions {
  /**
   * How many letters are kept; past it, the oldest is dropped and counted in
   * `dropped`.
   *
   * @default {1000}
   */
  readonly maxSize?: number;
  /**
   * Where the number of letters kept is reported, as the gauge
   * `dead_letters{store="memory"}`: a `Metrics` from `createMetrics()` of
   * `@monolith/message-bus/observability`.
   */
  readonly metrics?: GaugeSink;
}

/**
 * A dead letter store in memory; see {@linkcode memoryDeadLetterStore}.
 */
export interface MemoryDeadLetterStore extends DeadLetterStore {
  /** The dead letters kept, oldest first. */
  readonly letters: readonly DeadLetter[];
  /** Letters dropped, oldest first, to keep at most `maxSize`. */
  readonly dropped: number;
  /** Claims letters for a redelivery; see `DeadLetterStore`. */
  claim(ids: readonly string[]): Promise<readonly string[]>;
  /** Ends claims; see `DeadLetterStore`. */
  release(ids: readonly string[]): Promise<void>;
}

/**
 * Creates a dead letter store that keeps letters in an array, oldest first.
 * A letter with the id of a kept one replaces it, in its place. It holds the
 * claims of `redeliver`, so concurrent redeliveries from it never deliver a
 * letter twice. It keeps at most `maxSize` letters: a new letter past it
 * drops the oldest (its claim too), counted in `dropped`.
 *
 * @param options The bound on letters, and where to report how many are
 * kept.
 * @returns The store.
 * @throws {TypeError} When `options` is not an object, or `metrics` has no
 * `observeGauge` method.
 * @throws {RangeError} When `maxSize` is not a positive integer.
 *
 * @example Keeping the newest letters
 * ```ts
 * import { type DeadLetter, memoryDeadLetterStore } from "@monolith/message-bus/resilience";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const letter = (id: string): DeadLetter => ({
 *   id,
 *   message: { kind: "task", type: "Resize", payload: `${id}.png` },
 *   error: { name: "Error", message: "disk full" },
 *   handler: "resize",
 *   subscriber: null,
 *   attempts: 1,
 *   at: "2026-02-12T14:30:45.000Z",
 * });
 * const store = memoryDeadLetterStore({ maxSize: 2 });
 * for (const id of ["1", "2", "3"]) store.add(letter(id));
 * deepStrictEqual([store.letters.map((l) => l.id), store.dropped], [["2", "3"], 1]);
 * ```
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
export function memoryDeadLetterStore(
  options?: MemoryDeadLetterStoreOptions,
): MemoryDeadLetterStore {
  const action = "create memoryDeadLetterStore";
  const given: MemoryDeadLetterStoreOptions = optionsObject(action, options);
  const maxSize = integerOption(action, "maxSize", given.maxSize ?? 1000, 1);
  const gauges = gaugeSinkOption(action, given.metrics);
  let letters: DeadLetter[] = [];
  let dropped = 0;
  const claimed = new Set<string>();
  gauges?.observeGauge("dead_letters", () => letters.length, {
    help: GAUGE_HELP,
    labels: { store: "memory" },
  });
  return {
    get letters() {
      return letters;
    },
    get dropped() {
      return dropped;
    },
    add(letter) {
      const index = letters.findIndex((kept) => kept.id === letter.id);
      if (index !== -1) {
        letters = letters.with(index, letter);
        return;
      }
      letters.push(letter);
      if (letters.length > maxSize) {
        claimed.delete(letters.shift()!.id);
        dropped++;
      }
    },
    list() {
      return Promise.resolve([...letters]);
    },
    remove(ids) {
      const gone = new Set(ids);
      letters = letters.filter((letter) => !gone.has(letter.id));
      for (const id of ids) claimed.delete(id);
      return Promise.resolve();
    },
    claim(ids) {
      const kept = new Set(letters.map((letter) => letter.id));
      return Promise.resolve(claimFrom(claimed, kept, ids));
    },
    release(ids) {
      for (const id of ids) claimed.delete(id);
      return Promise.resolve();
    },
  };
}

// Claims, in `claimed`, the ids of kept letters no one has claimed.
function claimFrom(
  claimed: Set<string>,
  kept: { has(id: string): boolean },
  ids: readonly string[],
): string[] {
  const now: string[] = [];
  for (const id of ids) {
    if (!kept.has(id) || claimed.has(id)) continue;
    claimed.add(id);
    now.push(id);
  }
  return now;
}

/**
 * Options of {@linkcode jsonlDeadLetterStore}.
 */
export interface JsonlDeadLetterStoreOptions {
  /** The directory of `dead-letters.jsonl`; created when missing. */
  readonly dir: string;
  /**
   * Field names whose values are kept (in the file and in memory) as
   * `"***REDACTED***"`, at any depth of a letter's payload and of its
   * error's inner errors and cause. A redelivered letter carries the
   * redacted form.
   *
   * @default {[]}
   */
  readonly redact?: readonly string[];
  /**
   * How many dead letters may wait for the disk; beyond it the oldest
   * waiting one is dropped and counted.
   *
   * @default {10000}
   */
  readonly maxQueue?: number;
  /**
   * How long `close()` waits for the disk, at most 2147483647 (2³¹ − 1).
   *
   * @default {5000}
   */
  readonly closeTimeoutMs?: number;
  /**
   * Signals on which the store writes what is queued synchronously and then
   * ends the process as the signal would have (exit code 128 + the signal's
   * number), as `jsonlStore`'s option of the same name does.
   *
   * @default {[]}
   */
  readonly flushOnSignals?:
    readonly ("SIGTERM" | "SIGINT" | "SIGHUP" | "SIGQUIT")[];
  /**
   * Where the number of letters kept is reported, as the gauge
   * `dead_letters{store="jsonl"}`, until the store closes: a `Metrics` from
   * `createMetrics()` of `@monolith/message-bus/observability`.
   */
  readonly metrics?: GaugeSink;
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
  /** Claims letters for a redelivery; see `DeadLetterStore`. */
  claim(ids: readonly string[]): Promise<readonly string[]>;
  /** Ends claims; see `DeadLetterStore`. */
  release(ids: readonly string[]): Promise<void>;
  /** Resolves when every letter taken so far is written. */
  flush(): Promise<void>;
  /** Writes what waits (for at most `closeTimeoutMs`) and closes the file. */
  close(): Promise<void>;
}

type Line = { readonly add: DeadLetter } | { readonly remove: string };

const FILE_NAME = "dead-letters.jsonl";
// A compaction in progress writes here, then renames over the file.
const TEMP_NAME = /^dead-letters\.jsonl\..+\.compacting$/;
const MAX_TIMER_MS = 2 ** 31 - 1;
// Lines per write while compacting, so memory for the text stays bounded.
const COMPACT_BATCH = 8192;
// Broken lines printed one by one when a store opens; the rest are counted.
const MAX_BROKEN_WARNINGS = 5;

// One file this process has open: every store on it shares the letters, the
// claims and the writer, so they see one another's letters and claims.
interface OpenFile {
  readonly letters: Map<string, DeadLetter>;
  readonly claimed: Set<string>;
  readonly writer: Writer<Line>;
  stores: number;
  closing: boolean;
}

// By the file's real path.
const openFiles = new Map<string, OpenFile>();

/**
 * Opens a dead letter store in `dir/dead-letters.jsonl`: an append-only log
 * of added and removed letters. Writes are batched off the dispatch path
 * through a bounded queue, drops are counted, and what is queued at `unload`
 * is written synchronously, as for `jsonlStore`.
 *
 * Opening compacts the log when it holds removals, replaced letters or broken
 * lines: into a new file beside it, synced, then renamed over it, so a crash
 * at any moment leaves the old file or the new one, both whole. A torn last
 * line (the process stopped while writing it) and a broken line elsewhere are
 * skipped with a warning; the letters on the other lines are kept.
 *
 * Stores opened on one file in one process share its letters and the claims
 * of `redeliver`, so concurrent redeliveries through any of them never deliver
 * a letter twice; the first one opened sets `maxQueue` and `closeTimeoutMs`,
 * and the file closes with the last. Two processes must not use one file at
 * once: the claims do not reach across processes, and one's compaction would
 * hide the other's later writes.
 *
 * @param options The directory, redacted fields and limits.
 * @returns The open store.
 * @throws {TypeError} When `options` is not an object, `dir` is not a
 * non-empty string, `redact` is not an array of field names, or `metrics`
 * has no `observeGauge` method.
 * @throws {RangeError} When `maxQueue` is not a positive integer, or
 * `closeTimeoutMs` is not one of at most 2147483647.
 * @throws {Error} When the file is a symbolic link or not a regular file, or
 * a store on it is still closing.
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
 *
 * @example Redacting fields
 * ```ts
 * import { jsonlDeadLetterStore } from "@monolith/message-bus/resilience";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await using store = jsonlDeadLetterStore({ dir, redact: ["card"] });
 * store.add({
 *   id: "1",
 *   message: { kind: "command", type: "Charge", payload: { card: "4242", cents: 500 } },
 *   error: { name: "Error", message: "declined" },
 *   handler: "charge",
 *   subscriber: null,
 *   attempts: 1,
 *   at: "2026-02-12T14:30:45.000Z",
 * });
 * await store.flush();
 * deepStrictEqual((await Deno.readTextFile(store.path)).includes("4242"), false);
 * deepStrictEqual((await store.list())[0]?.message.payload, {
 *   card: "***REDACTED***",
 *   cents: 500,
 * });
 * ```
 */
export function jsonlDeadLetterStore(
  options: JsonlDeadLetterStoreOptions,
): JsonlDeadLetterStore {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `Cannot open jsonlDeadLetterStore as 'options' must be an object with a 'dir': current value is ${
        options === null ? "null" : typeof options
      }`,
    );
  }
  const { dir } = options;
  if (typeof dir !== "string" || dir === "") {
    throw new TypeError(
      `Cannot open jsonlDeadLetterStore as 'dir' must be a non-empty string: current value is ${
        JSON.stringify(dir)
      }`,
    );
  }
  const maxQueue = numberOption(
    "open jsonlDeadLetterStore",
    "maxQueue",
    options.maxQueue ?? 10_000,
    (value) => Number.isInteger(value) && value >= 1,
    "a positive integer",
  );
  const closeTimeoutMs = numberOption(
    "open jsonlDeadLetterStore",
    "closeTimeoutMs",
    options.closeTimeoutMs ?? 5_000,
    (value) => Number.isInteger(value) && value >= 1 && value <= MAX_TIMER_MS,
    `a positive integer of at most ${MAX_TIMER_MS}`,
  );
  const redactList = options.redact ?? [];
  if (
    !Array.isArray(redactList) ||
    !redactList.every((field) => typeof field === "string")
  ) {
    throw new TypeError(
      `Cannot open jsonlDeadLetterStore as 'redact' must be an array of field names: current value is ${
        JSON.stringify(redactList)
      }`,
    );
  }
  const redact = redactList.length > 0 ? new Set(redactList) : undefined;
  const flushOnSignals = signalsOption(
    "open jsonlDeadLetterStore",
    options.flushOnSignals,
  );
  const gauges = gaugeSinkOption(
    "open jsonlDeadLetterStore",
    options.metrics,
  );

  Deno.mkdirSync(dir, { recursive: true });
  const path = join(dir, FILE_NAME);
  const key = join(Deno.realPathSync(dir), FILE_NAME);
  let shared = openFiles.get(key);
  if (shared?.closing) {
    throw new Error(
      `Cannot open jsonlDeadLetterStore as a store on ${path} is closing: await its close() first`,
    );
  }
  if (shared === undefined) {
    shared = openFile(dir, path, maxQueue, closeTimeoutMs, flushOnSignals);
    openFiles.set(key, shared);
  }
  shared.stores++;
  const { letters, claimed, writer } = shared;
  const file = shared;

  let closing: Promise<void> | undefined;
  let droppedAfterClose = 0;
  const unobserve = gauges?.observeGauge("dead_letters", () => letters.size, {
    help: GAUGE_HELP,
    labels: { store: "jsonl" },
  });

  function close(): Promise<void> {
    closing ??= (async () => {
      unobserve?.();
      // The other stores on the file go on writing this one's letters.
      if (--file.stores > 0) return;
      file.closing = true;
      try {
        await writer.close();
      } finally {
        openFiles.delete(key);
      }
    })();
    return closing;
  }

  const counts = {
    get written() {
      return writer.written;
    },
    get dropped() {
      return writer.dropped + droppedAfterClose;
    },
    get pending() {
      return writer.pending;
    },
  };
  return withCounts({
    path,
    ...(redact === undefined ? {} : { redact: Object.freeze([...redact]) }),
    add(letter: DeadLetter) {
      if (closing !== undefined) {
        if (droppedAfterClose++ === 0) {
          console.warn(
            `jsonlDeadLetterStore(${path}): the store is closed; dropping dead letters (counted in 'dropped'). This warning is printed once.`,
          );
        }
        return;
      }
      const kept = redact === undefined ? letter : redactLetter(letter, redact);
      letters.set(kept.id, kept);
      writer.write({ add: kept });
    },
    list() {
      return Promise.resolve([...letters.values()]);
    },
    async remove(ids: readonly string[]) {
      if (closing !== undefined) {
        throw new Error(
          `Cannot remove dead letters as the store on ${path} is closed`,
        );
      }
      for (const id of ids) {
        claimed.delete(id);
        if (letters.delete(id)) writer.write({ remove: id });
      }
      await writer.flush();
    },
    claim(ids: readonly string[]) {
      return Promise.resolve(claimFrom(claimed, letters, ids));
    },
    release(ids: readonly string[]) {
      for (const id of ids) claimed.delete(id);
      return Promise.resolve();
    },
    flush: writer.flush,
    close,
    [Symbol.asyncDispose]: close,
  }, counts);
}

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

// The letter with the `redact` fields of its payload and error redacted; the
// error keeps its name and message.
function redactLetter(
  letter: DeadLetter,
  redact: ReadonlySet<string>,
): DeadLetter {
  const { name, message, ...rest } = letter.error;
  const { payload } = letter.message;
  return {
    ...letter,
    message: payload === undefined
      ? letter.message
      : { ...letter.message, payload: toJsonValue(payload, redact) },
    error: { name, message, ...toJsonValue(rest, redact) as object },
  };
}

// Reads and, when it needs it, compacts the file, then opens it to append.
function openFile(
  dir: string,
  path: string,
  maxQueue: number,
  closeTimeoutMs: number,
  flushOnSignals: readonly FlushSignal[],
): OpenFile {
  const label = `jsonlDeadLetterStore(${path})`;
  let info: Deno.FileInfo | undefined;
  try {
    info = Deno.lstatSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (info !== undefined && !info.isFile) {
    throw new Error(
      `Cannot open jsonlDeadLetterStore as ${path} must be a regular file: it is ${
        info.isSymlink ? "a symbolic link" : "not one"
      }, and the store does not write through links`,
    );
  }
  removeLeftovers(dir);
  const { letters, compact } = info === undefined
    ? { letters: new Map<string, DeadLetter>(), compact: false }
    : load(path, label);
  if (compact) rewrite(dir, path, letters, info?.mode ?? null);

  const file = Deno.openSync(path, { write: true, append: true, create: true });
  const writer = fileWriter<Line>(file, {
    encode: (line) => JSON.stringify(line),
    maxQueue,
    closeTimeoutMs,
    redact: undefined,
    label,
    flushOnSignals,
  });
  return { letters, claimed: new Set(), writer, stores: 0, closing: false };
}

// The temporary files of compactions a crash cut short.
function removeLeftovers(dir: string): void {
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.isDirectory || !TEMP_NAME.test(entry.name)) continue;
    try {
      Deno.removeSync(join(dir, entry.name));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
}

// The letters the log keeps, and whether compacting it would change it.
function load(
  path: string,
  label: string,
): { letters: Map<string, DeadLetter>; compact: boolean } {
  const text = new TextDecoder().decode(Deno.readFileSync(path));
  const letters = new Map<string, DeadLetter>();
  let compact = false;
  let broken = 0;
  let lineNumber = 0;
  for (let start = 0; start < text.length;) {
    let end = text.indexOf("\n", start);
    const last = end === -1;
    if (last) {
      end = text.length;
      compact = true; // the file must end with a newline before appending
    }
    const line = text.slice(start, end);
    start = end + 1;
    lineNumber++;
    if (line.trim() === "") {
      compact = true;
      continue;
    }
    const parsed = parseLine(line);
    if (typeof parsed === "string") {
      compact = true;
      if (last) {
        console.warn(
          `${label}: skipped a torn last line (${line.length} characters): the process likely stopped while writing it`,
        );
      } else if (++broken <= MAX_BROKEN_WARNINGS) {
        console.warn(
          `${label}: skipped line ${lineNumber}, which ${parsed}; the letters on the other lines are kept. The line: ${
            line.length > 200 ? `${line.slice(0, 200)}...` : line
          }`,
        );
      }
      continue;
    }
    if ("add" in parsed) {
      if (letters.has(parsed.add.id)) compact = true;
      letters.set(parsed.add.id, parsed.add);
    } else {
      letters.delete(parsed.remove);
      compact = true;
    }
  }
  if (broken > MAX_BROKEN_WARNINGS) {
    console.warn(
      `${label}: skipped ${broken} broken lines in all (${
        broken - MAX_BROKEN_WARNINGS
      } more than printed)`,
    );
  }
  return { letters, compact };
}

// A line of the log, or why it is not one.
function parseLine(text: string): Line | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `is not JSON (${(error as Error).message})`;
  }
  if (typeof value === "object" && value !== null) {
    const { add, remove } = value as { add?: unknown; remove?: unknown };
    if (
      typeof add === "object" && add !== null &&
      typeof (add as { id?: unknown }).id === "string"
    ) {
      return { add: add as DeadLetter };
    }
    if (typeof remove === "string") return { remove };
  }
  return `is neither {"add": letter} nor {"remove": id}`;
}

// Writes the letters to a new file beside `path`, syncs it and renames it
// over `path`: a crash leaves either file whole, never a truncated one.
function rewrite(
  dir: string,
  path: string,
  letters: Map<string, DeadLetter>,
  mode: number | null,
): void {
  const temp = `${path}.${Deno.pid}-${
    crypto.randomUUID().slice(0, 8)
  }.compacting`;
  const file = Deno.openSync(temp, { write: true, createNew: true });
  try {
    try {
      // The compacted file keeps the permissions of the one it replaces.
      if (mode !== null && Deno.build.os !== "windows") {
        Deno.chmodSync(temp, mode & 0o777);
      }
      const encoder = new TextEncoder();
      let batch = "";
      let count = 0;
      for (const letter of letters.values()) {
        batch += `${JSON.stringify({ add: letter })}\n`;
        if (++count === COMPACT_BATCH) {
          writeAllSync(file, encoder.encode(batch));
          batch = "";
          count = 0;
        }
      }
      if (batch !== "") writeAllSync(file, encoder.encode(batch));
      file.syncSync();
    } finally {
      file.close();
    }
    Deno.renameSync(temp, path);
  } catch (error) {
    try {
      Deno.removeSync(temp);
    } catch {
      // Already gone, or the next open removes it.
    }
    throw error;
  }
  // Make the rename itself durable. Not every platform can open a directory
  // (Windows cannot); there the rename is as durable as the system makes it.
  try {
    const directory = Deno.openSync(dir, { read: true });
    try {
      directory.syncSync();
    } finally {
      directory.close();
    }
  } catch {
    // See above.
  }
}

function writeAllSync(file: Deno.FsFile, bytes: Uint8Array): void {
  for (let offset = 0; offset < bytes.length;) {
    offset += file.writeSync(bytes.subarray(offset));
  }
}
