import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { encodeBench } from "./encode-bench.js";
import { queueBench } from "./queue-bench.js";
import type { BenchRow } from "./stats.js";
import { stepBench } from "./step-bench.js";

/** `npm run bench`: every figure beside a baseline measured in the same run; a table and a JSON file. */
const { values } = parseArgs({
  options: {
    out: { type: "string", default: "bench-results.json" },
    only: { type: "string" },
    quick: { type: "boolean", default: false },
  },
});
const quick = values.quick ?? false;
const benches: Record<string, () => Promise<BenchRow[]>> = {
  queue: () => queueBench(quick ? 200 : 1000),
  step: () => stepBench(quick ? 5 : 20),
  encode: () => encodeBench(quick ? 1 : 3),
};

const rows: BenchRow[] = [];
for (const [name, bench] of Object.entries(benches)) {
  if (values.only && values.only !== name) continue;
  process.stderr.write(`running ${name}...\n`);
  rows.push(...(await bench()));
}

const header = ["bench", "metric", "platform", "baseline", "ratio", "target", "pass"];
const table = rows.map((r) => [r.bench, r.metric, `${r.platform} ${r.unit}`, `${r.baseline} ${r.unit} (${r.baseline_name})`, String(r.ratio), r.target, r.pass ? "yes" : "NO"]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ");
process.stdout.write(`${line(header)}\n${widths.map((w) => "-".repeat(w)).join("-|-")}\n${table.map(line).join("\n")}\n`);
await writeFile(values.out!, `${JSON.stringify({ measured_at: new Date().toISOString(), rows }, null, 2)}\n`);
process.stdout.write(`\nwritten to ${values.out}\n`);
process.exit(0);
