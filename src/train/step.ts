/**
 * One optimizer step, written once: zero the gradients → for each micro-batch, forward and
 * backward (gradients accumulate) → global gradient norm → AdamW with the clip applied on the
 * device. {@link TrainStep} owns the AdamW moments, the weight-decay mask and the small
 * statistics buffer (loss sum, squared gradient norm) read back after a step. The training
 * loop, `bench train` and `lr-find` all run their steps through it.
 *
 * A step trains the {@link TrainableParameters} it is given — by default the model's whole
 * `ParameterStore`; a model with frozen weights and a smaller trainable set (adapters)
 * passes that set instead, and the same step trains it.
 *
 * @module
 */
import type { Backend, Tensor } from "../backend/backend.ts";
import type { NamedTensor } from "../io/safetensors.ts";
import type { TrainableModel } from "../model/model.ts";
import { BenteviError } from "../errors.ts";
import type { TrainOptions } from "./options.ts";

/**
 * The parameters a step updates: one flat parameter tensor, the gradient the model's
 * backward pass accumulates into, and which elements take weight decay. A
 * `ParameterStore` is one.
 */
export interface TrainableParameters {
  /** f32 `[n]` parameters, updated in place by AdamW. */
  readonly params: Tensor;
  /** f32 `[n]` gradients (zeroed at the start of each step). */
  readonly grads: Tensor;
  /** `[n]` 1 where weight decay applies, 0 elsewhere. */
  decayMask(decayEmbeddings?: boolean): Float32Array;
}

/** The optimizer's hyper-parameters (fields of {@link TrainOptions}). */
export type OptimizerOptions = Pick<
  TrainOptions,
  "gradAccum" | "weightDecay" | "decayEmbeddings" | "beta1" | "beta2" | "eps" | "clip"
>;

/** Options of {@link TrainStep}. */
export interface TrainStepOptions extends OptimizerOptions {
  /** The learning rate of a 0-based step (the schedule). */
  learningRate: (step: number) => number;
}

/** Fills one micro-batch: `B·T` input ids and, at the same positions, their targets. */
export type BatchSource = (inputs: Int32Array, targets: Int32Array) => void;

/** What a step reads back. */
export interface StepStats {
  /** Mean training loss over the step's counted targets (all micro-batches). */
  loss: number;
  /**
   * Targets the loss counted: positions whose target is ≥ 0 (a masked target, −1, as in a
   * prompt token of supervised fine-tuning or a padding position, counts for nothing).
   */
  targets: number;
  /** Global L2 norm of the gradients before clipping. */
  gradNorm: number;
}

// The statistics buffer: the loss sum at 0, the squared gradient norm at STATS_NORM (apart,
// so each sits in its own 256-byte block).
const STATS_NORM = 64;

/**
 * Why a step's statistics cannot be trained on (`"loss is NaN"`, `"gradient norm is
 * Infinity"`), or undefined when both are finite: the NaN/Inf guard of training loops.
 *
 * @example
 * ```ts
 * import { nonFiniteReason } from "./step.ts";
 * console.log(nonFiniteReason({ loss: NaN, gradNorm: 1 })); // "loss is NaN"
 * ```
 */
export function nonFiniteReason(stats: StepStats): string | undefined {
  if (!Number.isFinite(stats.loss)) return `loss is ${stats.loss}`;
  if (!Number.isFinite(stats.gradNorm)) return `gradient norm is ${stats.gradNorm}`;
  return undefined;
}

/**
 * AdamW training steps of one model: gradient accumulation over `gradAccum` micro-batches,
 * global-norm clipping, the learning rate from the schedule. Each call of
 * {@link TrainStep.record} records a whole step and submits it; {@link TrainStep.readStats}
 * reads its loss and gradient norm back without stalling the next step.
 *
 * @example
 * ```ts
 * import { TrainStep } from "./step.ts";
 * import { defaultTrainOptions } from "./options.ts";
 * import { CpuBackend } from "../backend/cpu/mod.ts";
 * import { createModel } from "../model/factory.ts";
 * import { initWeights } from "../model/init.ts";
 * import { ParameterStore } from "../model/params.ts";
 * const config = { arch: "gpt", vocabSize: 16, contextLength: 8, dModel: 16, nLayer: 1, nHead: 2, mlpDim: 32, layerNormEps: 1e-5 } as const;
 * const backend = new CpuBackend();
 * const store = new ParameterStore(backend, config);
 * store.load(initWeights(config, 1));
 * const model = createModel(backend, config, store, 2, 8);
 * const step = new TrainStep(model, { ...defaultTrainOptions(config), learningRate: () => 1e-3 });
 * step.record(0, (x, y) => x.forEach((_, i) => (x[i] = i % 16, y[i] = (i + 1) % 16)));
 * console.log((await step.readStats()).loss > 0); // true
 * step.free();
 * model.free();
 * store.free();
 * ```
 */
export class TrainStep {
  /** The model whose forward and backward passes the step records. */
  readonly model: TrainableModel;
  /** The parameters it updates. */
  readonly trainable: TrainableParameters;
  /** Tokens per optimizer step (`gradAccum · B · T`). */
  readonly tokensPerStep: number;
  readonly #backend: Backend;
  readonly #options: TrainStepOptions;
  readonly #m: Tensor;
  readonly #v: Tensor;
  readonly #decayMask: Tensor;
  readonly #stats: Tensor;
  readonly #lossSum: Tensor;
  readonly #normSquared: Tensor;
  /** Each micro-batch of the step being recorded: inputs then targets. */
  readonly #batches: { inputs: Int32Array; targets: Int32Array }[];
  /** Counted targets of the last recorded step. */
  #counted = 0;

  /** AdamW state for `trainable` (default: the model's whole parameter store). */
  constructor(
    model: TrainableModel,
    options: TrainStepOptions,
    trainable: TrainableParameters = model.store,
  ) {
    const backend = model.backend;
    const n = trainable.params.size;
    const tokens = model.B * model.T;
    this.model = model;
    this.trainable = trainable;
    this.tokensPerStep = tokens * options.gradAccum;
    this.#backend = backend;
    this.#options = options;
    this.#m = backend.zeros([n]);
    this.#v = backend.zeros([n]);
    this.#decayMask = backend.fromArray([n], trainable.decayMask(options.decayEmbeddings));
    this.#stats = backend.zeros([2 * STATS_NORM]);
    this.#lossSum = backend.view(this.#stats, 0, [1]);
    this.#normSquared = backend.view(this.#stats, STATS_NORM, [1]);
    this.#batches = Array.from({ length: options.gradAccum }, () => ({
      inputs: new Int32Array(tokens),
      targets: new Int32Array(tokens),
    }));
  }

  /**
   * Records optimizer step `step` (0-based; AdamW's bias correction uses `step + 1`) on
   * `gradAccum` micro-batches drawn from `nextBatch`, and submits it. Returns the step's
   * learning rate.
   *
   * The loss is the mean over the step's counted targets (those ≥ 0), so a masked target
   * (−1) neither adds to it nor dilutes it: all micro-batches are drawn first, their counted
   * targets summed, and each gradient scaled by one over that sum. A step with no counted
   * target at all trains nothing (its gradients are zero; its loss reads as NaN).
   */
  record(step: number, nextBatch: BatchSource): number {
    const be = this.#backend, model = this.model, o = this.#options;
    const { grads } = this.trainable;
    const lr = o.learningRate(step);
    let counted = 0;
    for (const { inputs, targets } of this.#batches) {
      nextBatch(inputs, targets);
      for (let i = 0; i < targets.length; i++) if (targets[i] >= 0) counted++;
    }
    this.#counted = counted;
    be.fill(grads, 0);
    for (let k = 0; k < o.gradAccum; k++) {
      be.write(model.ids, this.#batches[k].inputs);
      be.write(model.targets, this.#batches[k].targets);
      model.forward(true, 1 / Math.max(counted, 1));
      model.backward();
      be.sum(this.#lossSum, model.losses, k > 0);
    }
    this.#optimize(step, lr);
    return lr;
  }

  /**
   * Records optimizer step `step` whose gradients `accumulate` writes into the trainable
   * gradients (zeroed before it) — for objectives whose per-sequence weights depend on the
   * model's outputs and so read from the device midway (DPO) — then the gradient norm, the
   * clip and AdamW, as {@link TrainStep.record}. `accumulate` returns the step's loss (a mean)
   * and what it counted; {@link TrainStep.readStats} reads them back with the norm.
   */
  async recordWith(
    step: number,
    accumulate: () => Promise<{ loss: number; counted: number }>,
  ): Promise<number> {
    const be = this.#backend, o = this.#options;
    const { grads } = this.trainable;
    const lr = o.learningRate(step);
    be.fill(grads, 0);
    const { loss, counted } = await accumulate();
    this.#counted = counted;
    const stats = new Float32Array(2 * STATS_NORM);
    stats[0] = loss * counted;
    be.write(this.#stats, stats);
    this.#optimize(step, lr);
    return lr;
  }

  /** The gradient norm, the clip and AdamW for optimizer step `step`, then a flush. */
  #optimize(step: number, lr: number): void {
    const be = this.#backend, o = this.#options;
    const { params, grads } = this.trainable;
    be.sumSquares(this.#normSquared, grads);
    be.adamw({
      params,
      grads,
      m: this.#m,
      v: this.#v,
      decayMask: this.#decayMask,
      hp: {
        lr,
        beta1: o.beta1,
        beta2: o.beta2,
        eps: o.eps,
        weightDecay: o.weightDecay,
        step: step + 1,
        gradScale: 1,
      },
      clip: o.clip > 0 ? { normSquared: this.#normSquared, maxNorm: o.clip } : undefined,
    });
    be.flush();
  }

  /** The loss and gradient norm of the last recorded step, once the device has run it. */
  async readStats(): Promise<StepStats> {
    const counted = this.#counted; // taken now: the next step may be recorded before the read
    const vals = await this.#backend.read(this.#stats);
    return {
      loss: counted > 0 ? vals[0] / counted : NaN,
      targets: counted,
      gradNorm: Math.sqrt(vals[STATS_NORM]),
    };
  }

  /** The AdamW moments, as `adamw.m` and `adamw.v` (for checkpoints). */
  async optimizerState(): Promise<Map<string, NamedTensor>> {
    const n = this.#m.size;
    const m = (await this.#backend.read(this.#m)) as Float32Array;
    const v = (await this.#backend.read(this.#v)) as Float32Array;
    return new Map([
      ["adamw.m", { shape: [n], data: m }],
      ["adamw.v", { shape: [n], data: v }],
    ]);
  }

  /**
   * Restores moments saved by {@link TrainStep.optimizerState}; throws a
   * {@link BenteviError} naming `source` when they are missing or sized for another model.
   */
  loadOptimizerState(tensors: Map<string, NamedTensor> | undefined, source: string): void {
    const n = this.#m.size;
    const m = tensors?.get("adamw.m"), v = tensors?.get("adamw.v");
    if (!m || !v || m.data.length !== n || v.data.length !== n) {
      throw new BenteviError(`${source}: optimizer.safetensors is missing or from another model`);
    }
    this.#backend.write(this.#m, m.data);
    this.#backend.write(this.#v, v.data);
  }

  /** Frees the optimizer state (not the model or its parameters). */
  free(): void {
    for (const t of [this.#m, this.#v, this.#decayMask, this.#stats]) this.#backend.free(t);
  }
}
