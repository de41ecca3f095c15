/**
 * LoRA adapter directories in PEFT's format (`adapter_config.json` +
 * `adapter_model.safetensors`), read for a fixed base checkpoint (`base/`, not mutated) with
 * `loadAdapter` (base identity checked), merged into the base, and the merged model fed two
 * tokens on the CPU — what `adapter merge` and `--adapter` do.
 */
import { join } from "node:path";
import { baseIdentity, loadAdapter, saveAdapter } from "../../../src/finetune/adapter_files.ts";
import { LORA_DEFAULTS, LoraPlan, mergeLora } from "../../../src/finetune/lora.ts";
import { createLanguageModel } from "../../../src/generate/inference.ts";
import { initWeights, loadCheckpoint, saveCheckpoint } from "../../../src/model/mod.ts";
import { Xoshiro128 } from "../../../src/random.ts";
import type { FuzzFormat } from "../harness.ts";
import { mutateJsonBytes } from "../mutate.ts";
import { mutateSafetensors } from "./checkpoint.ts";
import { cpuBackend, readTree, tinyGpt, tinyLlama, tinyRwkv } from "./_fixtures.ts";

export const loraAdapter: FuzzFormat = {
  name: "lora-adapter",
  names: "tree",
  async seeds(work) {
    const seeds = [];
    const cases = [
      [tinyGpt(64), []],
      [tinyLlama(64), ["q_proj", "v_proj", "down_proj"]],
      [tinyRwkv(64), ["key", "output"]],
    ] as const;
    for (const [config, targets] of cases) {
      const dir = join(work, config.arch);
      const weights = initWeights(config, 3);
      await saveCheckpoint(join(dir, "base"), { config, weights });
      const plan = new LoraPlan(config, { ...LORA_DEFAULTS, rank: 2, targets: [...targets] });
      const peft = plan.toPeft(plan.initialWeights(1));
      const rng = new Xoshiro128(5);
      for (const [n, t] of peft) {
        if (n.endsWith("lora_B.weight")) {
          for (let i = 0; i < t.data.length; i++) t.data[i] = rng.normal();
        }
      }
      await saveAdapter(join(dir, "adapter"), {
        plan,
        weights: plan.fromPeft(peft, "seed"),
        base: await baseIdentity(config, weights),
        baseName: "base",
      });
      seeds.push({
        label: config.arch,
        files: await readTree(dir),
        mutable: ["adapter/adapter_config.json", "adapter/adapter_model.safetensors"],
      });
    }
    return seeds;
  },
  mutate(rng, bytes, file) {
    return file.endsWith(".safetensors")
      ? mutateSafetensors(rng, bytes)
      : mutateJsonBytes(rng, bytes);
  },
  async run(root) {
    const base = await loadCheckpoint(join(root, "base"));
    const adapter = await loadAdapter(
      join(root, "adapter"),
      base.config,
      await baseIdentity(base.config, base.weights),
    );
    const merged = mergeLora(adapter.plan, base.weights, adapter.peft);
    const model = createLanguageModel(await cpuBackend(), base.config, merged, root);
    try {
      await model.feed([1, 2]);
    } finally {
      model.dispose();
    }
  },
};
