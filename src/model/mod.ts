/**
 * Public API of src/model (re-exported by the top-level mod.ts): model families and their
 * registry, configurations and presets, weight lists and initialisation, checkpoints, and the
 * GPT, RWKV-4 and Llama models written layer by layer on a `Backend`.
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
  type LlamaConfig,
  MODEL_PRESETS,
  type ModelConfig,
  modelSpecConfig,
  parameterCount,
  presetConfig,
  presetVocabSize,
  type Rwkv5Config,
  type Rwkv7Config,
  type RwkvConfig,
  validateConfig,
} from "./config.ts";
export {
  type BaseConfig,
  checkPositiveInteger,
  checkPositiveNumber,
  type FileTensor,
  type ForwardStage,
  forwardStage,
  jsonNumbers,
  type ModelFamily,
  type PresetShape,
} from "./family.ts";
export {
  type AnyModelFamily,
  familyForArch,
  familyForPreset,
  familyFromJson,
  familyOf,
  MODEL_FAMILIES,
} from "./registry.ts";
export type { AttentionWeights } from "./kv_cached_model.ts";
export { gptFamily } from "./gpt/family.ts";
export { rwkvFamily } from "./rwkv/family.ts";
export { llamaFamily } from "./llama/family.ts";
export { rwkv7Family } from "./rwkv7/family.ts";
export { rwkv5Family } from "./rwkv5/family.ts";
export { type WeightInit, type WeightSpec, weightSpecs } from "./weights.ts";
export { rwkvTimeInit } from "./rwkv/weights.ts";
export { initSpecs, initWeights, Xoshiro128 } from "./init.ts";
export {
  canonicalWeights,
  type CheckpointContents,
  type EmbeddedTokenizer,
  listCheckpoints,
  loadCheckpoint,
  type LoadCheckpointOptions,
  type LoadedCheckpoint,
  loadTrainerState,
  resolveCheckpointDir,
  type RunCheckpoint,
  runCheckpoints,
  runValidationLosses,
  saveCheckpoint,
  type TokenizerJsonSource,
  type TrainerStateFiles,
  writeCheckpointDir,
} from "./checkpoint.ts";
export {
  openWeightFiles,
  type WeightFiles,
  WEIGHTS_FILE,
  WEIGHTS_INDEX_FILE,
} from "./weight_files.ts";
export {
  applyGenerationDefaults,
  GENERATION_CONFIG_FILE,
  type GenerationDefaults,
  parseGenerationConfig,
  readGenerationConfig,
  type SamplingKnobs,
} from "./generation_config.ts";
export { type FusedView, type ParameterLayout, parameterLayout, ParameterStore } from "./params.ts";
export type { TrainableModel } from "./model.ts";
export { GptModel } from "./gpt/training.ts";
export { RwkvModel } from "./rwkv/training.ts";
export { Rwkv7Model } from "./rwkv7/training.ts";
export { LlamaModel, ropeTables } from "./llama/training.ts";
export { createModel } from "./factory.ts";
export type { LinearAdapter, LinearTarget, TrainingModelOptions } from "./linear.ts";
