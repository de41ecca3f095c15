/**
 * Validation: mean loss, perplexity and next-token accuracy over fixed, consecutive windows
 * of a held-out token sequence (the same windows at every evaluation, so curves compare).
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import type { TrainableModel } from "../model/model.ts";

/** Defaults of a checkpoint evaluation (`bentevi eval`, `evaluateCheckpoint`). */
export const EVAL_DEFAULTS = { batchSize: 8, batches: 50 } as const;

/** Result of {@link evaluate}. */
export interface EvalResult {
  /** Mean cross-entropy (nats per token). */
  loss: number;
  /** exp(loss). */
  perplexity: number;
  /** Share of positions where the arg-max prediction is the next token. */
  accuracy: number;
  /** Number of tokens evaluated. */
  tokens: number;
  /**
   * Preference data (DPO): the mean over held-out pairs of the log-probability margin
   * `log π(chosen) − log π(rejected)`.
   */
  margin?: number;
}

/**
 * Evaluates `model` on up to `maxBatches` batches of consecutive `[B, T]` windows of `tokens`.
 *
 * @example
 * ```ts
 * import { evaluate } from "./evaluate.ts";
 * import { createModel, initWeights, ParameterStore, presetConfig } from "../model/mod.ts";
 * import { CpuBackend } from "../backend/cpu/mod.ts";
 * const backend = new CpuBackend();
 * const config = presetConfig("gpt-micro", 16);
 * const store = new ParameterStore(backend, config);
 * store.load(initWeights(config, 1));
 * const model = createModel(backend, config, store, 1, 8);
 * const tokens = Uint16Array.from({ length: 100 }, (_, i) => i % 16);
 * console.log((await evaluate(model, tokens, 2)).tokens); // 16
 * ```
 */
export async function evaluate(
  model: TrainableModel,
  tokens: ArrayLike<number> & { length: number },
  maxBatches: number,
): Promise<EvalResult> {
  const { B, T } = model;
  const windows = Math.floor((tokens.length - 1) / T);
  if (windows < 1) {
    throw new BenteviError(
      `the validation split has ${tokens.length} tokens, too few for context ${T}; use more data or a smaller --context`,
    );
  }
  const batches = Math.max(1, Math.min(maxBatches, Math.floor(windows / B)));
  return await evaluateBatches(model, batches, (b, inputs, targets) => {
    for (let r = 0; r < B; r++) {
      const w = b * B + r;
      for (let t = 0; t < T; t++) {
        if (w < windows) {
          inputs[r * T + t] = tokens[w * T + t];
          targets[r * T + t] = tokens[w * T + t + 1];
        } else {
          inputs[r * T + t] = 0;
          targets[r * T + t] = -1; // fewer windows than rows: ignored positions
        }
      }
    }
  });
}

/**
 * Evaluates `model` on `batches` batches that `fill` writes (`B·T` inputs and targets,
 * row-major): the mean loss, perplexity and accuracy over the positions whose target is ≥ 0
 * (a target −1 — padding, a prompt token of a fine-tuning example — is left out).
 *
 * @example
 * ```ts
 * import { evaluateBatches } from "./evaluate.ts";
 * import { createModel, initWeights, ParameterStore, presetConfig } from "../model/mod.ts";
 * import { CpuBackend } from "../backend/cpu/mod.ts";
 * const backend = new CpuBackend();
 * const config = presetConfig("gpt-micro", 16);
 * const store = new ParameterStore(backend, config);
 * store.load(initWeights(config, 1));
 * const model = createModel(backend, config, store, 1, 8);
 * const r = await evaluateBatches(model, 1, (_, x, y) => {
 *   x.fill(3);
 *   y.fill(-1);
 *   y[7] = 4; // one counted target
 * });
 * console.log(r.tokens); // 1
 * ```
 */
export async function evaluateBatches(
  model: TrainableModel,
  batches: number,
  fill: (batch: number, inputs: Int32Array, targets: Int32Array) => void,
): Promise<EvalResult> {
  const { B, T, backend } = model;
  const N = B * T;
  const pred = backend.zeros([N], "i32");
  const inputs = new Int32Array(N);
  const targets = new Int32Array(N);
  let lossSum = 0, correct = 0, count = 0;
  try {
    for (let b = 0; b < batches; b++) {
      fill(b, inputs, targets);
      backend.write(model.ids, inputs);
      backend.write(model.targets, targets);
      model.forward(false);
      backend.argmaxRows(pred, model.logits);
      const losses = await backend.read(model.losses);
      const am = await backend.read(pred);
      for (let i = 0; i < N; i++) {
        if (targets[i] < 0) continue;
        lossSum += losses[i];
        if (am[i] === targets[i]) correct++;
        count++;
      }
    }
  } finally {
    backend.free(pred);
  }
  if (count === 0) throw new BenteviError("validation: no position has a target to score");
  const loss = lossSum / count;
  return { loss, perplexity: Math.exp(loss), accuracy: correct / count, tokens: count };
}
