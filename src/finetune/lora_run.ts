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
import type { RunModel, RunSpec } from "../train/trainer.ts";
import { baseIdentity, loadAdapter, saveAdapter } from "./adapter_files.ts";
import { LoraModel, LoraPlan, type LoraSettings } from "./lora.ts";

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

/**
 * The {@link RunModel} of a LoRA run: the optimizer steps the adapter's parameters only; a
 * checkpoint holds `adapter_model.safetensors` + `adapter_config.json`.
 *
 * @example
 * ```ts
 * import { loraRunModel } from "./lora_run.ts";
 * console.log(typeof loraRunModel); // "function"
 * ```
 */
export function loraRunModel(spec: RunSpec, backend: Backend, o: LoraRunOptions): RunModel {
  const { config, options: t } = spec;
  const plan = new LoraPlan(config, o.settings);
  const base = new ParameterStore(backend, config, { gradients: false });
  const adapter = new ParameterStore(backend, plan.specs);
  let model: LoraModel | undefined;
  let identity: Awaited<ReturnType<typeof baseIdentity>> | undefined;
  return {
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
