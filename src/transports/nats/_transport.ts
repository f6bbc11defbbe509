// The NATS side of the transport seam (src/transports/_remote_bus.ts): core NATS
// request/reply, subjects and queue groups; JetStream for tasks (a
// work-queue stream, one durable pull consumer per task type) and durable
// event subscriptions (an interest stream, one durable consumer per name
// and type).
import {
  createInbox,
  errors,
  headers as natsHeaders,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription as NatsSubscription,
} from "@nats-io/transport-node";
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import {
  type Address,
  type ConnectionStatus,
  type Delivery,
  type Subscription,
  type Transport,
  TransportFailure,
  type Wire,
  type WorkSettings,
} from "../_remote_bus.ts";
import { createTimerQueue, type Scheduled } from "../../core/_timer_queue.ts";
import { systemClock } from "../../core/clock.ts";

/** What the NATS transport needs to know. */
export interface NatsTransportSettings {
  readonly connection: NatsConnection;
  /** Whether `drain()` and `close()` end the connection (the bus made it). */
  readonly owned: boolean;
  readonly prefix: string;
  readonly dedupeWindowMs: number;
  readonly eventRetentionMs: number;
  readonly onStatus: ((status: ConnectionStatus) => void) | undefined;
}

const MS_TO_NS = 1_000_000;

/** A JetStream stream the transport makes when it first needs it. */
interface StreamSettings {
  readonly name: string;
  readonly subjects: string;
  readonly retention: RetentionPolicy;
}

/** Why `name` cannot be part of a subject here, or `undefined`. */
export function subjectNameProblem(name: string): string | undefined {
  if (name === "") return "its name is empty";
  for (let index = 0; index < name.length; index++) {
    const character = name[index]!;
    if (/[A-Za-z0-9_:-]/.test(character)) continue;
    if (character === ".") {
      if (index === 0 || index === name.length - 1 || name[index + 1] === ".") {
        return `its name has a '.' at index ${index} that does not sit between two words, which NATS subjects cannot hold`;
      }
      continue;
    }
    const shown = character === " "
      ? "a space"
      : /\s/.test(character)
      ? "whitespace"
      : `'${character}'`;
    return `its name has ${shown} at index ${index}, which this bus does not put in a NATS subject: use letters, digits, '-', '_' and ':', with '.' between words`;
  }
  return undefined;
}

function toHeaders(
  record: Readonly<Record<string, string>>,
): MsgHdrs | undefined {
  let result: MsgHdrs | undefined;
  for (const key in record) {
    (result ??= natsHeaders()).set(key, record[key]!);
  }
  return result;
}

function fromHeaders(headers: MsgHdrs | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  if (headers === undefined) return result;
  for (const [key, values] of headers) {
    const value = values[0];
    if (value !== undefined && value !== "") result[key] = value;
  }
  return result;
}

function wireOf(message: Msg | JsMsg): Wire {
  return { body: message.data, headers: fromHeaders(message.headers) };
}

function failureOf(error: unknown): TransportFailure {
  if (error instanceof TransportFailure) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof errors.RequestError && error.isNoResponders()) {
    return new TransportFailure("no-responders", message, { cause: error });
  }
  if (error instanceof errors.NoRespondersError) {
    return new TransportFailure("no-responders", message, { cause: error });
  }
  if (error instanceof errors.TimeoutError) {
    return new TransportFailure("timeout", message, { cause: error });
  }
  if (
    error instanceof errors.ClosedConnectionError ||
    error instanceof errors.DrainingConnectionError
  ) {
    return new TransportFailure("closed", message, { cause: error });
  }
  if (error instanceof errors.ConnectionError) {
    return new TransportFailure("disconnected", message, { cause: error });
  }
  return new TransportFailure("refused", message, { cause: error });
}

/** The seam over one NATS connection. */
export function natsTransport(settings: NatsTransportSettings): Transport {
  const { connection: nc, prefix } = settings;
  let status: ConnectionStatus = nc.isClosed() ? "closed" : "connected";
  let jsm: Promise<JetStreamManager> | undefined;
  let js: JetStreamClient | undefined;
  const streams = new Map<string, Promise<void>>();
  const TASK_STREAM: StreamSettings = {
    name: `${prefix}_TASKS`,
    subjects: `${prefix}.task.>`,
    retention: RetentionPolicy.Workqueue,
  };
  const EVENT_STREAM: StreamSettings = {
    name: `${prefix}_EVENTS`,
    subjects: `${prefix}.event.>`,
    retention: RetentionPolicy.Interest,
  };

  // Woken when the connection is back or closed.
  const waiting = new Set<() => void>();

  function setStatus(next: ConnectionStatus): void {
    if (status === next) return;
    status = next;
    if (next !== "reconnecting") {
      for (const wake of waiting) wake();
    }
    try {
      settings.onStatus?.(next);
    } catch (error) {
      console.error("onStatus threw", error);
    }
  }

  (async () => {
    for await (const event of nc.status()) {
      if (event.type === "disconnect" || event.type === "reconnecting") {
        setStatus("reconnecting");
      } else if (event.type === "reconnect") {
        setStatus("connected");
      }
    }
  })().catch(() => {});
  nc.closed().then(() => setStatus("closed"), () => setStatus("closed"));

  // The client drops what it buffered while disconnected when it
  // reconnects, so a request or an enqueue made then would be lost and wait
  // out its whole time: it waits for the connection instead, within that
  // time, and resolves with the time left.
  async function connected(timeoutMs: number): Promise<number> {
    if (status !== "reconnecting") return timeoutMs;
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        waiting.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      waiting.add(wake);
    });
    if (status === "reconnecting") {
      throw new TransportFailure(
        "timeout",
        `the connection did not come back within ${timeoutMs} ms`,
      );
    }
    return Math.max(1, timeoutMs - (Date.now() - started));
  }

  // Request/reply of its own: one subscription for every reply, a map of
  // the requests waiting, and their time limits on one timer. The client's
  // request() makes a timer and two error objects per request, which cost
  // more than the rest of a round trip in this process.
  const replies = replyMux(nc);

  function subject({ kind, type }: Address): string {
    return `${prefix}.${kind}.${type}`;
  }

  // A consumer name for a type: '.' cannot be in one, and '~' cannot be in
  // a type name, so the mapping is one to one.
  function consumerPart(type: string): string {
    return type.replaceAll(".", "~");
  }

  function manager(): Promise<JetStreamManager> {
    return jsm ??= jetstreamManager(nc);
  }

  function client(): JetStreamClient {
    return js ??= jetstream(nc);
  }

  function ensureStream(
    { name, subjects, retention }: StreamSettings,
  ): Promise<void> {
    let ready = streams.get(name);
    if (ready === undefined) {
      ready = (async () => {
        const jsm = await manager();
        try {
          await jsm.streams.info(name);
          return;
        } catch (error) {
          if (!(error instanceof Error) || !/not found/i.test(error.message)) {
            throw error;
          }
        }
        try {
          await jsm.streams.add({
            name,
            subjects: [subjects],
            retention,
            storage: StorageType.File,
            duplicate_window: settings.dedupeWindowMs * MS_TO_NS,
            ...(retention === RetentionPolicy.Interest
              ? { max_age: settings.eventRetentionMs * MS_TO_NS }
              : {}),
          });
        } catch (error) {
          // Another process made it first.
          await jsm.streams.info(name).catch(() => {
            throw error;
          });
        }
      })();
      streams.set(name, ready);
      ready.catch(() => streams.delete(name));
    }
    return ready;
  }

  async function ensureConsumer(
    stream: string,
    config: Partial<ConsumerConfig> & { durable_name: string },
  ): Promise<void> {
    const jsm = await manager();
    try {
      await jsm.consumers.add(stream, config);
    } catch (error) {
      // It exists with other settings (another worker's): take these.
      try {
        const { durable_name: _name, deliver_policy: _policy, ...mutable } =
          config;
        await jsm.consumers.update(stream, config.durable_name, mutable);
      } catch {
        throw error;
      }
    }
  }

  function delivery(message: JsMsg): Delivery {
    return {
      body: message.data,
      headers: fromHeaders(message.headers),
      attempt: message.info.deliveryCount,
      ack: () => message.ack(),
      nak: (delayMs) => message.nak(delayMs),
      working: () => message.working(),
      term: () => message.term(),
    };
  }

  // Runs `handle` on each message of `messages`, at most `concurrency` at a
  // time; resolves when the messages end and every handle has settled.
  async function pump(
    messages: ConsumerMessages,
    concurrency: number,
    handle: (delivery: Delivery) => Promise<void>,
  ): Promise<void> {
    const running = new Set<Promise<void>>();
    for await (const message of messages) {
      const run = handle(delivery(message)).catch((error) =>
        console.error("a delivery's handler threw", error)
      );
      running.add(run);
      run.finally(() => running.delete(run));
      if (running.size >= concurrency) await Promise.race(running);
    }
    await Promise.allSettled(running);
  }

  function consuming(
    setup: () => Promise<ConsumerMessages>,
    concurrency: number,
    handle: (delivery: Delivery) => Promise<void>,
  ): Subscription {
    let messages: ConsumerMessages | undefined;
    let stopped = false;
    let done: Promise<void> = Promise.resolve();
    const ready = setup().then((started) => {
      messages = started;
      if (stopped) {
        started.stop();
        return;
      }
      done = pump(started, concurrency, handle);
    });
    return {
      ready,
      async close() {
        stopped = true;
        await ready.catch(() => {});
        messages?.stop();
        await done;
      },
    };
  }

  // A durable pull consumer of `stream` for `address`, its deliveries handed
  // to `handle`, at most `settings.concurrency` at a time.
  function pullFrom(
    stream: StreamSettings,
    durable: string,
    address: Address,
    settings: WorkSettings,
    config: Partial<ConsumerConfig>,
    handle: (delivery: Delivery) => Promise<void>,
  ): Subscription {
    return consuming(
      async () => {
        await ensureStream(stream);
        await ensureConsumer(stream.name, {
          ...config,
          durable_name: durable,
          ack_policy: AckPolicy.Explicit,
          ack_wait: settings.ackWaitMs * MS_TO_NS,
          max_deliver: -1,
          filter_subject: subject(address),
        });
        const consumer = await client().consumers.get(stream.name, durable);
        return await consumer.consume({
          max_messages: Math.max(1, settings.concurrency),
        });
      },
      settings.concurrency,
      handle,
    );
  }

  function coreSubscription(subscription: NatsSubscription): Subscription {
    return {
      ready: nc.flush().catch((error) => {
        throw failureOf(error);
      }),
      async close() {
        if (subscription.isClosed()) return;
        await subscription.drain().catch(() => subscription.unsubscribe());
      },
    };
  }

  return {
    name: "NATS",
    get status() {
      return status;
    },
    nameProblem: subjectNameProblem,

    async request(address, wire, timeoutMs) {
      const left = status === "reconnecting"
        ? await connected(timeoutMs).catch((error) => {
          throw failureOf(error);
        })
        : timeoutMs;
      return replies.request(subject(address), wire, left);
    },

    serve(address, group, handle) {
      return coreSubscription(
        nc.subscribe(subject(address), {
          queue: group,
          callback: (error, message) => {
            if (error !== null) return;
            handle(wireOf(message)).then((reply) => {
              const headers = toHeaders(reply.headers);
              message.respond(
                reply.body,
                headers === undefined ? undefined : { headers },
              );
            }).catch((failure) =>
              console.error("a request's handler threw", failure)
            );
          },
        }),
      );
    },

    async publish(address, wire, timeoutMs) {
      try {
        // Connected: handed to the connection at once. Not connected: it
        // waits for the connection, as a request does.
        if (status === "reconnecting") await connected(timeoutMs);
        const headers = toHeaders(wire.headers);
        nc.publish(
          subject(address),
          wire.body,
          headers === undefined ? undefined : { headers },
        );
      } catch (error) {
        throw failureOf(error);
      }
    },

    subscribe(address, group, deliver) {
      const subscription = nc.subscribe(
        subject(address),
        group === undefined ? {} : { queue: group },
      );
      // One delivery at a time per subscription, in order: a slow
      // subscriber holds up only itself.
      (async () => {
        for await (const message of subscription) {
          await deliver(wireOf(message)).catch(() => {});
        }
      })();
      return coreSubscription(subscription);
    },

    subscribeDurable(address, name, workSettings, deliver) {
      return pullFrom(
        EVENT_STREAM,
        `${name}_${consumerPart(address.type)}`,
        address,
        workSettings,
        { deliver_policy: DeliverPolicy.New },
        deliver,
      );
    },

    async enqueue(address, wire, id, timeoutMs) {
      try {
        const left = await connected(timeoutMs);
        await ensureStream(TASK_STREAM);
        const headers = toHeaders(wire.headers);
        await client().publish(subject(address), wire.body, {
          msgID: id,
          timeout: left,
          ...(headers === undefined ? {} : { headers }),
        });
      } catch (error) {
        throw failureOf(error);
      }
    },

    work(address, workSettings: WorkSettings, handle) {
      return pullFrom(
        TASK_STREAM,
        `${prefix}_task_${consumerPart(address.type)}`,
        address,
        workSettings,
        { max_ack_pending: -1 },
        handle,
      );
    },

    async inquire(address, wire, waitMs) {
      const replies: Wire[] = [];
      try {
        const headers = toHeaders(wire.headers);
        const iterator = await nc.requestMany(subject(address), wire.body, {
          strategy: "timer",
          maxWait: waitMs,
          ...(headers === undefined ? {} : { headers }),
        });
        for await (const message of iterator) {
          if (message.data.length > 0) replies.push(wireOf(message));
        }
      } catch {
        // No responders, or the connection went: what arrived is the answer.
      }
      return replies;
    },

    answer(address, answer) {
      return coreSubscription(
        nc.subscribe(subject(address), {
          callback: (error, message) => {
            if (error !== null) return;
            const reply = answer();
            message.respond(reply.body);
          },
        }),
      );
    },

    async flush() {
      try {
        await nc.flush();
      } catch (error) {
        throw failureOf(error);
      }
    },

    async drain() {
      if (settings.owned) {
        if (!nc.isClosed() && !nc.isDraining()) await nc.drain();
      } else if (!nc.isClosed()) {
        await nc.flush().catch(() => {});
      }
    },

    async close() {
      if (settings.owned && !nc.isClosed()) await nc.close();
    },
  };
}

interface Waiting {
  readonly resolve: (wire: Wire) => void;
  readonly reject: (error: TransportFailure) => void;
  readonly subject: string;
  readonly timeoutMs: number;
  timer: Scheduled | undefined;
}

/** Requests over one reply subscription (`<inbox>.<token>`). */
function replyMux(nc: NatsConnection): {
  request(subject: string, wire: Wire, timeoutMs: number): Promise<Wire>;
} {
  const inbox = createInbox();
  const waiting = new Map<string, Waiting>();
  // Unref: the connection keeps the process alive while requests wait.
  const timers = createTimerQueue(systemClock, true);
  let subscribed = false;
  let counter = 0;

  function onReply(error: Error | null, message: Msg): void {
    if (error !== null) {
      // The subscription ended (the connection closed): nothing will come.
      for (const [token, entry] of waiting) {
        waiting.delete(token);
        entry.timer?.cancel();
        entry.reject(new TransportFailure("closed", error.message));
      }
      return;
    }
    const token = message.subject.slice(inbox.length + 1);
    const entry = waiting.get(token);
    if (entry === undefined) return;
    waiting.delete(token);
    entry.timer?.cancel();
    if (message.data.length === 0 && message.headers?.code === 503) {
      entry.reject(
        new TransportFailure(
          "no-responders",
          `no responders: '${entry.subject}'`,
        ),
      );
      return;
    }
    entry.resolve(wireOf(message));
  }

  return {
    request(subject, wire, timeoutMs) {
      return new Promise<Wire>((resolve, reject) => {
        if (!subscribed) {
          try {
            nc.subscribe(`${inbox}.*`, { callback: onReply });
          } catch (error) {
            reject(failureOf(error));
            return;
          }
          subscribed = true;
        }
        const token = (++counter).toString(36);
        const entry: Waiting = {
          resolve,
          reject,
          subject,
          timeoutMs,
          timer: undefined,
        };
        waiting.set(token, entry);
        entry.timer = timers.schedule(timeoutMs, systemClock.now(), () => {
          if (waiting.delete(token)) {
            reject(
              new TransportFailure(
                "timeout",
                `no reply from '${subject}' within ${timeoutMs} ms`,
              ),
            );
          }
        });
        try {
          const headers = toHeaders(wire.headers);
          nc.publish(
            subject,
            wire.body,
            headers === undefined
              ? { reply: `${inbox}.${token}` }
              : { reply: `${inbox}.${token}`, headers },
          );
        } catch (error) {
          waiting.delete(token);
          entry.timer.cancel();
          reject(failureOf(error));
        }
      });
    },
  };
}
