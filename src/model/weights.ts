/**
 * The list of every weight of a model — canonical name, shape, whether weight decay applies,
 * and how it is initialised. GPT uses Hugging Face GPT-2 names without the `transformer.`
 * prefix and HF's `[in, out]` (Conv1D) layout; RWKV uses BlinkDL's names and PyTorch's
 * `Linear` `[out, in]` layout. One concept, one place: the parameter layout, the initialiser
 * and the checkpoint loader all read this list.
 *
 * @module
 */
import type { GptConfig, ModelConfig, RwkvConfig } from "./config.ts";

/** How a weight is initialised. */
export type WeightInit =
  | { kind: "normal"; std: number }
  | { kind: "uniform"; limit: number }
  | { kind: "const"; value: number }
  /** RWKV-4's per-channel curves (time_decay, time_first, time_mix_*), computed by name. */
  | { kind: "rwkv-time"; layer: number };

/** One weight of a model. */
export interface WeightSpec {
  /** Canonical name (`h.0.attn.c_attn.weight`, `blocks.0.att.key.weight`…). */
  name: string;
  /** Canonical shape. */
  shape: number[];
  /** Whether AdamW's weight decay applies by default (matrices of linear layers only). */
  decay: boolean;
  /** Whether this is an embedding table (decayed only when asked). */
  embedding: boolean;
  /** Initialiser. */
  init: WeightInit;
}

function gptWeights(c: GptConfig): WeightSpec[] {
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
  const ln = (name: string, C: number): WeightSpec[] => [
    {
      name: `${name}.weight`,
      shape: [C],
      decay: false,
      embedding: false,
      init: { kind: "const", value: 1 },
    },
    {
      name: `${name}.bias`,
      shape: [C],
      decay: false,
      embedding: false,
      init: { kind: "const", value: 0 },
    },
  ];
  const bias = (name: string, n: number): WeightSpec => ({
    name,
    shape: [n],
    decay: false,
    embedding: false,
    init: { kind: "const", value: 0 },
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
      ...ln(`${p}.ln_1`, C),
      w(`${p}.attn.c_attn.weight`, [C, 3 * C]),
      bias(`${p}.attn.c_attn.bias`, 3 * C),
      w(`${p}.attn.c_proj.weight`, [C, C], projStd),
      bias(`${p}.attn.c_proj.bias`, C),
      ...ln(`${p}.ln_2`, C),
      w(`${p}.mlp.c_fc.weight`, [C, M]),
      bias(`${p}.mlp.c_fc.bias`, M),
      w(`${p}.mlp.c_proj.weight`, [M, C], projStd),
      bias(`${p}.mlp.c_proj.bias`, C),
    );
  }
  out.push(...ln("ln_f", C));
  return out;
}

/** Standard deviation that matches PyTorch's `orthogonal_(gain)` entry scale for `[out, in]`. */
function orthoStd(out: number, inp: number, scale: number): number {
  const gain = out > inp ? Math.sqrt(out / inp) : 1;
  return (gain * scale) / Math.sqrt(Math.max(out, inp));
}

function rwkvWeights(c: RwkvConfig): WeightSpec[] {
  const { vocabSize: V, dModel: C, nLayer: L, ffnDim: F } = c;
  const ln = (name: string): WeightSpec[] => [
    {
      name: `${name}.weight`,
      shape: [C],
      decay: false,
      embedding: false,
      init: { kind: "const", value: 1 },
    },
    {
      name: `${name}.bias`,
      shape: [C],
      decay: false,
      embedding: false,
      init: { kind: "const", value: 0 },
    },
  ];
  const time = (name: string, l: number): WeightSpec => ({
    name,
    shape: [C],
    decay: false,
    embedding: false,
    init: { kind: "rwkv-time", layer: l },
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
 * Every weight of `config`, in the canonical order used by the parameter buffer and the
 * checkpoint file.
 *
 * @example
 * ```ts
 * import { presetConfig } from "./config.ts";
 * import { weightSpecs } from "./weights.ts";
 * console.log(weightSpecs(presetConfig("gpt-micro", 4096))[0].name); // wte.weight
 * ```
 */
export function weightSpecs(config: ModelConfig): WeightSpec[] {
  return config.arch === "gpt" ? gptWeights(config) : rwkvWeights(config);
}

/**
 * RWKV-4's initial value of a per-channel `time_*` vector (BlinkDL's "fancy" init):
 * decay speeds from −5 to 3 shaped by depth, `time_first` = ln 0.3 plus a zigzag, and
 * mixing curves `(i/C)^(1 − l/L)`.
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
