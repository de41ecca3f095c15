/**
 * rwkv.cpp RWKV-5.1/5.2/6 files → BlinkDL's canonical RWKV-5/6 weights. rwkv.cpp stores
 * `time_decay` as the decay `exp(−exp(w))` (`[H, 1, 1]` in 5.1, `[H, N, 1]` in 5.2), 5.1's
 * `time_first` as `exp(u)` and 5.2's `time_faaaa` as `[H, N, 1]`; the converter takes them back
 * to BlinkDL's raw values (`w = ln(−ln d)`, `u = ln(stored)`). RWKV-6 files keep `time_decay`
 * raw (`[H, N, 1]`) and store the low-rank factors transposed (`time_maa_w1 [5·D, C]`,
 * `time_maa_w2 [5, C, D]`, `time_decay_w1 [D', C]`, `time_decay_w2 [C, D']`): they are
 * transposed back to BlinkDL's `[C, 5·D]`, `[5, D, C]`, `[C, D']`, `[D', C]`.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import type { NamedTensor } from "../../io/safetensors.ts";
import type { RwkvCppFile } from "../rwkv/cpp.ts";
import type { Rwkv5Config } from "./config.ts";
import { rwkv5WeightSpecs } from "./weights.ts";

/**
 * Checks that an rwkv.cpp file is a complete RWKV-5 model of `version` and converts it.
 *
 * @example
 * ```ts
 * import { readRwkvCpp } from "../rwkv/cpp.ts";
 * import { rwkv5CppToWeights } from "./cpp.ts";
 * const path = "../shared/data/models/rwkv-cpp-tiny/tiny-rwkv-5v2-730K-FP32.bin";
 * try {
 *   console.log(rwkv5CppToWeights(await readRwkvCpp(path), "5.2", path).config.headSize); // 8
 * } catch (e) {
 *   console.log("shared data absent:", (e as Error).message);
 * }
 * ```
 */
export function rwkv5CppToWeights(
  file: RwkvCppFile,
  version: "5.1" | "5.2" | "6",
  name = "rwkv.cpp file",
): { config: Rwkv5Config; weights: Map<string, NamedTensor> } {
  const C = file.nEmbed, t = file.tensors;
  const raw = (key: string): NamedTensor => {
    const x = t.get(key);
    if (!x) {
      throw new BenteviError(`${name}: tensor ${key} is missing (not an RWKV-${version} model?)`);
    }
    return x;
  };
  const v6 = version === "6";
  // rwkv.cpp takes the head count from time_decay (5.x) or time_faaaa (6).
  const heads = raw(`blocks.0.att.${v6 ? "time_faaaa" : "time_decay"}`);
  const H = heads.shape[0];
  if (!(H > 0) || C % H !== 0 || (version !== "5.1" && heads.data.length !== C)) {
    throw new BenteviError(
      `${name}: blocks.0.att.${v6 ? "time_faaaa" : "time_decay"} has shape [${heads.shape}], ` +
        `which does not give heads of equal size over n_embd ${C}`,
    );
  }
  const lowRank = (key: string, div: number) => {
    const x = raw(`blocks.0.att.${key}`);
    if (x.shape.length !== 2 || x.shape[1] !== C || x.shape[0] % div !== 0 || x.shape[0] < 1) {
      throw new BenteviError(
        `${name}: blocks.0.att.${key} has shape [${x.shape}], not [${
          div > 1 ? `${div}·D` : "D"
        }, ` +
          `n_embd ${C}] as rwkv.cpp writes it`,
      );
    }
    return x.shape[0] / div;
  };
  const config: Rwkv5Config = {
    arch: "rwkv5",
    version,
    vocabSize: file.nVocab,
    contextLength: 1024,
    dModel: C,
    nLayer: file.nLayer,
    ffnDim: raw("blocks.0.ffn.key.weight").shape[0],
    headSize: C / H,
    layerNormEps: 1e-5,
    // rwkv.cpp scales RWKV-6's WKV output by 1/8 before its 1e-5 group norm: ε 64e-5.
    groupNormEps: v6 ? 64e-5 : 1e-5,
    ...(v6
      ? { mixLowRank: lowRank("time_maa_w1", 5), decayLowRank: lowRank("time_decay_w1", 1) }
      : {}),
  };
  const weights = new Map<string, NamedTensor>();
  for (const spec of rwkv5WeightSpecs(config)) {
    const x = raw(spec.name), size = spec.shape.reduce((a, b) => a * b, 1);
    const transposed = v6 ? rwkv6FileShape(spec.name, spec.shape) : null;
    if (transposed) {
      if (x.shape.join() !== transposed.join()) {
        throw new BenteviError(
          `${name}: tensor ${spec.name} has shape [${x.shape}], the model needs [${transposed}]`,
        );
      }
      weights.set(spec.name, { shape: spec.shape, data: transposeLast2(x.data, transposed) });
      continue;
    }
    if (x.data.length !== size) {
      throw new BenteviError(
        `${name}: tensor ${spec.name} has shape [${x.shape}], the model needs [${spec.shape}]`,
      );
    }
    let data = x.data;
    if (spec.name.endsWith("att.time_decay") && !v6) {
      data = data.map((d, i) => {
        if (!(d > 0 && d < 1)) {
          throw new BenteviError(
            `${name}: ${spec.name}[${i}] is ${d}; rwkv.cpp stores the decay exp(−exp(w)), in (0, 1)`,
          );
        }
        return Math.log(-Math.log(d));
      });
    } else if (spec.name.endsWith("att.time_first")) {
      data = data.map((u, i) => {
        if (!(u > 0)) {
          throw new BenteviError(
            `${name}: ${spec.name}[${i}] is ${u}; rwkv.cpp stores exp(time_first), which is positive`,
          );
        }
        return Math.log(u);
      });
    }
    weights.set(spec.name, { shape: spec.shape, data });
  }
  return { config, weights };
}

/**
 * The shape rwkv.cpp writes an RWKV-6 low-rank factor in (its last two axes swapped), or
 * null for a tensor stored as BlinkDL has it.
 */
function rwkv6FileShape(name: string, shape: readonly number[]): number[] | null {
  if (!/att\.(time_maa_w[12]|time_decay_w[12])$/.test(name)) return null;
  const s = [...shape];
  [s[s.length - 2], s[s.length - 1]] = [s[s.length - 1], s[s.length - 2]];
  return s;
}

/** `x` of shape `[…, a, b]` with its last two axes swapped (`[…, b, a]`). */
function transposeLast2(x: Float32Array, shape: readonly number[]): Float32Array {
  const a = shape[shape.length - 2], b = shape[shape.length - 1];
  const out = new Float32Array(x.length);
  for (let o = 0; o < x.length; o += a * b) {
    for (let i = 0; i < a; i++) {
      for (let j = 0; j < b; j++) out[o + j * a + i] = x[o + i * b + j];
    }
  }
  return out;
}
