// Exact resume on WebGPU: 2N steps vs N steps + resume + N steps agree to float32 rounding.
// Skips without a WebGPU adapter unless BENTEVI_REQUIRE_WEBGPU=1.
import assert from "node:assert/strict";
import { optionalWebGpu } from "../_webgpu.ts";
import { assertExactResume } from "./helpers.ts";

const { gpu, why, ignore } = await optionalWebGpu("WebGPU resume test");

Deno.test({
  name: "WebGPU: 2N steps == N steps + resume + N steps (to float32 rounding)",
  ignore,
  sanitizeResources: false,
  fn: async () => {
    assert.ok(gpu, `BENTEVI_REQUIRE_WEBGPU=1 but no WebGPU backend: ${why}`);
    await assertExactResume(gpu!, "webgpu");
    gpu!.destroy();
  },
});
