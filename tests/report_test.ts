import { deepStrictEqual, match, ok, throws } from "node:assert/strict";
import type { DispatchRecord } from "../src/observability/mod.ts";
import { renderReport } from "../src/observability/report.ts";

function record(
  index: number,
  kind: DispatchRecord["kind"],
  type: string,
  durationMs: number,
  error: DispatchRecord["error"] = null,
): DispatchRecord {
  const seconds = String(index % 60).padStart(2, "0");
  return {
    ts: `2026-02-12T14:30:${seconds}.000000Z`,
    kind,
    type,
    payload: { index },
    durationMs,
    result: null,
    error,
  };
}

// A known recording: GetUser takes 1..100 ms (one failure at 100 ms),
// SendEmail 5 ms four times, one of which fails.
const KNOWN: DispatchRecord[] = [
  ...Array.from({ length: 100 }, (_, i) =>
    record(
      i,
      "query",
      "GetUser",
      i + 1,
      i === 99 ? { name: "TimeoutError", message: "db <slow>" } : null,
    )),
  ...Array.from({ length: 4 }, (_, i) =>
    record(
      100 + i,
      "task",
      "SendEmail",
      5,
      i === 0 ? { name: "Error", message: "smtp down" } : null,
    )),
];

Deno.test("renderReport() computes count, errors and percentiles per type", () => {
  const { rows, table } = renderReport(KNOWN);
  deepStrictEqual(rows, [
    {
      type: "GetUser",
      kind: "query",
      count: 100,
      errors: 1,
      p50Ms: 50,
      p95Ms: 95,
      p99Ms: 99,
      maxMs: 100,
    },
    {
      type: "SendEmail",
      kind: "task",
      count: 4,
      errors: 1,
      p50Ms: 5,
      p95Ms: 5,
      p99Ms: 5,
      maxMs: 5,
    },
  ]);
  deepStrictEqual(
    table,
    [
      "type       kind   count  errors  p50 ms  p95 ms  p99 ms",
      "GetUser    query    100       1    50.0    95.0    99.0",
      "SendEmail  task       4       1    5.00    5.00    5.00",
    ].join("\n"),
  );
});

Deno.test("renderReport() writes a self-contained HTML page with the same numbers", () => {
  const { html } = renderReport(KNOWN, { title: "Known <run>", slowest: 3 });
  match(html, /^<!doctype html>/);
  match(html, /<title>Known &lt;run&gt;<\/title>/);
  match(html, /104 dispatches, 2 failed, 2 message types\./);
  match(
    html,
    /<tr><td>GetUser<\/td><td>query<\/td><td class="n">100<\/td><td class="n">1<\/td><td class="n">50\.0<\/td><td class="n">95\.0<\/td><td class="n">99\.0<\/td><td class="n">100<\/td><\/tr>/,
  );
  match(
    html,
    /<tr><td>SendEmail<\/td><td>task<\/td><td class="n">4<\/td><td class="n">1<\/td>/,
  );
  // Charts are inline SVG: one histogram per type and the timeline.
  deepStrictEqual(html.match(/<svg /g)?.length, 3);
  // The slowest three, slowest first.
  const slowest = html.split('<table id="slowest">')[1]!.split("</table>")[0]!;
  deepStrictEqual(
    [...slowest.matchAll(/<td class="n">([^<]+)<\/td>/g)].map((m) => m[1]),
    ["100", "99.0", "98.0"],
  );
  // Failed dispatches, with escaped error text.
  const failed = html.split('<table id="failed">')[1]!.split("</table>")[0]!;
  match(failed, /TimeoutError: db &lt;slow&gt;/);
  match(failed, /Error: smtp down/);
  // Nothing external: no scripts, no links, no remote resources.
  deepStrictEqual(/<script|<link|src=|href=|@import|url\(/i.test(html), false);
});

Deno.test("renderReport() of an empty recording still renders", () => {
  const { rows, table, html } = renderReport([]);
  deepStrictEqual(rows, []);
  deepStrictEqual(table, "type  kind  count  errors  p50 ms  p95 ms  p99 ms");
  match(html, /0 dispatches, 0 failed, 0 message types\./);
});

Deno.test("deno task report prints the table and writes the HTML beside the newest run", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(
    `${dir}/run-2020-01-01T00-00-00-000000Z-1.jsonl`,
    "",
  );
  const newest = `${dir}/run-2026-02-12T14-30-00-000000Z-1.jsonl`;
  await Deno.writeTextFile(
    newest,
    KNOWN.map((r) =>
      // The on-disk form of a record.
      JSON.stringify({
        ts: r.ts,
        type: r.kind,
        class: r.type,
        payload: r.payload,
        duration_ns: Math.round(r.durationMs * 1e6),
        result: r.result,
        error: r.error,
      })
    ).join("\n") + "\n",
  );
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-R",
      "-W",
      new URL("../src/observability/report.ts", import.meta.url).pathname,
      dir,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  deepStrictEqual(success, true, new TextDecoder().decode(stderr));
  const printed = new TextDecoder().decode(stdout);
  match(printed, /: 104 dispatches/);
  deepStrictEqual(
    printed.includes("GetUser    query    100       1    50.0    95.0    99.0"),
    true,
  );
  const htmlPath = newest.replace(/\.jsonl$/, ".html");
  match(printed, new RegExp(`Report: ${htmlPath}`));
  match(await Deno.readTextFile(htmlPath), /<svg /);
  await Deno.remove(dir, { recursive: true });
});

// Helpers that read the page back.

/** The body of `<section id="...">`. */
function section(html: string, id: string): string {
  return html.split(`<section id="${id}">`)[1]!.split("</section>")[0]!;
}

function svgsOf(html: string): string[] {
  return [...html.matchAll(/<svg [^>]*>[\s\S]*?<\/svg>/g)].map((m) => m[0]);
}

interface SvgText {
  readonly x: number;
  readonly y: number;
  readonly cls: string;
  readonly text: string;
}

function textsOf(svg: string, cls?: string): SvgText[] {
  return [
    ...svg.matchAll(
      /<text x="([^"]+)" y="([^"]+)" class="([^"]+)">([^<]*)<\/text>/g,
    ),
  ].map((m) => ({ x: +m[1]!, y: +m[2]!, cls: m[3]!, text: m[4]! }))
    .filter((text) => cls === undefined || text.cls === cls);
}

function sizeOf(svg: string): { width: number; height: number } {
  const m = svg.match(/viewBox="0 0 (\d+) (\d+)"/)!;
  return { width: +m[1]!, height: +m[2]! };
}

/** Records at `ts`, one per duration, of one type. */
function timed(
  type: string,
  durationsMs: readonly number[],
  failedAt: readonly number[] = [],
): DispatchRecord[] {
  return durationsMs.map((durationMs, index) => ({
    ...record(index, "query", type, durationMs),
    error: failedAt.includes(index) ? { name: "Error", message: "no" } : null,
  }));
}

Deno.test("renderReport() draws every histogram over the same buckets, fastest to slowest of all types", () => {
  const fast = timed("Fast", [0.003, 0.004, 0.008, 0.009]);
  const slow = timed("Slow", [40, 60, 120]);
  const [fastSvg, slowSvg] = svgsOf(renderReport([...fast, ...slow]).html);
  const edges = (svg: string) => textsOf(svg, "x").map((t) => [t.x, t.text]);
  deepStrictEqual(edges(fastSvg!), edges(slowSvg!));
  const labels = edges(fastSvg!).sort((a, b) => +a[0]! - +b[0]!).map((e) =>
    e[1]
  );
  // From the bucket of the fastest (2 to 5 µs) to that of the slowest
  // (100 to 200 ms), labelled at the powers of ten, and at the ends where
  // there is room.
  deepStrictEqual(labels, ["2µs", "10µs", "100µs", "1ms", "10ms", "100ms"]);
  match(
    renderReport([...fast, ...slow]).html,
    /Every chart has the same buckets, from 2µs to 200ms/,
  );
  // Each duration is counted in its bucket, in the same place on both charts.
  const bars = (svg: string) =>
    [...svg.matchAll(/<rect x="([^"]+)"[^>]*class="bar"><title>([^<]*)</g)]
      .map((m) => [+m[1]!, m[2]]);
  deepStrictEqual(bars(fastSvg!), [
    [49, "2µs to 5µs: 2 dispatches"],
    [bars(fastSvg!)[1]![0], "5µs to 10µs: 2 dispatches"],
  ]);
  deepStrictEqual(bars(slowSvg!).map((bar) => bar[1]), [
    "20ms to 50ms: 1 dispatch",
    "50ms to 100ms: 1 dispatch",
    "100ms to 200ms: 1 dispatch",
  ]);
  ok(+bars(slowSvg!)[0]![0]! > +bars(fastSvg!)[1]![0]!);
});

Deno.test("renderReport() gives each histogram a count scale and keeps every label inside its chart", () => {
  // One tall bucket: its count label sits right at the top of the chart.
  const { html } = renderReport([
    ...timed("Busy", Array.from({ length: 1000 }, () => 1)),
    ...timed("Rare", [1, 1, 30]),
  ]);
  const [busy, rare] = svgsOf(html);
  deepStrictEqual(textsOf(busy!, "y").map((t) => t.text), [
    "0",
    "200",
    "400",
    "600",
    "800",
    "1000",
  ]);
  deepStrictEqual(textsOf(rare!, "y").map((t) => t.text), ["0", "1", "2"]);
  deepStrictEqual(textsOf(busy!, "count").map((t) => t.text), ["1000"]);
  deepStrictEqual(textsOf(rare!, "count").map((t) => t.text), ["2", "1"]);
  for (const svg of svgsOf(html)) {
    const { width, height } = sizeOf(svg);
    for (const text of textsOf(svg)) {
      // 11px text: its top is about 11px above its baseline.
      ok(text.y - 11 >= 0 && text.y <= height, `${text.text} at y ${text.y}`);
      const half = (text.text.length * 6.6) / 2;
      const [from, to] = text.cls.includes("end")
        ? [text.x - 2 * half, text.x]
        : text.cls === "y"
        ? [text.x - 2 * half, text.x]
        : text.cls === "edge"
        ? [text.x, text.x + 2 * half]
        : [text.x - half, text.x + half];
      ok(from >= 0 && to <= width, `${text.text} at x ${text.x}`);
    }
  }
});

Deno.test("renderReport() places dispatches in time to the microsecond and labels the time axis", () => {
  // Three dispatches within one millisecond, which Date.parse would merge.
  const within = ["000100", "000400", "000900"].map((micros) => ({
    ...record(0, "event", "Ticked", 1),
    ts: `2026-02-12T14:30:45.${micros}Z`,
  }));
  const timeline = svgsOf(section(renderReport(within).html, "timeline"))[0]!;
  const bars = [...timeline.matchAll(
    /class="bar"><title>\+([\d.]+) µs to \+([\d.]+) µs: 1 dispatch, 0 failed</g,
  )].map((m) => [+m[1]!, +m[2]!]);
  deepStrictEqual(bars.length, 3);
  [0, 300, 800].forEach((offsetUs, index) => {
    const [from, to] = bars[index]!;
    ok(from! <= offsetUs && offsetUs < to!, `${offsetUs} in ${bars[index]}`);
  });
  deepStrictEqual(textsOf(timeline, "x").map((t) => t.text), [
    "+0 µs",
    "+200 µs",
    "+400 µs",
    "+600 µs",
    "+800 µs",
  ]);
  deepStrictEqual(textsOf(timeline, "edge").map((t) => t.text), [
    "first start 2026-02-12T14:30:45.000100Z",
  ]);
  deepStrictEqual(textsOf(timeline, "edge end").map((t) => t.text), [
    "last start 2026-02-12T14:30:45.000900Z (+800 µs)",
  ]);

  // A quarter of a second, in milliseconds.
  const quarter = [0, 125_000, 250_000].map((offsetUs) => ({
    ...record(0, "event", "Ticked", 1),
    ts: `2026-02-12T14:30:45.${String(offsetUs).padStart(6, "0")}Z`,
  }));
  const longer = svgsOf(section(renderReport(quarter).html, "timeline"))[0]!;
  deepStrictEqual(textsOf(longer, "x").map((t) => t.text), [
    "+0 ms",
    "+50 ms",
    "+100 ms",
    "+150 ms",
    "+200 ms",
    "+250 ms",
  ]);
  match(section(renderReport(quarter).html, "timeline"), /in bars of 2\.5 ms/);
});

Deno.test("renderReport() explains red next to every chart that can show it", () => {
  for (const records of [KNOWN, timed("Fine", [1, 2])]) {
    const { html } = renderReport(records);
    for (const id of ["latency", "timeline"]) {
      const body = section(html, id);
      match(
        body,
        /<p class="legend"><span class="key"><\/span>dispatches <span class="key fail"><\/span>failed dispatches, drawn in red/,
      );
    }
  }
  const { html } = renderReport(KNOWN);
  // KNOWN has failures: red is drawn in both charts' sections, and nowhere
  // without a legend.
  for (const id of ["latency", "timeline"]) {
    match(section(html, id), /class="fail"/);
  }
  for (const id of ["types", "slowest-dispatches", "failed-dispatches"]) {
    deepStrictEqual(section(html, id).includes('class="fail"'), false);
  }
  match(
    section(renderReport(timed("Fine", [1])).html, "timeline"),
    /failed dispatches, drawn in red at the foot of each bar \(none in this recording\)/,
  );
});

Deno.test("renderReport() says none for every empty section", () => {
  const empty = renderReport([]).html;
  for (
    const id of [
      "interactions",
      "types",
      "latency",
      "timeline",
      "slowest-dispatches",
      "failed-dispatches",
    ]
  ) {
    const body = section(empty, id);
    match(body, /<p class="none">None\.<\/p>/, id);
    deepStrictEqual(/<table|<svg/.test(body), false, id);
  }
  const fine = renderReport(timed("Fine", [1, 2])).html;
  match(section(fine, "failed-dispatches"), /<p class="none">None\.<\/p>/);
  deepStrictEqual(section(fine, "failed-dispatches").includes("<table"), false);
});

Deno.test("renderReport() sets no text smaller than 11px", () => {
  const { html } = renderReport(KNOWN);
  const css = html.split("<style>")[1]!.split("</style>")[0]!;
  const sizes = [
    ...css.matchAll(/font-size:\s*([^;}]+)/g),
    ...css.matchAll(/font:\s*([^\s;/]+)/g),
    ...html.matchAll(/font-size="([^"]+)"/g),
  ].map((m) => m[1]!.trim());
  ok(sizes.length >= 4, String(sizes));
  for (const size of sizes) {
    const px = size.match(/^(\d+(?:\.\d+)?)px$/);
    ok(px !== null && +px[1]! >= 11, `font size ${size}`);
  }
  // SVG text is sized by the page's CSS, in the chart's own pixels.
  match(css, /svg text \{ font-size: 11px;/);
  for (const svg of svgsOf(html)) {
    const { width, height } = sizeOf(svg);
    match(svg, new RegExp(`width="${width}" height="${height}"`));
  }
});

Deno.test("renderReport() escapes what a recording says and shortens long payloads", () => {
  // A recording is read from a file: every field it gives may hold markup.
  const hostile = {
    ...record(0, "query", "<i>Type</i>", 1, { name: "<b>", message: "&" }),
    kind: "<script>" as DispatchRecord["kind"],
    payload: { text: "x".repeat(1000) },
  };
  const { html } = renderReport([hostile]);
  deepStrictEqual(/<script|<i>|<b>/.test(html), false);
  match(html, /&lt;script&gt;/);
  match(html, /&lt;i&gt;Type&lt;\/i&gt;/);
  match(html, /&lt;b&gt;: &amp;/);
  const payload = section(html, "slowest-dispatches").match(
    /<td class="payload"><code>([^<]*)<\/code>/,
  )![1]!;
  deepStrictEqual(payload, `{&quot;text&quot;:&quot;${"x".repeat(291)}…`);
});

Deno.test("renderReport() refuses a negative number of dispatches to list", () => {
  throws(() => renderReport([], { slowest: -1 }), {
    name: "RangeError",
    message:
      "Cannot render report as 'slowest' must be an integer of at least 0: current value is -1",
  });
  throws(() => renderReport([], { failed: 1.5 }), {
    name: "RangeError",
    message:
      "Cannot render report as 'failed' must be an integer of at least 0: current value is 1.5",
  });
});

Deno.test("renderReport() takes a million records from a generator", () => {
  function* million(): Generator<DispatchRecord> {
    const base = Date.parse("2026-02-12T14:30:45Z");
    for (let i = 0; i < 1_000_000; i++) {
      const second = new Date(base + Math.floor(i / 1_000_000) * 1000)
        .toISOString().slice(0, 19);
      yield {
        ts: `${second}.${String(i % 1_000_000).padStart(6, "0")}Z`,
        kind: "event",
        type: "Ticked",
        payload: null,
        durationMs: (i % 1000) + 1,
        result: null,
        error: i % 100_000 === 0 ? { name: "Error", message: `${i}` } : null,
      };
    }
  }
  const { rows, html } = renderReport(million(), { slowest: 3, failed: 5 });
  deepStrictEqual(rows, [{
    type: "Ticked",
    kind: "event",
    count: 1_000_000,
    errors: 10,
    p50Ms: 500,
    p95Ms: 950,
    p99Ms: 990,
    maxMs: 1000,
  }]);
  match(html, /1000000 dispatches, 10 failed, 1 message types\./);
  // The slowest are 1000 ms each; ties keep recording order.
  const slowest = section(html, "slowest-dispatches");
  deepStrictEqual(
    [...slowest.matchAll(/<td class="ts">([^<]+)</g)].map((m) => m[1]),
    [
      "2026-02-12T14:30:45.000999Z",
      "2026-02-12T14:30:45.001999Z",
      "2026-02-12T14:30:45.002999Z",
    ],
  );
  match(section(html, "failed-dispatches"), /\(10, first 5 shown\)/);
  match(
    section(html, "timeline"),
    /last start 2026-02-12T14:30:45\.999999Z \(\+999\.999 ms\)/,
  );
});

Deno.test("deno task report streams a run file of a million records", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/run-2026-02-12T14-30-00-000000Z-1.jsonl`;
    const classes = ["GetUser", "PlaceOrder", "OrderPlaced", "SendEmail"];
    const kinds = ["query", "command", "event", "task"];
    const base = Date.parse("2026-02-12T14:30:00Z");
    // Short lines (no result), written 50,000 at a time: 100 µs apart, so
    // the run spans 100 s; every 1000th record fails.
    {
      using file = await Deno.open(path, { write: true, create: true });
      const encoder = new TextEncoder();
      for (let chunk = 0; chunk < 20; chunk++) {
        const lines: string[] = [];
        for (let i = chunk * 50_000; i < (chunk + 1) * 50_000; i++) {
          const us = i * 100;
          const second = new Date(base + Math.floor(us / 1e6) * 1000)
            .toISOString().slice(0, 19);
          const type = i % 4;
          lines.push(
            `{"ts":"${second}.${String(us % 1e6).padStart(6, "0")}Z","type":"${
              kinds[type]
            }","class":"${classes[type]}","payload":${i % 100},"duration_ns":${
              (i % 997) * 1000 * (type + 1)
            }${
              i % 1000 === 999 ? ',"error":{"name":"E","message":"x"}' : ""
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
          // A million records held as objects need several times this heap;
          // the report fits only when it reads them one at a time.
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
    match(printed, /: 1000000 dispatches, 1000 failed/);
    match(printed, /GetUser\s+query\s+250000\s+0\s/);
    match(printed, /OrderPlaced\s+event\s+250000\s+0\s/);
    match(printed, /PlaceOrder\s+command\s+250000\s+0\s/);
    match(printed, /SendEmail\s+task\s+250000\s+1000\s/);
    const html = await Deno.readTextFile(path.replace(/\.jsonl$/, ".html"));
    match(html, /1000000 dispatches, 1000 failed, 4 message types\./);
    match(
      section(html, "timeline"),
      /last start 2026-02-12T14:31:39\.999900Z \(\+99\.9999 s\)/,
    );
    deepStrictEqual(svgsOf(html).length, 5);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
