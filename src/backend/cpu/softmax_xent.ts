/**
 * Fused softmax + cross-entropy over the vocabulary (forward loss and dlogits together).
 *
 * @module
 */
import type { FloatArray } from "./tensor.ts";

/**
 * `losses[n] = logsumexp(logits[n]) − logits[n, target]`; when `dlogits` is given it is
 * overwritten with `(softmax − onehot)·gradScale`. A negative target gives loss 0 and a zero
 * gradient row; a target ≥ V throws.
 */
export function softmaxCrossEntropy(
  losses: FloatArray,
  dlogits: FloatArray | null,
  logits: FloatArray,
  targets: Int32Array,
  N: number,
  V: number,
  gradScale: number,
): void {
  for (let n = 0; n < N; n++) {
    const row = n * V, target = targets[n];
    if (target >= V) {
      throw new RangeError(
        `softmaxCrossEntropy: target ${target} at row ${n} is outside the vocabulary [0, ${V})`,
      );
    }
    if (target < 0) {
      losses[n] = 0;
      if (dlogits) dlogits.fill(0, row, row + V);
      continue;
    }
    const targetLogit = logits[row + target];
    let max = -Infinity;
    for (let v = 0; v < V; v++) if (logits[row + v] > max) max = logits[row + v];
    let sum = 0;
    if (dlogits) {
      // Keep each exp in dlogits, then normalise: one exp per logit.
      for (let v = 0; v < V; v++) sum += dlogits[row + v] = Math.exp(logits[row + v] - max);
      const scale = gradScale / sum;
      for (let v = 0; v < V; v++) dlogits[row + v] *= scale;
      // p − 1 at the target, computed from the log-probability so it stays exact in float32.
      dlogits[row + target] = (Math.exp(targetLogit - max - Math.log(sum)) - 1) * gradScale;
    } else {
      for (let v = 0; v < V; v++) sum += Math.exp(logits[row + v] - max);
    }
    losses[n] = max + Math.log(sum) - targetLogit;
  }
}
