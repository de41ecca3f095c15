/**
 * RWKV-4's weights: the canonical list (BlinkDL's names, PyTorch's `Linear` `[out, in]`
 * layout, BlinkDL's v4neo initialisation) and the names in files: BlinkDL's own, with the
 * `time_mix_*` vectors stored as `[1, 1, C]` so their tools read Bentevi's files.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import type { FileTensor } from "../family.ts";
import type { LinearTarget } from "../linear.ts";
import { layerNormSpecs, type WeightSpec } from "../weight_spec.ts";
import type { RwkvConfig } from "./config.ts";

/** Standard deviation that matches PyTorch's `orthogonal_(gain)` entry scale for `[out, in]`. */
function orthoStd(out: number, inp: number, scale: number): number {
  const gain = out > inp ? Math.sqrt(out / inp) : 1;
  return (gain * scale) / Math.sqrt(Math.max(out, inp));
}

/**
 * Every RWKV-4 weight in canonical order.
 *
 * @example
 * ```ts
 * import { rwkvWeightSpecs } from "./weights.ts";
 * import { RWKV_PRESETS } from "./config.ts";
 * console.log(rwkvWeightSpecs({ ...RWKV_PRESETS["rwkv-micro"], vocabSize: 64 })[0].name); // emb.weight
 * ```
 */
export function rwkvWeightSpecs(c: RwkvConfig): WeightSpec[] {
  const { vocabSize: V, dModel: C, nLayer: L, ffnDim: F } = c;
  const ln = (name: string) => layerNormSpecs(name, C);
  const time = (name: string, l: number): WeightSpec => ({
    name,
    shape: [C],
    decay: false,
    embedding: false,
    init: { kind: "computed", values: () => rwkvTimeInit(name, l, c) },
  });
  // BlinkDL RWKV-4 (v4neo) init: orthogonal with gain sqrt(out/in) when out > in; zero for
  // att.output, ffn.value, ffn.receptance; head at scale 0.5; emb uniform ±1e-4.
  const lin = (name: string, out: number, inp: number, scale = 1): WeightSpec => ({
    name,
    shape: [out, inp],
    decay: true,
    embedding: false,
    init: scale === 0
      ? { kind: "const", value: 0 }
      : { kind: "normal", std: orthoStd(out, inp, scale) },
  });
  const out: WeightSpec[] = [
    {
      name: "emb.weight",
      shape: [V, C],
      decay: false,
      embedding: true,
      init: { kind: "uniform", limit: 1e-4 },
    },
    ...ln("blocks.0.ln0"),
  ];
  for (let l = 0; l < L; l++) {
    const p = `blocks.${l}`;
    out.push(
      ...ln(`${p}.ln1`),
      ...ln(`${p}.ln2`),
      time(`${p}.att.time_decay`, l),
      time(`${p}.att.time_first`, l),
      time(`${p}.att.time_mix_k`, l),
      time(`${p}.att.time_mix_v`, l),
      time(`${p}.att.time_mix_r`, l),
      lin(`${p}.att.key.weight`, C, C),
      lin(`${p}.att.value.weight`, C, C),
      lin(`${p}.att.receptance.weight`, C, C),
      lin(`${p}.att.output.weight`, C, C, 0),
      time(`${p}.ffn.time_mix_k`, l),
      time(`${p}.ffn.time_mix_r`, l),
      lin(`${p}.ffn.key.weight`, F, C),
      lin(`${p}.ffn.receptance.weight`, C, C, 0),
      lin(`${p}.ffn.value.weight`, C, F, 0),
    );
  }
  out.push(...ln("ln_out"), lin("head.weight", V, C, 0.5));
  return out;
}

/**
 * RWKV-4's initial value of a per-channel `time_*` vector (BlinkDL's "fancy" init):
 * decay speeds from −5 to 3 shaped by depth, `time_first` = ln 0.3 plus a zigzag, and
 * mixing curves `(i/C)^(1 − l/L)`.
 *
 * @example
 * ```ts
 * import { rwkvTimeInit } from "./weights.ts";
 * import { RWKV_PRESETS } from "./config.ts";
 * const c = { ...RWKV_PRESETS["rwkv-micro"], vocabSize: 64 };
 * console.log(rwkvTimeInit("blocks.0.att.time_decay", 0, c)[0]); // -5
 * ```
 */
export function rwkvTimeInit(name: string, layer: number, config: RwkvConfig): Float32Array {
  const C = config.dModel;
  const L = config.nLayer;
  const r01 = L > 1 ? layer / (L - 1) : 0;
  const r10 = 1 - layer / L;
  const out = new Float32Array(C);
  for (let i = 0; i < C; i++) {
    const ddd = i / C;
    if (name.endsWith("att.time_decay")) {
      out[i] = -5 + 8 * Math.pow(i / Math.max(1, C - 1), 0.7 + 1.3 * r01);
    } else if (name.endsWith("att.time_first")) {
      out[i] = Math.log(0.3) + (((i + 1) % 3) - 1) * 0.5;
    } else if (name.endsWith("att.time_mix_k") || name.endsWith("ffn.time_mix_k")) {
      out[i] = Math.pow(ddd, r10);
    } else if (name.endsWith("att.time_mix_v")) {
      out[i] = Math.pow(ddd, r10) + 0.3 * r01;
    } else if (name.endsWith("att.time_mix_r")) {
      out[i] = Math.pow(ddd, 0.5 * r10);
    } else if (name.endsWith("ffn.time_mix_r")) {
      out[i] = Math.pow(ddd, r10);
    } else {
      throw new Error(`no RWKV time init for ${name}`);
    }
  }
  return out;
}

const TIME_MIX = /\.time_mix_[kvr]$/;

/** A weight as written: BlinkDL's name; `time_mix_*` as `[1, 1, C]` like BlinkDL's files. */
export function rwkvFileTensor(spec: WeightSpec): FileTensor {
  return { name: spec.name, shape: TIME_MIX.test(spec.name) ? [1, 1, spec.shape[0]] : spec.shape };
}

/** The canonical name of a tensor of an RWKV-4 file (BlinkDL names; Hugging Face's refused). */
export function rwkvCanonicalName(fileName: string, source: string): string {
  if (fileName.startsWith("rwkv.")) {
    throw new BenteviError(
      `${source}: Hugging Face "rwkv." tensor names are not supported; use BlinkDL names (emb.weight, blocks.N.att…)`,
    );
  }
  return fileName;
}

/**
 * RWKV-4's adaptable linear layers under the names of Hugging Face's `RwkvForCausalLM`
 * (PEFT's `key`, `value`, `receptance`, `output`): time mixing's `attention.{key, value,
 * receptance, output}` and channel mixing's `feed_forward.{key, value, receptance}`.
 *
 * @example
 * ```ts
 * import { rwkvLinearTargets } from "./weights.ts";
 * import { RWKV_PRESETS } from "./config.ts";
 * const t = rwkvLinearTargets({ ...RWKV_PRESETS["rwkv-micro"], vocabSize: 64 });
 * console.log(t[0].path, t[0].weight); // rwkv.blocks.0.attention.key blocks.0.att.key.weight
 * ```
 */
export function rwkvLinearTargets(c: RwkvConfig): LinearTarget[] {
  const { dModel: C, ffnDim: F } = c;
  const out: LinearTarget[] = [];
  for (let l = 0; l < c.nLayer; l++) {
    const layers: [string, string, string, number, number][] = [
      ["att", "attention", "key", C, C],
      ["att", "attention", "value", C, C],
      ["att", "attention", "receptance", C, C],
      ["att", "attention", "output", C, C],
      ["ffn", "feed_forward", "key", C, F],
      ["ffn", "feed_forward", "value", F, C],
      ["ffn", "feed_forward", "receptance", C, C],
    ];
    for (const [own, hf, module, inF, outF] of layers) {
      const weight = `blocks.${l}.${own}.${module}.weight`;
      out.push({
        module,
        path: `rwkv.blocks.${l}.${hf}.${module}`,
        weight,
        site: weight,
        in: inF,
        out: outF,
        siteOut: outF,
        rowOffset: 0,
        fanInFanOut: false,
      });
    }
  }
  return out;
}
