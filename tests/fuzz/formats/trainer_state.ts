/**
 * A training run directory: `run.json`, a checkpoint's `trainer_state.json` and
 * `optimizer.safetensors`, and `metrics.jsonl` — resumed with `resumeTraining` on the CPU
 * for one more step (what `bentevi resume` does). The seed is a 2-step run of a tiny GPT made
 * with the library's own loop.
 */
import { join } from "node:path";
import { createRunDir, type RunSpec, runTraining } from "../../../src/train/trainer.ts";
import { resumeTraining } from "../../../src/train/run.ts";
import { resolveTrainOptions } from "../../../src/train/options.ts";
import { loadTrainingData } from "../../../src/train/data.ts";
import type { FuzzFormat } from "../harness.ts";
import { mutateJsonBytes } from "../mutate.ts";
import { mutateSafetensors } from "./checkpoint.ts";
import { cpuBackend, readTree, smallTokenizer, TEXT, tinyGpt } from "./_fixtures.ts";
import { mutateByExtension } from "../harness.ts";

export const trainerState: FuzzFormat = {
  name: "run-dir",
  names: "tree",
  async seeds(work) {
    await Deno.mkdir(work, { recursive: true });
    const tokenizer = await smallTokenizer();
    const tokPath = join(work, "tokenizer.json");
    await tokenizer.save(tokPath);
    const data = join(work, "corpus.txt");
    // documents separated by double blank lines, so a validation split exists
    await Deno.writeTextFile(data, Array(12).fill(TEXT).join("\n\n\n"));
    const config = tinyGpt(tokenizer.vocabSize);
    const spec: RunSpec = {
      version: 1,
      model: "custom",
      config,
      options: {
        ...resolveTrainOptions(config, { steps: 2, saveEvery: 2, evalEvery: 2, seed: 4 }),
        batchSize: 1,
        context: 8,
      },
      data,
      valFraction: 0.2,
      device: "cpu",
    };
    trainerState.alsoNamed = [work]; // run.json names the corpus: errors may name a path there
    const runDir = join(work, "run");
    await createRunDir(runDir, spec, tokPath, false);
    const training = await loadTrainingData(data, tokenizer, { valFraction: 0.2 });
    try {
      await runTraining(runDir, spec, {
        backend: await cpuBackend(),
        data: training,
        tokenizerPath: join(runDir, "tokenizer.json"),
      });
    } finally {
      training.close();
    }
    const files = await readTree(runDir);
    const mutable = Object.keys(files).filter((f) =>
      /(^run\.json|trainer_state\.json|optimizer\.safetensors|metrics\.jsonl)$/.test(f)
    );
    return [{ label: "gpt-2-steps", files, mutable }];
  },
  mutate(rng, bytes, file) {
    if (file.endsWith(".safetensors")) return mutateSafetensors(rng, bytes);
    if (file.endsWith(".json")) return mutateJsonBytes(rng, bytes);
    return mutateByExtension(rng, bytes, file);
  },
  async run(root) {
    await resumeTraining(root, { steps: 3, device: await cpuBackend() });
  },
};
