/**
 * The RWKV-7 ("Goose", BlinkDL's x070) configuration: presets, checks, description and
 * `config.json` in both directions. The file uses the field names of the Hugging Face
 * `rwkv7` model type (fla-hub's `RWKV7Config`: `hidden_size`, `head_dim`,
 * `decay_low_rank_dim`…); Bentevi's own names are kept under `bentevi`.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import {
  checkPositiveInteger,
  checkPositiveNumber,
  jsonNumbers,
  type PresetShape,
} from "../family.ts";

/** An RWKV-7 architecture: time mixing with the generalised delta rule, ReLU² channel mixing. */
export interface Rwkv7Config {
  /** Architecture tag. */
  arch: "rwkv7";
  /** Vocabulary size (from the tokenizer). */
  vocabSize: number;
  /** Training sequence length (RWKV itself has no position limit). */
  contextLength: number;
  /** Model width C. */
  dModel: number;
  /** Number of blocks. */
  nLayer: number;
  /** Hidden width of the channel mixing (`ffn.key` is `[ffnDim, dModel]`). */
  ffnDim: number;
  /** Channels per head N (C = H·N; BlinkDL's models use 64). */
  headSize: number;
  /** Rank of the decay branch (`w1 [C, D]`, `w2 [D, C]`). */
  decayLora: number;
  /** Rank of the in-context learning rate branch (`a1`, `a2`). */
  aLora: number;
  /** Rank of the value-residual branch (`v1`, `v2`). */
  vLora: number;
  /** Rank of the output gate branch (`g1`, `g2`). */
  gateLora: number;
  /** LayerNorm epsilon (1e-5). */
  layerNormEps: number;
  /** Epsilon of the per-head group norm `ln_x` (BlinkDL: 64e-5). */
  groupNormEps: number;
}

/** BlinkDL's low-rank sizes for width C: `max(32, round(f·√C / 32)·32)`. */
export function rwkv7LoraDims(C: number): Pick<
  Rwkv7Config,
  "decayLora" | "aLora" | "vLora" | "gateLora"
> {
  // Python's round() rounds halves to even; the presets never hit a half except C = 256's gate.
  const r = (f: number) => {
    const x = (f * Math.sqrt(C)) / 32, fl = Math.floor(x);
    const n = x - fl === 0.5 ? (fl % 2 === 0 ? fl : fl + 1) : Math.round(x);
    return Math.max(32, n * 32);
  };
  return { decayLora: r(2.5), aLora: r(2.5), vLora: r(1.7), gateLora: r(5) };
}

const preset = (
  contextLength: number,
  dModel: number,
  nLayer: number,
  ffnDim: number,
): PresetShape<Rwkv7Config> => ({
  arch: "rwkv7",
  contextLength,
  dModel,
  nLayer,
  ffnDim,
  headSize: 64,
  ...rwkv7LoraDims(dModel),
  layerNormEps: 1e-5,
  groupNormEps: 64e-5,
});

/** The RWKV-7 presets: the shapes of `rwkv-micro`, `rwkv-mini` and `rwkv-85m` (RWKV-4). */
export const RWKV7_PRESETS: Readonly<Record<string, PresetShape<Rwkv7Config>>> = {
  "rwkv7-micro": preset(128, 256, 4, 1024),
  "rwkv7-mini": preset(256, 384, 6, 1344),
  "rwkv7-85m": preset(1024, 768, 12, 2688),
};

/** Checks the RWKV-7 fields (head size dividing the width, ranks, epsilons). */
export function validateRwkv7(config: Rwkv7Config, source: string): void {
  for (const k of ["ffnDim", "headSize", "decayLora", "aLora", "vLora", "gateLora"] as const) {
    checkPositiveInteger(source, k, config[k]);
  }
  checkPositiveNumber(source, "layerNormEps", config.layerNormEps);
  checkPositiveNumber(source, "groupNormEps", config.groupNormEps);
  if (config.dModel % config.headSize !== 0) {
    throw new BenteviError(
      `${source}: head size ${config.headSize} does not divide the width ${config.dModel}`,
    );
  }
}

/**
 * The `config.json` object of an RWKV-7 model (Hugging Face `rwkv7` field names).
 *
 * @example
 * ```ts
 * import { RWKV7_PRESETS, rwkv7ToJson } from "./config.ts";
 * console.log(rwkv7ToJson({ ...RWKV7_PRESETS["rwkv7-micro"], vocabSize: 64 }).model_type); // rwkv7
 * ```
 */
export function rwkv7ToJson(config: Rwkv7Config): Record<string, unknown> {
  return {
    architectures: ["RWKV7ForCausalLM"],
    model_type: "rwkv7",
    vocab_size: config.vocabSize,
    context_length: config.contextLength,
    hidden_size: config.dModel,
    num_hidden_layers: config.nLayer,
    intermediate_size: config.ffnDim,
    head_dim: config.headSize,
    num_heads: config.dModel / config.headSize,
    decay_low_rank_dim: config.decayLora,
    a_low_rank_dim: config.aLora,
    v_low_rank_dim: config.vLora,
    gate_low_rank_dim: config.gateLora,
    norm_eps: config.layerNormEps,
    group_norm_eps: config.groupNormEps,
    tie_word_embeddings: false,
    torch_dtype: "float32",
    bentevi: { ...config },
  };
}

/** Reads an RWKV-7 `config.json` object; `source` names it in errors. */
export function rwkv7FromJson(j: Record<string, unknown>, source: string): Rwkv7Config {
  const num = jsonNumbers(j, source);
  const dModel = num("hidden_size");
  const lora = rwkv7LoraDims(dModel);
  return {
    arch: "rwkv7",
    vocabSize: num("vocab_size"),
    contextLength: num("context_length", 1024),
    dModel,
    nLayer: num("num_hidden_layers"),
    ffnDim: num("intermediate_size", 4 * dModel),
    headSize: num("head_dim", 64),
    decayLora: num("decay_low_rank_dim", lora.decayLora),
    aLora: num("a_low_rank_dim", lora.aLora),
    vLora: num("v_low_rank_dim", lora.vLora),
    gateLora: num("gate_low_rank_dim", lora.gateLora),
    layerNormEps: num("norm_eps", 1e-5),
    groupNormEps: num("group_norm_eps", 64e-5),
  };
}

/** A one-line description. */
export function describeRwkv7(c: Rwkv7Config): string {
  return `RWKV-7: vocab ${c.vocabSize}, context ${c.contextLength}, d ${c.dModel}, ` +
    `${c.nLayer} layers, ${c.dModel / c.headSize} heads of ${c.headSize}, FFN ${c.ffnDim}, ` +
    `low-rank w/a/v/g ${c.decayLora}/${c.aLora}/${c.vLora}/${c.gateLora}`;
}
