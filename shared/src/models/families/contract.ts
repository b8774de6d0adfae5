import type { Manifest } from "../manifest.js";
import type { GraphSignature } from "../onnx-structure.js";

/** What a graph must declare for a family's pipeline to feed and read it (by name, element type, rank). */
export interface TensorContract {
  name: string;
  types: readonly string[];
  rank: number;
  /** The shape as the family reads it, for messages: "[B, 16, F, H/8, W/8]". */
  shape: string;
}

export interface GraphContract {
  inputs: readonly TensorContract[];
  outputs: readonly TensorContract[];
}

/** Reads a JSON file of the model folder, relative to it. */
export type ReadJson = (rel: string) => Promise<unknown>;

/**
 * The folder contract of a model family, without its runtime: the files, what each graph declares,
 * checks of its config files and manifest. Inspection (API and workers alike, no ONNX Runtime needed)
 * refuses a folder that breaks it with a reason naming the file, field or tensor; the worker's family
 * module checks the same graph contracts again against the loaded sessions.
 */
export interface FamilyContract {
  readonly name: string;
  /** Files the folder must hold besides the manifest; graphs (`.onnx`) are checked against `graphs`. */
  readonly files: readonly string[];
  readonly graphs: Readonly<Record<string, GraphContract>>;
  /** The negative prompt a job gets when neither the request nor the manifest gives one. */
  readonly defaultNegativePrompt: string;
  /** Checks config files and manifest fields: a reason naming the file or field, or undefined. */
  checkFolder(manifest: Manifest, readJson: ReadJson): Promise<string | undefined>;
  /** A variant the manifest selects (wan with capabilities.i2v: more graphs); absent means this contract. */
  variantFor?(manifest: Manifest): FamilyContract;
}

/** The contract a folder of this family with this manifest must meet. */
export const contractFor = (family: FamilyContract, manifest: Manifest): FamilyContract => family.variantFor?.(manifest) ?? family;

const typeList = (types: readonly string[]) => types.join(" or ");

/**
 * Compares what a graph declares (read from the file at inspection, or from a loaded session) with the
 * family's contract; an input the family does not feed is refused too, as ONNX Runtime would want it fed.
 */
export function checkGraph(rel: string, contract: GraphContract, declared: GraphSignature): string | undefined {
  for (const [kind, wanted, found] of [
    ["input", contract.inputs, declared.inputs],
    ["output", contract.outputs, declared.outputs],
  ] as const) {
    for (const want of wanted) {
      const got = found.find((t) => t.name === want.name);
      if (!got) {
        const names = found.map((t) => t.name).join(", ") || "none";
        return `${rel} has no ${kind} named ${want.name} (${want.shape}); its ${kind}s: ${names}`;
      }
      if (!want.types.includes(got.type)) {
        return `${rel} ${kind} ${want.name} is ${got.type}, expected ${typeList(want.types)}`;
      }
      if (got.rank !== undefined && got.rank !== want.rank) {
        return `${rel} ${kind} ${want.name} has rank ${got.rank}, expected ${want.rank} (${want.shape})`;
      }
    }
  }
  const extra = declared.inputs.find((t) => !contract.inputs.some((w) => w.name === t.name));
  if (extra) return `${rel} has an input ${extra.name} that the pipeline does not feed`;
  return undefined;
}

const FLOAT = ["float32", "float16", "bfloat16"] as const;

/** The text encoder every family with a T5-style encoder uses: ids and mask in, states out. */
export const TEXT_ENCODER_CONTRACT: GraphContract = {
  inputs: [
    { name: "input_ids", types: ["int64"], rank: 2, shape: "[B, L]" },
    { name: "attention_mask", types: ["int64"], rank: 2, shape: "[B, L]" },
  ],
  outputs: [{ name: "last_hidden_state", types: FLOAT, rank: 3, shape: "[B, L, D]" }],
};

/** The float types a graph may have at its boundary: the worker casts float16 and bfloat16 inside the graph. */
export const FLOAT_TYPES: readonly string[] = FLOAT;

/** What every family with a tokenizer, text encoder, transformer and VAE decoder holds (Optimum's layout). */
export const DIFFUSERS_FILES: readonly string[] = [
  "model_index.json",
  "scheduler/scheduler_config.json",
  "tokenizer/tokenizer.json",
  "text_encoder/model.onnx",
  "transformer/model.onnx",
  "vae_decoder/model.onnx",
];
