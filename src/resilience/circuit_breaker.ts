/**
 * A circuit breaker per message type: after repeated failures it fails fast
 * instead of calling a handler that keeps failing, then lets trial dispatches
 * through to see whether it recovered.
 *
 * @module
 */

import { type Clock, systemClock } from "../core/clock.ts";
import { CircuitOpenError, NoHandlerError } from "../core/errors.ts";
import type { AnyMessage, MessageKind } from "../core/messages.ts";
import type {
  GaugeSink,
  Middleware,
  NextFunction,
  Unregister,
} from "../core/types.ts";
import {
  clockOption,
  functionOption,
  integerOption,
  optionsObject,
  shown,
  timerMsOption,
} from "../core/_options.ts";

/**
 * The state of one message type's circuit: `"closed"` (dispatches run),
 * `"open"` (dispatches fail fast) or `"half-open"` (trial dispatches run).
 */
export type CircuitState = "closed" | "open" | "half-open";

/**
 * A change of state, as {@linkcode CircuitBreakerOptions.onStateChange} is
 * told.
 */
export interface CircuitStateChange {
  /** The message name. */
  readonly type: string;
  /** The message kind. */
  readonly kind: MessageKind;
  /** The state before. */
  readonly from: CircuitState;
  /** The state now. */
  readonly to: CircuitState;
  /** The error that opened the circuit, when it opened. */
  readonly error?: unknown;
}

/**
 * Options of {@linkcode circuitBreaker}.
 */
export interface CircuitBreakerOptions {
  /**
   * Consecutive failures that open the circuit.
   *
   * @default {5}
   */
  readonly failureThreshold?: number;
  /**
   * How long the circuit stays open before trial dispatches go through, in
   * milliseconds.
   *
   * @default {30000}
   */
  readonly recoveryTimeoutMs?: number;
  /**
   * Consecutive successful trials that close the circuit again; also how
   * many trial dispatches a half-open circuit lets run at a time.
   *
   * @default {1}
   */
  readonly successThreshold?: number;
  /**
   * Told about every change of state. If it throws, its error is reported on
   * the console and the dispatch goes on.
   */
  readonly onStateChange?: (change: CircuitStateChange) => void;
  /**
   * Which errors count as failures. A dispatch that found no handler
   * (`NoHandlerError` for its own type) never counts.
   *
   * @default {() => true}
   */
  readonly isFailure?: (error: unknown) => boolean;
  /**
   * How many message types get a circuit of their own. Past it, further
   * types share one circuit, named `"_other"`, and a warning is printed
   * once.
   *
   * @default {1000}
   */
  readonly maxTypes?: number;
  /**
   * The clock; a fake one in tests.
   *
   * @default {systemClock}
   */
  readonly clock?: Clock;
  /**
   * Where each circuit's state is reported, as the gauge `circuit_state`
   * with labels `kind` and `type` (0 closed, 1 open, 2 half-open): a
   * `Metrics` from `createMetrics()` of
   * `@monolith/message-bus/observability`.
   */
  readonly metrics?: GaugeSink;
}

/** A circuit's state as the `circuit_state` gauge gives it. */
const STATE_GAUGE: Readonly<Record<CircuitState, number>> = {
  closed: 0,
  open: 1,
  "half-open": 2,
};

/**
 * A circuit breaker middleware, with the state of each message type readable.
 */
export interface CircuitBreaker extends Middleware {
  /**
   * The state of a message type's circuit ("closed" when it has none);
   * `"_other"` reads the circuit types past `maxTypes` share.
   */
  state(type: string): CircuitState;
  /**
   * Every message type with a circuit (dispatched, and found a handler), with
   * the state of its circuit; `"_other"` is the one types past `maxTypes`
   * share.
   */
  states(): Record<string, CircuitState>;
}

/** The name of the circuit that message types past `maxTypes` share. */
const OTHER = "_other";

interface Circuit {
  /** The message name, or `"_other"` for the shared circuit. */
  readonly type: string;
  readonly kind: MessageKind;
  /** Whether types past `maxTypes` share it. */
  readonly shared: boolean;
  state: CircuitState;
  failures: number;
  successes: number;
  openedAt: number;
  /** Trial dispatches running, while half-open. */
  trials: number;
  /**
   * While open and half-open: the one error every refused dispatch gets.
   */
  refusal: CircuitOpenError | undefined;
  /** Observers of an asynchronous dispatch, made once per circuit. */
  readonly onResult: (value: unknown) => unknown;
  readonly onError: (error: unknown) => never;
  /** The same for a trial dispatch, which also frees its trial slot. */
  readonly onTrialResult: (value: unknown) => unknown;
  readonly onTrialError: (error: unknown) => never;
  /** Removes its `circuit_state` gauge, when `metrics` was given. */
  unobserve: Unregister | undefined;
}

const ACTION = "create circuitBreaker";

/**
 * Creates a circuit breaker for the synchronous or asynchronous bus, with one
 * circuit per message type:
 *
 * - closed: dispatches run; `failureThreshold` consecutive failures open it;
 * - open: dispatches fail fast with {@linkcode CircuitOpenError} (no handler
 *   runs) until `recoveryTimeoutMs` have passed. Every dispatch refused while
 *   the circuit stays open gets the same error object (making one costs
 *   more than failing fast may), whose `retryInMs` is read live;
 * - half-open: at most `successThreshold` dispatches at a time run as
 *   trials, the others fail fast as when open; `successThreshold`
 *   consecutive successes close the circuit, any failure opens it again.
 *
 * A dispatch that finds no handler is no failure, and makes no circuit. At
 * most `maxTypes` types get a circuit of their own; further types share one,
 * `"_other"`, so that memory stays bounded whatever names are dispatched.
 *
 * @param options Thresholds, the recovery time, a state-change callback, the
 * clock, the bound on circuits, where to report their states.
 * @returns The middleware, with `state(type)` and `states()`.
 * @throws {TypeError} When `options`, `clock`, `onStateChange`, `isFailure`
 * or `metrics` is not what it should be (a clock has `now`, `setTimeout` and
 * `clearTimeout`; metrics have `observeGauge`).
 * @throws {RangeError} When a threshold, `maxTypes` or the recovery time is
 * out of range (a recovery time over 2³¹ − 1 ms included).
 *
 * @example Failing fast after three failures
 * ```ts
 * import { CircuitOpenError, createBus, defineCommand } from "@monolith/message-bus";
 * import { circuitBreaker } from "@monolith/message-bus/resilience";
 * import { deepStrictEqual, throws } from "node:assert/strict";
 *
 * const Charge = defineCommand<number>("Charge");
 * const breaker = circuitBreaker({ failureThreshold: 3 });
 * const bus = createBus({ middleware: [breaker] });
 * let calls = 0;
 * bus.registerCommand(Charge, () => {
 *   calls++;
 *   throw new Error("payment provider down");
 * });
 * for (let i = 0; i < 3; i++) throws(() => bus.execute(Charge(i)), { message: "payment provider down" });
 * throws(() => bus.execute(Charge(4)), CircuitOpenError);
 * deepStrictEqual([breaker.state("Charge"), calls], ["open", 3]);
 * ```
 *
 * @example Reporting each circuit's state as a gauge
 * ```ts
 * import { createBus, defineCommand } from "@monolith/message-bus";
 * import { createMetrics } from "@monolith/message-bus/observability";
 * import { circuitBreaker } from "@monolith/message-bus/resilience";
 * import { match, throws } from "node:assert/strict";
 *
 * const Charge = defineCommand("Charge");
 * const m = createMetrics();
 * const bus = createBus({ middleware: [circuitBreaker({ failureThreshold: 1, metrics: m })] });
 * bus.registerCommand(Charge, () => {
 *   throw new Error("payment provider down");
 * });
 * throws(() => bus.execute(Charge()), /payment provider down/);
 * match(m.toPrometheus(), /^message_bus_circuit_state\{kind="command",type="Charge"\} 1$/m);
 * ```
 */
export function circuitBreaker(
  options?: CircuitBreakerOptions,
): CircuitBreaker {
  const given: CircuitBreakerOptions = optionsObject(ACTION, options);
  const failureThreshold = integerOption(
    ACTION,
    "failureThreshold",
    given.failureThreshold ?? 5,
    1,
  );
  const successThreshold = integerOption(
    ACTION,
    "successThreshold",
    given.successThreshold ?? 1,
    1,
  );
  const recoveryTimeoutMs = timerMsOption(
    ACTION,
    "recoveryTimeoutMs",
    given.recoveryTimeoutMs ?? 30_000,
    (value) => value >= 0 && Number.isFinite(value),
    "a non-negative number of milliseconds",
  );
  const maxTypes = integerOption(ACTION, "maxTypes", given.maxTypes ?? 1000, 1);
  const clock = clockOption(ACTION, given.clock, systemClock);
  const onStateChange = functionOption(
    ACTION,
    "onStateChange",
    given.onStateChange,
  );
  const isFailure = functionOption(ACTION, "isFailure", given.isFailure);
  const gauges = given.metrics;
  if (
    gauges !== undefined &&
    typeof (gauges as Partial<GaugeSink> | null)?.observeGauge !== "function"
  ) {
    throw new TypeError(
      `Cannot ${ACTION} as 'metrics' must have an observeGauge() method (metrics from createMetrics()): current value is ${
        shown(gauges)
      }`,
    );
  }
  const circuits = new Map<string, Circuit>();
  let other: Circuit | undefined;

  function move(circuit: Circuit, to: CircuitState, error?: unknown): void {
    const from = circuit.state;
    circuit.state = to;
    circuit.failures = 0;
    circuit.successes = 0;
    circuit.trials = 0;
    if (to === "open") {
      circuit.openedAt = clock.now();
      circuit.refusal = refusal(circuit);
    } else if (to === "closed") {
      circuit.refusal = undefined;
    }
    if (onStateChange === undefined) return;
    const { type, kind } = circuit;
    try {
      onStateChange(
        error === undefined
          ? { type, kind, from, to }
          : { type, kind, from, to, error },
      );
    } catch (thrown) {
      // A callback's error must not replace the dispatch's own outcome.
      console.error(
        `circuitBreaker: 'onStateChange' threw for ${kind} "${type}" (${from} -> ${to}); the dispatch goes on:`,
        thrown,
      );
    }
  }

  function succeeded(circuit: Circuit): void {
    if (circuit.state === "half-open") {
      if (++circuit.successes >= successThreshold) move(circuit, "closed");
    } else {
      circuit.failures = 0;
    }
  }

  function counts(circuit: Circuit, error: unknown): boolean {
    if (error instanceof CircuitOpenError) return false;
    if (
      error instanceof NoHandlerError &&
      (circuit.shared || error.type === circuit.type)
    ) {
      // No handler is no failure of one, and a circuit made for this
      // dispatch alone is forgotten: names without handlers leave nothing.
      if (
        !circuit.shared && circuit.state === "closed" &&
        circuit.failures === 0 && circuits.get(circuit.type) === circuit
      ) {
        circuits.delete(circuit.type);
        circuit.unobserve?.();
      }
      return false;
    }
    if (isFailure === undefined) return true;
    try {
      return isFailure(error);
    } catch (thrown) {
      console.error(
        `circuitBreaker: 'isFailure' threw for ${circuit.kind} "${circuit.type}"; the error counts as a failure:`,
        thrown,
      );
      return true;
    }
  }

  function failed(circuit: Circuit, error: unknown): void {
    if (!counts(circuit, error)) return;
    if (circuit.state === "half-open") {
      move(circuit, "open", error);
    } else if (
      circuit.state === "closed" && ++circuit.failures >= failureThreshold
    ) {
      move(circuit, "open", error);
    }
  }

  function endTrial(circuit: Circuit): void {
    // A trial that outlived its half-open state has no slot to free.
    if (circuit.state === "half-open" && circuit.trials > 0) circuit.trials--;
  }

  function newCircuit(type: string, kind: MessageKind, shared: boolean) {
    const circuit: Circuit = {
      type,
      kind,
      shared,
      state: "closed",
      failures: 0,
      successes: 0,
      openedAt: 0,
      trials: 0,
      refusal: undefined,
      onResult: (value) => {
        succeeded(circuit);
        return value;
      },
      onError: (error) => {
        failed(circuit, error);
        throw error;
      },
      onTrialResult: (value) => {
        endTrial(circuit);
        succeeded(circuit);
        return value;
      },
      onTrialError: (error) => {
        endTrial(circuit);
        failed(circuit, error);
        throw error;
      },
      unobserve: undefined,
    };
    circuit.unobserve = gauges?.observeGauge(
      "circuit_state",
      () => STATE_GAUGE[circuit.state],
      {
        help:
          "The state of each message type's circuit: 0 closed, 1 open, 2 half-open.",
        labels: { kind, type },
      },
    );
    return circuit;
  }

  function circuitOf(message: AnyMessage): Circuit {
    if (circuits.size < maxTypes) {
      const circuit = newCircuit(message.type, message.kind, false);
      circuits.set(message.type, circuit);
      return circuit;
    }
    if (other === undefined) {
      console.warn(
        `circuitBreaker: more than ${maxTypes} message types; ${message.kind} "${message.type}" and further types share one circuit, "${OTHER}" (raise maxTypes to keep them apart)`,
      );
      other = newCircuit(OTHER, message.kind, true);
    }
    return other;
  }

  // Creating an Error (its stack trace) costs more than failing fast may, so
  // an open circuit makes its error once and every dispatch it refuses gets
  // that same object; `retryInMs` reads the clock.
  function refusal(circuit: Circuit): CircuitOpenError {
    const error = new CircuitOpenError(
      circuit.kind,
      circuit.type,
      recoveryTimeoutMs,
    );
    Object.defineProperty(error, "retryInMs", {
      get: () =>
        Math.max(0, circuit.openedAt + recoveryTimeoutMs - clock.now()),
    });
    return error;
  }

  // An open circuit past its recovery time, or a half-open one: run a trial,
  // or fail fast when the trials allowed are running.
  function guarded<M extends AnyMessage, R>(
    circuit: Circuit,
    message: M,
    next: NextFunction<M, R>,
  ): R {
    // Open past its recovery time: the first trial half-opens it.
    if (circuit.state === "open") move(circuit, "half-open");
    if (circuit.trials >= successThreshold) {
      throw circuit.refusal ??= refusal(circuit);
    }
    circuit.trials++;
    let result: R;
    try {
      result = next(message);
    } catch (error) {
      endTrial(circuit);
      failed(circuit, error);
      throw error;
    }
    if (result instanceof Promise) {
      return result.then(circuit.onTrialResult, circuit.onTrialError) as R;
    }
    endTrial(circuit);
    succeeded(circuit);
    return result;
  }

  const middleware = <M extends AnyMessage, R>(
    message: M,
    next: NextFunction<M, R>,
  ): R => {
    const circuit = circuits.get(message.type) ?? circuitOf(message);
    if (circuit.state !== "closed") {
      // Failing fast is inline: it is the path an open circuit takes most.
      if (
        circuit.state === "open" &&
        clock.now() - circuit.openedAt < recoveryTimeoutMs
      ) {
        // The asynchronous bus turns the throw into a rejection.
        throw circuit.refusal;
      }
      return guarded(circuit, message, next);
    }
    let result: R;
    try {
      result = next(message);
    } catch (error) {
      failed(circuit, error);
      throw error;
    }
    if (result instanceof Promise) {
      return result.then(circuit.onResult, circuit.onError) as R;
    }
    succeeded(circuit);
    return result;
  };

  return Object.assign(middleware, {
    state(type: string): CircuitState {
      return (circuits.get(type) ?? (type === OTHER ? other : undefined))
        ?.state ?? "closed";
    },
    states(): Record<string, CircuitState> {
      const all: Record<string, CircuitState> = {};
      if (other !== undefined) all[OTHER] = other.state;
      for (const [type, circuit] of circuits) all[type] = circuit.state;
      return all;
    },
  });
}
