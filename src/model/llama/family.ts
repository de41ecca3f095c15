/**
 * The Llama family: token embeddings without a position table, pre-norm blocks of RMSNorm,
 * grouped-query attention with rotary position embeddings (Hugging Face's layout) and a
 * SwiGLU MLP, a final RMSNorm, an output head tied or untied. Checkpoints are Hugging Face
 * `LlamaForCausalLM` directories (names, shapes and `config.json`).
 *
 * @module
 */
import { forwardStage, type ModelFamily } from "../family.ts";
import { llamaGguf } from "./gguf.ts";
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
  LLAMA_HEAD,
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
  forwardStages: (c, T) => {
    const C = c.dModel, M = c.ffnDim, V = c.vocabSize, NH = c.nHead, NKV = c.nKvHead;
    const hd = c.headDim, p = "model.layers.0.";
    return [
      forwardStage(
        "token embeddings",
        [T, C],
        [LLAMA_EMBEDDING],
        "each id picks a row; positions come later, through RoPE",
        false,
      ),
      forwardStage(
        "RMSNorm (input_layernorm)",
        [T, C],
        [p + "input_layernorm.weight"],
        "each row divided by its root mean square",
      ),
      forwardStage("q, k, v projections", [T, (NH + 2 * NKV) * hd], [
        p + "self_attn.q_proj.weight",
        p + "self_attn.k_proj.weight",
        p + "self_attn.v_proj.weight",
      ], `${NH} query heads and ${NKV} key/value heads of ${hd}`),
      forwardStage(
        "RoPE",
        [T, (NH + 2 * NKV) * hd],
        [],
        "queries and keys rotated by their position",
      ),
      forwardStage(
        `causal attention (${NH} heads${NKV < NH ? `, ${NKV} kv` : ""})`,
        [T, NH * hd],
        [],
        "each position mixes the values of itself and earlier positions, weighted by softmax(q·k/√hd)",
      ),
      forwardStage(
        "attention output + residual",
        [T, C],
        [p + "self_attn.o_proj.weight"],
        "projected back and added to the stream",
      ),
      forwardStage(
        "RMSNorm (post_attention_layernorm)",
        [T, C],
        [p + "post_attention_layernorm.weight"],
        "normalised again before the MLP",
      ),
      forwardStage(
        "gate, up + SwiGLU",
        [T, M],
        [p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"],
        "silu(gate) · up: a gated hidden layer",
      ),
      forwardStage(
        "down + residual",
        [T, C],
        [p + "mlp.down_proj.weight"],
        "back to the width C, added to the stream",
      ),
      forwardStage("final RMSNorm", [T, C], ["model.norm.weight"], "last normalisation", false),
      forwardStage(
        c.tieEmbeddings ? "logits (head tied to the embeddings)" : "logits (lm_head)",
        [T, V],
        [c.tieEmbeddings ? LLAMA_EMBEDDING : LLAMA_HEAD],
        "a score per vocabulary entry",
        false,
      ),
    ];
  },
  createInferenceModel: (backend, config, weights, source, options) =>
    new LlamaInference(backend, config, weights, source, undefined, options),
  gguf: llamaGguf,
};
