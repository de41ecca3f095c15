/**
 * LayerNorm (llm.c's formulation) and RMSNorm (Llama) over the last dimension, forward and
 * backward.
 *
 * @module
 */
import type { FloatArray } from "./tensor.ts";

/** `out = (x − mean)·rstd·w + b` per row of `x [N, C]`; saves `mean` and `rstd` per row. */
export function layerNorm(
  out: FloatArray,
  mean: FloatArray,
  rstd: FloatArray,
  x: FloatArray,
  w: FloatArray,
  b: FloatArray,
  N: number,
  C: number,
  eps: number,
): void {
  for (let n = 0; n < N; n++) {
    const row = n * C;
    let m = 0;
    for (let c = 0; c < C; c++) m += x[row + c];
    m /= C;
    let v = 0;
    for (let c = 0; c < C; c++) {
      const d = x[row + c] - m;
      v += d * d;
    }
    v /= C;
    const s = 1 / Math.sqrt(v + eps);
    for (let c = 0; c < C; c++) out[row + c] = (x[row + c] - m) * s * w[c] + b[c];
    mean[n] = m;
    rstd[n] = s;
  }
}

/** Accumulates `dx`, `dw`, `db` from `dout`, using the `mean`/`rstd` saved by the forward. */
export function layerNormBackward(
  dx: FloatArray,
  dw: FloatArray,
  db: FloatArray,
  dout: FloatArray,
  x: FloatArray,
  w: FloatArray,
  mean: FloatArray,
  rstd: FloatArray,
  N: number,
  C: number,
): void {
  for (let n = 0; n < N; n++) {
    const row = n * C;
    const m = mean[n], s = rstd[n];
    // Two means over the row: of w·dout and of w·dout·norm.
    let dnormMean = 0, dnormNormMean = 0;
    for (let c = 0; c < C; c++) {
      const norm = (x[row + c] - m) * s;
      const dnorm = w[c] * dout[row + c];
      dnormMean += dnorm;
      dnormNormMean += dnorm * norm;
    }
    dnormMean /= C;
    dnormNormMean /= C;
    for (let c = 0; c < C; c++) {
      const norm = (x[row + c] - m) * s;
      const g = dout[row + c];
      db[c] += g;
      dw[c] += norm * g;
      dx[row + c] += (w[c] * g - dnormMean - norm * dnormNormMean) * s;
    }
  }
}

/** RMSNorm: `out = x·rstd·w` per row of `x [N, C]`, `rstd = 1/√(mean(x²) + eps)`, saved. */
export function rmsNorm(
  out: FloatArray,
  rstd: FloatArray,
  x: FloatArray,
  w: FloatArray,
  N: number,
  C: number,
  eps: number,
): void {
  for (let n = 0; n < N; n++) {
    const row = n * C;
    let ms = 0;
    for (let c = 0; c < C; c++) ms += x[row + c] * x[row + c];
    const s = 1 / Math.sqrt(ms / C + eps);
    for (let c = 0; c < C; c++) out[row + c] = x[row + c] * s * w[c];
    rstd[n] = s;
  }
}

/**
 * Accumulates `dx`, `dw` of RMSNorm from `dout`, using the saved `rstd`:
 * `dx = rstd·(w·dout − x·rstd²·mean(w·dout·x))`, `dw += dout·x·rstd`.
 */
export function rmsNormBackward(
  dx: FloatArray,
  dw: FloatArray,
  dout: FloatArray,
  x: FloatArray,
  w: FloatArray,
  rstd: FloatArray,
  N: number,
  C: number,
): void {
  for (let n = 0; n < N; n++) {
    const row = n * C, s = rstd[n];
    let dot = 0; // Σ w·dout·x over the row
    for (let c = 0; c < C; c++) dot += w[c] * dout[row + c] * x[row + c];
    const k = (dot / C) * s * s;
    for (let c = 0; c < C; c++) {
      const g = dout[row + c], xc = x[row + c];
      dw[c] += g * xc * s;
      dx[row + c] += (w[c] * g - xc * k) * s;
    }
  }
}
