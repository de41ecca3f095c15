/**
 * The GPT-2 configuration: its presets, checks, description, and `config.json` in both
 * directions as a Hugging Face `GPT2Config` (so a Bentevi checkpoint loads in `transformers`
 * and a Hugging Face GPT-2 directory loads here).
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

/** A GPT-2 architecture: learned token and position embeddings, pre-LN blocks, tied head. */
export interface GptConfig {
  /** Architecture tag. */
  arch: "gpt";
  /** Vocabulary size (from the tokenizer). */
  vocabSize: number;
  /** Maximum sequence length (number of position embeddings). */
  contextLength: number;
  /** Model width C. */
  dModel: number;
  /** Number of transformer blocks. */
  nLayer: number;
  /** Number of attention heads (dModel must be a multiple). */
  nHead: number;
  /** Hidden width of the MLP (4·dModel in GPT-2). */
  mlpDim: number;
  /** LayerNorm epsilon (1e-5 in GPT-2). */
  layerNormEps: number;
}

/** The GPT presets. */
export const GPT_PRESETS: Readonly<Record<string, PresetShape<GptConfig>>> = {
  "gpt-micro": {
    arch: "gpt",
    contextLength: 128,
    dModel: 128,
    nLayer: 4,
    nHead: 4,
    mlpDim: 512,
    layerNormEps: 1e-5,
  },
  "gpt-mini": {
    arch: "gpt",
    contextLength: 256,
    dModel: 256,
    nLayer: 6,
    nHead: 8,
    mlpDim: 1024,
    layerNormEps: 1e-5,
  },
  "gpt2-small": {
    arch: "gpt",
    contextLength: 1024,
    dModel: 768,
    nLayer: 12,
    nHead: 12,
    mlpDim: 3072,
    layerNormEps: 1e-5,
  },
};

/** Checks the GPT fields (heads, MLP width, heads dividing the width, epsilon). */
export function validateGpt(config: GptConfig, source: string): void {
  checkPositiveNumber(source, "layerNormEps", config.layerNormEps);
  checkPositiveInteger(source, "nHead", config.nHead);
  checkPositiveInteger(source, "mlpDim", config.mlpDim);
  if (config.dModel % config.nHead !== 0) {
    throw new BenteviError(
      `${source}: dModel ${config.dModel} is not a multiple of nHead ${config.nHead}`,
    );
  }
}

/**
 * A Hugging Face `GPT2Config` object; Bentevi's own field names are kept under `bentevi`.
 *
 * @example
 * ```ts
 * import { GPT_PRESETS, gptToJson } from "./config.ts";
 * console.log(gptToJson({ ...GPT_PRESETS["gpt-micro"], vocabSize: 64 }).n_embd); // 128
 * ```
 */
export function gptToJson(config: GptConfig): Record<string, unknown> {
  return {
    architectures: ["GPT2LMHeadModel"],
    model_type: "gpt2",
    vocab_size: config.vocabSize,
    n_positions: config.contextLength,
    n_ctx: config.contextLength,
    n_embd: config.dModel,
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_inner: config.mlpDim,
    activation_function: "gelu_new",
    layer_norm_epsilon: config.layerNormEps,
    resid_pdrop: 0.0,
    embd_pdrop: 0.0,
    attn_pdrop: 0.0,
    initializer_range: 0.02,
    scale_attn_weights: true,
    tie_word_embeddings: true,
    use_cache: true,
    torch_dtype: "float32",
    bentevi: { ...config },
  };
}

/** Reads a Hugging Face `GPT2Config` (or Bentevi's) object; `source` names it in errors. */
export function gptFromJson(j: Record<string, unknown>, source: string): GptConfig {
  const num = jsonNumbers(j, source);
  const act = j.activation_function;
  if (act !== undefined && act !== "gelu_new" && act !== "gelu_pytorch_tanh") {
    throw new BenteviError(
      `${source}: activation_function "${act}" is not supported (Bentevi's GPT uses gelu_new)`,
    );
  }
  const dModel = num("n_embd");
  const inner = j.n_inner;
  return {
    arch: "gpt",
    vocabSize: num("vocab_size"),
    contextLength: num("n_positions", typeof j.n_ctx === "number" ? j.n_ctx : 1024),
    dModel,
    nLayer: num("n_layer"),
    nHead: num("n_head"),
    mlpDim: typeof inner === "number" ? inner : 4 * dModel,
    layerNormEps: num("layer_norm_epsilon", 1e-5),
  };
}

/** A one-line description. */
export function describeGpt(config: GptConfig): string {
  return `GPT: vocab ${config.vocabSize}, context ${config.contextLength}, d ${config.dModel}, ` +
    `${config.nLayer} layers, ${config.nHead} heads, MLP ${config.mlpDim}`;
}
