import ort from "onnxruntime-node";
import type { TokenBatch } from "./tokenize.js";
import type { ModelSession } from "../onnx/session-thread.js";

/**
 * Runs the text encoder once for the whole batch with the attention mask. Returns `last_hidden_state`
 * as float32 [batch, context, dim] (a float16 encoder's states are converted at its boundary).
 */
export async function encodeText(encoder: ModelSession, tokens: TokenBatch): Promise<ort.Tensor> {
  const out = await encoder.run({
    input_ids: new ort.Tensor("int64", tokens.ids, tokens.dims),
    attention_mask: new ort.Tensor("int64", tokens.mask, tokens.dims),
  });
  const hidden = out.last_hidden_state;
  if (!hidden) throw new Error("text encoder has no output named last_hidden_state");
  return hidden;
}

/**
 * diffusers' Wan prompt states: each prompt's states cut to its real token count and zero-padded back to
 * the context, so the encoder's own outputs at pad positions never reach the transformer. In place.
 */
export function zeroBeyondLengths(states: ort.Tensor, lengths: number[]): ort.Tensor {
  const [batch, context, dim] = states.dims as [number, number, number];
  if (batch !== lengths.length) throw new Error(`text states have batch ${batch}, but ${lengths.length} prompts were encoded`);
  const data = states.data as Float32Array;
  lengths.forEach((length, b) => data.fill(0, (b * context + Math.min(length, context)) * dim, (b + 1) * context * dim));
  return states;
}
