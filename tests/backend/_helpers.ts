/**
 * Test helpers shared by the CPU tests and the WebGPU parity tests. Stable API:
 *
 * - `randomTensorData(size, seed, scale = 1)`: deterministic Float32Array, uniform in
 *   [−scale, scale).
 * - `randomInts(size, seed, max, min = 0)`: deterministic Int32Array in [min, max).
 * - `assertClose(actual, expected, tol, what)`: elementwise |a − e| ≤ atol + rtol·|e|
 *   (`tol` a number = both, or `{ atol, rtol }`); the error names `what`, the worst index
 *   and both values. NaN only matches NaN.
 * - `numericGradient(param, loss, h = 1e-5, indices?)`: central finite differences of a
 *   scalar `loss()` with respect to the elements of `param` (perturbed in place).
 * - `dotLoss(x, g)`: Σ x·g in float64 (turns a tensor output into a scalar loss).
 * - `pickIndices(size, max, seed)`: all indices when size ≤ max, else a fixed random sample.
 *
 * @module
 */
import { AssertionError } from "node:assert/strict";

/** A float array or plain number array. */
export type Numbers = ArrayLike<number>;

function rng(seed: number): () => number {
  // mulberry32: small, fast, good enough for test data.
  let a = (seed * 0x9e3779b1 + 0x6d2b79f5) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `size` deterministic values uniform in [−scale, scale). */
export function randomTensorData(size: number, seed: number, scale = 1): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = (next() * 2 - 1) * scale;
  return out;
}

/** `size` deterministic integers in [min, max). */
export function randomInts(size: number, seed: number, max: number, min = 0): Int32Array {
  const next = rng(seed);
  const out = new Int32Array(size);
  for (let i = 0; i < size; i++) out[i] = min + Math.floor(next() * (max - min));
  return out;
}

/** Tolerance: a number (used as both atol and rtol) or both given. */
export type Tolerance = number | { atol: number; rtol: number };

/** Asserts `|actual − expected| ≤ atol + rtol·|expected|` elementwise. */
export function assertClose(actual: Numbers, expected: Numbers, tol: Tolerance, what: string) {
  const { atol, rtol } = typeof tol === "number" ? { atol: tol, rtol: tol } : tol;
  if (actual.length !== expected.length) {
    throw new AssertionError({
      message: `${what}: length ${actual.length} differs from expected ${expected.length}`,
    });
  }
  let worst = -1, worstExcess = 0, failures = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(a) || Number.isNaN(e)) {
      if (Number.isNaN(a) && Number.isNaN(e)) continue;
      failures++;
      if (worst < 0 || worstExcess !== Infinity) worst = i, worstExcess = Infinity;
      continue;
    }
    if (a === e) continue; // also covers equal infinities
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0)) {
      failures++;
      if (!(excess <= worstExcess)) worst = i, worstExcess = excess;
    }
  }
  if (failures > 0) {
    throw new AssertionError({
      message: `${what}: ${failures} of ${actual.length} elements differ beyond atol ${atol}, ` +
        `rtol ${rtol}; worst at [${worst}]: got ${actual[worst]}, expected ${expected[worst]}`,
    });
  }
}

/** All indices below `size`, or `max` of them chosen at random (deterministic) when more. */
export function pickIndices(size: number, max: number, seed = 1): number[] {
  if (size <= max) return Array.from({ length: size }, (_, i) => i);
  const chosen = new Set<number>();
  const next = rng(seed);
  while (chosen.size < max) chosen.add(Math.floor(next() * size));
  return [...chosen].sort((a, b) => a - b);
}

/**
 * Central finite differences `(L(x+h) − L(x−h)) / 2h` for each index (default: all) of
 * `param`, which is perturbed in place and restored. Returns a full-length array (zeros at
 * indices not checked) — compare only the checked indices.
 */
export function numericGradient(
  param: Float64Array | Float32Array,
  loss: () => number,
  h = 1e-5,
  indices?: readonly number[],
): Float64Array {
  const grad = new Float64Array(param.length);
  for (const i of indices ?? pickIndices(param.length, param.length)) {
    const saved = param[i];
    param[i] = saved + h;
    const plus = loss();
    param[i] = saved - h;
    const minus = loss();
    param[i] = saved;
    grad[i] = (plus - minus) / (2 * h);
  }
  return grad;
}

/** `Σ x[i]·g[i]` in float64. */
export function dotLoss(x: Numbers, g: Numbers): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * g[i];
  return s;
}

/** The elements of `x` at `indices` (for comparing sampled gradients). */
export function gather(x: Numbers, indices: readonly number[]): number[] {
  return indices.map((i) => x[i]);
}
