/** Words the tiny model knows as whole tokens; anything else is spelled out letter by letter (Unigram). */
const WORDS = `a an the of on in at over under through with and by to from into near across
cat dog bird fish horse cow sheep fox wolf bear lion tiger rabbit deer owl eagle dolphin whale butterfly
man woman child person people girl boy robot car train boat ship plane bicycle
walking running flying swimming driving dancing jumping sitting standing falling floating rolling spinning
beach ocean sea wave waves river lake forest tree trees mountain mountains desert city street road field
garden park sky cloud clouds sun moon star stars rain snow storm fog wind fire water light night day
sunset sunrise morning evening winter summer spring autumn
red orange yellow green blue purple pink white black gray grey brown golden silver dark bright
slow fast gentle calm wild tiny huge small big old new beautiful cinematic`.split(/\s+/).filter(Boolean);

const SPECIAL = ["<pad>", "</s>", "<unk>"] as const;
const LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789".split("");

/** umT5's post-processor: every prompt ends in `</s>` (id 1), which counts in its length. */
const CLOSING_EOS = {
  type: "TemplateProcessing",
  single: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }],
  pair: [{ Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }, { Sequence: { id: "B", type_id: 0 } }, { SpecialToken: { id: "</s>", type_id: 0 } }],
  special_tokens: { "</s>": { id: "</s>", ids: [1], tokens: ["</s>"] } },
};

/**
 * A Hugging Face `tokenizer.json` in the T5/umT5 style (lowercase, Metaspace, Unigram), as the real
 * models' text encoders use: pad 0, end 1, unknown 2. `closingEos` appends `</s>` as umT5's does.
 */
export function tinyTokenizerJson(options: { closingEos?: boolean } = {}): object {
  const vocab: [string, number][] = [
    ...SPECIAL.map((t): [string, number] => [t, 0]),
    ["▁", -8],
    ...WORDS.map((w): [string, number] => [`▁${w}`, -2]),
    ...LETTERS.map((l): [string, number] => [l, -9]),
    ...LETTERS.map((l): [string, number] => [`▁${l}`, -9]),
  ];
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map((content, id) => ({
      id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: { type: "Lowercase" },
    pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
    post_processor: options.closingEos ? CLOSING_EOS : null,
    decoder: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
    model: { type: "Unigram", unk_id: 2, vocab, byte_fallback: false },
  };
}

export const tinyTokenizerConfig = () => ({
  tokenizer_class: "T5Tokenizer",
  pad_token: "<pad>",
  eos_token: "</s>",
  unk_token: "<unk>",
  model_max_length: 32,
});
