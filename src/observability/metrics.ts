/**
 * Dispatch metrics in the format monitoring systems read: counters of
 * dispatched, succeeded and failed messages per kind and type, and duration
 * histograms, exposed as Prometheus text.
 *
 * @module
 */

import { type Clock, performanceClock } from "../core/clock.ts";
import { NoHandlerError } from "../core/errors.ts";
import type { AnyMessage, MessageKind } from "../core/messages.ts";
import type {
  GaugeLabels,
  GaugeSink,
  Middleware,
  ObserveGaugeOptions,
  Unregister,
} from "../core/types.ts";
import {
  clockOption,
  integerOption,
  optionsObject,
  shown,
} from "../core/_options.ts";
import { observing } from "./_observe.ts";

/** The default histogram buckets, in milliseconds: 10 µs to 10 s. */
const DEFAULT_BUCKETS_MS: readonly number[] = [
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
  10,
  50,
  100,
  500,
  1_000,
  5_000,
  10_000,
];

/**
 * Options of {@linkcode createMetrics}.
 */
export interface MetricsOptions {
  /**
   * The start of every metric name.
   *
   * @default {"message_bus"}
   */
  readonly prefix?: string;
  /**
   * Histogram bucket upper bounds, in milliseconds, ascending. The
   * Prometheus text gives them in seconds, as its convention is.
   *
   * @default {[0.01, 0.05, 0.1, 0.5, 1, 5, 10, 50, 100, 500, 1000, 5000, 10000]}
   */
  readonly bucketsMs?: readonly number[];
  /**
   * How many message types are counted apart. Past it, further types are
   * counted together under the label `type="_other"`, and a warning is
   * printed once, so that memory and the exposition stay bounded whatever
   * names are dispatched.
   *
   * @default {1000}
   */
  readonly maxTypes?: number;
}

/**
 * The counts of one message type, as {@linkcode Metrics.snapshot} gives them.
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
  /** Total duration of finished dispatches, in milliseconds. */
  readonly sumMs: number;
}

/**
 * Counters and histograms; see {@linkcode createMetrics}.
 */
export interface Metrics extends GaugeSink {
  /** The histogram's bucket upper bounds, in milliseconds. */
  readonly bucketsMs: readonly number[];
  /**
   * Counts a dispatch of `message`'s type as started; the `metrics`
   * middleware calls it.
   */
  countStarted(message: Pick<AnyMessage, "kind" | "type">): void;
  /**
   * Counts a dispatch of `message`'s type as finished, succeeded or failed,
   * and puts its duration in the histogram; the `metrics` middleware calls
   * it.
   */
  countFinished(
    message: Pick<AnyMessage, "kind" | "type">,
    durationMs: number,
    failed: boolean,
  ): void;
  /**
   * Takes back a start counted by `countStarted`, for a dispatch that found
   * no handler, and forgets the type when nothing else is counted for it;
   * the `metrics` middleware calls it, so that names without handlers leave
   * nothing behind.
   */
  discardStarted(message: Pick<AnyMessage, "kind" | "type">): void;
  /** Every type's counts, sorted by kind and name. */
  snapshot(): MetricsEntry[];
  /** The Prometheus text exposition format (version 0.0.4). */
  toPrometheus(): string;
  /**
   * Every gauge series observed (see {@linkcode GaugeSink.observeGauge}),
   * read now, sorted by name and labels; a series whose `read` throws or
   * returns no number is left out, and reported on the console.
   */
  gauges(): GaugeEntry[];
  /** Forgets every count; gauges stay, as they are read from their sources. */
  reset(): void;
}

/** One gauge series, as {@linkcode Metrics.gauges} gives it. */
export interface GaugeEntry {
  /** The gauge's name, without the prefix. */
  readonly name: string;
  /** The series' labels. */
  readonly labels: GaugeLabels;
  /** Its value when read. */
  readonly value: number;
}

interface GaugeSeries {
  readonly labels: GaugeLabels;
  /** Its labels as the exposition writes them, `a="x",b="y"`, sorted. */
  readonly text: string;
  readonly read: () => number;
}

interface GaugeFamily {
  help: string | undefined;
  /** By label text. */
  readonly series: Map<string, GaugeSeries>;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Entry {
  readonly kind: MessageKind;
  readonly type: string;
  dispatched: number;
  succeeded: number;
  failed: number;
  readonly counts: number[];
  sumMs: number;
  /** Its labels, `kind="…",type="…"`, made when first exposed. */
  labels: string | undefined;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** The label types past `maxTypes` are counted under. */
const OTHER = "_other";

const LABEL_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  '"': '\\"',
  "\n": "\\n",
  "\r": "",
  "\0": "",
};

/**
 * A label value: backslash, double quote and line feed escaped as the text
 * format says; carriage return and NUL, which it has no escape for and which
 * would break the line for some readers, removed.
 */
function label(value: string): string {
  return value.replace(
    /[\\"\n\r\0]/g,
    (character) => LABEL_ESCAPES[character]!,
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
 * At most `maxTypes` message types are counted apart; further types are
 * counted together under `type="_other"`. A dispatch that found no handler
 * leaves nothing (see {@linkcode Metrics.discardStarted}).
 *
 * The metrics are also a `GaugeSink`: pass them as the `metrics` option of a
 * bus, a `circuitBreaker` or a dead letter store, and their gauges are read
 * into `gauges()` and the Prometheus text whenever those are read.
 *
 * @param options The metric name prefix, histogram buckets and the bound on
 * types.
 * @returns The metrics.
 * @throws {TypeError} When `options` is not an object or `prefix` is not a
 * valid Prometheus metric name.
 * @throws {RangeError} When `bucketsMs` is empty, not ascending or not finite
 * positive numbers, or `maxTypes` is not a positive integer.
 *
 * @example Counting and exposing
 * ```ts
 * import { createBus, defineQuery } from "@monolith/message-bus";
 * import { createMetrics, metrics } from "@monolith/message-bus/observability";
 * import { match } from "node:assert/strict";
 *
 * const GetUser = defineQuery<{ id: string }, string>("GetUser");
 * const m = createMetrics();
 * const bus = createBus({ middleware: [metrics(m)] });
 * bus.registerQuery(GetUser, (q) => q.payload.id);
 * bus.send(GetUser({ id: "1" }));
 * match(m.toPrometheus(), /^message_bus_succeeded_total\{kind="query",type="GetUser"\} 1$/m);
 * ```
 *
 * @example Gauges reported by a bus
 * ```ts
 * import { createBus, defineEvent } from "@monolith/message-bus";
 * import { createMetrics } from "@monolith/message-bus/observability";
 * import { deepStrictEqual, match } from "node:assert/strict";
 *
 * const Shipped = defineEvent<string>("Shipped");
 * const m = createMetrics();
 * const bus = createBus({ metrics: m });
 * bus.subscribe(Shipped, () => {});
 * const session = bus.session();
 * deepStrictEqual(
 *   m.gauges().filter((gauge) => gauge.value > 0),
 *   [
 *     { name: "active_sessions", labels: {}, value: 1 },
 *     { name: "registered_handlers", labels: { kind: "event" }, value: 1 },
 *   ],
 * );
 * session.close();
 * match(m.toPrometheus(), /^message_bus_active_sessions 0$/m);
 * ```
 */
export function createMetrics(options?: MetricsOptions): Metrics {
  const given: MetricsOptions = optionsObject("create metrics", options);
  const prefix = given.prefix ?? "message_bus";
  if (typeof prefix !== "string" || !METRIC_NAME.test(prefix)) {
    throw new TypeError(
      `Cannot create metrics as 'prefix' must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*): current value is ${
        JSON.stringify(prefix)
      }`,
    );
  }
  const bucketsMs = given.bucketsMs ?? DEFAULT_BUCKETS_MS;
  if (!Array.isArray(bucketsMs)) {
    throw new TypeError(
      `Cannot create metrics as 'bucketsMs' must be an array of milliseconds: current value is ${
        shown(bucketsMs)
      }`,
    );
  }
  const buckets: number[] = [...bucketsMs];
  const ascending = buckets.every((bound, index) =>
    Number.isFinite(bound) && bound > 0 &&
    (index === 0 || bound > buckets[index - 1]!)
  );
  if (buckets.length === 0 || !ascending) {
    throw new RangeError(
      `Cannot create metrics as 'bucketsMs' must be ascending positive numbers of milliseconds: current value is [${
        buckets.join(", ")
      }]`,
    );
  }
  const maxTypes = integerOption(
    "create metrics",
    "maxTypes",
    given.maxTypes ?? 1000,
    1,
  );
  // By name: a message name is almost always of one kind, so the common
  // lookup is one `Map.get` with no key to build. A name used by a second
  // kind is kept in `byKindAndType`.
  const byType = new Map<string, Entry>();
  const byKindAndType = new Map<string, Entry>();
  // Entries of names not past the bound: `_other` entries are not counted.
  let kept = 0;
  let warned = false;

  type Named = Pick<AnyMessage, "kind" | "type">;

  function find(kind: MessageKind, type: string): Entry | undefined {
    const found = byType.get(type);
    if (found === undefined || found.kind === kind) return found;
    return byKindAndType.get(`${kind}\u0000${type}`);
  }

  function add(kind: MessageKind, type: string): Entry {
    const created: Entry = {
      kind,
      type,
      dispatched: 0,
      succeeded: 0,
      failed: 0,
      counts: new Array(buckets.length).fill(0),
      sumMs: 0,
      labels: undefined,
    };
    if (byType.has(type)) byKindAndType.set(`${kind}\u0000${type}`, created);
    else byType.set(type, created);
    return created;
  }

  function remove(found: Entry): void {
    if (byType.get(found.type) === found) byType.delete(found.type);
    else byKindAndType.delete(`${found.kind}\u0000${found.type}`);
    if (found.type !== OTHER) kept--;
  }

  function other(message: Named): Entry {
    const found = find(message.kind, OTHER);
    if (found !== undefined) return found;
    if (!warned) {
      warned = true;
      console.warn(
        `metrics: more than ${maxTypes} message types; ${message.kind} "${message.type}" and further types are counted together as type="${OTHER}" (raise maxTypes to keep them apart)`,
      );
    }
    return add(message.kind, OTHER);
  }

  /** The entry of a type, made when there is room, else `_other`'s. */
  function entry(message: Named): Entry {
    const found = find(message.kind, message.type);
    if (found !== undefined) return found;
    if (kept >= maxTypes) return other(message);
    kept++;
    return add(message.kind, message.type);
  }

  /**
   * The entry a started dispatch was counted in: its own, or `_other`'s when
   * it has none (it was started past the bound).
   */
  function started(message: Named): Entry {
    return find(message.kind, message.type) ??
      find(message.kind, OTHER) ?? entry(message);
  }

  function sorted(): Entry[] {
    return [...byType.values(), ...byKindAndType.values()].sort((a, b) =>
      a.kind === b.kind
        ? (a.type < b.type ? -1 : a.type > b.type ? 1 : 0)
        : (a.kind < b.kind ? -1 : 1)
    );
  }

  const gaugeFamilies = new Map<string, GaugeFamily>();

  function observeGauge(
    name: string,
    read: () => number,
    options?: ObserveGaugeOptions,
  ): Unregister {
    if (typeof name !== "string" || !METRIC_NAME.test(`${prefix}_${name}`)) {
      throw new TypeError(
        `Cannot observe a gauge as 'name' must be a Prometheus metric name ([a-zA-Z0-9_:]* after the prefix): current value is ${
          shown(name)
        }`,
      );
    }
    if (typeof read !== "function") {
      throw new TypeError(
        `Cannot observe gauge "${name}" as 'read' must be a function returning its value: current value is ${
          shown(read)
        }`,
      );
    }
    const { help, labels: given = {} }: ObserveGaugeOptions = optionsObject(
      `observe gauge "${name}"`,
      options,
    );
    if (help !== undefined && typeof help !== "string") {
      throw new TypeError(
        `Cannot observe gauge "${name}" as 'help' must be a string: current value is ${
          shown(help)
        }`,
      );
    }
    const labels: Record<string, string> = {};
    for (const [key, value] of Object.entries(given)) {
      if (!LABEL_NAME.test(key) || key.startsWith("__")) {
        throw new TypeError(
          `Cannot observe gauge "${name}" as label names must match [a-zA-Z_][a-zA-Z0-9_]* and not start with "__": current value is ${
            JSON.stringify(key)
          }`,
        );
      }
      if (typeof value !== "string") {
        throw new TypeError(
          `Cannot observe gauge "${name}" as label '${key}' must be a string: current value is ${
            shown(value)
          }`,
        );
      }
      labels[key] = value;
    }
    const text = Object.keys(labels).sort().map((key) =>
      `${key}="${label(labels[key]!)}"`
    ).join(",");
    let family = gaugeFamilies.get(name);
    if (family === undefined) {
      family = { help, series: new Map() };
      gaugeFamilies.set(name, family);
    } else {
      family.help ??= help;
    }
    const series: GaugeSeries = { labels: Object.freeze(labels), text, read };
    family.series.set(text, series);
    const owner = family;
    return () => {
      if (owner.series.get(text) !== series) return;
      owner.series.delete(text);
      if (owner.series.size === 0 && gaugeFamilies.get(name) === owner) {
        gaugeFamilies.delete(name);
      }
    };
  }

  /** Every gauge family with its series read now, sorted. */
  function readGauges(): {
    name: string;
    help: string;
    values: { series: GaugeSeries; value: number }[];
  }[] {
    const families = [...gaugeFamilies].sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0
    );
    return families.map(([name, family]) => {
      const values: { series: GaugeSeries; value: number }[] = [];
      const all = [...family.series.values()].sort((a, b) =>
        a.text < b.text ? -1 : a.text > b.text ? 1 : 0
      );
      for (const series of all) {
        let value: unknown;
        try {
          value = series.read();
        } catch (error) {
          console.error(
            `metrics: reading gauge ${name}{${series.text}} threw; the series is left out this time:`,
            error,
          );
          continue;
        }
        if (typeof value !== "number") {
          console.error(
            `metrics: gauge ${name}{${series.text}} read ${
              shown(value)
            }, not a number; the series is left out this time`,
          );
          continue;
        }
        values.push({ series, value });
      }
      return { name, help: family.help ?? `The ${name} gauge.`, values };
    });
  }

  return {
    bucketsMs: buckets,
    observeGauge,
    gauges() {
      return readGauges().flatMap(({ name, values }) =>
        values.map(({ series, value }) => ({
          name,
          labels: series.labels,
          value,
        }))
      );
    },
    countStarted(message) {
      entry(message).dispatched++;
    },
    countFinished(message, durationMs, failed) {
      const found = started(message);
      if (failed) found.failed++;
      else found.succeeded++;
      found.sumMs += durationMs;
      // Counts are kept per bucket (upper bound inclusive) and made
      // cumulative when read.
      let index = 0;
      while (index < buckets.length && durationMs > buckets[index]!) index++;
      if (index < buckets.length) found.counts[index]!++;
    },
    discardStarted(message) {
      const found = find(message.kind, message.type) ??
        find(message.kind, OTHER);
      if (found === undefined) return;
      if (found.dispatched > 0) found.dispatched--;
      if (found.dispatched === 0 && found.succeeded + found.failed === 0) {
        remove(found);
      }
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
          sumMs: e.sumMs,
        };
      });
    },
    toPrometheus() {
      const lines: string[] = [];
      const all = sorted();
      const labelsOf = (e: Entry) =>
        e.labels ??= `kind="${label(e.kind)}",type="${label(e.type)}"`;
      const counter = (
        name: string,
        help: string,
        pick: (e: Entry) => number,
      ) => {
        lines.push(`# HELP ${prefix}_${name} ${help}`);
        lines.push(`# TYPE ${prefix}_${name} counter`);
        for (const e of all) {
          lines.push(
            `${prefix}_${name}{${labelsOf(e)}} ${pick(e)}`,
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
      for (const e of all) {
        const labels = labelsOf(e);
        let running = 0;
        buckets.forEach((bound, index) => {
          running += e.counts[index]!;
          lines.push(
            `${histogram}_bucket{${labels},le="${
              number(bound / 1000)
            }"} ${running}`,
          );
        });
        const count = e.succeeded + e.failed;
        lines.push(`${histogram}_bucket{${labels},le="+Inf"} ${count}`);
        lines.push(`${histogram}_sum{${labels}} ${number(e.sumMs / 1000)}`);
        lines.push(`${histogram}_count{${labels}} ${count}`);
      }
      for (const { name, help, values } of readGauges()) {
        if (values.length === 0) continue;
        lines.push(
          `# HELP ${prefix}_${name} ${
            help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")
          }`,
        );
        lines.push(`# TYPE ${prefix}_${name} gauge`);
        for (const { series, value } of values) {
          lines.push(
            series.text === ""
              ? `${prefix}_${name} ${number(value)}`
              : `${prefix}_${name}{${series.text}} ${number(value)}`,
          );
        }
      }
      return `${lines.join("\n")}\n`;
    },
    reset() {
      byType.clear();
      byKindAndType.clear();
      kept = 0;
      warned = false;
    },
  };
}

/** Options of {@linkcode metrics}. */
export interface MetricsMiddlewareOptions {
  /**
   * The clock that times dispatches; a fake one in tests.
   *
   * @default {performanceClock}
   */
  readonly clock?: Clock;
}

/**
 * A middleware that counts every dispatch in `m` and times it into its
 * histogram. Works on the synchronous and the asynchronous bus. A dispatch
 * that finds no handler (a `NoHandlerError` for its own type) is taken back
 * with `m.discardStarted`: names without handlers leave nothing in `m`.
 *
 * @param m Where the counts go.
 * @param options The clock, for tests.
 * @returns The middleware.
 * @throws {TypeError} When `m` is not metrics (from `createMetrics()`), or
 * `options` or `clock` is not what it should be (a clock has `now`,
 * `setTimeout` and `clearTimeout`).
 *
 * @example Counting successes and failures
 * ```ts
 * import { createAsyncBus, defineCommand } from "@monolith/message-bus";
 * import { createMetrics, metrics } from "@monolith/message-bus/observability";
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
  options?: MetricsMiddlewareOptions,
): Middleware {
  const given = m as Partial<Metrics> | null;
  if (
    typeof given?.countStarted !== "function" ||
    typeof given.countFinished !== "function" ||
    typeof given.discardStarted !== "function"
  ) {
    throw new TypeError(
      `Cannot create metrics middleware as 'm' must be metrics (from createMetrics()), with countStarted(), countFinished() and discardStarted(): current value is ${
        shown(m)
      }`,
    );
  }
  const { clock: clockGiven }: MetricsMiddlewareOptions = optionsObject(
    "create metrics middleware",
    options,
  );
  const clock = clockOption(
    "create metrics middleware",
    clockGiven,
    performanceClock,
  );
  const now = clock === performanceClock ? () => performance.now() : clock.now;
  const timed = observing((message, start, outcome, failed) => {
    const durationMs = now() - start;
    if (failed && isNoHandler(outcome, message)) m.discardStarted(message);
    else m.countFinished(message, durationMs, failed);
  }, now);
  return (message, next, context) => {
    m.countStarted(message);
    return timed(message, next, context);
  };
}

/** Whether `error` says that `message` itself found no handler. */
function isNoHandler(error: unknown, message: AnyMessage): boolean {
  return error instanceof NoHandlerError && error.type === message.type &&
    error.kind === message.kind;
}

/**
 * A request handler that answers `GET` and `HEAD` with `m` in the Prometheus
 * text format, to mount at `/metrics` under `Deno.serve`; other methods get
 * `405 Method Not Allowed`.
 *
 * @param m The metrics to expose.
 * @returns A `(request) => Response` function.
 *
 * @example Serving /metrics
 * ```ts
 * import { createMetrics, metricsHandler } from "@monolith/message-bus/observability";
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
