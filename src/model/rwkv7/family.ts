/**
 * The RWKV-7 family (BlinkDL's "Goose", x070): time mixing with the generalised delta-rule
 * state update and ReLU² channel mixing; trained in parallel over the sequence, run as an RNN
 * for generation. Reads BlinkDL's tensor names; rwkv.cpp v7 files convert through
 * `src/model/rwkv/cpp.ts`.
 *
 * @module
 */
import type { ModelFamily } from "../family.ts";
import { refuseQuantize } from "../inference_support.ts";
import {
  describeRwkv7,
  RWKV7_PRESETS,
  type Rwkv7Config,
  rwkv7FromJson,
  rwkv7ToJson,
  validateRwkv7,
} from "./config.ts";
import { Rwkv7Inference } from "./inference.ts";
import { rwkv7ActivationFloats, Rwkv7Model } from "./training.ts";
import { rwkv7CanonicalName, rwkv7FileTensor, rwkv7WeightSpecs } from "./weights.ts";

/**
 * RWKV-7 as a {@link ModelFamily}.
 *
 * @example
 * ```ts
 * import { rwkv7Family } from "./family.ts";
 * console.log(rwkv7Family.modelTypes[0], rwkv7Family.recurrent); // rwkv7 true
 * ```
 */
export const rwkv7Family: ModelFamily<Rwkv7Config> = {
  arch: "rwkv7",
  presets: RWKV7_PRESETS,
  modelTypes: ["rwkv7"],
  embeddingWeight: "emb.weight",
  recurrent: true,
  validate: validateRwkv7,
  toJson: rwkv7ToJson,
  fromJson: rwkv7FromJson,
  describe: describeRwkv7,
  weightSpecs: rwkv7WeightSpecs,
  fileTensor: rwkv7FileTensor,
  canonicalName: rwkv7CanonicalName,
  acceptsExtraTensor: () => false,
  maxContext: () => Infinity,
  withContext: (config, T) => ({ ...config, contextLength: T }),
  activationFloats: rwkv7ActivationFloats,
  createTrainingModel: (backend, config, store, B, T) =>
    new Rwkv7Model(backend, config, store, B, T),
  createInferenceModel: (backend, config, weights, source, options) => {
    refuseQuantize("RWKV-7", source, options);
    return new Rwkv7Inference(backend, config, weights, source);
  },
  gguf:
    "not written yet: llama.cpp has an rwkv7 architecture, but Bentevi has no mapping to its tensor names and layouts nor a check against it; export the checkpoint as safetensors",
};
