import type { MagiRuntimeConfig } from "@videosdgx/shared";

export interface ChunkScales {
  /** Weight of the pass with the previous chunks (null text) against the pass without them. */
  prev: number;
  text: number;
}

type GuidanceTable = Pick<MagiRuntimeConfig, "cfg_t_range" | "prev_chunk_scales" | "text_scales">;

/**
 * The scales for a chunk at time t (MAGI's get_cfg_scale: searchsorted(cfg_t_range - 1e-7, t) - 1).
 * A job's `guidance` replaces the table's text scale wherever the table guides by text at all.
 */
export function chunkScales(table: GuidanceTable, t: number, textGuidance: number): ChunkScales {
  let i = -1;
  while (i + 1 < table.cfg_t_range.length && table.cfg_t_range[i + 1]! - 1e-7 < t) i++;
  const at = Math.max(0, i);
  return { prev: table.prev_chunk_scales[at]!, text: table.text_scales[at] === 0 ? 0 : textGuidance };
}

/**
 * MAGI's three-way guidance of one chunk, fused with its Euler step (x += v dt):
 * v = (1 - prev) uncond + (prev - text) withPrevious + text withPreviousAndText.
 */
export function guidedStep(
  x: Float32Array,
  passes: { uncond: Float32Array; previous: Float32Array; text: Float32Array },
  scales: ChunkScales,
  dt: number,
): void {
  const a = 1 - scales.prev;
  const b = scales.prev - scales.text;
  const c = scales.text;
  const { uncond, previous, text } = passes;
  for (let i = 0; i < x.length; i++) x[i] = x[i]! + (a * uncond[i]! + b * previous[i]! + c * text[i]!) * dt;
}
