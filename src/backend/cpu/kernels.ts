/**
 * The raw CPU implementation of every op of {@link Backend}, in plain TypeScript on typed
 * arrays: the reference the WebGPU kernels are tested against and the fallback when no WebGPU
 * adapter exists. Ops run immediately (nothing is recorded), so `flush`/`sync` are no-ops.
 *
 * It checks only its own limits (a tensor is a live CPU tensor of the right dtype); the shape
 * checks run in the checked wrapper, {@link CpuBackend} (`cpu_backend.ts`).
 *
 * @module
 */
import type { Backend, DType, MatmulOptions, Tensor } from "../backend.ts";
// The ops' named-argument types, as `op.LayerNormArgs` etc.
import type * as op from "../backend.ts";
import {
  asMatrix,
  cacheLength,
  channels,
  dtypeOf,
  elementCount,
  expectDtype,
  matmulDims,
} from "../checks.ts";
import * as act from "./activations.ts";
import * as adam from "./adamw.ts";
import * as attn from "./attention.ts";
import * as elem from "./elementwise.ts";
import * as emb from "./embedding.ts";
import * as ln from "./layernorm.ts";
import { matmul } from "./matmul.ts";
import { matmulQuant } from "./matmul_quant.ts";
import * as red from "./reduce.ts";
import * as rope from "./rope.ts";
import * as rwkv from "./rwkv.ts";
import * as rwkv7 from "./rwkv7.ts";
import { softmaxCrossEntropy } from "./softmax_xent.ts";
import { CpuTensor, type FloatArray } from "./tensor.ts";

/** Options of the CPU backend. */
export interface CpuBackendOptions {
  /**
   * Storage of f32 tensors: `"f32"` (default) or `"f64"`. With `"f64"` every float tensor is
   * a Float64Array, so the same ops run in double precision — for finite-difference gradient
   * checks of whole models. `read` still returns Float32Array; `array(t)` gives the float64
   * data.
   */
  precision?: "f32" | "f64";
}

/**
 * The raw CPU ops, without shape checks: use them through `CpuBackend`, which checks the
 * arguments first.
 *
 * @example
 * ```ts
 * import { CpuKernels } from "./kernels.ts";
 * const cpu = new CpuKernels();
 * const a = cpu.fromArray([2, 2], new Float32Array([1, 2, 3, 4]));
 * const out = cpu.zeros([2, 2]);
 * cpu.matmul(out, a, a);
 * console.log(await cpu.read(out)); // Float32Array [7, 10, 15, 22]
 * ```
 */
export class CpuKernels implements Backend {
  /** `"cpu"` (`"native"` for the native backend, which reuses these ops). */
  readonly kind: "cpu" | "native" = "cpu";
  /** Human description of the backend. */
  readonly description: string;
  /** Storage precision of float tensors. */
  readonly precision: "f32" | "f64";

  /** The CPU ops; see {@link CpuBackendOptions}. */
  constructor(options: CpuBackendOptions = {}) {
    this.precision = options.precision ?? "f32";
    this.description = this.precision === "f64"
      ? "CPU (TypeScript reference, float64)"
      : "CPU (TypeScript reference)";
  }

  // ---- access helpers --------------------------------------------------------------------

  #tensor(op: string, name: string, t: Tensor, keepPacked = false): CpuTensor {
    if (!(t instanceof CpuTensor)) {
      throw new Error(
        `${op}: ${name} is not a CPU tensor (tensors cannot be mixed across backends)`,
      );
    }
    if (t.freed || t.base?.freed) throw new Error(`${op}: ${name} was used after free()`);
    const owner = t.base ?? t;
    if (owner.packed && !keepPacked) this.unpack(owner);
    return t;
  }

  /**
   * Restores the plain layout of `t`, which a subclass packed ({@link CpuTensor.packed}); it
   * must clear `t.packed`. Nothing is packed here.
   */
  protected unpack(t: CpuTensor): void {
    t.packed = null;
  }

  /** The int32 tensor `t` for `op`'s argument `name`, its storage as it is (packed or not). */
  protected storedInts(op: string, name: string, t: Tensor): CpuTensor {
    const ct = this.#tensor(op, name, t, true);
    expectDtype(op, name, ct, "i32");
    return ct;
  }

  #f(op: string, name: string, t: Tensor): FloatArray {
    const ct = this.#tensor(op, name, t);
    expectDtype(op, name, ct, "f32");
    return ct.data as FloatArray;
  }

  #fOrNull(op: string, name: string, t: Tensor | null | undefined): FloatArray | null {
    return t ? this.#f(op, name, t) : null;
  }

  #i(op: string, name: string, t: Tensor): Int32Array {
    const ct = this.#tensor(op, name, t);
    expectDtype(op, name, ct, "i32");
    return ct.data as Int32Array;
  }

  // The same checks for subclasses (the native backend overrides ops with C kernels).

  /** The float storage of `t` for `op`'s argument `name` (a live f32 tensor of this backend). */
  protected floats(op: string, name: string, t: Tensor): FloatArray {
    return this.#f(op, name, t);
  }

  /** {@link floats}, or null for an absent optional argument. */
  protected floatsOrNull(
    op: string,
    name: string,
    t: Tensor | null | undefined,
  ): FloatArray | null {
    return this.#fOrNull(op, name, t);
  }

  /** The int32 storage of `t` for `op`'s argument `name`. */
  protected ints(op: string, name: string, t: Tensor): Int32Array {
    return this.#i(op, name, t);
  }

  #alloc(size: number, dtype: DType): FloatArray | Int32Array {
    if (dtype === "i32") return new Int32Array(size);
    return this.precision === "f64" ? new Float64Array(size) : new Float32Array(size);
  }

  /**
   * The live storage of `t` (Float32Array, Float64Array with `precision: "f64"`, or
   * Int32Array): reads and writes go straight to the tensor. CPU-only, synchronous.
   */
  array(t: Tensor): FloatArray | Int32Array {
    return this.#tensor("array", "tensor", t).data;
  }

  // ---- memory ----------------------------------------------------------------------------

  zeros(shape: readonly number[], dtype: DType = "f32"): Tensor {
    return new CpuTensor(shape, dtype, this.#alloc(elementCount(shape), dtype));
  }

  fromArray(shape: readonly number[], data: Float32Array | Int32Array): Tensor {
    const dtype = dtypeOf(data);
    const store = this.#alloc(data.length, dtype);
    store.set(data);
    return new CpuTensor(shape, dtype, store);
  }

  view(base: Tensor, offset: number, shape: readonly number[]): Tensor {
    const b = this.#tensor("view", "base", base);
    const end = offset + elementCount(shape);
    return new CpuTensor(shape, b.dtype, b.data.subarray(offset, end), b.base ?? b);
  }

  write(t: Tensor, data: Float32Array | Int32Array, offset = 0): void {
    this.#tensor("write", "tensor", t).data.set(data, offset);
  }

  read(t: Tensor, into?: Float32Array | Int32Array): Promise<Float32Array | Int32Array> {
    const ct = this.#tensor("read", "tensor", t);
    const out = into ?? (ct.dtype === "i32" ? new Int32Array(ct.size) : new Float32Array(ct.size));
    out.set(ct.data); // float64 storage (precision "f64") is rounded to float32 here
    return Promise.resolve(out);
  }

  free(t: Tensor): void {
    const ct = this.#tensor("free", "tensor", t);
    if (ct.base) throw new Error("free: views need no free(); free their base tensor");
    ct.freed = true;
  }

  flush(): void {}

  sync(): Promise<void> {
    return Promise.resolve();
  }

  destroy(): void {}

  // ---- elementwise and small helpers -----------------------------------------------------

  fill(t: Tensor, value: number): void {
    this.#tensor("fill", "tensor", t).data.fill(value);
  }

  copy(dst: Tensor, src: Tensor): void {
    const d = this.#tensor("copy", "dst", dst), s = this.#tensor("copy", "src", src);
    d.data.set(s.data);
  }

  scale(t: Tensor, s: number): void {
    elem.scale(this.#f("scale", "tensor", t), s);
  }

  add(out: Tensor, a: Tensor, b: Tensor): void {
    elem.add(this.#f("add", "out", out), this.#f("add", "a", a), this.#f("add", "b", b));
  }

  addInto(dst: Tensor, src: Tensor, alpha = 1): void {
    elem.addInto(this.#f("addInto", "dst", dst), this.#f("addInto", "src", src), alpha);
  }

  mul(out: Tensor, a: Tensor, b: Tensor): void {
    elem.mul(this.#f("mul", "out", out), this.#f("mul", "a", a), this.#f("mul", "b", b));
  }

  mulBackward({ da, db, dout, a, b }: op.MulBackwardArgs): void {
    const op = "mulBackward";
    elem.mulBackward(
      this.#fOrNull(op, "da", da),
      this.#fOrNull(op, "db", db),
      this.#f(op, "dout", dout),
      this.#f(op, "a", a),
      this.#f(op, "b", b),
    );
  }

  sum(out: Tensor, x: Tensor, accumulate = false): void {
    const o = this.#f("sum", "out", out);
    const s = red.sum(this.#f("sum", "x", x));
    o[0] = accumulate ? o[0] + s : s;
  }

  sumSquares(out: Tensor, x: Tensor, accumulate = false): void {
    const o = this.#f("sumSquares", "out", out);
    const s = red.sumSquares(this.#f("sumSquares", "x", x));
    o[0] = accumulate ? o[0] + s : s;
  }

  sumRows(out: Tensor, x: Tensor, accumulate = false): void {
    const [M, N] = asMatrix(x);
    red.sumRows(this.#f("sumRows", "out", out), this.#f("sumRows", "x", x), M, N, accumulate);
  }

  // ---- GPT ops ----------------------------------------------------------------------------

  matmul(out: Tensor, a: Tensor, b: Tensor, options: MatmulOptions = {}): void {
    matmul(
      this.#f("matmul", "out", out),
      this.#f("matmul", "a", a),
      this.#f("matmul", "b", b),
      this.#fOrNull("matmul", "bias", options.bias),
      matmulDims(a, b, options),
      options.accumulate ?? false,
    );
  }

  matmulQuant({ out, a, w, type, N, K, bias, accumulate }: op.MatmulQuantArgs): void {
    const op = "matmulQuant";
    const words = this.#i(op, "w", w);
    matmulQuant(
      this.#f(op, "out", out),
      this.#f(op, "a", a),
      new Uint8Array(words.buffer, words.byteOffset, words.byteLength),
      this.#fOrNull(op, "bias", bias),
      { M: a.size / K, N, K, type, accumulate: accumulate ?? false },
    );
  }

  embedding({ out, ids, wte, wpe, T, posOffset = 0 }: op.EmbeddingArgs): void {
    const op = "embedding";
    emb.embedding(
      this.#f(op, "out", out),
      this.#i(op, "ids", ids),
      this.#f(op, "wte", wte),
      this.#fOrNull(op, "wpe", wpe),
      T,
      posOffset,
      asMatrix(wte)[1],
    );
  }

  embeddingBackward({ dwte, dwpe, dout, ids, T }: op.EmbeddingBackwardArgs): void {
    const op = "embeddingBackward";
    emb.embeddingBackward(
      this.#f(op, "dwte", dwte),
      this.#fOrNull(op, "dwpe", dwpe),
      this.#f(op, "dout", dout),
      this.#i(op, "ids", ids),
      T,
      asMatrix(dwte)[1],
    );
  }

  layerNorm({ out, mean, rstd, x, w, b, eps = 1e-5 }: op.LayerNormArgs): void {
    const op = "layerNorm";
    const [N, C] = asMatrix(x);
    ln.layerNorm(
      this.#f(op, "out", out),
      this.#f(op, "mean", mean),
      this.#f(op, "rstd", rstd),
      this.#f(op, "x", x),
      this.#f(op, "w", w),
      this.#f(op, "b", b),
      N,
      C,
      eps,
    );
  }

  layerNormBackward({ dx, dw, db, dout, x, w, mean, rstd }: op.LayerNormBackwardArgs): void {
    const op = "layerNormBackward";
    const [N, C] = asMatrix(x);
    ln.layerNormBackward(
      this.#f(op, "dx", dx),
      this.#f(op, "dw", dw),
      this.#f(op, "db", db),
      this.#f(op, "dout", dout),
      this.#f(op, "x", x),
      this.#f(op, "w", w),
      this.#f(op, "mean", mean),
      this.#f(op, "rstd", rstd),
      N,
      C,
    );
  }

  gelu(out: Tensor, x: Tensor): void {
    act.gelu(this.#f("gelu", "out", out), this.#f("gelu", "x", x));
  }

  geluBackward(dx: Tensor, x: Tensor, dout: Tensor): void {
    const op = "geluBackward";
    act.geluBackward(this.#f(op, "dx", dx), this.#f(op, "x", x), this.#f(op, "dout", dout));
  }

  attention({ out, lse, qkv, dims }: op.AttentionArgs): void {
    const op = "attention";
    attn.attention(
      this.#f(op, "out", out),
      this.#f(op, "lse", lse),
      this.#f(op, "qkv", qkv),
      dims,
    );
  }

  attentionBackward({ dqkv, dout, out, lse, qkv, dims }: op.AttentionBackwardArgs): void {
    const op = "attentionBackward";
    attn.attentionBackward(
      this.#f(op, "dqkv", dqkv),
      this.#f(op, "dout", dout),
      this.#f(op, "out", out),
      this.#f(op, "lse", lse),
      this.#f(op, "qkv", qkv),
      dims,
    );
  }

  attentionCached({ out, qkv, kCache, vCache, pos, dims }: op.AttentionCachedArgs): void {
    const op = "attentionCached";
    attn.attentionCached(
      this.#f(op, "out", out),
      this.#f(op, "qkv", qkv),
      this.#f(op, "kCache", kCache),
      this.#f(op, "vCache", vCache),
      pos,
      cacheLength(kCache, dims),
      dims,
    );
  }

  softmaxCrossEntropy(
    { losses, dlogits, logits, targets, gradScale = 1 }: op.SoftmaxCrossEntropyArgs,
  ): void {
    const op = "softmaxCrossEntropy";
    const [N, V] = asMatrix(logits);
    softmaxCrossEntropy(
      this.#f(op, "losses", losses),
      this.#fOrNull(op, "dlogits", dlogits),
      this.#f(op, "logits", logits),
      this.#i(op, "targets", targets),
      N,
      V,
      gradScale,
    );
  }

  argmaxRows(out: Tensor, x: Tensor): void {
    const [N, V] = asMatrix(x);
    red.argmaxRows(this.#i("argmaxRows", "out", out), this.#f("argmaxRows", "x", x), N, V);
  }

  topK(values: Tensor, indices: Tensor, x: Tensor, k: number): void {
    const op = "topK";
    red.topK(
      this.#f(op, "values", values),
      this.#i(op, "indices", indices),
      this.#f(op, "x", x),
      k,
    );
  }

  // ---- Llama ops --------------------------------------------------------------------------

  rmsNorm({ out, rstd, x, w, eps }: op.RmsNormArgs): void {
    const op = "rmsNorm";
    const [N, C] = asMatrix(x);
    ln.rmsNorm(
      this.#f(op, "out", out),
      this.#f(op, "rstd", rstd),
      this.#f(op, "x", x),
      this.#f(op, "w", w),
      N,
      C,
      eps,
    );
  }

  rmsNormBackward({ dx, dw, dout, x, w, rstd }: op.RmsNormBackwardArgs): void {
    const op = "rmsNormBackward";
    const [N, C] = asMatrix(x);
    ln.rmsNormBackward(
      this.#f(op, "dx", dx),
      this.#f(op, "dw", dw),
      this.#f(op, "dout", dout),
      this.#f(op, "x", x),
      this.#f(op, "w", w),
      this.#f(op, "rstd", rstd),
      N,
      C,
    );
  }

  rope({ out, x, cos, sin, B, T, headDim, rotatedHeads, posOffset = 0 }: op.RopeArgs): void {
    const op = "rope";
    rope.rope(
      this.#f(op, "out", out),
      this.#f(op, "x", x),
      this.#f(op, "cos", cos),
      this.#f(op, "sin", sin),
      { B, T, W: channels(x, B, T), headDim, rotatedHeads },
      posOffset,
    );
  }

  ropeBackward({ dx, dout, cos, sin, B, T, headDim, rotatedHeads }: op.RopeBackwardArgs): void {
    const op = "ropeBackward";
    rope.ropeBackward(
      this.#f(op, "dx", dx),
      this.#f(op, "dout", dout),
      this.#f(op, "cos", cos),
      this.#f(op, "sin", sin),
      { B, T, W: channels(dout, B, T), headDim, rotatedHeads },
    );
  }

  swiglu(out: Tensor, gate: Tensor, up: Tensor): void {
    const op = "swiglu";
    act.swiglu(this.#f(op, "out", out), this.#f(op, "gate", gate), this.#f(op, "up", up));
  }

  swigluBackward({ dgate, dup, dout, gate, up }: op.SwigluBackwardArgs): void {
    const op = "swigluBackward";
    act.swigluBackward(
      this.#f(op, "dgate", dgate),
      this.#f(op, "dup", dup),
      this.#f(op, "dout", dout),
      this.#f(op, "gate", gate),
      this.#f(op, "up", up),
    );
  }

  // ---- optimizer ------------------------------------------------------------------------

  adamw({ params, grads, m, v, decayMask, hp, clip }: op.AdamWArgs): void {
    const op = "adamw";
    let scale = 1;
    if (clip) {
      scale = adam.clipScale(this.#f(op, "clip.normSquared", clip.normSquared)[0], clip.maxNorm);
    }
    adam.adamw(
      this.#f(op, "params", params),
      this.#f(op, "grads", grads),
      this.#f(op, "m", m),
      this.#f(op, "v", v),
      this.#fOrNull(op, "decayMask", decayMask),
      hp,
      scale,
    );
  }

  // ---- RWKV-4 ops ------------------------------------------------------------------------

  tokenShift({ out, x, mix, prev, B, T, lerp }: op.TokenShiftArgs): void {
    const op = "tokenShift";
    rwkv.tokenShift(
      this.#f(op, "out", out),
      this.#f(op, "x", x),
      this.#f(op, "mix", mix),
      this.#fOrNull(op, "prev", prev),
      B,
      T,
      channels(x, B, T),
      lerp,
    );
  }

  tokenShiftBackward(
    { dx, dmix, dout, x, mix, prev, B, T, lerp }: op.TokenShiftBackwardArgs,
  ): void {
    const op = "tokenShiftBackward";
    rwkv.tokenShiftBackward(
      this.#f(op, "dx", dx),
      this.#f(op, "dmix", dmix),
      this.#f(op, "dout", dout),
      this.#f(op, "x", x),
      this.#f(op, "mix", mix),
      this.#fOrNull(op, "prev", prev),
      B,
      T,
      channels(x, B, T),
      lerp,
    );
  }

  wkv({ y, k, v, timeDecay, timeFirst, state, B, T }: op.WkvArgs): void {
    const op = "wkv";
    rwkv.wkv(
      this.#f(op, "y", y),
      this.#f(op, "k", k),
      this.#f(op, "v", v),
      this.#f(op, "timeDecay", timeDecay),
      this.#f(op, "timeFirst", timeFirst),
      this.#fOrNull(op, "state", state),
      B,
      T,
      channels(k, B, T),
    );
  }

  wkvBackward({ dw, du, dk, dv, dy, k, v, timeDecay, timeFirst, B, T }: op.WkvBackwardArgs): void {
    const op = "wkvBackward";
    rwkv.wkvBackward(
      this.#f(op, "dw", dw),
      this.#f(op, "du", du),
      this.#f(op, "dk", dk),
      this.#f(op, "dv", dv),
      this.#f(op, "dy", dy),
      this.#f(op, "k", k),
      this.#f(op, "v", v),
      this.#f(op, "timeDecay", timeDecay),
      this.#f(op, "timeFirst", timeFirst),
      B,
      T,
      channels(k, B, T),
    );
  }

  reluSquared(out: Tensor, x: Tensor): void {
    act.reluSquared(this.#f("reluSquared", "out", out), this.#f("reluSquared", "x", x));
  }

  reluSquaredBackward(dx: Tensor, x: Tensor, dout: Tensor): void {
    const op = "reluSquaredBackward";
    act.reluSquaredBackward(this.#f(op, "dx", dx), this.#f(op, "x", x), this.#f(op, "dout", dout));
  }

  sigmoid(out: Tensor, x: Tensor): void {
    act.sigmoid(this.#f("sigmoid", "out", out), this.#f("sigmoid", "x", x));
  }

  sigmoidBackward(dx: Tensor, y: Tensor, dout: Tensor): void {
    const op = "sigmoidBackward";
    act.sigmoidBackward(this.#f(op, "dx", dx), this.#f(op, "y", y), this.#f(op, "dout", dout));
  }
  tanh(out: Tensor, x: Tensor): void {
    act.tanh(this.#f("tanh", "out", out), this.#f("tanh", "x", x));
  }

  tanhBackward(dx: Tensor, y: Tensor, dout: Tensor): void {
    const op = "tanhBackward";
    act.tanhBackward(this.#f(op, "dx", dx), this.#f(op, "y", y), this.#f(op, "dout", dout));
  }

  // ---- RWKV-7 / RWKV-5 ops ---------------------------------------------------------------

  /** Float arrays of the named tensors of op `op` (one lookup per tensor). */
  #fs<K extends string>(op: string, ts: Record<K, Tensor>): Record<K, FloatArray> {
    const out = {} as Record<K, FloatArray>;
    for (const name of Object.keys(ts) as K[]) out[name] = this.#f(op, name, ts[name]);
    return out;
  }

  wkv7({ y, r, w, k, v, a, b, state, B, T, H }: op.Wkv7Args): void {
    const f = this.#fs("wkv7", { y, r, w, k, v, a, b });
    const st = this.#fOrNull("wkv7", "state", state);
    rwkv7.wkv7(f.y, f.r, f.w, f.k, f.v, f.a, f.b, st, B, T, channels(k, B, T), H);
  }

  wkv7Backward(args: op.Wkv7BackwardArgs): void {
    const { dr, dw, dk, dv, da, db, dy, r, w, k, v, a, b, B, T, H } = args;
    const g = this.#fs("wkv7Backward", { dr, dw, dk, dv, da, db, dy });
    const f = this.#fs("wkv7Backward", { r, w, k, v, a, b });
    rwkv7.wkv7Backward(g, f.r, f.w, f.k, f.v, f.a, f.b, B, T, channels(k, B, T), H);
  }

  rwkv7Keys({ kt, na, nb, k, a, kK, kA, H }: op.Rwkv7KeysArgs): void {
    const f = this.#fs("rwkv7Keys", { kt, na, nb, k, a, kK, kA });
    rwkv7.rwkv7Keys(f.kt, f.na, f.nb, f.k, f.a, f.kK, f.kA, kK.size, H);
  }

  rwkv7KeysBackward(args: op.Rwkv7KeysBackwardArgs): void {
    const { dk, da, dkK, dkA, dkt, dna, dnb, k, a, kK, kA, H } = args;
    const g = this.#fs("rwkv7KeysBackward", { dk, da, dkK, dkA, dkt, dna, dnb });
    const f = this.#fs("rwkv7KeysBackward", { k, a, kK, kA });
    rwkv7.rwkv7KeysBackward(g, f.k, f.a, f.kK, f.kA, kK.size, H);
  }

  rwkv7Output({ out, y, r, k, v, g, lnW, lnB, rK, H, eps }: op.Rwkv7OutputArgs): void {
    const f = this.#fs("rwkv7Output", { out, y, r, k, v, g, lnW, lnB, rK });
    rwkv7.rwkv7Output(f.out, f.y, f.r, f.k, f.v, f.g, f.lnW, f.lnB, f.rK, lnW.size, H, eps);
  }

  rwkv7OutputBackward(args: op.Rwkv7OutputBackwardArgs): void {
    const { dy, dr, dk, dv, dg, dlnW, dlnB, drK, dout, y, r, k, v, g, lnW, lnB, rK, H, eps } = args;
    const op = "rwkv7OutputBackward";
    const d = this.#fs(op, { dy, dr, dk, dv, dg, dlnW, dlnB, drK, dout });
    const f = this.#fs(op, { y, r, k, v, g, lnW, lnB, rK });
    rwkv7.rwkv7OutputBackward(d, f.y, f.r, f.k, f.v, f.g, f.lnW, f.lnB, f.rK, lnW.size, H, eps);
  }

  wkv5({ y, r, k, v, decay, w, bonus, state, B, T, H }: op.Wkv5Args): void {
    const f = this.#fs("wkv5", { y, r, k, v, bonus, decay: (w ?? decay)! });
    const st = this.#fOrNull("wkv5", "state", state);
    const C = channels(k, B, T);
    rwkv7.wkv5(f.y, f.r, f.k, f.v, f.decay, !!w, f.bonus, st, B, T, C, H);
  }
}
