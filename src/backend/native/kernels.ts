/**
 * The raw native ops: the CPU backend's tensors and ops ({@link CpuKernels}) with the hot ops
 * replaced by C kernels (`ffi/bentevi_kernels.c`) and OpenBLAS, called through `Deno.dlopen`.
 * Tensors are the CPU backend's `Float32Array`s, handed to C as pointers (no copies). Every op
 * without a C kernel — including ops added later — runs the inherited TypeScript kernel on the
 * same arrays, so it stays correct.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import type { MatmulOptions, Tensor } from "../backend.ts";
import type * as op from "../backend.ts";
import { asMatrix, attentionWidths, cacheLength, channels, matmulDims } from "../checks.ts";
import { clipScale } from "../cpu/adamw.ts";
import { CpuKernels } from "../cpu/kernels.ts";
import type { CpuTensor } from "../cpu/tensor.ts";
import type { NativeSymbols } from "../../native/loader.ts";
import type { NativeCompute } from "./load.ts";

/** Element counts travel as int32: longer flat arrays run the TypeScript kernels. */
const MAX_C_LENGTH = 2 ** 31 - 1;

// The shim's thread count is one per process: each backend sets its own before its ops run.
let shimThreads = 0;

/** The kernels of the native quantized matmul, by the code `bn_quant_path` takes. */
export const QUANT_KERNEL_PATHS = ["portable", "avx2", "avx512"] as const;
/** One of {@link QUANT_KERNEL_PATHS}. */
export type QuantKernelPath = typeof QUANT_KERNEL_PATHS[number];

/**
 * The kernel `NativeKernels.matmulQuant` runs (one per process, for all native backends):
 * `"auto"` picks the best this CPU has; `"portable"`, `"avx2"` or `"avx512"` (AVX-512 VNNI) force
 * one — for tests and benchmarks: all give the same bits. Returns the kernel in effect, or
 * `null` (nothing changed) when the CPU lacks the one asked for. Without `path`, only reports.
 *
 * @example
 * ```ts ignore
 * import { loadNativeCompute } from "./load.ts";
 * import { quantKernelPath } from "./kernels.ts";
 * const native = loadNativeCompute();
 * if (typeof native !== "string") console.log(quantKernelPath(native)); // e.g. "avx512"
 * ```
 */
export function quantKernelPath(
  native: NativeCompute,
  path?: QuantKernelPath | "auto",
): QuantKernelPath | null {
  const code = path === undefined ? -2 : path === "auto" ? -1 : QUANT_KERNEL_PATHS.indexOf(path);
  const got = native.symbols.bn_quant_path(code);
  return got < 0 ? null : QUANT_KERNEL_PATHS[got];
}

/**
 * The raw native ops, without shape checks: use them through `NativeBackend`.
 *
 * @example
 * ```ts ignore
 * import { loadNativeCompute } from "./load.ts";
 * import { NativeKernels } from "./kernels.ts";
 * const native = loadNativeCompute();
 * if (typeof native !== "string") {
 *   const k = new NativeKernels(native, 1);
 *   const a = k.fromArray([2, 2], new Float32Array([1, 2, 3, 4]));
 *   const out = k.zeros([2, 2]);
 *   k.matmul(out, a, a);
 *   console.log(await k.read(out)); // Float32Array [7, 10, 15, 22]
 * }
 * ```
 */
export class NativeKernels extends CpuKernels {
  /** Always `"native"`. */
  override readonly kind = "native" as const;
  /** "native CPU (C kernels, OpenBLAS …, N threads)". */
  override readonly description: string;
  /** Threads the kernels and OpenBLAS use. */
  readonly threads: number;
  readonly #c: NativeSymbols;

  /** Native ops over a loaded shim with `threads` threads (checked by the caller). */
  constructor(native: NativeCompute, threads: number) {
    super({ precision: "f32" });
    this.#c = native.symbols;
    this.threads = threads;
    this.description = `native CPU (C kernels, ${native.blas.split(" ").slice(0, 3).join(" ")}, ` +
      `${threads} thread${threads === 1 ? "" : "s"})`;
  }

  /** The shim, with this backend's thread count in effect. */
  get #k(): NativeSymbols {
    if (shimThreads !== this.threads) shimThreads = this.#c.bn_set_threads(this.threads);
    return this.#c;
  }

  /**
   * GFLOP/s of `reps` `[M,K]·[K,N]` products timed inside C with OpenBLAS alone (no FFI call
   * per product, no checks): the baseline `bench kernels native` compares the backend with.
   */
  blasAloneGflops(M: number, K: number, N: number, reps: number): number {
    const seconds = this.#k.bn_bench_sgemm(M, N, K, reps);
    return seconds > 0 ? (2 * M * N * K) / seconds / 1e9 : NaN;
  }

  // ---- elementwise and reductions ---------------------------------------------------------

  override add(out: Tensor, a: Tensor, b: Tensor): void {
    const o = this.floats("add", "out", out);
    if (o.length > MAX_C_LENGTH) return super.add(out, a, b);
    this.#k.bn_add(o, this.floats("add", "a", a), this.floats("add", "b", b), o.length);
  }

  override addInto(dst: Tensor, src: Tensor, alpha = 1): void {
    const d = this.floats("addInto", "dst", dst);
    if (d.length > MAX_C_LENGTH) return super.addInto(dst, src, alpha);
    this.#k.bn_add_into(d, this.floats("addInto", "src", src), d.length, alpha);
  }

  override sumSquares(out: Tensor, x: Tensor, accumulate = false): void {
    const o = this.floats("sumSquares", "out", out), xs = this.floats("sumSquares", "x", x);
    if (xs.length > MAX_C_LENGTH) return super.sumSquares(out, x, accumulate);
    const s = this.#k.bn_sum_squares(xs, xs.length);
    o[0] = accumulate ? o[0] + s : s;
  }

  override sumRows(out: Tensor, x: Tensor, accumulate = false): void {
    const [M, N] = asMatrix(x);
    this.#k.bn_sum_rows(
      this.floats("sumRows", "out", out),
      this.floats("sumRows", "x", x),
      M,
      N,
      accumulate ? 1 : 0,
    );
  }

  // ---- GPT ops ------------------------------------------------------------------------------

  override matmul(out: Tensor, a: Tensor, b: Tensor, options: MatmulOptions = {}): void {
    const { M, N, K, transA, transB } = matmulDims(a, b, options);
    this.#k.bn_sgemm(
      this.floats("matmul", "out", out),
      this.floats("matmul", "a", a),
      this.floats("matmul", "b", b),
      this.floatsOrNull("matmul", "bias", options.bias),
      M,
      N,
      K,
      transA ? 1 : 0,
      transB ? 1 : 0,
      Math.max(1, transA ? M : K),
      Math.max(1, transB ? K : N),
      Math.max(1, N),
      options.accumulate ? 1 : 0,
    );
  }

  /**
   * Quantized weights in C (`bn_matmul_quant`), with llama.cpp's arithmetic: the input rows are
   * rounded to Q8_0 blocks and each block product is an integer dot product (AVX-512 VNNI or AVX2
   * where the CPU has it, see `quantKernelPath`), so results differ from the TypeScript kernel's
   * float products by the rounding of the inputs (see docs/backend_native.md for the
   * tolerance). A Q4_0 weight is repacked in place at its first product (16 rows interleaved per
   * block, `bn_quant_repack`: {@link CpuTensor.packed}); any other access restores it first.
   * Falls back to the TypeScript kernel only when the C side cannot allocate its scratch.
   */
  override matmulQuant(args: op.MatmulQuantArgs): void {
    const { out, a, w, type, N, K, bias, accumulate } = args;
    const o = "matmulQuant";
    const x = this.floats(o, "a", a), wt = this.storedInts(o, "w", w);
    if (wt.packed && (type !== "q4_0" || wt.packed.N !== N || wt.packed.K !== K)) {
      this.unpack(wt);
    }
    // Q4_0 in the 16-row kernels' layout, in place (a view keeps the plain one).
    if (type === "q4_0" && !wt.packed && !wt.base && N >= 16) {
      const words = wt.data as Int32Array;
      if (this.#k.bn_quant_repack(words, words, N, K) === 0) wt.packed = { N, K };
    }
    const rc = this.#k.bn_matmul_quant(
      this.floats(o, "out", out),
      x,
      wt.data as Int32Array,
      this.floatsOrNull(o, "bias", bias),
      x.length / K,
      N,
      K,
      type === "q8_0" ? 0 : wt.packed ? 2 : 1,
      accumulate ? 1 : 0,
    );
    if (rc !== 0) super.matmulQuant(args);
  }

  protected override unpack(t: CpuTensor): void {
    const { N, K } = t.packed!, words = t.data as Int32Array;
    if (this.#k.bn_quant_unpack(words, words, N, K) !== 0) {
      throw new BenteviError("out of memory restoring the layout of a Q4_0 weight");
    }
    t.packed = null;
  }

  override embedding(args: op.EmbeddingArgs): void {
    const { out, ids, wte, wpe, T, posOffset = 0 } = args;
    const o = "embedding", C = asMatrix(wte)[1];
    const idArray = this.ints(o, "ids", ids), table = this.floats(o, "wte", wte);
    const bad = this.#k.bn_embedding(
      this.floats(o, "out", out),
      idArray,
      idArray.length,
      table,
      table.length / C,
      this.floatsOrNull(o, "wpe", wpe),
      T,
      posOffset,
      C,
    );
    // A bad id: the TypeScript kernel throws its message (nothing was written here).
    if (Number(bad) >= 0) super.embedding(args);
  }

  override embeddingBackward(args: op.EmbeddingBackwardArgs): void {
    const { dwte, dwpe, dout, ids, T } = args;
    const o = "embeddingBackward", C = asMatrix(dwte)[1];
    const idArray = this.ints(o, "ids", ids), table = this.floats(o, "dwte", dwte);
    const bad = this.#k.bn_embedding_backward(
      table,
      table.length / C,
      this.floatsOrNull(o, "dwpe", dwpe),
      this.floats(o, "dout", dout),
      idArray,
      idArray.length,
      T,
      C,
    );
    if (Number(bad) >= 0) super.embeddingBackward(args);
  }

  override layerNorm({ out, mean, rstd, x, w, b, eps = 1e-5 }: op.LayerNormArgs): void {
    const o = "layerNorm";
    const [N, C] = asMatrix(x);
    this.#k.bn_layernorm(
      this.floats(o, "out", out),
      this.floats(o, "mean", mean),
      this.floats(o, "rstd", rstd),
      this.floats(o, "x", x),
      this.floats(o, "w", w),
      this.floats(o, "b", b),
      N,
      C,
      eps,
    );
  }

  override layerNormBackward(
    { dx, dw, db, dout, x, w, mean, rstd }: op.LayerNormBackwardArgs,
  ): void {
    const o = "layerNormBackward";
    const [N, C] = asMatrix(x);
    this.#k.bn_layernorm_backward(
      this.floats(o, "dx", dx),
      this.floats(o, "dw", dw),
      this.floats(o, "db", db),
      this.floats(o, "dout", dout),
      this.floats(o, "x", x),
      this.floats(o, "w", w),
      this.floats(o, "mean", mean),
      this.floats(o, "rstd", rstd),
      N,
      C,
    );
  }

  override gelu(out: Tensor, x: Tensor): void {
    const o = this.floats("gelu", "out", out);
    if (o.length > MAX_C_LENGTH) return super.gelu(out, x);
    this.#k.bn_gelu(o, this.floats("gelu", "x", x), o.length);
  }

  override geluBackward(dx: Tensor, x: Tensor, dout: Tensor): void {
    const o = "geluBackward", d = this.floats(o, "dx", dx);
    if (d.length > MAX_C_LENGTH) return super.geluBackward(dx, x, dout);
    this.#k.bn_gelu_backward(d, this.floats(o, "x", x), this.floats(o, "dout", dout), d.length);
  }

  override attention({ out, lse, qkv, dims }: op.AttentionArgs): void {
    const o = "attention";
    this.#k.bn_attention(
      this.floats(o, "out", out),
      this.floats(o, "lse", lse),
      this.floats(o, "qkv", qkv),
      dims.B,
      dims.T,
      dims.C,
      dims.NH,
      attentionWidths(dims).NKV,
    );
  }

  override attentionBackward(
    { dqkv, dout, out, lse, qkv, dims }: op.AttentionBackwardArgs,
  ): void {
    const o = "attentionBackward";
    this.#k.bn_attention_backward(
      this.floats(o, "dqkv", dqkv),
      this.floats(o, "dout", dout),
      this.floats(o, "out", out),
      this.floats(o, "lse", lse),
      this.floats(o, "qkv", qkv),
      dims.B,
      dims.T,
      dims.C,
      dims.NH,
      attentionWidths(dims).NKV,
    );
  }

  override attentionCached(
    { out, qkv, kCache, vCache, pos, dims }: op.AttentionCachedArgs,
  ): void {
    const o = "attentionCached";
    this.#k.bn_attention_cached(
      this.floats(o, "out", out),
      this.floats(o, "qkv", qkv),
      this.floats(o, "kCache", kCache),
      this.floats(o, "vCache", vCache),
      pos,
      cacheLength(kCache, dims),
      dims.B,
      dims.T,
      dims.C,
      dims.NH,
      attentionWidths(dims).NKV,
    );
  }

  override softmaxCrossEntropy(args: op.SoftmaxCrossEntropyArgs): void {
    const { losses, dlogits, logits, targets, gradScale = 1 } = args;
    const o = "softmaxCrossEntropy";
    const [N, V] = asMatrix(logits);
    const bad = this.#k.bn_softmax_xent(
      this.floats(o, "losses", losses),
      this.floatsOrNull(o, "dlogits", dlogits),
      this.floats(o, "logits", logits),
      this.ints(o, "targets", targets),
      N,
      V,
      gradScale,
    );
    if (Number(bad) >= 0) super.softmaxCrossEntropy(args); // throws the TypeScript message
  }

  // ---- Llama ops ----------------------------------------------------------------------------

  override rmsNorm({ out, rstd, x, w, eps }: op.RmsNormArgs): void {
    const o = "rmsNorm";
    const [N, C] = asMatrix(x);
    this.#k.bn_rmsnorm(
      this.floats(o, "out", out),
      this.floats(o, "rstd", rstd),
      this.floats(o, "x", x),
      this.floats(o, "w", w),
      N,
      C,
      eps,
    );
  }

  override rmsNormBackward({ dx, dw, dout, x, w, rstd }: op.RmsNormBackwardArgs): void {
    const o = "rmsNormBackward";
    const [N, C] = asMatrix(x);
    this.#k.bn_rmsnorm_backward(
      this.floats(o, "dx", dx),
      this.floats(o, "dw", dw),
      this.floats(o, "dout", dout),
      this.floats(o, "x", x),
      this.floats(o, "w", w),
      this.floats(o, "rstd", rstd),
      N,
      C,
    );
  }

  override rope(
    { out, x, cos, sin, B, T, headDim, rotatedHeads, posOffset = 0 }: op.RopeArgs,
  ): void {
    const o = "rope";
    this.#k.bn_rope(
      this.floats(o, "out", out),
      this.floats(o, "x", x),
      this.floats(o, "cos", cos),
      this.floats(o, "sin", sin),
      B,
      T,
      channels(x, B, T),
      headDim,
      rotatedHeads,
      posOffset,
      0,
    );
  }

  override ropeBackward(
    { dx, dout, cos, sin, B, T, headDim, rotatedHeads }: op.RopeBackwardArgs,
  ): void {
    const o = "ropeBackward";
    this.#k.bn_rope(
      this.floats(o, "dx", dx),
      this.floats(o, "dout", dout),
      this.floats(o, "cos", cos),
      this.floats(o, "sin", sin),
      B,
      T,
      channels(dout, B, T),
      headDim,
      rotatedHeads,
      0,
      1,
    );
  }

  override swiglu(out: Tensor, gate: Tensor, up: Tensor): void {
    const o = this.floats("swiglu", "out", out);
    if (o.length > MAX_C_LENGTH) return super.swiglu(out, gate, up);
    this.#k.bn_swiglu(
      o,
      this.floats("swiglu", "gate", gate),
      this.floats("swiglu", "up", up),
      o.length,
    );
  }

  override swigluBackward(args: op.SwigluBackwardArgs): void {
    const { dgate, dup, dout, gate, up } = args;
    const o = "swigluBackward", dg = this.floats(o, "dgate", dgate);
    if (dg.length > MAX_C_LENGTH) return super.swigluBackward(args);
    this.#k.bn_swiglu_backward(
      dg,
      this.floats(o, "dup", dup),
      this.floats(o, "dout", dout),
      this.floats(o, "gate", gate),
      this.floats(o, "up", up),
      dg.length,
    );
  }

  // ---- optimizer ----------------------------------------------------------------------------

  override adamw(args: op.AdamWArgs): void {
    const { params, grads, m, v, decayMask, hp, clip } = args;
    const o = "adamw";
    if (params.size > MAX_C_LENGTH) return super.adamw(args);
    const scale = clip
      ? clipScale(this.floats(o, "clip.normSquared", clip.normSquared)[0], clip.maxNorm)
      : 1;
    const p = this.floats(o, "params", params);
    this.#k.bn_adamw(
      p,
      this.floats(o, "grads", grads),
      this.floats(o, "m", m),
      this.floats(o, "v", v),
      this.floatsOrNull(o, "decayMask", decayMask),
      p.length,
      hp.lr,
      hp.beta1,
      hp.beta2,
      hp.eps,
      hp.weightDecay,
      1 - Math.pow(hp.beta1, hp.step),
      1 - Math.pow(hp.beta2, hp.step),
      hp.gradScale * scale,
    );
  }

  // ---- RWKV-4 ops ---------------------------------------------------------------------------

  override wkv({ y, k, v, timeDecay, timeFirst, state, B, T }: op.WkvArgs): void {
    const o = "wkv";
    this.#k.bn_wkv(
      this.floats(o, "y", y),
      this.floats(o, "k", k),
      this.floats(o, "v", v),
      this.floats(o, "timeDecay", timeDecay),
      this.floats(o, "timeFirst", timeFirst),
      this.floatsOrNull(o, "state", state),
      B,
      T,
      channels(k, B, T),
    );
  }

  override wkvBackward(
    { dw, du, dk, dv, dy, k, v, timeDecay, timeFirst, B, T }: op.WkvBackwardArgs,
  ): void {
    const o = "wkvBackward";
    this.#k.bn_wkv_backward(
      this.floats(o, "dw", dw),
      this.floats(o, "du", du),
      this.floats(o, "dk", dk),
      this.floats(o, "dv", dv),
      this.floats(o, "dy", dy),
      this.floats(o, "k", k),
      this.floats(o, "v", v),
      this.floats(o, "timeDecay", timeDecay),
      this.floats(o, "timeFirst", timeFirst),
      B,
      T,
      channels(k, B, T),
    );
  }

  // ---- RWKV-7 ops ---------------------------------------------------------------------------

  override wkv7({ y, r, w, k, v, a, b, state, B, T, H }: op.Wkv7Args): void {
    const o = "wkv7";
    const rc = this.#k.bn_wkv7(
      this.floats(o, "y", y),
      this.floats(o, "r", r),
      this.floats(o, "w", w),
      this.floats(o, "k", k),
      this.floats(o, "v", v),
      this.floats(o, "a", a),
      this.floats(o, "b", b),
      this.floatsOrNull(o, "state", state),
      B,
      T,
      channels(k, B, T),
      H,
    );
    if (rc !== 0) throw new BenteviError(`${o}: out of memory for the recurrence's scratch`);
  }

  override wkv7Backward(
    { dr, dw, dk, dv, da, db, dy, r, w, k, v, a, b, B, T, H }: op.Wkv7BackwardArgs,
  ): void {
    const o = "wkv7Backward";
    const rc = this.#k.bn_wkv7_backward(
      this.floats(o, "dr", dr),
      this.floats(o, "dw", dw),
      this.floats(o, "dk", dk),
      this.floats(o, "dv", dv),
      this.floats(o, "da", da),
      this.floats(o, "db", db),
      this.floats(o, "dy", dy),
      this.floats(o, "r", r),
      this.floats(o, "w", w),
      this.floats(o, "k", k),
      this.floats(o, "v", v),
      this.floats(o, "a", a),
      this.floats(o, "b", b),
      B,
      T,
      channels(k, B, T),
      H,
    );
    if (rc !== 0) throw new BenteviError(`${o}: out of memory for the recurrence's scratch`);
  }
}
