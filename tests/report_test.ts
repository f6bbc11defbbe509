import { deepStrictEqual, match } from "node:assert/strict";
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
  match(html, /No dispatches\./);
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
});
