// WebGPU elementwise ops and reductions vs the CPU backend, on odd sizes.
// Tolerances: 1e-6 (exact ops), 2e-6/1e-5 (transcendentals), reductions 1e-5 relative.
import { randomTensorData as rnd } from "./_helpers.ts";
import { gpuBackend, gpuTest, type Input, parity } from "./webgpu_parity.ts";

const SIZES = [1, 3, 17, 127, 1000];
const f = (n: number, seed: number, scale = 1): Input => [[n], rnd(n, seed, scale)];

Deno.test({
  name: "webgpu elementwise forward ops match the CPU",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    for (const n of SIZES) {
      const io = { out: f(n, 1), a: f(n, 2, 4), b: f(n, 3, 4) };
      await parity(`fill ${n}`, gpu, io, ["out"], (be, t) => be.fill(t.out, -2.5), 0);
      await parity(`copy ${n}`, gpu, io, ["out"], (be, t) => be.copy(t.out, t.a), 0);
      await parity(`scale ${n}`, gpu, io, ["a"], (be, t) => be.scale(t.a, 0.37), 1e-6);
      await parity(`add ${n}`, gpu, io, ["out"], (be, t) => be.add(t.out, t.a, t.b), 1e-6);
      await parity(`add in place ${n}`, gpu, io, ["a"], (be, t) => be.add(t.a, t.a, t.b), 1e-6);
      await parity(`addInto ${n}`, gpu, io, ["a"], (be, t) => be.addInto(t.a, t.b, -0.5), 1e-6);
      await parity(`mul ${n}`, gpu, io, ["out"], (be, t) => be.mul(t.out, t.a, t.b), 1e-6);
      await parity(`gelu ${n}`, gpu, io, ["out"], (be, t) => be.gelu(t.out, t.a), 2e-6);
      await parity(
        `reluSquared ${n}`,
        gpu,
        io,
        ["out"],
        (be, t) => be.reluSquared(t.out, t.a),
        1e-6,
      );
      await parity(`sigmoid ${n}`, gpu, io, ["out"], (be, t) => be.sigmoid(t.out, t.a), 2e-6);
    }
  },
});

Deno.test({
  name: "webgpu elementwise backward ops accumulate like the CPU",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    for (const n of SIZES) {
      const io = {
        dx: f(n, 4),
        dy: f(n, 5),
        x: f(n, 6, 5),
        dout: f(n, 7),
        y: [[n], rnd(n, 8).map((v) => 0.5 + v / 2)] as Input,
      };
      await parity(
        `mulBackward ${n}`,
        gpu,
        io,
        ["dx", "dy"],
        (be, t) => be.mulBackward({ da: t.dx, db: t.dy, dout: t.dout, a: t.x, b: t.y }),
        1e-6,
      );
      await parity(
        `mulBackward da only ${n}`,
        gpu,
        io,
        ["dx", "dy"],
        (be, t) => be.mulBackward({ da: t.dx, db: null, dout: t.dout, a: t.x, b: t.y }),
        1e-6,
      );
      await parity(
        `geluBackward ${n}`,
        gpu,
        io,
        ["dx"],
        (be, t) => be.geluBackward(t.dx, t.x, t.dout),
        1e-5,
      );
      await parity(
        `reluSquaredBackward ${n}`,
        gpu,
        io,
        ["dx"],
        (be, t) => be.reluSquaredBackward(t.dx, t.x, t.dout),
        1e-6,
      );
      await parity(
        `sigmoidBackward ${n}`,
        gpu,
        io,
        ["dx"],
        (be, t) => be.sigmoidBackward(t.dx, t.y, t.dout),
        1e-6,
      );
    }
  },
});

Deno.test({
  name: "webgpu reductions: sum, sumSquares (= and +=), sumRows, on odd sizes",
  ...gpuTest,
  fn: async () => {
    const gpu = await gpuBackend();
    for (const n of [...SIZES, 100_003]) {
      const io = { s: f(1, 9), x: f(n, 10) };
      const tol = { atol: 1e-4, rtol: 1e-5 };
      await parity(`sum ${n}`, gpu, io, ["s"], (be, t) => be.sum(t.s, t.x), tol);
      await parity(`sum += ${n}`, gpu, io, ["s"], (be, t) => be.sum(t.s, t.x, true), tol);
      await parity(`sumSquares ${n}`, gpu, io, ["s"], (be, t) => be.sumSquares(t.s, t.x), tol);
      await parity(
        `sumSquares += ${n}`,
        gpu,
        io,
        ["s"],
        (be, t) => be.sumSquares(t.s, t.x, true),
        tol,
      );
    }
    for (const [M, N] of [[1, 1], [3, 17], [127, 3], [1000, 33]]) {
      const io = { out: f(N, 11), x: [[M, N], rnd(M * N, 12)] as Input };
      await parity(`sumRows ${M}x${N}`, gpu, io, ["out"], (be, t) => be.sumRows(t.out, t.x), 1e-5);
      await parity(
        `sumRows += ${M}x${N}`,
        gpu,
        io,
        ["out"],
        (be, t) => be.sumRows(t.out, t.x, true),
        1e-5,
      );
    }
  },
});
