import { open, writeFile } from "node:fs/promises";
import path from "node:path";
import ort from "onnxruntime-node";
import { loadConfig } from "@videosdgx/shared";
import { makeTempDir } from "@videosdgx/shared/testing";
import { DataType, GraphBuilder } from "@videosdgx/workers/onnx";
import { sessionOptions } from "@videosdgx/workers/runtime";
import { round, type BenchRow } from "./stats.js";

/** A weight over protobuf's 2 GiB limit, as every real model's transformer has: [ROWS, COLS] float32. */
const ROWS = 20_000;
const COLS = 30_000;
const WEIGHT_BYTES = ROWS * COLS * 4;
const DATA_FILE = "model.onnx_data";
const ROWS_PER_WRITE = 500;

/** Row r of the weight: values that tell rows apart, so a misplaced or unread block shows in the output. */
const cell = (r: number, c: number) => ((r * 7 + c * 13) % 1000) / 1000;

/** x[1, ROWS] · W[ROWS, COLS]: a one-hot x selects one row, read from wherever it lies in the data file. */
async function writeModel(dir: string): Promise<string> {
  const g = new GraphBuilder("external-data");
  const x = g.input("x", DataType.FLOAT, [1, ROWS]);
  const w = g.externalConstant(DataType.FLOAT, [ROWS, COLS], DATA_FILE, 0, WEIGHT_BYTES);
  g.output(g.op("MatMul", [x, w]), "y", DataType.FLOAT, [1, COLS]);
  const modelFile = path.join(dir, "model.onnx");
  await writeFile(modelFile, g.build());
  const data = await open(path.join(dir, DATA_FILE), "w");
  const block = new Float32Array(ROWS_PER_WRITE * COLS);
  for (let r0 = 0; r0 < ROWS; r0 += ROWS_PER_WRITE) {
    for (let r = 0; r < ROWS_PER_WRITE; r++) for (let c = 0; c < COLS; c++) block[r * COLS + c] = cell(r0 + r, c);
    await data.write(new Uint8Array(block.buffer));
  }
  await data.close();
  return modelFile;
}

/** Reads a whole file through one 64 MiB buffer (a single Buffer cannot hold over 2 GiB); the bytes read. */
async function readThrough(file: string): Promise<number> {
  const fd = await open(file, "r");
  const buffer = Buffer.allocUnsafe(64 << 20);
  let total = 0;
  try {
    for (;;) {
      const { bytesRead } = await fd.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return total;
      total += bytesRead;
    }
  } finally {
    await fd.close();
  }
}

/** The session's output for row `r` equals that row as written (first and last rows: both ends of the file). A one-hot GEMV reads every weight. */
async function checkRow(session: ort.InferenceSession, r: number): Promise<void> {
  const x = new Float32Array(ROWS);
  x[r] = 1;
  const y = (await session.run({ x: new ort.Tensor("float32", x, [1, ROWS]) })).y!.data as Float32Array;
  for (const c of [0, 1, COLS - 1]) {
    if (Math.abs(y[c]! - cell(r, c)) > 1e-6) throw new Error(`row ${r} column ${c}: ${y[c]} where ${cell(r, c)} was written`);
  }
}

/**
 * A model whose weights (2.4 GB) are over protobuf's 2 GiB limit, so they live in external data beside the
 * graph: loaded by path with the worker's own session options, as a worker loads a real export, and run.
 * The time from creating its session to its first output (every weight read) is set against reading the
 * same bytes (graph and data file) from disk, both from a warm page cache, alternating, medians.
 */
export async function externalDataBench(repeats: number): Promise<BenchRow[]> {
  const { dir, remove } = await makeTempDir("vdgx-bench-external");
  try {
    const modelFile = await writeModel(dir);
    const options = sessionOptions(loadConfig({}));
    const loadMs: number[] = [];
    const readMs: number[] = [];
    for (let i = 0; i <= repeats; i++) {
      let t = performance.now();
      const bytes = (await readThrough(modelFile)) + (await readThrough(path.join(dir, DATA_FILE)));
      const read = performance.now() - t;
      if (bytes < WEIGHT_BYTES) throw new Error(`read ${bytes} bytes, fewer than the weights' ${WEIGHT_BYTES}`);
      // Until its first output: ONNX Runtime may map external data and read it only when a run needs it.
      t = performance.now();
      const session = await ort.InferenceSession.create(modelFile, options);
      await checkRow(session, ROWS - 1);
      const load = performance.now() - t;
      await checkRow(session, 0);
      await session.release();
      // The first round warms the page cache for both.
      if (i > 0) {
        loadMs.push(load);
        readMs.push(read);
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const [load, read] = [median(loadMs), median(readMs)];
    const ratio = round(read / load);
    return [
      {
        bench: "external data",
        metric: `load and first run of a model with ${(WEIGHT_BYTES / 1e9).toFixed(1)} GB of external data (both ends checked)`,
        unit: "ms",
        platform: round(load, 0),
        baseline: round(read, 0),
        baseline_name: "reading the same bytes from disk",
        ratio,
        target: "load within 1.5x of the read (ratio >= 0.67)",
        pass: load <= 1.5 * read,
      },
    ];
  } finally {
    await remove();
  }
}
