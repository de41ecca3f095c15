// Until the Llama ops have WGSL kernels, the WebGPU backend refuses them by name with a
// BenteviError (one line, no crash), and refuses grouped-query attention in its attention ops.
// The file goes when the kernels land (their parity tests replace it).
import assert from "node:assert/strict";
import { BenteviError } from "../../src/errors.ts";
import { gpuBackend, gpuTest } from "./webgpu_parity.ts";

Deno.test({
  name: "webgpu: Llama ops without a kernel yet are refused by name",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    const x = gpu.zeros([2, 4]), w = gpu.zeros([4]), r = gpu.zeros([2]);
    const tables = { cos: gpu.zeros([2, 2]), sin: gpu.zeros([2, 2]) };
    const rope = { ...tables, B: 1, T: 2, headDim: 4, rotatedHeads: 1 };
    const calls: [string, () => void][] = [
      ["rmsNorm", () => gpu.rmsNorm({ out: x, rstd: r, x, w, eps: 1e-6 })],
      ["rmsNormBackward", () => gpu.rmsNormBackward({ dx: x, dw: w, dout: x, x, w, rstd: r })],
      ["rope", () => gpu.rope({ out: x, x, ...rope })],
      ["ropeBackward", () => gpu.ropeBackward({ dx: x, dout: x, ...rope })],
      ["swiglu", () => gpu.swiglu(x, x, x)],
      ["swigluBackward", () => gpu.swigluBackward({ dgate: x, dup: x, dout: x, gate: x, up: x })],
      [
        "attention",
        () =>
          gpu.attention({
            out: gpu.zeros([1, 2, 4]),
            lse: gpu.zeros([4]),
            qkv: gpu.zeros([1, 2, 8]),
            dims: { B: 1, T: 2, C: 4, NH: 2, NKV: 1 },
          }),
      ],
    ];
    for (const [op, call] of calls) {
      assert.throws(call, (e) => {
        assert.ok(e instanceof BenteviError, `${op}: a BenteviError`);
        assert.match(e.message, new RegExp(`^${op} has no WebGPU kernel yet`));
        return true;
      });
    }
    gpu.flush();
  },
});
