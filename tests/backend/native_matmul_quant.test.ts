// The native backend's quantized matmul (bn_matmul_quant in ffi/bentevi_kernels.c) computes as
// llama.cpp does: the input rows rounded to Q8_0 blocks (ggml's x86 quantize_row_q8_0: scale
// amax/127 stored as float16, quants round-half-even(x · 127/amax)), integer block dot
// products, float scales. Checked here against a TypeScript model of exactly that arithmetic
// (only the float32 summation order may differ: 1e-5), with one and two threads giving the same
// bits. Against the TypeScript backend's float kernel it is checked by `parity()` in
// webgpu_matmul_quant.test.ts, to the input-rounding tolerance stated there.
// Skips with a message where the native backend cannot load.
import assert from "node:assert/strict";
import {
  createNativeBackend,
  loadNativeCompute,
  machineCores,
  QUANT_KERNEL_PATHS,
  quantKernelPath,
} from "../../src/backend/native/mod.ts";
import type { Backend } from "../../src/backend/backend.ts";
import { floatToHalf, halfToFloat } from "../../src/io/float16.ts";
import { BLOCK_BYTES, blockWords, quantize, type QuantType } from "../../src/quant/mod.ts";
import { assertClose, randomTensorData as rnd } from "./_helpers.ts";

const loaded = loadNativeCompute();
const why = typeof loaded === "string" ? loaded : "";
if (why) console.log(`native matmulQuant tests skipped: ${why}`);
const nativeTest = { ignore: !!why, sanitizeResources: false, sanitizeOps: false };

const f = Math.fround;

/** Round half to even (the x86 rounding of `_mm256_round_ps(…, _MM_ROUND_NEAREST)`). */
function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : r;
}

/** llama.cpp's quantized product, modelled in TypeScript (float64 sums of exact terms). */
function llamaCppProduct(
  a: Float32Array,
  M: number,
  K: number,
  w: Uint8Array,
  N: number,
  type: QuantType,
  bias: Float32Array | null,
  before: Float32Array,
  accumulate: boolean,
): Float32Array {
  const nb = K / 32, bytes = BLOCK_BYTES[type];
  const qa = new Int8Array(M * K), da = new Float32Array(M * nb);
  for (let r = 0; r < M; r++) {
    for (let b = 0; b < nb; b++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(a[r * K + b * 32 + j]));
      const id = amax !== 0 ? f(127 / amax) : 0;
      for (let j = 0; j < 32; j++) {
        qa[r * K + b * 32 + j] = roundEven(f(a[r * K + b * 32 + j] * id));
      }
      da[r * nb + b] = halfToFloat(floatToHalf(f(amax / 127)));
    }
  }
  const out = Float32Array.from(before);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let b = 0; b < nb; b++) {
        const o = (n * nb + b) * bytes;
        const dw = halfToFloat(w[o] | (w[o + 1] << 8));
        let s = 0;
        for (let j = 0; j < 32; j++) {
          const q = type === "q8_0"
            ? (w[o + 2 + j] << 24) >> 24
            : j < 16
            ? (w[o + 2 + j] & 15) - 8
            : (w[o + 2 + j - 16] >> 4) - 8;
          s += q * qa[m * K + b * 32 + j];
        }
        acc += f(dw * da[m * nb + b]) * s;
      }
      if (bias) acc += bias[n];
      out[m * N + n] = accumulate ? out[m * N + n] + acc : acc;
    }
  }
  return out;
}

async function run(
  be: Backend,
  type: QuantType,
  a: Float32Array,
  M: number,
  K: number,
  wBytes: Uint8Array,
  N: number,
  bias: Float32Array | null,
  before: Float32Array,
  accumulate: boolean,
): Promise<Float32Array> {
  const words = blockWords(wBytes);
  const out = be.fromArray([M, N], before);
  be.matmulQuant({
    out,
    a: be.fromArray([M, K], a),
    w: be.fromArray([words.length], words),
    type,
    N,
    K,
    bias: bias ? be.fromArray([N], bias) : undefined,
    accumulate,
  });
  return (await be.read(out)) as Float32Array;
}

Deno.test({
  name: "native matmulQuant = llama.cpp's arithmetic (Q8_0, Q4_0; 1…9 rows; bias, accumulate)",
  ...nativeTest,
  fn: async () => {
    const be = createNativeBackend({ threads: 1 });
    let checked = 0;
    for (const type of ["q8_0", "q4_0"] as QuantType[]) {
      for (const [M, K, N] of [[1, 32, 1], [1, 256, 70], [3, 96, 33], [6, 64, 17], [9, 128, 5]]) {
        const w = quantize(type, rnd(N * K, 1));
        const a = rnd(M * K, 2, 3);
        a.fill(0, 0, 32); // a block of zeros (scale 0)
        if (M > 1) { for (let j = K; j < K + 32; j++) a[j] *= 1e-6; // tiny: float16 subnormal scale
         }
        const before = rnd(M * N, 4);
        for (const accumulate of [false, true]) {
          for (const bias of [null, rnd(N, 3)]) {
            const want = llamaCppProduct(a, M, K, w, N, type, bias, before, accumulate);
            const got = await run(be, type, a, M, K, w, N, bias, before, accumulate);
            assertClose(got, want, 1e-5, `${type} ${M}x${K}x${N} acc${+accumulate}`);
            checked++;
          }
        }
      }
    }
    assert.equal(checked, 40);
  },
});

Deno.test({
  name: "native matmulQuant: a NaN or an infinity in an input row makes that row's outputs NaN",
  ...nativeTest,
  fn: async () => {
    const be = createNativeBackend({ threads: 1 });
    for (const type of ["q8_0", "q4_0"] as QuantType[]) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const [M, K, N] = [3, 64, 5];
        const a = rnd(M * K, 8);
        a[K + 40] = bad; // row 1
        const got = await run(
          be,
          type,
          a,
          M,
          K,
          quantize(type, rnd(N * K, 9)),
          N,
          null,
          new Float32Array(M * N),
          false,
        );
        for (let i = 0; i < M * N; i++) {
          assert.equal(Number.isNaN(got[i]), i >= N && i < 2 * N, `${type} ${bad} output ${i}`);
        }
      }
    }
  },
});

Deno.test({
  name: "native matmulQuant: one and two threads give identical bits",
  ...nativeTest,
  ignore: !!why || machineCores() < 2,
  fn: async () => {
    const one = createNativeBackend({ threads: 1 }), two = createNativeBackend({ threads: 2 });
    for (const type of ["q8_0", "q4_0"] as QuantType[]) {
      // N large enough that the output rows are split between the threads.
      for (const [M, K, N] of [[1, 256, 1000], [7, 96, 600]]) {
        const w = quantize(type, rnd(N * K, 5));
        const a = rnd(M * K, 6), before = new Float32Array(M * N), bias = rnd(N, 7);
        const x = await run(one, type, a, M, K, w, N, bias, before, false);
        const y = await run(two, type, a, M, K, w, N, bias, before, false);
        assert.deepEqual(new Uint8Array(y.buffer), new Uint8Array(x.buffer), `${type} ${M}x${K}`);
      }
    }
  },
});

Deno.test({
  name:
    "native matmulQuant: every kernel this CPU has (portable, AVX2, AVX-512) gives the same bits",
  ...nativeTest,
  fn: async () => {
    const native = loaded as Exclude<typeof loaded, string>;
    const path = (p?: Parameters<typeof quantKernelPath>[1]) => quantKernelPath(native, p);
    const be = createNativeBackend({ threads: 1 });
    const best = path("auto");
    assert.ok(best !== null);
    const paths = QUANT_KERNEL_PATHS.filter((p) => path(p) === p);
    assert.ok(paths.includes("portable") && paths.includes(best));
    console.log(`quant kernels compared: ${paths.join(", ")}`);
    try {
      for (const type of ["q8_0", "q4_0"] as QuantType[]) {
        // 1…9 rows (every tile height and remainder), odd and even block counts.
        // Q4_0: N ≥ 16 runs the repacked 16-row kernels (whole groups), N mod 16 the plain rows.
        for (
          const [M, K, N] of [
            [1, 32, 3],
            [1, 288, 40],
            [3, 96, 33],
            [5, 64, 17],
            [9, 160, 9],
            [8, 64, 16],
            [13, 96, 48],
          ]
        ) {
          const w = quantize(type, rnd(N * K, 11));
          const a = rnd(M * K, 12, 3);
          a.fill(0, 0, 32);
          const before = rnd(M * N, 13), bias = rnd(N, 14);
          let first: Uint8Array | null = null;
          for (const p of paths) {
            assert.equal(path(p), p);
            const got = await run(be, type, a, M, K, w, N, bias, before, true);
            const bits = new Uint8Array(got.buffer);
            if (first) assert.deepEqual(bits, first, `${type} ${M}x${K}x${N} ${p}`);
            else first = bits;
          }
        }
      }
    } finally {
      path("auto");
    }
  },
});

Deno.test({
  name: "native matmulQuant: Q4_0 weights written after a product are the ones the next uses",
  ...nativeTest,
  fn: async () => {
    // The Q4_0 kernels repack the weight in place at its first product; every other access
    // (read, write, copy, fill, a view) must see and change the plain blocks.
    const be = createNativeBackend({ threads: 1 });
    const [M, K, N] = [2, 64, 40];
    const a = be.fromArray([M, K], rnd(M * K, 21));
    const first = blockWords(quantize("q4_0", rnd(N * K, 22)));
    const second = blockWords(quantize("q4_0", rnd(N * K, 23)));
    const product = async (w: ReturnType<Backend["zeros"]>) => {
      const out = be.zeros([M, N]);
      be.matmulQuant({ out, a, w, type: "q4_0", N, K });
      return (await be.read(out)) as Float32Array;
    };
    const want1 = await product(be.fromArray([first.length], first));
    const want2 = await product(be.fromArray([second.length], second));
    assert.notDeepEqual(want1, want2);
    const w = be.fromArray([first.length], first);
    assert.deepEqual(await product(w), want1);
    assert.deepEqual(await be.read(w), first, "read after a product");
    assert.deepEqual(await product(w), want1, "after read");
    await product(w);
    const part = be.view(w, 64, [64]);
    assert.deepEqual(await be.read(part), first.subarray(64, 128), "a view after a product");
    be.write(w, second);
    assert.deepEqual(await product(w), want2, "after write");
    be.copy(w, be.fromArray([first.length], first));
    assert.deepEqual(await product(w), want1, "after copy");
    await product(w);
    const other = be.zeros([first.length], "i32");
    be.copy(other, w);
    assert.deepEqual(await be.read(other), first, "copied from after a product");
    be.fill(w, 0);
    assert.deepEqual(await product(w), new Float32Array(M * N), "after fill");
  },
});
