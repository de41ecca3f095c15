/**
 * Matmul with a block-quantized weight on the CPU backend: `out[M, N] (=|+=) a[M, K] · Wᵀ`,
 * `W` being `N` rows of ggml Q8_0 or Q4_0 blocks (`src/quant/`), never materialised as a float
 * matrix. One input row (decoding): each block's 32 quants are multiplied with the input,
 * summed in float64 and scaled by the block's float16 scale. Several rows (prefill): each
 * weight row is expanded once into a `K`-float scratch row, then dotted with every input row
 * (four partial sums), so the decoding of the blocks is shared by the M rows.
 *
 * @module
 */
import { halfToFloatTable } from "../../io/float16.ts";
import type { FloatArray } from "./tensor.ts";

const F16 = halfToFloatTable();
let scratch = new Float64Array(0);

/** Dimensions and data of one quantized matmul. */
export interface MatmulQuantLayout {
  /** Rows of `a` and `out`. */
  M: number;
  /** Rows of `W` (columns of `out`). */
  N: number;
  /** Inner dimension (a multiple of 32). */
  K: number;
  /** Block format. */
  type: "q8_0" | "q4_0";
  /** Add into `out` instead of overwriting. */
  accumulate: boolean;
}

/**
 * `out (=|+=) a · Wᵀ (+ bias)` with `W` as block bytes.
 *
 * @example
 * ```ts
 * import { matmulQuant } from "./matmul_quant.ts";
 * import { quantizeQ8_0 } from "../../quant/mod.ts";
 * const w = quantizeQ8_0(new Float32Array(32).fill(1)); // one row of ones
 * const out = new Float32Array(1);
 * matmulQuant(out, new Float32Array(32).fill(2), w, null, { M: 1, N: 1, K: 32, type: "q8_0", accumulate: false });
 * console.log(out[0]); // 64
 * ```
 */
export function matmulQuant(
  out: FloatArray,
  a: FloatArray,
  w: Uint8Array,
  bias: FloatArray | null,
  { M, N, K, type, accumulate }: MatmulQuantLayout,
): void {
  const nb = K / 32;
  if (M > 1) {
    if (scratch.length < K) scratch = new Float64Array(K);
    const row = scratch, bytes = type === "q8_0" ? 34 : 18;
    const q8 = new Int8Array(w.buffer, w.byteOffset, w.byteLength);
    const K4 = K - (K % 4);
    for (let n = 0; n < N; n++) {
      for (let b = 0; b < nb; b++) {
        const o = (n * nb + b) * bytes, d = F16[w[o] | (w[o + 1] << 8)], x = b * 32;
        if (type === "q8_0") { for (let j = 0; j < 32; j++) row[x + j] = q8[o + 2 + j] * d; }
        else {
          for (let j = 0; j < 16; j++) {
            const v = w[o + 2 + j];
            row[x + j] = ((v & 15) - 8) * d;
            row[x + j + 16] = ((v >> 4) - 8) * d;
          }
        }
      }
      for (let m = 0; m < M; m++) {
        const xa = m * K;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (let k = 0; k < K4; k += 4) {
          s0 += a[xa + k] * row[k];
          s1 += a[xa + k + 1] * row[k + 1];
          s2 += a[xa + k + 2] * row[k + 2];
          s3 += a[xa + k + 3] * row[k + 3];
        }
        let acc = (s0 + s1) + (s2 + s3);
        if (bias) acc += bias[n];
        const i = m * N + n;
        out[i] = accumulate ? out[i] + acc : acc;
      }
    }
    return;
  }
  if (type === "q8_0") {
    const q = new Int8Array(w.buffer, w.byteOffset, w.byteLength);
    for (let n = 0; n < N; n++) {
      const row = n * nb * 34;
      for (let m = 0; m < M; m++) {
        let acc = 0;
        const xa = m * K;
        for (let b = 0; b < nb; b++) {
          const o = row + b * 34, x = xa + b * 32, qo = o + 2;
          let s = 0;
          for (let j = 0; j < 32; j += 4) {
            s += q[qo + j] * a[x + j] + q[qo + j + 1] * a[x + j + 1] +
              q[qo + j + 2] * a[x + j + 2] + q[qo + j + 3] * a[x + j + 3];
          }
          acc += F16[w[o] | (w[o + 1] << 8)] * s;
        }
        if (bias) acc += bias[n];
        const i = m * N + n;
        out[i] = accumulate ? out[i] + acc : acc;
      }
    }
    return;
  }
  for (let n = 0; n < N; n++) {
    const row = n * nb * 18;
    for (let m = 0; m < M; m++) {
      let acc = 0;
      const xa = m * K;
      for (let b = 0; b < nb; b++) {
        const o = row + b * 18, x = xa + b * 32, qo = o + 2;
        let s = 0;
        for (let j = 0; j < 16; j++) {
          const v = w[qo + j];
          s += ((v & 15) - 8) * a[x + j] + ((v >> 4) - 8) * a[x + j + 16];
        }
        acc += F16[w[o] | (w[o + 1] << 8)] * s;
      }
      if (bias) acc += bias[n];
      const i = m * N + n;
      out[i] = accumulate ? out[i] + acc : acc;
    }
  }
}
