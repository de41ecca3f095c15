/**
 * Argument checks of the `Backend` ops, run once for every implementation by the checked
 * wrapper (`checked.ts`), so the CPU and WebGPU backends reject the same inputs with the same
 * one-line message (naming the op and the shapes).
 *
 * {@link OP_CHECKS} holds one check per op, keyed by the op's name and typed from its signature
 * in {@link Backend}. The dimensions an implementation goes on to use come from the pure shape
 * helpers here ({@link matmulDims}, {@link asMatrix}, …), which the checks use too.
 *
 * Only what any backend must check lives here; a backend's own limits (that a tensor is one
 * of its own and not freed, its dtype, dispatch sizes) stay with that backend.
 *
 * @module
 */
import type { AttentionDims, Backend, BackendOp, DType, MatmulOptions, Tensor } from "./backend.ts";
import { VIEW_ALIGN } from "./backend.ts";

// ---- generic helpers -----------------------------------------------------------------------

/** Formats a shape as `[2, 3]` for error messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

/** Product of the dimensions (no checks: see {@link shapeSize}). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Product of the dimensions; throws on a negative or non-integer dimension. */
export function shapeSize(op: string, shape: readonly number[]): number {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new Error(`${op}: invalid shape ${fmtShape(shape)} (dimensions must be integers ≥ 0)`);
    }
  }
  return elementCount(shape);
}

/** The element type of host data: i32 for an Int32Array, f32 otherwise. */
export function dtypeOf(data: Float32Array | Int32Array): DType {
  return data instanceof Int32Array ? "i32" : "f32";
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

// ---- shape helpers (shared by the checks and the implementations) --------------------------

/** Rows and columns of `t` read as a matrix: the last dimension is the columns. */
export function asMatrix(t: Tensor): [rows: number, cols: number] {
  const cols = t.shape.length === 0 ? 1 : t.shape[t.shape.length - 1];
  return [cols === 0 ? 0 : t.size / cols, cols];
}

/** Dimensions of a `matmul`: `out [M, N] = op(a) [M, K] · op(b) [K, N]`, K read from `a`. */
export function matmulDims(
  a: Tensor,
  b: Tensor,
  options: MatmulOptions = {},
): { M: number; N: number; K: number; transA: boolean; transB: boolean } {
  const transA = options.transA ?? false, transB = options.transB ?? false;
  const [ar, ac] = asMatrix(a), [br, bc] = asMatrix(b);
  return { M: transA ? ac : ar, N: transB ? br : bc, K: transA ? ar : ac, transA, transB };
}

/** Channels C of `x` read as `[B, T, C]`. */
export function channels(x: Tensor, B: number, T: number): number {
  return x.size / (B * T);
}

/**
 * Widths of an attention call: head size `hd = C/NH`, key/value heads `NKV` (NH unless
 * grouped-query), the key (and value) width `KV = NKV·hd`, and the `qkv` row width
 * `W = C + 2·KV` (3C without grouped-query attention).
 */
export function attentionWidths(
  { C, NH, NKV = NH }: AttentionDims,
): { hd: number; NKV: number; KV: number; W: number } {
  const hd = C / NH, KV = NKV * hd;
  return { hd, NKV, KV, W: C + 2 * KV };
}

/** Positions Tmax of a KV cache read as `[B, Tmax, NKV·hd]`. */
export function cacheLength(cache: Tensor, dims: AttentionDims): number {
  return cache.size / (dims.B * attentionWidths(dims).KV);
}

// ---- shared pieces of the op checks --------------------------------------------------------

function checkT(op: string, ids: Tensor, T: number): void {
  if (!Number.isInteger(T) || T < 1 || ids.size % T !== 0) {
    throw new Error(
      `${op}: ids ${fmtShape(ids.shape)} is not a whole number of sequences of T ${T}`,
    );
  }
}

function checkBTC(op: string, x: Tensor, B: number, T: number): number {
  const C = channels(x, B, T);
  if (!Number.isInteger(B) || !Number.isInteger(T) || B < 1 || T < 1 || !Number.isInteger(C)) {
    throw new Error(`${op}: x ${fmtShape(x.shape)} is not [B, T, C] with B ${B}, T ${T}`);
  }
  return C;
}

/** Checks the dims and returns the `qkv` row width and its description for messages. */
function checkAttentionDims(op: string, dims: AttentionDims): { W: number; desc: string } {
  const { B, T, C, NH, NKV = NH } = dims;
  if (![B, T, C, NH].every((d) => Number.isInteger(d) && d >= 1) || C % NH !== 0) {
    throw new Error(`${op}: invalid dims B ${B}, T ${T}, C ${C}, NH ${NH} (C must divide by NH)`);
  }
  if (!Number.isInteger(NKV) || NKV < 1 || NH % NKV !== 0) {
    throw new Error(`${op}: invalid dims NKV ${NKV} (key/value heads must divide NH ${NH})`);
  }
  const { W } = attentionWidths(dims);
  const desc = NKV === NH
    ? `[B, T, 3C] = [${B}, ${T}, ${W}]`
    : `[B, T, (NH + 2·NKV)·hd] = [${B}, ${T}, ${W}]`;
  return { W, desc };
}

function checkRope(
  op: string,
  x: Tensor,
  cos: Tensor,
  sin: Tensor,
  B: number,
  T: number,
  headDim: number,
  rotatedHeads: number,
  posOffset: number,
): void {
  const W = checkBTC(op, x, B, T);
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) {
    throw new Error(`${op}: headDim ${headDim} must be an even integer ≥ 2`);
  }
  if (!Number.isInteger(rotatedHeads) || rotatedHeads < 0 || rotatedHeads * headDim > W) {
    throw new Error(
      `${op}: rotatedHeads ${rotatedHeads} × headDim ${headDim} exceeds the row width ${W}`,
    );
  }
  expectSameSize(op, "sin", sin, "cos", cos);
  const half = headDim / 2, Tmax = cos.size / half;
  if (!Number.isInteger(Tmax) || asMatrix(cos)[1] !== half) {
    throw new Error(`${op}: cos ${fmtShape(cos.shape)} is not [Tmax, headDim/2 = ${half}]`);
  }
  if (!Number.isInteger(posOffset) || posOffset < 0 || posOffset + T > Tmax) {
    throw new Error(
      `${op}: positions ${posOffset}…${posOffset + T - 1} exceed cos ${fmtShape(cos.shape)}`,
    );
  }
}

function checkBinary(op: string, out: Tensor, a: Tensor, b: Tensor): void {
  expectSameSize(op, "out", out, "a", a);
  expectSameSize(op, "a", a, "b", b);
}

function checkUnaryBackward(op: string, dx: Tensor, xName: string, x: Tensor, dout: Tensor): void {
  expectSameSize(op, "dx", dx, xName, x);
  expectSameSize(op, "dout", dout, xName, x);
}

/** Checks `H` heads over `C` channels; returns the head size N. */
function checkHeads(op: string, C: number, H: number, what: string): number {
  if (!Number.isInteger(H) || H < 1 || C % H !== 0) {
    throw new Error(`${op}: H ${H} heads do not divide the ${C} channels of ${what}`);
  }
  return C / H;
}

/** Checks that every named tensor has the size of `ref` (named `refName`). */
function expectAllSameSize(
  op: string,
  refName: string,
  ref: Tensor,
  tensors: Record<string, Tensor>,
): void {
  for (const [name, t] of Object.entries(tensors)) expectSameSize(op, name, t, refName, ref);
}

/** Checks that every named tensor has `C` elements (a per-channel vector of `ref`). */
function expectAllChannels(
  op: string,
  C: number,
  ref: string,
  tensors: Record<string, Tensor>,
): void {
  for (const [name, t] of Object.entries(tensors)) expectSize(op, name, t, C, ref);
}

/** Checks rows `[n, C]` with `H` heads; returns C. */
function checkRowsHeads(op: string, name: string, x: Tensor, H: number): number {
  const [, C] = asMatrix(x);
  checkHeads(op, C, H, `${name} ${fmtShape(x.shape)}`);
  return C;
}

// ---- the checks, one per op ----------------------------------------------------------------

/**
 * The argument check of each op, typed from its signature in {@link Backend}; null where an op
 * has nothing to check beyond the backend's own limits.
 */
export type OpChecks = {
  readonly [K in BackendOp]: ((...args: Parameters<Backend[K]>) => void) | null;
};

/** The argument checks of every op (see {@link OpChecks}); `checked.ts` runs them. */
export const OP_CHECKS: OpChecks = {
  // ---- memory ----
  zeros(shape) {
    shapeSize("zeros", shape);
  },
  fromArray(shape, data) {
    const size = shapeSize("fromArray", shape);
    if (data.length !== size) {
      throw new Error(
        `fromArray: shape ${
          fmtShape(shape)
        } needs ${size} elements but the data has ${data.length}`,
      );
    }
  },
  view(base, offset, shape) {
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
  },
  write(t, data, offset = 0) {
    if ((data instanceof Int32Array) !== (t.dtype === "i32")) {
      throw new Error(`write: ${data.constructor.name} data into a ${t.dtype} tensor`);
    }
    if (!Number.isInteger(offset) || offset < 0 || offset + data.length > t.size) {
      throw new Error(
        `write: ${data.length} elements at offset ${offset} do not fit in ${fmtShape(t.shape)}`,
      );
    }
  },
  read(t, into) {
    if (into === undefined) return;
    if ((into instanceof Int32Array) !== (t.dtype === "i32") || into.length !== t.size) {
      throw new Error(
        `read: into a ${into.constructor.name} of ${into.length} elements, ` +
          `but the tensor is ${t.dtype} ${fmtShape(t.shape)}`,
      );
    }
  },
  free: null,
  flush: null,
  sync: null,
  destroy: null,

  // ---- elementwise and reductions ----
  fill: null,
  copy(dst, src) {
    expectSameSize("copy", "dst", dst, "src", src);
    if (dst.dtype !== src.dtype) {
      throw new Error(`copy: dst is ${dst.dtype} but src is ${src.dtype}`);
    }
  },
  scale: null,
  add(out, a, b) {
    checkBinary("add", out, a, b);
  },
  addInto(dst, src) {
    expectSameSize("addInto", "dst", dst, "src", src);
  },
  mul(out, a, b) {
    checkBinary("mul", out, a, b);
  },
  mulBackward({ da, db, dout, a, b }) {
    const op = "mulBackward";
    expectSameSize(op, "dout", dout, "a", a);
    expectSameSize(op, "a", a, "b", b);
    if (da) expectSameSize(op, "da", da, "a", a);
    if (db) expectSameSize(op, "db", db, "b", b);
  },
  sum(out) {
    expectSize("sum", "out", out, 1, "a scalar result");
  },
  sumSquares(out) {
    expectSize("sumSquares", "out", out, 1, "a scalar result");
  },
  sumRows(out, x) {
    expectSize("sumRows", "out", out, asMatrix(x)[1], `x ${fmtShape(x.shape)}`);
  },
  argmaxRows(out, x) {
    expectSize("argmaxRows", "out", out, asMatrix(x)[0], `x ${fmtShape(x.shape)}`);
  },
  topK(values, indices, x, k) {
    const op = "topK";
    if (!Number.isInteger(k) || k < 1 || k > x.size) {
      throw new Error(`${op}: k ${k} must be an integer in 1…${x.size} for x ${fmtShape(x.shape)}`);
    }
    expectSize(op, "values", values, k, `k ${k}`);
    expectSize(op, "indices", indices, k, `k ${k}`);
  },

  // ---- GPT ops ----
  matmul(out, a, b, options) {
    const { M, N, K, transA, transB } = matmulDims(a, b, options);
    const Kb = asMatrix(b)[transB ? 1 : 0];
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
    if (options?.bias) expectSize("matmul", "bias", options.bias, N, `out [${M}, ${N}]`);
  },
  matmulQuant({ out, a, w, type, N, K, bias }) {
    const op = "matmulQuant";
    if (type !== "q8_0" && type !== "q4_0") throw new Error(`${op}: unknown block type ${type}`);
    if (!Number.isInteger(K) || K <= 0 || K % 32 !== 0) {
      throw new Error(`${op}: K ${K} is not a positive multiple of 32`);
    }
    if (!Number.isInteger(N) || N <= 0) throw new Error(`${op}: N ${N} is not a positive integer`);
    if (w.dtype !== "i32") throw new Error(`${op}: w must be i32 words of block bytes`);
    const words = Math.ceil((N * K / 32) * (type === "q8_0" ? 34 : 18) / 4);
    expectSize(op, "w", w, words, `${N} rows of ${K} ${type} values`);
    if (a.size % K !== 0) throw new Error(`${op}: a ${fmtShape(a.shape)} is not rows of K ${K}`);
    const M = a.size / K;
    expectSize(op, "out", out, M * N, `a ${fmtShape(a.shape)} · W [${N}, ${K}]ᵀ`);
    if (bias) expectSize(op, "bias", bias, N, `W [${N}, ${K}]`);
  },
  embedding({ out, ids, wte, wpe, T, posOffset = 0 }) {
    const op = "embedding";
    const C = asMatrix(wte)[1];
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
  },
  embeddingBackward({ dwte, dwpe, dout, ids, T }) {
    const op = "embeddingBackward";
    const C = asMatrix(dwte)[1];
    expectSize(op, "dout", dout, ids.size * C, `ids ${fmtShape(ids.shape)} × dwte width ${C}`);
    checkT(op, ids, T);
    if (dwpe && (asMatrix(dwpe)[1] !== C || asMatrix(dwpe)[0] < T)) {
      throw new Error(`${op}: dwpe ${fmtShape(dwpe.shape)} does not fit T ${T} × C ${C}`);
    }
  },
  layerNorm({ out, mean, rstd, x, w, b }) {
    const op = "layerNorm";
    const [N, C] = asMatrix(x);
    expectSameSize(op, "out", out, "x", x);
    expectSize(op, "w", w, C, `x ${fmtShape(x.shape)}`);
    expectSize(op, "b", b, C, `x ${fmtShape(x.shape)}`);
    expectSize(op, "mean", mean, N, `x ${fmtShape(x.shape)}`);
    expectSize(op, "rstd", rstd, N, `x ${fmtShape(x.shape)}`);
  },
  layerNormBackward({ dx, dw, db, dout, x, w, mean, rstd }) {
    const op = "layerNormBackward";
    const [N, C] = asMatrix(x);
    expectSameSize(op, "dx", dx, "x", x);
    expectSameSize(op, "dout", dout, "x", x);
    for (const [name, t] of [["w", w], ["dw", dw], ["db", db]] as const) {
      expectSize(op, name, t, C, `x ${fmtShape(x.shape)}`);
    }
    expectSize(op, "mean", mean, N, `x ${fmtShape(x.shape)}`);
    expectSize(op, "rstd", rstd, N, `x ${fmtShape(x.shape)}`);
  },
  gelu(out, x) {
    expectSameSize("gelu", "out", out, "x", x);
  },
  geluBackward(dx, x, dout) {
    checkUnaryBackward("geluBackward", dx, "x", x, dout);
  },
  attention({ out, lse, qkv, dims }) {
    const op = "attention";
    const { W, desc } = checkAttentionDims(op, dims);
    const { B, T, C, NH } = dims;
    expectSize(op, "qkv", qkv, B * T * W, desc);
    expectSize(op, "out", out, B * T * C, `[B, T, C] = [${B}, ${T}, ${C}]`);
    expectSize(op, "lse", lse, B * NH * T, `[B, NH, T] = [${B}, ${NH}, ${T}]`);
  },
  attentionBackward({ dqkv, dout, out, lse, qkv, dims }) {
    const op = "attentionBackward";
    const { W, desc } = checkAttentionDims(op, dims);
    const { B, T, C, NH } = dims;
    const need = `[B, T, C] = [${B}, ${T}, ${C}]`;
    expectSize(op, "qkv", qkv, B * T * W, desc);
    expectSize(op, "dqkv", dqkv, B * T * W, desc);
    expectSize(op, "out", out, B * T * C, need);
    expectSize(op, "dout", dout, B * T * C, need);
    expectSize(op, "lse", lse, B * NH * T, `[B, NH, T] = [${B}, ${NH}, ${T}]`);
  },
  attentionCached({ out, qkv, kCache, vCache, pos, dims }) {
    const op = "attentionCached";
    const { W, desc } = checkAttentionDims(op, dims);
    const { B, T, C } = dims;
    const { KV } = attentionWidths(dims);
    expectSize(op, "qkv", qkv, B * T * W, desc);
    expectSize(op, "out", out, B * T * C, `[B, T, C] = [${B}, ${T}, ${C}]`);
    expectSameSize(op, "kCache", kCache, "vCache", vCache);
    const Tmax = cacheLength(kCache, dims);
    if (!Number.isInteger(Tmax) || asMatrix(kCache)[1] !== KV) {
      const name = KV === C ? "C" : "NKV·hd";
      throw new Error(
        `${op}: kCache ${fmtShape(kCache.shape)} is not [B, Tmax, ${name}] with B ${B}, ` +
          `${name} ${KV}`,
      );
    }
    if (!Number.isInteger(pos) || pos < 0 || pos + T > Tmax) {
      throw new Error(
        `${op}: positions ${pos}…${pos + T - 1} do not fit the cache ${fmtShape(kCache.shape)}`,
      );
    }
  },
  softmaxCrossEntropy({ losses, dlogits, logits, targets }) {
    const op = "softmaxCrossEntropy";
    const N = asMatrix(logits)[0];
    expectSize(op, "targets", targets, N, `logits ${fmtShape(logits.shape)}`);
    expectSize(op, "losses", losses, N, `logits ${fmtShape(logits.shape)}`);
    if (dlogits) expectSameSize(op, "dlogits", dlogits, "logits", logits);
  },

  // ---- Llama ops ----
  rmsNorm({ out, rstd, x, w, eps }) {
    const op = "rmsNorm";
    const [N, C] = asMatrix(x);
    expectSameSize(op, "out", out, "x", x);
    expectSize(op, "w", w, C, `x ${fmtShape(x.shape)}`);
    expectSize(op, "rstd", rstd, N, `x ${fmtShape(x.shape)}`);
    if (!(eps >= 0) || !Number.isFinite(eps)) {
      throw new Error(`${op}: eps ${eps} must be a finite number ≥ 0`);
    }
  },
  rmsNormBackward({ dx, dw, dout, x, w, rstd }) {
    const op = "rmsNormBackward";
    const [N, C] = asMatrix(x);
    expectSameSize(op, "dx", dx, "x", x);
    expectSameSize(op, "dout", dout, "x", x);
    expectSize(op, "w", w, C, `x ${fmtShape(x.shape)}`);
    expectSize(op, "dw", dw, C, `x ${fmtShape(x.shape)}`);
    expectSize(op, "rstd", rstd, N, `x ${fmtShape(x.shape)}`);
  },
  rope({ out, x, cos, sin, B, T, headDim, rotatedHeads, posOffset = 0 }) {
    const op = "rope";
    checkRope(op, x, cos, sin, B, T, headDim, rotatedHeads, posOffset);
    expectSameSize(op, "out", out, "x", x);
  },
  ropeBackward({ dx, dout, cos, sin, B, T, headDim, rotatedHeads }) {
    const op = "ropeBackward";
    checkRope(op, dout, cos, sin, B, T, headDim, rotatedHeads, 0);
    expectSameSize(op, "dx", dx, "dout", dout);
  },
  swiglu(out, gate, up) {
    expectSameSize("swiglu", "gate", gate, "up", up);
    expectSameSize("swiglu", "out", out, "gate", gate);
  },
  swigluBackward({ dgate, dup, dout, gate, up }) {
    const op = "swigluBackward";
    expectSameSize(op, "up", up, "gate", gate);
    expectSameSize(op, "dout", dout, "gate", gate);
    expectSameSize(op, "dgate", dgate, "gate", gate);
    expectSameSize(op, "dup", dup, "up", up);
  },

  // ---- optimizer ----
  adamw({ params, grads, m, v, decayMask, hp, clip }) {
    const op = "adamw";
    expectSameSize(op, "grads", grads, "params", params);
    expectSameSize(op, "m", m, "params", params);
    expectSameSize(op, "v", v, "params", params);
    if (decayMask) expectSameSize(op, "decayMask", decayMask, "params", params);
    if (!(hp.step >= 1)) throw new Error(`${op}: step must be ≥ 1 (1-based), got ${hp.step}`);
    if (clip) expectSize(op, "clip.normSquared", clip.normSquared, 1, "a scalar");
  },

  // ---- RWKV-4 ops ----
  tokenShift({ out, x, mix, prev, B, T }) {
    const op = "tokenShift";
    const C = checkBTC(op, x, B, T);
    expectSameSize(op, "out", out, "x", x);
    expectSize(op, "mix", mix, C, `x ${fmtShape(x.shape)}`);
    if (prev) expectSize(op, "prev", prev, B * C, `[B, C] = [${B}, ${C}]`);
  },
  tokenShiftBackward({ dx, dmix, dout, x, mix, prev, B, T }) {
    const op = "tokenShiftBackward";
    const C = checkBTC(op, x, B, T);
    expectSameSize(op, "dx", dx, "x", x);
    expectSameSize(op, "dout", dout, "x", x);
    expectSize(op, "mix", mix, C, `x ${fmtShape(x.shape)}`);
    expectSize(op, "dmix", dmix, C, `x ${fmtShape(x.shape)}`);
    if (prev) expectSize(op, "prev", prev, B * C, `[B, C] = [${B}, ${C}]`);
  },
  wkv({ y, k, v, timeDecay, timeFirst, state, B, T }) {
    const op = "wkv";
    const C = checkBTC(op, k, B, T);
    expectSameSize(op, "v", v, "k", k);
    expectSameSize(op, "y", y, "k", k);
    expectSize(op, "timeDecay", timeDecay, C, `k ${fmtShape(k.shape)}`);
    expectSize(op, "timeFirst", timeFirst, C, `k ${fmtShape(k.shape)}`);
    if (state) expectSize(op, "state", state, B * 3 * C, `[B, 3, C] = [${B}, 3, ${C}]`);
  },
  wkvBackward({ dw, du, dk, dv, dy, k, v, timeDecay, timeFirst, B, T }) {
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
  },
  reluSquared(out, x) {
    expectSameSize("reluSquared", "out", out, "x", x);
  },
  reluSquaredBackward(dx, x, dout) {
    checkUnaryBackward("reluSquaredBackward", dx, "x", x, dout);
  },
  sigmoid(out, x) {
    expectSameSize("sigmoid", "out", out, "x", x);
  },
  sigmoidBackward(dx, y, dout) {
    checkUnaryBackward("sigmoidBackward", dx, "y", y, dout);
  },
  tanh(out, x) {
    expectSameSize("tanh", "out", out, "x", x);
  },
  tanhBackward(dx, y, dout) {
    checkUnaryBackward("tanhBackward", dx, "y", y, dout);
  },

  // ---- RWKV-7 / RWKV-5 ops ----
  wkv7({ y, r, w, k, v, a, b, state, B, T, H }) {
    const op = "wkv7";
    const C = checkBTC(op, k, B, T);
    const N = checkHeads(op, C, H, `k ${fmtShape(k.shape)}`);
    expectAllSameSize(op, "k", k, { y, r, w, v, a, b });
    if (state) {
      expectSize(op, "state", state, B * H * N * N, `[B, H, N, N] = [${B}, ${H}, ${N}, ${N}]`);
    }
  },
  wkv7Backward({ dr, dw, dk, dv, da, db, dy, r, w, k, v, a, b, B, T, H }) {
    const op = "wkv7Backward";
    const C = checkBTC(op, k, B, T);
    checkHeads(op, C, H, `k ${fmtShape(k.shape)}`);
    expectAllSameSize(op, "k", k, { dr, dw, dk, dv, da, db, dy, r, w, v, a, b });
  },
  rwkv7Keys({ kt, na, nb, k, a, kK, kA, H }) {
    const op = "rwkv7Keys";
    const C = checkRowsHeads(op, "k", k, H);
    expectAllSameSize(op, "k", k, { kt, na, nb, a });
    expectAllChannels(op, C, `k ${fmtShape(k.shape)}`, { kK, kA });
  },
  rwkv7KeysBackward({ dk, da, dkK, dkA, dkt, dna, dnb, k, a, kK, kA, H }) {
    const op = "rwkv7KeysBackward";
    const C = checkRowsHeads(op, "k", k, H);
    expectAllSameSize(op, "k", k, { dk, da, dkt, dna, dnb, a });
    expectAllChannels(op, C, `k ${fmtShape(k.shape)}`, { kK, kA, dkK, dkA });
  },
  rwkv7Output({ out, y, r, k, v, g, lnW, lnB, rK, H, eps }) {
    const op = "rwkv7Output";
    const C = checkRowsHeads(op, "y", y, H);
    expectAllSameSize(op, "y", y, { out, r, k, v, g });
    expectAllChannels(op, C, `y ${fmtShape(y.shape)}`, { lnW, lnB, rK });
    if (!(eps > 0)) throw new Error(`${op}: eps must be > 0, got ${eps}`);
  },
  rwkv7OutputBackward(args) {
    const op = "rwkv7OutputBackward";
    const { dy, dr, dk, dv, dg, dlnW, dlnB, drK, dout, y, r, k, v, g, lnW, lnB, rK, H, eps } = args;
    const C = checkRowsHeads(op, "y", y, H);
    expectAllSameSize(op, "y", y, { dy, dr, dk, dv, dg, dout, r, k, v, g });
    expectAllChannels(op, C, `y ${fmtShape(y.shape)}`, { lnW, lnB, rK, dlnW, dlnB, drK });
    if (!(eps > 0)) throw new Error(`${op}: eps must be > 0, got ${eps}`);
  },
  wkv5({ y, r, k, v, decay, w, bonus, state, B, T, H }) {
    const op = "wkv5";
    const C = checkBTC(op, k, B, T);
    const N = checkHeads(op, C, H, `k ${fmtShape(k.shape)}`);
    if (!decay === !w) {
      throw new Error(`${op}: give exactly one of decay (per channel) and w (per token)`);
    }
    expectAllSameSize(op, "k", k, w ? { y, r, v, w } : { y, r, v });
    expectAllChannels(op, C, `k ${fmtShape(k.shape)}`, decay ? { decay, bonus } : { bonus });
    if (state) {
      expectSize(op, "state", state, B * H * N * N, `[B, H, N, N] = [${B}, ${H}, ${N}, ${N}]`);
    }
  },
};
