/**
 * rwkv.cpp RWKV-7 files → BlinkDL's canonical RWKV-7 weights. rwkv.cpp stores the six
 * token-shift mixes as one `att.x_rwkvag [6, 1, C]` and the low-rank factors transposed
 * (`w1 [D, C]`, `w2 [C, D]`); everything else keeps BlinkDL's name and shape. The file
 * itself is parsed by `src/model/rwkv/cpp.ts`.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import type { NamedTensor } from "../../io/safetensors.ts";
import type { RwkvCppFile } from "../rwkv/cpp.ts";
import { type Rwkv7Config, rwkv7LoraDims } from "./config.ts";
import { RWKV7_ATT_MIXES } from "./weights.ts";

/** An RWKV-7 model read from rwkv.cpp: its configuration and canonical weights. */
export interface Rwkv7CppWeights {
  /** The configuration (context length 1024, BlinkDL's epsilons). */
  config: Rwkv7Config;
  /** Canonical (BlinkDL) names and shapes. */
  weights: Map<string, NamedTensor>;
}

/** `[rows, cols]` row-major → its transpose. */
function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  }
  return out;
}

/**
 * Checks that an rwkv.cpp file is a complete RWKV-7 model and converts it.
 *
 * @example
 * ```ts
 * import { readRwkvCpp } from "../rwkv/cpp.ts";
 * import { rwkv7CppToWeights } from "./cpp.ts";
 * const path = "../shared/data/models/rwkv-cpp-tiny/tiny-rwkv-7v0-834K-FP32.bin";
 * try {
 *   console.log(rwkv7CppToWeights(await readRwkvCpp(path), path).config.headSize); // 64
 * } catch (e) {
 *   console.log("shared data absent:", (e as Error).message);
 * }
 * ```
 */
export function rwkv7CppToWeights(file: RwkvCppFile, name = "rwkv.cpp file"): Rwkv7CppWeights {
  const C = file.nEmbed, V = file.nVocab, L = file.nLayer, t = file.tensors;
  const raw = (key: string): NamedTensor => {
    const x = t.get(key);
    if (!x) throw new BenteviError(`${name}: tensor ${key} is missing (not an RWKV-7 model?)`);
    return x;
  };
  const get = (key: string, shape: number[]): NamedTensor => {
    const x = raw(key), size = shape.reduce((a, b) => a * b, 1);
    if (x.data.length !== size) {
      throw new BenteviError(
        `${name}: tensor ${key} has shape [${x.shape}], the model (n_embd ${C}) needs [${shape}]`,
      );
    }
    return { shape, data: x.data };
  };
  const rk = raw("blocks.0.att.r_k");
  const [H, N] = rk.shape.length === 2 ? rk.shape : [0, 0];
  if (H * N !== C) {
    throw new BenteviError(
      `${name}: blocks.0.att.r_k has shape [${rk.shape}]: heads × head size must be n_embd ${C}`,
    );
  }
  const rank = (key: string) => raw(key).shape[0];
  const lora = rwkv7LoraDims(C);
  const config: Rwkv7Config = {
    arch: "rwkv7",
    vocabSize: V,
    contextLength: 1024,
    dModel: C,
    nLayer: L,
    ffnDim: raw("blocks.0.ffn.key.weight").shape[0],
    headSize: N,
    decayLora: rank("blocks.0.att.w1"),
    aLora: rank("blocks.0.att.a1"),
    vLora: L > 1 ? rank("blocks.1.att.v1") : lora.vLora,
    gateLora: rank("blocks.0.att.g1"),
    layerNormEps: 1e-5,
    groupNormEps: 64e-5,
  };
  const w = new Map<string, NamedTensor>();
  const copy = (key: string, shape: number[]) => w.set(key, get(key, shape));
  copy("emb.weight", [V, C]);
  copy("blocks.0.ln0.weight", [C]);
  copy("blocks.0.ln0.bias", [C]);
  for (let l = 0; l < L; l++) {
    const p = `blocks.${l}.`;
    for (const n of ["ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias"]) copy(p + n, [C]);
    const mixes = get(p + "att.x_rwkvag", [6, 1, C]).data;
    RWKV7_ATT_MIXES.forEach((m, i) =>
      w.set(`${p}att.${m}`, { shape: [1, 1, C], data: mixes.slice(i * C, (i + 1) * C) })
    );
    const branches: [string, number][] = [
      ["w", config.decayLora],
      ["a", config.aLora],
      ["g", config.gateLora],
    ];
    if (l > 0) branches.push(["v", config.vLora]);
    for (const [b, D] of branches) {
      // rwkv.cpp: b1 [D, C] and b2 [C, D]; BlinkDL: b1 [C, D] and b2 [D, C].
      w.set(`${p}att.${b}1`, {
        shape: [C, D],
        data: transpose(get(`${p}att.${b}1`, [D, C]).data, D, C),
      });
      w.set(`${p}att.${b}2`, {
        shape: [D, C],
        data: transpose(get(`${p}att.${b}2`, [C, D]).data, C, D),
      });
      if (b !== "g") copy(`${p}att.${b}0`, [1, 1, C]);
    }
    for (const n of ["k_k", "k_a"]) copy(`${p}att.${n}`, [1, 1, C]);
    copy(`${p}att.r_k`, [H, N]);
    for (const n of ["receptance", "key", "value", "output"]) copy(`${p}att.${n}.weight`, [C, C]);
    copy(`${p}att.ln_x.weight`, [C]);
    copy(`${p}att.ln_x.bias`, [C]);
    copy(`${p}ffn.x_k`, [1, 1, C]);
    copy(`${p}ffn.key.weight`, [config.ffnDim, C]);
    copy(`${p}ffn.value.weight`, [C, config.ffnDim]);
  }
  copy("ln_out.weight", [C]);
  copy("ln_out.bias", [C]);
  copy("head.weight", [V, C]);
  return { config, weights: w };
}
