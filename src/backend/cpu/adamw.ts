/**
 * Fused AdamW update of the CPU backend (decoupled weight decay, decay mask, optional
 * global-norm clipping scale, bias correction).
 *
 * @module
 */
import type { AdamWParams } from "../backend.ts";
import type { FloatArray } from "./tensor.ts";

/**
 * One AdamW step over flat arrays:
 * ```
 * g = grad · gradScale · clipScale
 * m = β1·m + (1−β1)·g,   v = β2·v + (1−β2)·g²
 * param −= lr · ( (m / (1−β1^step)) / (√(v / (1−β2^step)) + eps) + weightDecay·mask·param )
 * ```
 * `clipScale` is `min(1, maxNorm / √normSquared)` (1 when no clip is given).
 */
export function adamw(
  params: FloatArray,
  grads: FloatArray,
  m: FloatArray,
  v: FloatArray,
  decayMask: FloatArray | null,
  hp: AdamWParams,
  clipScale: number,
): void {
  const { lr, beta1, beta2, eps, weightDecay, step, gradScale } = hp;
  const gScale = gradScale * clipScale;
  const c1 = 1 - Math.pow(beta1, step), c2 = 1 - Math.pow(beta2, step);
  for (let i = 0; i < params.length; i++) {
    const g = grads[i] * gScale;
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    const decay = decayMask ? weightDecay * decayMask[i] : weightDecay;
    const p = params[i];
    params[i] = p - lr * ((mi / c1) / (Math.sqrt(vi / c2) + eps) + decay * p);
  }
}

/** `min(1, maxNorm / √normSquared)`: 1 when the norm is within bounds (or zero); NaN stays NaN. */
export function clipScale(normSquared: number, maxNorm: number): number {
  return Math.min(1, maxNorm / Math.sqrt(normSquared));
}
