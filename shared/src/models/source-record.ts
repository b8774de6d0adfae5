import { readFile } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";

/**
 * `videosdgx-source.json`, written beside a folder's files by whatever put them there (`models pull`, and
 * `models export`): where they came from and every file's size and sha256, so `models verify` can tell a
 * damaged or half-copied folder from a sound one without the network.
 */
export const SOURCE_RECORD_FILE = "videosdgx-source.json";

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** One graph's worst parity case against its PyTorch module (exporter/src/videosdgx_export/parity.py `summarize`). */
export const GraphQualitySchema = z.object({
  graph: z.string(),
  ok: z.boolean(),
  /** max |onnx - torch| / max(1, max |torch|), and its bound. */
  deviation: z.number(),
  tolerance: z.number(),
  max_abs: z.number(),
  /** ||onnx - torch|| / ||torch|| and the cosine similarity of the flattened outputs (and its bound). */
  rel_l2: z.number(),
  cosine: z.number(),
  min_cosine: z.number().nullable(),
});
export type GraphQuality = z.infer<typeof GraphQualitySchema>;

/** How an exported folder's weights were quantized (exporter/src/videosdgx_export/quantize.py `scheme`). */
export const QuantizationSchema = z.looseObject({
  mode: z.enum(["int8", "int4"]),
  /** The ONNX Runtime tool that did it. */
  method: z.string(),
  graphs: z.array(z.string()).min(1),
  symmetric: z.boolean(),
  /** int4 (MatMulNBits): weights per scale along K. */
  block_size: z.number().int().positive().optional(),
  /** Per quantized graph: nodes with quantized weights, MatMul/Gemm left in float. */
  nodes: z.record(z.string(), z.object({ quantized_nodes: z.number().int().positive(), float_matmuls: z.number().int().nonnegative() })),
  /** What the quantized graphs gave up against the float32 PyTorch modules, each within its mode's bound. */
  quality: z.array(GraphQualitySchema).min(1),
});
export type Quantization = z.infer<typeof QuantizationSchema>;

export const SourceRecordSchema = z.object({
  schema_version: z.literal(1),
  kind: z.enum(["hub", "exported", "generated"]),
  model: z.string(),
  created_at: z.string(),
  /** For `hub`: each repository, the revision asked for and the commit it resolved to. */
  repos: z
    .array(z.object({ repo: z.string(), revision: z.string(), commit: z.string(), into: z.string().optional() }))
    .default([]),
  /** For `exported`: the checkpoint it was made from (free text: a folder, or repo@commit). */
  from: z.string().optional(),
  /** For `exported`: the checkpoint folder and the sha256 of its JSON files (model_index, configs, weight indexes). */
  checkpoint: z.object({ path: z.string(), configs: z.record(z.string(), Sha256) }).optional(),
  /** For `exported`: the float dtype of the text encoder and transformer graphs (the VAE decoder is fp32). */
  dtype: z.enum(["fp32", "fp16"]).optional(),
  /** For `exported`: null or absent when the weights are float. */
  quantization: QuantizationSchema.nullable().optional(),
  /** Path relative to the folder (forward slashes) -> size and sha256. */
  files: z.record(z.string(), z.object({ size: z.number().int().nonnegative(), sha256: Sha256 })),
});
export type SourceRecord = z.infer<typeof SourceRecordSchema>;

/** The folder's record; undefined when it has none, an Error naming the problem when it is unreadable. */
export async function readSourceRecord(dir: string): Promise<SourceRecord | Error | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(dir, SOURCE_RECORD_FILE), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return err as Error;
  }
  try {
    const parsed = SourceRecordSchema.safeParse(JSON.parse(text));
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    return new Error(`${SOURCE_RECORD_FILE} is invalid at ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  } catch (err) {
    return new Error(`${SOURCE_RECORD_FILE} is not valid JSON: ${(err as Error).message}`);
  }
}
