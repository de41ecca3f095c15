/**
 * The fine-tuning options: what `run.json` records about a fine-tuning run, and the defaults
 * that differ from training from scratch (one home for each).
 *
 * @module
 */

import type { LoraSettings } from "./lora.ts";

/** The defaults of `finetune` (the training options it does not set come from `TRAIN_OPTION_TABLE`). */
export const FINETUNE_DEFAULTS = {
  /** Passes over the training examples when neither `--steps` nor `--epochs` is given. */
  epochs: 3,
  /**
   * Peak learning rate of `--full`: a tenth of the from-scratch rate of small models — the
   * weights are already good, and a large step forgets what the base knew.
   */
  fullLr: 1e-4,
  /**
   * Peak learning rate of LoRA: ten times `--full`'s — the adapters start at zero and hold few
   * parameters, and the base they move is frozen (on the demo's dialogues, 1e-3 lowers the
   * held-out loss as much in 3 epochs as `--full` at 1e-4: docs/finetune.md).
   */
  loraLr: 1e-3,
  /** Share of the records held out for validation when there is no `--val-data`. */
  valFraction: 0.1,
  /**
   * Items (examples or preference pairs) per step of a `--feedback` round, each run as its own
   * one-sequence pass (`--batch-size` sets it).
   */
  feedbackItemsPerStep: 4,
} as const;

/** What `run.json` records about a fine-tuning run (its `finetune` field). */
export interface FinetuneSpec {
  /** The base checkpoint directory (absolute). */
  base: string;
  /** Data files and folders (absolute). */
  data: string[];
  /** Validation files and folders (absolute), when given. */
  valData?: string[];
  /** Share of the records held out when there is no `valData`. */
  valFraction: number;
  /** Loss on every token of conversations, not only the answers. */
  trainOnPrompt: boolean;
  /** `"full"`: all weights train; `"lora"`: adapters over the frozen base. */
  method: "full" | "lora";
  /** The adapters' settings (`"lora"`). */
  lora?: LoraSettings;
  /** Chat tokens added to the base's tokenizer (their rows: the mean of the others). */
  addedTokens: string[];
  /** Feedback files (absolute): a round of learning from `chat`'s ratings. */
  feedback?: string[];
  /** DPO's β (feedback rounds). */
  beta?: number;
}
