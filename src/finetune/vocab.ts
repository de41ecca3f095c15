/**
 * Adding Bentevi's chat tokens to a base that lacks them: the tokenizer gains them as special
 * added tokens, and every vocabulary-sized weight (embedding, untied head) gains rows for them.
 *
 * A new row is the mean of the existing rows (as `transformers`' `resize_token_embeddings`
 * does by default since 4.46): a random row would give the new tokens logits unlike any other
 * and an input embedding the model never saw, a zero row a logit of exactly 0 — the mean keeps
 * the model's outputs where they were (the new tokens get an average logit, and read in as an
 * average token) until fine-tuning teaches them.
 *
 * @module
 */
import type { NamedTensor } from "../io/safetensors.ts";
import type { ModelConfig } from "../model/config.ts";
import { familyOf } from "../model/registry.ts";
import { Tokenizer } from "../tokenizer/mod.ts";

/**
 * `tokenizer` with `tokens` added as special tokens after its last id (those it already has are
 * left as they are); returns the new tokenizer and the added token strings.
 *
 * @example
 * ```ts
 * import { addSpecialTokens } from "./vocab.ts";
 * import { Tokenizer } from "../tokenizer/mod.ts";
 * const { tokenizer, added } = addSpecialTokens(Tokenizer.byteLevel(), ["<|user|>"]);
 * console.log(added, tokenizer.tokenToId("<|user|>")); // ["<|user|>"] 256
 * ```
 */
export function addSpecialTokens(
  tokenizer: Tokenizer,
  tokens: readonly string[],
): { tokenizer: Tokenizer; added: string[] } {
  const added = tokens.filter((t) => tokenizer.tokenToId(t) === undefined);
  if (!added.length) return { tokenizer, added };
  const parts = tokenizer.parts;
  const more = added.map((content, i) => ({
    id: tokenizer.vocabSize + i,
    content,
    special: true,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
  }));
  return {
    tokenizer: new Tokenizer(
      { ...parts, addedTokens: [...parts.addedTokens, ...more] },
      tokenizer.name,
    ),
    added,
  };
}

/**
 * `config` and `weights` with the vocabulary grown to `vocabSize`: each vocabulary-sized
 * weight keeps its rows, and rows `from…vocabSize−1` (the new tokens' ids, and any row the old
 * tokenizer never used beyond `from`) are set to the mean of rows `0…from−1`. Weights are
 * read one at a time (lazy checkpoints stay lazy for the others).
 *
 * @example
 * ```ts
 * import { growVocabulary } from "./vocab.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * const config = presetConfig("gpt-micro", 16);
 * const grown = growVocabulary(config, initWeights(config, 1), 16, 18);
 * console.log(grown.config.vocabSize, grown.weights.get("wte.weight")!.shape); // 18 [18, 128]
 * ```
 */
export function growVocabulary(
  config: ModelConfig,
  weights: Map<string, NamedTensor>,
  from: number,
  vocabSize: number,
): { config: ModelConfig; weights: Map<string, NamedTensor> } {
  const family = familyOf(config);
  const grownConfig = {
    ...config,
    vocabSize: Math.max(vocabSize, config.vocabSize),
  } as ModelConfig;
  // A weight is vocabulary-sized when its first dimension follows the vocabulary size.
  const probe = { ...config, vocabSize: config.vocabSize + 1 } as ModelConfig;
  const probeRows = new Map(family.weightSpecs(probe).map((s) => [s.name, s.shape[0]]));
  const out = new Map<string, NamedTensor>();
  for (const spec of family.weightSpecs(grownConfig)) {
    const t = weights.get(spec.name);
    if (!t) continue; // the loader names what is missing
    if (probeRows.get(spec.name) !== config.vocabSize + 1) {
      out.set(spec.name, t);
      continue;
    }
    const oldRows = config.vocabSize;
    const shape = spec.shape;
    out.set(spec.name, {
      shape,
      get data() {
        const src = t.data;
        const width = src.length / oldRows;
        const data = new Float32Array(shape[0] * width);
        data.set(src.subarray(0, Math.min(src.length, data.length)));
        const mean = new Float64Array(width);
        for (let r = 0; r < from; r++) {
          for (let c = 0; c < width; c++) mean[c] += src[r * width + c];
        }
        for (let r = from; r < shape[0]; r++) {
          for (let c = 0; c < width; c++) data[r * width + c] = mean[c] / from;
        }
        return data;
      },
    });
  }
  return { config: grownConfig, weights: out };
}
