import { execFile } from "node:child_process";
import { readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { chunkBench } from "./chunk-bench.js";
import { encodeBench } from "./encode-bench.js";
import { externalDataBench } from "./external-data-bench.js";
import { previewBench } from "./preview-bench.js";
import { queueBench } from "./queue-bench.js";
import { sentinelBench } from "./sentinel-bench.js";
import type { BenchRow } from "./stats.js";
import { sseBench } from "./sse-bench.js";
import { stepBench } from "./step-bench.js";
import { webhookBench } from "./webhook-bench.js";

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
  queue: () => queueBench(quick ? 200 : 5000),
  step: () => stepBench(quick ? 5 : 20),
  encode: () => encodeBench(quick ? 1 : 5),
  webhooks: () => webhookBench(quick ? 10 : 40),
  sse: () => sseBench(quick ? 500 : 2000),
  "external-data": () => externalDataBench(quick ? 1 : 3),
  chunk: () => chunkBench(quick ? 3 : 9),
  sentinel: () => sentinelBench(quick ? 30 : 150, quick ? 1 : 3),
  preview: () => previewBench(quick ? 5 : 20),
};

/** Each bench runs in a fresh process, so one's garbage, JIT state and child processes cannot slow the next. */
async function runIsolated(name: string): Promise<BenchRow[]> {
  const out = path.join(tmpdir(), `vdgx-bench-${process.pid}-${name}.json`);
  const args = [fileURLToPath(import.meta.url), "--only", name, "--out", out, ...(quick ? ["--quick"] : [])];
  await promisify(execFile)(process.execPath, args, { maxBuffer: 1 << 24 });
  const rows = (JSON.parse(await readFile(out, "utf8")) as { rows: BenchRow[] }).rows;
  await rm(out, { force: true });
  return rows;
}

const rows: BenchRow[] = [];
if (values.only) {
  const bench = benches[values.only];
  if (!bench) throw new Error(`unknown bench ${values.only}; known: ${Object.keys(benches).join(", ")}`);
  rows.push(...(await bench()));
} else {
  for (const name of Object.keys(benches)) {
    process.stderr.write(`running ${name}...\n`);
    rows.push(...(await runIsolated(name)));
  }
}

const header = ["bench", "metric", "platform", "baseline", "ratio", "target", "pass"];
const table = rows.map((r) => [r.bench, r.metric, `${r.platform} ${r.unit}`, `${r.baseline} ${r.unit} (${r.baseline_name})`, String(r.ratio), r.target, r.pass ? "yes" : "NO"]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ");
process.stdout.write(`${line(header)}\n${widths.map((w) => "-".repeat(w)).join("-|-")}\n${table.map(line).join("\n")}\n`);
await writeFile(values.out!, `${JSON.stringify({ measured_at: new Date().toISOString(), rows }, null, 2)}\n`);
process.stdout.write(`\nwritten to ${values.out}\n`);
process.exit(0);
