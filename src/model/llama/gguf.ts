/**
 * Llama as llama.cpp's `llama` architecture in GGUF files: the hyper-parameter keys, tensor
 * names, and the q/k rows permuted as llama.cpp's converter does (`convert_hf_to_gguf.py`'s
 * `permute`): Hugging Face rotates the two halves of a head (`rotate_half`), ggml's RoPE rotates
 * adjacent pairs, so row `h·d + 2i + j` of the file is row `h·d + j·d/2 + i` of Hugging Face's.
 *
 * @module
 */
import type { GgufArchitecture, GgufTensorMapping } from "../family.ts";
import type { LlamaConfig } from "./config.ts";
import { layerPrefix, LLAMA_EMBEDDING, LLAMA_HEAD } from "./weights.ts";

/**
 * Hugging Face's q/k rows (halves rotated) → ggml's (pairs rotated), for `heads` heads of
 * `headDim` rows of `cols` values; `inverse` undoes it.
 *
 * @example
 * ```ts
 * import { permuteRope } from "./gguf.ts";
 * console.log(permuteRope(Float32Array.from([0, 1, 2, 3]), 1, 4, 1)); // Float32Array [0, 2, 1, 3]
 * ```
 */
export function permuteRope(
  x: Float32Array,
  heads: number,
  headDim: number,
  cols: number,
  inverse = false,
): Float32Array {
  const out = new Float32Array(x.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const g = h * headDim + 2 * i + j, f = h * headDim + j * half + i;
        const [to, from] = inverse ? [f, g] : [g, f];
        out.set(x.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

/**
 * The `llama` GGUF architecture.
 *
 * @example
 * ```ts
 * import { llamaGguf } from "./gguf.ts";
 * import { LLAMA_PRESETS } from "./config.ts";
 * const t = llamaGguf.tensors({ ...LLAMA_PRESETS["llama-micro"], vocabSize: 64 });
 * console.log(t[2].gguf); // blk.0.attn_q.weight
 * ```
 */
export const llamaGguf: GgufArchitecture<LlamaConfig> = {
  name: "llama",
  metadata: (c) => [
    ["llama.vocab_size", { type: "u32", value: c.vocabSize }],
    ["llama.context_length", { type: "u32", value: c.contextLength }],
    ["llama.embedding_length", { type: "u32", value: c.dModel }],
    ["llama.block_count", { type: "u32", value: c.nLayer }],
    ["llama.feed_forward_length", { type: "u32", value: c.ffnDim }],
    ["llama.attention.head_count", { type: "u32", value: c.nHead }],
    ["llama.attention.head_count_kv", { type: "u32", value: c.nKvHead }],
    ["llama.attention.key_length", { type: "u32", value: c.headDim }],
    ["llama.attention.value_length", { type: "u32", value: c.headDim }],
    ["llama.rope.dimension_count", { type: "u32", value: c.headDim }],
    ["llama.rope.freq_base", { type: "f32", value: c.ropeTheta }],
    ["llama.attention.layer_norm_rms_epsilon", { type: "f32", value: c.rmsNormEps }],
  ],
  configFromMetadata: (read, vocabSize, source) => {
    const dModel = read.num("llama.embedding_length");
    const nHead = read.num("llama.attention.head_count");
    const headDim = read.num("llama.attention.key_length", dModel / nHead);
    const valueDim = read.num("llama.attention.value_length", headDim);
    const ropeDim = read.num("llama.rope.dimension_count", headDim);
    if (valueDim !== headDim || ropeDim !== headDim) {
      throw new Error(
        `${source}: llama.attention.value_length ${valueDim} / llama.rope.dimension_count ${ropeDim} differ from the key length ${headDim} (Bentevi's Llama rotates whole heads of one size)`,
      );
    }
    return {
      arch: "llama",
      vocabSize,
      contextLength: read.num("llama.context_length"),
      dModel,
      nLayer: read.num("llama.block_count"),
      nHead,
      nKvHead: read.num("llama.attention.head_count_kv", nHead),
      headDim,
      ffnDim: read.num("llama.feed_forward_length"),
      rmsNormEps: read.num("llama.attention.layer_norm_rms_epsilon", 1e-5),
      ropeTheta: read.num("llama.rope.freq_base", 10000),
      tieEmbeddings: !read.has("output.weight"),
    };
  },
  tensors: (c) => {
    const { vocabSize: V, dModel: C, ffnDim: M, headDim: D } = c;
    const Q = c.nHead * D, KV = c.nKvHead * D;
    const plain = (gguf: string, canonical: string, shape: number[]): GgufTensorMapping => ({
      gguf,
      canonical,
      shape,
    });
    const rope = (gguf: string, canonical: string, heads: number): GgufTensorMapping => ({
      gguf,
      canonical,
      shape: [heads * D, C],
      toGguf: (x) => permuteRope(x, heads, D, C),
      fromGguf: (x) => permuteRope(x, heads, D, C, true),
    });
    const out: GgufTensorMapping[] = [plain("token_embd.weight", LLAMA_EMBEDDING, [V, C])];
    for (let l = 0; l < c.nLayer; l++) {
      const b = `blk.${l}`, p = layerPrefix(l);
      out.push(
        plain(`${b}.attn_norm.weight`, `${p}.input_layernorm.weight`, [C]),
        rope(`${b}.attn_q.weight`, `${p}.self_attn.q_proj.weight`, c.nHead),
        rope(`${b}.attn_k.weight`, `${p}.self_attn.k_proj.weight`, c.nKvHead),
        plain(`${b}.attn_v.weight`, `${p}.self_attn.v_proj.weight`, [KV, C]),
        plain(`${b}.attn_output.weight`, `${p}.self_attn.o_proj.weight`, [C, Q]),
        plain(`${b}.ffn_norm.weight`, `${p}.post_attention_layernorm.weight`, [C]),
        plain(`${b}.ffn_gate.weight`, `${p}.mlp.gate_proj.weight`, [M, C]),
        plain(`${b}.ffn_up.weight`, `${p}.mlp.up_proj.weight`, [M, C]),
        plain(`${b}.ffn_down.weight`, `${p}.mlp.down_proj.weight`, [C, M]),
      );
    }
    out.push(plain("output_norm.weight", "model.norm.weight", [C]));
    if (!c.tieEmbeddings) out.push(plain("output.weight", LLAMA_HEAD, [V, C]));
    return out;
  },
};
