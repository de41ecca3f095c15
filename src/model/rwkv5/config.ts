/**
 * The RWKV-5 configuration (BlinkDL's "Eagle", versions 5.1 and 5.2 as rwkv.cpp names them)
 * and RWKV-6 ("Finch", version 6: 5.2 with data-dependent token shift and decay): inference
 * only, for converted rwkv.cpp files and BlinkDL checkpoints. `config.json` uses
 * `model_type: "rwkv5"` (`"rwkv6"` for version 6) and Hugging Face's field names
 * (`hidden_size`, `head_size`…); RWKV-6's low-rank sizes are `time_mix_extra_dim` and
 * `time_decay_extra_dim`, the names of BlinkDL's `TIME_MIX_EXTRA_DIM`/`TIME_DECAY_EXTRA_DIM`.
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

/** An RWKV-5/6 architecture: matrix-valued WKV state per head, `ln_x` group norm. */
export interface Rwkv5Config {
  /** Architecture tag. */
  arch: "rwkv5";
  /**
   * `"5.1"`: one decay and bonus per head (`time_decay [H]`, `time_first [H]`), no gate;
   * `"5.2"`: per channel (`time_decay`, `time_faaaa [H, N]`) and a SiLU gate;
   * `"6"`: 5.2 with data-dependent token shift (`time_maa_*`) and decay (`time_decay_w1/w2`).
   */
  version: "5.1" | "5.2" | "6";
  /** Vocabulary size. */
  vocabSize: number;
  /** Context length (recorded; RWKV has no position limit). */
  contextLength: number;
  /** Model width C. */
  dModel: number;
  /** Number of blocks. */
  nLayer: number;
  /** Channel-mix hidden width. */
  ffnDim: number;
  /** Channels per head N. */
  headSize: number;
  /** LayerNorm epsilon (1e-5). */
  layerNormEps: number;
  /** `ln_x` group-norm epsilon (rwkv.cpp: 1e-5 for 5.x, 64e-5 for 6). */
  groupNormEps: number;
  /** RWKV-6: rank of the token-shift low-rank branch (`time_maa_w1 [C, 5·D]`); 0 otherwise. */
  mixLowRank?: number;
  /** RWKV-6: rank of the decay low-rank branch (`time_decay_w1 [C, D]`); 0 otherwise. */
  decayLowRank?: number;
}

/** RWKV-5 has no presets: Bentevi runs converted models and does not train RWKV-5. */
export const RWKV5_PRESETS: Readonly<Record<string, PresetShape<Rwkv5Config>>> = {};

/** Checks the RWKV-5 fields. */
export function validateRwkv5(config: Rwkv5Config, source: string): void {
  checkPositiveInteger(source, "ffnDim", config.ffnDim);
  checkPositiveInteger(source, "headSize", config.headSize);
  checkPositiveNumber(source, "layerNormEps", config.layerNormEps);
  checkPositiveNumber(source, "groupNormEps", config.groupNormEps);
  if (config.version !== "5.1" && config.version !== "5.2" && config.version !== "6") {
    throw new BenteviError(
      `${source}: RWKV-5 version must be 5.1, 5.2 or 6, got ${config.version}`,
    );
  }
  if (config.version === "6") {
    checkPositiveInteger(source, "mixLowRank", config.mixLowRank ?? 0);
    checkPositiveInteger(source, "decayLowRank", config.decayLowRank ?? 0);
  }
  if (config.dModel % config.headSize !== 0) {
    throw new BenteviError(
      `${source}: head size ${config.headSize} does not divide the width ${config.dModel}`,
    );
  }
}

/**
 * The `config.json` object of an RWKV-5 model.
 *
 * @example
 * ```ts
 * import { rwkv5ToJson } from "./config.ts";
 * const c = { arch: "rwkv5", version: "5.2", vocabSize: 256, contextLength: 1024, dModel: 64,
 *   nLayer: 2, ffnDim: 256, headSize: 8, layerNormEps: 1e-5, groupNormEps: 1e-5 } as const;
 * console.log(rwkv5ToJson(c).model_type); // rwkv5
 * ```
 */
export function rwkv5ToJson(config: Rwkv5Config): Record<string, unknown> {
  const v6 = config.version === "6";
  return {
    architectures: [v6 ? "Rwkv6ForCausalLM" : "Rwkv5ForCausalLM"],
    model_type: v6 ? "rwkv6" : "rwkv5",
    rwkv_version: config.version,
    vocab_size: config.vocabSize,
    context_length: config.contextLength,
    hidden_size: config.dModel,
    num_hidden_layers: config.nLayer,
    intermediate_size: config.ffnDim,
    head_size: config.headSize,
    layer_norm_epsilon: config.layerNormEps,
    group_norm_epsilon: config.groupNormEps,
    ...(v6
      ? { time_mix_extra_dim: config.mixLowRank, time_decay_extra_dim: config.decayLowRank }
      : {}),
    tie_word_embeddings: false,
    torch_dtype: "float32",
    bentevi: { ...config },
  };
}

/** Reads an RWKV-5 `config.json` object. */
export function rwkv5FromJson(j: Record<string, unknown>, source: string): Rwkv5Config {
  const num = jsonNumbers(j, source);
  const dModel = num("hidden_size");
  const version = String(
    j.rwkv_version ?? (j.bentevi as { version?: string })?.version ??
      (j.model_type === "rwkv6" ? "6" : "5.2"),
  );
  const v6 = version === "6";
  return {
    arch: "rwkv5",
    version: version as Rwkv5Config["version"],
    vocabSize: num("vocab_size"),
    contextLength: num("context_length", 1024),
    dModel,
    nLayer: num("num_hidden_layers"),
    ffnDim: num("intermediate_size", Math.floor(3.5 * dModel)),
    headSize: num("head_size", 64),
    layerNormEps: num("layer_norm_epsilon", 1e-5),
    groupNormEps: num("group_norm_epsilon", v6 ? 64e-5 : 1e-5),
    ...(v6
      ? { mixLowRank: num("time_mix_extra_dim", 32), decayLowRank: num("time_decay_extra_dim", 64) }
      : {}),
  };
}

/** A one-line description. */
export function describeRwkv5(c: Rwkv5Config): string {
  const lowRank = c.version === "6" ? `, low-rank mix/decay ${c.mixLowRank}/${c.decayLowRank}` : "";
  return `RWKV-${c.version}: vocab ${c.vocabSize}, d ${c.dModel}, ${c.nLayer} layers, ` +
    `${c.dModel / c.headSize} heads of ${c.headSize}, FFN ${c.ffnDim}${lowRank} (inference only)`;
}
