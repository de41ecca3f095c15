// `bentevi checkpoints RUN` and the `RUN:best` / `RUN:latest` / `RUN:STEP` selectors that every
// --checkpoint resolves (src/model/checkpoint.ts).
import assert from "node:assert/strict";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import {
  loadCheckpoint,
  resolveCheckpointDir,
  runCheckpoints,
} from "../../src/model/checkpoint.ts";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import {
  createRunDir,
  defaultTrainOptions,
  loadTrainingData,
  type RunSpec,
  runTraining,
} from "../../src/train/mod.ts";
import { describeRunCheckpoints, formatRunCheckpoints } from "../../src/train/checkpoints.ts";
import { assertOneLineError, runCli } from "../_cli.ts";
import { makeFixture, TINY_GPT } from "./helpers.ts";

const PERMISSIONS = ["--allow-read", "--allow-env"];

Deno.test("checkpoints: steps, losses, tokens, sizes; RUN:best picks the lowest validation loss", async () => {
  const fixture = await makeFixture();
  const run = `${fixture.dir}/run`;
  try {
    const spec: RunSpec = {
      version: 1,
      model: "tiny",
      config: TINY_GPT,
      options: {
        ...defaultTrainOptions(TINY_GPT, 6),
        batchSize: 2,
        context: 16,
        evalEvery: 2,
        evalBatches: 1,
        saveEvery: 2,
        keepLast: 3,
      },
      data: fixture.text,
      device: "cpu",
    };
    const tokenizer = await Tokenizer.fromFile(fixture.tokenizer);
    const data = await loadTrainingData(spec.data, tokenizer);
    try {
      await createRunDir(run, spec, fixture.tokenizer, true);
      await runTraining(run, spec, {
        backend: new CpuBackend(),
        data,
        tokenizerPath: `${run}/tokenizer.json`,
      });
    } finally {
      data.close();
    }
    // The evaluations the run recorded, by step.
    const metricsPath = `${run}/metrics.jsonl`;
    const records = (await Deno.readTextFile(metricsPath)).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    const evals = new Map<number, number>(
      records.filter((r) => "val_loss" in r).map((r) => [r.step, r.val_loss]),
    );
    assert.deepEqual([...evals.keys()], [2, 4, 6]);

    const list = await runCheckpoints(run);
    assert.deepEqual(list.map((c) => c.step), [2, 4, 6]);
    for (const c of list) {
      assert.equal(c.valLoss, evals.get(c.step));
      assert.equal(c.tokensSeen, c.step * 2 * 16);
      assert.ok(c.trainLoss! > 0 && c.bytes > 1000);
      const state = JSON.parse(await Deno.readTextFile(`${c.dir}/trainer_state.json`));
      assert.equal(c.trainLoss, state.lastLoss);
    }
    const lowest = [...evals].sort((a, b) => a[1] - b[1])[0][0];
    assert.deepEqual(list.filter((c) => c.best).map((c) => c.step), [lowest]);

    // Make step 4 the best (not the latest) so :best and :latest differ.
    await Deno.writeTextFile(
      metricsPath,
      records.map((r) =>
        JSON.stringify(r.step === 4 && "val_loss" in r ? { ...r, val_loss: 0.5 } : r)
      )
        .join("\n") + "\n",
    );
    assert.equal(await resolveCheckpointDir(`${run}:best`), `${run}/step-000004`);
    assert.equal(await resolveCheckpointDir(`${run}:latest`), `${run}/step-000006`);
    assert.equal(await resolveCheckpointDir(`${run}:2`), `${run}/step-000002`);
    assert.equal(await resolveCheckpointDir(run), `${run}/step-000006`);
    assert.equal((await loadCheckpoint(`${run}:best`)).dir, `${run}/step-000004`);
    await assert.rejects(
      resolveCheckpointDir(`${run}:5`),
      /no checkpoint at step 5; the run has 2, 4, 6/,
    );
    await assert.rejects(
      resolveCheckpointDir(`${fixture.dir}:best`),
      /not a training run directory \(no run\.json\)/,
    );

    const report = await describeRunCheckpoints(run);
    assert.equal(report.data.tokensPerStep, 32);
    assert.equal(report.data.valFraction, 0.1);
    assert.deepEqual(report.bestEvaluation, { step: 4, valLoss: 0.5 });
    const text = formatRunCheckpoints(report);
    assert.match(text, /\n\* step-000004 +4 +[\d.]+ +0\.5000 +128 /);
    assert.match(text, /select it with --checkpoint .*:best/);

    // The best evaluation's checkpoint gone (keep-last): the next best is marked, and the
    // listing says where the best evaluation was.
    await Deno.remove(`${run}/step-000004`, { recursive: true });
    const nextBest = evals.get(2)! < evals.get(6)! ? 2 : 6;
    assert.equal(await resolveCheckpointDir(`${run}:best`), `${run}/step-00000${nextBest}`);
    assert.match(
      formatRunCheckpoints(await describeRunCheckpoints(run)),
      /best evaluation, val loss 0\.5000 at step 4, has no checkpoint left/,
    );

    // Through the CLI, with the documented permissions.
    const json = await runCli(["checkpoints", run, "--json"], { permissions: PERMISSIONS });
    assert.equal(json.code, 0, json.stderr);
    const j = JSON.parse(json.stdout);
    assert.deepEqual(j.checkpoints.map((c: { step: number }) => c.step), [2, 6]);
    assert.equal(j.best_evaluation.step, 4);
    assert.equal(j.data.context, 16);
    assertOneLineError(
      await runCli(["checkpoints", fixture.dir], { permissions: PERMISSIONS }),
      /not a training run directory/,
      { only: true },
    );
    assertOneLineError(
      await runCli(["generate", "--checkpoint", `${run}:9`, "--prompt", "O", "--device", "cpu"]),
      /no checkpoint at step 9; the run has 2, 6/,
      { only: true },
    );
    // No evaluation at any checkpoint's step: nothing to call best.
    await Deno.writeTextFile(metricsPath, "");
    await assert.rejects(
      resolveCheckpointDir(`${run}:best`),
      /none of the run's checkpoints was evaluated/,
    );
  } finally {
    await Deno.remove(fixture.dir, { recursive: true });
  }
});
