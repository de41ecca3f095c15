// Exact resume on WebGPU: 2N steps vs N steps + resume + N steps agree to float32 rounding.
// Skips without a WebGPU adapter unless BENTEVI_REQUIRE_WEBGPU=1.
import assert from "node:assert/strict";
import type { Backend } from "../../src/backend/backend.ts";
import { createBackend } from "../../src/backend/select.ts";
import { assertExactResume } from "./helpers.ts";

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
    await assertExactResume(gpu!, "webgpu");
    gpu!.destroy();
  },
});
