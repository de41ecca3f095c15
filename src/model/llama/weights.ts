/**
 * Llama's weights: the canonical list under Hugging Face's own names and shapes (`nn.Linear`'s
 * `[out, in]`), so files are written and read without renaming. The q, k and v projections of
 * a layer are one fused view (`…self_attn.qkv_proj.weight`, `[(NH + 2·NKV)·hd, C]`) in the
 * parameter buffer, so training computes the fused `qkv` rows with one matmul.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import type { NamedTensor } from "../../io/safetensors.ts";
import type { FileTensor } from "../family.ts";
import type { LinearTarget } from "../linear.ts";
import { constantSpec, type WeightSpec } from "../weight_spec.ts";
import type { LlamaConfig } from "./config.ts";

/** The token embedding table `[V, C]`. */
export const LLAMA_EMBEDDING = "model.embed_tokens.weight";
/** The untied output head `[V, C]`. */
export const LLAMA_HEAD = "lm_head.weight";

/** The name prefix of layer `l`. */
export function layerPrefix(l: number): string {
  return `model.layers.${l}`;
}

/** The fused q|k|v view of layer `l`: `[(NH + 2·NKV)·hd, C]` (q, k, v rows stacked). */
export function fusedQkvName(l: number): string {
  return `${layerPrefix(l)}.self_attn.qkv_proj.weight`;
}

/**
 * Every Llama weight in canonical order: matrices N(0, 0.02) with the residual projections
 * (`o_proj`, `down_proj`) scaled by 1/√(2L) as GPT's, RMSNorm gains 1.
 *
 * @example
 * ```ts
 * import { llamaWeightSpecs } from "./weights.ts";
 * import { LLAMA_PRESETS } from "./config.ts";
 * const specs = llamaWeightSpecs({ ...LLAMA_PRESETS["llama-micro"], vocabSize: 64 });
 * console.log(specs[2].name, specs[3].shape); // model.layers.0.self_attn.q_proj.weight [ 64, 128 ]
 * ```
 */
export function llamaWeightSpecs(c: LlamaConfig): WeightSpec[] {
  const { vocabSize: V, dModel: C, nLayer: L, ffnDim: M } = c;
  const Q = c.nHead * c.headDim, KV = c.nKvHead * c.headDim;
  const std = 0.02, projStd = 0.02 / Math.sqrt(2 * L);
  const w = (name: string, shape: number[], s = std, fusedAs?: string): WeightSpec => ({
    name,
    shape,
    decay: true,
    embedding: false,
    init: { kind: "normal", std: s },
    ...(fusedAs ? { fusedAs } : {}),
  });
  const out: WeightSpec[] = [
    {
      name: LLAMA_EMBEDDING,
      shape: [V, C],
      decay: false,
      embedding: true,
      init: { kind: "normal", std },
    },
  ];
  for (let l = 0; l < L; l++) {
    const p = layerPrefix(l), qkv = fusedQkvName(l);
    out.push(
      constantSpec(`${p}.input_layernorm.weight`, [C], 1),
      w(`${p}.self_attn.q_proj.weight`, [Q, C], std, qkv),
      w(`${p}.self_attn.k_proj.weight`, [KV, C], std, qkv),
      w(`${p}.self_attn.v_proj.weight`, [KV, C], std, qkv),
      w(`${p}.self_attn.o_proj.weight`, [C, Q], projStd),
      constantSpec(`${p}.post_attention_layernorm.weight`, [C], 1),
      w(`${p}.mlp.gate_proj.weight`, [M, C]),
      w(`${p}.mlp.up_proj.weight`, [M, C]),
      w(`${p}.mlp.down_proj.weight`, [C, M], projStd),
    );
  }
  out.push(constantSpec("model.norm.weight", [C], 1));
  if (!c.tieEmbeddings) out.push(w(LLAMA_HEAD, [V, C]));
  return out;
}

/** A weight as Bentevi writes it: its canonical (Hugging Face) name and shape. */
export function llamaFileTensor(spec: WeightSpec): FileTensor {
  return { name: spec.name, shape: spec.shape };
}

/** Buffers older `transformers` saved with the weights (the RoPE frequencies), not weights. */
const IGNORED = /^model\.layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/;

/** The canonical name of a tensor of a Llama file (null: a RoPE buffer, ignored). */
export function llamaCanonicalName(fileName: string): string | null {
  return IGNORED.test(fileName) ? null : fileName;
}

/**
 * With a tied head, accepts an `lm_head.weight` equal to the embeddings (some tools save it
 * anyway) and refuses one that differs; anything else is not accounted for.
 */
export function llamaAcceptsExtraTensor(
  name: string,
  tensor: NamedTensor,
  weights: Map<string, NamedTensor>,
  source: string,
): boolean {
  if (name !== LLAMA_HEAD) return false;
  const emb = weights.get(LLAMA_EMBEDDING)!.data;
  let equal = tensor.data.length === emb.length;
  for (let i = 0; equal && i < emb.length; i++) equal = tensor.data[i] === emb[i];
  if (!equal) {
    throw new BenteviError(
      `${source}: lm_head.weight differs from ${LLAMA_EMBEDDING} but the config ties them ` +
        "(tie_word_embeddings true)",
    );
  }
  return true;
}

/**
 * Llama's adaptable linear layers under PEFT's names: `q_proj`, `k_proj`, `v_proj` (rows of
 * the fused q|k|v site), `o_proj`, `gate_proj`, `up_proj`, `down_proj` (`nn.Linear`, `[out, in]`).
 *
 * @example
 * ```ts
 * import { llamaLinearTargets } from "./weights.ts";
 * import { LLAMA_PRESETS } from "./config.ts";
 * const t = llamaLinearTargets({ ...LLAMA_PRESETS["llama-micro"], vocabSize: 64 });
 * console.log(t[1].module, t[1].site, t[1].rowOffset); // k_proj model.layers.0.self_attn.qkv_proj.weight 128
 * ```
 */
export function llamaLinearTargets(c: LlamaConfig): LinearTarget[] {
  const { dModel: C, ffnDim: M } = c;
  const Q = c.nHead * c.headDim, KV = c.nKvHead * c.headDim;
  const out: LinearTarget[] = [];
  for (let l = 0; l < c.nLayer; l++) {
    const p = layerPrefix(l);
    const add = (sub: string, inF: number, outF: number, site?: string, rowOffset = 0) => {
      const weight = `${p}.${sub}.weight`;
      out.push({
        module: sub.split(".")[1],
        path: `${p}.${sub}`,
        weight,
        site: site ?? weight,
        in: inF,
        out: outF,
        siteOut: site ? Q + 2 * KV : outF,
        rowOffset,
        fanInFanOut: false,
      });
    };
    const qkv = fusedQkvName(l);
    add("self_attn.q_proj", C, Q, qkv, 0);
    add("self_attn.k_proj", C, KV, qkv, Q);
    add("self_attn.v_proj", C, KV, qkv, Q + KV);
    add("self_attn.o_proj", Q, C);
    add("mlp.gate_proj", C, M);
    add("mlp.up_proj", C, M);
    add("mlp.down_proj", M, C);
  }
  return out;
}
