import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, test } from "node:test";
import ort from "onnxruntime-node";
import { ModelSession } from "../../onnx/session-thread.js";
import { makeTempDir } from "@videosdgx/shared/testing";
import { gaussianNoise } from "../../pipeline/noise.js";
import { decodeMagiChunk } from "./vae-tiles.js";

/**
 * The platform's tiled VAE decode against upstream's: the exporter's tiny MAGI-1 checkpoint (a ViT decoder,
 * which attends across its tile, so the tiles change the frames), exported by the project's exporter, decoded
 * by our magi family's tiling on ONNX Runtime and by Sand AI's TileProcessor re-stated over the PyTorch
 * decoder (`reference --family magi`), from the same latent: 40 x 56 latents, 2 x 3 tiles.
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const exporter = path.join(root, "exporter/scripts/run.sh");
const run = promisify(execFile);
const [H, W] = [40, 56];
const SHAPE = { channels: 16, frames: 6, height: H, width: W, tokens: 0 };
const SIZE = { frames: 24, height: 8 * H, width: 8 * W };

let dir: string;
let remove: () => Promise<void>;

async function python(...args: string[]): Promise<void> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  if (process.env.VDGX_PYTHON) env.VDGX_PYTHON = process.env.VDGX_PYTHON;
  await run("bash", [exporter, ...args], { env, maxBuffer: 16 << 20 });
}

before(async () => {
  ({ dir, remove } = await makeTempDir("magivaetiles"));
  const ckpt = path.join(dir, "checkpoint");
  await python("replica", "--family", "magi", "--out", ckpt);
  await python("export", "--family", "magi", "--from", ckpt, "--out", path.join(dir, "magitiles"), "--limits", "replica");
  await writeFile(path.join(dir, "latent.f32"), gaussianNoise(16 * 6 * H * W, 5));
  await python("reference", "--family", "magi", "--from", ckpt, "--out", path.join(dir, "ref"), "--latents", path.join(dir, "latent.f32"), "--size", `${8 * W}x${8 * H}`);
});
after(() => remove?.());

test("the platform's tiled decode of the exported ViT decoder matches upstream's TileProcessor", async () => {
  const doc = JSON.parse(await readFile(path.join(dir, "ref", "reference.json"), "utf8"));
  assert.deepEqual(doc.tensors.frames.shape, [1, 3, SIZE.frames, SIZE.height, SIZE.width]);
  const bytes = await readFile(path.join(dir, "ref", doc.tensors.frames.file));
  const want = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
  const latentBytes = await readFile(path.join(dir, "latent.f32"));
  const latent = new Float32Array(latentBytes.buffer, latentBytes.byteOffset, latentBytes.length / 4);
  const session = await ModelSession.open(path.join(dir, "magitiles", "vae_decoder", "model.onnx"));
  try {
    const got = await decodeMagiChunk(session, latent, SHAPE, SIZE, 8);
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < want.length; i++) {
      worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      scale = Math.max(scale, Math.abs(want[i]!));
    }
    // fp32 both ways, ORT against PyTorch: the graphs' parity tolerance.
    assert.ok(worst / Math.max(1, scale) < 1e-4, `largest difference ${worst} (largest value ${scale})`);
  } finally {
    await session.release();
  }
});
