/**
 * Deterministic weight initialisation from a small seeded random generator, following each
 * weight's initialiser in the family's weight list (GPT-2/nanoGPT: N(0, 0.02), residual
 * projections scaled by 1/√(2L); RWKV-4: BlinkDL's init).
 *
 * @module
 */
import type { NamedTensor } from "../io/safetensors.ts";
import type { ModelConfig } from "./config.ts";
import { type WeightSpec, weightSpecs } from "./weights.ts";
import { Xoshiro128 } from "../random.ts";

export { Xoshiro128 };

/**
 * Fresh weights for `config`, deterministic in `seed`, under canonical names.
 *
 * @example
 * ```ts
 * import { initWeights } from "./init.ts";
 * import { presetConfig } from "./config.ts";
 * const w = initWeights(presetConfig("gpt-micro", 256), 1);
 * console.log(w.get("h.0.ln_1.weight")!.data[0]); // 1
 * ```
 */
export function initWeights(config: ModelConfig, seed: number): Map<string, NamedTensor> {
  return initSpecs(weightSpecs(config), seed);
}

/**
 * Fresh tensors for an explicit weight list (a LoRA adapter's), deterministic in `seed`,
 * drawn in list order exactly as {@link initWeights} draws a model's.
 *
 * @example
 * ```ts
 * import { initSpecs } from "./init.ts";
 * const w = initSpecs([{ name: "a", shape: [2], decay: false, embedding: false, init: { kind: "const", value: 3 } }], 1);
 * console.log(w.get("a")!.data); // Float32Array(2) [ 3, 3 ]
 * ```
 */
export function initSpecs(specs: readonly WeightSpec[], seed: number): Map<string, NamedTensor> {
  const rng = new Xoshiro128(seed);
  const out = new Map<string, NamedTensor>();
  for (const spec of specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    let data: Float32Array = new Float32Array(size);
    const init = spec.init;
    switch (init.kind) {
      case "normal":
        for (let i = 0; i < size; i++) data[i] = rng.normal() * init.std;
        break;
      case "uniform":
        for (let i = 0; i < size; i++) data[i] = (rng.next() * 2 - 1) * init.limit;
        break;
      case "const":
        data.fill(init.value);
        break;
      case "computed":
        data = init.values();
        break;
    }
    out.set(spec.name, { shape: [...spec.shape], data });
  }
  return out;
}
