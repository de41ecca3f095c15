/**
 * `adapter merge`: a base checkpoint plus a LoRA adapter written as one plain checkpoint
 * whose logits equal the base with the adapter applied (to float32 rounding).
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { refuseOutputOverInputs } from "../io/fs.ts";
import { loadCheckpoint, saveCheckpoint } from "../model/checkpoint.ts";
import { type Progress, silentProgress } from "../progress.ts";
import { baseIdentity, loadAdapter } from "./adapter_files.ts";
import { mergeLora } from "./lora.ts";

/** Options of {@link mergeAdapter}. */
export interface MergeAdapterOptions {
  /** The base checkpoint (any Bentevi loads). */
  base: string;
  /** The adapter directory (PEFT format). */
  adapter: string;
  /** The checkpoint directory to write. */
  out: string;
}

/** What {@link mergeAdapter} did. */
export interface MergeAdapterResult {
  /** The checkpoint written. */
  out: string;
  /** Layers changed. */
  layers: number;
  /** The adapter's rank and target modules. */
  rank: number;
  targets: string[];
}

/**
 * Writes `out`: the base checkpoint with the adapter's `(alpha/r)·B·A` added to each adapted
 * weight (its tokenizer copied). An adapter made for another base is refused.
 *
 * @example
 * ```ts
 * import { mergeAdapter } from "./merge.ts";
 * await mergeAdapter({ base: "/no/such", adapter: "/no/such", out: "/tmp/x" })
 *   .catch((e) => console.log(e.message));
 * ```
 */
export async function mergeAdapter(
  o: MergeAdapterOptions,
  progress: Progress = silentProgress,
): Promise<MergeAdapterResult> {
  await refuseOutputOverInputs([o.out], [o.base, o.adapter], "--out");
  const ckpt = await loadCheckpoint(o.base);
  const identity = await baseIdentity(ckpt.config, ckpt.weights);
  const adapter = await loadAdapter(o.adapter, ckpt.config, identity);
  progress.start(
    `merging ${adapter.plan.layers.length} layers (rank ${adapter.plan.settings.rank})`,
  );
  const weights = mergeLora(adapter.plan, ckpt.weights, adapter.peft);
  for (const t of adapter.plan.layers) {
    if (!weights.get(t.weight)!.data.every(Number.isFinite)) {
      throw new BenteviError(`${o.adapter}: merging gives non-finite values in ${t.weight}`);
    }
  }
  await saveCheckpoint(o.out, {
    config: ckpt.config,
    weights,
    tokenizer: ckpt.tokenizerPath,
    metadata: { bentevi_merged_adapter: o.adapter },
  });
  progress.end(`wrote ${o.out}`);
  return {
    out: o.out,
    layers: adapter.plan.layers.length,
    rank: adapter.plan.settings.rank,
    targets: adapter.plan.settings.targets,
  };
}
