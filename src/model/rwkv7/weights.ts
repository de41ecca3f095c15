/**
 * RWKV-7's weights: the canonical list under BlinkDL's `.pth` names and shapes (the names
 * the community's RWKV-7 tools read: `blocks.N.att.x_r [1, 1, C]`, `w1 [C, D]`, `r_k [H, N]`…)
 * with BlinkDL's x070 initialisation.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import type { FileTensor } from "../family.ts";
import { constantSpec, layerNormSpecs, type WeightSpec } from "../weight_spec.ts";
import type { Rwkv7Config } from "./config.ts";

/** The six token-shift mixes of time mixing, in BlinkDL's order. */
export const RWKV7_ATT_MIXES = ["x_r", "x_w", "x_k", "x_v", "x_a", "x_g"] as const;

/** Standard deviation that matches PyTorch's `orthogonal_(gain)` entry scale for `[out, in]`. */
function orthoStd(out: number, inp: number, scale: number): number {
  const gain = out > inp ? Math.sqrt(out / inp) : 1;
  return (gain * scale) / Math.sqrt(Math.max(out, inp));
}

/**
 * Every RWKV-7 weight in canonical order (layer 0 has no value-residual branch `v0/v1/v2`).
 *
 * @example
 * ```ts
 * import { rwkv7WeightSpecs } from "./weights.ts";
 * import { RWKV7_PRESETS } from "./config.ts";
 * const specs = rwkv7WeightSpecs({ ...RWKV7_PRESETS["rwkv7-micro"], vocabSize: 64 });
 * console.log(specs.find((s) => s.name === "blocks.1.att.w1")!.shape); // [256, 32]
 * ```
 */
export function rwkv7WeightSpecs(c: Rwkv7Config): WeightSpec[] {
  const { vocabSize: V, dModel: C, nLayer: L, ffnDim: F, headSize: N } = c;
  const H = C / N;
  const vec = (name: string, values: (i: number) => number, shape = [1, 1, C]): WeightSpec => ({
    name,
    shape,
    decay: false,
    embedding: false,
    init: { kind: "computed", values: () => Float32Array.from({ length: C }, (_, i) => values(i)) },
  });
  // Linear layers [out, in] (decayed); BlinkDL: uniform ±scale/√C, zero for the outputs.
  const lin = (name: string, out: number, inp: number, scale: number): WeightSpec => ({
    name,
    shape: [out, inp],
    decay: true,
    embedding: false,
    init: scale === 0
      ? { kind: "const", value: 0 }
      : { kind: "uniform", limit: scale / Math.sqrt(C) },
  });
  // Low-rank pairs: the first factor zero, the second orthogonal at gain 0.1 (not decayed).
  const lora = (p: string, D: number): WeightSpec[] => [
    { ...constantSpec(`${p}1`, [C, D], 0) },
    {
      name: `${p}2`,
      shape: [D, C],
      decay: false,
      embedding: false,
      init: { kind: "normal", std: orthoStd(D, C, 0.1) },
    },
  ];
  const out: WeightSpec[] = [
    {
      name: "emb.weight",
      shape: [V, C],
      decay: false,
      embedding: true,
      init: { kind: "uniform", limit: 1e-4 },
    },
    ...layerNormSpecs("blocks.0.ln0", C),
  ];
  for (let l = 0; l < L; l++) {
    const p = `blocks.${l}`;
    const r01 = L > 1 ? l / (L - 1) : 0, r1a0 = 1 - l / L;
    const ddd = (i: number) => i / C;
    const linear = (i: number) => i / (C - 1 || 1) - 0.5;
    const zigzag = (i: number) => {
      const z = N > 1 ? ((i % N) - (N - 1) / 2) / ((N - 1) / 2) : 0;
      return z * Math.abs(z);
    };
    const mixPow = { x_r: 0.2, x_w: 0.9, x_k: 0.7, x_v: 0.7, x_a: 0.9, x_g: 0.2 };
    out.push(...layerNormSpecs(`${p}.ln1`, C), ...layerNormSpecs(`${p}.ln2`, C));
    for (const m of RWKV7_ATT_MIXES) {
      out.push(vec(`${p}.att.${m}`, (i) => 1 - Math.pow(ddd(i), mixPow[m] * r1a0)));
    }
    out.push(
      vec(
        `${p}.att.w0`,
        (i) => -6 + 6 * Math.pow(i / (C - 1 || 1), 1 + Math.pow(r01, 0.3)) + 0.5 + zigzag(i) * 2.5,
      ),
      ...lora(`${p}.att.w`, c.decayLora),
      vec(`${p}.att.a0`, (i) => -0.19 + zigzag(i) * 0.3 + linear(i) * 0.4),
      ...lora(`${p}.att.a`, c.aLora),
    );
    if (l > 0) {
      out.push(vec(`${p}.att.v0`, (i) => 0.73 - linear(i) * 0.4), ...lora(`${p}.att.v`, c.vLora));
    }
    out.push(
      ...lora(`${p}.att.g`, c.gateLora),
      vec(`${p}.att.k_k`, (i) => 0.71 - linear(i) * 0.1),
      vec(`${p}.att.k_a`, () => 1.02),
      vec(`${p}.att.r_k`, () => -0.04, [H, N]),
      lin(`${p}.att.receptance.weight`, C, C, 0.5),
      lin(`${p}.att.key.weight`, C, C, 0.05),
      lin(`${p}.att.value.weight`, C, C, 0.5),
      lin(`${p}.att.output.weight`, C, C, 0),
      constantSpec(`${p}.att.ln_x.weight`, [C], Math.pow((1 + l) / L, 0.7)),
      constantSpec(`${p}.att.ln_x.bias`, [C], 0),
      vec(`${p}.ffn.x_k`, (i) => 1 - Math.pow(ddd(i), Math.pow(r1a0, 4))),
      lin(`${p}.ffn.key.weight`, F, C, 0.5),
      lin(`${p}.ffn.value.weight`, C, F, 0),
    );
  }
  out.push(...layerNormSpecs("ln_out", C), {
    name: "head.weight",
    shape: [V, C],
    decay: true,
    embedding: false,
    init: { kind: "normal", std: orthoStd(V, C, 0.5) },
  });
  return out;
}

/** A weight as written: BlinkDL's name and shape (the canonical ones). */
export function rwkv7FileTensor(spec: WeightSpec): FileTensor {
  return { name: spec.name, shape: spec.shape };
}

/**
 * The canonical name of a tensor of an RWKV-7 file: BlinkDL's names are canonical; the
 * Hugging Face / fla-hub layout (`model.layers.N.attn…`) is refused by name.
 */
export function rwkv7CanonicalName(fileName: string, source: string): string {
  if (fileName.startsWith("model.") || fileName.startsWith("rwkv.")) {
    throw new BenteviError(
      `${source}: tensor ${fileName} uses Hugging Face/fla-hub RWKV-7 names, which Bentevi ` +
        `does not read; use BlinkDL names (emb.weight, blocks.N.att.x_r, …)`,
    );
  }
  return fileName;
}
