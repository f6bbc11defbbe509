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

import { fileWriter, withCounts } from "../core/_jsonl_writer.ts";
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
   * when the store opens.
   *
   * @default {10}
   */
  readonly maxRuns?: number;
  /**
   * Field names whose values are written as `"***REDACTED***"`, at any depth
   * of payloads and results, through objects and arrays.
   *
   * @default {[]}
   */
  readonly redact?: readonly string[];
  /**
   * How many records may wait for the disk. When full, the oldest waiting
   * record is dropped, counted in `dropped`, and a warning is printed once per
   * burst of drops.
   *
   * @default {10000}
   */
  readonly maxQueue?: number;
  /**
   * How long `close()` waits for waiting records to be written before it
   * gives up (and counts them as dropped).
   *
   * @default {5000}
   */
  readonly closeTimeoutMs?: number;
}

/**
 * A JSONL record store; see {@linkcode jsonlStore}.
 */
export interface JsonlStore extends RecordStore, AsyncDisposable {
  /** The path of this run's file. */
  readonly path: string;
  /** Records written to the file so far. */
  readonly written: number;
  /**
   * Records dropped: the queue was full, a write failed, `close()` timed out,
   * or a record came after `close()`.
   */
  readonly dropped: number;
  /** Records waiting to be written. */
  readonly pending: number;
  /** Resolves when every record taken so far is written. */
  flush(): Promise<void>;
  /**
   * Writes what is waiting (for at most `closeTimeoutMs`) and closes the
   * file. Calling it again returns the same promise.
   */
  close(): Promise<void>;
}

const RUN_FILE = /^run-.*\.jsonl$/;

function positiveInteger(name: string, value: number): number {
  return numberOption(
    "open jsonlStore",
    name,
    value,
    (number) => Number.isInteger(number) && number >= 1,
    "a positive integer",
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
 * Opening deletes the oldest runs beyond `maxRuns`.
 *
 * `write()` only encodes the record (as of dispatch time) and queues the
 * line; the lines are written in batches by one asynchronous write at a time,
 * so a dispatch never waits for the disk. Records taken before the process
 * exits normally reach the file: what is still queued at `unload` is written
 * synchronously.
 *
 * @param options The directory and limits.
 * @returns The open store.
 * @throws {RangeError} When `maxRuns`, `maxQueue` or `closeTimeoutMs` is not
 * a positive integer.
 * @throws {TypeError} When `dir` is not a non-empty string or `redact` is not
 * an array of strings.
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
  const { dir } = options;
  if (typeof dir !== "string" || dir === "") {
    throw new TypeError(
      `Cannot open jsonlStore as 'dir' must be a non-empty string: current value is ${
        JSON.stringify(dir)
      }`,
    );
  }
  const maxRuns = positiveInteger("maxRuns", options.maxRuns ?? 10);
  const maxQueue = positiveInteger("maxQueue", options.maxQueue ?? 10_000);
  const closeTimeoutMs = positiveInteger(
    "closeTimeoutMs",
    options.closeTimeoutMs ?? 5_000,
  );
  const redactList = options.redact ?? [];
  if (
    !Array.isArray(redactList) ||
    !redactList.every((field) => typeof field === "string")
  ) {
    throw new TypeError(
      `Cannot open jsonlStore as 'redact' must be an array of field names: current value is ${
        JSON.stringify(redactList)
      }`,
    );
  }

  Deno.mkdirSync(dir, { recursive: true });
  const older = runNames(dir);
  for (
    const name of older.slice(0, Math.max(0, older.length - (maxRuns - 1)))
  ) {
    Deno.removeSync(join(dir, name));
  }
  let path = "";
  let file: Deno.FsFile | undefined;
  for (let attempt = 0; file === undefined; attempt++) {
    path = join(dir, runFileName(attempt));
    try {
      file = Deno.openSync(path, { write: true, createNew: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists) || attempt > 100) {
        throw error;
      }
    }
  }
  const writer = fileWriter<DispatchRecord>(file, {
    encode: encodeRecord,
    maxQueue,
    closeTimeoutMs,
    redact: redactList.length > 0 ? new Set(redactList) : undefined,
    label: `jsonlStore(${path})`,
  });

  return withCounts({
    path,
    write: writer.write,
    flush: writer.flush,
    close: writer.close,
    [Symbol.asyncDispose]: writer.close,
  }, writer);
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
   * Told about a torn last line (the process stopped mid-write), which is
   * skipped. By default a warning is printed.
   */
  readonly onTornLine?: (line: string, path: string) => void;
}

/**
 * Reads a recording, one record at a time. A last line cut short (a crash
 * mid-write) is skipped and reported through `onTornLine`; a broken line
 * anywhere else is an error.
 *
 * @param path A run file.
 * @param options What to do about a torn last line.
 * @returns The records, in order.
 * @throws {SyntaxError} When a line other than the last is not a JSON
 * dispatch record.
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
 * const torn: string[] = [];
 * const types: string[] = [];
 * for await (const record of readRecording(path, { onTornLine: (line) => torn.push(line) })) {
 *   types.push(`${record.kind} ${record.type}`);
 * }
 * deepStrictEqual(types, ["event Ticked"]);
 * deepStrictEqual(torn, ['{"ts":"2026-02-12T14:3']);
 * ```
 */
export async function* readRecording(
  path: string,
  options: ReadRecordingOptions = {},
): AsyncGenerator<DispatchRecord> {
  const onTornLine = options.onTornLine ??
    ((line: string, file: string) =>
      console.warn(
        `readRecording: skipped a torn last line in ${file} (${line.length} characters): the process likely stopped while writing it`,
      ));
  using file = await Deno.open(path, { read: true });
  const decoder = new TextDecoder();
  let buffered = "";
  let lineNumber = 0;
  for await (const chunk of file.readable) {
    buffered += decoder.decode(chunk, { stream: true });
    let start = 0;
    let newline: number;
    while ((newline = buffered.indexOf("\n", start)) !== -1) {
      const line = buffered.slice(start, newline);
      start = newline + 1;
      lineNumber++;
      if (line.trim() === "") continue;
      yield parseLine(line, path, lineNumber);
    }
    buffered = buffered.slice(start);
  }
  buffered += decoder.decode();
  if (buffered.trim() === "") return;
  let last: DispatchRecord | undefined;
  try {
    last = decodeRecord(JSON.parse(buffered));
  } catch {
    // A torn last line.
  }
  if (last === undefined) {
    onTornLine(buffered, path);
    return;
  }
  yield last;
}

function parseLine(
  line: string,
  path: string,
  lineNumber: number,
): DispatchRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new SyntaxError(
      `Cannot read ${path}: line ${lineNumber} is not JSON (${
        (error as Error).message
      }); only a torn last line is skipped`,
    );
  }
  const record = decodeRecord(value);
  if (record === undefined) {
    throw new SyntaxError(
      `Cannot read ${path}: line ${lineNumber} is not a dispatch record (it has no "type" and "class" strings)`,
    );
  }
  return record;
}
