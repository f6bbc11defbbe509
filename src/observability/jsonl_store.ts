/**
 * Recording to JSON Lines files through Deno's file APIs: one new file per
 * run, older runs rotated away, writes batched off the dispatch path. Also
 * reading recordings back ({@linkcode readRecording}) and listing runs
 * ({@linkcode listRuns}).
 *
 * Needs `--allow-read` and `--allow-write` for the directory.
 *
 * @module
 */

import {
  fileKind,
  fileWriter,
  signalsOption,
  withCounts,
  type Writer,
} from "../core/_jsonl_writer.ts";
import { numberOption } from "../core/_options.ts";
import { decodeRecord, encodeRecord } from "./_record_line.ts";
import type { DispatchRecord, RecordStore } from "./recorder.ts";

/**
 * Options of {@linkcode jsonlStore}.
 */
export interface JsonlStoreOptions {
  /** The directory for run files; created when missing. */
  readonly dir: string;
  /**
   * How many run files to keep, this one included; older ones are deleted
   * when the store opens, except those a store (in any process) still has
   * open.
   *
   * @default {10}
   */
  readonly maxRuns?: number;
  /**
   * Field names whose values are written as `"***REDACTED***"`, at any depth
   * of payloads, results and errors (an error's cause and inner errors),
   * through objects, arrays and the entries of Maps.
   *
   * @default {[]}
   */
  readonly redact?: readonly string[];
  /**
   * How many records may wait for the disk (at most 2³² − 1). When full,
   * the oldest waiting record is dropped, counted in `dropped`, and a
   * warning is printed once per burst of drops.
   *
   * @default {10000}
   */
  readonly maxQueue?: number;
  /**
   * How long `close()` waits for waiting records to be written before it
   * gives up (and counts them as dropped), in milliseconds, at most
   * 2³¹ − 1.
   *
   * @default {5000}
   */
  readonly closeTimeoutMs?: number;
  /**
   * Signals on which the store writes what is queued synchronously and then
   * ends the process as the signal would have: with exit code 128 + the
   * signal's number (143 for `"SIGTERM"`, 130 for `"SIGINT"`). For a
   * program that handles these signals itself, leave this out and
   * `await store.close()` in its own handler.
   *
   * @default {[]}
   */
  readonly flushOnSignals?:
    readonly ("SIGTERM" | "SIGINT" | "SIGHUP" | "SIGQUIT")[];
}

/**
 * A JSONL record store; see {@linkcode jsonlStore}.
 */
export interface JsonlStore extends RecordStore, AsyncDisposable {
  /** The path of this run's file. */
  readonly path: string;
  /** Records written to the file so far: its complete lines. */
  readonly written: number;
  /**
   * Records dropped: the queue was full, a write failed, `close()` timed out,
   * or a record came after `close()`.
   */
  readonly dropped: number;
  /** Records taken and neither written nor dropped yet. */
  readonly pending: number;
  /**
   * Resolves when every record taken so far is written (or dropped), or
   * when `close()` gives up.
   */
  flush(): Promise<void>;
  /**
   * Writes what is waiting (for at most `closeTimeoutMs`) and closes the
   * file. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

const RUN_FILE = /^run-.*\.jsonl$/;
// A run's lock file: `<run>.lock`, locked while its store is open.
const LOCK_SUFFIX = ".lock";
// The longest a timer waits (2³¹ − 1 ms); a longer one fires at once.
const MAX_TIMER_MS = 2_147_483_647;
// The most an array holds.
const MAX_QUEUE = 4_294_967_295;
const ACTION = "open jsonlStore";

function positiveInteger(name: string, value: number, max: number): number {
  return numberOption(
    ACTION,
    name,
    value,
    (number) => Number.isInteger(number) && number >= 1 && number <= max,
    max === Infinity
      ? "a positive integer"
      : `a positive integer of at most ${max}`,
  );
}

function runFileName(attempt: number): string {
  const now = performance.timeOrigin + performance.now();
  const stamp = new Date(Math.floor(now)).toISOString().replace(/[:.]/g, "-");
  const micros = String(Math.floor((now % 1) * 1000)).padStart(3, "0");
  const suffix = attempt === 0 ? "" : `-${attempt}`;
  return `run-${stamp.slice(0, -1)}${micros}Z-${Deno.pid}${suffix}.jsonl`;
}

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

/**
 * Opens a store that writes records to a new JSON Lines file in `dir`, one
 * file per run, named `run-<UTC time>-<pid>.jsonl` so that names sort by time.
 * Opening deletes the oldest runs beyond `maxRuns`, except runs whose store
 * is still open, in this process or another (each open run holds a lock on
 * its `<run>.lock` file).
 *
 * `write()` only encodes the record (as of dispatch time) and queues the
 * line; the lines are written in batches by one asynchronous write at a time,
 * so a dispatch never waits for the disk. The file holds whole lines only: a
 * write cut short (a full disk) is cut back to its last complete line.
 * Records taken before the process exits normally or through an uncaught
 * error reach the file: what is still queued then is written synchronously;
 * with `flushOnSignals`, also on those signals.
 *
 * @param options The directory and limits.
 * @returns The open store.
 * @throws {TypeError} When `options` is not an object, `dir` is not a
 * non-empty string, `redact` is not an array of strings or `flushOnSignals`
 * is not an array of signal names.
 * @throws {RangeError} When `maxRuns`, `maxQueue` or `closeTimeoutMs` is not
 * a positive integer, or `maxQueue` or `closeTimeoutMs` is too large.
 * @throws {Deno.errors.NotADirectory} When `dir` exists and is not a
 * directory (a FIFO, a device, a file).
 * @throws {Deno.errors.PermissionDenied} Without read and write permission
 * for `dir`.
 *
 * @example Recording a run to a file and reading it back
 * ```ts
 * import { createBus, defineCommand } from "@monolith/message-bus";
 * import {
 *   jsonlStore,
 *   readRecording,
 *   recorder,
 *   type DispatchRecord,
 * } from "@monolith/message-bus/observability";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const SignUp = defineCommand<{ email: string; password: string }>("SignUp");
 * const dir = await Deno.makeTempDir();
 * const store = jsonlStore({ dir, redact: ["password"] });
 * const bus = createBus({ middleware: [recorder(store)] });
 * bus.registerCommand(SignUp, () => {});
 * bus.execute(SignUp({ email: "a@b.c", password: "hunter2" }));
 * await store.close();
 *
 * const records: DispatchRecord[] = [];
 * for await (const record of readRecording(store.path)) records.push(record);
 * deepStrictEqual(records[0]?.payload, { email: "a@b.c", password: "***REDACTED***" });
 * deepStrictEqual(store.written, 1);
 * ```
 */
export function jsonlStore(options: JsonlStoreOptions): JsonlStore {
  if (
    typeof options !== "object" || options === null || Array.isArray(options)
  ) {
    throw new TypeError(
      `Cannot ${ACTION} as 'options' must be an object with a 'dir': current value is ${
        options === null
          ? "null"
          : Array.isArray(options)
          ? "an array"
          : String(options)
      }`,
    );
  }
  const { dir } = options;
  if (typeof dir !== "string" || dir === "") {
    throw new TypeError(
      `Cannot ${ACTION} as 'dir' must be a non-empty string: current value is ${
        JSON.stringify(dir)
      }`,
    );
  }
  const maxRuns = positiveInteger("maxRuns", options.maxRuns ?? 10, Infinity);
  const maxQueue = positiveInteger(
    "maxQueue",
    options.maxQueue ?? 10_000,
    MAX_QUEUE,
  );
  const closeTimeoutMs = positiveInteger(
    "closeTimeoutMs",
    options.closeTimeoutMs ?? 5_000,
    MAX_TIMER_MS,
  );
  const redactList = options.redact ?? [];
  if (
    !Array.isArray(redactList) ||
    !redactList.every((field) => typeof field === "string")
  ) {
    throw new TypeError(
      `Cannot ${ACTION} as 'redact' must be an array of field names: current value is ${
        JSON.stringify(redactList)
      }`,
    );
  }
  const flushOnSignals = signalsOption(ACTION, options.flushOnSignals);

  openDirectory(dir);
  const older = runNames(dir);
  for (
    const name of older.slice(0, Math.max(0, older.length - (maxRuns - 1)))
  ) {
    removeUnlessOpen(join(dir, name));
  }
  const { path, file, lock } = createRun(dir);
  let writer: Writer<DispatchRecord>;
  try {
    writer = fileWriter<DispatchRecord>(file, {
      encode: encodeRecord,
      maxQueue,
      closeTimeoutMs,
      redact: redactList.length > 0 ? new Set(redactList) : undefined,
      label: `jsonlStore(${path})`,
      flushOnSignals,
    });
  } catch (error) {
    file.close();
    lock.release();
    throw error;
  }
  // A process that ends without close() leaves no lock file behind either.
  globalThis.addEventListener("unload", lock.release);
  const writerClose = writer.close;
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= writerClose().finally(() => {
      globalThis.removeEventListener("unload", lock.release);
      lock.release();
    });

  return withCounts({
    path,
    write: writer.write,
    flush: writer.flush,
    close,
    [Symbol.asyncDispose]: close,
  }, writer);
}

// Makes sure `dir` is a directory before anything else touches it: a FIFO
// or a device there could block a synchronous call.
function openDirectory(dir: string): void {
  let info: Deno.FileInfo | undefined;
  try {
    info = Deno.statSync(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (info === undefined) {
    Deno.mkdirSync(dir, { recursive: true });
  } else if (!info.isDirectory) {
    throw new Deno.errors.NotADirectory(
      `Cannot ${ACTION} as 'dir' must be a directory: ${dir} is ${
        fileKind(info)
      }`,
    );
  }
}

interface RunLock {
  /** Unlocks and removes the lock file; idempotent. */
  release(): void;
}

// A new run: its lock file first, created and locked, then the run file, so
// that no run of an open store is ever without a held lock.
function createRun(
  dir: string,
): { path: string; file: Deno.FsFile; lock: RunLock } {
  for (let attempt = 0;; attempt++) {
    const path = join(dir, runFileName(attempt));
    let lock: RunLock;
    try {
      lock = createLock(`${path}${LOCK_SUFFIX}`);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists && attempt < 100) continue;
      throw error;
    }
    try {
      return {
        path,
        file: Deno.openSync(path, { write: true, createNew: true }),
        lock,
      };
    } catch (error) {
      lock.release();
      if (!(error instanceof Deno.errors.AlreadyExists) || attempt >= 100) {
        throw error;
      }
    }
  }
}

function createLock(path: string): RunLock {
  const file = Deno.openSync(path, { write: true, createNew: true });
  try {
    // Where the file system has no locks, the run is unprotected; rotation
    // then keeps any run whose lock file it cannot lock.
    file.tryLockSync(true);
    file.writeSync(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch {
    // Still a lock file: rotation reads it as "cannot tell".
  }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      try {
        Deno.removeSync(path);
      } catch {
        // Gone already; a stale lock file is harmless.
      }
      try {
        file.close();
      } catch {
        // Closed already.
      }
    },
  };
}

// Deletes a run unless its store is still open somewhere: its lock file is
// locked. A lock file nobody holds is stale (its process ended), and goes
// with its run.
function removeUnlessOpen(path: string): void {
  const lockPath = `${path}${LOCK_SUFFIX}`;
  let lock: Deno.FsFile | undefined;
  try {
    if (Deno.lstatSync(lockPath).isFile) {
      lock = Deno.openSync(lockPath, { read: true, write: true });
    } else {
      return;
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) return;
  }
  try {
    if (lock !== undefined && !lock.tryLockSync(true)) return;
    if (!Deno.lstatSync(path).isFile) return;
    Deno.removeSync(path);
    if (lock !== undefined) Deno.removeSync(lockPath);
  } catch {
    // Removed meanwhile, or the lock cannot be taken: keep it.
  } finally {
    lock?.close();
  }
}

function runNames(dir: string): string[] {
  const names: string[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (entry.isFile && RUN_FILE.test(entry.name)) names.push(entry.name);
  }
  return names.sort();
}

/**
 * A run file, as {@linkcode listRuns} describes it.
 */
export interface RunFile {
  /** The file name. */
  readonly name: string;
  /** The path: the directory joined with the name. */
  readonly path: string;
  /** The size in bytes. */
  readonly size: number;
}

/**
 * Lists the run files in `dir`, oldest first.
 *
 * @param dir A directory a {@linkcode jsonlStore} wrote to.
 * @returns The runs; none when the directory does not exist.
 *
 * @example Listing the runs of a directory
 * ```ts
 * import { jsonlStore, listRuns } from "@monolith/message-bus/observability";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const store = jsonlStore({ dir });
 * await store.close();
 * deepStrictEqual((await listRuns(dir)).map((run) => run.path), [store.path]);
 * ```
 */
export async function listRuns(dir: string): Promise<RunFile[]> {
  const runs: RunFile[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.isFile || !RUN_FILE.test(entry.name)) continue;
      const path = join(dir, entry.name);
      runs.push({ name: entry.name, path, size: (await Deno.stat(path)).size });
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  return runs.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/**
 * Options of {@linkcode readRecording}.
 */
export interface ReadRecordingOptions {
  /**
   * Told about each line that is not a JSON dispatch record, which is
   * skipped: a line torn by a crash or a full disk, or anything else.
   * `lineNumber` counts from 1. By default a warning is printed for each of
   * the first 10, and one for the rest.
   */
  readonly onBrokenLine?: (
    line: string,
    path: string,
    lineNumber: number,
  ) => void;
}

const WARNED_LINES = 10;
const NEWLINE = 0x0a;

/**
 * Reads a recording, one record at a time. A line that is not a JSON
 * dispatch record (the last one cut short by a crash, one torn by a full
 * disk) is skipped and reported through `onBrokenLine`; reading goes on
 * with the next line. Time and memory are linear in the file's size, however
 * long its lines.
 *
 * @param path A run file.
 * @param options What to do about broken lines.
 * @returns The records, in order.
 * @throws {Deno.errors.NotFound} When there is no file at `path`.
 *
 * @example Skipping a torn last line
 * ```ts
 * import { readRecording } from "@monolith/message-bus/observability";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const path = await Deno.makeTempFile({ suffix: ".jsonl" });
 * await Deno.writeTextFile(
 *   path,
 *   '{"ts":"2026-02-12T14:30:45.123456Z","type":"event","class":"Ticked","payload":1,"duration_ns":5,"result":null,"error":null}\n{"ts":"2026-02-12T14:3',
 * );
 * const broken: string[] = [];
 * const types: string[] = [];
 * for await (
 *   const record of readRecording(path, {
 *     onBrokenLine: (line, _path, lineNumber) => broken.push(`${lineNumber}: ${line}`),
 *   })
 * ) {
 *   types.push(`${record.kind} ${record.type}`);
 * }
 * deepStrictEqual(types, ["event Ticked"]);
 * deepStrictEqual(broken, ['2: {"ts":"2026-02-12T14:3']);
 * ```
 */
export async function* readRecording(
  path: string,
  options: ReadRecordingOptions = {},
): AsyncGenerator<DispatchRecord> {
  const onBrokenLine = options.onBrokenLine ??
    ((line: string, file: string, lineNumber: number) =>
      console.warn(
        `readRecording: skipped line ${lineNumber} of ${file} (${line.length} characters): it is not a JSON dispatch record; a crash or a full disk can leave such a line`,
      ));
  let broken = 0;
  let unwarned = 0;
  using file = await Deno.open(path, { read: true });
  const decoder = new TextDecoder();
  // The start of a line that goes on in the next chunk, in pieces: joined
  // once, when the line ends, so a long line costs its length, not more.
  let pieces: Uint8Array<ArrayBuffer>[] = [];
  let pieceBytes = 0;
  let lineNumber = 0;

  function* lines(text: string): Generator<DispatchRecord> {
    let start = 0;
    while (start <= text.length) {
      let end = text.indexOf("\n", start);
      if (end === -1) end = text.length;
      const line = text.slice(start, end);
      start = end + 1;
      lineNumber++;
      if (line.trim() === "") continue;
      const record = parseRecord(line);
      if (record !== undefined) {
        yield record;
        continue;
      }
      broken++;
      if (options.onBrokenLine === undefined && broken > WARNED_LINES) {
        unwarned++;
        continue;
      }
      try {
        onBrokenLine(line, path, lineNumber);
      } catch (error) {
        // The callback's failure is reported as its own; reading goes on.
        console.error(
          `readRecording: onBrokenLine threw for line ${lineNumber} of ${path}`,
          error,
        );
      }
    }
  }

  try {
    for await (const chunk of file.readable) {
      const last = chunk.lastIndexOf(NEWLINE);
      if (last === -1) {
        pieces.push(chunk);
        pieceBytes += chunk.length;
        continue;
      }
      let bytes = chunk.subarray(0, last);
      if (pieceBytes > 0) {
        pieces.push(bytes);
        bytes = concat(pieces, pieceBytes + bytes.length);
        pieces = [];
        pieceBytes = 0;
      }
      yield* lines(decoder.decode(bytes));
      if (last + 1 < chunk.length) {
        pieces.push(chunk.subarray(last + 1));
        pieceBytes += chunk.length - last - 1;
      }
    }
    if (pieceBytes > 0) {
      // The last line, without its newline.
      yield* lines(decoder.decode(concat(pieces, pieceBytes)));
    }
  } finally {
    if (unwarned > 0) {
      console.warn(
        `readRecording: skipped ${unwarned} more lines of ${path} that are not JSON dispatch records`,
      );
    }
  }
}

function concat(
  pieces: readonly Uint8Array<ArrayBuffer>[],
  length: number,
): Uint8Array<ArrayBuffer> {
  if (pieces.length === 1) return pieces[0]!;
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const piece of pieces) {
    bytes.set(piece, offset);
    offset += piece.length;
  }
  return bytes;
}

function parseRecord(line: string): DispatchRecord | undefined {
  try {
    return decodeRecord(JSON.parse(line));
  } catch {
    return undefined;
  }
}
