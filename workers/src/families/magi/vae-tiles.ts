import { decodeToVideo, type FrameSize } from "../../pipeline/decode.js";
import type { LatentShape } from "../../pipeline/latent-shape.js";
import type { ModelSession } from "../../onnx/session-thread.js";

/**
 * MAGI's spatial VAE tiling, as `decode_chunk` asks TileProcessor.tiled_decode for it (Sand AI's
 * inference/pipeline/video_process.py 347-357, infra/parallelism/tile_parallel.py): tiles of 256 px
 * (32 latents at 8x) every 24 latents (overlap factor 0.25), each tile's first 64 px blended linearly into
 * its upper, then its left neighbour's last 64 (the neighbours as decoded, not as blended), then cut to
 * 192 px. MAGI's ViT decoder attends across a tile and resizes its position table to it, so the tiles are
 * part of the computation, not only a memory saving. The temporal tiles are inside the graph.
 */
const TILE_LATENTS = 32;
const STRIDE_LATENTS = 24; // int(32 * (1 - 0.25))
const OVERLAP = 0.25;

export interface Span {
  start: number;
  size: number;
}

/** The tiles along one latent axis: ceil(n / 24) of them, each up to 32 latents long. */
export function tileSpans(n: number): Span[] {
  const count = Math.ceil(n / STRIDE_LATENTS);
  return Array.from({ length: count }, (_, k) => ({ start: k * STRIDE_LATENTS, size: Math.min(TILE_LATENTS, n - k * STRIDE_LATENTS) }));
}

/** The latent [1, C, T, h, w] cut to one tile's rows and columns. */
function cropLatent(latent: Float32Array, shape: LatentShape, rows: Span, cols: Span): Float32Array {
  const { width } = shape;
  const out = new Float32Array(shape.channels * shape.frames * rows.size * cols.size);
  let at = 0;
  for (let plane = 0; plane < shape.channels * shape.frames; plane++) {
    for (let y = rows.start; y < rows.start + rows.size; y++) {
      const from = (plane * shape.height + y) * width + cols.start;
      out.set(latent.subarray(from, from + cols.size), at);
      at += cols.size;
    }
  }
  return out;
}

/** A decoded tile [1, 3, F, th, tw]: its pixel size beside its data. */
interface Decoded {
  data: Float32Array;
  height: number;
  width: number;
}

/**
 * Writes one tile into the frame at (top, left): rows and columns beyond 192 px cut, its first rows blended
 * with the tile above and its first columns with the tile to the left, by upstream's weights.
 */
function place(frame: Float32Array, size: FrameSize, planes: number, tile: Decoded, top: number, left: number,
  limit: number, blend: number, above?: Decoded, before?: Decoded): void {
  const rows = Math.min(limit, tile.height);
  const cols = Math.min(limit, tile.width);
  const ev = above ? Math.min(above.height, tile.height, blend) : 0;
  const eh = before ? Math.min(before.width, tile.width, blend) : 0;
  const line = new Float32Array(cols);
  for (let plane = 0; plane < planes; plane++) {
    for (let y = 0; y < rows; y++) {
      const src = (plane * tile.height + y) * tile.width;
      line.set(tile.data.subarray(src, src + cols));
      if (y < ev) {
        const a = (plane * above!.height + above!.height - ev + y) * above!.width;
        for (let x = 0; x < cols; x++) line[x] = above!.data[a + x]! * (1 - y / ev) + line[x]! * (y / ev);
      }
      if (eh > 0) {
        const a = (plane * before!.height + y) * before!.width + before!.width - eh;
        for (let x = 0; x < eh; x++) line[x] = before!.data[a + x]! * (1 - x / eh) + line[x]! * (x / eh);
      }
      frame.set(line, (plane * size.height + top + y) * size.width + left);
    }
  }
}

/**
 * One clean chunk (already divided by scale_factor) -> its frames [1, 3, F, H, W], decoded as MAGI does:
 * a frame of at most 24 latents a side is one tile (the graph once, as it is); larger ones run the graph per
 * tile (ONNX Runtime's threads) and blend on this thread one tile at a time, each a short pass over 192 rows.
 */
export async function decodeMagiChunk(vaeDecoder: ModelSession, latent: Float32Array, shape: LatentShape,
  size: FrameSize, spatialFactor: number): Promise<Float32Array> {
  const rows = tileSpans(shape.height);
  const cols = tileSpans(shape.width);
  if (rows.length === 1 && cols.length === 1) return decodeToVideo(vaeDecoder, latent, shape, size);
  const blend = Math.trunc(TILE_LATENTS * spatialFactor * OVERLAP);
  const limit = TILE_LATENTS * spatialFactor - blend;
  const planes = 3 * size.frames;
  const frame = new Float32Array(planes * size.height * size.width);
  let above: Decoded[] = [];
  for (const [i, r] of rows.entries()) {
    const row: Decoded[] = [];
    for (const [j, c] of cols.entries()) {
      const tileSize = { frames: size.frames, height: r.size * spatialFactor, width: c.size * spatialFactor };
      const data = await decodeToVideo(vaeDecoder, cropLatent(latent, shape, r, c), { ...shape, height: r.size, width: c.size }, tileSize);
      const tile = { data, height: tileSize.height, width: tileSize.width };
      place(frame, size, planes, tile, i * limit, j * limit, limit, blend, above[j], row[j - 1]);
      row.push(tile);
    }
    above = row; // only the row above is blended with: older rows are let go
  }
  return frame;
}
