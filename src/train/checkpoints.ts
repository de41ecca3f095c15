/**
 * `bentevi checkpoints RUN_DIR`: a training run's checkpoints with their step, losses, tokens
 * seen and size, the best by validation loss marked (what `--checkpoint RUN_DIR:best`
 * selects), and the data and batching options the run trained with (`run.json`).
 *
 * @module
 */
import { describeConfig } from "../model/config.ts";
import { type RunCheckpoint, runCheckpoints, runValidationLosses } from "../model/checkpoint.ts";
import { DEFAULT_VAL_FRACTION } from "./data.ts";
import { readRunSpec } from "./trainer.ts";

/** What {@link describeRunCheckpoints} reports. */
export interface RunCheckpointsReport {
  /** The run directory. */
  runDir: string;
  /** The model (preset name and one-line description). */
  model: { preset: string; description: string };
  /** How the run read its data. */
  data: {
    /** Training tokens file (or text). */
    train: string;
    /** Validation file, when separate. */
    val: string | null;
    /** Share held out for validation when there is no separate file. */
    valFraction: number | null;
    /** Tokens per sequence (the training window). */
    context: number;
    /** Sequences per micro-batch. */
    batchSize: number;
    /** Micro-batches per optimizer step. */
    gradAccum: number;
    /** Tokens per optimizer step. */
    tokensPerStep: number;
    /** Seed of initialisation and batch sampling. */
    seed: number;
    /** Steps the run was asked for. */
    steps: number;
    /** Evaluation and checkpoint cadence (0 = at the end only) and checkpoints kept. */
    evalEvery: number;
    /** Save a checkpoint every N steps (0 = at the end only). */
    saveEvery: number;
    /** Checkpoints kept. */
    keepLast: number;
  };
  /** The checkpoints, oldest first. */
  checkpoints: RunCheckpoint[];
  /** The best evaluation of the whole run (`metrics.jsonl`), even if its checkpoint is gone. */
  bestEvaluation: { step: number; valLoss: number } | null;
}

/**
 * A run directory's checkpoints and options.
 *
 * @example
 * ```ts
 * import { describeRunCheckpoints } from "./checkpoints.ts";
 * try {
 *   await describeRunCheckpoints("/no/such/run");
 * } catch (e) {
 *   console.log((e as Error).message); // /no/such/run: not a training run directory (no run.json)
 * }
 * ```
 */
export async function describeRunCheckpoints(runDir: string): Promise<RunCheckpointsReport> {
  const checkpoints = await runCheckpoints(runDir); // refuses a folder without run.json
  const spec = await readRunSpec(runDir);
  const o = spec.options;
  return {
    runDir,
    model: { preset: spec.model, description: describeConfig(spec.config) },
    data: {
      train: spec.data,
      val: spec.valData ?? null,
      valFraction: spec.valData ? null : spec.valFraction ?? DEFAULT_VAL_FRACTION,
      context: o.context,
      batchSize: o.batchSize,
      gradAccum: o.gradAccum,
      tokensPerStep: o.context * o.batchSize * o.gradAccum,
      seed: o.seed,
      steps: o.steps,
      evalEvery: o.evalEvery,
      saveEvery: o.saveEvery,
      keepLast: o.keepLast,
    },
    checkpoints,
    bestEvaluation: await bestEvaluation(runDir),
  };
}

/** The lowest validation loss in a run's evaluation records. */
async function bestEvaluation(runDir: string): Promise<{ step: number; valLoss: number } | null> {
  let best: { step: number; valLoss: number } | null = null;
  for (const [step, valLoss] of await runValidationLosses(runDir)) {
    if (!best || valLoss < best.valLoss) best = { step, valLoss };
  }
  return best;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/**
 * {@link RunCheckpointsReport} as a table for a terminal.
 *
 * @example
 * ```ts
 * import { formatRunCheckpoints } from "./checkpoints.ts";
 * console.log(typeof formatRunCheckpoints); // "function"
 * ```
 */
export function formatRunCheckpoints(r: RunCheckpointsReport): string {
  const d = r.data;
  const lines = [
    `${r.runDir}: ${r.model.preset} (${r.model.description})`,
    `data: ${d.train}` +
    (d.val
      ? `, validation ${d.val}`
      : d.valFraction !== null
      ? `, last ${d.valFraction * 100}% held out for validation`
      : ""),
    `batches: ${d.batchSize} × ${d.context} tokens × ${d.gradAccum} accumulation = ${d.tokensPerStep} tokens per step; ` +
    `seed ${d.seed}; ${d.steps} steps, evaluation every ${d.evalEvery || "run's end"}, ` +
    `checkpoint every ${d.saveEvery || "run's end"}, keeping ${d.keepLast}`,
  ];
  if (!r.checkpoints.length) {
    lines.push("no checkpoint yet");
    return lines.join("\n");
  }
  lines.push("");
  lines.push("  checkpoint      step  train loss  val loss  tokens seen      size");
  for (const c of r.checkpoints) {
    const name = c.dir.split(/[\\/]/).pop()!;
    lines.push(
      `${c.best ? "* " : "  "}${name.padEnd(12)} ${String(c.step).padStart(7)}  ${
        (c.trainLoss?.toFixed(4) ?? "—").padStart(10)
      }  ${(c.valLoss?.toFixed(4) ?? "—").padStart(8)}  ${
        (c.tokensSeen?.toLocaleString("en-US") ?? "—").padStart(11)
      }  ${mb(c.bytes).padStart(8)}`,
    );
  }
  const best = r.checkpoints.find((c) => c.best);
  lines.push("");
  if (best) {
    lines.push(
      `* best by validation loss: ${best.dir} (select it with --checkpoint ${r.runDir}:best)`,
    );
  } else {
    lines.push(
      "no checkpoint was evaluated at its own step: none is marked best (train with --eval-every)",
    );
  }
  const e = r.bestEvaluation;
  if (e && e.step !== best?.step) {
    lines.push(
      `(the run's best evaluation, val loss ${
        e.valLoss.toFixed(4)
      } at step ${e.step}, has no checkpoint left: ` +
        `--keep and --save-every decide which stay)`,
    );
  }
  return lines.join("\n");
}
