// Test adapters: random LoRA adapters (B not zero, so they change the model), in memory or
// written beside a checkpoint in PEFT's format.
import { baseIdentity, type LoadedAdapter, saveAdapter } from "../../src/finetune/adapter_files.ts";
import { LORA_DEFAULTS, LoraPlan, type LoraSettings } from "../../src/finetune/lora.ts";
import { loadCheckpoint, type ModelConfig, Xoshiro128 } from "../../src/model/mod.ts";

/** A rank-2 adapter for `config` with random A and B (B scaled by `scale`). */
export function randomAdapter(
  config: ModelConfig,
  seed: number,
  s: Partial<LoraSettings> = {},
  scale = 0.1,
): LoadedAdapter {
  const plan = new LoraPlan(config, { ...LORA_DEFAULTS, rank: 2, ...s });
  const peft = plan.toPeft(plan.initialWeights(seed));
  const rng = new Xoshiro128(seed);
  for (const [n, t] of peft) {
    if (n.endsWith("lora_B.weight")) {
      for (let i = 0; i < t.data.length; i++) t.data[i] = scale * rng.normal();
    }
  }
  return { dir: `a${seed}`, plan, peft, baseName: "" };
}

/** Writes a {@link randomAdapter} for the checkpoint in `checkpoint` to `dir`. */
export async function writeRandomAdapter(
  dir: string,
  checkpoint: string,
  seed: number,
  scale = 0.1,
): Promise<void> {
  const { config, weights } = await loadCheckpoint(checkpoint);
  const a = randomAdapter(config, seed, {}, scale);
  await saveAdapter(dir, {
    plan: a.plan,
    weights: a.plan.fromPeft(a.peft, "x"),
    base: await baseIdentity(config, weights),
    baseName: checkpoint,
  });
}
