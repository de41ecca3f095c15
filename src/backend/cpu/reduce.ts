/**
 * Reductions of the CPU backend: sums (accumulated in float64), bias gradients, argmax and
 * top-k for sampling.
 *
 * @module
 */
import type { FloatArray } from "./tensor.ts";

/** `Σ x[i]`, accumulated in float64. */
export function sum(x: FloatArray): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

/** `Σ x[i]²`, accumulated in float64. */
export function sumSquares(x: FloatArray): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return s;
}

/** `out[n] (=|+=) Σ_m x[m, n]` for `x [M, N]`. */
export function sumRows(out: FloatArray, x: FloatArray, M: number, N: number, accumulate: boolean) {
  if (!accumulate) out.fill(0);
  for (let m = 0; m < M; m++) {
    const row = m * N;
    for (let n = 0; n < N; n++) out[n] += x[row + n];
  }
}

/** `out[n] = argmax_v x[n, v]` for `x [N, V]`; ties go to the lowest index. */
export function argmaxRows(out: Int32Array, x: FloatArray, N: number, V: number): void {
  for (let n = 0; n < N; n++) {
    const row = n * V;
    let best = 0;
    let bestValue = -Infinity;
    for (let v = 0; v < V; v++) {
      const value = x[row + v];
      if (value > bestValue) {
        bestValue = value;
        best = v;
      }
    }
    out[n] = best;
  }
}

/**
 * The `k` largest values of `x` and their indices, in descending order (ties: lower index
 * first; NaN counts as smallest). Small `k` keeps a sorted buffer; large `k` sorts indices.
 */
export function topK(values: FloatArray, indices: Int32Array, x: FloatArray, k: number): void {
  const V = x.length;
  const key = (i: number) => (Number.isNaN(x[i]) ? -Infinity : x[i]);
  if (k > 32) {
    const order = new Int32Array(V);
    for (let i = 0; i < V; i++) order[i] = i;
    order.sort((a, b) => key(b) - key(a) || a - b);
    for (let j = 0; j < k; j++) {
      indices[j] = order[j];
      values[j] = x[order[j]];
    }
    return;
  }
  // Insertion into a sorted buffer of the best k seen so far.
  const bestIdx = new Int32Array(k);
  const bestVal = new Float64Array(k).fill(-Infinity);
  let filled = 0;
  for (let i = 0; i < V; i++) {
    const value = key(i);
    if (filled === k && !(value > bestVal[k - 1])) continue;
    let j = filled < k ? filled++ : k - 1;
    while (j > 0 && bestVal[j - 1] < value) {
      bestVal[j] = bestVal[j - 1];
      bestIdx[j] = bestIdx[j - 1];
      j--;
    }
    bestVal[j] = value;
    bestIdx[j] = i;
  }
  for (let j = 0; j < k; j++) {
    indices[j] = bestIdx[j];
    values[j] = x[bestIdx[j]];
  }
}
