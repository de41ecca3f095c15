/**
 * Rotary position embeddings of the CPU backend, as Hugging Face's Llama applies them
 * (`rotate_half`: head dimension `i` pairs with `i + headDim/2`, not Meta's interleaved
 * pairs), forward and backward.
 *
 * @module
 */
import type { FloatArray } from "./tensor.ts";

/** Geometry of a rope call: rows of width `W`, the first `rotatedHeads` heads rotated. */
export interface RopeShape {
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
  /** Row width of `x`. */
  W: number;
  /** Head size (even). */
  headDim: number;
  /** Heads rotated at the start of each row. */
  rotatedHeads: number;
}

/**
 * `out = R(p)·x` on the rotated heads (`p = posOffset + t`), `out = x` on the other columns.
 * `out` may be `x`: each pair is read before it is written.
 */
export function rope(
  out: FloatArray,
  x: FloatArray,
  cos: FloatArray,
  sin: FloatArray,
  { B, T, W, headDim, rotatedHeads }: RopeShape,
  posOffset: number,
): void {
  const half = headDim / 2, rotated = rotatedHeads * headDim;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = (b * T + t) * W, table = (posOffset + t) * half;
      for (let h = 0; h < rotated; h += headDim) {
        for (let i = 0; i < half; i++) {
          const a = row + h + i, c = cos[table + i], s = sin[table + i];
          const x1 = x[a], x2 = x[a + half];
          out[a] = x1 * c - x2 * s;
          out[a + half] = x2 * c + x1 * s;
        }
      }
      if (out !== x) { for (let j = rotated; j < W; j++) out[row + j] = x[row + j]; }
    }
  }
}

/** `dx += R(t)ᵀ·dout` on the rotated heads (positions 0…T−1), `dx += dout` elsewhere. */
export function ropeBackward(
  dx: FloatArray,
  dout: FloatArray,
  cos: FloatArray,
  sin: FloatArray,
  { B, T, W, headDim, rotatedHeads }: RopeShape,
): void {
  const half = headDim / 2, rotated = rotatedHeads * headDim;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const row = (b * T + t) * W, table = t * half;
      for (let h = 0; h < rotated; h += headDim) {
        for (let i = 0; i < half; i++) {
          const a = row + h + i, c = cos[table + i], s = sin[table + i];
          const g1 = dout[a], g2 = dout[a + half];
          dx[a] += g1 * c + g2 * s;
          dx[a + half] += g2 * c - g1 * s;
        }
      }
      for (let j = rotated; j < W; j++) dx[row + j] += dout[row + j];
    }
  }
}
