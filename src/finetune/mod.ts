/**
 * Fine-tuning: LoRA adapters (the adapted training model, PEFT files, merging).
 *
 * @example
 * ```ts
 * import { LORA_DEFAULTS, LoraPlan } from "./mod.ts";
 * import { presetConfig } from "../model/mod.ts";
 * const plan = new LoraPlan(presetConfig("llama-micro", 64), { ...LORA_DEFAULTS });
 * console.log(plan.settings.targets.length, plan.parameterCount); // 7 77824
 * ```
 *
 * @module
 */
export {
  LORA_DEFAULTS,
  LoraModel,
  type LoraModelOptions,
  LoraPlan,
  type LoraSettings,
  type LoraSite,
  loraTensorNames,
  mergeLora,
} from "./lora.ts";
export {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  type AdapterContents,
  type BaseIdentity,
  baseIdentity,
  isAdapterDir,
  loadAdapter,
  type LoadedAdapter,
  PEFT_PREFIX,
  peftConfigJson,
  saveAdapter,
} from "./adapter_files.ts";
export { mergeAdapter, type MergeAdapterOptions, type MergeAdapterResult } from "./merge.ts";
