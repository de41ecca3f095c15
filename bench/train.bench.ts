// Training-step benchmarks: one whole AdamW step (forward, backward, gradient norm, update,
// recorded and submitted at once) of the tiny GPT of the speed comparison (vocab 4096,
// context 128, d 128, 4 layers, 4 heads, MLP 4×, batch 8, fp32) and of rwkv-micro, on WebGPU
// (skipped without an adapter) and on the CPU backend. Tokens/s = 1024 / (time per step).
// Peers: see docs/training.md (TF.js on the same adapter, PyTorch on the CPU).
import type { Backend } from "../src/backend/backend.ts";
import { CpuBackend } from "../src/backend/cpu/mod.ts";
import { createBackend } from "../src/backend/select.ts";
import { presetConfig } from "../src/model/mod.ts";
import { BENCH_GPT, createStepRunner } from "../src/train/mod.ts";

let gpu: Backend | null = null;
try {
  gpu = await createBackend("webgpu", { log: () => {} });
} catch (e) {
  console.error(`train.bench: WebGPU cases skipped (${(e as Error).message})`);
}

const RWKV_MICRO = presetConfig("rwkv-micro", 4096);

for (const [label, backend] of [["webgpu", gpu], ["cpu", new CpuBackend()]] as const) {
  for (const [model, config] of [["tiny GPT", BENCH_GPT], ["rwkv-micro", RWKV_MICRO]] as const) {
    if (!backend) continue;
    if (label === "cpu" && model === "rwkv-micro") continue; // minutes per step: not useful
    const runner = createStepRunner(backend, config, 8, 128);
    let i = 0;
    runner.step(i++);
    await runner.loss();
    Deno.bench({
      name: `train step ${model} B8 T128 (${label}) — 1024 tokens`,
      group: `train-${model}`,
      baseline: label === "webgpu",
      n: label === "cpu" ? 1 : 3,
      warmup: 0,
      async fn() {
        runner.step(i++);
        await runner.loss();
      },
    });
  }
}
