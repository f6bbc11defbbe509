// The gauges a bus reports through its `metrics` option: sessions open and
// handlers registered. Each is read when the gauges are read, so a bus with
// gauges dispatches exactly as fast as one without.
import { shown } from "./_options.ts";
import type { Routes } from "./_registry.ts";
import type { MessageKind } from "./messages.ts";
import type { GaugeSink } from "./types.ts";

/** Checks a bus's `metrics` option. */
export function gaugeSinkOption(
  factory: string,
  value: unknown,
): GaugeSink | undefined {
  if (
    value !== undefined &&
    typeof (value as Partial<GaugeSink> | null)?.observeGauge !== "function"
  ) {
    throw new TypeError(
      `Cannot ${factory}() as 'metrics' must have an observeGauge() method (metrics from createMetrics()): current value is ${
        shown(value)
      }`,
    );
  }
  return value as GaugeSink | undefined;
}

const KINDS: readonly MessageKind[] = ["query", "command", "event", "task"];

/** Reports a bus's open sessions and registered handlers to `sink`. */
export function observeBus(
  sink: GaugeSink,
  routes: Routes,
  bus: { readonly activeSessions: number },
): void {
  sink.observeGauge("active_sessions", () => bus.activeSessions, {
    help: "Sessions open now.",
  });
  for (const kind of KINDS) {
    sink.observeGauge("registered_handlers", () => registered(routes, kind), {
      help:
        "Handlers registered now, by message kind (for events: subscribers).",
      labels: { kind },
    });
  }
}

function registered(routes: Routes, kind: MessageKind): number {
  switch (kind) {
    case "query":
      return routes.queries.size;
    case "command":
      return routes.commands.size;
    case "task":
      return routes.tasks.size;
    case "event": {
      let live = 0;
      for (const entry of routes.events.values()) live += entry.live;
      return live;
    }
  }
}
