// The message envelope (private: users see the `Message` interface).
import type { Message, MessageKind } from "./messages.ts";

// The envelope keeps its fields under module-private symbols and exposes them
// through getters, so `message.kind = ...` throws in strict mode. Own
// enumerable symbol fields (unlike `#private` ones) are still compared by
// `deepStrictEqual`, so two messages with different payloads never compare
// equal. Object.freeze costs several times a whole message; this costs
// nothing measurable (bench/dispatch_bench.ts, group "create").
export const KIND: unique symbol = Symbol("kind");
const TYPE: unique symbol = Symbol("type");
const PAYLOAD: unique symbol = Symbol("payload");

export class Envelope<K extends MessageKind, P> implements Message<K, P> {
  readonly [KIND]: K;
  readonly [TYPE]: string;
  readonly [PAYLOAD]: P;

  constructor(kind: K, type: string, payload: P) {
    this[KIND] = kind;
    this[TYPE] = type;
    this[PAYLOAD] = payload;
  }

  get kind(): K {
    return this[KIND];
  }

  get type(): string {
    return this[TYPE];
  }

  get payload(): P {
    return this[PAYLOAD];
  }

  toJSON(): { kind: K; type: string; payload: P } {
    return { kind: this[KIND], type: this[TYPE], payload: this[PAYLOAD] };
  }

  [Symbol.for("Deno.customInspect")](
    inspect: (value: unknown, options: unknown) => string,
    options: unknown,
  ): string {
    return `${this[KIND]} ${this[TYPE]} ${inspect(this[PAYLOAD], options)}`;
  }
}
