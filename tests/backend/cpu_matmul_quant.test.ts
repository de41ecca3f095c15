// matmulQuant on the CPU backend against dequantize-then-float (a float64 product of the
// dequantized weight): Q8_0 and Q4_0, one row (decode) and several (prefill), bias, accumulate;
// bad arguments refused by the checks. Tolerance: 1e-4 relative to the sum of |terms|.
import assert from "node:assert/strict";
import { CpuBackend } from "../../src/backend/mod.ts";
import { blockWords, dequantize, quantize, type QuantType } from "../../src/quant/mod.ts";
import { randomTensorData as rnd } from "./_helpers.ts";

Deno.test("cpu matmulQuant = a · dequantize(W)ᵀ (Q8_0, Q4_0; decode and prefill rows; bias, accumulate)", async () => {
  const be = new CpuBackend();
  for (const type of ["q8_0", "q4_0"] as QuantType[]) {
    for (const [M, K, N] of [[1, 32, 1], [1, 128, 70], [5, 96, 33], [17, 64, 9]]) {
      const w = rnd(N * K, 1);
      const q = quantize(type, w);
      const deq = dequantize(type, q, N * K);
      const a = rnd(M * K, 2), bias = rnd(N, 3), init = rnd(M * N, 4);
      for (const accumulate of [false, true]) {
        const out = be.fromArray([M, N], init);
        be.matmulQuant({
          out,
          a: be.fromArray([M, K], a),
          w: be.fromArray([Math.ceil(q.length / 4)], blockWords(q)),
          type,
          N,
          K,
          bias: be.fromArray([N], bias),
          accumulate,
        });
        const got = await be.read(out);
        for (let m = 0; m < M; m++) {
          for (let n = 0; n < N; n++) {
            let s = accumulate ? init[m * N + n] : 0, mag = Math.abs(s);
            for (let k = 0; k < K; k++) {
              s += a[m * K + k] * deq[n * K + k];
              mag += Math.abs(a[m * K + k] * deq[n * K + k]);
            }
            s += bias[n];
            const d = Math.abs(got[m * N + n] - s);
            assert.ok(d <= 1e-4 * (mag + 1), `${type} ${M}x${K}x${N} [${m},${n}]: ${d}`);
          }
        }
      }
    }
  }
  const a = be.zeros([1, 40]);
  assert.throws(
    () =>
      be.matmulQuant({
        out: be.zeros([1, 1]),
        a,
        w: be.zeros([9], "i32"),
        type: "q8_0",
        N: 1,
        K: 40,
      }),
    /K 40 is not a positive multiple of 32/,
  );
  assert.throws(
    () =>
      be.matmulQuant({
        out: be.zeros([1, 2]),
        a: be.zeros([1, 32]),
        w: be.zeros([9], "i32"),
        type: "q8_0",
        N: 2,
        K: 32,
      }),
    /matmulQuant: w/,
  );
});
