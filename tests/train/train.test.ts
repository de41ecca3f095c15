import assert from "node:assert/strict";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import { BenteviError } from "../../src/errors.ts";
import { listCheckpoints, type ModelConfig } from "../../src/model/mod.ts";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import {
  createRunDir,
  defaultTrainOptions,
  learningRate,
  loadTrainingData,
  lossSvg,
  readRunSpec,
  type RunSpec,
  runTraining,
  type TrainSummary,
} from "../../src/train/mod.ts";
import { makeFixture, TINY_GPT, TINY_LLAMA, TINY_RWKV } from "./helpers.ts";

const fixture = await makeFixture();
const tokenizer = await Tokenizer.fromFile(fixture.tokenizer);

function spec(
  config: ModelConfig,
  steps: number,
  extra: Partial<RunSpec["options"]> = {},
): RunSpec {
  return {
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
      evalEvery: 4,
      evalBatches: 2,
      saveEvery: 4,
      ...extra,
    },
    data: fixture.text,
    device: "cpu",
  };
}

async function run(dir: string, s: RunSpec, resumeFrom?: string): Promise<TrainSummary> {
  const data = await loadTrainingData(s.data, tokenizer);
  try {
    if (!resumeFrom) await createRunDir(dir, s, fixture.tokenizer, true);
    return await runTraining(dir, s, {
      backend: new CpuBackend(),
      data,
      tokenizerPath: `${dir}/tokenizer.json`,
    }, resumeFrom);
  } finally {
    data.close();
  }
}

for (const config of [TINY_GPT, TINY_RWKV, TINY_LLAMA]) {
  Deno.test(`${config.arch}: 2N steps == N steps + resume + N steps, bit for bit (CPU)`, async () => {
    const full = await run(`${fixture.dir}/full-${config.arch}`, spec(config, 8));
    const halfDir = `${fixture.dir}/half-${config.arch}`;
    // Same schedule horizon (decaySteps 8), stopped at 4, then resumed to 8.
    const first = await run(halfDir, spec(config, 4, { decaySteps: 8 }));
    const s2 = await readRunSpec(halfDir);
    s2.options.steps = 8;
    const ckpts = await listCheckpoints(halfDir);
    assert.equal(ckpts.at(-1)!.endsWith("step-000004"), true);
    const second = await run(halfDir, s2, ckpts.at(-1));
    assert.deepEqual([...first.losses, ...second.losses], full.losses);
    assert.equal(second.step, 8);
    // metrics.jsonl holds each step once, in order.
    const steps = (await Deno.readTextFile(`${halfDir}/metrics.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l)).filter((r) => "loss" in r).map((r) => r.step);
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6, 7, 8]);
  });
}

Deno.test("learning: the loss falls on a small repeated text (GPT, RWKV, Llama)", async () => {
  for (const config of [TINY_GPT, TINY_RWKV, TINY_LLAMA]) {
    const r = await run(
      `${fixture.dir}/learn-${config.arch}`,
      spec(config, 80, { evalEvery: 40, lr: 1e-2, minLr: 1e-3 }),
    );
    const first = r.losses.slice(0, 3).reduce((a, b) => a + b) / 3;
    const last = r.losses.slice(-3).reduce((a, b) => a + b) / 3;
    assert.ok(last < first - 1.2, `${config.arch}: loss ${first} → ${last}`);
    console.log(`${config.arch}: loss ${first.toFixed(3)} → ${last.toFixed(3)}`);
    assert.ok(r.eval && r.eval.loss < Math.log(300), `val loss ${r.eval?.loss}`);
    const svg = await Deno.readTextFile(`${fixture.dir}/learn-${config.arch}/loss.svg`);
    assert.match(svg, /^<svg[\s\S]*<\/svg>\n$/);
    // keep-last: only the 2 newest checkpoints remain
    const ckpts = await listCheckpoints(`${fixture.dir}/learn-${config.arch}`);
    assert.deepEqual(ckpts.map((c) => c.slice(-11)), ["step-000076", "step-000080"]);
  }
});

Deno.test("NaN guard stops with a clear message and keeps the last good checkpoint", async () => {
  const dir = `${fixture.dir}/nan`;
  const s = spec(TINY_GPT, 12, { lr: 1e6, minLr: 1e6, clip: 0, saveEvery: 1, warmup: 0 });
  await assert.rejects(() => run(dir, s), (e: Error) => {
    assert.ok(e instanceof BenteviError);
    assert.match(e.message, /step \d+: (loss|gradient norm) is (NaN|Infinity|-Infinity)/);
    return true;
  });
  for (const c of await listCheckpoints(dir)) {
    const state = JSON.parse(await Deno.readTextFile(`${c}/trainer_state.json`));
    assert.ok(Number.isFinite(state.lastLoss), `${c} holds a non-finite loss`);
  }
});

Deno.test("a run directory that exists is refused unless forced", async () => {
  const dir = `${fixture.dir}/exists`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/x`, "1");
  await assert.rejects(
    () => createRunDir(dir, spec(TINY_GPT, 2), fixture.tokenizer, false),
    /already exists; use `resume/,
  );
  await createRunDir(dir, spec(TINY_GPT, 2), fixture.tokenizer, true);
  await assert.rejects(() => Deno.stat(`${dir}/x`));
});

Deno.test("a .bin dataset whose ids exceed the tokenizer's vocabulary is refused", async () => {
  const { writeTokenDataset } = await import("../../src/data/mod.ts");
  const path = `${fixture.dir}/big.train.bin`;
  await writeTokenDataset(path, [1, 2, 3, 999, 4, 5], { vocabSize: 1000 });
  await assert.rejects(() => loadTrainingData(path, tokenizer), /another tokenizer/);
});

Deno.test("learning-rate schedule: warmup, cosine, floor", () => {
  const s = { lr: 1, minLr: 0.1, warmup: 4, decaySteps: 14 };
  assert.equal(learningRate(0, s), 0.25);
  assert.equal(learningRate(3, s), 1);
  assert.ok(Math.abs(learningRate(9, s) - 0.55) < 1e-12);
  assert.equal(learningRate(14, s), 0.1);
  assert.equal(learningRate(100, s), 0.1);
});

Deno.test("loss.svg renders both curves", () => {
  const svg = lossSvg([{ step: 1, value: 3 }, { step: 2, value: 2 }], [{ step: 2, value: 2.5 }]);
  assert.equal((svg.match(/<path /g) ?? []).length, 2);
  assert.match(svg, /validation loss/);
});

Deno.test("early stopping ends the run when validation stops improving", async () => {
  const dir = `${fixture.dir}/early`;
  // A learning rate too small to move the validation loss: the second evaluation does not
  // improve, so patience 1 stops at step 4 of 12 and saves a checkpoint there.
  const r = await run(
    dir,
    spec(TINY_GPT, 12, { lr: 1e-9, minLr: 1e-9, evalEvery: 2, saveEvery: 0, patience: 1 }),
  );
  assert.equal(r.stopReason, "early-stopping");
  assert.equal(r.step, 4);
  assert.ok(r.checkpoint.endsWith("step-000004"));
});

Deno.test("gradient accumulation: 2 micro-batches of 1 == 1 batch of 2 (GPT, Llama)", async () => {
  // The loader draws the same windows in the same order either way, so the runs agree up to
  // floating-point summation order.
  for (const config of [TINY_GPT, TINY_LLAMA]) {
    const dir = `${fixture.dir}/accum-${config.arch}`;
    const a = await run(`${dir}-a`, spec(config, 5, { batchSize: 2, gradAccum: 1 }));
    const b = await run(`${dir}-b`, spec(config, 5, { batchSize: 1, gradAccum: 2 }));
    a.losses.forEach((l, i) =>
      assert.ok(Math.abs(l - b.losses[i]) < 1e-5, `${config.arch}: ${l} vs ${b.losses[i]}`)
    );
  }
});
