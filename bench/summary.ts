/**
 * Runs a bench file (`bench/dispatch_bench.ts` unless another is named)
 * several times with `deno bench --json` under `bench/deno.json`, where the
 * peers' imports live, and prints the table that `bench/README.md` shows: per
 * case, the median over the runs of Deno's average and p75 times, per
 * operation, and their ratio to the group's baseline (its floor) from the
 * same run.
 *
 * The machine this project is measured on is shared and noisy: a single stall
 * of a few milliseconds moves an average, so the table shows p75 beside it.
 *
 * Usage: `deno task bench:summary [runs] [bench file]` (default 3 runs of
 * `bench/dispatch_bench.ts`).
 *
 * @module
 */

interface BenchResult {
  group: string | null;
  name: string;
  baseline: boolean;
  results: { ok?: { avg: number; p75: number } }[];
}

// A bench named "... x1000" runs 1,000 operations per iteration: its times
// are shown per operation. Others are shown per iteration.
function opsPerIteration(name: string): number {
  return Number(/ x(\d+)$/.exec(name)?.[1] ?? 1);
}
const runs = Number(Deno.args[0] ?? 3);
const benchFile = Deno.args[1] ??
  new URL("./dispatch_bench.ts", import.meta.url).pathname;
const config = new URL("./deno.json", import.meta.url).pathname;
if (!Number.isInteger(runs) || runs < 1) {
  throw new RangeError(
    `Cannot summarise as 'runs' must be a positive integer: current value is ${
      Deno.args[0]
    }`,
  );
}

type Row = { group: string; name: string; avg: number[]; p75: number[] };
const rows = new Map<string, Row>();
const ratios = new Map<string, { avg: number[]; p75: number[] }>();

for (let run = 1; run <= runs; run++) {
  console.error(`run ${run} of ${runs} ...`);
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "bench",
      "-A",
      "--json",
      "--config",
      config,
      benchFile,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  // What a bench file reports on stderr (dropped records, say) is passed on;
  // Deno's own "Check" lines are not.
  const stderr = new TextDecoder().decode(output.stderr).split("\n")
    .filter((line) => line !== "" && !line.startsWith("Check "));
  if (stderr.length > 0) console.error(stderr.join("\n"));
  if (!output.success) throw new Error(`deno bench failed in run ${run}`);
  const { benches } = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    benches: BenchResult[];
  };
  const floors = new Map<string, { avg: number; p75: number }>();
  for (const bench of benches) {
    const result = bench.results[0]?.ok;
    if (bench.baseline && result && bench.group) {
      floors.set(bench.group, result);
    }
  }
  for (const bench of benches) {
    const result = bench.results[0]?.ok;
    if (!result) throw new Error(`bench "${bench.name}" failed in run ${run}`);
    const group = bench.group ?? "";
    const key = `${group}\u0000${bench.name}`;
    const row = rows.get(key) ??
      { group, name: bench.name, avg: [], p75: [] };
    row.avg.push(result.avg / opsPerIteration(bench.name));
    row.p75.push(result.p75 / opsPerIteration(bench.name));
    rows.set(key, row);
    const floor = floors.get(group);
    if (floor) {
      const ratio = ratios.get(key) ?? { avg: [], p75: [] };
      ratio.avg.push(result.avg / floor.avg);
      ratio.p75.push(result.p75 / floor.p75);
      ratios.set(key, ratio);
    }
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[middle]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const ns = (value: number) =>
  value >= 1e6
    ? `${(value / 1e6).toFixed(2)} ms`
    : value >= 1000
    ? `${(value / 1000).toFixed(2)} µs`
    : `${value.toFixed(1)} ns`;

console.log(
  `| group | case | avg | p75 | avg × floor | p75 × floor |`,
);
console.log(`| --- | --- | ---: | ---: | ---: | ---: |`);
for (const [key, row] of rows) {
  const ratio = ratios.get(key);
  console.log(
    `| ${row.group} | ${row.name.replace(/ x1000$/, "")} | ${
      ns(median(row.avg))
    } | ${ns(median(row.p75))} | ${
      ratio ? median(ratio.avg).toFixed(2) : "-"
    } | ${ratio ? median(ratio.p75).toFixed(2) : "-"} |`,
  );
}
console.log(
  `\nMedians of ${runs} runs of deno bench (${Deno.version.deno}, ${Deno.build.target}).`,
);
