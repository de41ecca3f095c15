/**
 * The training loop: AdamW with warmup + cosine, gradient accumulation, global-norm clipping
 * on the device, a NaN/Inf guard, periodic evaluation with optional early stopping,
 * checkpoints (keep the last K) and exact resume, `metrics.jsonl` and `loss.svg`.
 *
 * A whole optimizer step (all micro-batches' forward and backward, the gradient norm and the
 * AdamW update) is recorded and submitted at once; the loss is read back asynchronously
 * while the device runs the next step.
 *
 * @module
 */
import { readJsonFile } from "../io/fs.ts";
import { dirname, join } from "node:path";
import type { Backend } from "../backend/backend.ts";
import { BatchLoader, type BatchLoaderState } from "../data/dataset/loader.ts";
import { BenteviError, fsError, writeError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { refuseInputsInside } from "../io/fs.ts";
import { LOCK_FILE } from "../io/lock.ts";
import type { NamedTensor } from "../io/safetensors.ts";
import type { EmbeddedTokenizer } from "../model/checkpoint.ts";
import {
  type CheckpointContents,
  listCheckpoints,
  loadCheckpoint,
  loadTrainerState,
  saveCheckpoint,
} from "../model/checkpoint.ts";
import { configFromJson, configToJson, type ModelConfig } from "../model/config.ts";
import { createModel } from "../model/factory.ts";
import { familyOf } from "../model/registry.ts";
import { initWeights } from "../model/init.ts";
import type { TrainableModel } from "../model/model.ts";
import { ParameterStore } from "../model/params.ts";
import { type Progress, silentProgress } from "../progress.ts";
import type { TrainingData } from "./data.ts";
import type { FinetuneSpec } from "../finetune/options.ts";
import { type EvalResult, evaluate } from "./evaluate.ts";
import { trainingBytes } from "./defaults.ts";
import { MetricsLog } from "./metrics.ts";
import { resolveTrainOptions, type TrainOptions, validateTrainOptions } from "./options.ts";
import { learningRate } from "./schedule.ts";
import { nonFiniteReason, type StepStats, TrainStep } from "./step.ts";

/** `run.json`: everything needed to resume a run. */
export interface RunSpec {
  /** Format version. */
  version: 1;
  /** Preset name (or "custom"). */
  model: string;
  /** Model configuration. */
  config: ModelConfig;
  /** Hyper-parameters. */
  options: TrainOptions;
  /** Training data path (absolute). */
  data: string;
  /** Validation data path (absolute), when separate. */
  valData?: string;
  /** Share of the data held out for validation when there is no separate file. */
  valFraction?: number;
  /** Device choice the run was started with. */
  device: string;
  /**
   * Fine-tuning: the checkpoint directory (absolute) whose weights the run starts from instead
   * of a seeded initialisation (a Bentevi or Hugging Face directory of the same model).
   */
  initFrom?: string;
  /** Fine-tuning: where the examples come from and how they are made (`src/finetune/`). */
  finetune?: FinetuneSpec;
}

/** A finished (or stopped) run. */
export interface TrainSummary {
  /** Run directory. */
  runDir: string;
  /** Last step completed. */
  step: number;
  /** Mean training loss of the last step. */
  loss: number;
  /** Last evaluation. */
  eval?: EvalResult;
  /** The evaluation before the first step (with `evaluateAtStart` on a fresh start). */
  startEval?: EvalResult;
  /** Last checkpoint directory. */
  checkpoint: string;
  /** Why the loop ended. */
  stopReason: "steps" | "early-stopping" | "interrupted";
  /** The signal that interrupted the run (`stopReason` "interrupted"). */
  signal?: StopSignal;
  /** Training tokens per second over the run (this session). */
  tokensPerSecond: number;
  /** Training losses of the steps run in this session (for tests and benches). */
  losses: number[];
}

/**
 * The batch sampler of a run: fills each micro-batch, and its state (a position and four
 * random-generator words) goes into every checkpoint so a resumed run draws the same batches.
 * `BatchLoader` is one.
 */
export interface BatchSampler {
  /** Fills `inputs` and `targets` (`B·T` each, row-major; a target −1 is not trained on). */
  next(inputs: Int32Array, targets: Int32Array): void;
  /** Its state, for a checkpoint. */
  getState(): BatchLoaderState;
  /** Restores a state of {@link BatchSampler.getState}; a bad one throws a BenteviError. */
  setState(state: BatchLoaderState): void;
}

/**
 * Where a run's batches and validation come from: a token stream (pre-training, see
 * {@link tokenStreamSource}) or examples with masked targets (supervised fine-tuning,
 * `src/finetune/`).
 */
export interface TrainSource {
  /** One line saying what the data is. */
  readonly description: string;
  /** Throws a {@link BenteviError} naming `source` when the data cannot fill context `T`. */
  check(T: number, source: string): void;
  /** The seeded batch sampler of a run. */
  loader(o: { batchSize: number; context: number; seed: number }): BatchSampler;
  /** Validation on the held-out split (the same positions at every evaluation). */
  evaluate(model: TrainableModel, maxBatches: number): Promise<EvalResult>;
  /**
   * Records step `s` itself, for objectives the plain step cannot express (DPO: each
   * sequence's gradient weight depends on the model's log-probabilities): draws from
   * `loader`, writes the gradients through `TrainStep.recordWith`, returns the learning rate.
   * Absent: `TrainStep.record` over the loader's batches.
   */
  recordStep?(step: TrainStep, s: number, loader: BatchSampler): Promise<number>;
}

/**
 * The {@link TrainSource} of a token stream: random windows of the training tokens (the
 * `BatchLoader`), validation over consecutive windows of the held-out tokens.
 *
 * @example
 * ```ts
 * import { tokenStreamSource } from "./trainer.ts";
 * const tokens = Uint16Array.from({ length: 100 }, (_, i) => i % 7);
 * const src = tokenStreamSource({
 *   train: { tokens }, val: { tokens }, description: "demo", close: () => {},
 * });
 * const x = new Int32Array(8), y = new Int32Array(8);
 * src.loader({ batchSize: 2, context: 4, seed: 1 }).next(x, y);
 * console.log(y[0] === (x[0] + 1) % 7); // true
 * ```
 */
export function tokenStreamSource(data: TrainingData): TrainSource {
  return {
    description: data.description,
    check: (T, source) => checkDataFits(data, T, source),
    loader: (o) => new BatchLoader(data.train, o),
    evaluate: (model, maxBatches) => evaluate(model, data.val.tokens, maxBatches),
  };
}

/** Everything a run needs that is not in `run.json`. */
export interface TrainContext {
  /** Compute backend. */
  backend: Backend;
  /** Token data (a token stream); or give {@link TrainContext.source}. */
  data?: TrainingData;
  /** Batches and validation of any other kind (fine-tuning examples); overrides `data`. */
  source?: TrainSource;
  /**
   * The weights a fresh run starts from (e.g. a base model with rows added for new tokens),
   * instead of `run.json`'s `initFrom` or a seeded initialisation.
   */
  initialWeights?: () => Promise<Map<string, NamedTensor>>;
  /** What the run trains and checkpoints (default: {@link wholeModel}, every weight). */
  model?: (spec: RunSpec, backend: Backend) => RunModel;
  /**
   * On a fresh start, evaluate once before the first step (a `step: 0` record in
   * `metrics.jsonl`): the starting model's validation loss, for a fine-tuning run the base's.
   */
  evaluateAtStart?: boolean;
  /** Path of the tokenizer.json to store with checkpoints. */
  tokenizerPath: string;
  /** Progress sink (bar/lines). */
  progress?: Progress;
  /** One-line notices. */
  log?: (line: string) => void;
  /**
   * SIGINT/SIGTERM handling of the command (already listening); default: the loop listens
   * itself while it runs.
   */
  signals?: StopSignals;
  /**
   * Milliseconds on a monotonic clock (default `performance.now`): a seam for tests of the
   * throughput accounting.
   */
  clock?: () => number;
}

const CKPT_PREFIX = "step-";
const ckptName = (step: number) => `${CKPT_PREFIX}${String(step).padStart(6, "0")}`;

const readJson = readJsonFile;

/** Reads and checks a run's `run.json`. */
export async function readRunSpec(runDir: string): Promise<RunSpec> {
  const path = join(runDir, "run.json");
  const json = await readJson(path) as RunSpec;
  if (
    !json || typeof json !== "object" || json.version !== 1 || !json.options ||
    typeof json.options !== "object" || !json.config || typeof json.config !== "object" ||
    typeof json.data !== "string" || !json.data
  ) {
    throw new BenteviError(`${path}: not a Bentevi run description`);
  }
  if (!["auto", "webgpu", "native", "cpu"].includes(json.device)) {
    throw new BenteviError(`${path}: device must be "auto", "webgpu", "native" or "cpu"`);
  }
  if (json.valData !== undefined && (typeof json.valData !== "string" || !json.valData)) {
    throw new BenteviError(`${path}: "valData" must be a path`);
  }
  if (json.initFrom !== undefined && (typeof json.initFrom !== "string" || !json.initFrom)) {
    throw new BenteviError(`${path}: "initFrom" must be a checkpoint directory`);
  }
  if (
    json.finetune !== undefined &&
    (!json.finetune || typeof json.finetune !== "object" || !Array.isArray(json.finetune.data))
  ) {
    throw new BenteviError(`${path}: "finetune" must describe the fine-tuning data`);
  }
  const f = json.valFraction;
  if (f !== undefined && !(typeof f === "number" && f >= 0 && f < 1)) {
    throw new BenteviError(`${path}: "valFraction" must be a number in [0, 1), got ${f}`);
  }
  try {
    json.config = configFromJson(configToJson(json.config), path);
    // options a run.json of an older version lacks take today's defaults
    json.options = { ...json.options, ...resolveTrainOptions(json.config, json.options) };
    validateTrainOptions(json.options, json.config);
  } catch (e) {
    // the checks speak of --options and "model config": say which file holds the bad value
    if (e instanceof BenteviError && !e.message.startsWith(path)) {
      throw new BenteviError(`${path}: ${e.message}`);
    }
    throw e;
  }
  return json;
}

/**
 * Checks, before anything is allocated, that a run's `run.json` and the checkpoint it resumes
 * from agree: the same model, and the counters consistent with the batch shape (tokens seen =
 * steps × grad-accum × batch × context). A layer count or batch size edited in one file is
 * refused here instead of building a model of a million layers.
 */
export async function checkResumePoint(
  runDir: string,
  spec: RunSpec,
  ckptDir: string,
): Promise<void> {
  const configPath = join(ckptDir, "config.json");
  // An adapter run's checkpoints hold the adapter (its files name their base), no config.json.
  if (spec.finetune?.method !== "lora") {
    const config = configFromJson(await readJson(configPath), configPath);
    if (JSON.stringify(config) !== JSON.stringify(spec.config)) {
      throw new BenteviError(
        `${join(runDir, "run.json")}: its model differs from the checkpoint's ${configPath}`,
      );
    }
  }
  const statePath = join(ckptDir, "trainer_state.json");
  const j = checkTrainerState(await readJson(statePath), statePath);
  const o = spec.options;
  const perStep = o.gradAccum * o.batchSize * o.context;
  if (j.tokensSeen !== j.step * perStep) {
    throw new BenteviError(
      `${statePath}: ${j.tokensSeen} tokens seen in ${j.step} steps does not match run.json's ${o.gradAccum} × ${o.batchSize} × ${o.context} tokens per step`,
    );
  }
}

/** Reads and checks a checkpoint's `trainer_state.json` (counters and batch sampler state). */
function checkTrainerState(json: unknown, path: string): TrainerStateJson {
  const j = json as Partial<TrainerStateJson> | null;
  const bad = (what: string) => new BenteviError(`${path}: ${what}`);
  if (!j || typeof j !== "object" || Array.isArray(j)) throw bad("not a trainer state object");
  const count = (name: keyof RunCounters) => {
    const v = j[name];
    if (!(typeof v === "number" && Number.isFinite(v) && v >= 0)) {
      throw bad(`"${name}" must be a number ≥ 0, got ${JSON.stringify(v)}`);
    }
  };
  count("step");
  count("evalsWithoutImprovement");
  count("tokensSeen");
  count("elapsedSeconds");
  if (!Number.isInteger(j.step) || !Number.isInteger(j.evalsWithoutImprovement)) {
    throw bad(`"step" and "evalsWithoutImprovement" must be integers`);
  }
  if (typeof j.lastLoss !== "number") throw bad(`"lastLoss" must be a number`);
  if (j.bestValLoss !== null && typeof j.bestValLoss !== "number") {
    throw bad(`"bestValLoss" must be a number or null`);
  }
  return j as TrainerStateJson;
}

/**
 * Refuses a batch shape whose training memory (weights, AdamW moments, activations) exceeds the
 * machine's memory — a damaged or hand-edited run.json (a batch size of 2^31, 1e308) would
 * otherwise end in a failed allocation deep in the backend.
 */
function checkTrainingFitsMemory(spec: RunSpec, source: string): void {
  const o = spec.options;
  let total = 64 * 1024 ** 3;
  try {
    total = Deno.systemMemoryInfo().total;
  } catch { /* not permitted: assume a large machine */ }
  const need = trainingBytes(spec.config, o.batchSize, o.context);
  if (!(need <= total)) {
    throw new BenteviError(
      `${source}: batch size ${o.batchSize} × context ${o.context} needs ${
        (need / 1024 ** 3).toPrecision(3)
      } GiB to train, more than this machine's ${(total / 1024 ** 3).toFixed(1)} GiB`,
    );
  }
}

/** Checks that both splits hold at least one window of `T + 1` tokens. */
export function checkDataFits(data: TrainingData, T: number, source: string): void {
  if (data.train.tokens.length < T + 1) {
    throw new BenteviError(
      `${source}: ${data.train.tokens.length} training tokens is too few for context ${T}`,
    );
  }
  if (data.val.tokens.length < T + 1) {
    throw new BenteviError(
      `${source}: the validation split has ${data.val.tokens.length} tokens, fewer than context + 1 = ${
        T + 1
      }; use more data, --val-data, or a smaller --context`,
    );
  }
}

/**
 * Prepares a new run directory: refuses an existing non-empty one unless `force` (then
 * empties it — refusing when one of `inputs` lies inside it — keeping its lock file), writes
 * `run.json` and copies the tokenizer — a `tokenizer.json` path (its `tokenizer_config.json`
 * goes with it), or a tokenizer embedded in a weights file (GGUF) with its config.
 */
export async function createRunDir(
  runDir: string,
  spec: RunSpec,
  tokenizer: string | EmbeddedTokenizer,
  force: boolean,
  inputs: readonly string[] = [],
): Promise<void> {
  const entries: string[] = [];
  try {
    for await (const e of Deno.readDir(runDir)) if (e.name !== LOCK_FILE) entries.push(e.name);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw fsError(e, runDir);
  }
  if (entries.length) {
    if (!force) {
      throw new BenteviError(
        `${runDir}: the run directory already exists; use \`resume ${runDir}\` to continue it or --force to start over`,
      );
    }
    await refuseInputsInside(runDir, inputs, "--force deletes the run directory's contents");
    for (const name of entries) {
      try {
        await Deno.remove(join(runDir, name), { recursive: true });
      } catch (e) {
        throw writeError(e, join(runDir, name));
      }
    }
  }
  await Deno.mkdir(runDir, { recursive: true });
  await writeFileAtomic(join(runDir, "run.json"), JSON.stringify(spec, null, 2) + "\n");
  let tok: Uint8Array | string;
  let config: Uint8Array | string | undefined;
  if (typeof tokenizer === "string") {
    try {
      tok = await Deno.readFile(tokenizer);
    } catch (e) {
      throw fsError(e, tokenizer);
    }
    // Its chat template and special tokens go with it (checkpoints copy them from here).
    const configPath = join(dirname(tokenizer), "tokenizer_config.json");
    try {
      config = await Deno.readFile(configPath);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw fsError(e, configPath);
    }
  } else {
    tok = JSON.stringify(tokenizer.json) + "\n";
    config = JSON.stringify(tokenizer.config, null, 2) + "\n";
  }
  await writeFileAtomic(join(runDir, "tokenizer.json"), tok);
  if (config) await writeFileAtomic(join(runDir, "tokenizer_config.json"), config);
}

/** A run's counters: saved in each checkpoint's `trainer_state.json`, restored on resume. */
interface RunCounters {
  /** Last step completed. */
  step: number;
  /** Best validation loss so far. */
  bestValLoss: number | null;
  /** Evaluations since the best one (early stopping). */
  evalsWithoutImprovement: number;
  /** Training tokens seen since the start of the run. */
  tokensSeen: number;
  /** Training seconds of the earlier sessions (at checkpoint time, of all sessions). */
  elapsedSeconds: number;
  /** Mean training loss of the last step. */
  lastLoss: number;
}

interface TrainerStateJson extends RunCounters {
  loader: BatchLoaderState;
  /** Backend kind the steps so far ran on (absent in checkpoints of Bentevi ≤ 0.1). */
  backend?: string;
}

/** What the loop does after optimizer step `step` (1-based) of a run of `o.steps`. */
export interface StepActions {
  /** The run's last step. */
  last: boolean;
  /** Evaluate on the validation split. */
  evaluate: boolean;
  /** Save a checkpoint. */
  save: boolean;
}

/**
 * The checkpoint and evaluation policy: evaluate every `evalEvery` steps, save every
 * `saveEvery`, both at the last step (0 = only at the last step).
 *
 * @example
 * ```ts
 * import { stepActions } from "./trainer.ts";
 * console.log(stepActions(10, { steps: 100, evalEvery: 10, saveEvery: 20 }));
 * // { last: false, evaluate: true, save: false }
 * ```
 */
export function stepActions(
  step: number,
  o: Pick<TrainOptions, "steps" | "evalEvery" | "saveEvery">,
): StepActions {
  const last = step === o.steps;
  return {
    last,
    evaluate: last || (o.evalEvery > 0 && step % o.evalEvery === 0),
    save: last || (o.saveEvery > 0 && step % o.saveEvery === 0),
  };
}

/** The signals that stop a run, and the exit code of each (128 + the signal number). */
export const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const;

/** A signal that stops a run. */
export type StopSignal = keyof typeof STOP_SIGNALS;

/**
 * SIGINT (Ctrl-C) and SIGTERM (`kill`, `timeout`, job schedulers) during a run. While the
 * loop runs ({@link StopSignals.graceful}), the first signal asks it to finish the current
 * step, save a checkpoint and stop; a second one quits at once. Outside the loop (loading
 * data, compiling kernels) a signal quits at once, with the signal's exit code — folder locks
 * are released by their exit hook either way.
 *
 * @example
 * ```ts
 * import { StopSignals } from "./trainer.ts";
 * const signals = new StopSignals(console.error);
 * signals.graceful = true; // the loop checks signals.requested after each step
 * signals.dispose();
 * ```
 */
export class StopSignals {
  /** The first signal received, or null. */
  signal: StopSignal | null = null;
  /** Whether a signal asks the loop to stop (true) or quits at once (false). */
  graceful = false;
  #remove: (() => void)[] = [];

  constructor(log: (line: string) => void) {
    for (const name of Object.keys(STOP_SIGNALS) as StopSignal[]) {
      const on = () => {
        if (!this.graceful || this.signal) Deno.exit(STOP_SIGNALS[this.signal ?? name]);
        this.signal = name;
        log(
          `${name === "SIGINT" ? "interrupted" : "SIGTERM"}: saving a checkpoint after this step (${
            name === "SIGINT" ? "Ctrl-C" : "a signal"
          } again to quit now)`,
        );
      };
      try {
        Deno.addSignalListener(name, on);
        this.#remove.push(() => Deno.removeSignalListener(name, on));
      } catch { /* signals unavailable (e.g. SIGTERM on Windows): no graceful stop */ }
    }
  }

  /** Whether a signal asked the loop to stop. */
  get requested(): boolean {
    return this.signal !== null;
  }

  /** Removes the handlers (the default actions apply again). */
  dispose(): void {
    for (const remove of this.#remove.splice(0)) remove();
  }
}

/** A step recorded and submitted whose statistics are still on their way back. */
interface PendingStep {
  /** 0-based step. */
  s: number;
  /** Its learning rate (a promise for a step its source records itself). */
  lr: number | Promise<number>;
  /** Its statistics and when they arrived. */
  read: Promise<{ stats: StepStats; at: number }>;
}

/** Steps in the window of the logged `tokens_per_second`. */
export const RATE_WINDOW = 8;

/** When a step's statistics were read back, on the training clock. */
interface ReadBack {
  /** Milliseconds, training time (evaluations and checkpoints left out). */
  at: number;
  /** Nothing later had been submitted: the device was idle once this read came back. */
  quiet: boolean;
}

/**
 * The `tokens_per_second` of the step just taken in, from the read-backs of this session
 * (`reads[0]` is the session start, `reads[i]` step `startStep + i`; only the last
 * `RATE_WINDOW + 2` need be kept): the tokens of the last `k ≤ RATE_WINDOW` steps over the
 * time between the read-back before them and this one. The session's first step, which
 * also holds the warm-up, is timed alone and left out of the later windows.
 *
 * A read-back proves its step finished, not when: a device may finish the next step, already
 * submitted, before the read resolves (Deno's WebGPU resolves a read only once the queue is
 * idle), so the read of step N−1 can come back as late as step N's. Steps between two
 * read-backs are then counted in the wrong interval — harmless inside a window, except at a
 * read-back taken with nothing in flight (the last step, before an evaluation or a
 * checkpoint): its interval may hold only part of the window's work. There the window starts
 * one read-back earlier, so the figure never exceeds the work the device completed.
 *
 * @example
 * ```ts
 * import { windowRate } from "./trainer.ts";
 * // Start, a first step with 4 s of warm-up, then steps read back 1 s apart.
 * const reads = [0, 5000, 6000, 7000, 8000].map((at) => ({ at, quiet: false }));
 * console.log(windowRate(reads, 64)); // 64
 * ```
 */
export function windowRate(reads: readonly ReadBack[], tokensPerStep: number): number {
  const n = reads.length - 1;
  // The session's first step also holds the warm-up (pipeline compilation, first uploads):
  // it is timed alone, and the windows after it start at its read-back.
  const k = n === 1 ? 1 : Math.min(RATE_WINDOW, n - 1);
  let start = n - k;
  if (reads[n].quiet && !reads[start].quiet && start > 0) start--;
  const seconds = (reads[n].at - reads[start].at) / 1000;
  return (k * tokensPerStep) / Math.max(seconds, 1e-9);
}

/**
 * One session of a run: the model, its {@link TrainStep}, the batch loader, the counters and
 * the metrics, and what the loop does around the steps — resume, read-back, evaluation,
 * checkpoints. {@link runTraining} drives it.
 */
class TrainingSession {
  readonly #runDir: string;
  readonly #spec: RunSpec;
  readonly #ctx: TrainContext;
  readonly #progress: Progress;
  readonly #log: (line: string) => void;
  readonly #run: RunModel;
  readonly #source: TrainSource;
  readonly #loader: BatchSampler;
  readonly #metrics: MetricsLog;
  #model: TrainableModel | null = null;
  #step: TrainStep | null = null;
  #counters: RunCounters = {
    step: 0,
    bestValLoss: null,
    evalsWithoutImprovement: 0,
    tokensSeen: 0,
    elapsedSeconds: 0,
    lastLoss: NaN,
  };
  /** Step the session started from. */
  startStep = 0;
  /** Last checkpoint directory ("" before the first). */
  lastCheckpoint = "";
  /** Last evaluation. */
  lastEval: EvalResult | undefined;
  /** Losses of this session's steps. */
  readonly losses: number[] = [];
  #sessionStart = 0;
  #sessionTokens = 0;
  readonly #clock: () => number;
  /** Read-backs of the last steps (the first: the session start), on the training clock. */
  readonly #reads: ReadBack[] = [];
  /** Milliseconds of this session spent evaluating and saving (left out of the rate). */
  #pausedMs = 0;
  /** The last step recorded. */
  #lastRecorded = -1;
  /** The last step of a source that records its own steps (they run one after the other). */
  #chain: Promise<void> = Promise.resolve();

  constructor(runDir: string, spec: RunSpec, ctx: TrainContext) {
    const o = spec.options;
    this.#runDir = runDir;
    this.#spec = spec;
    this.#ctx = ctx;
    this.#progress = ctx.progress ?? silentProgress;
    this.#log = ctx.log ?? (() => {});
    this.#clock = ctx.clock ?? (() => performance.now());
    this.#run = ctx.model ? ctx.model(spec, ctx.backend) : wholeModel(spec, ctx);
    this.#source = sourceOf(ctx);
    this.#loader = this.#source.loader({
      batchSize: o.batchSize,
      context: o.context,
      seed: o.seed,
    });
    this.#metrics = new MetricsLog(runDir, spec.model);
  }

  /** The step (after {@link TrainingSession.open}). */
  get step(): TrainStep {
    if (!this.#step) throw new Error("TrainingSession: open() first");
    return this.#step;
  }

  /** Last loss (of this session or restored). */
  get lastLoss(): number {
    return this.#counters.lastLoss;
  }

  /** Starts from seeded weights, or restores everything a checkpoint of this loop holds. */
  async open(resumeFrom: string | undefined): Promise<void> {
    const { backend } = this.#ctx;
    const o = this.#spec.options;
    let optimizer: { tensors?: Map<string, NamedTensor>; source: string } | undefined;
    if (resumeFrom) {
      const st = await loadTrainerState(resumeFrom);
      const statePath = join(resumeFrom, "trainer_state.json");
      const j = checkTrainerState(st.json, statePath);
      optimizer = { tensors: st.tensors, source: resumeFrom };
      try {
        this.#loader.setState(j.loader);
      } catch (e) {
        if (e instanceof BenteviError) throw new BenteviError(`${statePath}: ${e.message}`);
        throw e;
      }
      this.#counters = {
        step: j.step,
        bestValLoss: j.bestValLoss,
        evalsWithoutImprovement: j.evalsWithoutImprovement,
        tokensSeen: j.tokensSeen,
        elapsedSeconds: j.elapsedSeconds,
        lastLoss: j.lastLoss,
      };
      this.startStep = j.step;
      this.lastCheckpoint = resumeFrom;
      if (typeof j.backend === "string" && j.backend !== backend.kind) {
        this.#log(
          `note: ${resumeFrom} was trained on ${j.backend} and this session runs on ${backend.kind}: the losses continue within float32 rounding, not bit for bit`,
        );
      }
    }
    this.#model = await this.#run.open(resumeFrom, this.startStep);
    this.#step = new TrainStep(this.#model, {
      ...o,
      learningRate: (s) =>
        learningRate(s, { lr: o.lr, minLr: o.minLr, warmup: o.warmup, decaySteps: o.decaySteps }),
    });
    if (optimizer) this.#step.loadOptimizerState(optimizer.tensors, optimizer.source);
    if (resumeFrom) {
      await this.#metrics.resumeAt(this.startStep);
      this.#log(`resuming ${this.#runDir} from step ${this.startStep} (${resumeFrom})`);
    } else {
      await this.#metrics.start();
    }
    if (this.startStep >= o.steps) {
      throw new BenteviError(
        `${this.#runDir}: already at step ${this.startStep}; pass --steps TOTAL larger than ${this.startStep} to continue`,
      );
    }
  }

  /** Marks the start of this session's clock. */
  startClock(): void {
    this.#sessionStart = this.#clock();
    this.#pausedMs = 0; // an evaluation before the start is not on the training clock
    this.#reads.length = 0;
    this.#reads.push({ at: this.#sessionStart, quiet: true });
  }

  /** Seconds of training in this session so far. */
  sessionSeconds(now = this.#clock()): number {
    return (now - this.#sessionStart) / 1000;
  }

  /** Training tokens per second over this session. */
  sessionTokensPerSecond(now = this.#clock()): number {
    return this.#sessionTokens / Math.max(this.sessionSeconds(now), 1e-9);
  }

  /** Records and submits step `s`, and starts reading its statistics back. */
  record(s: number): PendingStep {
    const custom = this.#source.recordStep;
    this.#lastRecorded = s;
    if (custom) {
      // A step that reads midway runs after the one before it (they share the model).
      const lr = this.#chain.then(() => custom.call(this.#source, this.step, s, this.#loader));
      const read = lr.then(() => this.step.readStats()).then((stats) => ({
        stats,
        at: this.#clock(),
      }));
      this.#chain = read.then(() => {}, () => {});
      return { s, lr, read };
    }
    const lr = this.step.record(s, (inputs, targets) => this.#loader.next(inputs, targets));
    // The time is taken once the statistics are back: the step's work is complete then.
    const read = this.step.readStats().then((stats) => ({ stats, at: this.#clock() }));
    return { s, lr, read };
  }

  /**
   * Takes in a step's statistics: counters, metrics record, progress line — and the NaN/Inf
   * guard, which stops training naming the last good checkpoint.
   */
  async finish(p: PendingStep): Promise<void> {
    const { stats, at } = await p.read;
    const lr = await p.lr;
    const c = this.#counters, o = this.#spec.options;
    const tokens = this.step.tokensPerStep;
    this.#reads.push({ at: at - this.#pausedMs, quiet: p.s === this.#lastRecorded });
    if (this.#reads.length > RATE_WINDOW + 2) this.#reads.shift();
    c.tokensSeen += tokens;
    this.#sessionTokens += tokens;
    c.lastLoss = stats.loss;
    this.losses.push(stats.loss);
    this.#metrics.addStep({
      step: p.s + 1,
      loss: stats.loss,
      lr,
      grad_norm: stats.gradNorm,
      targets: stats.targets,
      tokens_per_second: Math.round(windowRate(this.#reads, tokens)),
      tokens: c.tokensSeen,
      elapsed_s: +(c.elapsedSeconds + this.sessionSeconds(at)).toFixed(3),
    });
    this.#progress.update(
      p.s + 1 - this.startStep,
      `step ${p.s + 1}/${o.steps}  loss ${stats.loss.toFixed(4)}  lr ${lr.toExponential(2)}  ${
        Math.round(this.sessionTokensPerSecond(at))
      } tok/s`,
    );
    const what = nonFiniteReason(stats);
    if (what) {
      const last = this.lastCheckpoint;
      throw new BenteviError(
        `step ${p.s + 1}: ${what} — training stopped; ${last || "no checkpoint was saved yet"}${
          last ? " is the last good checkpoint" : ""
        } (try a lower --lr or --clip 1)`,
      );
    }
  }

  /** Appends the buffered metrics records. */
  async flushMetrics(): Promise<void> {
    await this.#paused(() => this.#metrics.flush());
  }

  /** Runs `fn` (evaluation, checkpoint, I/O: no training) off the training clock. */
  async #paused<T>(fn: () => Promise<T>): Promise<T> {
    const t0 = this.#clock();
    try {
      return await fn();
    } finally {
      this.#pausedMs += this.#clock() - t0;
    }
  }

  /** Records waiting to be written. */
  get bufferedMetrics(): number {
    return this.#metrics.buffered;
  }

  /** Evaluates after `step`; returns the evaluations without improvement since the best. */
  evaluate(step: number): Promise<number> {
    return this.#paused(() => this.#evaluate(step));
  }

  async #evaluate(step: number): Promise<number> {
    const e = await this.#source.evaluate(this.#model!, this.#spec.options.evalBatches);
    this.lastEval = e;
    this.#metrics.addEval(step, e);
    await this.#metrics.flush();
    await this.#metrics.plot();
    this.#log(
      `step ${step}: val loss ${e.loss.toFixed(4)}, perplexity ${
        e.perplexity.toFixed(2)
      }, accuracy ${(e.accuracy * 100).toFixed(1)}%${
        e.margin !== undefined ? `, margin ${e.margin.toFixed(3)}` : ""
      }`,
    );
    const c = this.#counters;
    if (c.bestValLoss === null || e.loss < c.bestValLoss - 1e-4) {
      c.bestValLoss = e.loss;
      c.evalsWithoutImprovement = 0;
    } else {
      c.evalsWithoutImprovement++;
    }
    return c.evalsWithoutImprovement;
  }

  /** Saves the checkpoint of `step` (weights, AdamW moments, loader, counters), keeps the last K. */
  save(step: number, reason: string): Promise<void> {
    return this.#paused(() => this.#save(step, reason));
  }

  async #save(step: number, reason: string): Promise<void> {
    const o = this.#spec.options;
    const dir = join(this.#runDir, ckptName(step));
    const tensors = await this.step.optimizerState();
    const c = this.#counters;
    const state: TrainerStateJson = {
      step,
      loader: this.#loader.getState(),
      bestValLoss: c.bestValLoss,
      evalsWithoutImprovement: c.evalsWithoutImprovement,
      tokensSeen: c.tokensSeen,
      elapsedSeconds: c.elapsedSeconds + this.sessionSeconds(),
      lastLoss: c.lastLoss,
      backend: this.#ctx.backend.kind,
    };
    await this.#run.save(dir, {
      tokenizer: this.#ctx.tokenizerPath,
      trainerState: { json: { ...state, options: o }, tensors },
      metadata: {
        bentevi_step: String(step),
        bentevi_train_loss: String(c.lastLoss),
        ...(this.lastEval ? { bentevi_val_loss: String(this.lastEval.loss) } : {}),
      },
    });
    this.lastCheckpoint = dir;
    const all = await listCheckpoints(this.#runDir);
    for (const old of all.slice(0, Math.max(0, all.length - o.keepLast))) {
      await Deno.remove(old, { recursive: true }).catch(() => {});
    }
    this.#log(`step ${step}: checkpoint ${dir} (${reason})`);
  }

  /** Writes the remaining metrics and the final plot. */
  async close(): Promise<void> {
    await this.#metrics.flush();
    await this.#metrics.plot();
  }

  /** Frees the device memory of the session. */
  free(): void {
    this.#step?.free();
    this.#run.free();
  }
}

/**
 * What a run trains and how its checkpoints hold it. The default ({@link wholeModel}) trains
 * every weight and checkpoints them all; a run of adapters over a frozen base (LoRA) trains
 * and checkpoints the adapters.
 */
export interface RunModel {
  /**
   * The training model `[B, T]` of the run's options, with the weights of checkpoint
   * `resumeFrom` (one of this run's, saved after step `step`), or the run's starting weights.
   */
  open(resumeFrom: string | undefined, step: number): Promise<TrainableModel>;
  /** Writes checkpoint directory `dir`: what the run trains, with `contents` beside it. */
  save(dir: string, contents: Omit<CheckpointContents, "config" | "weights">): Promise<void>;
  /** Frees the model and its parameters. */
  free(): void;
}

/**
 * The {@link RunModel} that trains every weight: a fresh run starts from `ctx.initialWeights`,
 * else from `run.json`'s `initFrom` directory, else from the seeded initialisation.
 */
export function wholeModel(spec: RunSpec, ctx: TrainContext): RunModel {
  const { config, options: o } = spec;
  const store = new ParameterStore(ctx.backend, config);
  let model: TrainableModel | undefined;
  return {
    async open(resumeFrom) {
      if (resumeFrom) {
        const ck = await loadCheckpoint(resumeFrom);
        if (JSON.stringify(ck.config) !== JSON.stringify(config)) {
          throw new BenteviError(
            `${resumeFrom}: the checkpoint's model differs from the run's run.json`,
          );
        }
        store.load(ck.weights);
      } else if (ctx.initialWeights) {
        store.load(await ctx.initialWeights());
      } else if (spec.initFrom) {
        // Fine-tuning: the directory's weights, read one tensor at a time into the parameters.
        const from = spec.initFrom;
        const ck = await loadCheckpoint(from, { lazy: true });
        const family = familyOf(ck.config);
        if (
          JSON.stringify(family.withContext(ck.config, o.context)) !== JSON.stringify(config)
        ) {
          throw new BenteviError(
            `${from}: the checkpoint's model differs from the run's run.json`,
          );
        }
        store.load(ck.weights);
      } else {
        store.load(initWeights(config, o.seed));
      }
      model = createModel(ctx.backend, config, store, o.batchSize, o.context);
      return model;
    },
    async save(dir, contents) {
      await saveCheckpoint(dir, { config, weights: await store.weights(), ...contents });
    },
    free() {
      model?.free();
      store.free();
    },
  };
}

function sourceOf(ctx: TrainContext): TrainSource {
  if (ctx.source) return ctx.source;
  if (!ctx.data) throw new Error("runTraining: the context needs data or a source");
  return tokenStreamSource(ctx.data);
}

/**
 * Runs (or continues) the training loop of `runDir` until `spec.options.steps`.
 * A fresh run starts from seeded initial weights; with `resumeFrom` (a checkpoint directory
 * written by this loop) it continues exactly where that checkpoint left off.
 */
export async function runTraining(
  runDir: string,
  spec: RunSpec,
  ctx: TrainContext,
  resumeFrom?: string,
): Promise<TrainSummary> {
  const progress = ctx.progress ?? silentProgress;
  const log = ctx.log ?? (() => {});
  const o = spec.options;
  validateTrainOptions(o, spec.config);
  sourceOf(ctx).check(o.context, spec.data);
  checkTrainingFitsMemory(spec, join(runDir, "run.json"));
  const session = new TrainingSession(runDir, spec, ctx);
  let interrupt: StopSignals | undefined;
  const ownSignals = !ctx.signals;
  try {
    await session.open(resumeFrom);
    let startEval: EvalResult | undefined;
    if (ctx.evaluateAtStart && session.startStep === 0) {
      await session.evaluate(0);
      startEval = session.lastEval;
    }
    session.startClock();
    interrupt = ctx.signals ?? new StopSignals(log);
    interrupt.graceful = true;
    progress.start(`train ${spec.model}`, o.steps - session.startStep, "steps");
    log(
      `training ${spec.model} on ${ctx.backend.description}: ${
        o.steps - session.startStep
      } steps × ${o.gradAccum}×${o.batchSize}×${o.context} tokens`,
    );
    const stopReason = await trainSteps(session, o, ctx.backend, interrupt, log);
    await session.close();
    progress.end(
      `${session.losses.length} steps, final loss ${session.lastLoss.toFixed(4)}${
        session.lastEval ? `, val loss ${session.lastEval.loss.toFixed(4)}` : ""
      }`,
    );
    return {
      runDir,
      step: session.startStep + session.losses.length,
      loss: session.lastLoss,
      eval: session.lastEval,
      ...(startEval ? { startEval } : {}),
      checkpoint: session.lastCheckpoint,
      stopReason,
      ...(stopReason === "interrupted" && interrupt.signal ? { signal: interrupt.signal } : {}),
      tokensPerSecond: session.sessionTokensPerSecond(),
      losses: session.losses,
    };
  } finally {
    if (interrupt) interrupt.graceful = false;
    if (ownSignals) interrupt?.dispose();
    session.free();
  }
}

/**
 * The loop over steps: step `s + 1` is recorded before step `s`'s statistics are taken in, so
 * the device never waits for the host; evaluations, checkpoints and stops follow
 * {@link stepActions}, early stopping and Ctrl-C.
 */
async function trainSteps(
  session: TrainingSession,
  o: TrainOptions,
  backend: Backend,
  interrupt: StopSignals,
  log: (line: string) => void,
): Promise<TrainSummary["stopReason"]> {
  let stopReason: TrainSummary["stopReason"] = "steps";
  let pending: PendingStep | null = null;
  for (let s = session.startStep; s < o.steps; s++) {
    const current = session.record(s);
    if (pending) {
      try {
        await session.finish(pending);
      } catch (e) {
        await current.read.catch(() => {});
        throw e;
      }
    }
    pending = current;
    const step = s + 1;
    const act = stepActions(step, o);
    if (act.evaluate || act.save || session.bufferedMetrics >= 50) {
      await session.finish(pending);
      pending = null;
      await session.flushMetrics();
    }
    // The CPU backends never wait on I/O: yield once per step so a signal is noticed.
    if (backend.kind !== "webgpu") await new Promise((r) => setTimeout(r, 0));
    let stop = false;
    if (interrupt.requested && !act.save) {
      if (pending) {
        await session.finish(pending);
        pending = null;
      }
      await session.flushMetrics();
      stop = true;
      stopReason = "interrupted";
    }
    if (act.evaluate) {
      const badEvals = await session.evaluate(step);
      if (o.patience > 0 && badEvals >= o.patience) {
        stop = true;
        stopReason = "early-stopping";
        log(`early stopping: no validation improvement in ${o.patience} evaluations`);
      }
    }
    if (interrupt.requested && act.save) {
      stop = true;
      stopReason = "interrupted";
    }
    if (act.save || stop) {
      await session.save(
        step,
        act.last
          ? "final"
          : stopReason === "interrupted"
          ? "interrupted"
          : stop
          ? "early stop"
          : "periodic",
      );
    }
    if (stop) break;
  }
  if (pending) await session.finish(pending);
  return stopReason;
}
