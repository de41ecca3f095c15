// Shared fixtures of the training tests: a small Portuguese text written for these tests,
// a tokenizer trained on it, and tiny model configurations that run fast on the CPU.
import assert from "node:assert/strict";
import type { Backend } from "../../src/backend/backend.ts";
import type { DeviceChoice } from "../../src/backend/select.ts";
import { Tokenizer, trainTokenizer } from "../../src/tokenizer/mod.ts";
import {
  type GptConfig,
  listCheckpoints,
  type LlamaConfig,
  type RwkvConfig,
} from "../../src/model/mod.ts";
import {
  createRunDir,
  defaultTrainOptions,
  loadTrainingData,
  readRunSpec,
  type RunSpec,
  runTraining,
  type TrainSummary,
} from "../../src/train/mod.ts";
import { moduleTempDir } from "../_tmp.ts";

export const TEXT = [
  "O bem-te-vi canta no galho da mangueira logo cedo, quando o sol ainda é fraco.",
  "A menina abre a janela, ouve o canto e sorri para o dia que começa.",
  "No quintal, o avô rega as plantas e conta histórias do tempo em que era menino.",
  "Depois do almoço, todos descansam à sombra e o passarinho volta a cantar.",
].join("\n") + "\n";

/**
 * A corpus and a tokenizer trained on it, in a new temporary folder (`dir`), removed when the
 * test module unloads (earlier if the test removes it).
 */
export async function makeFixture(): Promise<{ dir: string; text: string; tokenizer: string }> {
  const dir = await moduleTempDir({ prefix: "bentevi-train-test-" });
  const text = `${dir}/corpus.txt`;
  await Deno.writeTextFile(text, TEXT.repeat(40));
  const tok = await trainTokenizer([text], { vocabSize: 300 });
  const tokenizer = `${dir}/tokenizer.json`;
  await tok.save(tokenizer);
  return { dir, text, tokenizer };
}

export const TINY_GPT: GptConfig = {
  arch: "gpt",
  vocabSize: 300,
  contextLength: 16,
  dModel: 32,
  nLayer: 2,
  nHead: 2,
  mlpDim: 64,
  layerNormEps: 1e-5,
};

export const TINY_RWKV: RwkvConfig = {
  arch: "rwkv",
  vocabSize: 300,
  contextLength: 16,
  dModel: 32,
  nLayer: 2,
  ffnDim: 64,
  layerNormEps: 1e-5,
};

// Grouped-query attention: 4 query heads sharing 2 key/value heads.
export const TINY_LLAMA: LlamaConfig = {
  arch: "llama",
  vocabSize: 300,
  contextLength: 16,
  dModel: 32,
  nLayer: 2,
  nHead: 4,
  nKvHead: 2,
  headDim: 8,
  ffnDim: 64,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  tieEmbeddings: true,
};

/**
 * Exact resume on `backend`, for the tiny GPT, RWKV and Llama: 2N steps vs N steps + resume +
 * N steps give the same losses (to one float32 rounding; in practice identical). Returns the
 * uninterrupted runs' losses by architecture.
 */
export async function assertExactResume(
  backend: Backend,
  device: DeviceChoice,
): Promise<Record<string, number[]>> {
  const curves: Record<string, number[]> = {};
  const fx = await makeFixture();
  const tokenizer = await Tokenizer.fromFile(fx.tokenizer);
  for (const config of [TINY_GPT, TINY_RWKV, TINY_LLAMA]) {
    const spec = (steps: number): RunSpec => ({
      version: 1,
      model: "tiny",
      config,
      options: {
        ...defaultTrainOptions(config, steps),
        batchSize: 2,
        context: 16,
        lr: 3e-3,
        minLr: 3e-4,
        warmup: 2,
        decaySteps: 6,
        evalEvery: 3,
        evalBatches: 1,
        saveEvery: 3,
      },
      data: fx.text,
      device,
    });
    const run = async (dir: string, s: RunSpec, from?: string): Promise<TrainSummary> => {
      const data = await loadTrainingData(s.data, tokenizer);
      if (!from) await createRunDir(dir, s, fx.tokenizer, true);
      try {
        return await runTraining(dir, s, {
          backend,
          data,
          tokenizerPath: fx.tokenizer,
        }, from);
      } finally {
        data.close();
      }
    };
    const full = await run(`${fx.dir}/full-${config.arch}`, spec(6));
    curves[config.arch] = full.losses;
    const half = `${fx.dir}/half-${config.arch}`;
    const a = await run(half, spec(3));
    const s2 = await readRunSpec(half);
    s2.options.steps = 6;
    const b = await run(half, s2, (await listCheckpoints(half)).at(-1));
    const resumed = [...a.losses, ...b.losses];
    assert.equal(resumed.length, 6);
    resumed.forEach((l, i) => {
      // Same device, same kernels, state restored exactly: equal up to one float32 rounding
      // (the losses are float32 sums; in practice they are identical).
      assert.ok(
        Math.abs(l - full.losses[i]) <= 2 ** -23 * Math.abs(full.losses[i]),
        `${config.arch} step ${i + 1}: ${l} vs ${full.losses[i]}`,
      );
    });
  }
  await Deno.remove(fx.dir, { recursive: true });
  return curves;
}
