// WebGPU matmul vs the CPU backend: every transpose combination, bias, accumulate, sizes that
// are not tile multiples, for both kernel variants (texture: CPU adapters; tiled: GPUs).
// Tolerance: atol 1e-4 + rtol 1e-4 (f32 sums of up to 300 products of values in [−1, 1)).
import assert from "node:assert/strict";
import { randomTensorData as rnd } from "./_helpers.ts";
import { gpuBackend, gpuTest, type Input, parity } from "./webgpu_parity.ts";

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [17, 3, 127],
  [33, 65, 20],
  [127, 130, 67],
  [64, 300, 129],
  [19, 9, 515], // N ≥ 512: the wide register tile
  [1, 64, 128], // M ≤ 8, K % 4 = 0: the matvec kernels (generation)
  [5, 12, 20],
  [8, 16, 7], // matvec only with b transposed (N % 4 ≠ 0)
];
const TOL = { atol: 1e-4, rtol: 1e-4 };

for (const variant of ["texture", "tiled"] as const) {
  Deno.test({
    name: `webgpu matmul (${variant}): transposes, bias, accumulate, odd shapes`,
    ...gpuTest,
    fn: async () => {
      const gpu = await gpuBackend({ matmul: variant });
      for (const [M, K, N] of SHAPES) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            const io: Record<string, Input> = {
              out: [[M, N], rnd(M * N, 1)],
              a: [transA ? [K, M] : [M, K], rnd(M * K, 2)],
              b: [transB ? [N, K] : [K, N], rnd(K * N, 3)],
              bias: [[N], rnd(N, 4)],
            };
            const what = `matmul ${variant} ${M}x${K}x${N} tA${+transA} tB${+transB}`;
            await parity(
              what,
              gpu,
              io,
              ["out"],
              (be, t) => be.matmul(t.out, t.a, t.b, { transA, transB }),
              TOL,
            );
            await parity(
              `${what} bias`,
              gpu,
              io,
              ["out"],
              (be, t) => be.matmul(t.out, t.a, t.b, { transA, transB, bias: t.bias }),
              TOL,
            );
            await parity(
              `${what} acc`,
              gpu,
              io,
              ["out"],
              (be, t) => be.matmul(t.out, t.a, t.b, { transA, transB, accumulate: true }),
              TOL,
            );
          }
        }
      }
    },
  });
}

Deno.test({
  name: "webgpu matmul: operands as views of one buffer, shape errors name both shapes",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    const io: Record<string, Input> = { base: [[256], rnd(256, 5)], out: [[8, 8], rnd(64, 6)] };
    await parity("matmul of views", gpu, io, ["out"], (be, t) => {
      const a = be.view(t.base, 0, [8, 16]), b = be.view(t.base, 128, [16, 8]);
      be.matmul(t.out, a, b, {});
    }, TOL);
    const a = gpu.zeros([3, 4]), b = gpu.zeros([5, 6]), out = gpu.zeros([3, 6]);
    assert.throws(() => gpu.matmul(out, a, b), /matmul: a \[3, 4\] and b \[5, 6\] do not match/);
    for (const t of [a, b, out]) gpu.free(t);
  },
});
