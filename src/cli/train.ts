/**
 * CLI command group: training. `train`, `resume`, `eval`, `lr-find`, `info`, and the `train`
 * bench suite. Parses flags, calls src/train and src/model, prints — nothing else.
 *
 * @module
 */
import { type Command, Option, type OptionValues } from "@commander-js/extra-typings";
import { join } from "node:path";
import type { Backend } from "../backend/backend.ts";
import { createBackend, type DeviceChoice } from "../backend/select.ts";
import { BenteviError } from "../errors.ts";
import {
  configToJson,
  describeConfig,
  loadCheckpoint,
  MODEL_PRESETS,
  type ModelConfig,
  modelSpecConfig,
  parameterCount,
  presetConfig,
  presetVocabSize,
} from "../model/mod.ts";
import { consoleProgress } from "../progress.ts";
import { Tokenizer } from "../tokenizer/mod.ts";
import {
  BENCH_GPT,
  benchTrainSteps,
  DEFAULT_PRESET,
  EVAL_DEFAULTS,
  evaluateCheckpoint,
  findLearningRate,
  LR_FIND_DEFAULTS,
  renderLrCurve,
  resumeTraining,
  startTraining,
  STOP_SIGNALS,
  TRAIN_OPTION_TABLE,
  trainDefault,
  type TrainOptions,
  type TrainSummary,
} from "../train/mod.ts";
import { describeRunCheckpoints, formatRunCheckpoints } from "../train/checkpoints.ts";
import { DEFAULT_VAL_FRACTION } from "../train/data.ts";
import { registerBenchSuite } from "./bench.ts";
import {
  adapterOption,
  checkpointOption,
  deviceOption,
  deviceOptionFrom,
  floatOption,
  intOption,
  printJson,
  threadsOption,
} from "./common.ts";

/** The commander property of a flag (`grad-accum` → `gradAccum`). */
const optionName = (flag: string) => flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());

/**
 * Adds a flag for each hyper-parameter of the training-options table that has one; the flags
 * in `noDefault` get no default value (the command computes one when they are absent).
 */
export function addTrainOptionFlags<
  A extends unknown[],
  O extends OptionValues,
  G extends OptionValues,
>(
  command: Command<A, O, G>,
  noDefault: readonly string[] = [],
): Command<A, O, G> {
  for (const row of TRAIN_OPTION_TABLE) {
    if (!row.flag) continue;
    if (row.type === "switch") {
      command.option(`--${row.flag}`, row.help);
      continue;
    }
    const flags = `--${row.flag} ${row.type === "int" ? "<n>" : "<x>"}`;
    const parse = row.type === "int" ? intOption(row.min) : floatOption(row.min);
    if (typeof row.default === "number" && !noDefault.includes(row.flag)) {
      command.option(flags, row.help, parse, row.default);
    } else command.option(flags, row.help, parse);
  }
  return command;
}

/** The hyper-parameters given by the flags of {@link addTrainOptionFlags}. */
export function trainOptionsFrom(o: OptionValues): Partial<TrainOptions> {
  const given: Record<string, unknown> = {};
  for (const row of TRAIN_OPTION_TABLE) {
    if (!row.flag) continue;
    const value = o[optionName(row.flag)];
    given[row.key] = row.type === "switch" ? !!value : value;
  }
  return given;
}

const log = (line: string) => console.error(line);

async function openBackend(device: DeviceChoice): Promise<Backend> {
  return await createBackend(device, { log });
}

function summaryText(s: TrainSummary): string {
  const lines = [
    `run: ${s.runDir}`,
    `steps: ${s.step} (${
      s.stopReason === "early-stopping"
        ? "stopped early"
        : s.stopReason === "interrupted"
        ? "interrupted; `resume` continues"
        : "done"
    })`,
    `train loss: ${s.loss.toFixed(4)}`,
  ];
  if (s.eval) {
    lines.push(
      `val loss: ${s.eval.loss.toFixed(4)}  perplexity: ${
        s.eval.perplexity.toFixed(2)
      }  accuracy: ${(s.eval.accuracy * 100).toFixed(1)}%`,
    );
  }
  lines.push(
    `tokens/s: ${Math.round(s.tokensPerSecond)}`,
    `checkpoint: ${s.checkpoint}`,
    `curves: ${join(s.runDir, "metrics.jsonl")}, ${join(s.runDir, "loss.svg")}`,
  );
  return lines.join("\n");
}

/**
 * Prints a run's summary as text, or as one JSON line; a run stopped by SIGINT or SIGTERM
 * then ends the command with 130 or 143 (its checkpoint is saved; `resume` continues).
 */
export function printSummary(
  s: TrainSummary,
  json: boolean,
  more?: { lines: string[]; json: Record<string, unknown> },
): void {
  if (json) printJson({ ...summaryJson(s), ...more?.json });
  else console.log([...(more?.lines ?? []), summaryText(s)].join("\n"));
  if (s.signal) {
    throw new BenteviError(
      `stopped by ${s.signal} at step ${s.step}; checkpoint ${s.checkpoint} saved — \`resume ${s.runDir}\` continues`,
      STOP_SIGNALS[s.signal],
    );
  }
}

function summaryJson(s: TrainSummary): Record<string, unknown> {
  return {
    run_dir: s.runDir,
    step: s.step,
    loss: s.loss,
    val_loss: s.eval?.loss,
    val_perplexity: s.eval?.perplexity,
    val_accuracy: s.eval?.accuracy,
    tokens_per_second: s.tokensPerSecond,
    checkpoint: s.checkpoint,
    stop_reason: s.stopReason,
  };
}

/** Registers this group's commands on `program`. */
export function registerTrain(program: Command): void {
  const train = program
    .command("train")
    .description("train a GPT or RWKV-4 model from a preset on a dataset (.bin or text)")
    .requiredOption(
      "--data <path>",
      "dataset: PREFIX.train.bin (llm.c format), a .txt or .jsonl file, or a folder of them",
    )
    .requiredOption("--tokenizer <file>", "tokenizer.json (gives the vocabulary size)")
    .requiredOption("--out <dir>", "run directory (checkpoints, metrics.jsonl, loss.svg)")
    .addOption(
      new Option(
        "--model <preset|dir>",
        `model preset (${
          MODEL_PRESETS.join(", ")
        }), or a checkpoint directory to fine-tune (Bentevi or Hugging Face)`,
      ).default(
        DEFAULT_PRESET,
      ),
    )
    .option("--val-data <path>", "validation .bin (default: PREFIX.val.bin beside the data)")
    .option(
      "--val-fraction <f>",
      "share held out for validation when there is no separate validation file",
      floatOption(0.001, 0.5),
      DEFAULT_VAL_FRACTION,
    );
  addTrainOptionFlags(train)
    .addOption(deviceOption())
    .addOption(threadsOption())
    .option("--force", "replace an existing run directory")
    .option("--json", "print the summary as JSON")
    .action(async (o) => {
      const summary = await startTraining({
        ...trainOptionsFrom(o),
        data: o.data,
        tokenizer: o.tokenizer,
        model: o.model,
        out: o.out,
        valData: o.valData,
        valFraction: o.valFraction,
        force: !!o.force,
        device: o.device,
        progress: consoleProgress(),
        log,
      });
      printSummary(summary, !!o.json);
    });

  program
    .command("resume")
    .description("continue a run exactly from its latest checkpoint")
    .argument("<run-dir>", "run directory written by `train`")
    .option("--steps <total>", "total steps counted from the start of the run", intOption(1))
    .addOption(deviceOptionFrom("the device the run was started with"))
    .addOption(threadsOption())
    .option("--json", "print the summary as JSON")
    .action(async (runDir, o) => {
      const summary = await resumeTraining(runDir, {
        steps: o.steps,
        device: o.device,
        progress: consoleProgress(),
        log,
      });
      printSummary(summary, !!o.json);
    });

  program
    .command("eval")
    .description("validation loss, perplexity and next-token accuracy of a checkpoint")
    .addOption(checkpointOption())
    .requiredOption(
      "--data <path>",
      "dataset: .bin, a .txt or .jsonl file, or a folder of them (all of it is evaluated)",
    )
    .option("--batch-size <n>", "sequences per batch", intOption(1), EVAL_DEFAULTS.batchSize)
    .option("--context <n>", "tokens per sequence (default: the model's)", intOption(2))
    .option("--batches <n>", "maximum number of batches", intOption(1), EVAL_DEFAULTS.batches)
    .addOption(adapterOption())
    .addOption(deviceOption())
    .addOption(threadsOption())
    .option("--json", "print JSON")
    .action(async (o) => {
      const r = await evaluateCheckpoint(o.checkpoint, o.data, {
        batchSize: o.batchSize,
        context: o.context,
        batches: o.batches,
        device: o.device,
        adapters: o.adapter,
        log,
      });
      if (o.json) {
        printJson({
          checkpoint: r.checkpoint,
          loss: r.loss,
          perplexity: r.perplexity,
          accuracy: r.accuracy,
          tokens: r.tokens,
        });
      } else {
        console.log(
          `loss ${r.loss.toFixed(4)}  perplexity ${r.perplexity.toFixed(2)}  accuracy ${
            (r.accuracy * 100).toFixed(2)
          }%  (${r.tokens} tokens)`,
        );
      }
    });

  program
    .command("checkpoints")
    .description(
      "a training run's checkpoints: step, losses, tokens seen, size, data options; " +
        "the best by validation loss marked (--checkpoint RUN:best)",
    )
    .argument("<run_dir>", "training run directory (with run.json)")
    .option("--json", "print JSON")
    .action(async (runDir, o) => {
      const r = await describeRunCheckpoints(runDir);
      if (o.json) {
        const best = r.checkpoints.find((c) => c.best);
        printJson({
          run: r.runDir,
          model: r.model,
          data: r.data,
          checkpoints: r.checkpoints.map((c) => ({
            dir: c.dir,
            step: c.step,
            train_loss: c.trainLoss,
            val_loss: c.valLoss,
            tokens_seen: c.tokensSeen,
            elapsed_seconds: c.elapsedSeconds,
            bytes: c.bytes,
            best: c.best,
          })),
          best: best?.dir ?? null,
          best_evaluation: r.bestEvaluation &&
            { step: r.bestEvaluation.step, val_loss: r.bestEvaluation.valLoss },
        });
      } else console.log(formatRunCheckpoints(r));
    });

  program
    .command("lr-find")
    .description("learning-rate range test: prints the loss curve and suggests a rate")
    .requiredOption("--data <path>", "dataset: .bin, a .txt or .jsonl file, or a folder of them")
    .requiredOption("--tokenizer <file>", "tokenizer.json")
    .addOption(new Option("--model <preset>", "model preset").default(DEFAULT_PRESET))
    .option("--steps <n>", "number of steps", intOption(5), LR_FIND_DEFAULTS.steps)
    .option("--start-lr <x>", "first learning rate", floatOption(0), LR_FIND_DEFAULTS.startLr)
    .option("--end-lr <x>", "last learning rate", floatOption(0), LR_FIND_DEFAULTS.endLr)
    .option(
      "--batch-size <n>",
      "sequences per batch (default: chosen from the device)",
      intOption(1),
    )
    .option("--context <n>", "tokens per sequence (default: the preset's)", intOption(2))
    .option("--seed <n>", "seed", intOption(0), trainDefault("seed"))
    .addOption(deviceOption())
    .addOption(threadsOption())
    .option("--json", "print JSON")
    .action(async (o) => {
      if (!(o.startLr > 0) || !(o.endLr > o.startLr)) {
        throw new BenteviError(`--start-lr must be > 0 and smaller than --end-lr`);
      }
      const r = await findLearningRate({
        data: o.data,
        tokenizer: o.tokenizer,
        model: o.model,
        steps: o.steps,
        startLr: o.startLr,
        endLr: o.endLr,
        batchSize: o.batchSize,
        context: o.context,
        seed: o.seed,
        device: o.device,
        progress: consoleProgress(),
        log,
      });
      if (o.json) {
        printJson({
          suggested_lr: r.suggested,
          min_loss_lr: r.minLossLr,
          diverged: r.diverged,
          points: r.points,
        });
      } else {
        console.log(renderLrCurve(r.points));
        console.log(
          `suggested learning rate: ${
            r.suggested.toExponential(2)
          } (steepest descent; lowest loss at ${r.minLossLr.toExponential(2)})`,
        );
      }
    });

  program
    .command("info")
    .description("print a model preset's configuration and exact parameter count")
    .requiredOption(
      "--model <preset>",
      `preset (${MODEL_PRESETS.join(", ")}) or a checkpoint directory`,
    )
    .option(
      "--vocab-size <n>",
      "vocabulary size (default: from --tokenizer, else the preset's own, else 50257)",
      intOption(1),
    )
    .option("--tokenizer <file>", "tokenizer.json giving the vocabulary size")
    .option("--json", "print JSON")
    .action(async (o) => {
      let config: ModelConfig;
      let isDir = false;
      try {
        isDir = (await Deno.stat(o.model)).isDirectory;
      } catch { /* a preset name */ }
      if (isDir) {
        config = (await loadCheckpoint(o.model, { lazy: true })).config;
      } else {
        const vocab = o.vocabSize ??
          (o.tokenizer
            ? (await Tokenizer.fromFile(o.tokenizer)).vocabSize
            : presetVocabSize(o.model) ?? 50257);
        config = presetConfig(o.model, vocab);
      }
      const count = parameterCount(config);
      if (o.json) {
        printJson({ model: o.model, config, parameters: count, config_json: configToJson(config) });
      } else {
        console.log(`${o.model}: ${describeConfig(config)}`);
        const rows = Object.entries(config).map(([k, v]) => `  ${k.padEnd(14)} ${v}`);
        console.log(rows.join("\n"));
        console.log(`parameters: ${count.toLocaleString("en")} (${count})`);
      }
    });

  registerBenchSuite({
    name: "train",
    description: "training tokens/s of the tiny GPT (V4096 T128 d128 L4 H4 B8, AdamW); inputs: " +
      "[device] [steps] [profile] [model…] (a model: PRESET or PRESET:field=value,… — e.g. " +
      "gpt-mini:mlpDim=960,contextLength=128; several: measured alternately, A B C A B C)",
    async run(inputs, _options) {
      const device = (inputs[0] ?? "auto") as DeviceChoice;
      const steps = inputs[1] ? Number(inputs[1]) : 3;
      if (!Number.isInteger(steps) || steps < 1) {
        throw new BenteviError(`bench train: steps must be a positive integer, got "${inputs[1]}"`);
      }
      const rest = inputs.slice(2);
      const profile = rest.includes("profile");
      const presets = rest.filter((x) => x !== "profile");
      if (presets.length === 0) presets.push("gpt-micro");
      const configs = presets.map((p) => {
        const name = p.split(":")[0];
        if (!(MODEL_PRESETS as readonly string[]).includes(name)) {
          throw new BenteviError(
            `bench train: unknown input "${p}" (profile, or a preset — ${
              MODEL_PRESETS.join(", ")
            } — optionally with fields changed, PRESET:field=value,…)`,
          );
        }
        return modelSpecConfig(p, BENCH_GPT.vocabSize);
      });
      // One model: one run. Several: two rounds, alternating (A B C A B C), each model's figure
      // the mean of its rounds, so that load from other jobs falls on all of them alike.
      const rounds = presets.length > 1 ? 2 : 1;
      const backend = await openBackend(device);
      try {
        const runs = presets.map(() => [] as Awaited<ReturnType<typeof benchTrainSteps>>[]);
        for (let r = 0; r < rounds; r++) {
          for (let m = 0; m < presets.length; m++) {
            runs[m].push(
              await benchTrainSteps(backend, {
                config: configs[m],
                B: 8,
                steps,
                warmup: 1,
                profile: profile && r === 0,
              }),
            );
          }
        }
        const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
        const models = presets.map((p, m) => ({
          model: `${p} (vocab ${BENCH_GPT.vocabSize})`,
          parameters: parameterCount(configs[m]),
          context: configs[m].contextLength,
          tokens_per_second: mean(runs[m].map((x) => x.tokensPerSecond)),
          tokens_per_second_rounds: runs[m].map((x) => x.tokensPerSecond),
          ms_per_step: mean(runs[m].map((x) => x.msPerStep)),
          ops_per_step: runs[m][0].opsPerStep,
          ...(runs[m][0].profile ? { profile_ms: runs[m][0].profile } : {}),
        }));
        const r0 = runs[0][0];
        const json = models.length === 1
          ? {
            ...models[0],
            tokens_per_second_rounds: undefined,
            device: r0.device,
            batch_size: 8,
            context: configs[0].contextLength,
            steps,
          }
          : { device: r0.device, batch_size: 8, steps, rounds, models };
        const text = [
          `bentevi train step, batch 8, AdamW, on ${r0.device}`,
          ...models.flatMap((m) => [
            `  ${m.model}, ${m.parameters.toLocaleString("en")} parameters, context ${m.context}`,
            `    tokens/s     ${m.tokens_per_second.toFixed(0)}` +
            (rounds > 1
              ? ` (rounds: ${m.tokens_per_second_rounds.map((x) => x.toFixed(0)).join(", ")})`
              : ""),
            `    ms/step      ${m.ms_per_step.toFixed(1)}`,
            `    ops/step     ${m.ops_per_step}`,
            ...(m.profile_ms
              ? [
                "    per-op ms per step (each op replayed alone, minus an empty submit + wait):",
                ...m.profile_ms.map((p) =>
                  `      ${p.op.padEnd(34)} ${String(p.calls).padStart(3)}×  ${p.ms.toFixed(1)} ms`
                ),
              ]
              : []),
          ]),
          ...(models.length > 1
            ? models.slice(1).map((m) =>
              `  ${m.model} / ${models[0].model}: ${
                (m.tokens_per_second / models[0].tokens_per_second).toFixed(2)
              }× tokens/s`
            )
            : []),
        ].join("\n");
        return { json: JSON.parse(JSON.stringify(json)), text };
      } finally {
        backend.destroy();
      }
    },
  });
}
