/**
 * GPT-2 as llama.cpp's `gpt2` architecture in GGUF files: the hyper-parameter keys it reads and
 * its tensor names, the Conv1D matrices (Hugging Face's `[in, out]`) transposed to ggml's rows
 * of inputs (`[out, in]`), and the tied head written again as `output.weight`.
 *
 * @module
 */
import type { GgufArchitecture, GgufTensorMapping } from "../family.ts";
import { transposed } from "../inference_support.ts";
import type { GptConfig } from "./config.ts";

/**
 * The `gpt2` GGUF architecture.
 *
 * @example
 * ```ts
 * import { gptGguf } from "./gguf.ts";
 * import { GPT_PRESETS } from "./config.ts";
 * const t = gptGguf.tensors({ ...GPT_PRESETS["gpt-micro"], vocabSize: 64 });
 * console.log(t[2].gguf, t[2].canonical); // blk.0.attn_norm.weight h.0.ln_1.weight
 * ```
 */
export const gptGguf: GgufArchitecture<GptConfig> = {
  name: "gpt2",
  metadata: (c) => [
    ["gpt2.context_length", { type: "u32", value: c.contextLength }],
    ["gpt2.embedding_length", { type: "u32", value: c.dModel }],
    ["gpt2.feed_forward_length", { type: "u32", value: c.mlpDim }],
    ["gpt2.block_count", { type: "u32", value: c.nLayer }],
    ["gpt2.attention.head_count", { type: "u32", value: c.nHead }],
    ["gpt2.attention.layer_norm_epsilon", { type: "f32", value: c.layerNormEps }],
  ],
  configFromMetadata: (read, vocabSize) => {
    const dModel = read.num("gpt2.embedding_length");
    return {
      arch: "gpt",
      vocabSize,
      contextLength: read.num("gpt2.context_length"),
      dModel,
      nLayer: read.num("gpt2.block_count"),
      nHead: read.num("gpt2.attention.head_count"),
      mlpDim: read.num("gpt2.feed_forward_length", 4 * dModel),
      layerNormEps: read.num("gpt2.attention.layer_norm_epsilon", 1e-5),
    };
  },
  tensors: (c) => {
    const { vocabSize: V, contextLength: T, dModel: C, mlpDim: M } = c;
    const plain = (gguf: string, canonical: string, shape: number[]): GgufTensorMapping => ({
      gguf,
      canonical,
      shape,
    });
    // Hugging Face stores [in, out]; ggml wants [out, in] (rows of inputs).
    const conv = (
      gguf: string,
      canonical: string,
      inp: number,
      out: number,
    ): GgufTensorMapping => ({
      gguf,
      canonical,
      shape: [out, inp],
      toGguf: (x) => transposed(x, inp, out),
      fromGguf: (x) => transposed(x, out, inp),
    });
    const out: GgufTensorMapping[] = [
      plain("token_embd.weight", "wte.weight", [V, C]),
      plain("position_embd.weight", "wpe.weight", [T, C]),
    ];
    for (let l = 0; l < c.nLayer; l++) {
      const b = `blk.${l}`, h = `h.${l}`;
      out.push(
        plain(`${b}.attn_norm.weight`, `${h}.ln_1.weight`, [C]),
        plain(`${b}.attn_norm.bias`, `${h}.ln_1.bias`, [C]),
        conv(`${b}.attn_qkv.weight`, `${h}.attn.c_attn.weight`, C, 3 * C),
        plain(`${b}.attn_qkv.bias`, `${h}.attn.c_attn.bias`, [3 * C]),
        conv(`${b}.attn_output.weight`, `${h}.attn.c_proj.weight`, C, C),
        plain(`${b}.attn_output.bias`, `${h}.attn.c_proj.bias`, [C]),
        plain(`${b}.ffn_norm.weight`, `${h}.ln_2.weight`, [C]),
        plain(`${b}.ffn_norm.bias`, `${h}.ln_2.bias`, [C]),
        conv(`${b}.ffn_up.weight`, `${h}.mlp.c_fc.weight`, C, M),
        plain(`${b}.ffn_up.bias`, `${h}.mlp.c_fc.bias`, [M]),
        conv(`${b}.ffn_down.weight`, `${h}.mlp.c_proj.weight`, M, C),
        plain(`${b}.ffn_down.bias`, `${h}.mlp.c_proj.bias`, [C]),
      );
    }
    out.push(
      plain("output_norm.weight", "ln_f.weight", [C]),
      plain("output_norm.bias", "ln_f.bias", [C]),
      { gguf: "output.weight", canonical: "wte.weight", shape: [V, C], duplicate: true },
    );
    return out;
  },
};
