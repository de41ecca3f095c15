/**
 * A run's curves: `metrics.jsonl` (one JSON record per training step and per evaluation,
 * appended in batches) and the `loss.svg` plot drawn from the same points.
 *
 * @module
 */
import { join } from "node:path";
import { writeError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import type { EvalResult } from "./evaluate.ts";
import { type CurvePoint, lossSvg } from "./loss_svg.ts";

/** One training step's record in `metrics.jsonl`. */
export interface StepMetrics {
  /** The step just completed (1-based). */
  step: number;
  /** Mean training loss of the step. */
  loss: number;
  /** Its learning rate. */
  lr: number;
  /** Gradient norm before clipping. */
  grad_norm: number;
  /**
   * Targets the step's loss counted (positions with a target; fewer than its tokens when
   * targets are masked, as for the prompts and padding of fine-tuning examples).
   */
  targets?: number;
  /**
   * Training tokens per second over the last steps up to this one (a window of
   * `RATE_WINDOW`, fewer at the start of a session), timed from read-backs of completed
   * steps, evaluations and checkpoints left out.
   */
  tokens_per_second: number;
  /** Training tokens seen since the start of the run. */
  tokens: number;
  /** Seconds since the start of the run (all sessions). */
  elapsed_s: number;
}

/**
 * The metrics of a run directory: records are buffered by {@link MetricsLog.addStep} and
 * {@link MetricsLog.addEval} and appended by {@link MetricsLog.flush}; the curves it keeps
 * draw `loss.svg`.
 *
 * @example
 * ```ts
 * import { MetricsLog } from "./metrics.ts";
 * const dir = await Deno.makeTempDir();
 * const log = new MetricsLog(dir, "demo");
 * await log.start();
 * log.addStep({ step: 1, loss: 5, lr: 1e-3, grad_norm: 1, tokens_per_second: 100, tokens: 64, elapsed_s: 1 });
 * await log.flush();
 * console.log((await Deno.readTextFile(`${dir}/metrics.jsonl`)).includes('"loss":5')); // true
 * ```
 */
export class MetricsLog {
  /** Path of `metrics.jsonl`. */
  readonly path: string;
  /** Training loss per step. */
  readonly train: CurvePoint[] = [];
  /** Validation loss per evaluation. */
  readonly val: CurvePoint[] = [];
  readonly #runDir: string;
  readonly #title: string;
  #lines: string[] = [];

  /** The metrics of `runDir`; `model` names the plot. */
  constructor(runDir: string, model: string) {
    this.#runDir = runDir;
    this.path = join(runDir, "metrics.jsonl");
    this.#title = `${model}: loss per step`;
  }

  /** Starts an empty `metrics.jsonl`. */
  async start(): Promise<void> {
    await writeFileAtomic(this.path, "");
  }

  /**
   * For a resume from `step`: keeps the records of steps up to it (a crash may have left later
   * ones) and reloads their curves.
   */
  async resumeAt(step: number): Promise<void> {
    const kept: string[] = [];
    try {
      for (const line of (await Deno.readTextFile(this.path)).split("\n")) {
        if (!line.trim()) continue;
        let rec;
        try {
          rec = JSON.parse(line);
        } catch {
          continue; // a line cut by a kill: drop it, keep the records after it
        }
        if (!rec || typeof rec !== "object" || !(rec.step <= step)) continue;
        kept.push(line);
        if (typeof rec.loss === "number") this.train.push({ step: rec.step, value: rec.loss });
        if (typeof rec.val_loss === "number") {
          this.val.push({ step: rec.step, value: rec.val_loss });
        }
      }
    } catch { /* no metrics yet */ }
    await writeFileAtomic(this.path, kept.length ? kept.join("\n") + "\n" : "");
  }

  /** Records a training step. */
  addStep(record: StepMetrics): void {
    this.train.push({ step: record.step, value: record.loss });
    this.#lines.push(JSON.stringify(record) + "\n");
  }

  /** Records an evaluation after `step`. */
  addEval(step: number, e: EvalResult): void {
    this.#lines.push(
      JSON.stringify({
        step,
        val_loss: e.loss,
        val_perplexity: e.perplexity,
        val_accuracy: e.accuracy,
        val_tokens: e.tokens,
        ...(e.margin !== undefined ? { val_margin: e.margin } : {}),
      }) + "\n",
    );
    this.val.push({ step, value: e.loss });
  }

  /** Records not yet written. */
  get buffered(): number {
    return this.#lines.length;
  }

  /** Appends the buffered records to `metrics.jsonl`. */
  async flush(): Promise<void> {
    if (!this.#lines.length) return;
    let size: number | undefined;
    try {
      size = (await Deno.stat(this.path)).size;
      await Deno.writeTextFile(this.path, this.#lines.join(""), { append: true });
    } catch (e) {
      // A part of the records may have gone in (disk full): keep the file as it was.
      if (size !== undefined) await Deno.truncate(this.path, size).catch(() => {});
      throw writeError(e, this.path);
    }
    this.#lines.length = 0;
  }

  /** (Re)writes `loss.svg` from the curves. */
  async plot(): Promise<void> {
    await writeFileAtomic(
      join(this.#runDir, "loss.svg"),
      lossSvg(this.train, this.val, this.#title),
    );
  }
}
