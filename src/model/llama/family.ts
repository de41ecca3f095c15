/**
 * The Llama family: token embeddings without a position table, pre-norm blocks of RMSNorm,
 * grouped-query attention with rotary position embeddings (Hugging Face's layout) and a
 * SwiGLU MLP, a final RMSNorm, an output head tied or untied. Checkpoints are Hugging Face
 * `LlamaForCausalLM` directories (names, shapes and `config.json`).
 *
 * @module
 */
import type { ModelFamily } from "../family.ts";
import {
  describeLlama,
  LLAMA_PRESET_VOCAB_SIZES,
  LLAMA_PRESETS,
  type LlamaConfig,
  llamaFromJson,
  llamaToJson,
  validateLlama,
} from "./config.ts";
import { LlamaInference } from "./inference.ts";
import { llamaActivationFloats, LlamaModel } from "./training.ts";
import {
  LLAMA_EMBEDDING,
  llamaAcceptsExtraTensor,
  llamaCanonicalName,
  llamaFileTensor,
  llamaLinearTargets,
  llamaWeightSpecs,
} from "./weights.ts";

/**
 * Llama as a {@link ModelFamily}.
 *
 * @example
 * ```ts
 * import { llamaFamily } from "./family.ts";
 * console.log(llamaFamily.modelTypes[0], Object.keys(llamaFamily.presets)); // llama [ "llama-micro", "llama-mini", "llama-160m" ]
 * ```
 */
export const llamaFamily: ModelFamily<LlamaConfig> = {
  arch: "llama",
  presets: LLAMA_PRESETS,
  presetVocabSizes: LLAMA_PRESET_VOCAB_SIZES,
  modelTypes: ["llama"],
  embeddingWeight: LLAMA_EMBEDDING,
  recurrent: false,
  validate: validateLlama,
  toJson: llamaToJson,
  fromJson: llamaFromJson,
  describe: describeLlama,
  weightSpecs: llamaWeightSpecs,
  fileTensor: llamaFileTensor,
  canonicalName: llamaCanonicalName,
  acceptsExtraTensor: llamaAcceptsExtraTensor,
  maxContext: (config) => config.contextLength,
  // The RoPE tables and caches stay the preset's; shorter training windows use their first rows.
  withContext: (config) => config,
  activationFloats: llamaActivationFloats,
  linearTargets: llamaLinearTargets,
  createTrainingModel: (backend, config, store, B, T, options) =>
    new LlamaModel(backend, config, store, B, T, options),
  createInferenceModel: (backend, config, weights, source) =>
    new LlamaInference(backend, config, weights, source),
};
