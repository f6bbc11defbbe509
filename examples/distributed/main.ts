/**
 * The distributed demo, in one command: `deno task demo:nats [server]`.
 *
 * It uses the nats-server at the address given (or `NATS_URL`, or
 * 127.0.0.1:4222); when none answers there, it starts one of its own on a
 * free loopback port with a temporary JetStream store, and stops it at the
 * end. Then it starts two workers, worker-a (users, inventory) and worker-b
 * (orders, notifications), waits until both are ready, runs the dispatcher,
 * and stops the workers. Every line a process prints is shown with its name.
 *
 * @module
 */

const ROOT = new URL("../..", import.meta.url);
const HERE = new URL(".", import.meta.url);

/** The permissions of the demo's processes: NATS and nothing else. */
const PERMISSIONS = [
  "--allow-net",
  "--allow-env=NATS_URL",
  "--allow-sys=hostname",
];

const WORKERS = {
  "worker-a": ["users", "inventory"],
  "worker-b": ["orders", "notifications"],
} as const;

const READY_WAIT_MS = 30_000;
const STOP_WAIT_MS = 10_000;

function hostAndPort(url: string): { hostname: string; port: number } {
  const address = url.replace(/^[a-z]+:\/\//, "").split(",")[0]!;
  const colon = address.lastIndexOf(":");
  if (colon === -1) return { hostname: address, port: 4222 };
  const port = Number(address.slice(colon + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new TypeError(
      `Cannot use the NATS server address as its port must be 1 to 65535: current value is ${
        JSON.stringify(url)
      }`,
    );
  }
  const hostname = address.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  return { hostname: hostname || "127.0.0.1", port };
}

async function reachable(hostname: string, port: number): Promise<boolean> {
  try {
    const connection = await Deno.connect({ hostname, port });
    connection.close();
    return true;
  } catch {
    return false;
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** A nats-server this launcher started, and how to stop it. */
interface OwnServer {
  readonly url: string;
  stop(): Promise<void>;
}

async function startNatsServer(): Promise<OwnServer> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "message-bus-demo-nats-" });
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("nats-server", {
      args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    if (error instanceof Deno.errors.NotFound) {
      throw new Error(
        "Cannot start a nats-server as none is installed: install it (apt-get install -y nats-server, or see https://docs.nats.io) or give the address of a running one",
        { cause: error },
      );
    }
    throw error;
  }
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // It has exited already.
    }
    await child.status;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const started = Date.now();
  while (!(await reachable("127.0.0.1", port))) {
    if (Date.now() - started > 10_000) {
      await stop();
      throw new Error(`Cannot use the nats-server started on port ${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  console.log(
    `nats-server: started on 127.0.0.1:${port} (pid ${child.pid}, store ${dir})`,
  );
  return { url: `127.0.0.1:${port}`, stop };
}

/** A demo process whose output is shown line by line under its name. */
interface Process {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  /** Resolves once the process printed "ready"; rejects if it exits first. */
  readonly ready: Promise<void>;
  /** Resolves when its output has ended. */
  readonly done: Promise<void>;
}

function start(name: string, script: string, args: string[], url: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, new URL(script, HERE).href, ...args],
    cwd: ROOT,
    env: { NATS_URL: url, NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const { promise: ready, resolve, reject } = Promise.withResolvers<void>();
  const show = async (stream: ReadableStream<Uint8Array>) => {
    let rest = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + text).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        console.log(`${name.padEnd(10)} | ${line}`);
        if (line.startsWith("ready")) resolve();
      }
    }
    if (rest !== "") console.log(`${name.padEnd(10)} | ${rest}`);
  };
  const done = Promise.all([show(child.stdout), show(child.stderr)]).then(
    () => reject(new Error(`${name} exited before it was ready`)),
  );
  ready.catch(() => {});
  return { name, child, ready, done } satisfies Process;
}

async function stopWorker(worker: Process): Promise<number> {
  await worker.child.stdin.close().catch(() => {});
  const timer = setTimeout(() => {
    try {
      worker.child.kill("SIGKILL");
    } catch {
      // It has exited.
    }
  }, STOP_WAIT_MS);
  const { code } = await worker.child.status;
  clearTimeout(timer);
  await worker.done;
  return code;
}

if (import.meta.main) {
  const url = Deno.args[0] ?? Deno.env.get("NATS_URL") ?? "127.0.0.1:4222";
  // Ctrl-C reaches every process of the terminal's group: the dispatcher
  // stops, the workers drain, and this one cleans up after them.
  const ignore = () => {};
  Deno.addSignalListener("SIGINT", ignore);
  let server: OwnServer | undefined;
  const workers: Process[] = [];
  let code = 1;
  try {
    const { hostname, port } = hostAndPort(url);
    let servers = url;
    if (await reachable(hostname, port)) {
      console.log(`nats-server: using the one at ${url}`);
    } else {
      console.log(`nats-server: none at ${url}`);
      server = await startNatsServer();
      servers = server.url;
    }

    for (const [name, modules] of Object.entries(WORKERS)) {
      workers.push(start(name, "worker.ts", [...modules], servers));
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `Cannot run the dispatcher as the workers were not ready within ${READY_WAIT_MS} ms`,
            ),
          ),
        READY_WAIT_MS,
      );
    });
    try {
      await Promise.race([
        Promise.all(workers.map((worker) => worker.ready)),
        late,
      ]);
    } finally {
      clearTimeout(timer);
    }

    const dispatcher = start("dispatcher", "dispatcher.ts", [], servers);
    await dispatcher.child.stdin.close();
    code = (await dispatcher.child.status).code;
    await dispatcher.done;
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    code = 1;
  } finally {
    const stopped = await Promise.all(workers.map(stopWorker));
    if (code === 0 && stopped.some((workerCode) => workerCode !== 0)) code = 1;
    if (server !== undefined) {
      await server.stop();
      console.log("nats-server: stopped");
    }
    Deno.removeSignalListener("SIGINT", ignore);
  }
  Deno.exitCode = code;
}
