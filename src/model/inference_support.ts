/**
 * Helpers the families' inference models share: uploading checked weights, freeing device
 * buffers after the pending work, and checking token ids.
 *
 * @module
 */
import type { Backend, Tensor } from "../backend/backend.ts";
import { BenteviError } from "../errors.ts";
import type { WeightMap } from "../generate/inference.ts";
import type { WeightSpec } from "./weight_spec.ts";

/**
 * Uploads the weights of `specs`, checking each one's presence and size (`arch` and `source`
 * name the model and checkpoint in errors). On an error nothing stays allocated.
 *
 * @example
 * ```ts
 * import { uploadWeights } from "./inference_support.ts";
 * import { initWeights, presetConfig, weightSpecs } from "./mod.ts";
 * import { createBackend } from "../backend/select.ts";
 * const config = presetConfig("gpt-micro", 16);
 * const w = uploadWeights(await createBackend("cpu"), weightSpecs(config), initWeights(config, 1), "gpt", "x");
 * console.log(w.get("wte.weight")!.shape); // [16, 128]
 * ```
 */
export function uploadWeights(
  backend: Backend,
  specs: readonly WeightSpec[],
  weights: WeightMap,
  arch: string,
  source: string,
): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  try {
    for (const { name, shape } of specs) {
      const w = weights.get(name);
      if (!w) {
        throw new BenteviError(
          `${source}: weight "${name}" is missing (incompatible checkpoint for ${arch})`,
        );
      }
      const size = shape.reduce((a, b) => a * b, 1);
      const data = w.data; // read once: a lazily loaded weight is read from disk on each access
      if (data.length !== size) {
        throw new BenteviError(
          `${source}: weight "${name}" has shape [${w.shape}], the config needs [${shape}]`,
        );
      }
      out.set(name, backend.fromArray(shape, data));
    }
  } catch (e) {
    for (const t of out.values()) backend.free(t);
    throw e;
  }
  return out;
}

/** Submits pending work and frees the tensors. */
export function freeAll(backend: Backend, tensors: Iterable<Tensor>): void {
  backend.flush();
  for (const t of tensors) backend.free(t);
}

/** Throws a {@link BenteviError} unless `id` is a token id of a vocabulary of `vocabSize`. */
export function checkTokenId(id: number, vocabSize: number): void {
  if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
    throw new BenteviError(`token id ${id} is outside the model's vocabulary (${vocabSize})`);
  }
}
