/**
 * The `kernels` benchmark: GFLOP/s of square and micro-model matmuls, ms per op for the other
 * hot kernels, and the cost of one dispatch — on any {@link Backend} (WebGPU, native or CPU);
 * on the native backend also OpenBLAS alone (timed in C) and the cost of one FFI call. Used by
 * `bentevi bench kernels` and `bench/kernels.bench.ts`.
 *
 * @module
 */
import type { Backend, Tensor } from "../backend.ts";

/** Figures of one run of the kernels benchmark. */
export interface KernelBenchResult {
  /** Backend description (adapter, matmul variant). */
  device: string;
  /** Square fp32 matmul n×n·n×n, GFLOP/s by n. */
  matmul_gflops: Record<string, number>;
  /** The micro-model matmul shapes ("MxK·KxN"), GFLOP/s. */
  model_matmul_gflops: Record<string, number>;
  /** Milliseconds per call of the other hot ops (shapes in the key). */
  ops_ms: Record<string, number>;
  /** Microseconds per dispatch of a tiny op (recording + execution, amortised). */
  dispatch_us: number;
  /**
   * Native backend only: the same matmuls with OpenBLAS alone, timed inside C (no FFI call,
   * no argument checks) — what the backend's figures are measured against.
   */
  blas_alone_gflops?: Record<string, number>;
  /** Native backend only: µs per call of a C op on 64 floats (checks + FFI + the kernel). */
  ffi_op_us?: number;
}

/** Options of {@link runKernelBench}. */
export interface KernelBenchOptions {
  /** Square matmul sizes (default 256, 512, 1024). */
  sizes?: number[];
  /** Smaller repetition counts (for smoke tests). */
  quick?: boolean;
}

/** The micro models' matmul shapes [M, K, N]: QKV, FC1, FC2-like and the LM head. */
export const MODEL_SHAPES: [number, number, number][] = [
  [1024, 128, 384],
  [1024, 128, 512],
  [1024, 512, 128],
  [1024, 128, 4096],
];

/** Median of the per-call time over `batches` batches of `reps` calls, in ms. */
async function timeOp(be: Backend, fn: () => void, reps: number, batches = 3): Promise<number> {
  fn(); // warm-up: compiles pipelines, sizes pools
  await be.sync();
  const times: number[] = [];
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) fn();
    await be.sync();
    times.push((performance.now() - t0) / reps);
  }
  times.sort((x, y) => x - y);
  return times[Math.floor(times.length / 2)];
}

function filled(be: Backend, shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s / 2 ** 32 - 0.5) * 0.2;
  }
  return be.fromArray(shape, data);
}

/** GFLOP/s of one `M×K · K×N` matmul on `be`. */
export async function matmulGflops(
  be: Backend,
  M: number,
  K: number,
  N: number,
  quick = false,
): Promise<number> {
  const a = filled(be, [M, K], 1), b = filled(be, [K, N], 2), out = be.zeros([M, N]);
  const flops = 2 * M * N * K;
  const reps = Math.max(1, Math.round((quick ? 2e8 : 2e9) / flops / (be.kind === "cpu" ? 10 : 1)));
  const ms = await timeOp(be, () => be.matmul(out, a, b), reps, quick ? 1 : 3);
  for (const t of [a, b, out]) be.free(t);
  return round(flops / ms / 1e6);
}

/** Runs the whole suite on `be`. */
export async function runKernelBench(
  be: Backend,
  options: KernelBenchOptions = {},
): Promise<KernelBenchResult> {
  const quick = options.quick ?? false;
  const sizes = options.sizes ?? [256, 512, 1024];
  const matmul_gflops: Record<string, number> = {};
  for (const n of sizes) matmul_gflops[String(n)] = await matmulGflops(be, n, n, n, quick);
  const model_matmul_gflops: Record<string, number> = {};
  for (const [M, K, N] of MODEL_SHAPES) {
    model_matmul_gflops[`${M}x${K}·${K}x${N}`] = await matmulGflops(be, M, K, N, quick);
  }

  const ops_ms: Record<string, number> = {};
  const reps = quick ? 1 : 5;
  // The small ops (a few ms or less) run 40 times per batch: one wait for the device costs
  // ~13 ms on llvmpipe, which at 5 calls would dominate their figures.
  const small = quick ? 1 : 40;
  const batches = quick ? 1 : 3;
  {
    // Attention forward + backward at B8 T128 C128 NH4 (the tiny GPT).
    const dims = { B: 8, T: 128, C: 128, NH: 4 };
    const qkv = filled(be, [8, 128, 384], 3), out = be.zeros([8, 128, 128]);
    const lse = be.zeros([8, 4, 128]), dout = filled(be, [8, 128, 128], 4);
    const dqkv = be.zeros([8, 128, 384]);
    ops_ms["attention_fwd B8 T128 C128 NH4"] = round(
      await timeOp(be, () => be.attention({ out, lse, qkv, dims }), reps, batches),
    );
    ops_ms["attention_fwd_bwd B8 T128 C128 NH4"] = round(
      await timeOp(
        be,
        () => {
          be.attention({ out, lse, qkv, dims });
          be.attentionBackward({ dqkv, dout, out, lse, qkv, dims });
        },
        reps,
        batches,
      ),
    );
    for (const t of [qkv, out, lse, dout, dqkv]) be.free(t);
  }
  {
    const N = 1024, V = 4096;
    const logits = filled(be, [N, V], 5), dlogits = be.zeros([N, V]), losses = be.zeros([N]);
    const targets = be.fromArray([N], new Int32Array(N).map((_, i) => (i * 7) % V));
    ops_ms["softmax_xent 1024x4096"] = round(
      await timeOp(
        be,
        () => be.softmaxCrossEntropy({ losses, dlogits, logits, targets, gradScale: 1 }),
        reps,
        batches,
      ),
    );
    for (const t of [logits, dlogits, losses, targets]) be.free(t);
  }
  {
    const N = 1024, C = 128;
    const x = filled(be, [N, C], 6), w = filled(be, [C], 7), b = filled(be, [C], 8);
    const out = be.zeros([N, C]), mean = be.zeros([N]), rstd = be.zeros([N]);
    const dx = be.zeros([N, C]), dw = be.zeros([C]), db = be.zeros([C]);
    ops_ms["layernorm_fwd 1024x128"] = round(
      await timeOp(be, () => be.layerNorm({ out, mean, rstd, x, w, b }), small, batches),
    );
    ops_ms["layernorm_bwd 1024x128"] = round(
      await timeOp(
        be,
        () => be.layerNormBackward({ dx, dw, db, dout: out, x, w, mean, rstd }),
        small,
        batches,
      ),
    );
    const h = filled(be, [N, 4 * C], 9), g = be.zeros([N, 4 * C]);
    ops_ms["gelu_fwd 1024x512"] = round(await timeOp(be, () => be.gelu(g, h), small, batches));
    for (const t of [x, w, b, out, mean, rstd, dx, dw, db, h, g]) be.free(t);
  }
  {
    // The Llama ops at the micro models' shapes: RMSNorm, SwiGLU (vs LayerNorm and GELU above),
    // RoPE over fused q|k|v rows and grouped-query attention with 2 kv heads for 4 query heads.
    const N = 1024, C = 128, F = 512;
    const x = filled(be, [N, C], 12), w = filled(be, [C], 13), out = be.zeros([N, C]);
    const rstd = be.zeros([N]), dx = be.zeros([N, C]), dw = be.zeros([C]);
    ops_ms["rmsnorm_fwd 1024x128"] = round(
      await timeOp(be, () => be.rmsNorm({ out, rstd, x, w, eps: 1e-5 }), small, batches),
    );
    ops_ms["rmsnorm_bwd 1024x128"] = round(
      await timeOp(
        be,
        () => be.rmsNormBackward({ dx, dw, dout: out, x, w, rstd }),
        small,
        batches,
      ),
    );
    const gate = filled(be, [N, F], 14), up = filled(be, [N, F], 15), h = be.zeros([N, F]);
    const dgate = be.zeros([N, F]), dup = be.zeros([N, F]);
    ops_ms["swiglu_fwd 1024x512"] = round(
      await timeOp(be, () => be.swiglu(h, gate, up), small, batches),
    );
    ops_ms["swiglu_bwd 1024x512"] = round(
      await timeOp(
        be,
        () => be.swigluBackward({ dgate, dup, dout: h, gate, up }),
        small,
        batches,
      ),
    );
    for (const t of [x, w, out, rstd, dx, dw, gate, up, h, dgate, dup]) be.free(t);

    const B = 8, T = 128, NH = 4, NKV = 2, hd = 32, W = (NH + 2 * NKV) * hd;
    const half = hd / 2, cosData = new Float32Array(T * half), sinData = new Float32Array(T * half);
    for (let p = 0; p < T; p++) {
      for (let i = 0; i < half; i++) {
        const angle = p * Math.pow(10000, (-2 * i) / hd);
        cosData[p * half + i] = Math.cos(angle);
        sinData[p * half + i] = Math.sin(angle);
      }
    }
    const cos = be.fromArray([T, half], cosData), sin = be.fromArray([T, half], sinData);
    const qkv = filled(be, [B, T, W], 16), dqkv = be.zeros([B, T, W]);
    const shape = { B, T, headDim: hd, rotatedHeads: NH + NKV };
    ops_ms["rope_fwd B8 T128 NH4 NKV2 hd32"] = round(
      await timeOp(be, () => be.rope({ out: qkv, x: qkv, cos, sin, ...shape }), small, batches),
    );
    ops_ms["rope_bwd B8 T128 NH4 NKV2 hd32"] = round(
      await timeOp(
        be,
        () => be.ropeBackward({ dx: dqkv, dout: qkv, cos, sin, ...shape }),
        small,
        batches,
      ),
    );
    const dims = { B, T, C: NH * hd, NH, NKV };
    const att = be.zeros([B, T, NH * hd]), lse = be.zeros([B, NH, T]);
    const dout = filled(be, [B, T, NH * hd], 17);
    ops_ms["attention_fwd_bwd B8 T128 NKV2"] = round(
      await timeOp(
        be,
        () => {
          be.attention({ out: att, lse, qkv, dims });
          be.attentionBackward({ dqkv, dout, out: att, lse, qkv, dims });
        },
        reps,
        batches,
      ),
    );
    for (const t of [cos, sin, qkv, dqkv, att, lse, dout]) be.free(t);
  }
  {
    const n = 1 << 20;
    const p = filled(be, [n], 10), g = filled(be, [n], 11), m = be.zeros([n]), v = be.zeros([n]);
    const ns = be.fromArray([1], new Float32Array([4]));
    const hp = {
      lr: 1e-3,
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-8,
      weightDecay: 0.1,
      step: 1,
      gradScale: 1,
    };
    ops_ms["adamw 1M params"] = round(
      await timeOp(
        be,
        () =>
          be.adamw({
            params: p,
            grads: g,
            m,
            v,
            decayMask: null,
            hp,
            clip: { normSquared: ns, maxNorm: 1 },
          }),
        reps,
        batches,
      ),
    );
    ops_ms["sum_squares 1M"] = round(await timeOp(be, () => be.sumSquares(ns, g), reps, batches));
    for (const t of [p, g, m, v, ns]) be.free(t);
  }
  // Per-dispatch cost: many tiny ops recorded into one submit.
  const tiny = be.zeros([64]);
  const count = quick ? 100 : 1000;
  const perBatch = await timeOp(
    be,
    () => {
      for (let i = 0; i < count; i++) be.scale(tiny, 1.0001);
    },
    1,
    batches,
  );
  be.free(tiny);
  const result: KernelBenchResult = {
    device: be.description,
    matmul_gflops,
    model_matmul_gflops,
    ops_ms,
    dispatch_us: round((perBatch / count) * 1000),
  };
  const native = be as Backend & {
    blasAloneGflops?: (M: number, K: number, N: number, reps: number) => number;
  };
  if (native.blasAloneGflops) {
    result.blas_alone_gflops = {};
    const shapes: [string, number, number, number][] = [
      ...sizes.map((n): [string, number, number, number] => [`${n}`, n, n, n]),
      ...MODEL_SHAPES.map(([M, K, N]): [string, number, number, number] => [
        `${M}x${K}·${K}x${N}`,
        M,
        K,
        N,
      ]),
    ];
    for (const [key, M, K, N] of shapes) {
      const reps = Math.max(1, Math.round((quick ? 2e8 : 2e9) / (2 * M * N * K)));
      result.blas_alone_gflops[key] = round(native.blasAloneGflops(M, K, N, reps));
    }
    // One C op on 64 floats: argument checks + the FFI call + a trivial kernel.
    const a = be.zeros([64]), b = be.zeros([64]);
    const perCalls = await timeOp(
      be,
      () => {
        for (let i = 0; i < count; i++) be.addInto(a, b);
      },
      1,
      batches,
    );
    result.ffi_op_us = round((perCalls / count) * 1000);
    be.free(a);
    be.free(b);
  }
  return result;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** A small table of the figures, for people. */
export function formatKernelBench(r: KernelBenchResult): string {
  const lines = [`kernels on ${r.device}`];
  for (const [n, g] of Object.entries(r.matmul_gflops)) {
    lines.push(`  matmul ${n}³`.padEnd(42) + `${g.toFixed(2)} GFLOP/s`);
  }
  for (const [s, g] of Object.entries(r.model_matmul_gflops)) {
    lines.push(`  matmul ${s}`.padEnd(42) + `${g.toFixed(2)} GFLOP/s`);
  }
  for (const [op, ms] of Object.entries(r.ops_ms)) {
    lines.push(`  ${op}`.padEnd(42) + `${ms.toFixed(2)} ms`);
  }
  lines.push(`  one dispatch (tiny op)`.padEnd(42) + `${r.dispatch_us.toFixed(1)} µs`);
  if (r.blas_alone_gflops) {
    lines.push("  OpenBLAS alone (timed in C, no FFI):");
    for (const [s, g] of Object.entries(r.blas_alone_gflops)) {
      lines.push(`    matmul ${s}`.padEnd(42) + `${g.toFixed(2)} GFLOP/s`);
    }
  }
  if (r.ffi_op_us !== undefined) {
    lines.push(
      `  one C op on 64 floats (checks + FFI)`.padEnd(42) + `${r.ffi_op_us.toFixed(2)} µs`,
    );
  }
  return lines.join("\n");
}
