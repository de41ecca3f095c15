/**
 * rwkv.cpp RWKV-5.1/5.2 files → BlinkDL's canonical RWKV-5 weights. rwkv.cpp stores
 * `time_decay` as the decay `exp(−exp(w))` (`[H, 1, 1]` in 5.1, `[H, N, 1]` in 5.2), 5.1's
 * `time_first` as `exp(u)` and 5.2's `time_faaaa` as `[H, N, 1]`; the converter takes them back
 * to BlinkDL's raw values (`w = ln(−ln d)`, `u = ln(stored)`).
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
  version: "5.1" | "5.2",
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
  const decay0 = raw("blocks.0.att.time_decay");
  const H = decay0.shape[0];
  if (!(H > 0) || C % H !== 0 || (version === "5.2" && decay0.data.length !== C)) {
    throw new BenteviError(
      `${name}: blocks.0.att.time_decay has shape [${decay0.shape}], which does not give ` +
        `heads of equal size over n_embd ${C}`,
    );
  }
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
    groupNormEps: 1e-5,
  };
  const weights = new Map<string, NamedTensor>();
  for (const spec of rwkv5WeightSpecs(config)) {
    const x = raw(spec.name), size = spec.shape.reduce((a, b) => a * b, 1);
    if (x.data.length !== size) {
      throw new BenteviError(
        `${name}: tensor ${spec.name} has shape [${x.shape}], the model needs [${spec.shape}]`,
      );
    }
    let data = x.data;
    if (spec.name.endsWith("att.time_decay")) {
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
