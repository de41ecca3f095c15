/**
 * The description of one weight (name, shape, decay, initialiser) that every family's weight
 * list is made of, and small builders for the entries the families share.
 *
 * @module
 */

/** How a weight is initialised. */
export type WeightInit =
  | { kind: "normal"; std: number }
  | { kind: "uniform"; limit: number }
  | { kind: "const"; value: number }
  /** Values computed by the family without randomness (RWKV-4's per-channel time curves). */
  | { kind: "computed"; values: () => Float32Array };

/** One weight of a model. */
export interface WeightSpec {
  /** Canonical name (`h.0.attn.c_attn.weight`, `blocks.0.att.key.weight`…). */
  name: string;
  /** Canonical shape. */
  shape: number[];
  /** Whether AdamW's weight decay applies by default (matrices of linear layers only). */
  decay: boolean;
  /** Whether this is an embedding table (decayed only when asked). */
  embedding: boolean;
  /** Initialiser. */
  init: WeightInit;
  /**
   * Name of a fused view this weight is part of (Llama's `…self_attn.qkv_proj.weight`).
   * Consecutive weights with the same `fusedAs` share their trailing dimensions and are laid
   * out with no padding between them, so `ParameterStore.p(fusedAs)` is one tensor of them
   * all stacked along the first dimension (one matmul instead of three).
   */
  fusedAs?: string;
}

/**
 * A weight without decay filled with `value` (biases, norm gains).
 *
 * @example
 * ```ts
 * import { constantSpec } from "./weight_spec.ts";
 * console.log(constantSpec("ln_f.bias", [8], 0).init); // { kind: "const", value: 0 }
 * ```
 */
export function constantSpec(name: string, shape: number[], value: number): WeightSpec {
  return { name, shape, decay: false, embedding: false, init: { kind: "const", value } };
}

/**
 * A LayerNorm's gain (ones) and bias (zeros) of width `C`, named `<name>.weight`/`.bias`.
 *
 * @example
 * ```ts
 * import { layerNormSpecs } from "./weight_spec.ts";
 * console.log(layerNormSpecs("ln_f", 8).map((s) => s.name)); // ["ln_f.weight", "ln_f.bias"]
 * ```
 */
export function layerNormSpecs(name: string, C: number): WeightSpec[] {
  return [constantSpec(`${name}.weight`, [C], 1), constantSpec(`${name}.bias`, [C], 0)];
}
