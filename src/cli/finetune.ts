/**
 * CLI command: `finetune`. Parses flags, calls src/finetune, prints — nothing else.
 *
 * @module
 */
import type { Command } from "@commander-js/extra-typings";
import {
  DPO_BETA,
  FINETUNE_DEFAULTS,
  LORA_DEFAULTS,
  type LoraSettings,
  startFinetune,
} from "../finetune/mod.ts";
import { consoleProgress } from "../progress.ts";
import { deviceOption, floatOption, intOption } from "./common.ts";
import { addTrainOptionFlags, printSummary, trainOptionsFrom } from "./train.ts";

const log = (line: string) => console.error(line);

/** The LoRA settings given on the command line (undefined when none is). */
function loraFrom(o: {
  loraRank?: number;
  loraAlpha?: number;
  loraDropout?: number;
  loraTargets?: string;
}): Partial<LoraSettings> | undefined {
  const given: Partial<LoraSettings> = {
    ...(o.loraRank !== undefined ? { rank: o.loraRank } : {}),
    ...(o.loraAlpha !== undefined ? { alpha: o.loraAlpha } : {}),
    ...(o.loraDropout !== undefined ? { dropout: o.loraDropout } : {}),
    ...(o.loraTargets !== undefined
      ? { targets: o.loraTargets.split(",").map((t) => t.trim()).filter((t) => t) }
      : {}),
  };
  return Object.keys(given).length ? given : undefined;
}

/** Registers `finetune` on `program`. */
export function registerFinetune(program: Command): void {
  const cmd = program
    .command("finetune")
    .description(
      "fine-tune a checkpoint on chat records (loss on the answers) or documents",
    )
    .requiredOption(
      "--base <dir>",
      "the model to start from: a Bentevi checkpoint or run directory, a Hugging Face GPT-2 or Llama directory, a converted RWKV-4",
    )
    .option(
      "--data <paths...>",
      'JSONL of {"messages": [...]} or {"text": ...} records (dialogos.jsonl form too), .txt/.md documents, or folders of them',
    )
    .requiredOption("--out <dir>", "run directory (checkpoints, metrics.jsonl, loss.svg)")
    .option("--full", "fine-tune all weights (default: LoRA adapters over the frozen base)")
    .option("--lora-rank <n>", `LoRA rank r (default ${LORA_DEFAULTS.rank})`, intOption(1))
    .option(
      "--lora-alpha <x>",
      `LoRA alpha: the update is scaled by alpha/r (default ${LORA_DEFAULTS.alpha})`,
      floatOption(0),
    )
    .option(
      "--lora-dropout <p>",
      `dropout on the adapters' input (default ${LORA_DEFAULTS.dropout})`,
      floatOption(0, 0.99),
    )
    .option(
      "--lora-targets <list>",
      "comma-separated PEFT module names to adapt (c_attn,c_proj,c_fc for GPT-2; q_proj,v_proj,… for Llama; default: every linear layer)",
    )
    .option(
      "--epochs <e>",
      `passes over the training examples (default ${FINETUNE_DEFAULTS.epochs} when --steps is absent)`,
      floatOption(0),
    )
    .option("--val-data <paths...>", "held-out records (default: a share of --data)")
    .option(
      "--val-fraction <f>",
      "share of the records held out for validation",
      floatOption(0.001, 0.5),
      FINETUNE_DEFAULTS.valFraction,
    )
    .option("--train-on-prompt", "take the loss on every token, not only the answers")
    .option(
      "--feedback <files...>",
      "chat feedback files (/good, /bad) on the base: good answers → examples, good/bad pairs → DPO",
    )
    .option("--beta <x>", `DPO's β (default ${DPO_BETA})`, floatOption(0));
  addTrainOptionFlags(cmd, ["steps"])
    .addOption(deviceOption())
    .option("--force", "replace an existing run directory")
    .option("--json", "print the summary as JSON")
    .action(async (o) => {
      const given = trainOptionsFrom(o);
      const s = await startFinetune({
        ...given,
        base: o.base,
        data: o.data ?? [],
        feedback: o.feedback,
        beta: o.beta,
        out: o.out,
        full: !!o.full,
        lora: loraFrom(o),
        epochs: o.epochs,
        valData: o.valData,
        valFraction: o.valFraction,
        trainOnPrompt: !!o.trainOnPrompt,
        force: !!o.force,
        device: o.device,
        progress: consoleProgress(),
        log,
      });
      const b = s.baseEval;
      const skipped = s.examples.skipped;
      printSummary(s, !!o.json, {
        lines: [
          `examples: ${s.examples.train} training, ${s.examples.val} held out; skipped: ${skipped.noAssistant} without an answer, ${skipped.tooLong} longer than the context`,
          ...(s.adapter ? [`adapter: ${s.adapter} (chat --adapter, adapter merge)`] : []),
          `chat format: ${s.format}${
            s.addedTokens.length ? ` (added ${s.addedTokens.join(", ")})` : ""
          }`,
          ...(s.feedback
            ? [
              `feedback: ${s.feedback.records} records — ${s.feedback.good} good answers → examples, ${s.feedback.pairs} DPO pairs (${s.feedback.pairedBad} bad answers paired), ${s.feedback.unpairedBad} unpaired bad answers not trained on`,
            ]
            : []),
          ...(b
            ? [
              `base val loss: ${b.loss.toFixed(4)}  perplexity: ${
                b.perplexity.toFixed(2)
              } (before training)`,
            ]
            : []),
        ],
        json: {
          base_val_loss: b?.loss,
          base_val_perplexity: b?.perplexity,
          examples: s.examples,
          format: s.format,
          ...(s.adapter ? { adapter: s.adapter } : {}),
          added_tokens: s.addedTokens,
          ...(s.feedback ? { feedback: s.feedback } : {}),
          ...(b?.margin !== undefined ? { base_val_margin: b.margin } : {}),
          ...(s.eval?.margin !== undefined ? { val_margin: s.eval.margin } : {}),
        },
      });
    });
}
