/**
 * The GPT-2 family: learned token and position embeddings, pre-LN blocks with fused QKV
 * attention and a GELU MLP, output head tied to the token embeddings.
 *
 * @module
 */
import { forwardStage, type ModelFamily } from "../family.ts";
import { gptGguf } from "./gguf.ts";
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
  forwardStages: (c, T) => {
    const C = c.dModel, M = c.mlpDim, V = c.vocabSize, NH = c.nHead;
    return [
      forwardStage(
        "token + position embeddings",
        [T, C],
        ["wte.weight", "wpe.weight"],
        "each id picks a row of wte; wpe adds where it sits",
        false,
      ),
      forwardStage(
        "LayerNorm (ln_1)",
        [T, C],
        ["h.0.ln_1.weight", "h.0.ln_1.bias"],
        "each row rescaled to mean 0, variance 1",
      ),
      forwardStage(
        "q, k, v projection",
        [T, 3 * C],
        ["h.0.attn.c_attn.weight", "h.0.attn.c_attn.bias"],
        `queries, keys and values for ${NH} heads of ${C / NH}`,
      ),
      forwardStage(
        `causal attention (${NH} heads)`,
        [T, C],
        [],
        "each position mixes the values of itself and earlier positions, weighted by softmax(q·k/√hd)",
      ),
      forwardStage(
        "attention output + residual",
        [T, C],
        ["h.0.attn.c_proj.weight", "h.0.attn.c_proj.bias"],
        "projected back and added to the stream",
      ),
      forwardStage(
        "LayerNorm (ln_2)",
        [T, C],
        ["h.0.ln_2.weight", "h.0.ln_2.bias"],
        "normalised again before the MLP",
      ),
      forwardStage(
        "MLP up + GELU",
        [T, M],
        ["h.0.mlp.c_fc.weight", "h.0.mlp.c_fc.bias"],
        "a wider hidden layer, per position",
      ),
      forwardStage(
        "MLP down + residual",
        [T, C],
        ["h.0.mlp.c_proj.weight", "h.0.mlp.c_proj.bias"],
        "back to the width C, added to the stream",
      ),
      forwardStage(
        "final LayerNorm",
        [T, C],
        ["ln_f.weight", "ln_f.bias"],
        "last normalisation",
        false,
      ),
      forwardStage(
        "logits (head tied to wte)",
        [T, V],
        ["wte.weight"],
        "a score per vocabulary entry: the stream · every token embedding",
        false,
      ),
    ];
  },
  createInferenceModel: (backend, config, weights, source, options) =>
    new GptInference(backend, config, weights, source, undefined, options),
  gguf: gptGguf,
};
