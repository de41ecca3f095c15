/**
 * Elementwise kernels of the CPU backend: add, scale, multiply and their backward.
 * Kernels take raw arrays; {@link CpuBackend} checks shapes before calling them.
 *
 * @module
 */
import type { FloatArray } from "./tensor.ts";

/** `out[i] = a[i] + b[i]`. */
export function add(out: FloatArray, a: FloatArray, b: FloatArray): void {
  for (let i = 0; i < out.length; i++) out[i] = a[i] + b[i];
}

/** `dst[i] += alpha · src[i]`. */
export function addInto(dst: FloatArray, src: FloatArray, alpha: number): void {
  if (alpha === 1) {
    for (let i = 0; i < dst.length; i++) dst[i] += src[i];
  } else {
    for (let i = 0; i < dst.length; i++) dst[i] += alpha * src[i];
  }
}

/** `t[i] *= s`. */
export function scale(t: FloatArray, s: number): void {
  for (let i = 0; i < t.length; i++) t[i] *= s;
}

/** `out[i] = a[i] · b[i]`. */
export function mul(out: FloatArray, a: FloatArray, b: FloatArray): void {
  for (let i = 0; i < out.length; i++) out[i] = a[i] * b[i];
}

/** Backward of {@link mul}: `da += dout·b`, `db += dout·a` (either may be null). */
export function mulBackward(
  da: FloatArray | null,
  db: FloatArray | null,
  dout: FloatArray,
  a: FloatArray,
  b: FloatArray,
): void {
  if (da) { for (let i = 0; i < dout.length; i++) da[i] += dout[i] * b[i]; }
  if (db) { for (let i = 0; i < dout.length; i++) db[i] += dout[i] * a[i]; }
}
