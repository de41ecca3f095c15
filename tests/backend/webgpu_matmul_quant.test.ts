// WebGPU matmulQuant (wgsl/matmul_quant.wgsl) vs its CPU twin: Q8_0 and Q4_0, decode and
// prefill rows, bias, accumulate. Tolerance: atol 1e-4 + rtol 1e-4.
import { blockWords, quantize, type QuantType } from "../../src/quant/mod.ts";
import { randomTensorData as rnd } from "./_helpers.ts";
import { gpuBackend, gpuTest, parity } from "./webgpu_parity.ts";

Deno.test({
  name: "webgpu matmulQuant = the CPU's (Q8_0, Q4_0; one and several rows; bias, accumulate)",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    for (const type of ["q8_0", "q4_0"] as QuantType[]) {
      for (const [M, K, N] of [[1, 128, 70], [6, 96, 33]]) {
        const words = blockWords(quantize(type, rnd(N * K, 1)));
        for (const accumulate of [false, true]) {
          await parity(
            `matmulQuant ${type} ${M}x${K}x${N} acc${+accumulate}`,
            gpu,
            {
              out: [[M, N], rnd(M * N, 4)],
              a: [[M, K], rnd(M * K, 2)],
              w: [[words.length], words],
              bias: [[N], rnd(N, 3)],
            },
            ["out"],
            (be, t) =>
              be.matmulQuant({ out: t.out, a: t.a, w: t.w, type, N, K, bias: t.bias, accumulate }),
            { atol: 1e-4, rtol: 1e-4 },
          );
        }
      }
    }
  },
});
