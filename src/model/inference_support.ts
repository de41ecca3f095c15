/**
 * Helpers the families' inference models share: uploading checked weights, freeing device
 * buffers after the pending work, checking token ids, a LayerNorm by weight name, and the
 * output head over a large vocabulary in slices.
 *
 * @module
 */
import { type Backend, type Tensor, VIEW_ALIGN } from "../backend/backend.ts";
import { BenteviError } from "../errors.ts";
import type { WeightMap } from "../generate/inference.ts";
import type { WeightSpec } from "./weight_spec.ts";
import {
  BLOCK_BYTES,
  blockWords,
  dequantize,
  QK,
  quantize as quantizeBlocks,
  type QuantType,
} from "../quant/mod.ts";

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

/**
 * The head slice bound a model on `backend` uses by default: {@link HEAD_SLICE_BYTES} on WebGPU
 * (a binding's limit), none on the CPU backends (a slice would be a view, and the native
 * backend multiplies Q4_0 fastest in a whole weight it can repack).
 *
 * @example
 * ```ts
 * import { headSliceBytesFor } from "./inference_support.ts";
 * import { createBackend } from "../backend/select.ts";
 * console.log(headSliceBytesFor(await createBackend("cpu"))); // Infinity
 * ```
 */
export function headSliceBytesFor(backend: Backend): number {
  return backend.kind === "webgpu" ? HEAD_SLICE_BYTES : Infinity;
}

/** Bytes of one row of `C` values: float32, or `type`'s blocks. */
function rowBytes(C: number, type?: QuantType): number {
  return type ? (C / QK) * BLOCK_BYTES[type] : 4 * C;
}

/**
 * Rows of the table one head slice binds (0: the table is not sliced). A slice of quantized
 * rows starts on a word offset that is a multiple of `VIEW_ALIGN`.
 */
function sliceRows(V: number, C: number, sliceBytes: number, type?: QuantType): number {
  const bytes = rowBytes(C, type);
  if (V * bytes <= sliceBytes) return 0;
  const unit = type ? 4 * VIEW_ALIGN : VIEW_ALIGN;
  return Math.max(unit, Math.floor(sliceBytes / bytes / unit) * unit);
}

/**
 * Whether {@link headLogits} over `T` rows needs a `[T, V]` logits tensor (not when several
 * rows go through a sliced table, assembled on the host). `type`: the head is quantized.
 *
 * @example
 * ```ts
 * import { headNeedsLogits } from "./inference_support.ts";
 * console.log(headNeedsLogits(4, 50257, 768, 64 * 1024 * 1024)); // false
 * console.log(headNeedsLogits(4, 50257, 768, 64 * 1024 * 1024, "q4_0")); // true
 * ```
 */
export function headNeedsLogits(
  T: number,
  V: number,
  C: number,
  sliceBytes = HEAD_SLICE_BYTES,
  type?: QuantType,
): boolean {
  return T === 1 || sliceRows(V, C, sliceBytes, type) === 0;
}

/**
 * The logits `[T, V]` of the output head over the normalised rows `x [T, C]`, read back. The
 * head is a float table `[V, C]` (a `Tensor`, or a float {@link LinearWeight} with `transB`)
 * or quantized rows from {@link uploadLinear} (`Backend.matmulQuant`). A table over
 * `sliceBytes` goes in slices of rows, each binding at most that much: one row writes each
 * slice straight into its part of `logits`; several rows go slice by slice through a `[T, n]`
 * buffer and are assembled on the host (`logits` may then be null: see
 * {@link headNeedsLogits}). Otherwise `logits` must be a `[T, V]` tensor. The result goes
 * into `into` (`[T·V]`) when given, else into a new array.
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
  head: Tensor | LinearWeight,
  logits: Tensor | null,
  { T, V, C }: { T: number; V: number; C: number },
  sliceBytes = HEAD_SLICE_BYTES,
  into?: Float32Array,
): Promise<Float32Array> {
  const w: LinearWeight = "kind" in head ? head : { kind: "float", t: head, transB: true };
  if (w.kind === "float" && !w.transB) throw new Error("headLogits: the table must be [V, C]");
  const type = w.kind === "quant" ? w.type : undefined;
  const rows = sliceRows(V, C, sliceBytes, type);
  if (rows === 0) {
    linear(b, logits!, x, w);
    return await b.read(logits!, into) as Float32Array;
  }
  const bytes = rowBytes(C, type);
  // Rows [start, start + n) of the head into `dst`.
  const slice = (dst: Tensor, start: number, n: number) => {
    if (w.kind === "float") {
      b.matmul(dst, x, b.view(w.t, start * C, [n, C]), { transB: true });
    } else {
      const words = b.view(w.t, (start * bytes) / 4, [Math.ceil((n * bytes) / 4)]);
      b.matmulQuant({ out: dst, a: x, w: words, type: w.type, N: n, K: C });
    }
  };
  if (T === 1) {
    // One row: each slice writes straight into its part of the logits.
    for (let start = 0; start < V; start += rows) {
      const n = Math.min(rows, V - start);
      slice(b.view(logits!, start, [1, n]), start, n);
    }
    return await b.read(logits!, into) as Float32Array;
  }
  // Several rows: slice by slice into a [T, n] buffer, assembled on the host.
  const out = into ?? new Float32Array(T * V);
  const part = b.zeros([T, rows]);
  try {
    for (let start = 0; start < V; start += rows) {
      const n = Math.min(rows, V - start);
      const dst = n === rows ? part : b.view(part, 0, [T, n]);
      slice(dst, start, n);
      const got = await b.read(dst) as Float32Array;
      for (let t = 0; t < T; t++) out.set(got.subarray(t * n, t * n + n), t * V + start);
    }
  } finally {
    freeAll(b, [part]);
  }
  return out;
}

/**
 * A quantized token table kept on the host as well, for the embedding lookup: row `id` is
 * dequantized on demand (as llama.cpp's `get_rows` does with a quantized `token_embd`), so a
 * quantized tied head costs no float copy of the table.
 *
 * @example
 * ```ts
 * import { QuantRows } from "./inference_support.ts";
 * import { quantize } from "../quant/mod.ts";
 * const rows = new QuantRows("q8_0", quantize("q8_0", new Float32Array(64).fill(127)), 32);
 * console.log(rows.row(1)[0]); // 127
 * ```
 */
export class QuantRows {
  readonly #rowBytes: number;
  /** Rows of `C` values stored as `type`'s blocks in `bytes`. */
  constructor(readonly type: QuantType, readonly bytes: Uint8Array, readonly C: number) {
    this.#rowBytes = rowBytes(C, type);
  }
  /** Row `id`, dequantized (into `out` when given). */
  row(id: number, out?: Float32Array): Float32Array {
    const start = id * this.#rowBytes;
    const got = dequantize(this.type, this.bytes.subarray(start, start + this.#rowBytes), this.C);
    if (!out) return got;
    out.set(got);
    return out;
  }
}

/**
 * Uploads an output head `table [V, C]` (`nn.Linear`'s `[out, in]`): a float matrix, or with
 * `quantize` (and `C` a multiple of 32) quantized rows for `Backend.matmulQuant`. `rows`: the
 * quantized rows on the host as well (for a tied embedding's lookup), else null.
 *
 * @example
 * ```ts
 * import { uploadHead } from "./inference_support.ts";
 * import { createBackend } from "../backend/select.ts";
 * const { w, rows } = uploadHead(await createBackend("cpu"), new Float32Array(3 * 32), [3, 32], "q4_0");
 * console.log(w.kind, rows?.row(2).length); // quant 32
 * ```
 */
export function uploadHead(
  backend: Backend,
  table: Float32Array,
  shape: readonly number[],
  quantize?: QuantType,
): { w: LinearWeight; rows: QuantRows | null } {
  const [V, C] = shape;
  if (!quantize || C % QK !== 0) {
    return { w: { kind: "float", t: backend.fromArray([V, C], table), transB: true }, rows: null };
  }
  const bytes = quantizeBlocks(quantize, table);
  const words = blockWords(bytes);
  return {
    w: { kind: "quant", t: backend.fromArray([words.length], words), type: quantize, N: V, K: C },
    rows: new QuantRows(quantize, new Uint8Array(words.buffer, 0, bytes.length), C),
  };
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

/** Options of an inference model (`ModelFamily.createInferenceModel`). */
export interface InferenceOptions {
  /**
   * Store the linear layers' weights as ggml blocks and multiply with them quantized
   * (`Backend.matmulQuant`), the output head too (a tied table's lookup dequantizes its
   * rows); an untied embedding, norms and biases stay float.
   */
  quantize?: QuantType;
}

/** A linear layer's weight on a backend: a float matrix, or quantized `[out, in]` blocks. */
export type LinearWeight =
  | { kind: "float"; t: Tensor; transB: boolean }
  | { kind: "quant"; t: Tensor; type: QuantType; N: number; K: number };

/**
 * Refuses `options.quantize` for a family whose layers run in float32 only (the RWKV
 * families: their mixing layers are not the plain linear layers ggml's blocks serve here).
 *
 * @example
 * ```ts
 * import { refuseQuantize } from "./inference_support.ts";
 * refuseQuantize("RWKV-7", "runs/r", {}); // no quantize: nothing happens
 * ```
 */
export function refuseQuantize(family: string, source: string, options?: InferenceOptions): void {
  if (options?.quantize) {
    throw new BenteviError(
      `${source}: quantized inference (--quantize ${options.quantize}) is for GPT-2 and Llama; ${family} runs in float32`,
    );
  }
}

/**
 * Uploads a linear layer's weight `data` of shape `[r, c]`, stored `in-out` (`[K, N]`,
 * GPT-2's Conv1D) or `out-in` (`[N, K]`, `nn.Linear`'s): as a float matrix, or — with
 * `quantize` and whole 32-value blocks along its input dimension — as blocks of its
 * `[N, K]` rows.
 *
 * @example
 * ```ts
 * import { uploadLinear } from "./inference_support.ts";
 * import { createBackend } from "../backend/select.ts";
 * const w = uploadLinear(await createBackend("cpu"), new Float32Array(64 * 2), [2, 64], "out-in", "q8_0");
 * console.log(w.kind); // quant
 * ```
 */
export function uploadLinear(
  backend: Backend,
  data: Float32Array,
  shape: readonly number[],
  storedAs: "in-out" | "out-in",
  quantize?: QuantType,
): LinearWeight {
  const [r, c] = shape;
  const [N, K] = storedAs === "in-out" ? [c, r] : [r, c];
  if (!quantize || K % QK !== 0) {
    return { kind: "float", t: backend.fromArray([r, c], data), transB: storedAs === "out-in" };
  }
  const rows = storedAs === "in-out" ? transposed(data, r, c) : data;
  const words = blockWords(quantizeBlocks(quantize, rows));
  return { kind: "quant", t: backend.fromArray([words.length], words), type: quantize, N, K };
}

/**
 * Overwrites rows `[firstRow, firstRow + data.length / K)` of a linear layer's weight from
 * {@link uploadLinear} (all of it by default) with `data`, given as the layer was uploaded
 * (`storedAs`): how {@link LanguageModel.writeWeight} merges an adapter. A quantized weight is
 * quantized again from `data` (as merging an adapter and then quantizing would); its rows must
 * start and end on a 4-byte boundary of the blocks (any whole matrix does).
 *
 * @example
 * ```ts
 * import { uploadLinear, writeLinear } from "./inference_support.ts";
 * import { createBackend } from "../backend/select.ts";
 * const be = await createBackend("cpu");
 * const w = uploadLinear(be, new Float32Array(64), [2, 32], "out-in", "q8_0");
 * writeLinear(be, w, new Float32Array(64).fill(1), "out-in");
 * ```
 */
export function writeLinear(
  backend: Backend,
  w: LinearWeight,
  data: Float32Array,
  storedAs: "in-out" | "out-in",
  firstRow = 0,
): void {
  const [N, K] = w.kind === "quant"
    ? [w.N, w.K]
    : storedAs === "in-out"
    ? [w.t.shape[1], w.t.shape[0]]
    : [w.t.shape[0], w.t.shape[1]];
  const rows = data.length / K;
  if (!Number.isInteger(rows) || firstRow + rows > N || (storedAs === "in-out" && rows !== N)) {
    throw new Error(
      `writeLinear: ${data.length} values do not fit rows ${firstRow}… of [${N}, ${K}]`,
    );
  }
  if (w.kind === "float") return backend.write(w.t, data, firstRow * K);
  const bytes = quantizeBlocks(w.type, storedAs === "in-out" ? transposed(data, K, N) : data);
  const start = firstRow * (bytes.length / rows);
  if (start % 4 !== 0 || bytes.length % 4 !== 0) {
    throw new BenteviError(
      `an adapter cannot be merged into these ${w.type} blocks (rows ${firstRow}… are not word-aligned); merge it first (\`adapter merge\`) or use --quantize f32`,
    );
  }
  backend.write(w.t, blockWords(bytes), start / 4);
}

/**
 * `out (=|+=) x · W (+ bias)` for a weight from {@link uploadLinear}, float or quantized.
 *
 * @example
 * ```ts
 * import { linear, uploadLinear } from "./inference_support.ts";
 * import { createBackend } from "../backend/select.ts";
 * const be = await createBackend("cpu");
 * const w = uploadLinear(be, new Float32Array(32).fill(1), [1, 32], "out-in", "q8_0");
 * const out = be.zeros([1, 1]);
 * linear(be, out, be.fromArray([1, 32], new Float32Array(32).fill(2)), w);
 * console.log(await be.read(out)); // Float32Array [64]
 * ```
 */
export function linear(
  b: Backend,
  out: Tensor,
  x: Tensor,
  w: LinearWeight,
  options: { bias?: Tensor; accumulate?: boolean } = {},
): void {
  if (w.kind === "float") {
    b.matmul(out, x, w.t, { transB: w.transB, bias: options.bias, accumulate: options.accumulate });
  } else {
    b.matmulQuant({
      out,
      a: x,
      w: w.t,
      type: w.type,
      N: w.N,
      K: w.K,
      bias: options.bias,
      accumulate: options.accumulate,
    });
  }
}

/**
 * `[r, c]` row-major → `[c, r]`.
 *
 * @example
 * ```ts
 * import { transposed } from "./inference_support.ts";
 * console.log(transposed(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, 3)); // Float32Array [1, 4, 2, 5, 3, 6]
 * ```
 */
export function transposed(x: Float32Array, r: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) out[j * r + i] = x[i * c + j];
  }
  return out;
}

/**
 * A LayerNorm by weight prefix: `ln(out, x, name)` normalises `x` with `name.weight` and
 * `name.bias` (through `s.mean` and `s.rstd`).
 *
 * @example
 * ```ts
 * import { layerNormBy } from "./inference_support.ts";
 * import { createBackend } from "../backend/select.ts";
 * const b = await createBackend("cpu");
 * const w = new Map([["ln.weight", b.fromArray([2], Float32Array.of(1, 1))], ["ln.bias", b.zeros([2])]]);
 * const ln = layerNormBy(b, (n) => w.get(n)!, { mean: b.zeros([1]), rstd: b.zeros([1]) }, 1e-5);
 * const out = b.zeros([1, 2]);
 * ln(out, b.fromArray([1, 2], Float32Array.of(1, 3)), "ln");
 * console.log(await b.read(out)); // ≈ [-1, 1]
 * ```
 */
export function layerNormBy(
  b: Backend,
  w: (name: string) => Tensor,
  s: { mean: Tensor; rstd: Tensor },
  eps: number,
): (out: Tensor, x: Tensor, name: string) => void {
  return (out, x, name) =>
    b.layerNorm({
      out,
      mean: s.mean,
      rstd: s.rstd,
      x,
      w: w(`${name}.weight`),
      b: w(`${name}.bias`),
      eps,
    });
}
