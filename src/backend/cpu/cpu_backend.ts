/**
 * The CPU backend: every op of {@link Backend} in plain TypeScript on typed arrays. It is
 * the reference the WebGPU kernels are tested against and the fallback when no WebGPU
 * adapter exists. Ops run immediately (nothing is recorded), so `flush`/`sync` are no-ops.
 *
 * @module
 */
import {
  type AdamWParams,
  type AttentionDims,
  type Backend,
  type DType,
  type MatmulOptions,
  type Tensor,
  VIEW_ALIGN,
} from "../backend.ts";
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
import {
  asMatrix,
  CpuTensor,
  expectSameSize,
  expectSize,
  type FloatArray,
  fmtShape,
  shapeSize,
} from "./tensor.ts";

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
    if (ct.dtype !== "f32") throw new Error(`${op}: ${name} must be f32, got ${ct.dtype}`);
    return ct.data as FloatArray;
  }

  #fOrNull(op: string, name: string, t: Tensor | null | undefined): FloatArray | null {
    return t ? this.#f(op, name, t) : null;
  }

  #i(op: string, name: string, t: Tensor): Int32Array {
    const ct = this.#tensor(op, name, t);
    if (ct.dtype !== "i32") throw new Error(`${op}: ${name} must be i32, got ${ct.dtype}`);
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
    const size = shapeSize("fromArray", shape);
    if (data.length !== size) {
      throw new Error(
        `fromArray: shape ${
          fmtShape(shape)
        } needs ${size} elements but the data has ${data.length}`,
      );
    }
    const dtype: DType = data instanceof Int32Array ? "i32" : "f32";
    const store = this.#alloc(size, dtype);
    store.set(data);
    return new CpuTensor(shape, dtype, store);
  }

  view(base: Tensor, offset: number, shape: readonly number[]): Tensor {
    const b = this.#tensor("view", "base", base);
    const size = shapeSize("view", shape);
    if (!Number.isInteger(offset) || offset < 0 || offset % VIEW_ALIGN !== 0) {
      throw new Error(`view: offset ${offset} must be a multiple of ${VIEW_ALIGN} elements`);
    }
    if (offset + size > b.size) {
      throw new Error(
        `view: ${fmtShape(shape)} at offset ${offset} does not fit in base ${fmtShape(b.shape)} ` +
          `(${b.size} elements)`,
      );
    }
    return new CpuTensor(shape, b.dtype, b.data.subarray(offset, offset + size), b.base ?? b);
  }

  write(t: Tensor, data: Float32Array | Int32Array, offset = 0): void {
    const ct = this.#tensor("write", "tensor", t);
    if ((data instanceof Int32Array) !== (ct.dtype === "i32")) {
      throw new Error(`write: ${data.constructor.name} data into a ${ct.dtype} tensor`);
    }
    if (!Number.isInteger(offset) || offset < 0 || offset + data.length > ct.size) {
      throw new Error(
        `write: ${data.length} elements at offset ${offset} do not fit in ${fmtShape(ct.shape)}`,
      );
    }
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
    expectSameSize("copy", "dst", dst, "src", src);
    if (d.dtype !== s.dtype) throw new Error(`copy: dst is ${d.dtype} but src is ${s.dtype}`);
    d.data.set(s.data);
  }

  scale(t: Tensor, s: number): void {
    elem.scale(this.#f("scale", "tensor", t), s);
  }

  add(out: Tensor, a: Tensor, b: Tensor): void {
    expectSameSize("add", "out", out, "a", a);
    expectSameSize("add", "a", a, "b", b);
    elem.add(this.#f("add", "out", out), this.#f("add", "a", a), this.#f("add", "b", b));
  }

  addInto(dst: Tensor, src: Tensor, alpha = 1): void {
    expectSameSize("addInto", "dst", dst, "src", src);
    elem.addInto(this.#f("addInto", "dst", dst), this.#f("addInto", "src", src), alpha);
  }

  mul(out: Tensor, a: Tensor, b: Tensor): void {
    expectSameSize("mul", "out", out, "a", a);
    expectSameSize("mul", "a", a, "b", b);
    elem.mul(this.#f("mul", "out", out), this.#f("mul", "a", a), this.#f("mul", "b", b));
  }

  mulBackward(da: Tensor | null, db: Tensor | null, dout: Tensor, a: Tensor, b: Tensor): void {
    const op = "mulBackward";
    expectSameSize(op, "dout", dout, "a", a);
    expectSameSize(op, "a", a, "b", b);
    if (da) expectSameSize(op, "da", da, "a", a);
    if (db) expectSameSize(op, "db", db, "b", b);
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
    const [M, N] = asMatrix(x);
    expectSize("sumRows", "out", out, N, `x ${fmtShape(x.shape)}`);
    red.sumRows(this.#f("sumRows", "out", out), this.#f("sumRows", "x", x), M, N, accumulate);
  }

  // ---- GPT ops ----------------------------------------------------------------------------

  matmul(out: Tensor, a: Tensor, b: Tensor, options: MatmulOptions = {}): void {
    const transA = options.transA ?? false, transB = options.transB ?? false;
    const [ar, ac] = asMatrix(a), [br, bc] = asMatrix(b);
    const [M, K] = transA ? [ac, ar] : [ar, ac];
    const [Kb, N] = transB ? [bc, br] : [br, bc];
    const desc = `a ${fmtShape(a.shape)}${transA ? "ᵀ" : ""} and b ${fmtShape(b.shape)}${
      transB ? "ᵀ" : ""
    }`;
    if (K !== Kb) {
      throw new Error(`matmul: ${desc} do not match (inner dimensions ${K} and ${Kb})`);
    }
    if (out.size !== M * N || asMatrix(out)[1] !== N) {
      throw new Error(
        `matmul: out ${fmtShape(out.shape)} does not fit ${desc} (needs [${M}, ${N}])`,
      );
    }
    if (options.bias) expectSize("matmul", "bias", options.bias, N, `out [${M}, ${N}]`);
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
    const C = asMatrix(wte)[1];
    expectSize(op, "out", out, ids.size * C, `ids ${fmtShape(ids.shape)} × wte width ${C}`);
    checkT(op, ids, T);
    if (wpe) {
      const [Tmax, Cp] = asMatrix(wpe);
      if (Cp !== C) {
        throw new Error(
          `${op}: wte ${fmtShape(wte.shape)} and wpe ${fmtShape(wpe.shape)} differ in width`,
        );
      }
      if (posOffset < 0 || posOffset + T > Tmax) {
        throw new Error(
          `${op}: positions ${posOffset}…${posOffset + T - 1} exceed wpe ${fmtShape(wpe.shape)}`,
        );
      }
    }
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
    const C = asMatrix(dwte)[1];
    expectSize(op, "dout", dout, ids.size * C, `ids ${fmtShape(ids.shape)} × dwte width ${C}`);
    checkT(op, ids, T);
    if (dwpe && (asMatrix(dwpe)[1] !== C || asMatrix(dwpe)[0] < T)) {
      throw new Error(`${op}: dwpe ${fmtShape(dwpe.shape)} does not fit T ${T} × C ${C}`);
    }
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
    const [N, C] = asMatrix(x);
    expectSameSize(op, "out", out, "x", x);
    expectSize(op, "w", w, C, `x ${fmtShape(x.shape)}`);
    expectSize(op, "b", b, C, `x ${fmtShape(x.shape)}`);
    expectSize(op, "mean", mean, N, `x ${fmtShape(x.shape)}`);
    expectSize(op, "rstd", rstd, N, `x ${fmtShape(x.shape)}`);
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
    const [N, C] = asMatrix(x);
    expectSameSize(op, "dx", dx, "x", x);
    expectSameSize(op, "dout", dout, "x", x);
    for (const [name, t] of [["w", w], ["dw", dw], ["db", db]] as const) {
      expectSize(op, name, t, C, `x ${fmtShape(x.shape)}`);
    }
    expectSize(op, "mean", mean, N, `x ${fmtShape(x.shape)}`);
    expectSize(op, "rstd", rstd, N, `x ${fmtShape(x.shape)}`);
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
    expectSameSize(op, "dx", dx, "x", x);
    expectSameSize(op, "dout", dout, "x", x);
    act.geluBackward(this.#f(op, "dx", dx), this.#f(op, "x", x), this.#f(op, "dout", dout));
  }

  attention(out: Tensor, lse: Tensor, qkv: Tensor, dims: AttentionDims): void {
    const op = "attention";
    checkAttentionDims(op, dims);
    const { B, T, C, NH } = dims;
    expectSize(op, "qkv", qkv, B * T * 3 * C, `[B, T, 3C] = [${B}, ${T}, ${3 * C}]`);
    expectSize(op, "out", out, B * T * C, `[B, T, C] = [${B}, ${T}, ${C}]`);
    expectSize(op, "lse", lse, B * NH * T, `[B, NH, T] = [${B}, ${NH}, ${T}]`);
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
    checkAttentionDims(op, dims);
    const { B, T, C, NH } = dims;
    const need3 = `[B, T, 3C] = [${B}, ${T}, ${3 * C}]`, need = `[B, T, C] = [${B}, ${T}, ${C}]`;
    expectSize(op, "qkv", qkv, B * T * 3 * C, need3);
    expectSize(op, "dqkv", dqkv, B * T * 3 * C, need3);
    expectSize(op, "out", out, B * T * C, need);
    expectSize(op, "dout", dout, B * T * C, need);
    expectSize(op, "lse", lse, B * NH * T, `[B, NH, T] = [${B}, ${NH}, ${T}]`);
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
    checkAttentionDims(op, dims);
    const { B, T, C } = dims;
    expectSize(op, "qkv", qkv, B * T * 3 * C, `[B, T, 3C] = [${B}, ${T}, ${3 * C}]`);
    expectSize(op, "out", out, B * T * C, `[B, T, C] = [${B}, ${T}, ${C}]`);
    expectSameSize(op, "kCache", kCache, "vCache", vCache);
    const Tmax = kCache.size / (B * C);
    if (!Number.isInteger(Tmax) || asMatrix(kCache)[1] !== C) {
      throw new Error(
        `${op}: kCache ${fmtShape(kCache.shape)} is not [B, Tmax, C] with B ${B}, C ${C}`,
      );
    }
    if (!Number.isInteger(pos) || pos < 0 || pos + T > Tmax) {
      throw new Error(
        `${op}: positions ${pos}…${pos + T - 1} do not fit the cache ${fmtShape(kCache.shape)}`,
      );
    }
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
    const [N, V] = asMatrix(logits);
    expectSize(op, "targets", targets, N, `logits ${fmtShape(logits.shape)}`);
    expectSize(op, "losses", losses, N, `logits ${fmtShape(logits.shape)}`);
    if (dlogits) expectSameSize(op, "dlogits", dlogits, "logits", logits);
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
    expectSize("argmaxRows", "out", out, N, `x ${fmtShape(x.shape)}`);
    red.argmaxRows(this.#i("argmaxRows", "out", out), this.#f("argmaxRows", "x", x), N, V);
  }

  topK(values: Tensor, indices: Tensor, x: Tensor, k: number): void {
    const op = "topK";
    if (!Number.isInteger(k) || k < 1 || k > x.size) {
      throw new Error(`${op}: k ${k} must be an integer in 1…${x.size} for x ${fmtShape(x.shape)}`);
    }
    expectSize(op, "values", values, k, `k ${k}`);
    expectSize(op, "indices", indices, k, `k ${k}`);
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
    expectSameSize(op, "grads", grads, "params", params);
    expectSameSize(op, "m", m, "params", params);
    expectSameSize(op, "v", v, "params", params);
    if (decayMask) expectSameSize(op, "decayMask", decayMask, "params", params);
    if (!(hp.step >= 1)) throw new Error(`${op}: step must be ≥ 1 (1-based), got ${hp.step}`);
    let scale = 1;
    if (clip) {
      expectSize(op, "clip.normSquared", clip.normSquared, 1, "a scalar");
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
    const C = checkBTC(op, x, B, T);
    expectSameSize(op, "out", out, "x", x);
    expectSize(op, "mix", mix, C, `x ${fmtShape(x.shape)}`);
    if (prev) expectSize(op, "prev", prev, B * C, `[B, C] = [${B}, ${C}]`);
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
    const C = checkBTC(op, x, B, T);
    expectSameSize(op, "dx", dx, "x", x);
    expectSameSize(op, "dout", dout, "x", x);
    expectSize(op, "mix", mix, C, `x ${fmtShape(x.shape)}`);
    expectSize(op, "dmix", dmix, C, `x ${fmtShape(x.shape)}`);
    if (prev) expectSize(op, "prev", prev, B * C, `[B, C] = [${B}, ${C}]`);
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
    const C = checkBTC(op, k, B, T);
    expectSameSize(op, "v", v, "k", k);
    expectSameSize(op, "y", y, "k", k);
    expectSize(op, "timeDecay", timeDecay, C, `k ${fmtShape(k.shape)}`);
    expectSize(op, "timeFirst", timeFirst, C, `k ${fmtShape(k.shape)}`);
    if (state) expectSize(op, "state", state, B * 3 * C, `[B, 3, C] = [${B}, 3, ${C}]`);
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
    const C = checkBTC(op, k, B, T);
    for (const [name, t] of [["v", v], ["dk", dk], ["dv", dv], ["dy", dy]] as const) {
      expectSameSize(op, name, t, "k", k);
    }
    for (
      const [name, t] of [["timeDecay", timeDecay], ["timeFirst", timeFirst], ["dw", dw], [
        "du",
        du,
      ]] as const
    ) {
      expectSize(op, name, t, C, `k ${fmtShape(k.shape)}`);
    }
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
    expectSameSize(op, "dx", dx, "x", x);
    expectSameSize(op, "dout", dout, "x", x);
    act.reluSquaredBackward(this.#f(op, "dx", dx), this.#f(op, "x", x), this.#f(op, "dout", dout));
  }

  sigmoid(out: Tensor, x: Tensor): void {
    expectSameSize("sigmoid", "out", out, "x", x);
    act.sigmoid(this.#f("sigmoid", "out", out), this.#f("sigmoid", "x", x));
  }

  sigmoidBackward(dx: Tensor, y: Tensor, dout: Tensor): void {
    const op = "sigmoidBackward";
    expectSameSize(op, "dx", dx, "y", y);
    expectSameSize(op, "dout", dout, "y", y);
    act.sigmoidBackward(this.#f(op, "dx", dx), this.#f(op, "y", y), this.#f(op, "dout", dout));
  }
}

/** Throws unless `ids` holds whole sequences of length T. */
function checkT(op: string, ids: Tensor, T: number): void {
  if (!Number.isInteger(T) || T < 1 || ids.size % T !== 0) {
    throw new Error(
      `${op}: ids ${fmtShape(ids.shape)} is not a whole number of sequences of T ${T}`,
    );
  }
}

/** Checks that `x` is `[B, T, C]` for the given B and T; returns C. */
function checkBTC(op: string, x: Tensor, B: number, T: number): number {
  const C = x.size / (B * T);
  if (!Number.isInteger(B) || !Number.isInteger(T) || B < 1 || T < 1 || !Number.isInteger(C)) {
    throw new Error(`${op}: x ${fmtShape(x.shape)} is not [B, T, C] with B ${B}, T ${T}`);
  }
  return C;
}

function checkAttentionDims(op: string, { B, T, C, NH }: AttentionDims): void {
  if (![B, T, C, NH].every((d) => Number.isInteger(d) && d >= 1) || C % NH !== 0) {
    throw new Error(`${op}: invalid dims B ${B}, T ${T}, C ${C}, NH ${NH} (C must divide by NH)`);
  }
}
