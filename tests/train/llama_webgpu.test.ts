// `train --model llama-micro --device webgpu` through the CLI gives the CPU backend's losses
// (training and validation) to float32 rounding: the same data, batches and schedule, every
// Llama kernel (RMSNorm, RoPE, SwiGLU, grouped-query attention, forward and backward) in
// WGSL on one side and the TypeScript reference on the other. Skips without a WebGPU adapter
// unless BENTEVI_REQUIRE_WEBGPU=1.
import assert from "node:assert/strict";
import { requestGpuAdapter } from "../../src/backend/webgpu/mod.ts";
import { runCliInProcess as bentevi } from "../_cli.ts";
import { makeFixture } from "./helpers.ts";

const require = Deno.env.get("BENTEVI_REQUIRE_WEBGPU") === "1";
const adapter = await requestGpuAdapter();
if (!adapter) console.log("llama WebGPU training test skipped: no WebGPU adapter");

Deno.test({
  name: "train --model llama-micro: WebGPU losses equal the CPU's to float32 rounding",
  ignore: !adapter && !require,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    assert.ok(adapter, "BENTEVI_REQUIRE_WEBGPU=1 but no WebGPU adapter");
    const fx = await makeFixture();
    const losses: Record<string, number[]> = {};
    for (const device of ["webgpu", "cpu"]) {
      const out = `${fx.dir}/llama-${device}`;
      const r = await bentevi(
        "train",
        ...["--data", fx.text, "--tokenizer", fx.tokenizer, "--device", device],
        ...["--model", "llama-micro", "--out", out, "--steps", "4", "--batch-size", "2"],
        ...["--context", "32", "--eval-every", "4", "--eval-batches", "1", "--json"],
      );
      assert.equal(r.code, 0, r.stderr);
      const metrics = (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n")
        .map((l) => JSON.parse(l));
      losses[device] = [
        ...metrics.filter((m) => "loss" in m).map((m) => m.loss),
        ...metrics.filter((m) => "val_loss" in m).map((m) => m.val_loss),
      ];
    }
    assert.equal(losses.webgpu.length, 5, JSON.stringify(losses));
    assert.equal(losses.cpu.length, 5);
    losses.webgpu.forEach((l, i) => {
      const c = losses.cpu[i];
      assert.ok(Math.abs(l - c) <= 1e-5 * Math.abs(c), `loss ${i}: webgpu ${l} vs cpu ${c}`);
    });
    // Training moved the model (a test that cannot pass on constant losses).
    assert.ok(losses.cpu[3] < losses.cpu[0], JSON.stringify(losses.cpu));
  },
});
