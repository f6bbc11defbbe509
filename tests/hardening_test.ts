// Faults and hostile input on the core buses and the middleware around them.
import { deepStrictEqual } from "node:assert/strict";

const root = new URL("../", import.meta.url);

/** Runs `code` in a child Deno process; resolves with its exit and time. */
async function runChild(code: string): Promise<
  { success: boolean; ms: number; stdout: string; stderr: string }
> {
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", new URL("deno.json", root).pathname, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(code));
  await writer.close();
  const { success, stdout, stderr } = await child.output();
  return {
    success,
    ms: performance.now() - started,
    stdout: new TextDecoder().decode(stdout),
    stderr: new TextDecoder().decode(stderr),
  };
}

Deno.test("timeout() does not keep the process alive after the last dispatch", async () => {
  const { success, ms, stdout, stderr } = await runChild(`
    import { createAsyncBus, defineQuery } from "${new URL("mod.ts", root)}";
    import { timeout } from "${new URL("src/resilience/mod.ts", root)}";
    const Ping = defineQuery("Ping");
    const bus = createAsyncBus({ middleware: [timeout({ defaultMs: 30_000 })] });
    bus.registerQuery(Ping, () => "pong");
    console.log(await bus.send(Ping()));
  `);
  deepStrictEqual([success, stdout.trim()], [true, "pong"], stderr);
  // With the timer kept alive the process would live for 30 s.
  deepStrictEqual(ms < 10_000, true, `the process lived ${ms} ms`);
});
