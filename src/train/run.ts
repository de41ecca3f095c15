/**
 * The training workflows as library calls — what `train`, `resume`, `eval` and `lr-find` do,
 * without the CLI: open the tokenizer and data, pick the device and the batch shape, prepare
 * the run directory, run the loop.
 *
 * @module
 */
import { type AdapterRef, loadAdapters, withAdapters } from "../finetune/bank.ts";
import { join, resolve } from "node:path";
import type { Backend } from "../backend/backend.ts";
import { createBackend, type DeviceChoice } from "../backend/select.ts";
import { BenteviError } from "../errors.ts";
import { withFolderLock } from "../io/lock.ts";
import {
  isCheckpointSelector,
  listCheckpoints,
  loadCheckpoint,
  resolveCheckpointDir,
} from "../model/checkpoint.ts";
import { isGgufPath } from "../gguf/import.ts";
import { checkpointTokenizer } from "../generate/load.ts";
import { describeConfig, type ModelConfig, parameterCount, presetConfig } from "../model/config.ts";
import { createModel } from "../model/factory.ts";
import { ParameterStore } from "../model/params.ts";
import { familyOf } from "../model/registry.ts";
import type { Progress } from "../progress.ts";
import { Tokenizer } from "../tokenizer/mod.ts";
import { loadTrainingData } from "./data.ts";
import { finetuneContextOf } from "../finetune/finetune.ts";
import { chooseBatchShape } from "./defaults.ts";
import { EVAL_DEFAULTS, type EvalResult, evaluate } from "./evaluate.ts";
import { type LrFindResult, lrRangeTest } from "./lr_find.ts";
import { resolveTrainOptions, type TrainOptions, validateTrainOptions } from "./options.ts";
import {
  checkDataFits,
  checkResumePoint,
  createRunDir,
  readRunSpec,
  type RunSpec,
  runTraining,
  StopSignals,
  type TrainSummary,
} from "./trainer.ts";

/** Where to compute: a `--device` choice or an existing backend (left open afterwards). */
export type DeviceOrBackend = DeviceChoice | Backend;

/** Common options of the workflows. */
export interface WorkflowOptions {
  /** Device (default "auto"). */
  device?: DeviceOrBackend;
  /** Progress sink. */
  progress?: Progress;
  /** One-line notices (device choice, data, checkpoints…). */
  log?: (line: string) => void;
}

/** Options of {@link startTraining}; unset hyper-parameters take the defaults. */
export interface StartTrainingOptions extends WorkflowOptions, Partial<TrainOptions> {
  /** Dataset: `PREFIX.train.bin`, a text file or a folder of `.txt`. */
  data: string;
  /** `tokenizer.json`. */
  tokenizer: string;
  /**
   * Model preset name, or a checkpoint directory (Bentevi's, or a Hugging Face one) to
   * fine-tune: its configuration, starting from its weights.
   */
  model: string;
  /** Run directory. */
  out: string;
  /** Separate validation `.bin`. */
  valData?: string;
  /** Held-out share when there is no separate validation file (0.1). */
  valFraction?: number;
  /** Replace an existing run directory. */
  force?: boolean;
}

/** Runs `fn` on the chosen device (a backend created for it is destroyed afterwards). */
export async function withBackend<T>(
  device: DeviceOrBackend | undefined,
  log: (line: string) => void,
  fn: (backend: Backend) => Promise<T>,
): Promise<T> {
  if (device && typeof device === "object") return await fn(device);
  const backend = await createBackend(device ?? "auto", { log });
  try {
    return await fn(backend);
  } finally {
    backend.destroy();
  }
}

/**
 * Runs `fn` with the run directory locked (created when `create`) and SIGINT/SIGTERM handled:
 * during the loop a signal finishes the step and saves; before it, the command quits at once
 * with 130/143. The lock is released on every way out.
 */
export async function withRunDir<T>(
  runDir: string,
  command: string,
  create: boolean,
  log: (line: string) => void,
  fn: (signals: StopSignals) => Promise<T>,
): Promise<T> {
  const signals = new StopSignals(log);
  try {
    return await withFolderLock(runDir, { command, create, log }, () => fn(signals));
  } finally {
    signals.dispose();
  }
}

/**
 * The batch shape for `preset` on `backend` (the given sizes, or chosen from the device; the
 * choice is logged) and the configuration to train at that shape.
 */
function presetForTraining(
  base: ModelConfig,
  preset: string,
  backend: Backend,
  given: { batchSize?: number; context?: number },
  log: (line: string) => void,
): { config: ModelConfig; shape: { batchSize: number; context: number } } {
  const shape = chooseBatchShape(base, backend, {
    batchSize: given.batchSize,
    context: given.context,
  });
  log(shape.note);
  const family = familyOf(base);
  if (shape.context > family.maxContext(base)) {
    throw new BenteviError(
      `--context ${shape.context} exceeds ${preset}'s context length ${base.contextLength}`,
    );
  }
  // GPT keeps the preset's position table; RWKV records the training length.
  const config: ModelConfig = family.withContext(base, shape.context);
  return { config, shape };
}

/**
 * Trains a preset from scratch into a new run directory (what `bentevi train` does).
 *
 * @example
 * ```ts
 * import { startTraining } from "./run.ts";
 * const summary = await startTraining({
 *   data: "corpus.txt", tokenizer: "tokenizer.json", model: "gpt-micro", out: "runs/demo",
 *   steps: 100, device: "auto",
 * }).catch((e) => console.error(e.message));
 * console.log(summary);
 * ```
 */
export async function startTraining(o: StartTrainingOptions): Promise<TrainSummary> {
  const log = o.log ?? (() => {});
  return await withRunDir(o.out, "train", true, log, (signals) => train(o, log, signals));
}

async function train(
  o: StartTrainingOptions,
  log: (line: string) => void,
  signals: StopSignals,
): Promise<TrainSummary> {
  const tokenizer = await Tokenizer.fromFile(o.tokenizer);
  const initFrom = await checkpointDirOf(o.model);
  let base: ModelConfig;
  if (initFrom) {
    base = (await loadCheckpoint(initFrom, { lazy: true })).config; // headers only
    if (tokenizer.vocabSize > base.vocabSize) {
      throw new BenteviError(
        `${o.tokenizer}: the tokenizer has ${tokenizer.vocabSize} tokens but the model in ` +
          `${initFrom} only ${base.vocabSize} (incompatible tokenizer)`,
      );
    }
  } else base = presetConfig(o.model, tokenizer.vocabSize);
  return await withBackend(o.device, log, async (backend) => {
    const { config, shape } = presetForTraining(base, o.model, backend, o, log);
    const options: TrainOptions = {
      ...resolveTrainOptions(config, o),
      batchSize: shape.batchSize,
      context: shape.context,
    };
    validateTrainOptions(options, config);
    const data = await loadTrainingData(o.data, tokenizer, {
      valPath: o.valData,
      valFraction: o.valFraction,
    });
    try {
      log(`data: ${data.description}`);
      checkDataFits(data, options.context, o.data);
      log(
        `model: ${describeConfig(config)}, ${
          parameterCount(config).toLocaleString("en")
        } parameters`,
      );
      const spec: RunSpec = {
        version: 1,
        model: o.model,
        config,
        options,
        data: resolve(o.data),
        valData: o.valData ? resolve(o.valData) : undefined,
        valFraction: o.valFraction,
        device: typeof o.device === "object" ? o.device.kind : o.device ?? "auto",
        ...(initFrom ? { initFrom } : {}),
      };
      const inputs = [
        o.data,
        o.tokenizer,
        ...(o.valData ? [o.valData] : []),
        ...(initFrom ? [initFrom] : []),
      ];
      await createRunDir(o.out, spec, o.tokenizer, !!o.force, inputs);
      return await runTraining(o.out, spec, {
        backend,
        data,
        tokenizerPath: join(o.out, "tokenizer.json"),
        progress: o.progress,
        log,
        signals,
      });
    } finally {
      data.close();
    }
  });
}

/**
 * The checkpoint directory `model` names (a run directory stands for its latest checkpoint),
 * absolute; undefined for a preset name.
 */
async function checkpointDirOf(model: string): Promise<string | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(model);
  } catch {
    if (isCheckpointSelector(model)) return resolve(await resolveCheckpointDir(model));
    return undefined; // a preset name (presetConfig says so when it is none)
  }
  if (!info.isDirectory) {
    if (await isGgufPath(model)) return resolve(model); // a GGUF file is a checkpoint too
    throw new BenteviError(
      `${model}: --model is a preset name, a checkpoint directory or a GGUF file`,
    );
  }
  return resolve(await resolveCheckpointDir(model));
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Continues a run from its latest checkpoint, exactly (what `bentevi resume` does); `steps`
 * is the new total counted from the start of the run. It runs on the device the run was
 * started with (`run.json`) unless `device` names another; only the same device continues
 * the losses bit for bit.
 *
 * @example
 * ```ts
 * import { resumeTraining } from "./run.ts";
 * await resumeTraining("runs/demo", { steps: 200 }).catch((e) => console.error(e.message));
 * ```
 */
export async function resumeTraining(
  runDir: string,
  o: WorkflowOptions & { steps?: number } = {},
): Promise<TrainSummary> {
  const log = o.log ?? (() => {});
  await readRunSpec(runDir); // not a run directory: say so before taking a lock
  return await withRunDir(
    runDir,
    "resume",
    false,
    log,
    (signals) => resume(runDir, o, log, signals),
  );
}

async function resume(
  runDir: string,
  o: WorkflowOptions & { steps?: number },
  log: (line: string) => void,
  signals: StopSignals,
): Promise<TrainSummary> {
  const spec = await readRunSpec(runDir);
  for (const data of [spec.data, spec.valData, ...(spec.finetune?.data ?? [])]) {
    // say where a vanished data path comes from (run.json), not only that it is missing
    if (data !== undefined && !(await pathExists(data))) {
      throw new BenteviError(`${join(runDir, "run.json")}: the run's data ${data} is not found`);
    }
  }
  const ckpts = await listCheckpoints(runDir);
  if (!ckpts.length) throw new BenteviError(`${runDir}: no checkpoint to resume from`);
  await checkResumePoint(runDir, spec, ckpts[ckpts.length - 1]);
  if (o.steps !== undefined) spec.options.steps = o.steps;
  const tokenizerPath = join(runDir, "tokenizer.json");
  const tokenizer = await Tokenizer.fromFile(tokenizerPath);
  // The run's own device unless told otherwise: another device gives other float rounding,
  // so only the same one continues the losses bit for bit.
  return await withBackend(o.device ?? spec.device as DeviceChoice, log, async (backend) => {
    if (spec.finetune) {
      // a fine-tuning run: its examples, made again from run.json's description
      return await runTraining(runDir, spec, {
        backend,
        ...(await finetuneContextOf(runDir, spec)),
        tokenizerPath,
        progress: o.progress,
        log,
        signals,
      }, ckpts[ckpts.length - 1]);
    }
    const data = await loadTrainingData(spec.data, tokenizer, {
      valPath: spec.valData,
      valFraction: spec.valFraction,
    });
    try {
      return await runTraining(runDir, spec, {
        backend,
        data,
        tokenizerPath,
        progress: o.progress,
        log,
        signals,
      }, ckpts[ckpts.length - 1]);
    } finally {
      data.close();
    }
  });
}

/**
 * Loss, perplexity and next-token accuracy of a checkpoint (or a run's latest) on all of a
 * dataset (what `bentevi eval` does).
 *
 * @example
 * ```ts
 * import { evaluateCheckpoint } from "./run.ts";
 * const r = await evaluateCheckpoint("runs/demo", "val.txt").catch((e) => console.error(e.message));
 * console.log(r);
 * ```
 */
export async function evaluateCheckpoint(
  checkpoint: string,
  dataPath: string,
  o: WorkflowOptions & {
    batchSize?: number;
    context?: number;
    batches?: number;
    /** LoRA adapters merged in (their updates add up). */
    adapters?: readonly AdapterRef[];
  } = {},
): Promise<EvalResult & { checkpoint: string }> {
  const log = o.log ?? (() => {});
  const dir = (await isGgufPath(checkpoint)) ? checkpoint : await resolveCheckpointDir(checkpoint);
  const ckpt = await loadCheckpoint(dir, { lazy: true }); // weights read into the store one by one
  const { tokenizer } = await checkpointTokenizer(ckpt);
  const T = o.context ?? ckpt.config.contextLength;
  if (T > familyOf(ckpt.config).maxContext(ckpt.config)) {
    throw new BenteviError(`--context ${T} exceeds the model's ${ckpt.config.contextLength}`);
  }
  const adapters = await loadAdapters(o.adapters ?? [], ckpt.config, ckpt.weights);
  const data = await loadTrainingData(dataPath, tokenizer, { wholeAsValidation: true });
  try {
    return await withBackend(o.device, log, async (backend) => {
      const store = new ParameterStore(backend, ckpt.config);
      store.load(withAdapters(ckpt.weights, adapters.map((a) => a.adapter)));
      const model = createModel(
        backend,
        ckpt.config,
        store,
        o.batchSize ?? EVAL_DEFAULTS.batchSize,
        T,
      );
      try {
        return {
          checkpoint: dir,
          ...(await evaluate(model, data.val.tokens, o.batches ?? EVAL_DEFAULTS.batches)),
        };
      } finally {
        model.free();
        store.free();
      }
    });
  } finally {
    data.close();
  }
}

/**
 * The learning-rate range test on a preset (what `bentevi lr-find` does).
 *
 * @example
 * ```ts
 * import { findLearningRate } from "./run.ts";
 * const r = await findLearningRate({ data: "corpus.txt", tokenizer: "tokenizer.json", model: "gpt-micro" })
 *   .catch((e) => console.error(e.message));
 * console.log(r?.suggested);
 * ```
 */
export async function findLearningRate(
  o: WorkflowOptions & {
    data: string;
    tokenizer: string;
    model: string;
    steps?: number;
    startLr?: number;
    endLr?: number;
    batchSize?: number;
    context?: number;
    seed?: number;
  },
): Promise<LrFindResult> {
  const log = o.log ?? (() => {});
  if (o.startLr !== undefined && o.endLr !== undefined && !(o.endLr > o.startLr)) {
    throw new BenteviError(`--start-lr must be smaller than --end-lr`);
  }
  const tokenizer = await Tokenizer.fromFile(o.tokenizer);
  const initFrom = await checkpointDirOf(o.model);
  let base: ModelConfig;
  if (initFrom) {
    base = (await loadCheckpoint(initFrom, { lazy: true })).config; // headers only
    if (tokenizer.vocabSize > base.vocabSize) {
      throw new BenteviError(
        `${o.tokenizer}: the tokenizer has ${tokenizer.vocabSize} tokens but the model in ` +
          `${initFrom} only ${base.vocabSize} (incompatible tokenizer)`,
      );
    }
  } else base = presetConfig(o.model, tokenizer.vocabSize);
  return await withBackend(o.device, log, async (backend) => {
    const { config, shape } = presetForTraining(base, o.model, backend, o, log);
    const data = await loadTrainingData(o.data, tokenizer);
    try {
      checkDataFits(data, shape.context, o.data);
      return await lrRangeTest(backend, config, data.train, {
        batchSize: shape.batchSize,
        context: shape.context,
        startLr: o.startLr,
        endLr: o.endLr,
        steps: o.steps,
        seed: o.seed,
        progress: o.progress,
      });
    } finally {
      data.close();
    }
  });
}
