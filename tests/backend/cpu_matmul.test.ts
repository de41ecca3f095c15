import assert from "node:assert/strict";
import { CpuBackend } from "../../src/backend/cpu/mod.ts";
import { matmul as matmulKernel } from "../../src/backend/cpu/matmul.ts";
import { assertClose, dotLoss, randomTensorData } from "./_helpers.ts";
import { checkGradients } from "./gradcheck.ts";

/** Naive float64 reference: out[i,j] = Σ_k A[i,k]·B[k,j] (+ bias[j]) with A, B as stored. */
function reference(
  a: Float32Array,
  b: Float32Array,
  M: number,
  N: number,
  K: number,
  transA: boolean,
  transB: boolean,
  bias: Float32Array | null,
): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = bias ? bias[j] : 0;
      for (let k = 0; k < K; k++) {
        s += (transA ? a[k * M + i] : a[i * K + k]) * (transB ? b[j * K + k] : b[k * N + j]);
      }
      out[i * N + j] = s;
    }
  }
  return out;
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 3, 17],
  [3, 1, 5],
  [17, 3, 1],
  [5, 17, 3],
  [4, 8, 16],
  [33, 31, 67],
  [64, 65, 130],
  [127, 9, 300],
  [6, 601, 517], // more than one block of columns (512) and of the inner dimension (256)
];

Deno.test("cpu matmul: every transpose case, bias and accumulate vs a float64 reference", async () => {
  const cpu = new CpuBackend();
  let seed = 1;
  for (const [M, N, K] of SHAPES) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const withBias of [false, true]) {
          const a = randomTensorData(M * K, seed++), b = randomTensorData(K * N, seed++);
          const bias = withBias ? randomTensorData(N, seed++) : null;
          const ta = cpu.fromArray(transA ? [K, M] : [M, K], a);
          const tb = cpu.fromArray(transB ? [N, K] : [K, N], b);
          const out = cpu.fromArray([M, N], randomTensorData(M * N, seed++));
          const options = { transA, transB, bias: bias ? cpu.fromArray([N], bias) : undefined };
          const what = `matmul M${M} N${N} K${K} tA ${transA} tB ${transB} bias ${withBias}`;
          const expected = reference(a, b, M, N, K, transA, transB, bias);
          cpu.matmul(out, ta, tb, options);
          const tol = { atol: 1e-6 * Math.sqrt(K), rtol: 1e-5 };
          assertClose(await cpu.read(out), expected, tol, what);
          cpu.matmul(out, ta, tb, { ...options, accumulate: true });
          assertClose(await cpu.read(out), expected.map((v) => 2 * v), tol, `${what} accumulate`);
        }
      }
    }
  }
});

Deno.test("cpu matmul: leading dimensions are flattened ([B, T, C] · [C, N])", async () => {
  const cpu = new CpuBackend();
  const x = randomTensorData(2 * 3 * 5, 1), w = randomTensorData(5 * 7, 2);
  const out = cpu.zeros([2, 3, 7]);
  cpu.matmul(out, cpu.fromArray([2, 3, 5], x), cpu.fromArray([5, 7], w));
  assertClose(await cpu.read(out), reference(x, w, 6, 7, 5, false, false, null), 1e-6, "3-D");
});

Deno.test("cpu matmul kernel: row strides (lda, ldb, ldc) read and write sub-matrices in place", () => {
  // Multiply the [M, K] block at (1, 2) of a [9, 11] matrix by the [K, N] block at (0, 3) of
  // a [7, 13] one (or its transpose), into the block at (2, 1) of a [10, 12] output.
  for (const [M, N, K] of [[1, 5, 4], [6, 7, 5], [5, 4, 7]]) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        const A = randomTensorData(9 * 11, 1), Bm = randomTensorData(13 * 13, 2);
        const out = new Float32Array(10 * 12);
        const aOff = 1 * 11 + 2, bOff = 0 * 13 + 3, oOff = 2 * 12 + 1;
        matmulKernel(out.subarray(oOff), A.subarray(aOff), Bm.subarray(bOff), null, {
          M,
          N,
          K,
          transA,
          transB,
          lda: 11,
          ldb: 13,
          ldc: 12,
        }, false);
        const at = (i: number, k: number) => transA ? A[aOff + k * 11 + i] : A[aOff + i * 11 + k];
        const bt = (k: number, j: number) => transB ? Bm[bOff + j * 13 + k] : Bm[bOff + k * 13 + j];
        const expected = new Float64Array(10 * 12);
        for (let i = 0; i < M; i++) {
          for (let j = 0; j < N; j++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += at(i, k) * bt(k, j);
            expected[oOff + i * 12 + j] = s;
          }
        }
        assertClose(out, expected, 1e-6, `strided matmul M${M} N${N} K${K} ${transA} ${transB}`);
      }
    }
  }
});

Deno.test("cpu matmul: the transposed products are its backward (finite differences)", () => {
  // out = x·W + b: dx = dout·Wᵀ, dW = xᵀ·dout, db = Σ_rows dout — as the models use them.
  for (const [M, N, K] of [[1, 1, 1], [3, 17, 5], [17, 3, 1], [7, 9, 13]]) {
    checkGradients(`linear M${M} N${N} K${K}`, (cpu) => {
      const x = cpu.fromArray([M, K], randomTensorData(M * K, 1));
      const w = cpu.fromArray([K, N], randomTensorData(K * N, 2));
      const b = cpu.fromArray([N], randomTensorData(N, 3));
      const g = cpu.fromArray([M, N], randomTensorData(M * N, 4));
      const out = cpu.zeros([M, N]);
      const dx = cpu.zeros([M, K]), dw = cpu.zeros([K, N]), db = cpu.zeros([N]);
      return {
        wrt: { x: { x, dx }, w: { x: w, dx: dw }, b: { x: b, dx: db } },
        loss: () => (cpu.matmul(out, x, w, { bias: b }), dotLoss(cpu.array(out), cpu.array(g))),
        backward: () => {
          cpu.matmul(dx, g, w, { transB: true, accumulate: true });
          cpu.matmul(dw, x, g, { transA: true, accumulate: true });
          cpu.sumRows(db, g, true);
        },
      };
    });
  }
});

Deno.test("cpu matmul: shape errors name the op and both shapes", () => {
  const cpu = new CpuBackend();
  assert.throws(
    () => cpu.matmul(cpu.zeros([2, 4]), cpu.zeros([2, 3]), cpu.zeros([5, 4])),
    /^Error: matmul: a \[2, 3\] and b \[5, 4\] do not match \(inner dimensions 3 and 5\)/,
  );
  assert.throws(
    () => cpu.matmul(cpu.zeros([2, 5]), cpu.zeros([2, 3]), cpu.zeros([3, 4])),
    /matmul: out \[2, 5\] does not fit a \[2, 3\] and b \[3, 4\] \(needs \[2, 4\]\)/,
  );
  assert.throws(
    () =>
      cpu.matmul(cpu.zeros([2, 4]), cpu.zeros([2, 3]), cpu.zeros([3, 4]), { bias: cpu.zeros([3]) }),
    /matmul: bias has shape \[3\]/,
  );
});
