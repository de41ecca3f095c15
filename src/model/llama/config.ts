/**
 * The Llama configuration: its presets, checks, description, and `config.json` in both
 * directions as a Hugging Face `LlamaConfig` (`LlamaForCausalLM`), so a Bentevi checkpoint
 * loads in `transformers` and a Hugging Face Llama directory loads here. Variants Bentevi
 * does not compute (RoPE scaling, sliding windows, biases, another activation) are refused by
 * name, never mis-computed.
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

/**
 * A Llama architecture: token embeddings (no position table), pre-norm blocks of RMSNorm →
 * grouped-query attention with rotary position embeddings (Hugging Face's `rotate_half`
 * layout) → RMSNorm → SwiGLU MLP, a final RMSNorm and an output head tied or not.
 */
export interface LlamaConfig {
  /** Architecture tag. */
  arch: "llama";
  /** Vocabulary size (from the tokenizer). */
  vocabSize: number;
  /** Most positions (`max_position_embeddings`): the RoPE tables and the KV cache. */
  contextLength: number;
  /** Model width (`hidden_size`). */
  dModel: number;
  /** Number of decoder layers (`num_hidden_layers`). */
  nLayer: number;
  /** Query heads (`num_attention_heads`). */
  nHead: number;
  /** Key/value heads (`num_key_value_heads`; divides nHead; 1 = multi-query). */
  nKvHead: number;
  /** Head size (`head_dim`; usually dModel / nHead; even). */
  headDim: number;
  /** Hidden width of the SwiGLU MLP (`intermediate_size`). */
  ffnDim: number;
  /** RMSNorm epsilon (`rms_norm_eps`). */
  rmsNormEps: number;
  /** RoPE base θ (`rope_theta`): position p rotates pair i by p·θ^(−2i/headDim). */
  ropeTheta: number;
  /** Whether the output head is the token embedding table (`tie_word_embeddings`). */
  tieEmbeddings: boolean;
  /** Beginning-of-sequence token id (`bos_token_id`), when the checkpoint names one. */
  bosTokenId?: number;
  /** End-of-sequence token id(s) (`eos_token_id`), when the checkpoint names them. */
  eosTokenId?: number | number[];
}

/** The Llama presets. */
export const LLAMA_PRESETS: Readonly<Record<string, PresetShape<LlamaConfig>>> = {
  // gpt-micro's size (1.31 M vs 1.33 M parameters with the demo's 4096 tokens), with GQA.
  "llama-micro": {
    arch: "llama",
    contextLength: 128,
    dModel: 128,
    nLayer: 4,
    nHead: 4,
    nKvHead: 2,
    headDim: 32,
    ffnDim: 384,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieEmbeddings: true,
  },
  // gpt-mini's width and depth, GQA with 2 query heads per kv head.
  "llama-mini": {
    arch: "llama",
    contextLength: 256,
    dModel: 256,
    nLayer: 6,
    nHead: 8,
    nKvHead: 4,
    headDim: 32,
    ffnDim: 768,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    tieEmbeddings: true,
  },
  // TeenyTinyLlama-160m's shape (162,417,408 parameters with its 32000-token vocabulary).
  "llama-160m": {
    arch: "llama",
    contextLength: 2048,
    dModel: 768,
    nLayer: 12,
    nHead: 12,
    nKvHead: 12,
    headDim: 64,
    ffnDim: 3072,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    tieEmbeddings: false,
  },
};

/** The vocabulary a Llama preset was published with (TeenyTinyLlama's 32000). */
export const LLAMA_PRESET_VOCAB_SIZES: Readonly<Record<string, number>> = {
  "llama-160m": 32000,
};

/** Checks the Llama fields (heads, groups, head size, widths, epsilon, θ, token ids). */
export function validateLlama(config: LlamaConfig, source: string): void {
  checkPositiveInteger(source, "nHead", config.nHead);
  checkPositiveInteger(source, "nKvHead", config.nKvHead);
  checkPositiveInteger(source, "headDim", config.headDim);
  checkPositiveInteger(source, "ffnDim", config.ffnDim);
  checkPositiveNumber(source, "rmsNormEps", config.rmsNormEps);
  checkPositiveNumber(source, "ropeTheta", config.ropeTheta);
  if (config.nHead % config.nKvHead !== 0) {
    throw new BenteviError(
      `${source}: nHead ${config.nHead} is not a multiple of nKvHead ${config.nKvHead}`,
    );
  }
  if (config.headDim % 2 !== 0) {
    throw new BenteviError(`${source}: headDim ${config.headDim} must be even (RoPE pairs)`);
  }
  if (typeof config.tieEmbeddings !== "boolean") {
    throw new BenteviError(`${source}: tieEmbeddings must be true or false`);
  }
  const ids = [config.bosTokenId, config.eosTokenId].flat().filter((v) => v !== undefined);
  for (const id of ids) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) {
      throw new BenteviError(`${source}: token id ${id} must be an integer ≥ 0`);
    }
  }
}

/**
 * A Hugging Face `LlamaConfig` object (`LlamaForCausalLM`); Bentevi's own field names are kept
 * under `bentevi`.
 *
 * @example
 * ```ts
 * import { LLAMA_PRESETS, llamaToJson } from "./config.ts";
 * const j = llamaToJson({ ...LLAMA_PRESETS["llama-micro"], vocabSize: 64 });
 * console.log(j.model_type, j.num_key_value_heads); // llama 2
 * ```
 */
export function llamaToJson(config: LlamaConfig): Record<string, unknown> {
  return {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    vocab_size: config.vocabSize,
    max_position_embeddings: config.contextLength,
    hidden_size: config.dModel,
    intermediate_size: config.ffnDim,
    num_hidden_layers: config.nLayer,
    num_attention_heads: config.nHead,
    num_key_value_heads: config.nKvHead,
    head_dim: config.headDim,
    hidden_act: "silu",
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: null,
    attention_bias: false,
    attention_dropout: 0.0,
    mlp_bias: false,
    pretraining_tp: 1,
    initializer_range: 0.02,
    tie_word_embeddings: config.tieEmbeddings,
    use_cache: true,
    torch_dtype: "float32",
    ...(config.bosTokenId !== undefined ? { bos_token_id: config.bosTokenId } : {}),
    ...(config.eosTokenId !== undefined ? { eos_token_id: config.eosTokenId } : {}),
    bentevi: { ...config },
  };
}

/** The value of `key` unless it is absent or null. */
function present(j: Record<string, unknown>, key: string): unknown {
  const v = j[key];
  return v === null ? undefined : v;
}

/** Refuses the `config.json` fields of Llama variants Bentevi does not compute, by name. */
function refuseVariants(j: Record<string, unknown>, source: string): void {
  const refuse = (what: string) => {
    throw new BenteviError(`${source}: ${what} is not supported (Bentevi computes plain Llama)`);
  };
  const archs = j.architectures;
  if (Array.isArray(archs) && archs.length && !archs.includes("LlamaForCausalLM")) {
    refuse(`architectures ${JSON.stringify(archs)} (only LlamaForCausalLM)`);
  }
  const scaling = present(j, "rope_scaling") as Record<string, unknown> | undefined;
  if (scaling !== undefined) {
    const type = typeof scaling === "object" ? scaling.rope_type ?? scaling.type : scaling;
    refuse(`rope_scaling (type "${type}")`);
  }
  const params = present(j, "rope_parameters") as Record<string, unknown> | undefined;
  if (params !== undefined) {
    const type = typeof params === "object" ? params.rope_type ?? params.type : params;
    if (type !== undefined && type !== "default") refuse(`rope_parameters (type "${type}")`);
  }
  for (const key of ["sliding_window", "use_sliding_window"]) {
    const v = present(j, key);
    if (v !== undefined && v !== false) refuse(`${key} ${JSON.stringify(v)}`);
  }
  for (const key of ["attention_bias", "mlp_bias"]) {
    const v = present(j, key);
    if (v !== undefined && v !== false) refuse(`${key} ${JSON.stringify(v)}`);
  }
  for (const key of ["hidden_act", "hidden_activation"]) {
    const v = present(j, key);
    if (v !== undefined && v !== "silu") refuse(`${key} ${JSON.stringify(v)} (only silu)`);
  }
}

/** A token id field: a number, a list of numbers (eos), or absent. */
function tokenIds(
  j: Record<string, unknown>,
  key: string,
  source: string,
  list: boolean,
): number | number[] | undefined {
  const v = present(j, key);
  if (v === undefined) return undefined;
  if (typeof v === "number") return v;
  if (list && Array.isArray(v) && v.every((x) => typeof x === "number")) return v as number[];
  throw new BenteviError(`${source}: field "${key}" is not a token id`);
}

/**
 * Reads a Hugging Face `LlamaConfig` (Bentevi writes the same); `source` names it in errors.
 * Defaults are `transformers`' (`num_key_value_heads` = heads, `head_dim` = width / heads,
 * `rms_norm_eps` 1e-6, `rope_theta` 10000, untied head, context 2048).
 *
 * @example
 * ```ts
 * import { llamaFromJson } from "./config.ts";
 * const c = llamaFromJson({
 *   model_type: "llama", vocab_size: 32, hidden_size: 16, intermediate_size: 40,
 *   num_hidden_layers: 2, num_attention_heads: 4,
 * }, "config.json");
 * console.log(c.nKvHead, c.headDim, c.tieEmbeddings); // 4 4 false
 * ```
 */
export function llamaFromJson(j: Record<string, unknown>, source: string): LlamaConfig {
  refuseVariants(j, source);
  const num = jsonNumbers(j, source);
  const dModel = num("hidden_size"), nHead = num("num_attention_heads");
  const params = present(j, "rope_parameters") as Record<string, unknown> | undefined;
  const theta = typeof params?.rope_theta === "number" ? params.rope_theta : 10000;
  const tie = present(j, "tie_word_embeddings") ?? false;
  if (typeof tie !== "boolean") {
    throw new BenteviError(`${source}: field "tie_word_embeddings" is not true or false`);
  }
  const config: LlamaConfig = {
    arch: "llama",
    vocabSize: num("vocab_size"),
    contextLength: num("max_position_embeddings", 2048),
    dModel,
    nLayer: num("num_hidden_layers"),
    nHead,
    nKvHead: num("num_key_value_heads", nHead),
    headDim: num("head_dim", dModel / nHead),
    ffnDim: num("intermediate_size"),
    rmsNormEps: num("rms_norm_eps", 1e-6),
    ropeTheta: num("rope_theta", theta),
    tieEmbeddings: tie,
  };
  const bos = tokenIds(j, "bos_token_id", source, false);
  const eos = tokenIds(j, "eos_token_id", source, true);
  if (bos !== undefined) config.bosTokenId = bos as number;
  if (eos !== undefined) config.eosTokenId = eos;
  return config;
}

/** A one-line description. */
export function describeLlama(c: LlamaConfig): string {
  const kv = c.nKvHead === c.nHead ? "" : c.nKvHead === 1 ? " (multi-query)" : ` (${c.nKvHead} kv)`;
  return `Llama: vocab ${c.vocabSize}, context ${c.contextLength}, d ${c.dModel}, ` +
    `${c.nLayer} layers, ${c.nHead} heads${kv} of ${c.headDim}, SwiGLU ${c.ffnDim}, ` +
    `RoPE θ ${c.ropeTheta}, ${c.tieEmbeddings ? "tied" : "untied"} head`;
}
