/**
 * The raw WebGPU backend: every op of {@link Backend} as WGSL kernels (`wgsl/`), recorded into
 * one command encoder and submitted on `flush()` / `read()`. This class only delegates; each
 * op family owns its kernels, their variants and dispatch geometry:
 *
 * | module | ops |
 * | --- | --- |
 * | `memory.ts` | zeros, fromArray, view, write, read, free |
 * | `elementwise.ts` | fill, copy, scale, add, addInto, mul, gelu, reluSquared, sigmoid, tanh (+ backwards) |
 * | `reduce.ts` | sum, sumSquares, sumRows, argmaxRows, topK |
 * | `matmul.ts` | matmul (tiled, texture and matvec kernels) |
 * | `embedding.ts`, `layernorm.ts`, `attention.ts`, `softmax.ts` | the other GPT ops |
 * | `optimizer.ts` | adamw |
 * | `rwkv.ts` | tokenShift, wkv (+ backwards) |
 * | `rwkv7.ts` | wkv7, rwkv7Keys, rwkv7Output (+ backwards), wkv5 |
 * | `layernorm.ts`, `rope.ts`, `elementwise.ts` | the Llama ops: rmsNorm, rope, swiglu (+ backwards) |
 *
 * `context.ts` holds the device plumbing (buffer pool, pipelines, bind groups, uniforms),
 * `kernel.ts` the kernel declarations (bindings and uniforms by name, generated WGSL headers)
 * and `grid.ts` the shared dispatch geometry.
 *
 * @module
 */
import { matmulQuant } from "./matmul_quant.ts";
import type { Backend, DType, MatmulOptions, Tensor } from "../backend.ts";
// The ops' named-argument types, as `op.LayerNormArgs` etc.
import type * as op from "../backend.ts";
import type { GpuContext } from "./context.ts";
import { MatmulKernels, type MatmulVariant } from "./matmul.ts";
import * as memory from "./memory.ts";
import * as ew from "./elementwise.ts";
import * as reduce from "./reduce.ts";
import { embedding, embeddingBackward } from "./embedding.ts";
import { layerNorm, layerNormBackward, rmsNorm, rmsNormBackward } from "./layernorm.ts";
import { rope, ropeBackward } from "./rope.ts";
import { attention, attentionBackward, attentionCached } from "./attention.ts";
import { softmaxCrossEntropy } from "./softmax.ts";
import { adamw } from "./optimizer.ts";
import { tokenShift, tokenShiftBackward, wkv, wkvBackward } from "./rwkv.ts";
import * as rwkv7 from "./rwkv7.ts";

/** Options of the WebGPU backend. */
export interface WebGpuBackendOptions {
  /** Force a matmul variant (`"auto"` picks by adapter: textures on CPU adapters). */
  matmul?: "auto" | MatmulVariant;
  /**
   * Softmax cross-entropy layout: one invocation per row (`"rows"`, no barriers: CPU adapters)
   * or one workgroup per row (`"workgroup"`: GPUs). `"auto"` picks by adapter.
   */
  softmax?: "auto" | "rows" | "workgroup";
}

/**
 * The raw WebGPU implementation of {@link Backend}, without shape checks: use it through
 * `WebGpuBackend` (from `createWebGpuBackend()`), which checks the arguments first.
 */
export class WebGpuKernels implements Backend {
  readonly kind = "webgpu" as const;
  readonly description: string;
  /** The plumbing (device, pools, caches). */
  readonly ctx: GpuContext;
  /** The matmul kernels and their per-adapter variant. */
  readonly mm: MatmulKernels;
  /** Softmax cross-entropy with one invocation per row (CPU adapters) instead of a workgroup. */
  #softmaxRows: boolean;

  /** Wraps an opened device; prefer `createWebGpuBackend()`, which opens it with the right limits. */
  constructor(ctx: GpuContext, options: WebGpuBackendOptions = {}) {
    this.ctx = ctx;
    const info = ctx.adapter.info;
    const name = info.description || info.device || info.vendor || "unknown adapter";
    this.mm = new MatmulKernels(ctx, options.matmul ?? "auto");
    const softmax = options.softmax ?? "auto";
    this.#softmaxRows = softmax === "auto" ? info.isFallbackAdapter : softmax === "rows";
    this.description = `WebGPU: ${name}${
      info.isFallbackAdapter ? " (fallback adapter)" : ""
    }, matmul ${this.mm.variant}`;
  }

  // ---- memory --------------------------------------------------------------------------------

  zeros(shape: readonly number[], dtype: DType = "f32"): Tensor {
    return memory.zeros(this.ctx, shape, dtype);
  }
  fromArray(shape: readonly number[], data: Float32Array | Int32Array): Tensor {
    return memory.fromArray(this.ctx, shape, data);
  }
  view(base: Tensor, offset: number, shape: readonly number[]): Tensor {
    return memory.view(base, offset, shape);
  }
  write(t: Tensor, data: Float32Array | Int32Array, offset = 0): void {
    memory.write(this.ctx, t, data, offset);
  }
  read(t: Tensor, into?: Float32Array | Int32Array): Promise<Float32Array | Int32Array> {
    return memory.read(this.ctx, t, into);
  }
  free(t: Tensor): void {
    memory.free(this.ctx, t);
  }
  flush(): void {
    this.ctx.flush();
  }
  async sync(): Promise<void> {
    this.ctx.flush();
    await this.ctx.device.queue.onSubmittedWorkDone();
    this.ctx.checkAlive();
  }
  destroy(): void {
    this.mm.destroy();
    this.ctx.destroy();
  }

  // ---- elementwise and reductions ------------------------------------------------------------

  fill(t: Tensor, value: number): void {
    ew.fill(this.ctx, t, value);
  }
  copy(dst: Tensor, src: Tensor): void {
    ew.copy(this.ctx, dst, src);
  }
  scale(t: Tensor, s: number): void {
    ew.scale(this.ctx, t, s);
  }
  add(out: Tensor, a: Tensor, b: Tensor): void {
    ew.binary(this.ctx, "add", out, a, b);
  }
  addInto(dst: Tensor, src: Tensor, alpha = 1): void {
    ew.addInto(this.ctx, dst, src, alpha);
  }
  mul(out: Tensor, a: Tensor, b: Tensor): void {
    ew.binary(this.ctx, "mul", out, a, b);
  }
  mulBackward(args: op.MulBackwardArgs): void {
    ew.mulBackward(this.ctx, args);
  }
  sum(out: Tensor, x: Tensor, accumulate = false): void {
    reduce.sumAll(this.ctx, "sum", out, x, accumulate, false);
  }
  sumSquares(out: Tensor, x: Tensor, accumulate = false): void {
    reduce.sumAll(this.ctx, "sumSquares", out, x, accumulate, true);
  }
  sumRows(out: Tensor, x: Tensor, accumulate = false): void {
    reduce.sumRows(this.ctx, out, x, accumulate);
  }
  argmaxRows(out: Tensor, x: Tensor): void {
    reduce.argmaxRows(this.ctx, out, x);
  }
  topK(values: Tensor, indices: Tensor, x: Tensor, k: number): void {
    reduce.topK(this.ctx, values, indices, x, k);
  }

  // ---- GPT ops -------------------------------------------------------------------------------

  matmul(out: Tensor, a: Tensor, b: Tensor, options: MatmulOptions = {}): void {
    this.mm.matmul(out, a, b, options);
  }
  matmulQuant(args: op.MatmulQuantArgs): void {
    matmulQuant(this.ctx, args);
  }
  embedding(args: op.EmbeddingArgs): void {
    embedding(this.ctx, args);
  }
  embeddingBackward(args: op.EmbeddingBackwardArgs): void {
    embeddingBackward(this.ctx, args);
  }
  layerNorm(args: op.LayerNormArgs): void {
    layerNorm(this.ctx, args);
  }
  layerNormBackward(args: op.LayerNormBackwardArgs): void {
    layerNormBackward(this.ctx, args);
  }
  gelu(out: Tensor, x: Tensor): void {
    ew.unary(this.ctx, "gelu", out, x);
  }
  geluBackward(dx: Tensor, x: Tensor, dout: Tensor): void {
    ew.unaryBackward(this.ctx, "geluBackward", dx, x, dout);
  }
  attention(args: op.AttentionArgs): void {
    attention(this.ctx, args);
  }
  attentionBackward(args: op.AttentionBackwardArgs): void {
    attentionBackward(this.ctx, args);
  }
  attentionCached(args: op.AttentionCachedArgs): void {
    attentionCached(this.ctx, args);
  }
  softmaxCrossEntropy(args: op.SoftmaxCrossEntropyArgs): void {
    softmaxCrossEntropy(this.ctx, args, this.#softmaxRows);
  }

  // ---- optimizer -----------------------------------------------------------------------------

  adamw(args: op.AdamWArgs): void {
    adamw(this.ctx, args);
  }

  // ---- RWKV-4 ops ----------------------------------------------------------------------------

  tokenShift(args: op.TokenShiftArgs): void {
    tokenShift(this.ctx, args);
  }
  tokenShiftBackward(args: op.TokenShiftBackwardArgs): void {
    tokenShiftBackward(this.ctx, args);
  }
  wkv(args: op.WkvArgs): void {
    wkv(this.ctx, args);
  }
  wkvBackward(args: op.WkvBackwardArgs): void {
    wkvBackward(this.ctx, args);
  }
  reluSquared(out: Tensor, x: Tensor): void {
    ew.unary(this.ctx, "reluSquared", out, x);
  }
  reluSquaredBackward(dx: Tensor, x: Tensor, dout: Tensor): void {
    ew.unaryBackward(this.ctx, "reluSquaredBackward", dx, x, dout);
  }
  sigmoid(out: Tensor, x: Tensor): void {
    ew.unary(this.ctx, "sigmoid", out, x);
  }
  sigmoidBackward(dx: Tensor, y: Tensor, dout: Tensor): void {
    ew.sigmoidBackward(this.ctx, dx, y, dout);
  }
  tanh(out: Tensor, x: Tensor): void {
    ew.unary(this.ctx, "tanh", out, x);
  }
  tanhBackward(dx: Tensor, y: Tensor, dout: Tensor): void {
    ew.tanhBackward(this.ctx, dx, y, dout);
  }

  // ---- RWKV-7 ops ----------------------------------------------------------------------------

  wkv7(args: op.Wkv7Args): void {
    rwkv7.wkv7(this.ctx, args);
  }
  wkv7Backward(args: op.Wkv7BackwardArgs): void {
    rwkv7.wkv7Backward(this.ctx, args);
  }
  rwkv7Keys(args: op.Rwkv7KeysArgs): void {
    rwkv7.rwkv7Keys(this.ctx, args);
  }
  rwkv7KeysBackward(args: op.Rwkv7KeysBackwardArgs): void {
    rwkv7.rwkv7KeysBackward(this.ctx, args);
  }
  rwkv7Output(args: op.Rwkv7OutputArgs): void {
    rwkv7.rwkv7Output(this.ctx, args);
  }
  rwkv7OutputBackward(args: op.Rwkv7OutputBackwardArgs): void {
    rwkv7.rwkv7OutputBackward(this.ctx, args);
  }
  wkv5(args: op.Wkv5Args): void {
    rwkv7.wkv5(this.ctx, args);
  }

  // ---- Llama ops -----------------------------------------------------------------------------

  rmsNorm(args: op.RmsNormArgs): void {
    rmsNorm(this.ctx, args);
  }
  rmsNormBackward(args: op.RmsNormBackwardArgs): void {
    rmsNormBackward(this.ctx, args);
  }
  rope(args: op.RopeArgs): void {
    rope(this.ctx, args);
  }
  ropeBackward(args: op.RopeBackwardArgs): void {
    ropeBackward(this.ctx, args);
  }
  swiglu(out: Tensor, gate: Tensor, up: Tensor): void {
    ew.swiglu(this.ctx, out, gate, up);
  }
  swigluBackward(args: op.SwigluBackwardArgs): void {
    ew.swigluBackward(this.ctx, args);
  }
}
