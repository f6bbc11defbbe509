// The batching writer behind the JSONL stores (recordings, dead letters): a
// bounded queue of encoded lines, drained by one asynchronous write at a
// time, off the dispatch path. Not loaded by the core entry point.
//
// What is on disk is always whole lines: a write cut short (a full disk)
// is cut back to the last complete line, or, when it cannot be, the next
// write starts on a new line. `written` counts the complete lines on disk.
import { performanceClock } from "./clock.ts";
import { rateLimitedLog } from "./_rate_limited_log.ts";

/** Where the bytes go: an open file, or a fake in tests. */
export interface Sink {
  write(bytes: Uint8Array): Promise<number>;
  writeSync(bytes: Uint8Array): number;
  close(): void;
  /**
   * Cuts what this writer put in the sink back to its first `length` bytes
   * (to take off a torn line). Without it, the writer starts its next write
   * on a new line instead, and the torn line stays, on a line of its own.
   */
  truncate?(length: number): Promise<void>;
  /** {@linkcode Sink.truncate}, synchronously: for writes at exit. */
  truncateSync?(length: number): void;
}

/**
 * The signals a store can flush on, with their numbers (the same on Linux,
 * macOS and the BSDs): a process they end exits with 128 + the number.
 */
export const FLUSH_SIGNALS = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGTERM: 15,
} as const;

/** A signal a store can flush on. */
export type FlushSignal = keyof typeof FLUSH_SIGNALS;

/** What the writer needs to know. */
export interface WriterOptions<T> {
  /** Turns an item into its line (without the newline). */
  readonly encode: (item: T, redact: ReadonlySet<string> | undefined) => string;
  readonly maxQueue: number;
  readonly closeTimeoutMs: number;
  readonly redact: ReadonlySet<string> | undefined;
  /** Names the store in warnings. */
  readonly label: string;
  /**
   * For {@linkcode fileWriter}: the signals on which what is queued is
   * written synchronously before the process ends, as the signal would have
   * ended it, with exit code 128 + the signal's number. Listening stops at
   * `close()`.
   *
   * @default {[]}
   */
  readonly flushOnSignals?: readonly FlushSignal[];
}

/** The writer's state and controls, as the store exposes them. */
export interface Writer<T> extends Counts {
  write(item: T): void;
  /** Resolves when every line taken so far is written, or `close()` gave up. */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Writes what is queued synchronously: for the process's `unload`. */
  drainSync(): void;
  /**
   * Stops asynchronous writes, waits (at most `closeTimeoutMs`) for the one
   * in flight, then writes what is queued synchronously: for a signal that
   * ends the process.
   */
  flushForExit(): Promise<void>;
}

const encoder = new TextEncoder();
const NEWLINE = 0x0a;
// One write takes at most this many lines, so that a huge backlog is written
// in pieces and memory for the joined text stays bounded.
const MAX_BATCH = 8192;
// The queue starts this small and doubles up to maxQueue, so a large bound
// costs memory only when the disk falls behind.
const INITIAL_CAPACITY = 1024;

/** Creates a writer over `sink`. */
export function createWriter<T>(
  sink: Sink,
  options: WriterOptions<T>,
): Writer<T> {
  const { maxQueue, closeTimeoutMs, redact, label, encode } = options;
  // A ring buffer of lines: dropping the oldest is O(1).
  let capacity = Math.min(maxQueue, INITIAL_CAPACITY);
  let ring: (string | undefined)[] = new Array(capacity);
  let head = 0;
  let size = 0;
  let written = 0;
  let dropped = 0;
  // Lines taken for the write in flight: neither written nor dropped yet.
  let inFlight = 0;
  // This writer's bytes in the sink: all of them, and up to the end of the
  // last complete line. They differ while a torn line could not be cut off.
  let bytesOut = 0;
  let bytesCommitted = 0;
  let inBurst = false;
  let warnedClosed = false;
  let writing = false;
  let scheduled = false;
  let closed = false;
  let gaveUp = false;
  let stopped = false;
  let closing: Promise<void> | undefined;
  let draining: Promise<void> = Promise.resolve();
  let idleWaiters: (() => void)[] = [];
  const drops = rateLimitedLog(
    (line) => console.warn(line),
    performanceClock,
    true,
  );
  const failures = rateLimitedLog(
    (line, error) => console.error(line, error),
    performanceClock,
    true,
  );

  function take(count: number): string {
    // A torn line left in the sink is ended first, so it stays one line.
    let text = bytesOut > bytesCommitted ? "\n" : "";
    for (let taken = 0; taken < count; taken++) {
      text += `${ring[head]}\n`;
      ring[head] = undefined;
      head = (head + 1) % capacity;
    }
    size -= count;
    return text;
  }

  // Counts what a write put in the sink: the first `offset` bytes of
  // `bytes`, which hold `count` lines (after a newline ending a torn line
  // when `prefixed`). Returns how many of the lines are whole in the sink.
  function settle(
    bytes: Uint8Array,
    offset: number,
    count: number,
    prefixed: boolean,
  ): number {
    let lines = 0;
    if (offset === bytes.length) {
      lines = count;
      bytesCommitted = bytesOut + offset;
    } else if (offset > 0) {
      const end = bytes.lastIndexOf(NEWLINE, offset - 1);
      if (end !== -1) {
        for (let index = 0; index <= end; index++) {
          if (bytes[index] === NEWLINE) lines++;
        }
        if (prefixed) lines--;
        bytesCommitted = bytesOut + end + 1;
      }
    }
    bytesOut += offset;
    written += lines;
    dropped += count - lines;
    return lines;
  }

  function reportFailure(
    count: number,
    lines: number,
    error: unknown,
    when: string,
  ): void {
    const torn = bytesOut > bytesCommitted
      ? "; a torn line is left in the file, on a line of its own"
      : "";
    failures.report(
      `${label}: writing records ${when}failed; ${
        count - lines
      } records are counted as dropped (${dropped} dropped so far)${torn}`,
      error,
    );
  }

  async function writeBatch(count: number): Promise<void> {
    const prefixed = bytesOut > bytesCommitted;
    const bytes = encoder.encode(take(count));
    inFlight = count;
    let offset = 0;
    let failure: unknown;
    let failed = false;
    try {
      while (offset < bytes.length) {
        const taken = await sink.write(bytes.subarray(offset));
        if (!(taken > 0)) {
          throw new Error(`the file took ${taken} bytes of a write`);
        }
        offset += taken;
      }
    } catch (error) {
      failure = error;
      failed = true;
    }
    inFlight = 0;
    const lines = settle(bytes, offset, count, prefixed);
    if (!failed) return;
    if (bytesOut > bytesCommitted && sink.truncate !== undefined) {
      try {
        await sink.truncate(bytesCommitted);
        bytesOut = bytesCommitted;
      } catch {
        // The next write starts on a new line instead.
      }
    }
    reportFailure(count, lines, failure, "");
  }

  function writeBatchSync(count: number): void {
    const prefixed = bytesOut > bytesCommitted;
    const bytes = encoder.encode(take(count));
    let offset = 0;
    try {
      while (offset < bytes.length) {
        const taken = sink.writeSync(bytes.subarray(offset));
        if (!(taken > 0)) {
          throw new Error(`the file took ${taken} bytes of a write`);
        }
        offset += taken;
      }
      settle(bytes, offset, count, prefixed);
    } catch (error) {
      const lines = settle(bytes, offset, count, prefixed);
      if (bytesOut > bytesCommitted && sink.truncateSync !== undefined) {
        try {
          sink.truncateSync(bytesCommitted);
          bytesOut = bytesCommitted;
        } catch {
          // The torn line stays.
        }
      }
      reportFailure(count, lines, error, "at exit ");
    }
  }

  function wakeIdle(): void {
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  async function drain(): Promise<void> {
    scheduled = false;
    if (writing || stopped) return;
    writing = true;
    try {
      while (size > 0 && !stopped) {
        await writeBatch(Math.min(size, MAX_BATCH));
      }
    } finally {
      writing = false;
    }
    if (size === 0) {
      inBurst = false;
      wakeIdle();
    }
  }

  function schedule(): void {
    if (scheduled || writing || stopped) return;
    scheduled = true;
    queueMicrotask(() => {
      draining = drain();
    });
  }

  function grow(): void {
    const next: (string | undefined)[] = new Array(
      Math.min(maxQueue, capacity * 2),
    );
    for (let index = 0; index < size; index++) {
      next[index] = ring[(head + index) % capacity];
    }
    ring = next;
    head = 0;
    capacity = next.length;
  }

  function flush(): Promise<void> {
    if ((size === 0 && !writing) || gaveUp) return Promise.resolve();
    return new Promise((resolve) => {
      idleWaiters.push(resolve);
      schedule();
    });
  }

  function drainSync(): void {
    if (closed) return;
    while (size > 0) writeBatchSync(Math.min(size, MAX_BATCH));
    drops.flush();
    failures.flush();
    if (!writing) wakeIdle();
  }

  function close(): Promise<void> {
    closing ??= (async () => {
      closed = true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        flush().then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), closeTimeoutMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        // What is queued is given up; the write in flight may still end, and
        // its lines are counted when it does, as written or dropped.
        gaveUp = true;
        const lost = size;
        ring = [];
        capacity = 1;
        head = 0;
        size = 0;
        dropped += lost;
        console.warn(
          `${label}: close() gave up after ${closeTimeoutMs} ms (closeTimeoutMs) with ${lost} queued records unwritten, counted as dropped; the ${inFlight} records of the write in flight are counted when it ends`,
        );
        wakeIdle();
      }
      drops.flush();
      failures.flush();
      try {
        sink.close();
      } catch (error) {
        console.error(`${label}: closing the file failed`, error);
      }
    })();
    return closing;
  }

  function flushForExit(): Promise<void> {
    if (closing !== undefined) return closing;
    stopped = true;
    if (!writing) {
      drainSync();
      return Promise.resolve();
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      draining.then(() => true),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), closeTimeoutMs);
      }),
    ]).then((ended) => {
      clearTimeout(timer);
      if (ended) {
        drainSync();
        return;
      }
      // A write that does not end means a stuck disk: a synchronous write
      // would hang the exit.
      console.warn(
        `${label}: a write did not end within ${closeTimeoutMs} ms (closeTimeoutMs); ${size} queued records are not written`,
      );
    });
  }

  return {
    flush,
    close,
    drainSync,
    flushForExit,
    get written() {
      return written;
    },
    get dropped() {
      return dropped;
    },
    get pending() {
      return size + inFlight;
    },
    write(item) {
      if (closed) {
        dropped++;
        if (!warnedClosed) {
          warnedClosed = true;
          console.warn(
            `${label}: the store is closed; dropping records (counted in 'dropped'). This warning is printed once.`,
          );
        }
        return;
      }
      let line: string;
      try {
        line = encode(item, redact);
      } catch (error) {
        dropped++;
        failures.report(
          `${label}: a record could not be encoded; it is counted as dropped (${dropped} dropped so far)`,
          error,
        );
        return;
      }
      if (size === capacity) {
        if (capacity < maxQueue) {
          grow();
        } else {
          ring[head] = undefined;
          head = (head + 1) % capacity;
          size--;
          dropped++;
          if (!inBurst) {
            inBurst = true;
            drops.report(
              `${label}: the queue is full (maxQueue ${maxQueue}): the disk is slower than the dispatches; dropping records (${dropped} dropped so far). This warning repeats once per burst.`,
            );
          }
        }
      }
      ring[(head + size) % capacity] = line;
      size++;
      schedule();
    },
  };
}

/** The counts every JSONL store exposes. */
export interface Counts {
  /** Lines written so far: the complete lines in the file. */
  readonly written: number;
  /** Lines dropped: full queue, failed write, close timeout, after close. */
  readonly dropped: number;
  /** Lines taken and neither written nor dropped yet. */
  readonly pending: number;
}

/** `store` with the writer's counts as live getters. */
export function withCounts<T extends object>(
  store: T,
  writer: Counts,
): T & Counts {
  return Object.defineProperties(store, {
    written: { get: () => writer.written, enumerable: true },
    dropped: { get: () => writer.dropped, enumerable: true },
    pending: { get: () => writer.pending, enumerable: true },
  }) as T & Counts;
}

function shown(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return typeof value;
  }
}

/**
 * Returns the `flushOnSignals` option of a store, checked: an array of
 * {@linkcode FlushSignal} names, without repeats.
 *
 * @throws {TypeError} When it is anything else.
 */
export function signalsOption(
  action: string,
  value: unknown,
): readonly FlushSignal[] {
  if (value === undefined) return [];
  if (
    !Array.isArray(value) ||
    !value.every((signal) => Object.hasOwn(FLUSH_SIGNALS, signal))
  ) {
    throw new TypeError(
      `Cannot ${action} as 'flushOnSignals' must be an array of ${
        Object.keys(FLUSH_SIGNALS).map((name) => `"${name}"`).join(", ")
      }: current value is ${shown(value)}`,
    );
  }
  return [...new Set(value as FlushSignal[])];
}

// One listener per signal flushes every writer that asked for it, and then
// ends the process once, after the last of them is done: a writer that
// ended the process on its own would cut the others' flushes short.
const signalFlushes = new Map<
  FlushSignal,
  { readonly listener: () => void; readonly flushes: Set<() => Promise<void>> }
>();
let exiting = false;

function listenForSignal(
  signal: FlushSignal,
  flush: () => Promise<void>,
): () => void {
  let entry = signalFlushes.get(signal);
  if (entry === undefined) {
    const flushes = new Set<() => Promise<void>>();
    const listener = () => {
      const done = Array.from(flushes, (flushOne) => flushOne());
      if (exiting) return;
      exiting = true;
      // A macrotask later, so that the signal's other listeners have run.
      Promise.allSettled(done).then(() =>
        setTimeout(() => Deno.exit(128 + FLUSH_SIGNALS[signal]), 0)
      );
    };
    Deno.addSignalListener(signal, listener);
    entry = { listener, flushes };
    signalFlushes.set(signal, entry);
  }
  const { flushes, listener } = entry;
  flushes.add(flush);
  return () => {
    flushes.delete(flush);
    if (flushes.size > 0 || signalFlushes.get(signal)?.listener !== listener) {
      return;
    }
    signalFlushes.delete(signal);
    Deno.removeSignalListener(signal, listener);
  };
}

/** What kind of file `info` describes, for error messages: "a FIFO", ... */
export function fileKind(info: Deno.FileInfo): string {
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a FIFO";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  if (info.isFile) return "a regular file";
  return "not a regular file";
}

/**
 * A writer over an open regular file, appending after what it holds. What is
 * queued is written out synchronously when the process ends normally
 * (`unload`, `Deno.exit()` included) or through an uncaught error, and on
 * the `flushOnSignals` signals; `close()` stops listening for them.
 *
 * @throws {TypeError} When `file` is not a regular file (a FIFO or a device
 * could block a synchronous write at exit forever), or `flushOnSignals` is
 * not an array of {@linkcode FlushSignal} names.
 */
export function fileWriter<T>(
  file: Deno.FsFile,
  options: WriterOptions<T>,
): Writer<T> {
  const signals = signalsOption(
    `write ${options.label}`,
    options.flushOnSignals,
  );
  const info = file.statSync();
  if (!info.isFile) {
    throw new TypeError(
      `Cannot write ${options.label} as its file must be a regular file: it is ${
        fileKind(info)
      }`,
    );
  }
  const base = file.seekSync(0, Deno.SeekMode.End);
  const writer = createWriter<T>({
    write: (bytes) => file.write(bytes),
    writeSync: (bytes) => file.writeSync(bytes),
    close: () => file.close(),
    async truncate(length) {
      await file.truncate(base + length);
      await file.seek(base + length, Deno.SeekMode.Start);
    },
    truncateSync(length) {
      file.truncateSync(base + length);
      file.seekSync(base + length, Deno.SeekMode.Start);
    },
  }, options);
  const onUnload = () => writer.drainSync();
  // An uncaught error ends the process without `unload`, unless a listener
  // prevents it.
  const onError = (event: Event) => {
    if (!event.defaultPrevented) writer.drainSync();
  };
  globalThis.addEventListener("unload", onUnload);
  globalThis.addEventListener("error", onError);
  globalThis.addEventListener("unhandledrejection", onError);
  const stopListening = signals.map((signal) =>
    listenForSignal(signal, writer.flushForExit)
  );
  const close = writer.close;
  writer.close = () => {
    globalThis.removeEventListener("unload", onUnload);
    globalThis.removeEventListener("error", onError);
    globalThis.removeEventListener("unhandledrejection", onError);
    for (const stop of stopListening) stop();
    return close();
  };
  return writer;
}
