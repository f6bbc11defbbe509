/**
 * A circuit breaker per message type: after repeated failures it fails fast
 * instead of calling a handler that keeps failing, then lets trial dispatches
 * through to see whether it recovered.
 *
 * @module
 */

import { type Clock, systemClock } from "../core/clock.ts";
import { CircuitOpenError } from "../core/errors.ts";
import type { AnyMessage, MessageKind } from "../core/messages.ts";
import type { Middleware, NextFunction } from "../core/types.ts";
import { integerOption, numberOption } from "../core/_options.ts";

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
   * Consecutive successful trials that close the circuit again.
   *
   * @default {1}
   */
  readonly successThreshold?: number;
  /** Told about every change of state. */
  readonly onStateChange?: (change: CircuitStateChange) => void;
  /**
   * Which errors count as failures.
   *
   * @default {() => true}
   */
  readonly isFailure?: (error: unknown) => boolean;
  /**
   * The clock; a fake one in tests.
   *
   * @default {systemClock}
   */
  readonly clock?: Clock;
}

/**
 * A circuit breaker middleware, with the state of each message type readable.
 */
export interface CircuitBreaker extends Middleware {
  /** The state of a message type's circuit ("closed" when never seen). */
  state(type: string): CircuitState;
  /** Every message type seen, with the state of its circuit. */
  states(): Record<string, CircuitState>;
}

interface Circuit {
  readonly type: string;
  readonly kind: MessageKind;
  state: CircuitState;
  failures: number;
  successes: number;
  openedAt: number;
  /** While open: the one error every refused dispatch gets. */
  refusal: CircuitOpenError | undefined;
  /** Observers of an asynchronous dispatch, made once per circuit. */
  readonly onResult: (value: unknown) => unknown;
  readonly onError: (error: unknown) => never;
}

/**
 * Creates a circuit breaker for the synchronous or asynchronous bus, with one
 * circuit per message type:
 *
 * - closed: dispatches run; `failureThreshold` consecutive failures open it;
 * - open: dispatches fail fast with {@linkcode CircuitOpenError} (no handler
 *   runs) until `recoveryTimeoutMs` have passed. Every dispatch refused while
 *   the circuit stays open gets the same error object (making one costs
 *   more than failing fast may), whose `retryInMs` is read live;
 * - half-open: dispatches run as trials; `successThreshold` consecutive
 *   successes close the circuit, any failure opens it again.
 *
 * @param options Thresholds, the recovery time, a state-change callback, the
 * clock.
 * @returns The middleware, with `state(type)` and `states()`.
 * @throws {RangeError} When a threshold or the recovery time is out of range.
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
 */
export function circuitBreaker(
  options: CircuitBreakerOptions = {},
): CircuitBreaker {
  const failureThreshold = integerOption(
    "create circuitBreaker",
    "failureThreshold",
    options.failureThreshold ?? 5,
    1,
  );
  const successThreshold = integerOption(
    "create circuitBreaker",
    "successThreshold",
    options.successThreshold ?? 1,
    1,
  );
  const recoveryTimeoutMs = numberOption(
    "create circuitBreaker",
    "recoveryTimeoutMs",
    options.recoveryTimeoutMs ?? 30_000,
    (value) => value >= 0 && Number.isFinite(value),
    "a non-negative number of milliseconds",
  );
  const clock = options.clock ?? systemClock;
  const onStateChange = options.onStateChange;
  const isFailure = options.isFailure ?? (() => true);
  const circuits = new Map<string, Circuit>();

  function move(circuit: Circuit, to: CircuitState, error?: unknown): void {
    const from = circuit.state;
    circuit.state = to;
    circuit.failures = 0;
    circuit.successes = 0;
    circuit.refusal = undefined;
    if (to === "open") {
      circuit.openedAt = clock.now();
      circuit.refusal = refusal(circuit);
    }
    const { type, kind } = circuit;
    onStateChange?.(
      error === undefined
        ? { type, kind, from, to }
        : { type, kind, from, to, error },
    );
  }

  function succeeded(circuit: Circuit): void {
    if (circuit.state === "half-open") {
      if (++circuit.successes >= successThreshold) move(circuit, "closed");
    } else {
      circuit.failures = 0;
    }
  }

  function failed(circuit: Circuit, error: unknown): void {
    if (error instanceof CircuitOpenError || !isFailure(error)) return;
    if (circuit.state === "half-open") {
      move(circuit, "open", error);
    } else if (
      circuit.state === "closed" && ++circuit.failures >= failureThreshold
    ) {
      move(circuit, "open", error);
    }
  }

  function circuitOf(message: AnyMessage): Circuit {
    const circuit: Circuit = {
      type: message.type,
      kind: message.kind,
      state: "closed",
      failures: 0,
      successes: 0,
      openedAt: 0,
      refusal: undefined,
      onResult: (value) => {
        succeeded(circuit);
        return value;
      },
      onError: (error) => {
        failed(circuit, error);
        throw error;
      },
    };
    circuits.set(message.type, circuit);
    return circuit;
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

  const middleware = <M extends AnyMessage, R>(
    message: M,
    next: NextFunction<M, R>,
  ): R => {
    const circuit = circuits.get(message.type) ?? circuitOf(message);
    if (circuit.state === "open") {
      if (clock.now() - circuit.openedAt < recoveryTimeoutMs) {
        // The asynchronous bus turns the throw into a rejection.
        throw circuit.refusal;
      }
      move(circuit, "half-open");
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
      return circuits.get(type)?.state ?? "closed";
    },
    states(): Record<string, CircuitState> {
      return Object.fromEntries(
        [...circuits].map(([type, circuit]) => [type, circuit.state]),
      );
    },
  });
}
