import { readFile } from "node:fs/promises";
import path from "node:path";
import ort from "onnxruntime-node";
import { Tokenizer } from "@huggingface/tokenizers";
import { inspectModel, JobFailure, type Manifest } from "@videosdgx/shared";
import { isOutOfMemory } from "../jobs/failure.js";
import { parseSchedulerConfig, type SchedulerConfig } from "../pipeline/scheduler-config.js";

/** Everything one model needs at run time, loaded once and kept until unloaded. */
export interface LoadedModel {
  readonly name: string;
  readonly manifest: Manifest;
  readonly tokenizer: Tokenizer;
  readonly scheduler: SchedulerConfig;
  readonly textEncoder: ort.InferenceSession;
  readonly transformer: ort.InferenceSession;
  readonly vaeDecoder: ort.InferenceSession;
  release(): Promise<void>;
}

async function readJson(dir: string, rel: string): Promise<unknown> {
  return JSON.parse(await readFile(path.join(dir, rel), "utf8"));
}

/**
 * Loads a model folder in the Optimum diffusers layout. Sessions load from file paths so external
 * weights (`model.onnx_data`) are found beside each graph without an extra in-memory copy.
 */
export async function loadModel(
  modelsDir: string,
  name: string,
  options: ort.InferenceSession.SessionOptions,
): Promise<LoadedModel> {
  const state = await inspectModel(modelsDir, name);
  if (!state.installed) throw new JobFailure("model_missing", `model ${name} is not installed: ${state.reason}`, false);
  const { dir, manifest } = state;
  let scheduler: SchedulerConfig;
  let tokenizer: Tokenizer;
  try {
    scheduler = parseSchedulerConfig(await readJson(dir, "scheduler/scheduler_config.json"));
    const tokenizerConfig = await readJson(dir, "tokenizer/tokenizer_config.json").catch(() => ({}));
    tokenizer = new Tokenizer(await readJson(dir, "tokenizer/tokenizer.json") as object, tokenizerConfig as object);
  } catch (err) {
    throw new JobFailure("model_invalid", `model ${name}: ${(err as Error).message}`, false);
  }
  const sessions: ort.InferenceSession[] = [];
  const open = async (component: string) => {
    try {
      const s = await ort.InferenceSession.create(path.join(dir, component, "model.onnx"), options);
      sessions.push(s);
      return s;
    } catch (err) {
      const message = (err as Error).message;
      const oom = isOutOfMemory(message);
      // ONNX element type 16 is bfloat16, which onnxruntime-node cannot feed or read at a graph's boundary.
      const hint = /Unsupported data type: 16\b/.test(message)
        ? " (bfloat16 inputs or outputs: export the graph with float16 or float32 at its boundary)"
        : "";
      throw new JobFailure(
        oom ? "out_of_memory" : "model_load_failed",
        `loading ${name}/${component}/model.onnx failed: ${message}${hint}`,
        oom,
      );
    }
  };
  try {
    const textEncoder = await open("text_encoder");
    const transformer = await open("transformer");
    const vaeDecoder = await open("vae_decoder");
    return {
      name, manifest, tokenizer, scheduler, textEncoder, transformer, vaeDecoder,
      release: async () => {
        await Promise.all(sessions.map((s) => s.release()));
      },
    };
  } catch (err) {
    await Promise.all(sessions.map((s) => s.release()));
    throw err;
  }
}
