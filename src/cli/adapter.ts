/**
 * CLI command group: adapter. `adapter merge --base CKPT --adapter DIR --out DIR` writes a
 * plain checkpoint with a LoRA adapter merged into the base's weights.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import { mergeAdapter } from "../finetune/merge.ts";
import { printJson } from "./common.ts";

/** Registers this group's commands on `program`. */
export function registerAdapter(program: Command): void {
  const adapter = program
    .command("adapter")
    .description(
      "LoRA adapters in PEFT's format (adapter_model.safetensors + adapter_config.json)",
    );
  adapter
    .command("merge")
    .description(
      "write a plain checkpoint: the base with the adapter's update added to its weights",
    )
    .requiredOption("--base <dir>", "the base checkpoint the adapter was trained on")
    .requiredOption("--adapter <dir>", "the adapter directory")
    .requiredOption("--out <dir>", "the checkpoint directory to write")
    .option("--json", "print one JSON object")
    .action(async (o) => {
      const result = await mergeAdapter({ base: o.base, adapter: o.adapter, out: o.out });
      if (o.json) printJson(result);
      else {
        console.log(
          `merged ${result.layers} layers (rank ${result.rank}, ${
            result.targets.join(", ")
          }) → ${result.out}`,
        );
      }
    });
}
