/**
 * Gradient checks of backward ops, and of whole models' backward passes, against central
 * finite differences in float64.
 *
 * A scenario is built twice: on a float64 {@link CpuBackend} (where the finite differences
 * of the forward are accurate to ~1e-9, so the analytic gradient must match them to
 * rtol/atol 1e-6) and on the normal float32 backend (whose gradients must match the float64
 * ones to float32 accuracy, 2e-4 by default). Every gradient tensor is pre-filled with
 * random values first, so the check also proves that backward ops accumulate (`+=`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import type { Backend, Tensor } from "../../src/backend/backend.ts";
import type { NamedTensor } from "../../src/io/safetensors.ts";
import {
  type GptConfig,
  initWeights,
  type LlamaConfig,
  type ModelConfig,
  type ParameterLayout,
  type Rwkv7Config,
  type RwkvConfig,
  type TrainableModel,
  type Xoshiro128,
} from "../../src/model/mod.ts";
import {
  assertClose,
  gather,
  numericGradient,
  pickIndices,
  randomTensorData,
  type Tolerance,
} from "./_helpers.ts";

/** What a gradient check needs from one op (built on a given backend). */
export interface GradScenario {
  /** The inputs to differentiate with respect to, each with its gradient tensor. */
  wrt: Record<string, { x: Tensor; dx: Tensor }>;
  /** Runs the forward and returns a scalar loss (e.g. `dotLoss(out, g)`). */
  loss: () => number;
  /** Runs the backward of that loss, accumulating into every `dx`. */
  backward: () => void;
}

/** Options of {@link checkGradients}. */
export interface GradCheckOptions {
  /** Finite-difference step (default 1e-5). */
  h?: number;
  /** Analytic vs numeric tolerance in float64 (default 1e-6). */
  tol?: Tolerance;
  /** float32 backend vs float64 backend tolerance (default { atol: 2e-5, rtol: 2e-4 }). */
  f32Tol?: Tolerance;
  /** Elements checked per input, sampled when larger (default 48). */
  maxChecks?: number;
}

/** Runs `build` on float64 and float32 CPU backends and checks all its gradients. */
export function checkGradients(
  what: string,
  build: (cpu: CpuBackend) => GradScenario,
  options: GradCheckOptions = {},
): void {
  const { h = 1e-5, tol = 1e-6, f32Tol = { atol: 2e-5, rtol: 2e-4 }, maxChecks = 48 } = options;
  const analytic64 = analyticGradients(new CpuBackend({ precision: "f64" }), build);
  const analytic32 = analyticGradients(new CpuBackend(), build);
  // Finite differences on a fresh float64 scenario.
  const cpu = new CpuBackend({ precision: "f64" });
  const scenario = build(cpu);
  let seed = 1;
  for (const [name, { x }] of Object.entries(scenario.wrt)) {
    const param = cpu.array(x) as Float64Array;
    const indices = pickIndices(param.length, maxChecks, seed++);
    const numeric = numericGradient(param, scenario.loss, h, indices);
    assertClose(
      gather(analytic64[name], indices),
      gather(numeric, indices),
      tol,
      `${what}: d${name} vs finite differences (float64)`,
    );
    assertClose(analytic32[name], analytic64[name], f32Tol, `${what}: d${name} float32 vs float64`);
  }
}

function analyticGradients(
  cpu: CpuBackend,
  build: (cpu: CpuBackend) => GradScenario,
): Record<string, Float64Array> {
  const scenario = build(cpu);
  const prefill: Record<string, Float64Array> = {};
  let seed = 1000;
  for (const [name, { dx }] of Object.entries(scenario.wrt)) {
    const data = randomTensorData(dx.size, seed++);
    cpu.write(dx, data);
    prefill[name] = Float64Array.from(cpu.array(dx));
  }
  scenario.loss();
  scenario.backward();
  const grads: Record<string, Float64Array> = {};
  for (const [name, { dx }] of Object.entries(scenario.wrt)) {
    const after = cpu.array(dx);
    grads[name] = Float64Array.from(after, (value, i) => value - prefill[name][i]);
  }
  return grads;
}

// --- Whole models ---------------------------------------------------------------------------
// The models' and the LoRA adapters' backward passes (tests/model/gradcheck.test.ts,
// tests/finetune/lora.test.ts) are checked the same way: tiny configurations, perturbed
// weights, a random batch with one ignored target, and central differences of the mean loss
// at sampled parameters, on a float64 CpuBackend.

/** A tiny GPT-2: two layers, two heads. */
export const TINY_GPT: GptConfig = {
  arch: "gpt",
  vocabSize: 11,
  contextLength: 8,
  dModel: 8,
  nLayer: 2,
  nHead: 2,
  mlpDim: 12,
  layerNormEps: 1e-5,
};

/** A tiny RWKV-4: two layers. */
export const TINY_RWKV: RwkvConfig = {
  arch: "rwkv",
  vocabSize: 11,
  contextLength: 8,
  dModel: 8,
  nLayer: 2,
  ffnDim: 12,
  layerNormEps: 1e-5,
};

/** A tiny RWKV-7: two heads of 4, low ranks of different sizes, two layers (the second mixes in v_first). */
export const TINY_RWKV7: Rwkv7Config = {
  arch: "rwkv7",
  vocabSize: 11,
  contextLength: 8,
  dModel: 8,
  nLayer: 2,
  ffnDim: 12,
  headSize: 4,
  decayLora: 3,
  aLora: 2,
  vLora: 3,
  gateLora: 2,
  layerNormEps: 1e-5,
  groupNormEps: 64e-5,
};

/**
 * A tiny Llama with grouped-query attention (4 heads, 2 kv heads) and a tied head; the fused
 * q|k|v view's v starts off the 64-element view boundary.
 */
export const TINY_LLAMA: LlamaConfig = {
  arch: "llama",
  vocabSize: 11,
  contextLength: 8,
  dModel: 8,
  nLayer: 2,
  nHead: 4,
  nKvHead: 2,
  headDim: 2,
  ffnDim: 12,
  rmsNormEps: 1e-5,
  ropeTheta: 10,
  tieEmbeddings: true,
};

/** `config`'s initial weights (seed 1) with noise `0.3·N(0, 1)` from `rng`, so no gradient is trivially zero. */
export function perturbedWeights(config: ModelConfig, rng: Xoshiro128): Map<string, NamedTensor> {
  const weights = initWeights(config, 1);
  for (const t of weights.values()) {
    for (let i = 0; i < t.data.length; i++) t.data[i] += 0.3 * rng.normal();
  }
  return weights;
}

/**
 * Writes random ids and targets (`N` of each, from `rng`) into `model`, target 3 ignored;
 * returns the number of valid targets (`N − 1`).
 */
export function writeRandomBatch(
  backend: Backend,
  model: Pick<TrainableModel, "ids" | "targets">,
  vocabSize: number,
  N: number,
  rng: Xoshiro128,
): number {
  const ids = new Int32Array(N), targets = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    ids[i] = rng.nextUint32() % vocabSize;
    targets[i] = rng.nextUint32() % vocabSize;
  }
  targets[3] = -1; // an ignored position
  backend.write(model.ids, ids);
  backend.write(model.targets, targets);
  return N - 1;
}

/** The mean over `valid` targets of the per-token losses a forward wrote (ignored ones are 0). */
export function meanLoss(backend: CpuBackend, losses: Tensor, valid: number): number {
  const l = backend.array(losses);
  let s = 0;
  for (let i = 0; i < l.length; i++) s += l[i];
  return s / valid;
}

/** Options of {@link checkStoreGradients}. */
export interface StoreGradCheck {
  /** The store's layout (which weight sits where in `params` and `grads`). */
  layout: ParameterLayout;
  /** The parameters, live: the host array of a float64 CpuBackend's tensor. */
  params: Float64Array;
  /** The analytic gradient of {@link loss}. */
  grads: Float64Array;
  /** Runs the forward and returns the loss. */
  loss: () => number;
  /** Draws the elements checked. */
  rng: Xoshiro128;
  /** Elements checked per weight (fewer when it is smaller). */
  perWeight: number;
  /** Whether element `j` of weight `name` is a parameter (default: all are). */
  owns?: (name: string, j: number) => boolean;
}

/**
 * Checks `grads` against central differences (step 1e-5) of `loss` at `perWeight` random
 * elements of every weight: relative error under 1e-4. Returns how many were checked.
 */
export function checkStoreGradients(o: StoreGradCheck): number {
  const { layout, params, grads, rng } = o;
  const eps = 1e-5;
  let checked = 0;
  layout.specs.forEach((spec, w) => {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    for (let k = 0; k < Math.min(size, o.perWeight); k++) {
      let j = rng.nextUint32() % size;
      while (o.owns && !o.owns(spec.name, j)) j = rng.nextUint32() % size;
      const i = layout.offsets[w] + j;
      const orig = params[i];
      params[i] = orig + eps;
      const lp = o.loss();
      params[i] = orig - eps;
      const lm = o.loss();
      params[i] = orig;
      const fd = (lp - lm) / (2 * eps);
      const err = Math.abs(fd - grads[i]) / Math.max(1e-3, Math.abs(fd) + Math.abs(grads[i]));
      assert.ok(err < 1e-4, `${spec.name}[${j}]: analytic ${grads[i]} vs numeric ${fd}`);
      checked++;
    }
  });
  return checked;
}
