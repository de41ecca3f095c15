/**
 * The learning-rate schedule: linear warmup, then cosine decay to a minimum, then constant.
 *
 * @module
 */

/** Parameters of {@link learningRate}. */
export interface LrSchedule {
  /** Peak learning rate (reached at the end of warmup). */
  lr: number;
  /** Final learning rate (reached at `decaySteps`). */
  minLr: number;
  /** Steps of linear warmup from lr/warmup to lr. */
  warmup: number;
  /** Step at which the cosine reaches minLr (usually the run's total steps). */
  decaySteps: number;
}

/**
 * The learning rate of 0-based `step`: `lr·(step+1)/warmup` during warmup, then a cosine from
 * `lr` to `minLr` until `decaySteps`, then `minLr`.
 *
 * @example
 * ```ts
 * import { learningRate } from "./schedule.ts";
 * const s = { lr: 1e-3, minLr: 1e-4, warmup: 10, decaySteps: 100 };
 * console.log(learningRate(9, s), learningRate(100, s)); // 0.001 0.0001
 * ```
 */
export function learningRate(step: number, s: LrSchedule): number {
  if (step < s.warmup) return (s.lr * (step + 1)) / s.warmup;
  if (step >= s.decaySteps) return s.minLr;
  const span = Math.max(1, s.decaySteps - s.warmup);
  const ratio = (step - s.warmup) / span;
  const coeff = 0.5 * (1 + Math.cos(Math.PI * ratio));
  return s.minLr + coeff * (s.lr - s.minLr);
}
