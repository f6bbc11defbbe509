import { deepStrictEqual, match, ok, throws } from "node:assert/strict";
import type { DispatchRecord } from "../src/observability/mod.ts";
import {
  type InteractionMap,
  interactionMap,
  renderReport,
} from "../src/observability/report.ts";
import {
  type Box,
  CHARACTER_PX,
  columns,
  LABEL_PADDING,
  layoutInteractionMap,
  LINE_PX,
  NAME_CHARACTER_PX,
  NAME_LINE_PX,
  NODE_PADDING,
  type TextLine,
} from "../src/observability/_interaction_map_layout.ts";

function record(
  kind: DispatchRecord["kind"],
  type: string,
  identity: Partial<DispatchRecord> = {},
  durationMs = 1,
  failed = false,
): DispatchRecord {
  return {
    ts: "2026-02-12T14:30:45.000000Z",
    kind,
    type,
    payload: null,
    durationMs,
    result: null,
    error: failed ? { name: "Error", message: "no" } : null,
    ...identity,
  };
}

/** The body of `<section id="...">`. */
function section(html: string, id: string): string {
  return html.split(`<section id="${id}">`)[1]!.split("</section>")[0]!;
}

/**
 * A checkout, as a recorder writes it: each dispatch when it ends, so the
 * dispatches a handler makes come before the handler's own. orders'
 * PlaceOrder (from outside) asks users and inventory, and inventory asks
 * orders back (a cycle); OrderPlaced fans out to two subscribers: one names
 * its module (inventory), one does not (it sends an email).
 */
function checkout(n: number, durationMs: number): DispatchRecord[] {
  const place = `place-${n}`;
  const reserve = `reserve-${n}`;
  const placed = `placed-${n}`;
  return [
    record("query", "users.GetUser", { id: `user-${n}`, causationId: place }),
    record("query", "orders.GetOrder", {
      id: `order-${n}`,
      causationId: reserve,
    }),
    record(
      "command",
      "inventory.ReserveStock",
      { id: reserve, causationId: place },
      durationMs,
      n === 0,
    ),
    record("command", "inventory.Allocate", {
      id: `allocate-${n}`,
      causationId: placed,
      origin: "inventory",
    }),
    record("task", "notifications.SendEmail", {
      id: `email-${n}`,
      causationId: placed,
    }),
    record("event", "orders.OrderPlaced", { id: placed, causationId: place }),
    record("command", "orders.PlaceOrder", { id: place }),
  ];
}

const CHECKOUTS: DispatchRecord[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
  .flatMap((ms, n) => checkout(n, ms));

Deno.test("interactionMap() draws an edge from the dispatching module to the message's module, per type", () => {
  const map = interactionMap(CHECKOUTS);
  deepStrictEqual(map.modules, [
    { name: "inventory", handled: 20, errors: 1 },
    { name: "notifications", handled: 10, errors: 0 },
    { name: "orders", handled: 30, errors: 0 },
    { name: "users", handled: 10, errors: 0 },
  ]);
  const shape = (
    edge: InteractionMap["edges"][number],
  ) => [edge.from, edge.to, edge.type, edge.kind, edge.count, edge.fromEvent];
  deepStrictEqual(map.edges.map(shape), [
    // The subscriber named its module.
    ["inventory", "inventory", "inventory.Allocate", "command", 10, false],
    // The cause is a command of inventory: its handler is inventory's.
    ["inventory", "orders", "orders.GetOrder", "query", 10, false],
    ["orders", "inventory", "inventory.ReserveStock", "command", 10, false],
    // The cause is an event and no origin: from the event's module, marked.
    ["orders", "notifications", "notifications.SendEmail", "task", 10, true],
    ["orders", "orders", "orders.OrderPlaced", "event", 10, false],
    ["orders", "users", "users.GetUser", "query", 10, false],
  ]);
  const reserve = map.edges[2]!;
  deepStrictEqual(
    [reserve.p50Ms, reserve.p95Ms, reserve.errors],
    [5, 10, 1],
  );
  deepStrictEqual(map.entries, [{
    to: "orders",
    type: "orders.PlaceOrder",
    kind: "command",
    count: 10,
    p50Ms: 1,
    p95Ms: 1,
    errors: 0,
  }]);
  deepStrictEqual([map.unresolved, map.untracked], [[], 0]);
});

Deno.test("interactionMap() resolves a cause wherever it is in the recording", () => {
  const before = interactionMap([
    record("command", "orders.PlaceOrder", { id: "1" }),
    record("query", "users.GetUser", { id: "2", causationId: "1" }),
  ]);
  const after = interactionMap([
    record("query", "users.GetUser", { id: "2", causationId: "1" }),
    record("command", "orders.PlaceOrder", { id: "1" }),
  ]);
  deepStrictEqual(before, after);
  deepStrictEqual(before.edges.map((edge) => [edge.from, edge.to]), [[
    "orders",
    "users",
  ]]);
});

Deno.test("interactionMap() keeps both directions of a cycle, loops and every type apart", () => {
  const map = interactionMap([
    record("command", "a.Do", { id: "a1" }),
    record("command", "b.Do", { id: "b1" }),
    record("query", "b.Get", { id: "x1", causationId: "a1" }),
    record("query", "b.Find", { id: "x2", causationId: "a1" }),
    record("query", "a.Get", { id: "x3", causationId: "b1" }),
    record("query", "a.Get", { id: "x4", causationId: "a1" }),
    // The same type from the same module, once from its event: two edges.
    record("event", "a.Done", { id: "e1", causationId: "a1" }),
    record("query", "b.Get", { id: "x5", causationId: "e1" }),
  ]);
  deepStrictEqual(
    map.edges.map((edge) =>
      `${edge.from}>${edge.to} ${edge.type} ${edge.fromEvent}`
    ),
    [
      "a>a a.Done false",
      "a>a a.Get false",
      "a>b b.Find false",
      "a>b b.Get false",
      "a>b b.Get true",
      "b>a a.Get false",
    ],
  );
});

Deno.test("interactionMap() counts entries, unknown causes and records without identity, and loses none", () => {
  const map = interactionMap([
    // Outermost: an id and no cause.
    record("query", "users.GetUser", { id: "1" }),
    // Its cause is not in the recording.
    record("query", "users.GetUser", { id: "2", causationId: "gone" }, 4, true),
    // An origin says where it came from, cause or no cause.
    record("query", "users.GetUser", { id: "3", origin: "billing" }),
    record("query", "users.GetUser", {
      causationId: "gone",
      origin: "billing",
    }),
    // No identity at all, as in a recording without dispatch ids.
    record("query", "users.GetUser"),
    // A name without a dot is its own module.
    record("task", "Cleanup", { id: "4" }),
    // Identity fields that are not strings are left out, as readRecording does.
    record("task", "Cleanup", { id: 5, causationId: null } as never),
  ]);
  deepStrictEqual(map.modules, [
    { name: "Cleanup", handled: 2, errors: 0 },
    // Dispatches, handles nothing.
    { name: "billing", handled: 0, errors: 0 },
    { name: "users", handled: 5, errors: 1 },
  ]);
  deepStrictEqual(
    map.edges.map((edge) => [edge.from, edge.to, edge.count]),
    [["billing", "users", 2]],
  );
  deepStrictEqual(
    map.entries.map((entry) => [entry.to, entry.type, entry.count]),
    [["Cleanup", "Cleanup", 1], ["users", "users.GetUser", 1]],
  );
  deepStrictEqual(map.unresolved, [{
    to: "users",
    type: "users.GetUser",
    kind: "query",
    count: 1,
    p50Ms: 4,
    p95Ms: 4,
    errors: 1,
  }]);
  deepStrictEqual(map.untracked, 2);
});

Deno.test("interactionMap() refuses what is not a recording", () => {
  throws(() => interactionMap(42 as never), {
    name: "TypeError",
    message:
      "Cannot build interaction map as 'records' must be an iterable of dispatch records: current value is 42",
  });
  throws(
    () => interactionMap([record("query", "a.B"), { kind: "query" }] as never),
    {
      name: "TypeError",
      message:
        "Cannot build interaction map as record 1 must be a dispatch record, with a string 'kind' and 'type' and a number 'durationMs': current value is an object with kind",
    },
  );
});

Deno.test("renderReport() gives the same map as interactionMap() and draws it first", () => {
  const report = renderReport(CHECKOUTS);
  deepStrictEqual(report.map, interactionMap(CHECKOUTS));
  const sections = [...report.html.matchAll(/<section id="([^"]+)">/g)].map((
    m,
  ) => m[1]);
  deepStrictEqual(sections[0], "interactions");
  const body = section(report.html, "interactions");
  match(body, /4 modules, 6 arrows; 10 dispatches from outside\./);
  match(
    body,
    /<svg class="map" viewBox="0 0 (\d+) (\d+)" width="\1" height="\2"/,
  );
  // Six arrows, a label for each, and a table of them.
  deepStrictEqual(body.match(/<g class="link /g)?.length, 6);
  deepStrictEqual(body.match(/<g class="label /g)?.length, 6);
  deepStrictEqual(
    body.split('<table id="interaction-edges">')[1]!.split("</table>")[0]!
      .match(/<tr><td>/g)?.length,
    6,
  );
  // Dashed: the email sent on orders' event, drawn from orders.
  deepStrictEqual(body.match(/class="link k-task from-event"/g)?.length, 1);
  match(body, /<text [^>]*class="type">SendEmail<\/text>/);
  match(body, /<text [^>]*class="entry">→ 10 from outside<\/text>/);
  match(
    body,
    /<table id="entries">\n.*\n<tr><td>orders<\/td><td>orders\.PlaceOrder<\/td><td>command<\/td><td class="n">10<\/td>/,
  );
  // Nothing external, and no references at all.
  deepStrictEqual(
    /<script|<link|src=|href=|@import|url\(/i.test(report.html),
    false,
  );
});

Deno.test("renderReport() says why there is no map for records without identity", () => {
  const old = renderReport([record("query", "users.GetUser")]);
  const body = section(old.html, "interactions");
  match(body, /<p class="none">None: no record carries a dispatch id/);
  deepStrictEqual(body.includes("<svg"), false);
  match(
    section(renderReport([]).html, "interactions"),
    /<p class="none">None\.<\/p>/,
  );
  // Some with and some without: the map says how many it could not place.
  const mixed = renderReport([...CHECKOUTS, record("query", "users.GetUser")]);
  match(
    section(mixed.html, "interactions"),
    /1 record without a dispatch id, counted in their module only/,
  );
});

Deno.test("renderReport() escapes module and message names in the map", () => {
  const { html } = renderReport([
    record("command", "<b>x</b>.Do", { id: "1" }),
    record("query", "y.Get&", { id: "2", causationId: "1" }),
    record("query", "y.Get&", {
      id: "3",
      origin: '"><script>alert(1)</script>',
    }),
    record("<i>" as never, "y.Odd", { id: "4", causationId: "1" }),
  ]);
  deepStrictEqual(/<script|<i>|<b>/.test(html), false);
  const body = section(html, "interactions");
  match(body, /&lt;b&gt;x&lt;\/b&gt;/);
  match(body, /Get&amp;/);
  match(body, /&quot;&gt;&lt;script&gt;/);
  match(body, /\(&lt;i&gt;\)/);
  // A kind that is not one of the four gets the neutral colour.
  match(body, /class="link k-other"/);
  match(body, /class="link k-query"/);
  deepStrictEqual(/class="[^"]*[<>&][^"]*"/.test(body), false);
});

// ---------------------------------------------------------------------------
// Layout

function lineWidth(line: TextLine): number {
  return columns(line.text) *
    (line.tone === "name" ? NAME_CHARACTER_PX : CHARACTER_PX);
}

/** A label's or module's box, from its lines and its centre in the layout. */
function boxFromText(
  laid: Box,
  lines: readonly TextLine[],
  padding: { x: number; y: number },
): Box {
  let width = 0;
  let height = 0;
  for (const line of lines) {
    width = Math.max(width, lineWidth(line));
    height += line.tone === "name" ? NAME_LINE_PX : LINE_PX;
  }
  width += 2 * padding.x;
  height += 2 * padding.y;
  const cx = laid.x + laid.width / 2;
  const cy = laid.y + laid.height / 2;
  return { x: cx - width / 2, y: cy - height / 2, width, height };
}

function overlap(a: Box, b: Box): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width &&
    a.y < b.y + b.height && b.y < a.y + a.height;
}

const MODULES = [
  "accounts",
  "analytics",
  "audit",
  "billing",
  "catalog",
  "checkout",
  "compliance",
  "customers",
  "delivery",
  "discounts",
  "documents",
  "fraud",
  "fulfilment",
  "identity",
  "inventory",
  "invoicing",
  "loyalty",
  "marketing",
  "notifications",
  "orders",
  "payments",
  "pricing",
  "procurement",
  "recommendations-and-personalisation",
  "returns",
  "reviews",
  "search",
  "shipping",
  "subscriptions",
  "users",
];

/**
 * 30 modules and 100 edges, from a fixed seed: fan-out, cycles, loops,
 * edges from events, long names.
 */
function bigRecording(): DispatchRecord[] {
  let seed = 7;
  const random = () =>
    (seed = (seed * 1103515245 + 12345) % 2147483648) /
    2147483648;
  const pick = <T>(list: readonly T[]) =>
    list[Math.floor(random() * list.length)]!;
  const verbs = ["Get", "Create", "Cancel", "Sync", "Reserve", "Notify"];
  const nouns = ["Account", "Order", "Price", "Stock", "Invoice", "Shipment"];
  const kinds = ["query", "command", "event", "task"] as const;
  const records: DispatchRecord[] = [];
  const seen = new Set<string>();
  let next = 0;
  while (seen.size < 100) {
    const from = pick(MODULES);
    const to = random() < 0.1 ? from : pick(MODULES);
    const type = seen.size % 17 === 0
      ? `${to}.RecalculateEverythingForTheQuarterlyReport${seen.size}`
      : `${to}.${pick(verbs)}${pick(nouns)}`;
    const fromEvent = random() < 0.15;
    const key = `${from} ${type} ${fromEvent}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const cause = `c${next++}`;
    records.push(
      record(fromEvent ? "event" : "command", `${from}.Cause${seen.size}`, {
        id: cause,
      }),
    );
    const count = 1 + Math.floor(random() * 40);
    for (let i = 0; i < count; i++) {
      records.push(
        record(
          pick(kinds),
          type,
          { id: `r${next++}`, causationId: cause },
          random() * 30,
          random() < 0.05,
        ),
      );
    }
  }
  return records;
}

Deno.test("layoutInteractionMap() keeps every label clear of the others and of the modules, for 30 modules and 100 edges", () => {
  const map = interactionMap(bigRecording());
  deepStrictEqual([map.modules.length, map.edges.length], [30, 100]);
  const layout = layoutInteractionMap(map);
  deepStrictEqual(layout, layoutInteractionMap(map));
  const labels = layout.edges.map((edge) =>
    boxFromText(edge.label, edge.lines, LABEL_PADDING)
  );
  const nodes = layout.nodes.map((node) =>
    boxFromText(node.box, node.lines, NODE_PADDING)
  );
  // The layout's own boxes are the ones the text needs.
  layout.edges.forEach((edge, i) => {
    ok(Math.abs(edge.label.width - labels[i]!.width) < 0.01);
    ok(Math.abs(edge.label.height - labels[i]!.height) < 0.01);
  });
  const all = [
    ...nodes.map((box, i) => ({ box, what: `module ${map.modules[i]!.name}` })),
    ...labels.map((box, i) => ({
      box,
      what: `label of ${map.edges[i]!.from} > ${map.edges[i]!.type}`,
    })),
  ];
  for (let a = 0; a < all.length; a++) {
    const { box, what } = all[a]!;
    ok(
      box.x >= 0 && box.y >= 0 && box.x + box.width <= layout.width &&
        box.y + box.height <= layout.height,
      `${what} inside the map`,
    );
    for (let b = a + 1; b < all.length; b++) {
      ok(!overlap(box, all[b]!.box), `${what} overlaps ${all[b]!.what}`);
    }
  }
  // No wider than a 1280-pixel window with the page's margins.
  ok(layout.width <= 1216, `width ${layout.width}`);
  // Text is cut to a readable length: the full name is in the tooltip.
  const long = layout.nodes.find((node) =>
    node.name.startsWith("recommendations")
  )!;
  deepStrictEqual(long.lines[0]!.text, "recommendations-and-per…");
});

Deno.test("renderReport() draws the labels of 30 modules and 100 edges where the page says they are", () => {
  const { html } = renderReport(bigRecording());
  const svg =
    section(html, "interactions").match(/<svg class="map"[\s\S]*?<\/svg>/)![0];
  const [, width, height] = svg.match(/viewBox="0 0 (\d+) (\d+)"/)!.map(Number);
  const blocks = [
    ...svg.matchAll(
      /<rect x="([^"]+)" y="([^"]+)" width="([^"]+)" height="([^"]+)" rx="[36]"\/>((?:<text [^>]*>[^<]*<\/text>)+)/g,
    ),
  ].map((m) => ({
    box: { x: +m[1]!, y: +m[2]!, width: +m[3]!, height: +m[4]! },
    texts: [
      ...m[5]!.matchAll(
        /<text x="([^"]+)" y="([^"]+)" class="([^"]+)">([^<]*)<\/text>/g,
      ),
    ].map((t) => ({
      x: +t[1]!,
      y: +t[2]!,
      tone: t[3]!,
      text: t[4]!.replace(/&amp;/g, "&").replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&#39;/g, "'"),
    })),
  }));
  deepStrictEqual(blocks.length, 130);
  for (const [a, { box, texts }] of blocks.entries()) {
    ok(
      box.x >= 0 && box.y >= 0 && box.x + box.width <= width! &&
        box.y + box.height <= height!,
    );
    // Each line, centred, fits its box: it is 11px (or 12px) monospace.
    for (const text of texts) {
      const half = lineWidth(text as TextLine) / 2;
      ok(
        text.x - half >= box.x && text.x + half <= box.x + box.width,
        `"${text.text}" fits across`,
      );
      ok(
        text.y - 11 >= box.y && text.y + 2 <= box.y + box.height,
        `"${text.text}" fits down`,
      );
    }
    for (const other of blocks.slice(a + 1)) {
      ok(
        !overlap(box, other.box),
        `${texts[0]!.text} / ${other.texts[0]!.text}`,
      );
    }
  }
});

Deno.test("layoutInteractionMap() bends the two directions of a cycle apart and draws loops outside the module", () => {
  const map = interactionMap(CHECKOUTS);
  const layout = layoutInteractionMap(map);
  const edge = (from: string, type: string) =>
    layout.edges.find((laid) =>
      laid.edge.from === from && laid.edge.type === type
    )!;
  const center = (name: string) => {
    const { box } = layout.nodes.find((node) => node.name === name)!;
    return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  };
  // The side of the line from inventory to orders that a control point is on.
  const side = (control: { x: number; y: number }) => {
    const a = center("inventory");
    const b = center("orders");
    return Math.sign(
      (b.x - a.x) * (control.y - a.y) - (b.y - a.y) * (control.x - a.x),
    );
  };
  const there = edge("orders", "inventory.ReserveStock");
  const back = edge("inventory", "orders.GetOrder");
  deepStrictEqual([there.curve.length, back.curve.length], [3, 3]);
  deepStrictEqual(side(there.curve[1]!) * side(back.curve[1]!), -1);
  const middle = (curve: readonly { x: number; y: number }[]) => ({
    x: (curve[0]!.x + 2 * curve[1]!.x + curve[2]!.x) / 4,
    y: (curve[0]!.y + 2 * curve[1]!.y + curve[2]!.y) / 4,
  });
  const apart = Math.hypot(
    middle(there.curve).x - middle(back.curve).x,
    middle(there.curve).y - middle(back.curve).y,
  );
  ok(apart >= 30, `${apart} pixels apart`);
  // A loop is a cubic curve whose middle is outside its module's box.
  const loop = edge("orders", "orders.OrderPlaced");
  deepStrictEqual(loop.curve.length, 4);
  const { box } = layout.nodes.find((node) => node.name === "orders")!;
  const [p0, p1, p2, p3] = loop.curve;
  const apex = {
    x: (p0!.x + 3 * p1!.x + 3 * p2!.x + p3!.x) / 8,
    y: (p0!.y + 3 * p1!.y + 3 * p2!.y + p3!.y) / 8,
  };
  ok(!overlap(box, { ...apex, width: 0.1, height: 0.1 }));
  // Arrowheads end at the module that owns the message.
  const tip = there.arrow[0]!;
  const inventory = layout.nodes.find((node) => node.name === "inventory")!.box;
  ok(
    tip.x >= inventory.x - 3 && tip.x <= inventory.x + inventory.width + 3 &&
      tip.y >= inventory.y - 3 && tip.y <= inventory.y + inventory.height + 3,
  );
});

Deno.test("layoutInteractionMap() lays out one module, and two, without overlaps", () => {
  for (
    const records of [
      [
        record("command", "a.Do", { id: "1" }),
        record("query", "a.Get", { id: "2", causationId: "1" }),
      ],
      [
        record("command", "a.Do", { id: "1" }),
        record("query", "b.Get", { id: "2", causationId: "1" }),
        record("command", "b.Do", { id: "3" }),
        record("query", "a.Get", { id: "4", causationId: "3" }),
      ],
    ]
  ) {
    const layout = layoutInteractionMap(interactionMap(records));
    const boxes = [
      ...layout.nodes.map((node) => node.box),
      ...layout.edges.map((edge) => edge.label),
    ];
    boxes.forEach((box, a) => {
      ok(box.x >= 0 && box.y >= 0 && box.x + box.width <= layout.width);
      for (const other of boxes.slice(a + 1)) ok(!overlap(box, other));
    });
  }
});

// ---------------------------------------------------------------------------
// A million records

Deno.test("deno task report maps a run file of a million records with ids in a 64 MB heap", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/run-2026-02-12T14-30-00-000000Z-1.jsonl`;
    const uuid = (n: number) =>
      `0190f6a2-7c3e-7000-8000-${n.toString(16).padStart(12, "0")}`;
    // Groups of four, in the order they end: GetUser (asked by PlaceOrder),
    // SendEmail (sent on OrderPlaced), OrderPlaced (published by
    // PlaceOrder), PlaceOrder (from outside).
    const shapes = [
      ["query", "users.GetUser", 3],
      ["task", "notifications.SendEmail", 2],
      ["event", "orders.OrderPlaced", 3],
      ["command", "orders.PlaceOrder", -1],
    ] as const;
    {
      using file = await Deno.open(path, { write: true, create: true });
      const encoder = new TextEncoder();
      for (let chunk = 0; chunk < 20; chunk++) {
        const lines: string[] = [];
        for (let i = chunk * 50_000; i < (chunk + 1) * 50_000; i++) {
          const [kind, type, cause] = shapes[i % 4]!;
          const group = i - (i % 4);
          lines.push(
            `{"ts":"2026-02-12T14:30:00.000000Z","type":"${kind}","class":"${type}","payload":null,"duration_ns":${
              (i % 997) * 1000
            },"result":null,"error":null,"id":"${uuid(i)}","correlation_id":"${
              uuid(group + 3)
            }"${
              cause === -1 ? "" : `,"causation_id":"${uuid(group + cause)}"`
            }}\n`,
          );
        }
        const bytes = encoder.encode(lines.join(""));
        for (let written = 0; written < bytes.length;) {
          written += await file.write(bytes.subarray(written));
        }
      }
    }
    const { success, stdout, stderr } = await new Deno.Command(
      Deno.execPath(),
      {
        args: [
          "run",
          "-R",
          "-W",
          // The same heap as the report of a recording without ids: the
          // map's tables are typed arrays, outside it.
          "--v8-flags=--max-old-space-size=64",
          new URL("../src/observability/report.ts", import.meta.url).pathname,
          path,
        ],
        stdout: "piped",
        stderr: "piped",
      },
    ).output();
    deepStrictEqual(success, true, new TextDecoder().decode(stderr));
    const printed = new TextDecoder().decode(stdout);
    match(
      printed,
      /Modules: 3, arrows between them: 3, types dispatched from outside: 1, dispatches whose cause is not in the recording: 0/,
    );
    const html = await Deno.readTextFile(path.replace(/\.jsonl$/, ".html"));
    const body = section(html, "interactions");
    match(body, /3 modules, 3 arrows; 250000 dispatches from outside\./);
    match(
      body,
      /<tr><td>orders <span class="muted">\(its event\)<\/span><\/td><td>notifications<\/td><td>notifications\.SendEmail<\/td><td>task<\/td><td class="n">250000<\/td>/,
    );
    match(
      body,
      /<tr><td>orders<\/td><td>users<\/td><td>users\.GetUser<\/td><td>query<\/td><td class="n">250000<\/td>/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
