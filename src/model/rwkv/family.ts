/**
 * The RWKV-4 family (BlinkDL): time mixing with the WKV recurrence and channel mixing;
 * trained in parallel over the sequence, run as an RNN for generation. Reads BlinkDL
 * checkpoints and converts rwkv.cpp files (`cpp.ts`).
 *
 * @module
 */
import { forwardStage, type ModelFamily } from "../family.ts";
import { refuseQuantize } from "../inference_support.ts";
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
  forwardStages: (c, T) => {
    const C = c.dModel, F = c.ffnDim, V = c.vocabSize, p = "blocks.0.";
    return [
      forwardStage(
        "token embeddings + ln0",
        [T, C],
        ["emb.weight", "blocks.0.ln0.weight", "blocks.0.ln0.bias"],
        "each id picks a row; no positions: order lives in the recurrence",
        false,
      ),
      forwardStage("LayerNorm (ln1)", [T, C], [p + "ln1.weight", p + "ln1.bias"], "normalised"),
      forwardStage("time mixing: r, k, v", [T, C], [
        p + "att.time_mix_k",
        p + "att.key.weight",
        p + "att.value.weight",
        p + "att.receptance.weight",
      ], "each input blended with the previous token's, then projected"),
      forwardStage(
        "WKV recurrence",
        [T, C],
        [p + "att.time_decay", p + "att.time_first"],
        "a running, decaying weighted average of past values (state: 3 × C per block)",
      ),
      forwardStage(
        "time-mix output + residual",
        [T, C],
        [p + "att.output.weight"],
        "sigmoid(r) · wkv, projected, added to the stream",
      ),
      forwardStage(
        "LayerNorm (ln2)",
        [T, C],
        [p + "ln2.weight", p + "ln2.bias"],
        "normalised again",
      ),
      forwardStage(
        "channel mixing",
        [T, F],
        [p + "ffn.time_mix_k", p + "ffn.key.weight"],
        "squared ReLU of a wider layer",
      ),
      forwardStage("channel-mix output + residual", [T, C], [
        p + "ffn.value.weight",
        p + "ffn.receptance.weight",
      ], "gated by sigmoid(r), added to the stream"),
      forwardStage(
        "final LayerNorm",
        [T, C],
        ["ln_out.weight", "ln_out.bias"],
        "last normalisation",
        false,
      ),
      forwardStage("logits (head)", [T, V], ["head.weight"], "a score per vocabulary entry", false),
    ];
  },
  createInferenceModel: (backend, config, weights, source, options) => {
    refuseQuantize("RWKV-4", source, options);
    return new RwkvInference(backend, config, weights, source);
  },
  gguf:
    "llama.cpp has no RWKV-4 architecture (it runs RWKV-6 and RWKV-7, whose blocks differ); export the checkpoint as safetensors, or use rwkv.cpp",
};
