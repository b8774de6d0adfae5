import type { Tokenizer } from "@huggingface/tokenizers";

/** Prompts as a text encoder takes them: ids and mask [batch, context], and each prompt's real token count. */
export interface TokenBatch {
  ids: BigInt64Array;
  mask: BigInt64Array;
  /** Tokens of each prompt, special tokens included (what diffusers gets as `mask.sum(dim=1)`). */
  lengths: number[];
  dims: [number, number];
}

/** Pad id 0 is the T5/umT5 convention and our replicas'; a tokenizer.json may name another. */
const padId = (tokenizer: Tokenizer): number => tokenizer.token_to_id("<pad>") ?? 0;

/**
 * One prompt's ids cut to `context` the way Hugging Face tokenizers truncate with special tokens on:
 * the text is cut and the tokens the post-processor adds (umT5's closing `</s>`) are kept.
 */
export function truncatedIds(tokenizer: Tokenizer, prompt: string, context: number): number[] {
  // Annotated: the package's .d.ts imports its Encoding type without an extension, which NodeNext cannot follow.
  const full: number[] = tokenizer.encode(prompt).ids;
  if (full.length <= context) return full;
  const text: number[] = tokenizer.encode(prompt, { add_special_tokens: false }).ids;
  const lead = full.findIndex((_, i) => text.every((id, j) => full[i + j] === id));
  const trail = full.length - lead - text.length;
  if (lead < 0 || trail < 0 || lead + trail >= context) return full.slice(0, context);
  return [...full.slice(0, lead), ...text.slice(0, context - lead - trail), ...full.slice(full.length - trail)];
}

/**
 * Tokenizes each prompt to the model's fixed context: truncated as above, then padded, with the mask.
 * T5-style encoders pad on the right; Gemma (LTX-2) on the left, its tokens ending at the context's end.
 */
export function tokenizeToContext(tokenizer: Tokenizer, prompts: string[], context: number, padding: "right" | "left" = "right"): TokenBatch {
  const ids = new BigInt64Array(prompts.length * context).fill(BigInt(padId(tokenizer)));
  const mask = new BigInt64Array(prompts.length * context);
  const lengths = prompts.map((prompt, b) => {
    const encoded = truncatedIds(tokenizer, prompt, context);
    const start = b * context + (padding === "left" ? context - encoded.length : 0);
    encoded.forEach((id, i) => {
      ids[start + i] = BigInt(id);
      mask[start + i] = 1n;
    });
    return encoded.length;
  });
  return { ids, mask, lengths, dims: [prompts.length, context] };
}
