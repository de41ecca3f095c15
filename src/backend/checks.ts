/**
 * Argument checks of the `Backend` ops, shared by every implementation so the CPU and
 * WebGPU backends reject the same inputs with the same one-line message (naming the op and
 * the shapes). Each op check returns the dimensions its callers go on to use.
 *
 * Only what any backend must check lives here; a backend's own limits (that a tensor is one
 * of its own and not freed, dispatch sizes) stay with that backend.
 *
 * @module
 */
import type { AttentionDims, DType, Tensor } from "./backend.ts";
import { VIEW_ALIGN } from "./backend.ts";

// ---- generic helpers -----------------------------------------------------------------------

/** Formats a shape as `[2, 3]` for error messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Product of the dimensions; throws on a negative or non-integer dimension. */
export function shapeSize(op: string, shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new Error(`${op}: invalid shape ${fmtShape(shape)} (dimensions must be integers ≥ 0)`);
    }
    n *= d;
  }
  return n;
}

/** Throws unless `t` holds elements of `dtype` (ops read floats as f32, token ids as i32). */
export function expectDtype(op: string, name: string, t: Tensor, dtype: DType): void {
  if (t.dtype !== dtype) throw new Error(`${op}: ${name} must be ${dtype}, got ${t.dtype}`);
}

/** Throws unless `t` has exactly `size` elements. */
export function expectSize(
  op: string,
  name: string,
  t: Tensor,
  size: number,
  expected: string,
): void {
  if (t.size !== size) {
    throw new Error(
      `${op}: ${name} has shape ${fmtShape(t.shape)} (${t.size} elements) but ${expected} ` +
        `needs ${size} elements`,
    );
  }
}

/** Throws unless `a` and `b` have the same number of elements. */
export function expectSameSize(
  op: string,
  nameA: string,
  a: Tensor,
  nameB: string,
  b: Tensor,
): void {
  if (a.size !== b.size) {
    throw new Error(
      `${op}: ${nameA} ${fmtShape(a.shape)} and ${nameB} ${fmtShape(b.shape)} differ in size ` +
        `(${a.size} vs ${b.size})`,
    );
  }
}

/** Rows and columns of `t` read as a matrix: the last dimension is the columns. */
export function asMatrix(t: Tensor): [rows: number, cols: number] {
  const cols = t.shape.length === 0 ? 1 : t.shape[t.shape.length - 1];
  return [cols === 0 ? 0 : t.size / cols, cols];
}

/** Throws unless `ids` holds whole sequences of length T. */
export function checkT(op: string, ids: Tensor, T: number): void {
  if (!Number.isInteger(T) || T < 1 || ids.size % T !== 0) {
    throw new Error(
      `${op}: ids ${fmtShape(ids.shape)} is not a whole number of sequences of T ${T}`,
    );
  }
}

/** Checks that `x` is `[B, T, C]` for the given B and T; returns C. */
export function checkBTC(op: string, x: Tensor, B: number, T: number): number {
  const C = x.size / (B * T);
  if (!Number.isInteger(B) || !Number.isInteger(T) || B < 1 || T < 1 || !Number.isInteger(C)) {
    throw new Error(`${op}: x ${fmtShape(x.shape)} is not [B, T, C] with B ${B}, T ${T}`);
  }
  return C;
}

/** Checks that B, T, C, NH are positive integers and C divides by NH. */
export function checkAttentionDims(op: string, { B, T, C, NH }: AttentionDims): void {
  if (![B, T, C, NH].every((d) => Number.isInteger(d) && d >= 1) || C % NH !== 0) {
    throw new Error(`${op}: invalid dims B ${B}, T ${T}, C ${C}, NH ${NH} (C must divide by NH)`);
  }
}

// ---- memory --------------------------------------------------------------------------------

/** Checks `fromArray`: `data` fills `shape` exactly; returns its size and dtype. */
export function checkFromArray(
  shape: readonly number[],
  data: Float32Array | Int32Array,
): { size: number; dtype: DType } {
  const size = shapeSize("fromArray", shape);
  if (data.length !== size) {
    throw new Error(
      `fromArray: shape ${fmtShape(shape)} needs ${size} elements but the data has ${data.length}`,
    );
  }
  return { size, dtype: data instanceof Int32Array ? "i32" : "f32" };
}

/** Checks `view`: an aligned offset and a shape that fits; returns its size. */
export function checkView(base: Tensor, offset: number, shape: readonly number[]): number {
  const size = shapeSize("view", shape);
  if (!Number.isInteger(offset) || offset < 0 || offset % VIEW_ALIGN !== 0) {
    throw new Error(`view: offset ${offset} must be a multiple of ${VIEW_ALIGN} elements`);
  }
  if (offset + size > base.size) {
    throw new Error(
      `view: ${fmtShape(shape)} at offset ${offset} does not fit in base ` +
        `${fmtShape(base.shape)} (${base.size} elements)`,
    );
  }
  return size;
}

/** Checks `write`: matching dtype and `data` fits from `offset`. */
export function checkWrite(t: Tensor, data: Float32Array | Int32Array, offset: number): void {
  if ((data instanceof Int32Array) !== (t.dtype === "i32")) {
    throw new Error(`write: ${data.constructor.name} data into a ${t.dtype} tensor`);
  }
  if (!Number.isInteger(offset) || offset < 0 || offset + data.length > t.size) {
    throw new Error(
      `write: ${data.length} elements at offset ${offset} do not fit in ${fmtShape(t.shape)}`,
    );
  }
}

// ---- elementwise and reductions ------------------------------------------------------------

/** Checks `copy`: same size and same dtype. */
export function checkCopy(dst: Tensor, src: Tensor): void {
  expectSameSize("copy", "dst", dst, "src", src);
  if (dst.dtype !== src.dtype) {
    throw new Error(`copy: dst is ${dst.dtype} but src is ${src.dtype}`);
  }
}

/** Checks a binary elementwise op (`add`, `mul`): `out`, `a` and `b` have one size. */
export function checkBinary(op: string, out: Tensor, a: Tensor, b: Tensor): void {
  expectSameSize(op, "out", out, "a", a);
  expectSameSize(op, "a", a, "b", b);
}

/** Checks the backward of a unary op: `dx` and `dout` have the size of its input `x` (or `y`). */
export function checkUnaryBackward(
  op: string,
  dx: Tensor,
  xName: string,
  x: Tensor,
  dout: Tensor,
): void {
  expectSameSize(op, "dx", dx, xName, x);
  expectSameSize(op, "dout", dout, xName, x);
}

/** Checks `mulBackward`: every given tensor has the size of `a`. */
export function checkMulBackward(
  da: Tensor | null,
  db: Tensor | null,
  dout: Tensor,
  a: Tensor,
  b: Tensor,
): void {
  const op = "mulBackward";
  expectSameSize(op, "dout", dout, "a", a);
  expectSameSize(op, "a", a, "b", b);
  if (da) expectSameSize(op, "da", da, "a", a);
  if (db) expectSameSize(op, "db", db, "b", b);
}

/** Checks `sumRows`: `out` has one element per column of `x`; returns `{ M, N }`. */
export function checkSumRows(out: Tensor, x: Tensor): { M: number; N: number } {
  const [M, N] = asMatrix(x);
  expectSize("sumRows", "out", out, N, `x ${fmtShape(x.shape)}`);
  return { M, N };
}

/** Checks `argmaxRows`: `out` has one element per row of `x`; returns `{ N, V }`. */
export function checkArgmaxRows(out: Tensor, x: Tensor): { N: number; V: number } {
  const [N, V] = asMatrix(x);
  expectSize("argmaxRows", "out", out, N, `x ${fmtShape(x.shape)}`);
  return { N, V };
}

/** Checks `topK`: `k` in 1…x.size, `values` and `indices` of size `k`. */
export function checkTopK(values: Tensor, indices: Tensor, x: Tensor, k: number): void {
  const op = "topK";
  if (!Number.isInteger(k) || k < 1 || k > x.size) {
    throw new Error(`${op}: k ${k} must be an integer in 1…${x.size} for x ${fmtShape(x.shape)}`);
  }
  expectSize(op, "values", values, k, `k ${k}`);
  expectSize(op, "indices", indices, k, `k ${k}`);
}

// ---- GPT ops -------------------------------------------------------------------------------

/** Checks `matmul`'s shapes (transposes read from the flags); returns M, N, K. */
export function checkMatmul(
  out: Tensor,
  a: Tensor,
  b: Tensor,
  transA: boolean,
  transB: boolean,
  bias: Tensor | undefined,
): { M: number; N: number; K: number } {
  const [ar, ac] = asMatrix(a), [br, bc] = asMatrix(b);
  const [M, K] = transA ? [ac, ar] : [ar, ac];
  const [Kb, N] = transB ? [bc, br] : [br, bc];
  const desc = `a ${fmtShape(a.shape)}${transA ? "ᵀ" : ""} and b ${fmtShape(b.shape)}${
    transB ? "ᵀ" : ""
  }`;
  if (K !== Kb) {
    throw new Error(`matmul: ${desc} do not match (inner dimensions ${K} and ${Kb})`);
  }
  if (out.size !== M * N || asMatrix(out)[1] !== N) {
    throw new Error(
      `matmul: out ${fmtShape(out.shape)} does not fit ${desc} (needs [${M}, ${N}])`,
    );
  }
  if (bias) expectSize("matmul", "bias", bias, N, `out [${M}, ${N}]`);
  return { M, N, K };
}

/** Checks `embedding`: widths, whole sequences, positions in wpe; returns V, C. */
export function checkEmbedding(
  out: Tensor,
  ids: Tensor,
  wte: Tensor,
  wpe: Tensor | null,
  T: number,
  posOffset: number,
): { V: number; C: number } {
  const op = "embedding";
  const [V, C] = asMatrix(wte);
  expectSize(op, "out", out, ids.size * C, `ids ${fmtShape(ids.shape)} × wte width ${C}`);
  checkT(op, ids, T);
  if (wpe) {
    const [Tmax, Cp] = asMatrix(wpe);
    if (Cp !== C) {
      throw new Error(
        `${op}: wte ${fmtShape(wte.shape)} and wpe ${fmtShape(wpe.shape)} differ in width`,
      );
    }
    if (!Number.isInteger(posOffset) || posOffset < 0 || posOffset + T > Tmax) {
      throw new Error(
        `${op}: positions ${posOffset}…${posOffset + T - 1} exceed wpe ${fmtShape(wpe.shape)}`,
      );
    }
  }
  return { V, C };
}

/** Checks `embeddingBackward`: like `embedding`, for the gradients; returns V, C. */
export function checkEmbeddingBackward(
  dwte: Tensor,
  dwpe: Tensor | null,
  dout: Tensor,
  ids: Tensor,
  T: number,
): { V: number; C: number } {
  const op = "embeddingBackward";
  const [V, C] = asMatrix(dwte);
  expectSize(op, "dout", dout, ids.size * C, `ids ${fmtShape(ids.shape)} × dwte width ${C}`);
  checkT(op, ids, T);
  if (dwpe && (asMatrix(dwpe)[1] !== C || asMatrix(dwpe)[0] < T)) {
    throw new Error(`${op}: dwpe ${fmtShape(dwpe.shape)} does not fit T ${T} × C ${C}`);
  }
  return { V, C };
}

/** Checks `layerNorm`: `x [N, C]`, `w`/`b [C]`, `mean`/`rstd [N]`; returns N, C. */
export function checkLayerNorm(
  out: Tensor,
  mean: Tensor,
  rstd: Tensor,
  x: Tensor,
  w: Tensor,
  b: Tensor,
): { N: number; C: number } {
  const op = "layerNorm";
  const [N, C] = asMatrix(x);
  expectSameSize(op, "out", out, "x", x);
  expectSize(op, "w", w, C, `x ${fmtShape(x.shape)}`);
  expectSize(op, "b", b, C, `x ${fmtShape(x.shape)}`);
  expectSize(op, "mean", mean, N, `x ${fmtShape(x.shape)}`);
  expectSize(op, "rstd", rstd, N, `x ${fmtShape(x.shape)}`);
  return { N, C };
}

/** Checks `layerNormBackward`: the shapes of `layerNorm` and its gradients. */
export function checkLayerNormBackward(
  dx: Tensor,
  dw: Tensor,
  db: Tensor,
  dout: Tensor,
  x: Tensor,
  w: Tensor,
  mean: Tensor,
  rstd: Tensor,
): { N: number; C: number } {
  const op = "layerNormBackward";
  const [N, C] = asMatrix(x);
  expectSameSize(op, "dx", dx, "x", x);
  expectSameSize(op, "dout", dout, "x", x);
  for (const [name, t] of [["w", w], ["dw", dw], ["db", db]] as const) {
    expectSize(op, name, t, C, `x ${fmtShape(x.shape)}`);
  }
  expectSize(op, "mean", mean, N, `x ${fmtShape(x.shape)}`);
  expectSize(op, "rstd", rstd, N, `x ${fmtShape(x.shape)}`);
  return { N, C };
}

/** Checks `attention`: `qkv [B, T, 3C]`, `out [B, T, C]`, `lse [B, NH, T]`. */
export function checkAttention(out: Tensor, lse: Tensor, qkv: Tensor, dims: AttentionDims): void {
  const op = "attention";
  checkAttentionDims(op, dims);
  const { B, T, C, NH } = dims;
  expectSize(op, "qkv", qkv, B * T * 3 * C, `[B, T, 3C] = [${B}, ${T}, ${3 * C}]`);
  expectSize(op, "out", out, B * T * C, `[B, T, C] = [${B}, ${T}, ${C}]`);
  expectSize(op, "lse", lse, B * NH * T, `[B, NH, T] = [${B}, ${NH}, ${T}]`);
}

/** Checks `attentionBackward`: the shapes of `attention` and its gradients. */
export function checkAttentionBackward(
  dqkv: Tensor,
  dout: Tensor,
  out: Tensor,
  lse: Tensor,
  qkv: Tensor,
  dims: AttentionDims,
): void {
  const op = "attentionBackward";
  checkAttentionDims(op, dims);
  const { B, T, C, NH } = dims;
  const need3 = `[B, T, 3C] = [${B}, ${T}, ${3 * C}]`, need = `[B, T, C] = [${B}, ${T}, ${C}]`;
  expectSize(op, "qkv", qkv, B * T * 3 * C, need3);
  expectSize(op, "dqkv", dqkv, B * T * 3 * C, need3);
  expectSize(op, "out", out, B * T * C, need);
  expectSize(op, "dout", dout, B * T * C, need);
  expectSize(op, "lse", lse, B * NH * T, `[B, NH, T] = [${B}, ${NH}, ${T}]`);
}

/** Checks `attentionCached`: caches `[B, Tmax, C]` that hold `pos + T`; returns Tmax. */
export function checkAttentionCached(
  out: Tensor,
  qkv: Tensor,
  kCache: Tensor,
  vCache: Tensor,
  pos: number,
  dims: AttentionDims,
): { Tmax: number } {
  const op = "attentionCached";
  checkAttentionDims(op, dims);
  const { B, T, C } = dims;
  expectSize(op, "qkv", qkv, B * T * 3 * C, `[B, T, 3C] = [${B}, ${T}, ${3 * C}]`);
  expectSize(op, "out", out, B * T * C, `[B, T, C] = [${B}, ${T}, ${C}]`);
  expectSameSize(op, "kCache", kCache, "vCache", vCache);
  const Tmax = kCache.size / (B * C);
  if (!Number.isInteger(Tmax) || asMatrix(kCache)[1] !== C) {
    throw new Error(
      `${op}: kCache ${fmtShape(kCache.shape)} is not [B, Tmax, C] with B ${B}, C ${C}`,
    );
  }
  if (!Number.isInteger(pos) || pos < 0 || pos + T > Tmax) {
    throw new Error(
      `${op}: positions ${pos}…${pos + T - 1} do not fit the cache ${fmtShape(kCache.shape)}`,
    );
  }
  return { Tmax };
}

/** Checks `softmaxCrossEntropy`: `logits [N, V]`, `targets`/`losses [N]`; returns N, V. */
export function checkSoftmaxCrossEntropy(
  losses: Tensor,
  dlogits: Tensor | null,
  logits: Tensor,
  targets: Tensor,
): { N: number; V: number } {
  const op = "softmaxCrossEntropy";
  const [N, V] = asMatrix(logits);
  expectSize(op, "targets", targets, N, `logits ${fmtShape(logits.shape)}`);
  expectSize(op, "losses", losses, N, `logits ${fmtShape(logits.shape)}`);
  if (dlogits) expectSameSize(op, "dlogits", dlogits, "logits", logits);
  return { N, V };
}

// ---- optimizer -----------------------------------------------------------------------------

/** Checks `adamw`: grads, moments and mask sized like `params`, a 1-based step. */
export function checkAdamW(
  params: Tensor,
  grads: Tensor,
  m: Tensor,
  v: Tensor,
  decayMask: Tensor | null,
  step: number,
  normSquared: Tensor | undefined,
): void {
  const op = "adamw";
  expectSameSize(op, "grads", grads, "params", params);
  expectSameSize(op, "m", m, "params", params);
  expectSameSize(op, "v", v, "params", params);
  if (decayMask) expectSameSize(op, "decayMask", decayMask, "params", params);
  if (!(step >= 1)) throw new Error(`${op}: step must be ≥ 1 (1-based), got ${step}`);
  if (normSquared) expectSize(op, "clip.normSquared", normSquared, 1, "a scalar");
}

// ---- RWKV-4 ops ----------------------------------------------------------------------------

/** Checks `tokenShift`: `x`/`out [B, T, C]`, `mix [C]`, `prev [B, C]`; returns C. */
export function checkTokenShift(
  out: Tensor,
  x: Tensor,
  mix: Tensor,
  prev: Tensor | null,
  B: number,
  T: number,
): number {
  const op = "tokenShift";
  const C = checkBTC(op, x, B, T);
  expectSameSize(op, "out", out, "x", x);
  expectSize(op, "mix", mix, C, `x ${fmtShape(x.shape)}`);
  if (prev) expectSize(op, "prev", prev, B * C, `[B, C] = [${B}, ${C}]`);
  return C;
}

/** Checks `tokenShiftBackward`: the shapes of `tokenShift` and its gradients; returns C. */
export function checkTokenShiftBackward(
  dx: Tensor,
  dmix: Tensor,
  dout: Tensor,
  x: Tensor,
  mix: Tensor,
  prev: Tensor | null,
  B: number,
  T: number,
): number {
  const op = "tokenShiftBackward";
  const C = checkBTC(op, x, B, T);
  expectSameSize(op, "dx", dx, "x", x);
  expectSameSize(op, "dout", dout, "x", x);
  expectSize(op, "mix", mix, C, `x ${fmtShape(x.shape)}`);
  expectSize(op, "dmix", dmix, C, `x ${fmtShape(x.shape)}`);
  if (prev) expectSize(op, "prev", prev, B * C, `[B, C] = [${B}, ${C}]`);
  return C;
}

/** Checks `wkv`: `k`/`v`/`y [B, T, C]`, decay and first `[C]`, `state [B, 3, C]`; returns C. */
export function checkWkv(
  y: Tensor,
  k: Tensor,
  v: Tensor,
  timeDecay: Tensor,
  timeFirst: Tensor,
  state: Tensor | null,
  B: number,
  T: number,
): number {
  const op = "wkv";
  const C = checkBTC(op, k, B, T);
  expectSameSize(op, "v", v, "k", k);
  expectSameSize(op, "y", y, "k", k);
  expectSize(op, "timeDecay", timeDecay, C, `k ${fmtShape(k.shape)}`);
  expectSize(op, "timeFirst", timeFirst, C, `k ${fmtShape(k.shape)}`);
  if (state) expectSize(op, "state", state, B * 3 * C, `[B, 3, C] = [${B}, 3, ${C}]`);
  return C;
}

/** Checks `wkvBackward`: the shapes of `wkv` and its gradients; returns C. */
export function checkWkvBackward(
  dw: Tensor,
  du: Tensor,
  dk: Tensor,
  dv: Tensor,
  dy: Tensor,
  k: Tensor,
  v: Tensor,
  timeDecay: Tensor,
  timeFirst: Tensor,
  B: number,
  T: number,
): number {
  const op = "wkvBackward";
  const C = checkBTC(op, k, B, T);
  for (const [name, t] of [["v", v], ["dk", dk], ["dv", dv], ["dy", dy]] as const) {
    expectSameSize(op, name, t, "k", k);
  }
  const perChannel = [["timeDecay", timeDecay], ["timeFirst", timeFirst], ["dw", dw], [
    "du",
    du,
  ]] as const;
  for (const [name, t] of perChannel) {
    expectSize(op, name, t, C, `k ${fmtShape(k.shape)}`);
  }
  return C;
}
