// A nats-server of a test's own: JetStream on, a free loopback port, a
// temporary store directory; stopped by its PID. The shared server on 4222
// is never touched.

/** A nats-server a test started. */
export interface NatsServer {
  /** `127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Its JetStream store directory. */
  readonly dir: string;
  /** The PID of the running server. */
  readonly pid: number;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and waits for its exit. */
  stop(): Promise<void>;
  /** Kills it with SIGKILL and waits for its exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port and store. */
  start(): Promise<void>;
  /** Stops it and deletes its store. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The nats-server binary. */
export const NATS_SERVER = "nats-server";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function reachable(port: number): Promise<boolean> {
  try {
    const connection = await Deno.connect({ hostname: "127.0.0.1", port });
    connection.close();
    return true;
  } catch {
    return false;
  }
}

/** Starts a nats-server with JetStream; resolves once it takes connections. */
export async function startNatsServer(): Promise<NatsServer> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "mb-nats-" });
  let child: Deno.ChildProcess | undefined;

  async function start(): Promise<void> {
    child = new Deno.Command(NATS_SERVER, {
      args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const started = Date.now();
    while (!(await reachable(port))) {
      if (Date.now() - started > 10_000) {
        throw new Error(`nats-server did not listen on ${port} within 10 s`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async function stopWith(signal: Deno.Signal): Promise<void> {
    const running = child;
    child = undefined;
    if (running === undefined) return;
    try {
      running.kill(signal);
    } catch {
      // It has exited already.
    }
    const timer = setTimeout(() => {
      try {
        running.kill("SIGKILL");
      } catch {
        // Gone.
      }
    }, 5_000);
    await running.status;
    clearTimeout(timer);
  }

  await start();
  return {
    url: `127.0.0.1:${port}`,
    port,
    dir,
    get pid() {
      return child?.pid ?? -1;
    },
    stop: () => stopWith("SIGTERM"),
    kill: () => stopWith("SIGKILL"),
    start,
    async [Symbol.asyncDispose]() {
      await stopWith("SIGTERM");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
