// Issue 13 item 9: the logged tokens/s measures completed work. A 12-step WebGPU run logged
// its last step at ~40× the others: Deno's WebGPU resolves a read only once the queue is idle,
// so the read of step N−1 (awaited while step N runs) came back with step N's, and the last
// step's interval was empty. Here a virtual device and clock replay both read semantics
// deterministically: no real time is measured.
import assert from "node:assert/strict";
import type { Backend, Tensor } from "../../src/backend/backend.ts";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import {
  createRunDir,
  defaultTrainOptions,
  loadTrainingData,
  type RunSpec,
  runTraining,
} from "../../src/train/mod.ts";
import * as trainer from "../../src/train/trainer.ts";
import { makeFixture, TINY_GPT } from "./helpers.ts";

const fx = await makeFixture();
const tokenizer = await Tokenizer.fromFile(fx.tokenizer);
/** Virtual device time of one optimizer step (ms). */
const STEP_MS = 1000;

/**
 * A CPU backend that pretends each optimizer step takes STEP_MS on a device, with a virtual
 * clock. "idle": a read resolves once everything submitted is done (Deno's WebGPU); "ordered":
 * once the work submitted before the read is done.
 */
function virtualDevice(mode: "idle" | "ordered") {
  const cpu = new CpuBackend();
  let now = 0, lastDone = 0;
  const backend = new Proxy(cpu, {
    get(target, key) {
      // A device, not the CPU: the loop does not yield between steps for it.
      if (key === "kind") return "webgpu";
      if (key === "adamw") {
        return (...args: Parameters<Backend["adamw"]>) => {
          target.adamw(...args);
          lastDone = Math.max(now, lastDone) + STEP_MS;
        };
      }
      if (key === "read") {
        return (t: Tensor) => {
          const data = target.read(t); // the CPU copies now; only the resolution waits
          const doneAtCall = lastDone;
          return new Promise((r) => setTimeout(r, 0)).then(() => {
            now = Math.max(now, mode === "idle" ? lastDone : doneAtCall);
            return data;
          });
        };
      }
      const v = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  }) as Backend;
  return { backend, clock: () => now };
}

for (const mode of ["idle", "ordered"] as const) {
  Deno.test(`tokens/s of every logged step is completed work, last step included (${mode} reads)`, async () => {
    const steps = 12;
    const spec: RunSpec = {
      version: 1,
      model: "tiny",
      config: TINY_GPT,
      options: {
        ...defaultTrainOptions(TINY_GPT, steps),
        batchSize: 2,
        context: 16,
        evalEvery: 0,
        evalBatches: 1,
        saveEvery: 0,
      },
      data: fx.text,
      device: "cpu",
    };
    const dir = `${fx.dir}/rate-${mode}`;
    await createRunDir(dir, spec, fx.tokenizer, true);
    const data = await loadTrainingData(spec.data, tokenizer);
    const { backend, clock } = virtualDevice(mode);
    try {
      await runTraining(dir, spec, { backend, data, tokenizerPath: fx.tokenizer, clock });
    } finally {
      data.close();
    }
    const rows = (await Deno.readTextFile(`${dir}/metrics.jsonl`)).trim().split("\n")
      .map((l) => JSON.parse(l)).filter((m) => "loss" in m);
    assert.equal(rows.length, steps);
    const tokensPerStep = 2 * 16;
    const deviceRate = tokensPerStep / (STEP_MS / 1000); // what the device really does
    rows.forEach((m, i) => {
      // Step N's time is taken after step N's work is complete on the device…
      assert.ok(m.elapsed_s >= (i + 1) * STEP_MS / 1000, `step ${m.step}: ${m.elapsed_s} s`);
      // …so no step is credited with more than the device did.
      assert.ok(
        m.tokens_per_second <= deviceRate,
        `step ${m.step}: ${m.tokens_per_second} tok/s > ${deviceRate}`,
      );
    });
    // The last step is no outlier: once a full window is in, it matches the steps before it.
    const last = rows.at(-1).tokens_per_second;
    const before = rows.slice(trainer.RATE_WINDOW, -1).map((m) => m.tokens_per_second);
    assert.ok(before.length > 0);
    for (const b of before) assert.ok(last >= 0.8 * b, `last ${last} vs ${b}`);
  });
}
