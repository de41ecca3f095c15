/**
 * A LoRA fine-tuning run for the training loop: a {@link RunModel} whose model is a
 * {@link LoraModel} over the frozen base (held once, without gradients) and whose checkpoints are
 * adapter directories in PEFT's format (with the run's tokenizer and training state), so a
 * run's checkpoint is an adapter that `chat --adapter` and `adapter merge` read.
 *
 * @module
 */
import type { Backend } from "../backend/backend.ts";
import type { NamedTensor } from "../io/safetensors.ts";
import { writeCheckpointDir } from "../model/checkpoint.ts";
import type { ModelConfig } from "../model/config.ts";
import { ParameterStore } from "../model/params.ts";
import type { TrainOptions } from "../train/options.ts";
import type { RunModel, RunSpec } from "../train/trainer.ts";
import { baseIdentity, loadAdapter, saveAdapter } from "./adapter_files.ts";
import { LoraModel, LoraPlan, type LoraSettings } from "./lora.ts";

/**
 * What a LoRA run reads of its `run.json` ({@link RunSpec}): the model, and the batch shape,
 * the seed (`A`'s initialisation, the dropout masks) and the accumulation (the dropout stream
 * on resume).
 */
export type LoraRunSpec = Pick<RunSpec, "config"> & {
  options: Pick<TrainOptions, "batchSize" | "context" | "seed" | "gradAccum">;
};

/** What a LoRA run needs besides `run.json`. */
export interface LoraRunOptions {
  /** The adapters' settings. */
  settings: LoraSettings;
  /** The base's own configuration (`config.json`: what the adapter files record). */
  baseConfig: ModelConfig;
  /** The base's weights (read once into the frozen store, and for its fingerprint). */
  baseWeights: () => Promise<Map<string, NamedTensor>>;
  /** `base_model_name_or_path` of `adapter_config.json`. */
  baseName: string;
}

/** A LoRA run's model, with the plan of its adapters. */
export interface LoraRun extends RunModel {
  /** The adapters' plan (settings, targets, parameter count). */
  readonly plan: LoraPlan;
}

/**
 * The {@link RunModel} of a LoRA run — the one way to build a LoRA training model: `open`
 * uploads the frozen base once (no gradients) and the adapter (fresh: `A` from the seed, `B`
 * zero; or a checkpoint's), and returns the {@link LoraModel} over both, whose store (what
 * `TrainStep` steps) is the adapter's. A checkpoint (`save`) holds
 * `adapter_model.safetensors` + `adapter_config.json`, beside what `contents` gives.
 *
 * @example
 * ```ts
 * import { loraRunModel } from "./lora_run.ts";
 * import { LORA_DEFAULTS } from "./lora.ts";
 * import { TrainStep } from "../train/step.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * import { createBackend } from "../backend/select.ts";
 * const backend = await createBackend("cpu");
 * const config = presetConfig("gpt-micro", 64);
 * const run = loraRunModel(
 *   { config, options: { batchSize: 1, context: 8, seed: 1, gradAccum: 1 } },
 *   backend,
 *   {
 *     settings: { ...LORA_DEFAULTS, rank: 4 },
 *     baseConfig: config,
 *     baseWeights: () => Promise.resolve(initWeights(config, 1)),
 *     baseName: "gpt-micro",
 *   },
 * );
 * const step = new TrainStep(await run.open(undefined, 0), {
 *   gradAccum: 1, weightDecay: 0, decayEmbeddings: false, beta1: 0.9, beta2: 0.95, eps: 1e-8,
 *   clip: 1, learningRate: () => 1e-3,
 * });
 * step.record(0, (x, y) => { x.fill(1); y.fill(2); });
 * console.log((await step.readStats()).loss > 0, run.plan.parameterCount); // true 32768
 * const dir = await Deno.makeTempDir();
 * await run.save(`${dir}/adapter`, {}); // adapter_config.json, adapter_model.safetensors
 * await Deno.remove(dir, { recursive: true });
 * step.free();
 * run.free();
 * ```
 */
export function loraRunModel(spec: LoraRunSpec, backend: Backend, o: LoraRunOptions): LoraRun {
  const { config, options: t } = spec;
  const plan = new LoraPlan(config, o.settings);
  const base = new ParameterStore(backend, config, { gradients: false });
  const adapter = new ParameterStore(backend, plan.specs);
  let model: LoraModel | undefined;
  let identity: Awaited<ReturnType<typeof baseIdentity>> | undefined;
  return {
    plan,
    async open(resumeFrom, step) {
      const weights = await o.baseWeights();
      base.load(weights);
      identity = await baseIdentity(o.baseConfig, weights);
      if (resumeFrom) {
        // the adapter of this run's checkpoint, checked against the base it was made for
        const loaded = await loadAdapter(resumeFrom, o.baseConfig, identity);
        adapter.load(plan.fromPeft(loaded.peft, resumeFrom));
      } else {
        adapter.load(plan.initialWeights(t.seed));
      }
      model = new LoraModel(backend, plan, base, adapter, t.batchSize, t.context, {
        seed: t.seed,
      });
      // the dropout masks continue their stream (one per training forward)
      model.forwardCount = step * t.gradAccum;
      return model;
    },
    async save(dir, contents) {
      const weights = await adapter.weights();
      await writeCheckpointDir(dir, contents, async (tmp) => {
        await saveAdapter(tmp, { plan, weights, base: identity!, baseName: o.baseName });
      });
    },
    free() {
      model?.free();
      adapter.free();
      base.free();
    },
  };
}
