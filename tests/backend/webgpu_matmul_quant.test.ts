// WebGPU matmulQuant (wgsl/matmul_quant.wgsl) vs its CPU twin: Q8_0 and Q4_0, decode and
// prefill rows, bias, accumulate. Tolerance: atol 1e-4 + rtol 1e-4.
// The native backend (same parity() call) computes as llama.cpp does, with the inputs rounded
// to Q8_0 blocks (tests/backend/native_matmul_quant.test.ts checks that arithmetic exactly):
// each input value moves by at most 0.5625·amax/127 (half a quant step, plus the float16
// scale), ≤ 0.0045 here (inputs and weights in [−1, 1)); over K ≤ 128 terms of random sign
// that is ~0.015 typical — measured 0.041 at most on these shapes, outputs ~3 in size — so
// native is held to atol 0.08 + rtol 0.01. A wrong nibble order or scale is off by ~|y|.
import { blockWords, quantize, type QuantType } from "../../src/quant/mod.ts";
import { randomTensorData as rnd } from "./_helpers.ts";
import { gpuBackend, gpuTest, parity } from "./webgpu_parity.ts";

const NATIVE_QUANT_TOLERANCE = { atol: 0.08, rtol: 0.01 };

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
            NATIVE_QUANT_TOLERANCE,
          );
        }
      }
    }
  },
});
