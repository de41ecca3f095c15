/**
 * The GPT-2 family: learned token and position embeddings, pre-LN blocks with fused QKV
 * attention and a GELU MLP, output head tied to the token embeddings.
 *
 * @module
 */
import type { ModelFamily } from "../family.ts";
import {
  describeGpt,
  GPT_PRESETS,
  type GptConfig,
  gptFromJson,
  gptToJson,
  validateGpt,
} from "./config.ts";
import { GptInference } from "./inference.ts";
import { gptActivationFloats, GptModel } from "./training.ts";
import {
  gptAcceptsExtraTensor,
  gptCanonicalName,
  gptFileTensor,
  gptLinearTargets,
  gptWeightSpecs,
} from "./weights.ts";

/**
 * GPT-2 as a {@link ModelFamily}.
 *
 * @example
 * ```ts
 * import { gptFamily } from "./family.ts";
 * console.log(gptFamily.modelTypes[0], Object.keys(gptFamily.presets)); // gpt2 [ "gpt-micro", "gpt-mini", "gpt2-small" ]
 * ```
 */
export const gptFamily: ModelFamily<GptConfig> = {
  arch: "gpt",
  presets: GPT_PRESETS,
  modelTypes: ["gpt2", "gpt"],
  embeddingWeight: "wte.weight",
  recurrent: false,
  validate: validateGpt,
  toJson: gptToJson,
  fromJson: gptFromJson,
  describe: describeGpt,
  weightSpecs: gptWeightSpecs,
  fileTensor: gptFileTensor,
  canonicalName: gptCanonicalName,
  acceptsExtraTensor: gptAcceptsExtraTensor,
  maxContext: (config) => config.contextLength,
  // The position table stays the preset's; shorter training windows use its first rows.
  withContext: (config) => config,
  activationFloats: gptActivationFloats,
  linearTargets: gptLinearTargets,
  createTrainingModel: (backend, config, store, B, T, options) =>
    new GptModel(backend, config, store, B, T, options),
  createInferenceModel: (backend, config, weights, source) =>
    new GptInference(backend, config, weights, source),
};
