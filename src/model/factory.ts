/**
 * Builds the training model of a configuration (asked of its family).
 *
 * @module
 */
import type { Backend } from "../backend/backend.ts";
import type { ModelConfig } from "./config.ts";
import type { TrainingModelOptions } from "./linear.ts";
import type { TrainableModel } from "./model.ts";
import type { ParameterStore } from "./params.ts";
import { familyOf } from "./registry.ts";

/**
 * The training model of `config`'s family (GPT, RWKV…) over `store` for batch shape `[B, T]`.
 *
 * @example
 * ```ts
 * import { createModel, initWeights, ParameterStore, presetConfig } from "./mod.ts";
 * import { createBackend } from "../backend/select.ts";
 * const backend = await createBackend("cpu");
 * const config = presetConfig("rwkv-micro", 32);
 * const store = new ParameterStore(backend, config);
 * store.load(initWeights(config, 3));
 * const model = createModel(backend, config, store, 2, 16);
 * console.log(model.T); // 16
 * ```
 */
export function createModel(
  backend: Backend,
  config: ModelConfig,
  store: ParameterStore,
  B: number,
  T: number,
  options?: TrainingModelOptions,
): TrainableModel {
  return familyOf(config).createTrainingModel(backend, config, store, B, T, options);
}
