/**
 * GPT-2's weights: the canonical list (Hugging Face GPT-2 names without the `transformer.`
 * prefix, HF's `[in, out]` Conv1D layout, nanoGPT's initialisation) and the names in files:
 * Bentevi writes `transformer.<name>` as Hugging Face does, and reads Hugging Face GPT-2
 * directories (with or without the prefix, the attention-mask buffers ignored, a tied
 * `lm_head` accepted).
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import type { NamedTensor } from "../../io/safetensors.ts";
import type { FileTensor } from "../family.ts";
import type { LinearTarget } from "../linear.ts";
import { constantSpec, layerNormSpecs, type WeightSpec } from "../weight_spec.ts";
import type { GptConfig } from "./config.ts";

/**
 * Every GPT weight in canonical order: N(0, 0.02), residual projections scaled by 1/√(2L),
 * position table N(0, 0.01), norms and biases constant.
 *
 * @example
 * ```ts
 * import { gptWeightSpecs } from "./weights.ts";
 * import { GPT_PRESETS } from "./config.ts";
 * console.log(gptWeightSpecs({ ...GPT_PRESETS["gpt-micro"], vocabSize: 64 })[1].name); // wpe.weight
 * ```
 */
export function gptWeightSpecs(c: GptConfig): WeightSpec[] {
  const { vocabSize: V, contextLength: T, dModel: C, nLayer: L, mlpDim: M } = c;
  const std = 0.02;
  const projStd = 0.02 / Math.sqrt(2 * L);
  const w = (name: string, shape: number[], s = std): WeightSpec => ({
    name,
    shape,
    decay: true,
    embedding: false,
    init: { kind: "normal", std: s },
  });
  const out: WeightSpec[] = [
    {
      name: "wte.weight",
      shape: [V, C],
      decay: false,
      embedding: true,
      init: { kind: "normal", std },
    },
    {
      name: "wpe.weight",
      shape: [T, C],
      decay: false,
      embedding: true,
      init: { kind: "normal", std: 0.01 },
    },
  ];
  for (let l = 0; l < L; l++) {
    const p = `h.${l}`;
    out.push(
      ...layerNormSpecs(`${p}.ln_1`, C),
      w(`${p}.attn.c_attn.weight`, [C, 3 * C]),
      constantSpec(`${p}.attn.c_attn.bias`, [3 * C], 0),
      w(`${p}.attn.c_proj.weight`, [C, C], projStd),
      constantSpec(`${p}.attn.c_proj.bias`, [C], 0),
      ...layerNormSpecs(`${p}.ln_2`, C),
      w(`${p}.mlp.c_fc.weight`, [C, M]),
      constantSpec(`${p}.mlp.c_fc.bias`, [M], 0),
      w(`${p}.mlp.c_proj.weight`, [M, C], projStd),
      constantSpec(`${p}.mlp.c_proj.bias`, [C], 0),
    );
  }
  out.push(...layerNormSpecs("ln_f", C));
  return out;
}

/** A weight as Bentevi writes it: Hugging Face's `transformer.` prefix, canonical shape. */
export function gptFileTensor(spec: WeightSpec): FileTensor {
  return { name: `transformer.${spec.name}`, shape: spec.shape };
}

/** Hugging Face's causal-mask buffers, which are not weights. */
const IGNORED = /^h\.\d+\.attn\.(bias|masked_bias)$/;

/** The canonical name of a tensor of a GPT-2 file (null: a mask buffer, ignored). */
export function gptCanonicalName(fileName: string): string | null {
  const name = fileName.startsWith("transformer.")
    ? fileName.slice("transformer.".length)
    : fileName;
  return IGNORED.test(name) ? null : name;
}

/**
 * Accepts a Hugging Face `lm_head.weight` equal to `wte.weight` (the tied head); one that
 * differs is refused, anything else is not accounted for.
 */
export function gptAcceptsExtraTensor(
  name: string,
  tensor: NamedTensor,
  weights: Map<string, NamedTensor>,
  source: string,
): boolean {
  if (name !== "lm_head.weight") return false;
  const wte = weights.get("wte.weight")!.data;
  let equal = tensor.data.length === wte.length;
  for (let i = 0; equal && i < wte.length; i++) equal = tensor.data[i] === wte[i];
  if (!equal) {
    throw new BenteviError(
      `${source}: lm_head.weight differs from wte.weight; Bentevi's GPT ties the output head to the embeddings`,
    );
  }
  return true;
}

/**
 * GPT-2's adaptable linear layers under PEFT's names: `c_attn`, `c_proj` (attention and MLP)
 * and `c_fc`, each its own site, Conv1D weights (`fan_in_fan_out`).
 *
 * @example
 * ```ts
 * import { gptLinearTargets } from "./weights.ts";
 * import { GPT_PRESETS } from "./config.ts";
 * const t = gptLinearTargets({ ...GPT_PRESETS["gpt-micro"], vocabSize: 64 });
 * console.log(t[0].path, t[0].in, t[0].out); // transformer.h.0.attn.c_attn 128 384
 * ```
 */
export function gptLinearTargets(c: GptConfig): LinearTarget[] {
  const { dModel: C, mlpDim: M } = c;
  const out: LinearTarget[] = [];
  const add = (l: number, sub: string, inF: number, outF: number) => {
    const module = sub.split(".")[1];
    const weight = `h.${l}.${sub}.weight`;
    out.push({
      module,
      path: `transformer.h.${l}.${sub}`,
      weight,
      site: weight,
      in: inF,
      out: outF,
      siteOut: outF,
      rowOffset: 0,
      fanInFanOut: true,
    });
  };
  for (let l = 0; l < c.nLayer; l++) {
    add(l, "attn.c_attn", C, 3 * C);
    add(l, "attn.c_proj", C, C);
    add(l, "mlp.c_fc", C, M);
    add(l, "mlp.c_proj", M, C);
  }
  return out;
}
