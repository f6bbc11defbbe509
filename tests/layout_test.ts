// The layout's rules, checked on the source: core depends on nothing, the
// families depend on core only, and built-ins use no private channels.
import { deepStrictEqual } from "node:assert/strict";

const root = new URL("../", import.meta.url);

async function sources(folder: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for await (const entry of Deno.readDir(new URL(folder, root))) {
    if (entry.isFile && entry.name.endsWith(".ts")) {
      const path = `${folder}${entry.name}`;
      files.set(path, await Deno.readTextFile(new URL(path, root)));
    }
  }
  return files;
}

// The specifiers a module imports or re-exports, comments (and the examples
// in them) left out.
function imports(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(
    /^\s*\/\/.*$/gm,
    "",
  );
  return [...code.matchAll(/^(?:import|export)\b[^;]*?from "([^"]+)";/gm)]
    .map((match) => match[1]!);
}

const FAMILIES = ["core", "observability", "resilience", "testing", "nats"];

// The npm clients a transport family may import, and only it.
const CLIENTS: Readonly<Record<string, readonly string[]>> = {
  nats: ["@nats-io/transport-node", "@nats-io/jetstream"],
};

Deno.test("core imports nothing outside src/core", async () => {
  const outside: string[] = [];
  for (const [path, text] of await sources("src/core/")) {
    for (const specifier of imports(text)) {
      if (!specifier.startsWith("./")) outside.push(`${path}: ${specifier}`);
    }
  }
  deepStrictEqual(outside, []);
});

Deno.test("each family imports only itself, core, node built-ins and, for a transport, its pinned client", async () => {
  const wrong: string[] = [];
  for (const family of FAMILIES.slice(1)) {
    for (const [path, text] of await sources(`src/${family}/`)) {
      for (const specifier of imports(text)) {
        const allowed = specifier.startsWith("./") ||
          specifier.startsWith("../core/") || specifier.startsWith("node:") ||
          (CLIENTS[family] ?? []).includes(specifier);
        if (!allowed) wrong.push(`${path}: ${specifier}`);
      }
    }
  }
  deepStrictEqual(wrong, []);
});

Deno.test("built-in middleware use only the public contract: no context internals, casts or private channels", async () => {
  const leaks: string[] = [];
  for (const family of FAMILIES) {
    for (const [path, text] of await sources(`src/${family}/`)) {
      const checks: [RegExp, string][] = [
        [/\.slots\b|ContextSlots/, "slots"],
        [/REPEATS_NEXT/, "REPEATS_NEXT"],
        [/DELIVER_TO/, "DELIVER_TO"],
        [
          /^(?:export )?(?:const|let) [^\n]*new (?:WeakSet|WeakMap)\b/m,
          "a module-global registry",
        ],
      ];
      if (family !== "core") {
        checks.push(
          [/_context\.ts|_compose\.ts|_registry\.ts/, "core internals"],
          [/as Context\b/, "a cast to the private context"],
        );
      }
      for (const [pattern, what] of checks) {
        if (pattern.test(text)) leaks.push(`${path}: ${what}`);
      }
    }
  }
  deepStrictEqual(leaks, []);
});

Deno.test("importing the core loads only src/core: no file I/O, no report, no npm", async () => {
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", new URL("mod.ts", root).pathname],
    stdout: "piped",
    stderr: "null",
  }).output();
  deepStrictEqual(success, true);
  const graph = JSON.parse(new TextDecoder().decode(stdout)) as {
    modules: { specifier: string }[];
  };
  const loaded = graph.modules.map((module) =>
    module.specifier.replace(root.href, "")
  );
  deepStrictEqual(
    loaded.filter((path) => path !== "mod.ts" && !path.startsWith("src/core/")),
    [],
  );
  deepStrictEqual(loaded.filter((path) => path.includes("_jsonl_writer")), []);
});
