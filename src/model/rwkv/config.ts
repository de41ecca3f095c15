/**
 * The RWKV-4 configuration: its presets, checks, description, and `config.json` in both
 * directions (`{model_type: "rwkv4", …}`; Hugging Face's `"rwkv"` field names are read too).
 *
 * @module
 */
import {
  checkPositiveInteger,
  checkPositiveNumber,
  jsonNumbers,
  type PresetShape,
} from "../family.ts";

/** An RWKV-4 architecture (BlinkDL): time mixing with the WKV recurrence, channel mixing. */
export interface RwkvConfig {
  /** Architecture tag. */
  arch: "rwkv";
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
  /** LayerNorm epsilon (1e-5). */
  layerNormEps: number;
}

/** The RWKV-4 presets. */
export const RWKV_PRESETS: Readonly<Record<string, PresetShape<RwkvConfig>>> = {
  "rwkv-micro": {
    arch: "rwkv",
    contextLength: 128,
    dModel: 256,
    nLayer: 4,
    ffnDim: 1024,
    layerNormEps: 1e-5,
  },
  "rwkv-mini": {
    arch: "rwkv",
    contextLength: 256,
    dModel: 384,
    nLayer: 6,
    ffnDim: 1344,
    layerNormEps: 1e-5,
  },
  "rwkv-85m": {
    arch: "rwkv",
    contextLength: 1024,
    dModel: 768,
    nLayer: 12,
    ffnDim: 2688,
    layerNormEps: 1e-5,
  },
};

/** Checks the RWKV fields (channel-mix width, epsilon). */
export function validateRwkv(config: RwkvConfig, source: string): void {
  checkPositiveNumber(source, "layerNormEps", config.layerNormEps);
  checkPositiveInteger(source, "ffnDim", config.ffnDim);
}

/**
 * The `config.json` object of an RWKV-4 model; Bentevi's own field names are kept under
 * `bentevi`.
 *
 * @example
 * ```ts
 * import { RWKV_PRESETS, rwkvToJson } from "./config.ts";
 * console.log(rwkvToJson({ ...RWKV_PRESETS["rwkv-micro"], vocabSize: 64 }).model_type); // rwkv4
 * ```
 */
export function rwkvToJson(config: RwkvConfig): Record<string, unknown> {
  return {
    architectures: ["Rwkv4"],
    model_type: "rwkv4",
    vocab_size: config.vocabSize,
    context_length: config.contextLength,
    hidden_size: config.dModel,
    num_hidden_layers: config.nLayer,
    intermediate_size: config.ffnDim,
    layer_norm_epsilon: config.layerNormEps,
    tie_word_embeddings: false,
    torch_dtype: "float32",
    bentevi: { ...config },
  };
}

/** Reads an RWKV-4 `config.json` object; `source` names it in errors. */
export function rwkvFromJson(j: Record<string, unknown>, source: string): RwkvConfig {
  const num = jsonNumbers(j, source);
  const dModel = num("hidden_size");
  return {
    arch: "rwkv",
    vocabSize: num("vocab_size"),
    contextLength: num("context_length", 1024),
    dModel,
    nLayer: num("num_hidden_layers"),
    ffnDim: num("intermediate_size", 4 * dModel),
    layerNormEps: num("layer_norm_epsilon", 1e-5),
  };
}

/** A one-line description. */
export function describeRwkv(config: RwkvConfig): string {
  return `RWKV-4: vocab ${config.vocabSize}, context ${config.contextLength}, ` +
    `d ${config.dModel}, ${config.nLayer} layers, FFN ${config.ffnDim}`;
}
