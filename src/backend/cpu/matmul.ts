/**
 * Matrix multiply of the CPU backend: `out[M,N] (=|+=) op(a)·op(b) (+ bias)`.
 *
 * Operands are addressed through strides (`a(i,k) = a[i·sai + k·sak]`), so a transposed
 * operand is never copied as a whole. Large products are blocked the way BLAS libraries do
 * it (a simplified BLIS/GotoBLAS scheme):
 * - the inner dimension is cut into blocks of {@link KC}, the columns into blocks of
 *   {@link NC};
 * - each block of `b` is packed once into 4-column panels (`kc × 4`, contiguous), and each
 *   4-row strip of `a` into a `kc × 4` panel, zero-padded at the edges, in float64 — so the
 *   micro-kernel reads both operands sequentially from cache whatever the transposes;
 * - the micro-kernel keeps a 4×4 block of sums in local variables: 16 multiply-adds per 8
 *   loads (4×4 measured fastest in V8; bigger tiles spill registers).
 * Products with fewer than 4 output rows (generation: one token at a time) skip the packing
 * and run row by row, reading `b` along its contiguous dimension. Like BLAS's sgemm, each
 * operand may have its own row stride (`lda`, `ldb`, `ldc`), so attention multiplies the
 * per-head slices of `qkv` in place.
 *
 * @module
 */
import type { FloatArray } from "./tensor.ts";

/** Dimensions and layout of one matmul. */
export interface MatmulLayout {
  /** Rows of the output. */
  M: number;
  /** Columns of the output. */
  N: number;
  /** Inner dimension. */
  K: number;
  /** `a` is stored `[K, M]`. */
  transA: boolean;
  /** `b` is stored `[N, K]`. */
  transB: boolean;
  /** Row stride of `a` as stored (default: its row length, K or M). */
  lda?: number;
  /** Row stride of `b` as stored (default: its row length, N or K). */
  ldb?: number;
  /** Row stride of `out` (default N). */
  ldc?: number;
}

/** Element strides of one matmul: `a(i,k) = a[i·sai + k·sak]`, `b(k,j) = b[k·sbk + j·sbj]`. */
interface Strides {
  sai: number;
  sak: number;
  sbk: number;
  sbj: number;
  ldc: number;
}

function stridesOf({ M, N, K, transA, transB, lda, ldb, ldc }: MatmulLayout): Strides {
  const la = lda ?? (transA ? M : K), lb = ldb ?? (transB ? K : N);
  return {
    sai: transA ? 1 : la,
    sak: transA ? la : 1,
    sbk: transB ? 1 : lb,
    sbj: transB ? lb : 1,
    ldc: ldc ?? N,
  };
}

/** Block of the inner dimension (a 4-row panel of `a` is KC·4 doubles = 8 KiB: L1). */
export const KC = 256;
/** Block of output columns (a packed block of `b` is KC·NC doubles = 1 MiB: L2). */
export const NC = 512;

// Packing buffers, reused across calls (a training step allocates nothing).
const packedA = new Float64Array(KC * 4);
const packedB = new Float64Array(KC * NC);
let rowSums = new Float64Array(0);

/** `out = op(a)·op(b) (+ bias)`, or `out += op(a)·op(b) (+ bias)` when `accumulate`. */
export function matmul(
  out: FloatArray,
  a: FloatArray,
  b: FloatArray,
  bias: FloatArray | null,
  layout: MatmulLayout,
  accumulate: boolean,
): void {
  const { M, N, K } = layout;
  if (M === 0 || N === 0) return;
  const st = stridesOf(layout);
  if (M < 4) {
    matmulRows(out, a, b, bias, M, N, K, st, accumulate);
    return;
  }
  const ldc = st.ldc;
  // Start from 0, the bias, or the old out (+ bias); the blocks below add into it.
  for (let i = 0; i < M; i++) {
    const row = i * ldc;
    if (!accumulate) {
      if (bias) out.set(bias.subarray(0, N), row);
      else out.fill(0, row, row + N);
    } else if (bias) {
      for (let j = 0; j < N; j++) out[row + j] += bias[j];
    }
  }
  if (K === 0) return;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = Math.min(KC, K - k0);
    for (let j0 = 0; j0 < N; j0 += NC) {
      const nc = Math.min(NC, N - j0);
      packB(b, st, k0, kc, j0, nc);
      for (let i = 0; i < M; i += 4) {
        packA(a, st, M, i, k0, kc);
        for (let j = 0; j < nc; j += 4) {
          microKernel(out, packedA, packedB, j * kc, kc, i, j0 + j, M, N, ldc);
        }
      }
    }
  }
}

/** Packs `op(b)[k0:k0+kc, j0:j0+nc]` into 4-column panels: (k, j+c) at `j·kc + k·4 + c`. */
function packB(
  b: FloatArray,
  { sbk, sbj }: Strides,
  k0: number,
  kc: number,
  j0: number,
  nc: number,
) {
  const ncPadded = (nc + 3) & ~3;
  for (let j = 0; j < ncPadded; j += 4) {
    const panel = j * kc;
    for (let c = 0; c < 4; c++) {
      const col = j0 + j + c;
      if (j + c < nc) {
        const src = k0 * sbk + col * sbj;
        for (let k = 0; k < kc; k++) packedB[panel + k * 4 + c] = b[src + k * sbk];
      } else {
        for (let k = 0; k < kc; k++) packedB[panel + k * 4 + c] = 0;
      }
    }
  }
}

/** Packs rows `i … i+3` of `op(a)[:, k0:k0+kc]`: (i+r, k) at `k·4 + r`, zero rows past M. */
function packA(a: FloatArray, st: Strides, M: number, i: number, k0: number, kc: number) {
  const { sai, sak } = st;
  for (let r = 0; r < 4; r++) {
    if (i + r < M) {
      const src = (i + r) * sai + k0 * sak;
      for (let k = 0; k < kc; k++) packedA[k * 4 + r] = a[src + k * sak];
    } else {
      for (let k = 0; k < kc; k++) packedA[k * 4 + r] = 0;
    }
  }
}

/** `out[i:i+4, j:j+4] += panelA · panelB` over `kc` steps (edges clipped to M, N). */
function microKernel(
  out: FloatArray,
  pa: Float64Array,
  pb: Float64Array,
  pbStart: number,
  kc: number,
  i: number,
  j: number,
  M: number,
  N: number,
  ldc: number,
): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  const end = kc * 4;
  for (let k = 0, kb = pbStart; k < end; k += 4, kb += 4) {
    const x0 = pa[k], x1 = pa[k + 1], x2 = pa[k + 2], x3 = pa[k + 3];
    const y0 = pb[kb], y1 = pb[kb + 1], y2 = pb[kb + 2], y3 = pb[kb + 3];
    c00 += x0 * y0;
    c01 += x0 * y1;
    c02 += x0 * y2;
    c03 += x0 * y3;
    c10 += x1 * y0;
    c11 += x1 * y1;
    c12 += x1 * y2;
    c13 += x1 * y3;
    c20 += x2 * y0;
    c21 += x2 * y1;
    c22 += x2 * y2;
    c23 += x2 * y3;
    c30 += x3 * y0;
    c31 += x3 * y1;
    c32 += x3 * y2;
    c33 += x3 * y3;
  }
  if (i + 4 <= M && j + 4 <= N) {
    let o = i * ldc + j;
    out[o] += c00, out[o + 1] += c01, out[o + 2] += c02, out[o + 3] += c03;
    o += ldc;
    out[o] += c10, out[o + 1] += c11, out[o + 2] += c12, out[o + 3] += c13;
    o += ldc;
    out[o] += c20, out[o + 1] += c21, out[o + 2] += c22, out[o + 3] += c23;
    o += ldc;
    out[o] += c30, out[o + 1] += c31, out[o + 2] += c32, out[o + 3] += c33;
    return;
  }
  const sums = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
  for (let r = 0; r < 4 && i + r < M; r++) {
    for (let c = 0; c < 4 && j + c < N; c++) out[(i + r) * ldc + j + c] += sums[r * 4 + c];
  }
}

/**
 * Few output rows: no packing. With `b` stored `[K, N]` each row is a sum of rows of `b`
 * scaled by `a(i,k)` (contiguous); with `b` stored `[N, K]` each output is a dot product
 * of two contiguous vectors.
 */
function matmulRows(
  out: FloatArray,
  a: FloatArray,
  b: FloatArray,
  bias: FloatArray | null,
  M: number,
  N: number,
  K: number,
  { sai, sak, sbk, sbj, ldc }: Strides,
  accumulate: boolean,
): void {
  if (rowSums.length < N) rowSums = new Float64Array(N);
  const acc = rowSums;
  for (let i = 0; i < M; i++) {
    const ai = i * sai;
    if (sbk === 1 && sak === 1) {
      // Both contiguous along k (decode: x · Wᵀ, the tied head): one dot product per output,
      // four independent partial sums so the adds do not wait on each other.
      const K4 = K - (K % 4);
      for (let j = 0; j < N; j++) {
        const bj = j * sbj;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, k = 0;
        for (; k < K4; k += 4) {
          s0 += a[ai + k] * b[bj + k];
          s1 += a[ai + k + 1] * b[bj + k + 1];
          s2 += a[ai + k + 2] * b[bj + k + 2];
          s3 += a[ai + k + 3] * b[bj + k + 3];
        }
        for (; k < K; k++) s0 += a[ai + k] * b[bj + k];
        acc[j] = (s0 + s1) + (s2 + s3);
      }
    } else if (sbk === 1) {
      // b(k, j) contiguous along k: one dot product per output.
      for (let j = 0; j < N; j++) {
        const bj = j * sbj;
        let s = 0;
        for (let k = 0; k < K; k++) s += a[ai + k * sak] * b[bj + k];
        acc[j] = s;
      }
    } else if (sbj === 1) {
      // b(k, j) contiguous along j (decode through GPT-2's [in, out] weights): add scaled
      // rows of b, four at a time.
      acc.fill(0, 0, N);
      const K4 = K - (K % 4);
      let k = 0;
      for (; k < K4; k += 4) {
        const x0 = a[ai + k * sak], x1 = a[ai + (k + 1) * sak];
        const x2 = a[ai + (k + 2) * sak], x3 = a[ai + (k + 3) * sak];
        const b0 = k * sbk, b1 = b0 + sbk, b2 = b1 + sbk, b3 = b2 + sbk;
        for (let j = 0; j < N; j++) {
          acc[j] += (x0 * b[b0 + j] + x1 * b[b1 + j]) + (x2 * b[b2 + j] + x3 * b[b3 + j]);
        }
      }
      for (; k < K; k++) {
        const x = a[ai + k * sak], bk = k * sbk;
        for (let j = 0; j < N; j++) acc[j] += x * b[bk + j];
      }
    } else {
      // b(k, j) contiguous along j: add scaled rows of b.
      acc.fill(0, 0, N);
      for (let k = 0; k < K; k++) {
        const x = a[ai + k * sak], bk = k * sbk;
        for (let j = 0; j < N; j++) acc[j] += x * b[bk + j * sbj];
      }
    }
    const o = i * ldc;
    for (let j = 0; j < N; j++) {
      const s = bias ? acc[j] + bias[j] : acc[j];
      out[o + j] = accumulate ? out[o + j] + s : s;
    }
  }
}
