/**
 * Model configurations: the GPT-2 and RWKV-4 shapes, named presets, exact parameter counts,
 * and `config.json` in both directions (a Hugging Face `GPT2Config` for GPT, so a Bentevi
 * checkpoint loads in `transformers` and a Hugging Face GPT-2 directory loads here).
 *
 * @module
 */
import { BenteviError } from "../errors.ts";

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

/** Either model. */
export type ModelConfig = GptConfig | RwkvConfig;

type PresetShape =
  | Omit<GptConfig, "vocabSize">
  | Omit<RwkvConfig, "vocabSize">;

const PRESETS: Record<string, PresetShape> = {
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

/** Names accepted by {@link presetConfig}. */
export const MODEL_PRESETS: readonly string[] = Object.keys(PRESETS);

/**
 * The configuration of a named preset with the tokenizer's vocabulary size.
 *
 * @example
 * ```ts
 * import { presetConfig, parameterCount } from "./config.ts";
 * const config = presetConfig("gpt-micro", 4096);
 * console.log(config.dModel, parameterCount(config)); // 128 1334016
 * ```
 */
export function presetConfig(name: string, vocabSize: number): ModelConfig {
  const preset = PRESETS[name];
  if (!preset) {
    throw new BenteviError(
      `unknown model preset "${name}"; available: ${MODEL_PRESETS.join(", ")}`,
    );
  }
  if (!Number.isInteger(vocabSize) || vocabSize < 1) {
    throw new BenteviError(`vocabulary size must be a positive integer, got ${vocabSize}`);
  }
  return { ...preset, vocabSize } as ModelConfig;
}

/**
 * Checks a configuration's fields and throws a {@link BenteviError} naming the bad one.
 *
 * @example
 * ```ts
 * import { presetConfig, validateConfig } from "./config.ts";
 * validateConfig(presetConfig("rwkv-micro", 256)); // ok
 * ```
 */
export function validateConfig(config: ModelConfig, source = "model config"): ModelConfig {
  const positive = (name: string, v: unknown) => {
    if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
      throw new BenteviError(`${source}: ${name} must be a positive integer, got ${v}`);
    }
  };
  positive("vocabSize", config.vocabSize);
  positive("contextLength", config.contextLength);
  positive("dModel", config.dModel);
  positive("nLayer", config.nLayer);
  if (!(typeof config.layerNormEps === "number" && config.layerNormEps > 0)) {
    throw new BenteviError(`${source}: layerNormEps must be a positive number`);
  }
  if (config.arch === "gpt") {
    positive("nHead", config.nHead);
    positive("mlpDim", config.mlpDim);
    if (config.dModel % config.nHead !== 0) {
      throw new BenteviError(
        `${source}: dModel ${config.dModel} is not a multiple of nHead ${config.nHead}`,
      );
    }
  } else if (config.arch === "rwkv") {
    positive("ffnDim", config.ffnDim);
  } else {
    throw new BenteviError(`${source}: unknown architecture ${(config as { arch: unknown }).arch}`);
  }
  return config;
}

/**
 * The exact number of trainable parameters (tied GPT head counted once), as the seeds'
 * `num_parameters`.
 *
 * @example
 * ```ts
 * import { presetConfig, parameterCount } from "./config.ts";
 * console.log(parameterCount(presetConfig("gpt2-small", 50257))); // 124439808
 * ```
 */
export function parameterCount(config: ModelConfig): number {
  const { vocabSize: V, dModel: C, nLayer: L } = config;
  if (config.arch === "gpt") {
    const M = config.mlpDim;
    const block = 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + 2 * C + (C * M + M) + (M * C + C);
    return V * C + config.contextLength * C + L * block + 2 * C;
  }
  const F = config.ffnDim;
  const att = 5 * C + 4 * C * C;
  const ffn = 2 * C + F * C + C * C + C * F;
  return V * C + 2 * C + L * (4 * C + att + ffn) + 2 * C + V * C;
}

/**
 * A `config.json` object: a Hugging Face `GPT2Config` for GPT (loads in `transformers`),
 * `{model_type: "rwkv4", …}` for RWKV. Bentevi's own field names are kept under `bentevi`.
 *
 * @example
 * ```ts
 * import { presetConfig, configToJson } from "./config.ts";
 * const json = configToJson(presetConfig("gpt-micro", 4096));
 * console.log(json.model_type, json.n_embd); // gpt2 128
 * ```
 */
export function configToJson(config: ModelConfig): Record<string, unknown> {
  if (config.arch === "gpt") {
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

/**
 * Reads a `config.json` object: Bentevi's own, a Hugging Face GPT-2 one (`model_type`
 * `"gpt2"`), or an RWKV-4 one (`"rwkv4"`, or Hugging Face's `"rwkv"` field names).
 * `source` names the file in error messages.
 *
 * @example
 * ```ts
 * import { configFromJson } from "./config.ts";
 * const c = configFromJson({ model_type: "gpt2", vocab_size: 21, n_embd: 2, n_layer: 1, n_head: 1 });
 * console.log(c.arch, c.contextLength); // gpt 1024
 * ```
 */
export function configFromJson(json: unknown, source = "config.json"): ModelConfig {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new BenteviError(`${source}: not a JSON object`);
  }
  const j = json as Record<string, unknown>;
  const num = (key: string, fallback?: number): number => {
    const v = j[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new BenteviError(`${source}: missing field "${key}"`);
    }
    if (typeof v !== "number") throw new BenteviError(`${source}: field "${key}" is not a number`);
    return v;
  };
  const type = String(j.model_type ?? (j.bentevi as { arch?: string } | undefined)?.arch ?? "");
  let config: ModelConfig;
  if (type === "gpt2" || type === "gpt") {
    const act = j.activation_function;
    if (act !== undefined && act !== "gelu_new" && act !== "gelu_pytorch_tanh") {
      throw new BenteviError(
        `${source}: activation_function "${act}" is not supported (Bentevi's GPT uses gelu_new)`,
      );
    }
    const dModel = num("n_embd");
    const inner = j.n_inner;
    config = {
      arch: "gpt",
      vocabSize: num("vocab_size"),
      contextLength: num("n_positions", typeof j.n_ctx === "number" ? j.n_ctx : 1024),
      dModel,
      nLayer: num("n_layer"),
      nHead: num("n_head"),
      mlpDim: typeof inner === "number" ? inner : 4 * dModel,
      layerNormEps: num("layer_norm_epsilon", 1e-5),
    };
  } else if (type === "rwkv4" || type === "rwkv") {
    const dModel = num("hidden_size");
    config = {
      arch: "rwkv",
      vocabSize: num("vocab_size"),
      contextLength: num("context_length", 1024),
      dModel,
      nLayer: num("num_hidden_layers"),
      ffnDim: num("intermediate_size", 4 * dModel),
      layerNormEps: num("layer_norm_epsilon", 1e-5),
    };
  } else {
    throw new BenteviError(
      `${source}: unsupported model_type "${type}" (Bentevi reads gpt2 and rwkv4 checkpoints)`,
    );
  }
  return validateConfig(config, source);
}

/**
 * A one-line human description of a configuration.
 *
 * @example
 * ```ts
 * import { describeConfig, presetConfig } from "./config.ts";
 * console.log(describeConfig(presetConfig("rwkv-micro", 256)));
 * ```
 */
export function describeConfig(config: ModelConfig): string {
  const common =
    `vocab ${config.vocabSize}, context ${config.contextLength}, d ${config.dModel}, ` +
    `${config.nLayer} layers`;
  return config.arch === "gpt"
    ? `GPT: ${common}, ${config.nHead} heads, MLP ${config.mlpDim}`
    : `RWKV-4: ${common}, FFN ${config.ffnDim}`;
}
