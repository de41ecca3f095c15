/**
 * The RWKV-4 family (BlinkDL): time mixing with the WKV recurrence and channel mixing;
 * trained in parallel over the sequence, run as an RNN for generation. Reads BlinkDL
 * checkpoints and converts rwkv.cpp files (`cpp.ts`).
 *
 * @module
 */
import type { ModelFamily } from "../family.ts";
import {
  describeRwkv,
  RWKV_PRESETS,
  type RwkvConfig,
  rwkvFromJson,
  rwkvToJson,
  validateRwkv,
} from "./config.ts";
import { RwkvInference } from "./inference.ts";
import { rwkvActivationFloats, RwkvModel } from "./training.ts";
import {
  rwkvCanonicalName,
  rwkvFileTensor,
  rwkvLinearTargets,
  rwkvWeightSpecs,
} from "./weights.ts";

/**
 * RWKV-4 as a {@link ModelFamily}.
 *
 * @example
 * ```ts
 * import { rwkvFamily } from "./family.ts";
 * console.log(rwkvFamily.modelTypes[0], rwkvFamily.recurrent); // rwkv4 true
 * ```
 */
export const rwkvFamily: ModelFamily<RwkvConfig> = {
  arch: "rwkv",
  presets: RWKV_PRESETS,
  modelTypes: ["rwkv4", "rwkv"],
  embeddingWeight: "emb.weight",
  recurrent: true,
  validate: validateRwkv,
  toJson: rwkvToJson,
  fromJson: rwkvFromJson,
  describe: describeRwkv,
  weightSpecs: rwkvWeightSpecs,
  fileTensor: rwkvFileTensor,
  canonicalName: rwkvCanonicalName,
  acceptsExtraTensor: () => false,
  maxContext: () => Infinity,
  // No position table: the configuration records the length it was trained at.
  withContext: (config, T) => ({ ...config, contextLength: T }),
  activationFloats: rwkvActivationFloats,
  linearTargets: rwkvLinearTargets,
  createTrainingModel: (backend, config, store, B, T, options) =>
    new RwkvModel(backend, config, store, B, T, options),
  createInferenceModel: (backend, config, weights, source) =>
    new RwkvInference(backend, config, weights, source),
};
