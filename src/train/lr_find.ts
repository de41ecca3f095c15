/**
 * The learning-rate range test (the seeds' FindLr, after Leslie Smith and fastai): train from
 * fresh weights while the learning rate grows exponentially, record the smoothed loss, stop
 * when it diverges, and suggest the rate where the loss falls fastest.
 *
 * @module
 */
import type { Backend } from "../backend/backend.ts";
import { BatchLoader } from "../data/dataset/loader.ts";
import type { ModelConfig } from "../model/config.ts";
import { createModel } from "../model/factory.ts";
import { initWeights } from "../model/init.ts";
import { ParameterStore } from "../model/params.ts";
import { type Progress, silentProgress } from "../progress.ts";
import { defaultTrainOptions, trainDefault } from "./options.ts";
import { TrainStep } from "./step.ts";

/** Defaults of the range test's own options (the seed and weight decay are training's). */
export const LR_FIND_DEFAULTS = { steps: 100, startLr: 1e-6, endLr: 1 } as const;

/** Options of {@link lrRangeTest}. */
export interface LrFindOptions {
  /** Sequences per batch. */
  batchSize: number;
  /** Tokens per sequence. */
  context: number;
  /** First learning rate (default 1e-6). */
  startLr?: number;
  /** Last learning rate (default 1). */
  endLr?: number;
  /** Number of steps (default 100). */
  steps?: number;
  /** Seed (default 1337). */
  seed?: number;
  /** Weight decay (default 0.1). */
  weightDecay?: number;
  /** Progress sink. */
  progress?: Progress;
}

/** One point of the range test. */
export interface LrFindPoint {
  /** Learning rate of the step. */
  lr: number;
  /** Raw loss. */
  loss: number;
  /** Exponentially smoothed loss (bias-corrected). */
  smoothed: number;
}

/** Result of {@link lrRangeTest}. */
export interface LrFindResult {
  /** The curve. */
  points: LrFindPoint[];
  /** Suggested learning rate: steepest descent of the smoothed loss. */
  suggested: number;
  /** The learning rate with the lowest smoothed loss. */
  minLossLr: number;
  /** Whether the loss diverged before the last step. */
  diverged: boolean;
}

/**
 * Runs the range test on `tokens` (weights freshly initialised; nothing saved).
 *
 * @example
 * ```ts
 * import { lrRangeTest } from "./lr_find.ts";
 * import { CpuBackend } from "../backend/cpu/mod.ts";
 * const config = { arch: "gpt", vocabSize: 16, contextLength: 8, dModel: 16, nLayer: 1, nHead: 2, mlpDim: 32, layerNormEps: 1e-5 } as const;
 * const tokens = Uint16Array.from({ length: 500 }, (_, i) => i % 16);
 * const r = await lrRangeTest(new CpuBackend(), config, { tokens }, { batchSize: 2, context: 8, steps: 20 });
 * console.log(r.suggested > 0);
 * ```
 */
export async function lrRangeTest(
  backend: Backend,
  config: ModelConfig,
  data: { tokens: ArrayLike<number> & { length: number } },
  options: LrFindOptions,
): Promise<LrFindResult> {
  const steps = options.steps ?? LR_FIND_DEFAULTS.steps;
  const start = options.startLr ?? LR_FIND_DEFAULTS.startLr;
  const end = options.endLr ?? LR_FIND_DEFAULTS.endLr;
  const progress = options.progress ?? silentProgress;
  const seed = options.seed ?? trainDefault("seed");
  const store = new ParameterStore(backend, config);
  store.load(initWeights(config, seed));
  const model = createModel(backend, config, store, options.batchSize, options.context);
  const rate = (i: number) => start * Math.pow(end / start, i / Math.max(1, steps - 1));
  const step = new TrainStep(model, {
    ...defaultTrainOptions(config),
    weightDecay: options.weightDecay ?? trainDefault("weightDecay"),
    clip: 0,
    learningRate: rate,
  });
  const loader = new BatchLoader(data, {
    batchSize: options.batchSize,
    context: options.context,
    seed,
  });
  const nextBatch = (inputs: Int32Array, targets: Int32Array) => loader.next(inputs, targets);
  const points: LrFindPoint[] = [];
  let avg = 0;
  let best = Infinity;
  let diverged = false;
  progress.start("lr-find", steps, "steps");
  try {
    for (let i = 0; i < steps; i++) {
      const lr = step.record(i, nextBatch);
      const { loss } = await step.readStats();
      avg = 0.9 * avg + 0.1 * loss;
      const smoothed = avg / (1 - Math.pow(0.9, i + 1));
      points.push({ lr, loss, smoothed });
      progress.update(i + 1, `lr ${lr.toExponential(2)} loss ${loss.toFixed(4)}`);
      if (!Number.isFinite(loss) || (i > 5 && smoothed > 4 * best)) {
        diverged = true;
        break;
      }
      best = Math.min(best, smoothed);
    }
  } finally {
    progress.end(diverged ? "stopped: the loss diverged" : "done");
    step.free();
    model.free();
    store.free();
  }
  return { points, diverged, ...suggest(points) };
}

/** The suggestion rule: steepest fall of the smoothed loss per decade of learning rate. */
export function suggest(points: LrFindPoint[]): { suggested: number; minLossLr: number } {
  const finite = points.filter((p) => Number.isFinite(p.smoothed));
  if (!finite.length) return { suggested: NaN, minLossLr: NaN };
  let minI = 0;
  finite.forEach((p, i) => {
    if (p.smoothed < finite[minI].smoothed) minI = i;
  });
  // Skip the first points: the smoothing needs a few steps to settle.
  const from = Math.min(Math.floor(finite.length / 10), Math.max(0, minI - 1));
  let steepI = minI;
  let steepest = 0;
  for (let i = Math.max(from, 1); i <= minI; i++) {
    const slope = (finite[i].smoothed - finite[i - 1].smoothed) /
      (Math.log10(finite[i].lr) - Math.log10(finite[i - 1].lr));
    if (slope < steepest) {
      steepest = slope;
      steepI = i;
    }
  }
  return { suggested: finite[steepI].lr, minLossLr: finite[minI].lr };
}

/**
 * A text rendering of the curve: one row per sampled point with a bar for the loss.
 *
 * @example
 * ```ts
 * import { renderLrCurve } from "./lr_find.ts";
 * console.log(renderLrCurve([{ lr: 1e-4, loss: 5, smoothed: 5 }, { lr: 1e-3, loss: 4, smoothed: 4 }]));
 * ```
 */
export function renderLrCurve(points: LrFindPoint[], rows = 24, width = 40): string {
  const finite = points.filter((p) => Number.isFinite(p.smoothed));
  if (!finite.length) return "(no finite loss)";
  const lo = Math.min(...finite.map((p) => p.smoothed));
  const hi = Math.max(...finite.map((p) => p.smoothed));
  const every = Math.max(1, Math.ceil(finite.length / rows));
  const lines = ["        lr    loss (smoothed)"];
  finite.forEach((p, i) => {
    if (i % every !== 0 && i !== finite.length - 1) return;
    const n = hi > lo ? Math.round(((p.smoothed - lo) / (hi - lo)) * width) : 0;
    lines.push(`${p.lr.toExponential(2).padStart(10)}  ${p.smoothed.toFixed(4)} ${"█".repeat(n)}`);
  });
  return lines.join("\n");
}
