import assert from "node:assert/strict";
import { test } from "node:test";
import { ModelSession } from "../../onnx/session-thread.js";
import { DataType, GraphBuilder } from "../../onnx/graph-builder.js";
import { decodeToVideo } from "../../pipeline/decode.js";
import { axis } from "../../tiny/graphs.js";
import { vaeDecoderGraph } from "../../tinymagi/graphs.js";
import { decodeMagiChunk, tileSpans } from "./vae-tiles.js";

const C = 16;
const T = 6;
const F = 24;

function randomLatent(h: number, w: number, seed: number): Float32Array {
  const out = new Float32Array(C * T * h * w);
  let s = seed;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    out[i] = s / 2 ** 30 - 1;
  }
  return out;
}

const shapeOf = (h: number, w: number) => ({ channels: C, frames: T, height: h, width: w, tokens: 0 });
const sizeOf = (h: number, w: number) => ({ frames: F, height: 8 * h, width: 8 * w });

/** A decoder whose output is one value per call (the latent's mean, broadcast to every pixel): tiles differ. */
function tileMeanGraph(): Uint8Array {
  const g = new GraphBuilder("tile_mean_decoder");
  const z = g.input("latent_sample", DataType.FLOAT, [1, C, "f", "h", "w"]);
  const mean = g.op("ReduceMean", [z], { axes: [0, 1, 2, 3, 4], keepdims: { int: 1 } });
  const shape = g.op("Shape", [z]);
  const [f, h, w] = [2, 3, 4].map((d) => g.op("Slice", [shape, g.ints([d]), g.ints([d + 1])])) as [string, string, string];
  const out = g.op("Concat", [g.ints([1, 3]), g.op("Mul", [f, g.ints([4])]), g.op("Mul", [h, g.ints([8])]), g.op("Mul", [w, g.ints([8])])], axis(0));
  g.output(g.op("Expand", [mean, out]), "sample", DataType.FLOAT, [1, 3, "F", "H", "W"]);
  return g.build();
}

test("tiles follow TileProcessor: every 24 latents, up to 32 long, cut to 192 px adding up to the frame", () => {
  assert.deepEqual(tileSpans(24), [{ start: 0, size: 24 }]);
  assert.deepEqual(tileSpans(25), [{ start: 0, size: 25 }, { start: 24, size: 1 }]);
  assert.deepEqual(tileSpans(90).map((s) => [s.start, s.size]), [[0, 32], [24, 32], [48, 32], [72, 18]]);
  for (const n of [25, 32, 40, 50, 90, 160]) {
    const px = tileSpans(n).reduce((sum, s) => sum + Math.min(192, 8 * s.size), 0);
    assert.equal(px, 8 * n, `n = ${n}`);
  }
});

test("a decoder local in space gives the same frames tiled as whole, and one tile is the graph run once", async () => {
  const session = await ModelSession.open(vaeDecoderGraph());
  try {
    const [h, w] = [40, 50]; // 2 x 3 tiles
    const latent = randomLatent(h, w, 7);
    const whole = await decodeToVideo(session, latent, shapeOf(h, w), sizeOf(h, w));
    const tiled = await decodeMagiChunk(session, latent, shapeOf(h, w), sizeOf(h, w), 8);
    let worst = 0;
    for (let i = 0; i < whole.length; i++) worst = Math.max(worst, Math.abs(whole[i]! - tiled[i]!));
    assert.ok(worst < 1e-6, `largest difference ${worst}`);
    const small = randomLatent(24, 8, 3);
    assert.deepEqual(await decodeMagiChunk(session, small, shapeOf(24, 8), sizeOf(24, 8), 8), await decodeToVideo(session, small, shapeOf(24, 8), sizeOf(24, 8)));
  } finally {
    await session.release();
  }
});

test("tiles are blended with upstream's weights: down into the one above, then right into the raw one before", async () => {
  const session = await ModelSession.open(tileMeanGraph());
  try {
    const [h, w] = [32, 32]; // tiles [0, 32) and [24, 32) each way: 256 px and 64 px
    const latent = randomLatent(h, w, 11);
    const frame = await decodeMagiChunk(session, latent, shapeOf(h, w), sizeOf(h, w), 8);
    // Each tile's own value: the mean of its latent (what the graph gives every pixel of it).
    const mean = (y0: number, x0: number, n: number, m: number) => {
      let sum = 0;
      for (let p = 0; p < C * T; p++) for (let y = y0; y < y0 + n; y++) for (let x = x0; x < x0 + m; x++) sum += latent[(p * h + y) * w + x]!;
      return sum / (C * T * n * m);
    };
    const m00 = mean(0, 0, 32, 32), m01 = mean(0, 24, 32, 8), m10 = mean(24, 0, 8, 32), m11 = mean(24, 24, 8, 8);
    const W = 8 * w;
    const at = (plane: number, y: number, x: number) => frame[(plane * 8 * h + y) * W + x]!;
    const close = (got: number, want: number, where: string) => assert.ok(Math.abs(got - want) < 1e-5, `${where}: ${got} vs ${want}`);
    const ev = 64; // min(256, 64, 64): the lower tile is 64 px high
    for (const plane of [0, 3 * F - 1]) {
      close(at(plane, 100, 100), m00, "tile (0, 0)");
      for (const y of [0, 17, 63]) {
        close(at(plane, 192 + y, 10), m00 * (1 - y / ev) + m10 * (y / ev), `tile (1, 0) row ${y}`);
        close(at(plane, 10, 192 + y), m00 * (1 - y / ev) + m01 * (y / ev), `tile (0, 1) column ${y}`);
        for (const x of [0, 40]) {
          const down = m01 * (1 - y / ev) + m11 * (y / ev);
          close(at(plane, 192 + y, 192 + x), m10 * (1 - x / ev) + down * (x / ev), `tile (1, 1) at ${y}, ${x}`);
        }
      }
    }
  } finally {
    await session.release();
  }
});
