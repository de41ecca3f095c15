/**
 * The training-speed benchmark of the "Speed" section: tokens per second of whole
 * AdamW steps of the tiny GPT (vocab 4096, context 128, d 128, 4 layers, 4 heads, MLP 4×,
 * batch 8, fp32), each step recorded and submitted at once with the loss read back only at
 * the end; plus the number of backend ops per step and, optionally, a per-op time profile.
 *
 * @module
 */
import type { Backend } from "../backend/backend.ts";
import { type GptConfig, type ModelConfig, presetConfig } from "../model/config.ts";
import { createModel } from "../model/factory.ts";
import { initWeights } from "../model/init.ts";
import { ParameterStore } from "../model/params.ts";
import { Lcg32 } from "../random.ts";
import { defaultTrainOptions } from "./options.ts";
import { TrainStep } from "./step.ts";

/** The tiny GPT of the speed comparison (same as the `gpt-micro` preset with vocab 4096). */
export const BENCH_GPT: GptConfig = presetConfig("gpt-micro", 4096) as GptConfig;

/** Result of {@link benchTrainSteps}. */
export interface TrainBenchResult {
  /** Backend description. */
  device: string;
  /** Training tokens per second over the timed steps. */
  tokensPerSecond: number;
  /** Milliseconds per optimizer step. */
  msPerStep: number;
  /** Backend op calls (≈ kernel dispatches) per step. */
  opsPerStep: number;
  /** Timed steps. */
  steps: number;
  /** Loss after the last step. */
  loss: number;
  /** Per-op milliseconds per step (when profiled), largest first. */
  profile?: { op: string; calls: number; ms: number }[];
}

/**
 * Times `steps` AdamW steps (after `warmup` untimed ones) of `config` at batch `[B, T]` on
 * random tokens.
 *
 * @example
 * ```ts
 * import { benchTrainSteps } from "./bench.ts";
 * import { CpuBackend } from "../backend/cpu/mod.ts";
 * const config = { arch: "gpt", vocabSize: 64, contextLength: 16, dModel: 32, nLayer: 1, nHead: 2, mlpDim: 64, layerNormEps: 1e-5 } as const;
 * const r = await benchTrainSteps(new CpuBackend(), { config, B: 2, T: 16, steps: 2, warmup: 1 });
 * console.log(r.opsPerStep > 0);
 * ```
 */
export async function benchTrainSteps(
  backend: Backend,
  opts: {
    config?: ModelConfig;
    B?: number;
    T?: number;
    steps?: number;
    warmup?: number;
    profile?: boolean;
  } = {},
): Promise<TrainBenchResult> {
  const config = opts.config ?? BENCH_GPT;
  const B = opts.B ?? 8, T = opts.T ?? config.contextLength, N = B * T;
  const steps = opts.steps ?? 3, warmup = opts.warmup ?? 1;
  // Count op calls through a proxy (every Backend method except memory management).
  const notOps = new Set([
    "zeros",
    "fromArray",
    "view",
    "read",
    "free",
    "flush",
    "sync",
    "destroy",
  ]);
  let calls = 0;
  const log: { op: string; args: unknown[] }[] = [];
  let capture = false;
  const counted = new Proxy(backend, {
    get(target, prop) {
      const value = Reflect.get(target, prop);
      if (typeof value !== "function") return value;
      const name = String(prop);
      if (notOps.has(name)) return value.bind(target);
      return (...args: unknown[]) => {
        calls++;
        if (capture && name !== "write") log.push({ op: name, args });
        return value.apply(target, args);
      };
    },
  });
  const runner = createStepRunner(counted, config, B, T);
  const step = (i: number) => runner.step(i);
  try {
    for (let i = 0; i < warmup; i++) step(i);
    await runner.loss();
    calls = 0;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) {
      capture = opts.profile === true && i === 0;
      step(warmup + i);
    }
    capture = false;
    const loss = await runner.loss();
    const ms = (performance.now() - t0) / steps;
    const result: TrainBenchResult = {
      device: backend.description,
      tokensPerSecond: (N * steps) / (ms * steps / 1000),
      msPerStep: ms,
      opsPerStep: calls / steps - 2, // minus the two token writes
      steps,
      loss,
    };
    if (opts.profile) result.profile = await profileOps(backend, log);
    return result;
  } finally {
    runner.free();
  }
}

/** One AdamW training step on random tokens, for benchmarks. */
export interface StepRunner {
  /** Records and submits step `i` (0-based) without reading anything back. */
  step(i: number): void;
  /** Waits for the submitted work and returns the last step's mean loss. */
  loss(): Promise<number>;
  /** Frees everything. */
  free(): void;
}

/**
 * Builds a model of `config` at batch `[B, T]` with AdamW state, ready to run steps on
 * random tokens (deterministic).
 *
 * @example
 * ```ts
 * import { createStepRunner } from "./bench.ts";
 * import { CpuBackend } from "../backend/cpu/mod.ts";
 * const config = { arch: "rwkv", vocabSize: 32, contextLength: 8, dModel: 16, nLayer: 1, ffnDim: 32, layerNormEps: 1e-5 } as const;
 * const r = createStepRunner(new CpuBackend(), config, 2, 8);
 * r.step(0);
 * console.log(await r.loss() > 0); // true
 * r.free();
 * ```
 */
export function createStepRunner(
  backend: Backend,
  config: ModelConfig,
  B: number,
  T: number,
): StepRunner {
  const store = new ParameterStore(backend, config);
  store.load(initWeights(config, 1));
  const model = createModel(backend, config, store, B, T);
  const lr = 1e-3;
  const step = new TrainStep(model, { ...defaultTrainOptions(config), learningRate: () => lr });
  // Random tokens: one LCG draw gives an input id (low bits) and a target id (bits 8 and up).
  const rng = new Lcg32(12345, 1103515245, 12345);
  const randomTokens = (ids: Int32Array, targets: Int32Array) => {
    for (let j = 0; j < ids.length; j++) {
      const r = rng.nextUint32();
      ids[j] = r % config.vocabSize;
      targets[j] = (r >>> 8) % config.vocabSize;
    }
  };
  return {
    step: (i: number) => void step.record(i, randomTokens),
    loss: async () => (await step.readStats()).loss,
    free() {
      step.free();
      model.free();
      store.free();
    },
  };
}

/**
 * Replays each captured op 3 times on its own (flush + sync) to attribute time per op, minus
 * the cost of an empty submit + wait.
 */
async function profileOps(
  backend: Backend,
  log: { op: string; args: unknown[] }[],
): Promise<{ op: string; calls: number; ms: number }[]> {
  const byOp = new Map<string, { calls: number; ms: number }>();
  const reps = 3;
  await backend.sync();
  // The cost of a submit + wait with no work, subtracted from every op below.
  const empty: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    backend.flush();
    await backend.sync();
    empty.push(performance.now() - t0);
  }
  const overhead = empty.sort((a, b) => a - b)[2] / reps;
  for (const { op, args } of log) {
    const fn = (backend as unknown as Record<string, (...a: unknown[]) => void>)[op];
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) fn.apply(backend, args);
    backend.flush();
    await backend.sync();
    const ms = Math.max(0, (performance.now() - t0) / reps - overhead);
    // Group matmuls by shape so the expensive ones stand out.
    let key = op;
    if (op === "matmul") {
      const [out, a, , o] = args as [
        { shape: number[] },
        { shape: number[] },
        unknown,
        { transA?: boolean; transB?: boolean } | undefined,
      ];
      key = `matmul ${out.shape.join("x")}${o?.transA ? " tA" : ""}${o?.transB ? " tB" : ""} K=${
        o?.transA ? a.shape[0] : a.shape[a.shape.length - 1]
      }`;
    }
    const e = byOp.get(key) ?? { calls: 0, ms: 0 };
    e.calls++;
    e.ms += ms;
    byOp.set(key, e);
  }
  return [...byOp.entries()].map(([op, e]) => ({ op, ...e })).sort((a, b) => b.ms - a.ms);
}
