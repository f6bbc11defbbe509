/**
 * The core needs nothing from a package registry: the demo runs with an
 * empty Deno cache and an npm registry that refuses every connection. It is
 * run with `deno run`, the demo task's own command: `deno task` first
 * installs every npm package the root `deno.json` declares, and the NATS
 * client (imported only by `./nats`) is one. An npm import reached from the
 * core would make `deno run` download it, and fail here.
 *
 * @module
 */

import assert from "node:assert/strict";

const root = new URL("..", import.meta.url);

/** A loopback port that nothing listens on: bound once, then released. */
function closedLoopbackPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

Deno.test("the demo runs with an empty DENO_DIR and no npm registry", async () => {
  const home = await Deno.makeTempDir({ prefix: "message-bus-offline-" });
  const recordings = new URL("recordings/", root);
  const hadRecordings = await Deno.stat(recordings).then(
    () => true,
    () => false,
  );
  try {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "examples/modular_monolith.ts",
      ],
      cwd: root,
      env: {
        DENO_DIR: `${home}/deno`,
        NPM_CONFIG_REGISTRY: `http://127.0.0.1:${closedLoopbackPort()}/`,
        // Keeps a registry set in the user's ~/.npmrc out of the experiment.
        HOME: home,
        DENO_NO_UPDATE_CHECK: "1",
        NO_COLOR: "1",
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    const stderr = new TextDecoder().decode(output.stderr);

    assert.equal(output.code, 0, stderr);
    assert.doesNotMatch(stderr, /Download/);
    assert.match(stdout, /Emails sent:\n {2}ada@example\.com: Welcome!/);

    // The demo writes a recording and its report under ./recordings.
    for (const [, path] of stdout.matchAll(/^(?:Recording|Report): +(\S+)/gm)) {
      await Deno.remove(new URL(path!, root));
    }
  } finally {
    await Deno.remove(home, { recursive: true });
    if (!hadRecordings) await Deno.remove(recordings).catch(() => {});
  }
});
