/**
 * Public API of src/model (re-exported by the top-level mod.ts): configurations and presets,
 * weight lists and initialisation, checkpoints, and the GPT and RWKV-4 models written
 * layer by layer on a `Backend`.
 *
 * @example
 * ```ts
 * import { parameterCount, presetConfig } from "./mod.ts";
 * console.log(parameterCount(presetConfig("rwkv-micro", 4096)));
 * ```
 *
 * @module
 */
export {
  configFromJson,
  configToJson,
  describeConfig,
  type GptConfig,
  MODEL_PRESETS,
  type ModelConfig,
  parameterCount,
  presetConfig,
  type RwkvConfig,
  validateConfig,
} from "./config.ts";
export { rwkvTimeInit, type WeightInit, type WeightSpec, weightSpecs } from "./weights.ts";
export { initWeights, Xoshiro128 } from "./init.ts";
export {
  canonicalWeights,
  type CheckpointContents,
  listCheckpoints,
  loadCheckpoint,
  type LoadedCheckpoint,
  loadTrainerState,
  resolveCheckpointDir,
  saveCheckpoint,
  type TokenizerJsonSource,
  type TrainerStateFiles,
} from "./checkpoint.ts";
export { type ParameterLayout, parameterLayout, ParameterStore } from "./params.ts";
export type { TrainableModel } from "./model.ts";
export { GptModel } from "./gpt.ts";
export { RwkvModel } from "./rwkv.ts";
export { createModel } from "./factory.ts";
