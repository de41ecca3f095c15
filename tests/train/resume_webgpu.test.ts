// Exact resume on WebGPU: 2N steps vs N steps + resume + N steps agree to float32 rounding.
// Skips without a WebGPU adapter unless BENTEVI_REQUIRE_WEBGPU=1.
import assert from "node:assert/strict";
import type { Backend } from "../../src/backend/backend.ts";
import { createBackend } from "../../src/backend/select.ts";
import { listCheckpoints } from "../../src/model/mod.ts";
import { Tokenizer } from "../../src/tokenizer/mod.ts";
import {
  createRunDir,
  defaultTrainOptions,
  loadTrainingData,
  readRunSpec,
  type RunSpec,
  runTraining,
  type TrainSummary,
} from "../../src/train/mod.ts";
import { makeFixture, TINY_GPT, TINY_LLAMA, TINY_RWKV } from "./helpers.ts";

const require = Deno.env.get("BENTEVI_REQUIRE_WEBGPU") === "1";
let gpu: Backend | null = null;
let why = "";
try {
  gpu = await createBackend("webgpu", { log: () => {} });
} catch (e) {
  why = (e as Error).message;
}
if (!gpu) console.log(`WebGPU resume test skipped: ${why}`);

Deno.test({
  name: "WebGPU: 2N steps == N steps + resume + N steps (to float32 rounding)",
  ignore: !gpu && !require,
  sanitizeResources: false,
  fn: async () => {
    assert.ok(gpu, `BENTEVI_REQUIRE_WEBGPU=1 but no WebGPU backend: ${why}`);
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
        device: "webgpu",
      });
      const run = async (dir: string, s: RunSpec, from?: string): Promise<TrainSummary> => {
        const data = await loadTrainingData(s.data, tokenizer);
        if (!from) await createRunDir(dir, s, fx.tokenizer, true);
        try {
          return await runTraining(dir, s, {
            backend: gpu!,
            data,
            tokenizerPath: fx.tokenizer,
          }, from);
        } finally {
          data.close();
        }
      };
      const full = await run(`${fx.dir}/full-${config.arch}`, spec(6));
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
    gpu!.destroy();
  },
});
