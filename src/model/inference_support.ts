/**
 * Helpers the families' inference models share: uploading checked weights, freeing device
 * buffers after the pending work, checking token ids, and the output head over a large
 * vocabulary in slices.
 *
 * @module
 */
import { type Backend, type Tensor, VIEW_ALIGN } from "../backend/backend.ts";
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
    for (const spec of specs) {
      out.set(spec.name, backend.fromArray(spec.shape, checkedWeight(spec, weights, arch, source)));
    }
  } catch (e) {
    for (const t of out.values()) backend.free(t);
    throw e;
  }
  return out;
}

/**
 * The data of weight `spec` in `weights`, after checking that it is present with the size of
 * the spec's shape (a {@link BenteviError} naming `source` otherwise). The data is read once
 * (a lazily loaded weight is read from its file on each access).
 *
 * @example
 * ```ts
 * import { checkedWeight } from "./inference_support.ts";
 * import { initWeights, presetConfig, weightSpecs } from "./mod.ts";
 * const config = presetConfig("gpt-micro", 16);
 * console.log(checkedWeight(weightSpecs(config)[0], initWeights(config, 1), "gpt", "x").length); // 2048
 * ```
 */
export function checkedWeight(
  { name, shape }: WeightSpec,
  weights: WeightMap,
  arch: string,
  source: string,
): Float32Array {
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
  return data;
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

/** Largest slice of the token table one head matmul binds (under WebGPU's 128 MiB default). */
export const HEAD_SLICE_BYTES = 64 * 1024 * 1024;

/** Rows of the table one head slice binds (0: the table is not sliced). */
function sliceRows(V: number, C: number, sliceBytes: number): number {
  if (V * C * 4 <= sliceBytes) return 0;
  return Math.floor(sliceBytes / (4 * C) / VIEW_ALIGN) * VIEW_ALIGN;
}

/**
 * Whether {@link headLogits} over `T` rows needs a `[T, V]` logits tensor (not when several
 * rows go through a sliced table, assembled on the host).
 *
 * @example
 * ```ts
 * import { headNeedsLogits } from "./inference_support.ts";
 * console.log(headNeedsLogits(4, 50257, 768, 64 * 1024 * 1024)); // false
 * ```
 */
export function headNeedsLogits(
  T: number,
  V: number,
  C: number,
  sliceBytes = HEAD_SLICE_BYTES,
): boolean {
  return T === 1 || sliceRows(V, C, sliceBytes) === 0;
}

/**
 * The logits `[T, V]` of the output head `table [V, C]` over the normalised rows `x [T, C]`,
 * read back. A table over `sliceBytes` goes in slices of rows, each binding at most that
 * much: one row writes each slice straight into its part of `logits`; several rows go slice
 * by slice through a `[T, n]` buffer and are assembled on the host (`logits` may then be
 * null: see {@link headNeedsLogits}). Otherwise `logits` must be a `[T, V]` tensor.
 *
 * @example
 * ```ts
 * import { headLogits } from "./inference_support.ts";
 * import { createBackend, tensorFromArray } from "../backend/mod.ts";
 * const b = await createBackend("cpu");
 * const x = tensorFromArray(b, [1, 2], [1, 2]), table = tensorFromArray(b, [3, 2], [1, 0, 0, 1, 1, 1]);
 * console.log(await headLogits(b, x, table, b.zeros([1, 3]), { T: 1, V: 3, C: 2 })); // Float32Array [1, 2, 3]
 * ```
 */
export async function headLogits(
  b: Backend,
  x: Tensor,
  table: Tensor,
  logits: Tensor | null,
  { T, V, C }: { T: number; V: number; C: number },
  sliceBytes = HEAD_SLICE_BYTES,
): Promise<Float32Array> {
  const rows = sliceRows(V, C, sliceBytes);
  if (rows === 0) {
    b.matmul(logits!, x, table, { transB: true });
    return await b.read(logits!) as Float32Array;
  }
  if (T === 1) {
    // One row: each slice writes straight into its part of the logits.
    for (let start = 0; start < V; start += rows) {
      const n = Math.min(rows, V - start);
      b.matmul(b.view(logits!, start, [1, n]), x, b.view(table, start * C, [n, C]), {
        transB: true,
      });
    }
    return await b.read(logits!) as Float32Array;
  }
  // Several rows: slice by slice into a [T, n] buffer, assembled on the host.
  const out = new Float32Array(T * V);
  const part = b.zeros([T, rows]);
  try {
    for (let start = 0; start < V; start += rows) {
      const n = Math.min(rows, V - start);
      const dst = n === rows ? part : b.view(part, 0, [T, n]);
      b.matmul(dst, x, b.view(table, start * C, [n, C]), { transB: true });
      const got = await b.read(dst) as Float32Array;
      for (let t = 0; t < T; t++) out.set(got.subarray(t * n, t * n + n), t * V + start);
    }
  } finally {
    freeAll(b, [part]);
  }
  return out;
}

/**
 * Overwrites uploaded weight `name` of `uploaded` with `data` (same size): how an inference
 * model's {@link LanguageModel.writeWeight} switches a linear layer's matrix. A weight that is
 * not uploaded there, or of another size, throws.
 *
 * @example
 * ```ts
 * import { uploadWeights, writeUploadedWeight } from "./inference_support.ts";
 * import { createBackend } from "../backend/select.ts";
 * import { initWeights, presetConfig, weightSpecs } from "./mod.ts";
 * const be = await createBackend("cpu");
 * const config = presetConfig("gpt-micro", 16);
 * const w = uploadWeights(be, weightSpecs(config), initWeights(config, 1), "gpt", "x");
 * writeUploadedWeight(be, w, "h.0.mlp.c_fc.weight", new Float32Array(128 * 512));
 * ```
 */
export function writeUploadedWeight(
  backend: Backend,
  uploaded: ReadonlyMap<string, Tensor>,
  name: string,
  data: Float32Array,
  offset = 0,
): void {
  const t = uploaded.get(name);
  if (!t) throw new Error(`writeWeight: ${name} is not a weight this model can replace`);
  if (offset === 0 ? data.length !== t.size : offset + data.length > t.size) {
    throw new Error(`writeWeight: ${name} holds ${t.size} values, got ${data.length}`);
  }
  backend.write(t, data, offset);
}
