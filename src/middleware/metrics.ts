/**
 * Dispatch metrics in the format monitoring systems read: counters of
 * dispatched, succeeded and failed messages per kind and type, and duration
 * histograms, exposed as Prometheus text.
 *
 * @module
 */

import { observing } from "../_observe.ts";
import type { Middleware } from "../compose.ts";
import type { AnyMessage, MessageKind } from "../messages.ts";

/** The default histogram buckets, in seconds: 10 µs to 10 s. */
const DEFAULT_BUCKETS: readonly number[] = [
  0.00001,
  0.00005,
  0.0001,
  0.0005,
  0.001,
  0.005,
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
  10,
];

/**
 * Options of {@linkcode createMetrics}.
 *
 * @example
 * ```ts
 * import type { MetricsOptions } from "@monolith/message-bus";
 *
 * const options: MetricsOptions = { prefix: "shop_bus", buckets: [0.001, 0.01, 0.1, 1] };
 * ```
 */
export interface MetricsOptions {
  /**
   * The start of every metric name.
   *
   * @default {"message_bus"}
   */
  readonly prefix?: string;
  /**
   * Histogram bucket upper bounds, in seconds, ascending.
   *
   * @default {[0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10]}
   */
  readonly buckets?: readonly number[];
}

/**
 * The counts of one message type, as {@linkcode Metrics.snapshot} gives them.
 *
 * @example
 * ```ts
 * import type { MetricsEntry } from "@monolith/message-bus";
 *
 * const failureRate = (e: MetricsEntry) => e.failed / Math.max(1, e.dispatched);
 * ```
 */
export interface MetricsEntry {
  /** The message kind. */
  readonly kind: MessageKind;
  /** The message name. */
  readonly type: string;
  /** Dispatches started. */
  readonly dispatched: number;
  /** Dispatches that returned or resolved. */
  readonly succeeded: number;
  /** Dispatches that threw or rejected. */
  readonly failed: number;
  /** Finished dispatches per bucket, cumulative, in bucket order. */
  readonly buckets: readonly number[];
  /** Total duration of finished dispatches, in seconds. */
  readonly sumSeconds: number;
}

/**
 * Counters and histograms; see {@linkcode createMetrics}.
 *
 * @example
 * ```ts
 * import { createMetrics, type Metrics } from "@monolith/message-bus";
 *
 * const m: Metrics = createMetrics();
 * ```
 */
export interface Metrics {
  /** The histogram's bucket upper bounds, in seconds. */
  readonly buckets: readonly number[];
  /** Counts a dispatch as started. */
  started(message: Pick<AnyMessage, "kind" | "type">): void;
  /** Counts a dispatch as finished, with its duration in seconds. */
  finished(
    message: Pick<AnyMessage, "kind" | "type">,
    seconds: number,
    failed: boolean,
  ): void;
  /** Every type's counts, sorted by kind and name. */
  snapshot(): MetricsEntry[];
  /** The Prometheus text exposition format (version 0.0.4). */
  toPrometheus(): string;
  /** Forgets every count. */
  reset(): void;
}

interface Entry {
  readonly kind: MessageKind;
  readonly type: string;
  dispatched: number;
  succeeded: number;
  failed: number;
  readonly counts: number[];
  sumSeconds: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Escapes a label value: backslash, double quote and line feed. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(
    /\n/g,
    "\\n",
  );
}

function number(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return Number.isNaN(value) ? "NaN" : String(value);
}

/**
 * Creates empty dispatch metrics.
 *
 * @param options The metric name prefix and histogram buckets.
 * @returns The metrics.
 * @throws {TypeError} When `prefix` is not a valid Prometheus metric name.
 * @throws {RangeError} When `buckets` is empty, not ascending or not finite
 * positive numbers.
 *
 * @example Counting and exposing
 * ```ts
 * import { createBus, createMetrics, defineQuery, metrics } from "@monolith/message-bus";
 * import { match } from "node:assert/strict";
 *
 * const GetUser = defineQuery<{ id: string }, string>("GetUser");
 * const m = createMetrics();
 * const bus = createBus({ middleware: [metrics(m)] });
 * bus.registerQuery(GetUser, (q) => q.payload.id);
 * bus.send(GetUser({ id: "1" }));
 * match(m.toPrometheus(), /^message_bus_succeeded_total\{kind="query",type="GetUser"\} 1$/m);
 * ```
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const prefix = options.prefix ?? "message_bus";
  if (typeof prefix !== "string" || !METRIC_NAME.test(prefix)) {
    throw new TypeError(
      `Cannot create metrics as 'prefix' must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*): current value is ${
        JSON.stringify(prefix)
      }`,
    );
  }
  const buckets = [...(options.buckets ?? DEFAULT_BUCKETS)];
  const ascending = buckets.every((bound, index) =>
    Number.isFinite(bound) && bound > 0 &&
    (index === 0 || bound > buckets[index - 1]!)
  );
  if (buckets.length === 0 || !ascending) {
    throw new RangeError(
      `Cannot create metrics as 'buckets' must be ascending positive numbers of seconds: current value is [${
        buckets.join(", ")
      }]`,
    );
  }
  const entries = new Map<string, Entry>();

  function entry(message: Pick<AnyMessage, "kind" | "type">): Entry {
    const key = `${message.kind}\u0000${message.type}`;
    let found = entries.get(key);
    if (found === undefined) {
      found = {
        kind: message.kind,
        type: message.type,
        dispatched: 0,
        succeeded: 0,
        failed: 0,
        counts: new Array(buckets.length).fill(0),
        sumSeconds: 0,
      };
      entries.set(key, found);
    }
    return found;
  }

  function sorted(): Entry[] {
    return [...entries.values()].sort((a, b) =>
      a.kind === b.kind
        ? (a.type < b.type ? -1 : a.type > b.type ? 1 : 0)
        : (a.kind < b.kind ? -1 : 1)
    );
  }

  return {
    buckets,
    started(message) {
      entry(message).dispatched++;
    },
    finished(message, seconds, failed) {
      const found = entry(message);
      if (failed) found.failed++;
      else found.succeeded++;
      found.sumSeconds += seconds;
      // Counts are kept per bucket and made cumulative when read.
      let index = 0;
      while (index < buckets.length && seconds > buckets[index]!) index++;
      if (index < buckets.length) found.counts[index]!++;
    },
    snapshot() {
      return sorted().map((e) => {
        let running = 0;
        return {
          kind: e.kind,
          type: e.type,
          dispatched: e.dispatched,
          succeeded: e.succeeded,
          failed: e.failed,
          buckets: e.counts.map((count) => (running += count)),
          sumSeconds: e.sumSeconds,
        };
      });
    },
    toPrometheus() {
      const lines: string[] = [];
      const counter = (
        name: string,
        help: string,
        pick: (e: Entry) => number,
      ) => {
        lines.push(`# HELP ${prefix}_${name} ${help}`);
        lines.push(`# TYPE ${prefix}_${name} counter`);
        for (const e of sorted()) {
          lines.push(
            `${prefix}_${name}{kind="${e.kind}",type="${label(e.type)}"} ${
              pick(e)
            }`,
          );
        }
      };
      counter(
        "dispatched_total",
        "Dispatches started, by message kind and type.",
        (e) => e.dispatched,
      );
      counter(
        "succeeded_total",
        "Dispatches that returned or resolved, by message kind and type.",
        (e) => e.succeeded,
      );
      counter(
        "failed_total",
        "Dispatches that threw or rejected, by message kind and type.",
        (e) => e.failed,
      );
      const histogram = `${prefix}_dispatch_duration_seconds`;
      lines.push(
        `# HELP ${histogram} Duration of finished dispatches in seconds, by message kind and type.`,
      );
      lines.push(`# TYPE ${histogram} histogram`);
      for (const e of sorted()) {
        const labels = `kind="${e.kind}",type="${label(e.type)}"`;
        let running = 0;
        buckets.forEach((bound, index) => {
          running += e.counts[index]!;
          lines.push(
            `${histogram}_bucket{${labels},le="${number(bound)}"} ${running}`,
          );
        });
        const count = e.succeeded + e.failed;
        lines.push(`${histogram}_bucket{${labels},le="+Inf"} ${count}`);
        lines.push(`${histogram}_sum{${labels}} ${number(e.sumSeconds)}`);
        lines.push(`${histogram}_count{${labels}} ${count}`);
      }
      return `${lines.join("\n")}\n`;
    },
    reset() {
      entries.clear();
    },
  };
}

/**
 * Options of {@linkcode metrics}.
 *
 * @example
 * ```ts
 * import type { MetricsMiddlewareOptions } from "@monolith/message-bus";
 *
 * let fakeNow = 0;
 * const options: MetricsMiddlewareOptions = { now: () => fakeNow };
 * ```
 */
export interface MetricsMiddlewareOptions {
  /**
   * The clock, in milliseconds.
   *
   * @default {() => performance.now()}
   */
  readonly now?: () => number;
}

/**
 * A middleware that counts every dispatch in `m` and times it into its
 * histogram. Works on the synchronous and the asynchronous bus.
 *
 * @param m Where the counts go.
 * @param options The clock, for tests.
 * @returns The middleware.
 *
 * @example
 * ```ts
 * import { createAsyncBus, createMetrics, defineCommand, metrics } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const Save = defineCommand<number>("Save");
 * const m = createMetrics();
 * const bus = createAsyncBus({ middleware: [metrics(m)] });
 * bus.registerCommand(Save, async (c) => {
 *   if (c.payload < 0) throw new RangeError("negative");
 * });
 * await bus.execute(Save(1));
 * await bus.execute(Save(-1)).catch(() => {});
 * const [save] = m.snapshot();
 * deepStrictEqual([save?.dispatched, save?.succeeded, save?.failed], [2, 1, 1]);
 * ```
 */
export function metrics(
  m: Metrics,
  options: MetricsMiddlewareOptions = {},
): Middleware {
  const now = options.now ?? (() => performance.now());
  const timed = observing((message, start, _outcome, failed) => {
    m.finished(message, (now() - start) / 1000, failed);
  }, now);
  return (message, next, context) => {
    m.started(message);
    return timed(message, next, context);
  };
}

/**
 * A request handler that answers with `m` in the Prometheus text format, to
 * mount at `/metrics` under `Deno.serve`.
 *
 * @param m The metrics to expose.
 * @returns A `(request) => Response` function.
 *
 * @example Serving /metrics
 * ```ts
 * import { createMetrics, metricsHandler } from "@monolith/message-bus";
 * import { deepStrictEqual } from "node:assert/strict";
 *
 * const handler = metricsHandler(createMetrics());
 * const response = handler(new Request("http://localhost/metrics"));
 * deepStrictEqual(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
 * // Deno.serve({ hostname: "127.0.0.1", port: 9464 }, (request) =>
 * //   new URL(request.url).pathname === "/metrics" ? handler(request) : new Response(null, { status: 404 }));
 * ```
 */
export function metricsHandler(m: Metrics): (request: Request) => Response {
  return (request) => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response(
        "Only GET and HEAD are allowed on the metrics endpoint\n",
        {
          status: 405,
          headers: { allow: "GET, HEAD" },
        },
      );
    }
    return new Response(request.method === "HEAD" ? null : m.toPrometheus(), {
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
    });
  };
}
