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

// A family is a folder of src/; the value is where its folder sits under
// src/, so that "../core/" means the same from every one.
const FAMILIES = [
  "core",
  "observability",
  "resilience",
  "testing",
  "transports",
  "transports/nats",
  "outbox",
  "outbox/kv",
  "outbox/postgres",
];

// The npm clients a broker's folder may import, and only it.
const CLIENTS: Readonly<Record<string, readonly string[]>> = {
  "transports/nats": ["@nats-io/transport-node", "@nats-io/jetstream"],
  "outbox/postgres": ["postgres"],
};

// What a family may import besides itself, core and node built-ins: a
// broker's folder, the transport seam above it.
const ALSO: Readonly<Record<string, readonly string[]>> = {
  "transports/nats": ["../_remote_bus.ts", "../_wire.ts"],
  // A store's folder: the outbox above it.
  "outbox/kv": ["../outbox.ts"],
  "outbox/postgres": ["../outbox.ts"],
  // The fakes for unit tests include the memory outbox.
  testing: ["../outbox/memory.ts", "../outbox/outbox.ts"],
};

// The transport seam is a bus: it is built from the bus's own parts (the
// context, the chain, the registry), which middleware never touch.
const BUILT_FROM_CORE_INTERNALS = new Set(["transports"]);

function toCore(family: string): string {
  return `${"../".repeat(family.split("/").length)}core/`;
}

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
          specifier.startsWith(toCore(family)) ||
          specifier.startsWith("node:") ||
          (CLIENTS[family] ?? []).includes(specifier) ||
          (ALSO[family] ?? []).includes(specifier);
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
      if (family !== "core" && !BUILT_FROM_CORE_INTERNALS.has(family)) {
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
