// The batching writer behind the JSONL stores (recordings, dead letters): a
// bounded queue of encoded lines, drained by one asynchronous write at a
// time, off the dispatch path. Not loaded by the core entry point.

/** Where the bytes go: an open file, or a fake in tests. */
export interface Sink {
  write(bytes: Uint8Array): Promise<number>;
  writeSync(bytes: Uint8Array): number;
  close(): void;
}

/** What the writer needs to know. */
export interface WriterOptions<T> {
  /** Turns an item into its line (without the newline). */
  readonly encode: (item: T, redact: ReadonlySet<string> | undefined) => string;
  readonly maxQueue: number;
  readonly closeTimeoutMs: number;
  readonly redact: ReadonlySet<string> | undefined;
  /** Names the store in warnings. */
  readonly label: string;
}

/** The writer's state and controls, as the store exposes them. */
export interface Writer<T> extends Counts {
  write(item: T): void;
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Writes what is queued synchronously: for the process's `unload`. */
  drainSync(): void;
}

const encoder = new TextEncoder();
// One write takes at most this many lines, so that a huge backlog is written
// in pieces and memory for the joined text stays bounded.
const MAX_BATCH = 8192;

/** Creates a writer over `sink`. */
export function createWriter<T>(
  sink: Sink,
  options: WriterOptions<T>,
): Writer<T> {
  const { maxQueue, closeTimeoutMs, redact, label, encode } = options;
  // A ring buffer of lines: dropping the oldest is O(1).
  const ring: (string | undefined)[] = new Array(maxQueue);
  let head = 0;
  let size = 0;
  let written = 0;
  let dropped = 0;
  let inBurst = false;
  let writing = false;
  let inFlight = 0;
  let scheduled = false;
  let closed = false;
  let closing: Promise<void> | undefined;
  let idleWaiters: (() => void)[] = [];

  function take(count: number): string {
    let text = "";
    for (let taken = 0; taken < count; taken++) {
      text += `${ring[head]}\n`;
      ring[head] = undefined;
      head = (head + 1) % maxQueue;
    }
    size -= count;
    return text;
  }

  async function writeAll(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.length) {
      offset += await sink.write(bytes.subarray(offset));
    }
  }

  async function drain(): Promise<void> {
    scheduled = false;
    if (writing) return;
    writing = true;
    try {
      while (size > 0) {
        inFlight = Math.min(size, MAX_BATCH);
        await writeAll(encoder.encode(take(inFlight)));
        written += inFlight;
        inFlight = 0;
      }
      inBurst = false;
    } catch (error) {
      dropped += inFlight;
      console.error(
        `${label}: writing records failed; ${inFlight} records are counted as dropped`,
        error,
      );
      inFlight = 0;
    } finally {
      writing = false;
    }
    if (size > 0) {
      schedule();
      return;
    }
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  function schedule(): void {
    if (scheduled || writing) return;
    scheduled = true;
    queueMicrotask(drain);
  }

  function drop(count: number, why: string): void {
    dropped += count;
    if (inBurst) return;
    inBurst = true;
    console.warn(
      `${label}: ${why}; dropping records (${dropped} dropped so far). This warning repeats once per burst.`,
    );
  }

  function flush(): Promise<void> {
    if (size === 0 && !writing) return Promise.resolve();
    return new Promise((resolve) => {
      idleWaiters.push(resolve);
      schedule();
    });
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
        // The batch a hung write holds is lost too.
        const lost = size + inFlight;
        inFlight = 0;
        ring.fill(undefined);
        size = 0;
        dropped += lost;
        console.warn(
          `${label}: close() gave up after ${closeTimeoutMs} ms (closeTimeoutMs) with ${lost} records unwritten; they are counted as dropped`,
        );
      }
      try {
        sink.close();
      } catch (error) {
        console.error(`${label}: closing the file failed`, error);
      }
    })();
    return closing;
  }

  return {
    flush,
    close,
    get written() {
      return written;
    },
    get dropped() {
      return dropped;
    },
    get pending() {
      return size;
    },
    write(item) {
      if (closed) {
        drop(1, "the store is closed");
        return;
      }
      if (size === maxQueue) {
        ring[head] = undefined;
        head = (head + 1) % maxQueue;
        size--;
        drop(
          1,
          `the queue is full (maxQueue ${maxQueue}): the disk is slower than the dispatches`,
        );
      }
      ring[(head + size) % maxQueue] = encode(item, redact);
      size++;
      schedule();
    },
    drainSync() {
      if (size === 0 || closed) return;
      try {
        const count = size;
        const bytes = encoder.encode(take(count));
        let offset = 0;
        while (offset < bytes.length) {
          offset += sink.writeSync(bytes.subarray(offset));
        }
        written += count;
      } catch (error) {
        console.error(`${label}: writing records at exit failed`, error);
      }
    },
  };
}

/** The counts every JSONL store exposes. */
export interface Counts {
  /** Lines written so far. */
  readonly written: number;
  /** Lines dropped: full queue, failed write, close timeout, after close. */
  readonly dropped: number;
  /** Lines waiting to be written. */
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

/**
 * A writer over an open file, written out synchronously at `unload`; its
 * `close()` also stops listening for `unload`.
 */
export function fileWriter<T>(
  file: Deno.FsFile,
  options: WriterOptions<T>,
): Writer<T> {
  const writer = createWriter<T>({
    write: (bytes) => file.write(bytes),
    writeSync: (bytes) => file.writeSync(bytes),
    close: () => file.close(),
  }, options);
  const onUnload = () => writer.drainSync();
  globalThis.addEventListener("unload", onUnload);
  const close = writer.close;
  writer.close = () => {
    globalThis.removeEventListener("unload", onUnload);
    return close();
  };
  return writer;
}
