/**
 * The RWKV-5 family (rwkv.cpp's 5.1, 5.2 and 6 files, BlinkDL's names): inference only — the
 * matrix-valued state per head that RWKV-7 also has, without RWKV-7's delta rule. RWKV-6 is
 * version "6" of this family (5.2 with data-dependent token shift and decay).
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import type { ModelFamily } from "../family.ts";
import { refuseQuantize } from "../inference_support.ts";
import {
  describeRwkv5,
  RWKV5_PRESETS,
  type Rwkv5Config,
  rwkv5FromJson,
  rwkv5ToJson,
  validateRwkv5,
} from "./config.ts";
import { Rwkv5Inference } from "./inference.ts";
import { rwkv5CanonicalName, rwkv5FileTensor, rwkv5WeightSpecs } from "./weights.ts";

/**
 * RWKV-5 as a {@link ModelFamily} (no training model).
 *
 * @example
 * ```ts
 * import { rwkv5Family } from "./family.ts";
 * console.log(rwkv5Family.modelTypes, Object.keys(rwkv5Family.presets).length); // [ "rwkv5", "rwkv6" ] 0
 * ```
 */
export const rwkv5Family: ModelFamily<Rwkv5Config> = {
  arch: "rwkv5",
  presets: RWKV5_PRESETS,
  modelTypes: ["rwkv5", "rwkv6"],
  embeddingWeight: "emb.weight",
  recurrent: true,
  validate: validateRwkv5,
  toJson: rwkv5ToJson,
  fromJson: rwkv5FromJson,
  describe: describeRwkv5,
  weightSpecs: rwkv5WeightSpecs,
  fileTensor: rwkv5FileTensor,
  canonicalName: rwkv5CanonicalName,
  acceptsExtraTensor: () => false,
  maxContext: () => Infinity,
  withContext: (config, T) => ({ ...config, contextLength: T }),
  activationFloats: () => 0,
  createTrainingModel: (_backend, config) => {
    throw new BenteviError(
      `RWKV-${config.version} models run for generation only; Bentevi trains RWKV-4 and RWKV-7`,
    );
  },
  createInferenceModel: (backend, config, weights, source, options) => {
    refuseQuantize(`RWKV-${config.version}`, source, options);
    return new Rwkv5Inference(backend, config, weights, source);
  },
  gguf:
    "Bentevi reads RWKV-5 and RWKV-6 from rwkv.cpp files for generation only and writes no GGUF for them (llama.cpp has no RWKV-5 architecture)",
};
