/**
 * The training hyper-parameters: their type, the one table of their defaults and help texts
 * (which `defaultTrainOptions`, the workflows in run.ts and the CLI's `train` flags all read),
 * and their validation.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import type { ModelConfig } from "../model/config.ts";
import { familyOf } from "../model/registry.ts";

/** Hyper-parameters of a run (all recorded in `run.json`). */
export interface TrainOptions {
  /** Total optimizer steps. */
  steps: number;
  /** Sequences per micro-batch. */
  batchSize: number;
  /** Tokens per sequence. */
  context: number;
  /** Micro-batches per optimizer step. */
  gradAccum: number;
  /** Peak learning rate. */
  lr: number;
  /** Final learning rate of the cosine. */
  minLr: number;
  /** Warmup steps. */
  warmup: number;
  /** Step at which the cosine reaches minLr (default: steps). */
  decaySteps: number;
  /** AdamW decoupled weight decay. */
  weightDecay: number;
  /** Also decay embedding tables. */
  decayEmbeddings: boolean;
  /** AdamW β1. */
  beta1: number;
  /** AdamW β2. */
  beta2: number;
  /** AdamW ε. */
  eps: number;
  /** Global gradient-norm clip (0 = off). */
  clip: number;
  /** Evaluate every N steps (0 = only at the end). */
  evalEvery: number;
  /** Validation batches per evaluation. */
  evalBatches: number;
  /** Save a checkpoint every N steps (0 = only at the end). */
  saveEvery: number;
  /** Checkpoints to keep. */
  keepLast: number;
  /** Seed of initialisation and batch sampling. */
  seed: number;
  /** Stop after this many evaluations without improvement (0 = never). */
  patience: number;
}

/** The model preset `train` and `lr-find` use when none is named. */
export const DEFAULT_PRESET = "gpt-micro";

/** What a computed default sees: the model, the steps and the options resolved before it. */
export type DefaultInputs = { config: ModelConfig; steps: number } & Partial<TrainOptions>;

/** One row of {@link TRAIN_OPTION_TABLE}. */
export interface TrainOptionSpec<K extends keyof TrainOptions = keyof TrainOptions> {
  /** The field of {@link TrainOptions}. */
  key: K;
  /** The command-line flag without its dashes; absent when the option has no flag. */
  flag?: string;
  /** How the flag's value is parsed: an integer or a number at least `min`, or a switch. */
  type: "int" | "float" | "switch";
  /** Smallest value the flag accepts. */
  min?: number;
  /** The flag's help text (computed defaults are described here). */
  help: string;
  /**
   * The default: a constant (shown by the CLI help as `(default: …)`), a function of the
   * model and of the options resolved before it (described in `help`), or absent when the
   * caller chooses it (batch size and context, from the device).
   */
  default?: TrainOptions[K] | ((o: DefaultInputs) => TrainOptions[K]);
}

const row = <K extends keyof TrainOptions>(spec: TrainOptionSpec<K>): TrainOptionSpec<K> => spec;

/**
 * Every training hyper-parameter with its default and help text, in the order the CLI lists
 * the flags. Defaults are resolved in this order, so a computed default may use any option
 * above it (`minLr` uses `lr`, `warmup` uses `steps`).
 */
export const TRAIN_OPTION_TABLE: readonly TrainOptionSpec[] = [
  row({ key: "steps", flag: "steps", type: "int", min: 1, help: "optimizer steps", default: 1000 }),
  row({
    key: "batchSize",
    flag: "batch-size",
    type: "int",
    min: 1,
    help: "sequences per micro-batch (default: chosen from the device)",
  }),
  row({
    key: "context",
    flag: "context",
    type: "int",
    min: 2,
    help: "tokens per sequence (default: the preset's)",
  }),
  row({
    key: "gradAccum",
    flag: "grad-accum",
    type: "int",
    min: 1,
    help: "micro-batches per optimizer step",
    default: 1,
  }),
  row({
    key: "lr",
    flag: "lr",
    type: "float",
    min: 0,
    help: "peak learning rate (default 1e-3 for d ≤ 256, else 6e-4)",
    default: (o) => o.config.dModel <= 256 ? 1e-3 : 6e-4,
  }),
  row({
    key: "minLr",
    flag: "min-lr",
    type: "float",
    min: 0,
    help: "final learning rate of the cosine (default lr/10)",
    default: (o) => o.lr! / 10,
  }),
  row({
    key: "warmup",
    flag: "warmup",
    type: "int",
    min: 0,
    help: "warmup steps (default min(100, steps/10))",
    default: (o) => Math.min(100, Math.max(1, Math.floor(o.steps / 10))),
  }),
  row({
    key: "decaySteps",
    flag: "decay-steps",
    type: "int",
    min: 1,
    help: "step where the cosine reaches min-lr (default: --steps)",
    default: (o) => o.steps,
  }),
  row({
    key: "weightDecay",
    flag: "weight-decay",
    type: "float",
    min: 0,
    help: "AdamW decoupled weight decay",
    default: 0.1,
  }),
  row({
    key: "decayEmbeddings",
    flag: "decay-embeddings",
    type: "switch",
    help: "also apply weight decay to embedding tables",
    default: false,
  }),
  row({ key: "beta1", type: "float", help: "AdamW β1", default: 0.9 }),
  row({ key: "beta2", type: "float", help: "AdamW β2", default: 0.95 }),
  row({ key: "eps", type: "float", help: "AdamW ε", default: 1e-8 }),
  row({
    key: "clip",
    flag: "clip",
    type: "float",
    min: 0,
    help: "global gradient-norm clip (0 = off)",
    default: 1.0,
  }),
  row({
    key: "evalEvery",
    flag: "eval-every",
    type: "int",
    min: 0,
    help: "evaluate every N steps (default steps/10)",
    default: (o) => Math.max(1, Math.floor(o.steps / 10)),
  }),
  row({
    key: "evalBatches",
    flag: "eval-batches",
    type: "int",
    min: 1,
    help: "validation batches per evaluation",
    default: 20,
  }),
  row({
    key: "saveEvery",
    flag: "save-every",
    type: "int",
    min: 0,
    help: "checkpoint every N steps (default steps/5)",
    default: (o) => Math.max(1, Math.floor(o.steps / 5)),
  }),
  row({
    key: "keepLast",
    flag: "keep",
    type: "int",
    min: 1,
    help: "checkpoints to keep",
    default: 2,
  }),
  row({
    key: "patience",
    flag: "patience",
    type: "int",
    min: 0,
    help: "early stopping: evaluations without improvement (0 = off)",
    default: 0,
  }),
  row({
    key: "seed",
    flag: "seed",
    type: "int",
    min: 0,
    help: "seed of initialisation and batch sampling",
    default: 1337,
  }),
];

/** The default of one option (a constant, or computed from `inputs`). */
function defaultOf(spec: TrainOptionSpec, inputs: DefaultInputs): unknown {
  const d = spec.default;
  return typeof d === "function" ? d(inputs) : d;
}

/**
 * The constant default of option `key` (throws for options whose default is computed).
 *
 * @example
 * ```ts
 * import { trainDefault } from "./options.ts";
 * console.log(trainDefault("seed")); // 1337
 * ```
 */
export function trainDefault<K extends keyof TrainOptions>(key: K): TrainOptions[K] {
  const d = TRAIN_OPTION_TABLE.find((r) => r.key === key)?.default;
  if (d === undefined || typeof d === "function") {
    throw new Error(`training option ${key} has no constant default`);
  }
  return d as TrainOptions[K];
}

/**
 * The options of `given`, each one left undefined replaced by its default from
 * {@link TRAIN_OPTION_TABLE}; batch size and context are left out (the caller chooses them
 * from the device).
 *
 * @example
 * ```ts
 * import { resolveTrainOptions } from "./options.ts";
 * import { presetConfig } from "../model/config.ts";
 * const o = resolveTrainOptions(presetConfig("gpt-micro", 256), { steps: 50, lr: 2e-3 });
 * console.log(o.minLr, o.warmup); // 0.0002 5
 * ```
 */
export function resolveTrainOptions(
  config: ModelConfig,
  given: Partial<TrainOptions>,
): Omit<TrainOptions, "batchSize" | "context"> {
  const out: Record<string, unknown> = {};
  for (const spec of TRAIN_OPTION_TABLE) {
    if (spec.default === undefined) continue;
    out[spec.key] = given[spec.key] ?? defaultOf(spec, { config, ...out } as DefaultInputs);
  }
  return out as Omit<TrainOptions, "batchSize" | "context">;
}

/** Default hyper-parameters (learning rate depends on the model width). */
export function defaultTrainOptions(
  config: ModelConfig,
  steps = 1000,
): Omit<TrainOptions, "batchSize" | "context"> {
  return resolveTrainOptions(config, { steps });
}

/** The largest `--grad-accum` accepted (micro-batches per optimizer step). */
export const MAX_GRAD_ACCUM = 4096;

/** Checks hyper-parameters, throwing a {@link BenteviError} naming the option. */
export function validateTrainOptions(o: TrainOptions, config: ModelConfig): void {
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) {
      throw new BenteviError(`--${name} must be an integer ≥ ${min}, got ${v}`);
    }
  };
  int("steps", o.steps, 1);
  int("batch-size", o.batchSize, 1);
  int("context", o.context, 1);
  int("grad-accum", o.gradAccum, 1);
  int("warmup", o.warmup, 0);
  int("eval-every", o.evalEvery, 0);
  int("save-every", o.saveEvery, 0);
  int("keep", o.keepLast, 1);
  int("eval-batches", o.evalBatches, 1);
  int("decay-steps", o.decaySteps, 1);
  int("patience", o.patience, 0);
  // A count that multiplies the work of every step: far above any sensible value it is a typo
  // or a damaged run.json, and would make one step run for hours.
  if (o.gradAccum > MAX_GRAD_ACCUM) {
    throw new BenteviError(
      `--grad-accum ${o.gradAccum} is more than ${MAX_GRAD_ACCUM}; use a larger --batch-size`,
    );
  }
  if (!Number.isInteger(o.seed)) throw new BenteviError(`--seed must be an integer, got ${o.seed}`);
  for (const [name, v] of [["beta1", o.beta1], ["beta2", o.beta2]] as const) {
    if (!(typeof v === "number" && v >= 0 && v < 1)) {
      throw new BenteviError(`--${name} must be in [0, 1), got ${v}`);
    }
  }
  if (!(typeof o.eps === "number" && o.eps > 0 && Number.isFinite(o.eps))) {
    throw new BenteviError(`--eps must be > 0, got ${o.eps}`);
  }
  for (
    const [name, v] of [["lr", o.lr], ["min-lr", o.minLr], ["weight-decay", o.weightDecay], [
      "clip",
      o.clip,
    ]] as const
  ) {
    if (!Number.isFinite(v) || v < 0) throw new BenteviError(`--${name} must be ≥ 0, got ${v}`);
  }
  if (o.lr <= 0) throw new BenteviError(`--lr must be > 0, got ${o.lr}`);
  if (o.minLr > o.lr) {
    throw new BenteviError(`--min-lr ${o.minLr} is larger than --lr ${o.lr}`);
  }
  if (o.context > familyOf(config).maxContext(config)) {
    throw new BenteviError(
      `--context ${o.context} exceeds the model's context length ${config.contextLength}`,
    );
  }
}
