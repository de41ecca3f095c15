/**
 * The CPU backend: every op of {@link Backend} in plain TypeScript on typed arrays. It is
 * the reference the WebGPU kernels are tested against and the fallback when no WebGPU
 * adapter exists. Ops run immediately (nothing is recorded), so `flush`/`sync` are no-ops.
 *
 * @module
 */
import type {
  AdamWParams,
  AttentionDims,
  Backend,
  DType,
  MatmulOptions,
  Tensor,
} from "../backend.ts";
import {
  checkAdamW,
  checkArgmaxRows,
  checkAttention,
  checkAttentionBackward,
  checkAttentionCached,
  checkBinary,
  checkCopy,
  checkEmbedding,
  checkEmbeddingBackward,
  checkFromArray,
  checkLayerNorm,
  checkLayerNormBackward,
  checkMatmul,
  checkMulBackward,
  checkSoftmaxCrossEntropy,
  checkSumRows,
  checkTokenShift,
  checkTokenShiftBackward,
  checkTopK,
  checkUnaryBackward,
  checkView,
  checkWkv,
  checkWkvBackward,
  checkWrite,
  expectDtype,
  expectSameSize,
  expectSize,
  shapeSize,
} from "../checks.ts";
import * as act from "./activations.ts";
import * as adam from "./adamw.ts";
import * as attn from "./attention.ts";
import * as elem from "./elementwise.ts";
import * as emb from "./embedding.ts";
import * as ln from "./layernorm.ts";
import { matmul } from "./matmul.ts";
import * as red from "./reduce.ts";
import * as rwkv from "./rwkv.ts";
import { softmaxCrossEntropy } from "./softmax_xent.ts";
import { CpuTensor, type FloatArray } from "./tensor.ts";

/** Options of {@link CpuBackend}. */
export interface CpuBackendOptions {
  /**
   * Storage of f32 tensors: `"f32"` (default) or `"f64"`. With `"f64"` every float tensor is
   * a Float64Array, so the same ops run in double precision — for finite-difference gradient
   * checks of whole models. `read` still returns Float32Array; {@link CpuBackend.array}
   * gives the float64 data.
   */
  precision?: "f32" | "f64";
}

/**
 * The TypeScript reference backend.
 *
 * @example
 * ```ts
 * import { CpuBackend } from "./cpu_backend.ts";
 * const cpu = new CpuBackend();
 * const a = cpu.fromArray([2, 2], new Float32Array([1, 2, 3, 4]));
 * const out = cpu.zeros([2, 2]);
 * cpu.matmul(out, a, a);
 * console.log(await cpu.read(out)); // Float32Array [7, 10, 15, 22]
 * ```
 */
export class CpuBackend implements Backend {
  /** Always `"cpu"`. */
  readonly kind = "cpu" as const;
  /** Human description of the backend. */
  readonly description: string;
  /** Storage precision of float tensors. */
  readonly precision: "f32" | "f64";

  /** A CPU backend; see {@link CpuBackendOptions}. */
  constructor(options: CpuBackendOptions = {}) {
    this.precision = options.precision ?? "f32";
    this.description = this.precision === "f64"
      ? "CPU (TypeScript reference, float64)"
      : "CPU (TypeScript reference)";
  }

  // ---- access helpers --------------------------------------------------------------------

  #tensor(op: string, name: string, t: Tensor): CpuTensor {
    if (!(t instanceof CpuTensor)) {
      throw new Error(
        `${op}: ${name} is not a CPU tensor (tensors cannot be mixed across backends)`,
      );
    }
    if (t.freed || t.base?.freed) throw new Error(`${op}: ${name} was used after free()`);
    return t;
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
    return new CpuTensor(shape, dtype, this.#alloc(shapeSize("zeros", shape), dtype));
  }

  fromArray(shape: readonly number[], data: Float32Array | Int32Array): Tensor {
    const { size, dtype } = checkFromArray(shape, data);
    const store = this.#alloc(size, dtype);
    store.set(data);
    return new CpuTensor(shape, dtype, store);
  }

  view(base: Tensor, offset: number, shape: readonly number[]): Tensor {
    const b = this.#tensor("view", "base", base);
    const size = checkView(b, offset, shape);
    return new CpuTensor(shape, b.dtype, b.data.subarray(offset, offset + size), b.base ?? b);
  }

  write(t: Tensor, data: Float32Array | Int32Array, offset = 0): void {
    const ct = this.#tensor("write", "tensor", t);
    checkWrite(ct, data, offset);
    ct.data.set(data, offset);
  }

  read(t: Tensor): Promise<Float32Array | Int32Array> {
    const ct = this.#tensor("read", "tensor", t);
    return Promise.resolve(
      ct.dtype === "i32" ? (ct.data as Int32Array).slice() : Float32Array.from(ct.data),
    );
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
    checkCopy(d, s);
    d.data.set(s.data);
  }

  scale(t: Tensor, s: number): void {
    elem.scale(this.#f("scale", "tensor", t), s);
  }

  add(out: Tensor, a: Tensor, b: Tensor): void {
    checkBinary("add", out, a, b);
    elem.add(this.#f("add", "out", out), this.#f("add", "a", a), this.#f("add", "b", b));
  }

  addInto(dst: Tensor, src: Tensor, alpha = 1): void {
    expectSameSize("addInto", "dst", dst, "src", src);
    elem.addInto(this.#f("addInto", "dst", dst), this.#f("addInto", "src", src), alpha);
  }

  mul(out: Tensor, a: Tensor, b: Tensor): void {
    checkBinary("mul", out, a, b);
    elem.mul(this.#f("mul", "out", out), this.#f("mul", "a", a), this.#f("mul", "b", b));
  }

  mulBackward(da: Tensor | null, db: Tensor | null, dout: Tensor, a: Tensor, b: Tensor): void {
    const op = "mulBackward";
    checkMulBackward(da, db, dout, a, b);
    elem.mulBackward(
      this.#fOrNull(op, "da", da),
      this.#fOrNull(op, "db", db),
      this.#f(op, "dout", dout),
      this.#f(op, "a", a),
      this.#f(op, "b", b),
    );
  }

  sum(out: Tensor, x: Tensor, accumulate = false): void {
    expectSize("sum", "out", out, 1, "a scalar result");
    const o = this.#f("sum", "out", out);
    const s = red.sum(this.#f("sum", "x", x));
    o[0] = accumulate ? o[0] + s : s;
  }

  sumSquares(out: Tensor, x: Tensor, accumulate = false): void {
    expectSize("sumSquares", "out", out, 1, "a scalar result");
    const o = this.#f("sumSquares", "out", out);
    const s = red.sumSquares(this.#f("sumSquares", "x", x));
    o[0] = accumulate ? o[0] + s : s;
  }

  sumRows(out: Tensor, x: Tensor, accumulate = false): void {
    const { M, N } = checkSumRows(out, x);
    red.sumRows(this.#f("sumRows", "out", out), this.#f("sumRows", "x", x), M, N, accumulate);
  }

  // ---- GPT ops ----------------------------------------------------------------------------

  matmul(out: Tensor, a: Tensor, b: Tensor, options: MatmulOptions = {}): void {
    const transA = options.transA ?? false, transB = options.transB ?? false;
    const { M, N, K } = checkMatmul(out, a, b, transA, transB, options.bias);
    matmul(
      this.#f("matmul", "out", out),
      this.#f("matmul", "a", a),
      this.#f("matmul", "b", b),
      this.#fOrNull("matmul", "bias", options.bias),
      { M, N, K, transA, transB },
      options.accumulate ?? false,
    );
  }

  embedding(
    out: Tensor,
    ids: Tensor,
    wte: Tensor,
    wpe: Tensor | null,
    T: number,
    posOffset = 0,
  ): void {
    const op = "embedding";
    const { C } = checkEmbedding(out, ids, wte, wpe, T, posOffset);
    emb.embedding(
      this.#f(op, "out", out),
      this.#i(op, "ids", ids),
      this.#f(op, "wte", wte),
      this.#fOrNull(op, "wpe", wpe),
      T,
      posOffset,
      C,
    );
  }

  embeddingBackward(dwte: Tensor, dwpe: Tensor | null, dout: Tensor, ids: Tensor, T: number): void {
    const op = "embeddingBackward";
    const { C } = checkEmbeddingBackward(dwte, dwpe, dout, ids, T);
    emb.embeddingBackward(
      this.#f(op, "dwte", dwte),
      this.#fOrNull(op, "dwpe", dwpe),
      this.#f(op, "dout", dout),
      this.#i(op, "ids", ids),
      T,
      C,
    );
  }

  layerNorm(
    out: Tensor,
    mean: Tensor,
    rstd: Tensor,
    x: Tensor,
    w: Tensor,
    b: Tensor,
    eps = 1e-5,
  ): void {
    const op = "layerNorm";
    const { N, C } = checkLayerNorm(out, mean, rstd, x, w, b);
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

  layerNormBackward(
    dx: Tensor,
    dw: Tensor,
    db: Tensor,
    dout: Tensor,
    x: Tensor,
    w: Tensor,
    mean: Tensor,
    rstd: Tensor,
  ): void {
    const op = "layerNormBackward";
    const { N, C } = checkLayerNormBackward(dx, dw, db, dout, x, w, mean, rstd);
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
    expectSameSize("gelu", "out", out, "x", x);
    act.gelu(this.#f("gelu", "out", out), this.#f("gelu", "x", x));
  }

  geluBackward(dx: Tensor, x: Tensor, dout: Tensor): void {
    const op = "geluBackward";
    checkUnaryBackward(op, dx, "x", x, dout);
    act.geluBackward(this.#f(op, "dx", dx), this.#f(op, "x", x), this.#f(op, "dout", dout));
  }

  attention(out: Tensor, lse: Tensor, qkv: Tensor, dims: AttentionDims): void {
    const op = "attention";
    checkAttention(out, lse, qkv, dims);
    attn.attention(
      this.#f(op, "out", out),
      this.#f(op, "lse", lse),
      this.#f(op, "qkv", qkv),
      dims,
    );
  }

  attentionBackward(
    dqkv: Tensor,
    dout: Tensor,
    out: Tensor,
    lse: Tensor,
    qkv: Tensor,
    dims: AttentionDims,
  ): void {
    const op = "attentionBackward";
    checkAttentionBackward(dqkv, dout, out, lse, qkv, dims);
    attn.attentionBackward(
      this.#f(op, "dqkv", dqkv),
      this.#f(op, "dout", dout),
      this.#f(op, "out", out),
      this.#f(op, "lse", lse),
      this.#f(op, "qkv", qkv),
      dims,
    );
  }

  attentionCached(
    out: Tensor,
    qkv: Tensor,
    kCache: Tensor,
    vCache: Tensor,
    pos: number,
    dims: AttentionDims,
  ): void {
    const op = "attentionCached";
    const { Tmax } = checkAttentionCached(out, qkv, kCache, vCache, pos, dims);
    attn.attentionCached(
      this.#f(op, "out", out),
      this.#f(op, "qkv", qkv),
      this.#f(op, "kCache", kCache),
      this.#f(op, "vCache", vCache),
      pos,
      Tmax,
      dims,
    );
  }

  softmaxCrossEntropy(
    losses: Tensor,
    dlogits: Tensor | null,
    logits: Tensor,
    targets: Tensor,
    gradScale = 1,
  ): void {
    const op = "softmaxCrossEntropy";
    const { N, V } = checkSoftmaxCrossEntropy(losses, dlogits, logits, targets);
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
    const { N, V } = checkArgmaxRows(out, x);
    red.argmaxRows(this.#i("argmaxRows", "out", out), this.#f("argmaxRows", "x", x), N, V);
  }

  topK(values: Tensor, indices: Tensor, x: Tensor, k: number): void {
    const op = "topK";
    checkTopK(values, indices, x, k);
    red.topK(
      this.#f(op, "values", values),
      this.#i(op, "indices", indices),
      this.#f(op, "x", x),
      k,
    );
  }

  // ---- optimizer ------------------------------------------------------------------------

  adamw(
    params: Tensor,
    grads: Tensor,
    m: Tensor,
    v: Tensor,
    decayMask: Tensor | null,
    hp: AdamWParams,
    clip?: { normSquared: Tensor; maxNorm: number },
  ): void {
    const op = "adamw";
    checkAdamW(params, grads, m, v, decayMask, hp.step, clip?.normSquared);
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

  tokenShift(out: Tensor, x: Tensor, mix: Tensor, prev: Tensor | null, B: number, T: number): void {
    const op = "tokenShift";
    const C = checkTokenShift(out, x, mix, prev, B, T);
    rwkv.tokenShift(
      this.#f(op, "out", out),
      this.#f(op, "x", x),
      this.#f(op, "mix", mix),
      this.#fOrNull(op, "prev", prev),
      B,
      T,
      C,
    );
  }

  tokenShiftBackward(
    dx: Tensor,
    dmix: Tensor,
    dout: Tensor,
    x: Tensor,
    mix: Tensor,
    prev: Tensor | null,
    B: number,
    T: number,
  ): void {
    const op = "tokenShiftBackward";
    const C = checkTokenShiftBackward(dx, dmix, dout, x, mix, prev, B, T);
    rwkv.tokenShiftBackward(
      this.#f(op, "dx", dx),
      this.#f(op, "dmix", dmix),
      this.#f(op, "dout", dout),
      this.#f(op, "x", x),
      this.#f(op, "mix", mix),
      this.#fOrNull(op, "prev", prev),
      B,
      T,
      C,
    );
  }

  wkv(
    y: Tensor,
    k: Tensor,
    v: Tensor,
    timeDecay: Tensor,
    timeFirst: Tensor,
    state: Tensor | null,
    B: number,
    T: number,
  ): void {
    const op = "wkv";
    const C = checkWkv(y, k, v, timeDecay, timeFirst, state, B, T);
    rwkv.wkv(
      this.#f(op, "y", y),
      this.#f(op, "k", k),
      this.#f(op, "v", v),
      this.#f(op, "timeDecay", timeDecay),
      this.#f(op, "timeFirst", timeFirst),
      this.#fOrNull(op, "state", state),
      B,
      T,
      C,
    );
  }

  wkvBackward(
    dw: Tensor,
    du: Tensor,
    dk: Tensor,
    dv: Tensor,
    dy: Tensor,
    k: Tensor,
    v: Tensor,
    timeDecay: Tensor,
    timeFirst: Tensor,
    B: number,
    T: number,
  ): void {
    const op = "wkvBackward";
    const C = checkWkvBackward(dw, du, dk, dv, dy, k, v, timeDecay, timeFirst, B, T);
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
      C,
    );
  }

  reluSquared(out: Tensor, x: Tensor): void {
    expectSameSize("reluSquared", "out", out, "x", x);
    act.reluSquared(this.#f("reluSquared", "out", out), this.#f("reluSquared", "x", x));
  }

  reluSquaredBackward(dx: Tensor, x: Tensor, dout: Tensor): void {
    const op = "reluSquaredBackward";
    checkUnaryBackward(op, dx, "x", x, dout);
    act.reluSquaredBackward(this.#f(op, "dx", dx), this.#f(op, "x", x), this.#f(op, "dout", dout));
  }

  sigmoid(out: Tensor, x: Tensor): void {
    expectSameSize("sigmoid", "out", out, "x", x);
    act.sigmoid(this.#f("sigmoid", "out", out), this.#f("sigmoid", "x", x));
  }

  sigmoidBackward(dx: Tensor, y: Tensor, dout: Tensor): void {
    const op = "sigmoidBackward";
    checkUnaryBackward(op, dx, "y", y, dout);
    act.sigmoidBackward(this.#f(op, "dx", dx), this.#f(op, "y", y), this.#f(op, "dout", dout));
  }
}
