import ort from "onnxruntime-node";
import { GraphBoundary } from "../onnx/graph-boundary.js";
import type { LoadedModel } from "../runtime/loaded-model.js";

/** Pad id 0 is the T5/umT5 convention and our tiny model's; tokenizer_config may name another. */
function padId(model: LoadedModel): number {
  return model.tokenizer.token_to_id("<pad>") ?? 0;
}

/**
 * Tokenizes each prompt to the model's fixed context (truncate, then pad) and runs the text encoder once
 * for the whole batch. Returns `last_hidden_state` as float32 [batch, max_tokens, dim].
 */
export async function encodePrompts(model: LoadedModel, prompts: string[]): Promise<ort.Tensor> {
  const maxTokens = model.manifest.text.max_tokens;
  const ids = new BigInt64Array(prompts.length * maxTokens).fill(BigInt(padId(model)));
  const mask = new BigInt64Array(prompts.length * maxTokens);
  prompts.forEach((prompt, b) => {
    // Annotated: the package's .d.ts imports its Encoding type without an extension, which NodeNext cannot follow.
    const encoded: number[] = model.tokenizer.encode(prompt).ids.slice(0, maxTokens);
    encoded.forEach((id: number, i: number) => {
      ids[b * maxTokens + i] = BigInt(id);
      mask[b * maxTokens + i] = 1n;
    });
  });
  const dims = [prompts.length, maxTokens];
  // A float16 encoder's states come back as float32; the transformer's boundary converts them once per job.
  const out = await new GraphBoundary(model.textEncoder).run({
    input_ids: new ort.Tensor("int64", ids, dims),
    attention_mask: new ort.Tensor("int64", mask, dims),
  });
  const hidden = out.last_hidden_state;
  if (!hidden) throw new Error("text encoder has no output named last_hidden_state");
  return hidden;
}
