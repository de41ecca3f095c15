/**
 * RWKV-5's weights under BlinkDL's `.pth` names and shapes: the RWKV-4 layout plus
 * `att.ln_x`, per-head `time_decay`/`time_first` (5.1) or per-channel `time_decay`/
 * `time_faaaa` `[H, N]` and `att.gate`/`time_mix_g` (5.2). `time_decay` is BlinkDL's raw w
 * (the decay is `exp(−exp(w))`); 5.1's bonus is `exp(time_first)`. RWKV-6 replaces the
 * `time_mix_*` by `att.time_maa_x/w/k/v/r/g [1, 1, C]`, `att.time_maa_w1 [C, 5·D]`,
 * `att.time_maa_w2 [5, D, C]`, `ffn.time_maa_k/r [1, 1, C]`, and adds
 * `att.time_decay_w1 [C, D']`, `att.time_decay_w2 [D', C]` (`time_decay` is `[1, 1, C]`).
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import type { FileTensor } from "../family.ts";
import { constantSpec, layerNormSpecs, type WeightSpec } from "../weight_spec.ts";
import type { Rwkv5Config } from "./config.ts";

/**
 * Every RWKV-5 weight in canonical order (constant initial values: RWKV-5 is not trained).
 *
 * @example
 * ```ts
 * import { rwkv5WeightSpecs } from "./weights.ts";
 * const c = { arch: "rwkv5", version: "5.1", vocabSize: 256, contextLength: 1024, dModel: 64,
 *   nLayer: 1, ffnDim: 256, headSize: 8, layerNormEps: 1e-5, groupNormEps: 1e-5 } as const;
 * console.log(rwkv5WeightSpecs(c).find((s) => s.name.endsWith("time_decay"))!.shape); // [8]
 * ```
 */
export function rwkv5WeightSpecs(c: Rwkv5Config): WeightSpec[] {
  const { vocabSize: V, dModel: C, nLayer: L, ffnDim: F, headSize: N } = c;
  const H = C / N, v6 = c.version === "6", v52 = c.version === "5.2" || v6;
  const mat = (name: string, out: number, inp: number): WeightSpec => ({
    ...constantSpec(name, [out, inp], 0),
    decay: true,
  });
  const mix = (name: string) => constantSpec(name, [1, 1, C], 0.5);
  const out: WeightSpec[] = [
    { ...constantSpec("emb.weight", [V, C], 0), embedding: true },
    ...layerNormSpecs("blocks.0.ln0", C),
  ];
  for (let l = 0; l < L; l++) {
    const p = `blocks.${l}.`;
    out.push(
      ...layerNormSpecs(`${p}ln1`, C),
      ...layerNormSpecs(`${p}ln2`, C),
      ...(v6 ? rwkv6MixSpecs(p, C, c.mixLowRank ?? 0, c.decayLowRank ?? 0) : [
        mix(`${p}att.time_mix_k`),
        mix(`${p}att.time_mix_v`),
        mix(`${p}att.time_mix_r`),
        ...(v52 ? [mix(`${p}att.time_mix_g`)] : []),
      ]),
      constantSpec(`${p}att.time_decay`, v6 ? [1, 1, C] : v52 ? [H, N] : [H], 0),
      v52
        ? constantSpec(`${p}att.time_faaaa`, [H, N], 0)
        : constantSpec(`${p}att.time_first`, [H], 0),
      mat(`${p}att.key.weight`, C, C),
      mat(`${p}att.value.weight`, C, C),
      mat(`${p}att.receptance.weight`, C, C),
      ...(v52 ? [mat(`${p}att.gate.weight`, C, C)] : []),
      mat(`${p}att.output.weight`, C, C),
      ...layerNormSpecs(`${p}att.ln_x`, C),
      mix(`${p}ffn.time_${v6 ? "maa" : "mix"}_k`),
      mix(`${p}ffn.time_${v6 ? "maa" : "mix"}_r`),
      mat(`${p}ffn.key.weight`, F, C),
      mat(`${p}ffn.receptance.weight`, C, C),
      mat(`${p}ffn.value.weight`, C, F),
    );
  }
  out.push(...layerNormSpecs("ln_out", C), mat("head.weight", V, C));
  return out;
}

/** RWKV-6's token-shift and decay parameters of block prefix `p` (ranks `D`, `D2`). */
function rwkv6MixSpecs(p: string, C: number, D: number, D2: number): WeightSpec[] {
  const maa = (m: string) => constantSpec(`${p}att.time_maa_${m}`, [1, 1, C], 0.5);
  return [
    ...["x", "w", "k", "v", "r", "g"].map(maa),
    constantSpec(`${p}att.time_maa_w1`, [C, 5 * D], 0),
    constantSpec(`${p}att.time_maa_w2`, [5, D, C], 0),
    constantSpec(`${p}att.time_decay_w1`, [C, D2], 0),
    constantSpec(`${p}att.time_decay_w2`, [D2, C], 0),
  ];
}

/** A weight as written: BlinkDL's name and shape. */
export function rwkv5FileTensor(spec: WeightSpec): FileTensor {
  return { name: spec.name, shape: spec.shape };
}

/** The canonical name of a tensor of an RWKV-5 file (BlinkDL's; Hugging Face's refused). */
export function rwkv5CanonicalName(fileName: string, source: string): string {
  if (fileName.startsWith("rwkv.") || fileName.startsWith("model.")) {
    throw new BenteviError(
      `${source}: tensor ${fileName} uses Hugging Face RWKV-5 names, which Bentevi does not ` +
        `read; use BlinkDL names (emb.weight, blocks.N.att…)`,
    );
  }
  return fileName;
}
