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
import { join, resolve } from "node:path";
import type { Backend, Tensor } from "../backend/backend.ts";
import { BatchLoader, type BatchLoaderState } from "../data/dataset/loader.ts";
import { BenteviError, fsError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import type { NamedTensor } from "../io/safetensors.ts";
import {
  listCheckpoints,
  loadCheckpoint,
  loadTrainerState,
  saveCheckpoint,
} from "../model/checkpoint.ts";
import { configFromJson, configToJson, type ModelConfig } from "../model/config.ts";
import { createModel } from "../model/factory.ts";
import { initWeights } from "../model/init.ts";
import type { TrainableModel } from "../model/model.ts";
import { ParameterStore } from "../model/params.ts";
import { familyOf } from "../model/registry.ts";
import { type Progress, silentProgress } from "../progress.ts";
import type { TrainingData } from "./data.ts";
import { type EvalResult, evaluate } from "./evaluate.ts";
import { type CurvePoint, lossSvg } from "./loss_svg.ts";
import { learningRate } from "./schedule.ts";

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

/** Default hyper-parameters (learning rate depends on the model width). */
export function defaultTrainOptions(
  config: ModelConfig,
  steps = 1000,
): Omit<TrainOptions, "batchSize" | "context"> {
  const lr = config.dModel <= 256 ? 1e-3 : 6e-4;
  return {
    steps,
    gradAccum: 1,
    lr,
    minLr: lr / 10,
    warmup: Math.min(100, Math.max(1, Math.floor(steps / 10))),
    decaySteps: steps,
    weightDecay: 0.1,
    decayEmbeddings: false,
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    clip: 1.0,
    evalEvery: Math.max(1, Math.floor(steps / 10)),
    evalBatches: 20,
    saveEvery: Math.max(1, Math.floor(steps / 5)),
    keepLast: 2,
    seed: 1337,
    patience: 0,
  };
}

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
  /** Last checkpoint directory. */
  checkpoint: string;
  /** Why the loop ended. */
  stopReason: "steps" | "early-stopping" | "interrupted";
  /** Training tokens per second over the run (this session). */
  tokensPerSecond: number;
  /** Training losses of the steps run in this session (for tests and benches). */
  losses: number[];
}

/** Everything a run needs that is not in `run.json`. */
export interface TrainContext {
  /** Compute backend. */
  backend: Backend;
  /** Token data. */
  data: TrainingData;
  /** Path of the tokenizer.json to store with checkpoints. */
  tokenizerPath: string;
  /** Progress sink (bar/lines). */
  progress?: Progress;
  /** One-line notices. */
  log?: (line: string) => void;
}

const CKPT_PREFIX = "step-";
const ckptName = (step: number) => `${CKPT_PREFIX}${String(step).padStart(6, "0")}`;

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw fsError(e, path);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new BenteviError(`${path}: not valid JSON`);
  }
}

/** Reads and checks a run's `run.json`. */
export async function readRunSpec(runDir: string): Promise<RunSpec> {
  const path = join(runDir, "run.json");
  const json = await readJson(path) as RunSpec;
  if (!json || json.version !== 1 || !json.options || !json.config || !json.data) {
    throw new BenteviError(`${path}: not a Bentevi run description`);
  }
  json.config = configFromJson(configToJson(json.config), path);
  return json;
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

/**
 * Prepares a new run directory: refuses an existing non-empty one unless `force` (then
 * replaces it), writes `run.json` and copies the tokenizer.
 */
export async function createRunDir(
  runDir: string,
  spec: RunSpec,
  tokenizerPath: string,
  force: boolean,
): Promise<void> {
  let exists = false;
  try {
    for await (const _ of Deno.readDir(runDir)) {
      exists = true;
      break;
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw fsError(e, runDir);
  }
  if (exists) {
    if (!force) {
      throw new BenteviError(
        `${runDir}: the run directory already exists; use \`resume ${runDir}\` to continue it or --force to start over`,
      );
    }
    await Deno.remove(runDir, { recursive: true });
  }
  await Deno.mkdir(runDir, { recursive: true });
  await writeFileAtomic(join(runDir, "run.json"), JSON.stringify(spec, null, 2) + "\n");
  let tok: Uint8Array;
  try {
    tok = await Deno.readFile(tokenizerPath);
  } catch (e) {
    throw fsError(e, tokenizerPath);
  }
  await writeFileAtomic(join(runDir, "tokenizer.json"), tok);
}

interface TrainerStateJson {
  step: number;
  loader: BatchLoaderState;
  bestValLoss: number | null;
  evalsWithoutImprovement: number;
  tokensSeen: number;
  elapsedSeconds: number;
  lastLoss: number;
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
  const { backend, data } = ctx;
  const progress = ctx.progress ?? silentProgress;
  const log = ctx.log ?? (() => {});
  const o = spec.options;
  const config = spec.config;
  validateTrainOptions(o, config);
  const B = o.batchSize, T = o.context, K = o.gradAccum, N = B * T;
  checkDataFits(data, T, spec.data);

  const store = new ParameterStore(backend, config);
  const total = store.layout.total;
  const m = backend.zeros([total]);
  const v = backend.zeros([total]);
  const mask = backend.fromArray([total], store.decayMask(o.decayEmbeddings));
  const stats = backend.zeros([2 * 64]);
  const lossSum = backend.view(stats, 0, [1]);
  const normSq = backend.view(stats, 64, [1]);
  const loader = new BatchLoader(data.train, { batchSize: B, context: T, seed: o.seed });
  let model: TrainableModel | null = null;

  let startStep = 0;
  let bestVal: number | null = null;
  let badEvals = 0;
  let tokensSeen = 0;
  let elapsedBefore = 0;
  let lastLoss = NaN;
  const trainCurve: CurvePoint[] = [];
  const valCurve: CurvePoint[] = [];
  const metricsPath = join(runDir, "metrics.jsonl");
  let removeSigint = () => {};

  try {
    if (resumeFrom) {
      const ck = await loadCheckpoint(resumeFrom);
      if (JSON.stringify(ck.config) !== JSON.stringify(config)) {
        throw new BenteviError(
          `${resumeFrom}: the checkpoint's model differs from the run's run.json`,
        );
      }
      const st = await loadTrainerState(resumeFrom);
      const j = st.json as unknown as TrainerStateJson;
      const mT = st.tensors?.get("adamw.m"), vT = st.tensors?.get("adamw.v");
      if (!mT || !vT || mT.data.length !== total || vT.data.length !== total) {
        throw new BenteviError(
          `${resumeFrom}: optimizer.safetensors is missing or from another model`,
        );
      }
      store.load(ck.weights);
      backend.write(m, mT.data);
      backend.write(v, vT.data);
      loader.setState(j.loader);
      startStep = j.step;
      bestVal = j.bestValLoss;
      badEvals = j.evalsWithoutImprovement;
      tokensSeen = j.tokensSeen;
      elapsedBefore = j.elapsedSeconds;
      lastLoss = j.lastLoss;
      // Keep the metrics of steps up to the checkpoint (a crash may have left later ones).
      const kept: string[] = [];
      try {
        for (const line of (await Deno.readTextFile(metricsPath)).split("\n")) {
          if (!line.trim()) continue;
          const rec = JSON.parse(line);
          if (rec.step > startStep) continue;
          kept.push(line);
          if (typeof rec.loss === "number") trainCurve.push({ step: rec.step, value: rec.loss });
          if (typeof rec.val_loss === "number") {
            valCurve.push({ step: rec.step, value: rec.val_loss });
          }
        }
      } catch { /* no metrics yet */ }
      await writeFileAtomic(metricsPath, kept.length ? kept.join("\n") + "\n" : "");
      log(`resuming ${runDir} from step ${startStep} (${resumeFrom})`);
    } else {
      store.load(initWeights(config, o.seed));
      await writeFileAtomic(metricsPath, "");
    }
    if (startStep >= o.steps) {
      throw new BenteviError(
        `${runDir}: already at step ${startStep}; pass --steps TOTAL larger than ${startStep} to continue`,
      );
    }
    model = createModel(backend, config, store, B, T);
    const mdl = model;

    const inputs = new Int32Array(N);
    const targets = new Int32Array(N);
    const metricsLines: string[] = [];
    const flushMetrics = async () => {
      if (!metricsLines.length) return;
      await Deno.writeTextFile(metricsPath, metricsLines.join(""), { append: true });
      metricsLines.length = 0;
    };
    let lastCheckpoint = resumeFrom ?? "";
    const sessionStart = performance.now();
    let tPrev = sessionStart;
    let sessionTokens = 0;
    const losses: number[] = [];
    let lastEval: EvalResult | undefined;
    let stopReason: TrainSummary["stopReason"] = "steps";

    const recordStep = (s: number) => {
      const lr = learningRate(s, {
        lr: o.lr,
        minLr: o.minLr,
        warmup: o.warmup,
        decaySteps: o.decaySteps,
      });
      backend.fill(store.grads, 0);
      for (let k = 0; k < K; k++) {
        loader.next(inputs, targets);
        backend.write(mdl.ids, inputs);
        backend.write(mdl.targets, targets);
        mdl.forward(true, 1 / (N * K));
        mdl.backward();
        backend.sum(lossSum, mdl.losses, k > 0);
      }
      backend.sumSquares(normSq, store.grads);
      backend.adamw({
        params: store.params,
        grads: store.grads,
        m,
        v,
        decayMask: mask,
        hp: {
          lr,
          beta1: o.beta1,
          beta2: o.beta2,
          eps: o.eps,
          weightDecay: o.weightDecay,
          step: s + 1,
          gradScale: 1,
        },
        clip: o.clip > 0 ? { normSquared: normSq, maxNorm: o.clip } : undefined,
      });
      backend.flush();
      return lr;
    };

    const save = async (step: number, reason: string) => {
      const dir = join(runDir, ckptName(step));
      const weights = await store.weights();
      const mm = (await backend.read(m)) as Float32Array;
      const vv = (await backend.read(v)) as Float32Array;
      const state: TrainerStateJson = {
        step,
        loader: loader.getState(),
        bestValLoss: bestVal,
        evalsWithoutImprovement: badEvals,
        tokensSeen,
        elapsedSeconds: elapsedBefore + (performance.now() - sessionStart) / 1000,
        lastLoss,
      };
      const tensors = new Map<string, NamedTensor>([
        ["adamw.m", { shape: [total], data: mm }],
        ["adamw.v", { shape: [total], data: vv }],
      ]);
      await saveCheckpoint(dir, {
        config,
        weights,
        tokenizer: ctx.tokenizerPath,
        trainerState: { json: { ...state, options: o }, tensors },
        metadata: {
          bentevi_step: String(step),
          bentevi_train_loss: String(lastLoss),
          ...(lastEval ? { bentevi_val_loss: String(lastEval.loss) } : {}),
        },
      });
      lastCheckpoint = dir;
      const all = await listCheckpoints(runDir);
      for (const old of all.slice(0, Math.max(0, all.length - o.keepLast))) {
        await Deno.remove(old, { recursive: true }).catch(() => {});
      }
      log(`step ${step}: checkpoint ${dir} (${reason})`);
    };

    const runEval = async (step: number) => {
      lastEval = await evaluate(mdl, data.val.tokens, o.evalBatches);
      metricsLines.push(
        JSON.stringify({
          step,
          val_loss: lastEval.loss,
          val_perplexity: lastEval.perplexity,
          val_accuracy: lastEval.accuracy,
          val_tokens: lastEval.tokens,
        }) + "\n",
      );
      valCurve.push({ step, value: lastEval.loss });
      await flushMetrics();
      await writeFileAtomic(
        join(runDir, "loss.svg"),
        lossSvg(trainCurve, valCurve, `${spec.model}: loss per step`),
      );
      log(
        `step ${step}: val loss ${lastEval.loss.toFixed(4)}, perplexity ${
          lastEval.perplexity.toFixed(2)
        }, accuracy ${(lastEval.accuracy * 100).toFixed(1)}%`,
      );
      if (bestVal === null || lastEval.loss < bestVal - 1e-4) {
        bestVal = lastEval.loss;
        badEvals = 0;
      } else {
        badEvals++;
      }
    };

    // Handles the read-back of step `s` (loss and gradient norm).
    type StepRead = { vals: Float32Array; at: number };
    const finishStep = (s: number, lr: number, r: StepRead) => {
      const vals = r.vals;
      const loss = vals[0] / (N * K);
      const gnorm = Math.sqrt(vals[64]);
      const now = r.at;
      const dt = (now - tPrev) / 1000;
      tPrev = now;
      tokensSeen += N * K;
      sessionTokens += N * K;
      const tps = (N * K) / Math.max(dt, 1e-9);
      lastLoss = loss;
      losses.push(loss);
      trainCurve.push({ step: s + 1, value: loss });
      metricsLines.push(
        JSON.stringify({
          step: s + 1,
          loss,
          lr,
          grad_norm: gnorm,
          tokens_per_second: Math.round(tps),
          tokens: tokensSeen,
          elapsed_s: +(elapsedBefore + (now - sessionStart) / 1000).toFixed(3),
        }) + "\n",
      );
      const avgTps = sessionTokens / Math.max((now - sessionStart) / 1000, 1e-9);
      progress.update(
        s + 1 - startStep,
        `step ${s + 1}/${o.steps}  loss ${loss.toFixed(4)}  lr ${lr.toExponential(2)}  ${
          Math.round(avgTps)
        } tok/s`,
      );
      if (!Number.isFinite(loss) || !Number.isFinite(gnorm)) {
        const what = !Number.isFinite(loss) ? `loss is ${loss}` : `gradient norm is ${gnorm}`;
        throw new BenteviError(
          `step ${s + 1}: ${what} — training stopped; ${
            lastCheckpoint || "no checkpoint was saved yet"
          }${lastCheckpoint ? " is the last good checkpoint" : ""} (try a lower --lr or --clip 1)`,
        );
      }
    };

    // Ctrl-C: finish the current step, save a checkpoint, stop (resume continues exactly).
    let interrupted = false;
    const onSigint = () => {
      if (interrupted) Deno.exit(130);
      interrupted = true;
      log("interrupted: saving a checkpoint after this step (Ctrl-C again to quit now)");
    };
    try {
      Deno.addSignalListener("SIGINT", onSigint);
      removeSigint = () => Deno.removeSignalListener("SIGINT", onSigint);
    } catch { /* signals unavailable (e.g. some platforms): no graceful stop */ }
    progress.start(`train ${spec.model}`, o.steps - startStep, "steps");
    log(
      `training ${spec.model} on ${backend.description}: ${
        o.steps - startStep
      } steps × ${K}×${B}×${T} tokens`,
    );
    type Pending = { s: number; lr: number; read: Promise<StepRead> };
    let pending: Pending | null = null;
    for (let s = startStep; s < o.steps; s++) {
      const lr = recordStep(s);
      const read = backend.read(stats).then((vals) => ({
        vals: vals as Float32Array,
        at: performance.now(),
      }));
      if (pending) {
        const p: Pending = pending;
        try {
          finishStep(p.s, p.lr, await p.read);
        } catch (e) {
          await read.catch(() => {});
          throw e;
        }
      }
      pending = { s, lr, read };
      const step = s + 1;
      const isLast = step === o.steps;
      const doEval = isLast || (o.evalEvery > 0 && step % o.evalEvery === 0);
      const doSave = isLast || (o.saveEvery > 0 && step % o.saveEvery === 0);
      if (doEval || doSave || metricsLines.length >= 50) {
        finishStep(pending.s, pending.lr, await pending.read);
        pending = null;
        await flushMetrics();
      }
      // The CPU backend never waits on I/O: yield once per step so Ctrl-C is noticed.
      if (backend.kind === "cpu") await new Promise((r) => setTimeout(r, 0));
      let stop = false;
      if (interrupted && !doSave) {
        if (pending) {
          finishStep(pending.s, pending.lr, await pending.read);
          pending = null;
        }
        await flushMetrics();
        stop = true;
        stopReason = "interrupted";
      }
      if (doEval) {
        await runEval(step);
        if (o.patience > 0 && badEvals >= o.patience) {
          stop = true;
          stopReason = "early-stopping";
          log(`early stopping: no validation improvement in ${o.patience} evaluations`);
        }
      }
      if (interrupted && doSave) {
        stop = true;
        stopReason = "interrupted";
      }
      if (doSave || stop) {
        await save(
          step,
          isLast
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
    if (pending) finishStep(pending.s, pending.lr, await pending.read);
    await flushMetrics();
    await writeFileAtomic(
      join(runDir, "loss.svg"),
      lossSvg(trainCurve, valCurve, `${spec.model}: loss per step`),
    );
    const seconds = (performance.now() - sessionStart) / 1000;
    progress.end(
      `${losses.length} steps, final loss ${lastLoss.toFixed(4)}${
        lastEval ? `, val loss ${lastEval.loss.toFixed(4)}` : ""
      }`,
    );
    return {
      runDir,
      step: startStep + losses.length,
      loss: lastLoss,
      eval: lastEval,
      checkpoint: lastCheckpoint,
      stopReason,
      tokensPerSecond: sessionTokens / Math.max(seconds, 1e-9),
      losses,
    };
  } finally {
    removeSigint();
    model?.free();
    for (const t of [m, v, mask, stats] as Tensor[]) backend.free(t);
    store.free();
  }
}

/** Absolute path helper for `run.json`. */
export function absolute(path: string): string {
  return resolve(path);
}
