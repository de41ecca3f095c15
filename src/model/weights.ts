/**
 * The list of every weight of a model — canonical name, shape, whether weight decay applies,
 * and how it is initialised — asked of the configuration's family (GPT: Hugging Face GPT-2
 * names without the `transformer.` prefix, HF's `[in, out]` layout; RWKV: BlinkDL's names,
 * PyTorch's `[out, in]`). One concept, one place: the parameter layout, the initialiser and
 * the checkpoint loader all read this list.
 *
 * @module
 */
import type { ModelConfig } from "./config.ts";
import { familyOf } from "./registry.ts";
import type { WeightSpec } from "./weight_spec.ts";

export type { WeightInit, WeightSpec } from "./weight_spec.ts";

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
  return familyOf(config).weightSpecs(config);
}
