import assert from "node:assert/strict";
import { test } from "node:test";
import { magiForwardCount, magiForwards, magiTimes } from "./schedule.js";

/** MAGI-1's generate_sequences (inference/pipeline/video_generate.py), transcribed line by line. */
function generateSequences(chunkNum: number, windowSize: number, chunkOffset: number) {
  const range = (a: number, b: number) => Array.from({ length: Math.max(0, b - a) }, (_, i) => a + i);
  const idx = range(chunkOffset, chunkNum + windowSize - 1);
  return {
    clipStart: idx.map((i) => Math.max(chunkOffset, i - windowSize + 1)),
    clipEnd: idx.map((i) => Math.min(chunkNum, i + 1)),
    tStart: idx.map((i) => Math.max(0, i - chunkNum + 1)),
    tEnd: idx.map((i) => (i - chunkOffset < windowSize ? Math.min(windowSize, i - chunkOffset + 1) : windowSize)),
  };
}

test("the transcription of generate_sequences gives MAGI's own documented examples", () => {
  assert.deepEqual(generateSequences(8, 4, 0), {
    clipStart: [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7],
    clipEnd: [1, 2, 3, 4, 5, 6, 7, 8, 8, 8, 8],
    tStart: [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3],
    tEnd: [1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4],
  });
  assert.deepEqual(generateSequences(8, 1, 0).clipStart, [0, 1, 2, 3, 4, 5, 6, 7]);
});

interface Walked {
  /** Per forward: each moved chunk's absolute index, its time before and after, its absolute kv range. */
  chunks: { chunk: number; before: number; after: number; kv: [number, number] }[];
  clean?: number;
}

/**
 * SampleTransport.walk without a model: the window, times and kv ranges per forward (with the extra
 * clean chunk at each stage's first forward, its range from the KV cache otherwise) and the chunk that
 * chunk_denoise_count reports clean. Ranges are absolute chunk indices, as MAGI's kv_range in tokens.
 */
function walk(chunkNum: number, windowSize: number, steps: number, times: ArrayLike<number>, kvRanges: number[]): Walked[] {
  const perStage = steps / windowSize;
  const seq = generateSequences(chunkNum, windowSize, 0);
  const counts = new Map<number, number>();
  const out: Walked[] = [];
  for (let cur = 0; cur < perStage * (chunkNum + windowSize - 1); cur++) {
    const [stage, idx] = [Math.floor(cur / perStage), cur % perStage];
    const [cs, ce, ts, te] = [seq.clipStart[stage]!, seq.clipEnd[stage]!, seq.tStart[stage]!, seq.tEnd[stage]!];
    const tIndex: number[] = [];
    for (let i = ts; i < te; i++) tIndex.push(i * perStage + idx);
    tIndex.reverse();
    const chunks = tIndex.map((step, j) => {
      const range = kvRanges[Math.floor(step / (steps / kvRanges.length))]!;
      const end = cs + j + 1;
      return { chunk: cs + j, before: times[step]!, after: times[step + 1]!, kv: [Math.max(0, end - range), end] as [number, number] };
    });
    for (let c = cs; c < ce; c++) counts.set(c, (counts.get(c) ?? 0) + 1);
    out.push({ chunks, ...(counts.get(cs) === steps ? { clean: cs } : {}) });
  }
  return out;
}

const CONFIG = { window_size: 4, noise2clean_kvrange: [5, 4, 3, 2], clean_chunk_kvrange: 1, shift: 3 };

test("MAGI's time grid: t^2 then the shift 3.0, from 0 (noise) to 1 (clean)", () => {
  // With 4 steps the grid is MAGI's cfg_t_range: 0, 0.0217, 0.1, 0.3, then 1.
  const t = magiTimes(4, 3);
  [0, 0.0625 / 2.875, 0.1, 0.3, 1].forEach((want, i) => assert.ok(Math.abs(t[i]! - want) < 1e-12, `t[${i}] = ${t[i]}`));
  const t64 = magiTimes(64, 3);
  assert.equal(t64.length, 65);
  for (let i = 1; i < t64.length; i++) assert.ok(t64[i]! > t64[i - 1]!);
});

for (const [chunkNum, steps] of [[8, 8], [8, 64], [2, 8], [1, 4], [5, 12], [3, 32]] as const) {
  test(`the window schedule of ${chunkNum} chunks in ${steps} steps is MAGI's walk`, () => {
    const times = magiTimes(steps, 3);
    const want = walk(chunkNum, 4, steps, times, CONFIG.noise2clean_kvrange);
    const got = [...magiForwards(chunkNum, steps, CONFIG)].map((plan): Walked => {
      const base = plan.context[0] ?? plan.chunks[0]!.chunk;
      return {
        chunks: plan.chunks.map((c) => ({ chunk: c.chunk, before: times[c.step]!, after: times[c.step + 1]!, kv: [c.kv[0] + base, c.kv[1] + base] })),
        ...(plan.finishes === undefined ? {} : { clean: plan.finishes }),
      };
    });
    assert.deepEqual(got, want);
    assert.equal(got.length, magiForwardCount(chunkNum, steps, 4));
    // Every chunk is clean exactly once, in order.
    assert.deepEqual(got.flatMap((w) => (w.clean === undefined ? [] : [w.clean])), Array.from({ length: chunkNum }, (_, i) => i));
  });
}

test("the context a forward carries is the clean chunk just before the window, once there is one", () => {
  for (const plan of magiForwards(8, 8, CONFIG)) {
    const first = plan.chunks[0]!.chunk;
    assert.deepEqual(plan.context, first > 0 ? [first - 1] : []);
  }
});

test("a step count the window cannot split is refused", () => {
  assert.throws(() => [...magiForwards(4, 10, CONFIG)], /steps must be a multiple of the window size 4 \(got 10\)/);
});
