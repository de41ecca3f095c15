/**
 * The WebGPU backend: every op of {@link Backend} as WGSL kernels (`wgsl/`), recorded into one
 * command encoder and submitted on `flush()` / `read()`.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import {
  type AdamWArgs,
  type AttentionArgs,
  type AttentionBackwardArgs,
  type AttentionCachedArgs,
  type AttentionDims,
  type Backend,
  type DType,
  type EmbeddingArgs,
  type EmbeddingBackwardArgs,
  type LayerNormArgs,
  type LayerNormBackwardArgs,
  type MatmulOptions,
  type MulBackwardArgs,
  type SoftmaxCrossEntropyArgs,
  type Tensor,
  type TokenShiftArgs,
  type TokenShiftBackwardArgs,
  VIEW_ALIGN,
  type WkvArgs,
  type WkvBackwardArgs,
} from "../backend.ts";
import {
  asMatrix,
  cacheLength,
  channels,
  dtypeOf,
  elementCount,
  expectDtype,
  matmulDims,
} from "../checks.ts";
import {
  type Binding,
  type GpuContext,
  GpuTensor,
  type KernelSpec,
  type Scalars,
} from "./context.ts";
import { MatmulKernels, type MatmulVariant } from "./matmul.ts";
import { expandRepeats } from "./template.ts";
import elementwiseSrc from "../../../wgsl/elementwise.wgsl" with { type: "text" };
import elementwiseVec4Src from "../../../wgsl/elementwise_vec4.wgsl" with { type: "text" };
import reduceSrc from "../../../wgsl/reduce.wgsl" with { type: "text" };
import layernormSrc from "../../../wgsl/layernorm.wgsl" with { type: "text" };
import softmaxSrc from "../../../wgsl/softmax_xent.wgsl" with { type: "text" };
import softmaxVec4Src from "../../../wgsl/softmax_xent_vec4.wgsl" with { type: "text" };
import layernormVec4Src from "../../../wgsl/layernorm_vec4.wgsl" with { type: "text" };
import adamwVec4Src from "../../../wgsl/adamw_vec4.wgsl" with { type: "text" };
import adamwSrc from "../../../wgsl/adamw.wgsl" with { type: "text" };
import embeddingSrc from "../../../wgsl/embedding.wgsl" with { type: "text" };
import attentionSrc from "../../../wgsl/attention.wgsl" with { type: "text" };
import attentionVec4Src from "../../../wgsl/attention_vec4.wgsl" with { type: "text" };
import attentionDecodeSrc from "../../../wgsl/attention_decode.wgsl" with { type: "text" };
import rwkvSrc from "../../../wgsl/rwkv.wgsl" with { type: "text" };

const k = (code: string, entry: string, storage: number): KernelSpec => ({ code, entry, storage });

const K = {
  fill: k(elementwiseSrc, "fill", 1),
  copy: k(elementwiseSrc, "copy", 2),
  scale: k(elementwiseSrc, "scale", 1),
  add: k(elementwiseSrc, "add", 3),
  addInto: k(elementwiseSrc, "add_into", 2),
  mul: k(elementwiseSrc, "mul", 3),
  mulAcc: k(elementwiseSrc, "mul_acc", 3),
  gelu: k(elementwiseSrc, "gelu", 2),
  geluBwd: k(elementwiseSrc, "gelu_bwd", 3),
  relu2: k(elementwiseSrc, "relu2", 2),
  relu2Bwd: k(elementwiseSrc, "relu2_bwd", 3),
  sigmoid: k(elementwiseSrc, "sigmoid", 2),
  sigmoidBwd: k(elementwiseSrc, "sigmoid_bwd", 3),
  sumAll: k(reduceSrc, "sum_all", 2),
  sumPartial: k(reduceSrc, "sum_partial", 2),
  sumRows: k(reduceSrc, "sum_rows", 2),
  argmax: k(reduceSrc, "argmax_rows", 3),
  topK: k(reduceSrc, "top_k", 3),
  lnFwd: k(layernormSrc, "ln_forward", 6),
  lnBwdDx: k(layernormSrc, "ln_backward_dx", 6),
  lnBwdDwDb: k(layernormSrc, "ln_backward_dwdb", 6),
  xent: k(softmaxSrc, "softmax_xent", 4),
  xent4: k(softmaxVec4Src, "softmax_xent", 4),
  xent4Rows: k(softmaxVec4Src, "softmax_xent_rows", 4),
  ln4Fwd: k(layernormVec4Src, "ln4_forward", 6),
  ln4BwdDx: k(layernormVec4Src, "ln4_backward_dx", 6),
  ln4BwdDwDb: k(layernormVec4Src, "ln4_backward_dwdb", 6),
  adamw: k(adamwSrc, "adamw", 6),
  adamw4: k(adamwVec4Src, "adamw", 6),
  embed: k(embeddingSrc, "embed", 4),
  embedBwdWte: k(embeddingSrc, "embed_bwd_wte", 3),
  embedBwdWpe: k(embeddingSrc, "embed_bwd_wpe", 3),
  tokenShift: k(rwkvSrc, "token_shift", 4),
  tokenShiftBwdX: k(rwkvSrc, "token_shift_bwd_x", 5),
  tokenShiftBwdMix: k(rwkvSrc, "token_shift_bwd_mix", 6),
  wkv: k(rwkvSrc, "wkv_forward", 6),
  wkvBwd: k(rwkvSrc, "wkv_backward", 8),
};

/** Workgroups for a grid-stride loop over `n` items with 64 invocations per group. */
function strideGroups(n: number): [number] {
  return [Math.max(1, Math.min(Math.ceil(n / 64), 4096))];
}

/** Workgroups for one group per row (2-D when more than 65 535 rows). */
function rowGroups(rows: number): [number, number] {
  return [Math.min(rows, 65535), Math.ceil(rows / 65535)];
}

/** Options of {@link WebGpuBackend}. */
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

  // ---- helpers -------------------------------------------------------------------------------

  #t(op: string, name: string, t: Tensor, dtype: DType = "f32"): GpuTensor {
    if (!(t instanceof GpuTensor)) {
      throw new Error(
        `${op}: ${name} is not a WebGPU tensor (tensors cannot be mixed across backends)`,
      );
    }
    if (t.buffer.released) throw new Error(`${op}: ${name} was used after free()`);
    expectDtype(op, name, t, dtype);
    return t;
  }

  #tn(op: string, name: string, t: Tensor | null | undefined): GpuTensor | null {
    return t ? this.#t(op, name, t) : null;
  }

  #run(
    spec: KernelSpec,
    bindings: readonly (Binding | null)[],
    scalars: Scalars,
    groups: readonly [number, number?, number?],
  ): void {
    this.ctx.dispatch(spec, bindings, scalars, groups);
  }

  #vec4Twins = new Map<KernelSpec, KernelSpec>();

  /** Elementwise kernel over n elements: the vec4 twin for 4·⌊n/4⌋, the scalar one for the tail. */
  #elementwise(spec: KernelSpec, n: number, bindings: GpuTensor[], s = 0): void {
    if (n === 0) return;
    const n4 = n - (n % 4);
    if (n4 > 0) {
      let twin = this.#vec4Twins.get(spec);
      if (!twin) {
        twin = { code: elementwiseVec4Src, entry: spec.entry, storage: spec.storage };
        this.#vec4Twins.set(spec, twin);
      }
      this.#run(twin, bindings, { u: [n4], f: [s] }, strideGroups(n4 / 4));
    }
    if (n4 < n) this.#run(spec, bindings, { u: [n, n4], f: [s] }, strideGroups(n - n4));
  }

  /** A temporary f32 buffer, returned to the pool after the next submit. */
  #scratch(size: number): GpuTensor {
    return new GpuTensor([size], "f32", this.ctx.tempBuf(size * 4), 0, true);
  }

  // ---- memory --------------------------------------------------------------------------------

  zeros(shape: readonly number[], dtype: DType = "f32"): Tensor {
    const size = elementCount(shape);
    const buf = this.ctx.allocBuf(size * 4);
    if (buf.pooled) this.ctx.encoder().clearBuffer(buf.buffer, 0, buf.bytes);
    return new GpuTensor([...shape], dtype, buf, 0, true);
  }

  fromArray(shape: readonly number[], data: Float32Array | Int32Array): Tensor {
    const size = data.length, dtype = dtypeOf(data);
    const buf = this.ctx.allocBuf(size * 4);
    const t = new GpuTensor([...shape], dtype, buf, 0, true);
    if (size > 0) this.write(t, data);
    return t;
  }

  view(base: Tensor, offset: number, shape: readonly number[]): Tensor {
    const b = this.#t("view", "base", base, base.dtype);
    return new GpuTensor([...shape], b.dtype, b.buffer, b.offset + offset, false);
  }

  write(t: Tensor, data: Float32Array | Int32Array, offset = 0): void {
    const g = this.#t("write", "tensor", t, t.dtype);
    if (data.length === 0) return;
    // A staging copy recorded in the encoder keeps the write in order with recorded ops.
    const staging = this.ctx.device.createBuffer({
      size: data.length * 4,
      usage: GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC,
      mappedAtCreation: true,
    });
    const mapped = staging.getMappedRange();
    if (data instanceof Int32Array) new Int32Array(mapped).set(data);
    else new Float32Array(mapped).set(data);
    staging.unmap();
    this.ctx.encoder().copyBufferToBuffer(
      staging,
      0,
      g.buffer.buffer,
      (g.offset + offset) * 4,
      data.length * 4,
    );
    this.ctx.afterSubmit(() => staging.destroy());
  }

  async read(t: Tensor): Promise<Float32Array | Int32Array> {
    const g = this.#t("read", "tensor", t, t.dtype);
    const bytes = g.size * 4;
    if (bytes === 0) return g.dtype === "i32" ? new Int32Array(0) : new Float32Array(0);
    const staging = this.ctx.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    this.ctx.encoder().copyBufferToBuffer(g.buffer.buffer, g.offset * 4, staging, 0, bytes);
    this.ctx.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      this.ctx.checkAlive();
      throw e;
    }
    const copy = staging.getMappedRange().slice(0);
    staging.unmap();
    staging.destroy();
    return g.dtype === "i32" ? new Int32Array(copy) : new Float32Array(copy);
  }

  free(t: Tensor): void {
    const g = this.#t("free", "tensor", t, t.dtype);
    if (!g.owner) throw new Error("free: views need no free(); free their base tensor");
    this.ctx.releaseBuf(g.buffer);
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

  // ---- elementwise ---------------------------------------------------------------------------

  fill(t: Tensor, value: number): void {
    const g = this.#t("fill", "tensor", t, t.dtype);
    if (g.dtype === "i32") {
      // Same bits through the f32 kernel: write the integer's bit pattern.
      const f = new Float32Array(new Int32Array([value]).buffer)[0];
      this.#elementwise(K.fill, g.size, [g], f);
    } else this.#elementwise(K.fill, g.size, [g], value);
  }

  copy(dst: Tensor, src: Tensor): void {
    const d = this.#t("copy", "dst", dst, dst.dtype);
    const s = this.#t("copy", "src", src, src.dtype);
    if (d.size === 0) return;
    if (d.buffer === s.buffer) {
      // WebGPU cannot copy a buffer onto itself: views of one base go through a kernel.
      this.#elementwise(K.copy, d.size, [d, s]);
      return;
    }
    this.ctx.encoder().copyBufferToBuffer(
      s.buffer.buffer,
      s.offset * 4,
      d.buffer.buffer,
      d.offset * 4,
      d.size * 4,
    );
  }

  scale(t: Tensor, s: number): void {
    this.#elementwise(K.scale, t.size, [this.#t("scale", "tensor", t)], s);
  }

  add(out: Tensor, a: Tensor, b: Tensor): void {
    this.#elementwise(K.add, out.size, [
      this.#t("add", "out", out),
      this.#t("add", "a", a),
      this.#t("add", "b", b),
    ]);
  }

  addInto(dst: Tensor, src: Tensor, alpha = 1): void {
    this.#elementwise(
      K.addInto,
      dst.size,
      [this.#t("addInto", "dst", dst), this.#t("addInto", "src", src)],
      alpha,
    );
  }

  mul(out: Tensor, a: Tensor, b: Tensor): void {
    this.#elementwise(K.mul, out.size, [
      this.#t("mul", "out", out),
      this.#t("mul", "a", a),
      this.#t("mul", "b", b),
    ]);
  }

  mulBackward({ da, db, dout, a, b }: MulBackwardArgs): void {
    const op = "mulBackward";
    const go = this.#t(op, "dout", dout), ga = this.#t(op, "a", a), gb = this.#t(op, "b", b);
    if (da) this.#elementwise(K.mulAcc, a.size, [this.#t(op, "da", da), go, gb]);
    if (db) this.#elementwise(K.mulAcc, a.size, [this.#t(op, "db", db), go, ga]);
  }

  #sumAll(op: string, out: Tensor, x: Tensor, accumulate: boolean, square: boolean): void {
    const o = this.#t(op, "out", out), gx = this.#t(op, "x", x);
    const n = x.size;
    if (n <= SUM_CHUNK) {
      this.#run(K.sumAll, [o, gx], { u: [n, accumulate ? 1 : 0, square ? 1 : 0] }, [1]);
      return;
    }
    // Two stages, both in a fixed order: chunk sums in parallel, then their sum.
    const parts = Math.ceil(n / SUM_CHUNK);
    const partials = this.#scratch(parts);
    this.#run(K.sumPartial, [partials, gx], { u: [n, 0, square ? 1 : 0, SUM_CHUNK] }, [parts]);
    this.#run(K.sumAll, [o, partials], { u: [parts, accumulate ? 1 : 0, 0] }, [1]);
  }

  sum(out: Tensor, x: Tensor, accumulate = false): void {
    this.#sumAll("sum", out, x, accumulate, false);
  }

  sumSquares(out: Tensor, x: Tensor, accumulate = false): void {
    this.#sumAll("sumSquares", out, x, accumulate, true);
  }

  sumRows(out: Tensor, x: Tensor, accumulate = false): void {
    const [M, N] = asMatrix(x);
    this.#run(K.sumRows, [this.#t("sumRows", "out", out), this.#t("sumRows", "x", x)], {
      u: [M, N, accumulate ? 1 : 0],
    }, [Math.ceil(N / 64)]);
  }

  // ---- GPT ops -------------------------------------------------------------------------------

  matmul(out: Tensor, a: Tensor, b: Tensor, options: MatmulOptions = {}): void {
    const dims = matmulDims(a, b, options);
    const { M, N, K: Kd } = dims;
    const o = this.#t("matmul", "out", out);
    const ga = this.#t("matmul", "a", a), gb = this.#t("matmul", "b", b);
    const bias = this.#tn("matmul", "bias", options.bias);
    if (M * N === 0) return;
    if (Kd === 0) {
      // An empty inner dimension: out = bias (or unchanged when accumulating).
      if (options.accumulate) {
        if (bias) { for (let m = 0; m < M; m++) this.addInto(this.#row(o, m, N), bias); }
      } else if (bias) { for (let m = 0; m < M; m++) this.copy(this.#row(o, m, N), bias); }
      else this.fill(o, 0);
      return;
    }
    this.mm.record(o, ga, gb, bias, dims, options.accumulate ?? false);
  }

  #row(t: GpuTensor, m: number, N: number): GpuTensor {
    return new GpuTensor([N], t.dtype, t.buffer, t.offset + m * N, false);
  }

  embedding({ out, ids, wte, wpe, T, posOffset = 0 }: EmbeddingArgs): void {
    const op = "embedding";
    const [V, C] = asMatrix(wte);
    const N = ids.size;
    this.#run(
      K.embed,
      [
        this.#t(op, "out", out),
        this.#t(op, "ids", ids, "i32"),
        this.#t(op, "wte", wte),
        this.#tn(op, "wpe", wpe),
      ],
      { u: [N, C, T, posOffset, V, wpe ? 1 : 0] },
      strideGroups(N * C),
    );
  }

  embeddingBackward({ dwte, dwpe, dout, ids, T }: EmbeddingBackwardArgs): void {
    const op = "embeddingBackward";
    const [V, C] = asMatrix(dwte);
    const N = ids.size;
    const gi = this.#t(op, "ids", ids, "i32"), gd = this.#t(op, "dout", dout);
    const u = [N, C, T, 0, V];
    this.#run(K.embedBwdWte, [this.#t(op, "dwte", dwte), gi, gd], { u }, [Math.ceil(C / 64)]);
    if (dwpe) {
      this.#run(K.embedBwdWpe, [this.#t(op, "dwpe", dwpe), null, gd], { u }, strideGroups(T * C));
    }
  }

  layerNorm({ out, mean, rstd, x, w, b, eps = 1e-5 }: LayerNormArgs): void {
    const op = "layerNorm";
    const [N, C] = asMatrix(x);
    this.#run(
      C % 4 === 0 ? K.ln4Fwd : K.lnFwd,
      [
        this.#t(op, "out", out),
        this.#t(op, "mean", mean),
        this.#t(op, "rstd", rstd),
        this.#t(op, "x", x),
        this.#t(op, "w", w),
        this.#t(op, "b", b),
      ],
      { u: [N, C], f: [eps] },
      threadGroups(N),
    );
  }

  layerNormBackward({ dx, dw, db, dout, x, w, mean, rstd }: LayerNormBackwardArgs): void {
    const op = "layerNormBackward";
    const [N, C] = asMatrix(x);
    const gx = this.#t(op, "x", x), go = this.#t(op, "dout", dout);
    const gm = this.#t(op, "mean", mean), gr = this.#t(op, "rstd", rstd);
    if (C % 4 === 0) {
      const gw = this.#t(op, "w", w);
      this.#run(
        K.ln4BwdDx,
        [this.#t(op, "dx", dx), gm, gr, gw, go, gx],
        { u: [N, C] },
        threadGroups(N),
      );
      this.#run(K.ln4BwdDwDb, [this.#t(op, "dw", dw), gm, gr, this.#t(op, "db", db), go, gx], {
        u: [N, C],
      }, [Math.ceil(C / 4 / 64)]);
      return;
    }
    this.#run(K.lnBwdDx, [this.#t(op, "dx", dx), go, gx, this.#t(op, "w", w), gm, gr], {
      u: [N, C],
    }, threadGroups(N));
    this.#run(K.lnBwdDwDb, [this.#t(op, "dw", dw), this.#t(op, "db", db), go, gx, gm, gr], {
      u: [N, C],
    }, [Math.ceil(C / 64)]);
  }

  gelu(out: Tensor, x: Tensor): void {
    this.#elementwise(K.gelu, out.size, [this.#t("gelu", "out", out), this.#t("gelu", "x", x)]);
  }

  geluBackward(dx: Tensor, x: Tensor, dout: Tensor): void {
    const op = "geluBackward";
    this.#elementwise(K.geluBwd, dx.size, [
      this.#t(op, "dx", dx),
      this.#t(op, "x", x),
      this.#t(op, "dout", dout),
    ]);
  }

  #attnSpec(entry: string, storage: number, hs: number): KernelSpec {
    return this.#spec(`1|${entry}|${hs}`, () => ({
      code: attentionSrc.replace(/const HS: u32 = \d+u;/, `const HS: u32 = ${hs}u;`),
      entry,
      storage,
    }));
  }

  /** Head sizes with the vec4, register-resident kernels (hs a multiple of 4, up to 128). */
  #vec4Heads(C: number, hs: number): boolean {
    return C % 4 === 0 && hs % 4 === 0 && hs <= 128;
  }

  #specs = new Map<string, KernelSpec>();

  /** The kernel spec cached under `key`, built on first use (one shader module per variant). */
  #spec(key: string, build: () => KernelSpec): KernelSpec {
    let spec = this.#specs.get(key);
    if (!spec) {
      spec = build();
      this.#specs.set(key, spec);
    }
    return spec;
  }

  #attn4Spec(entry: string, hs: number): KernelSpec {
    return this.#spec(`4|${entry}|${hs}`, () => ({
      code: expandRepeats(
        attentionVec4Src.replace(/const HS4: u32 = \d+u;/, `const HS4: u32 = ${hs / 4}u;`)
          .replace(/const R: u32 = \d+u;/, `const R: u32 = ${ATTN_ROWS}u;`),
        { HS4: hs / 4, R: ATTN_ROWS },
      ),
      entry,
      storage: 6,
    }));
  }

  attention({ out, lse, qkv, dims }: AttentionArgs): void {
    const op = "attention";
    const { B, T, C, NH } = dims;
    const hs = C / NH;
    checkBh(op, B * NH);
    if (this.#vec4Heads(C, hs)) {
      this.#run(
        this.#attn4Spec("attn4_forward", hs),
        [
          this.#t(op, "out", out),
          null,
          null,
          this.#t(op, "lse", lse),
          this.#t(op, "qkv", qkv),
        ],
        { u: [B, T, C, NH, Math.ceil(T / ATTN_ROWS)], f: [1 / Math.sqrt(hs)] },
        attnGroups(B * NH * Math.ceil(T / ATTN_ROWS)),
      );
      return;
    }
    this.#run(
      this.#attnSpec("attn_forward", 3, hs),
      [
        this.#t(op, "out", out),
        this.#t(op, "lse", lse),
        this.#t(op, "qkv", qkv),
      ],
      { u: [B, T, C, NH], f: [1 / Math.sqrt(hs)] },
      [Math.ceil(T / 64), B * NH],
    );
  }

  attentionBackward({ dqkv, dout, out, lse, qkv, dims }: AttentionBackwardArgs): void {
    const op = "attentionBackward";
    const { B, T, C, NH } = dims;
    const hs = C / NH;
    checkBh(op, B * NH);
    const bind = [
      this.#t(op, "dqkv", dqkv),
      this.#t(op, "dout", dout),
      this.#t(op, "out", out),
      this.#t(op, "lse", lse),
      this.#t(op, "qkv", qkv),
    ];
    const s: Scalars = { u: [B, T, C, NH], f: [1 / Math.sqrt(hs)] };
    if (this.#vec4Heads(C, hs)) {
      const [dq, go, o, l, q] = bind;
      const dsum = this.#scratch(B * NH * T);
      const b4 = [dq, go, o, l, q, dsum];
      const blocks = Math.ceil(T / ATTN_ROWS);
      const s4: Scalars = { u: [B, T, C, NH, blocks], f: s.f };
      const groups = attnGroups(B * NH * blocks);
      this.#run(this.#attn4Spec("attn4_backward_q", hs), b4, s4, groups);
      this.#run(this.#attn4Spec("attn4_backward_kv", hs), b4, s4, groups);
      return;
    }
    this.#run(this.#attnSpec("attn_backward_q", 5, hs), bind, s, [Math.ceil(T / 64), B * NH]);
    this.#run(this.#attnSpec("attn_backward_kv", 5, hs), bind, s, [Math.ceil(T / 64), B * NH]);
  }

  attentionCached({ out, qkv, kCache, vCache, pos, dims }: AttentionCachedArgs): void {
    const op = "attentionCached";
    const Tmax = cacheLength(kCache, dims);
    const { B, T, C, NH } = dims;
    const hs = C / NH;
    checkBh(op, B * NH);
    const gk = this.#t(op, "kCache", kCache), gv = this.#t(op, "vCache", vCache);
    const gq = this.#t(op, "qkv", qkv);
    const s: Scalars = { u: [B, T, C, NH, pos, Tmax], f: [1 / Math.sqrt(hs)] };
    const go = this.#t(op, "out", out);
    if (T === 1 && this.#vec4Heads(C, hs)) {
      this.#attentionDecode(go, gk, gv, gq, pos + 1, Tmax, dims, s.f);
      return;
    }
    this.#run(this.#attnSpec("cache_append", 3, hs), [gk, gv, gq], s, strideGroups(B * T * C));
    this.#run(this.#attnSpec("attn_cached", 4, hs), [go, gk, gv, gq], s, [
      Math.ceil(T / 64),
      B * NH,
    ]);
  }

  /**
   * One new token per sequence over `len` cached positions (the new one included, appended to
   * the caches by the first pass), split into chunks so that the work spreads over many
   * invocations (see wgsl/attention_decode.wgsl), then merged per head.
   */
  #attentionDecode(
    out: GpuTensor,
    k: GpuTensor,
    v: GpuTensor,
    qkv: GpuTensor,
    len: number,
    Tmax: number,
    { B, C, NH }: AttentionDims,
    f: readonly number[] | undefined,
  ): void {
    const hs = C / NH, BH = B * NH;
    // About DECODE_INVOCATIONS in all, at least DECODE_MIN_CHUNK positions per chunk.
    const chunks = Math.max(
      1,
      Math.min(Math.ceil(len / DECODE_MIN_CHUNK), Math.ceil(DECODE_INVOCATIONS / BH)),
    );
    const S = Math.ceil(len / chunks);
    const n = Math.ceil(len / S);
    const acc = this.#scratch(BH * n * hs), stats = this.#scratch(BH * n * 2);
    const scalars: Scalars = { u: [B, C, NH, n, len, Tmax, S], f };
    // Workgroups of 8: llvmpipe vectorises along x in groups of 8 (see the kernel).
    const groups = (count: number) => flatGroups("attentionCached", count, "invocations", 8);
    this.#run(
      this.#decodeSpec("attn_decode_part", hs),
      [acc, stats, k, v, qkv],
      scalars,
      groups(BH * n),
    );
    this.#run(
      this.#decodeSpec("attn_decode_merge", hs),
      [out, stats, acc],
      scalars,
      groups(BH * (hs / 4)),
    );
  }

  #decodeSpec(entry: string, hs: number): KernelSpec {
    return this.#spec(`decode|${entry}|${hs}`, () => ({
      code: expandRepeats(
        attentionDecodeSrc.replace(/const HS4: u32 = \d+u;/, `const HS4: u32 = ${hs / 4}u;`),
        { HS4: hs / 4 },
      ),
      entry,
      storage: 5,
    }));
  }

  softmaxCrossEntropy(
    { losses, dlogits, logits, targets, gradScale = 1 }: SoftmaxCrossEntropyArgs,
  ): void {
    const op = "softmaxCrossEntropy";
    const [N, V] = asMatrix(logits);
    if (N === 0) return;
    // CPU adapters: one invocation per row (no barriers); GPUs: one workgroup per row.
    const spec = V % 4 !== 0 ? K.xent : this.#softmaxRows ? K.xent4Rows : K.xent4;
    this.#run(
      spec,
      [
        this.#t(op, "losses", losses),
        this.#tn(op, "dlogits", dlogits),
        this.#t(op, "logits", logits),
        this.#t(op, "targets", targets, "i32"),
      ],
      { u: [N, V, dlogits ? 1 : 0], f: [gradScale] },
      spec === K.xent4Rows ? threadGroups(N) : rowGroups(N),
    );
  }

  argmaxRows(out: Tensor, x: Tensor): void {
    const [N, V] = asMatrix(x);
    if (N === 0) return;
    this.#run(K.argmax, [
      null,
      this.#t("argmaxRows", "x", x),
      this.#t("argmaxRows", "out", out, "i32"),
    ], {
      u: [N, V],
    }, rowGroups(N));
  }

  topK(values: Tensor, indices: Tensor, x: Tensor, k: number): void {
    const op = "topK";
    this.#run(
      K.topK,
      [
        this.#t(op, "values", values),
        this.#t(op, "x", x),
        this.#t(op, "indices", indices, "i32"),
      ],
      { u: [x.size, k] },
      [1],
    );
  }

  // ---- optimizer -----------------------------------------------------------------------------

  adamw({ params, grads, m, v, decayMask, hp, clip }: AdamWArgs): void {
    const op = "adamw";
    const maxNormBits = new Uint32Array(new Float32Array([clip?.maxNorm ?? 0]).buffer)[0];
    const n = params.size;
    if (n === 0) return;
    const bind = [
      this.#t(op, "params", params),
      this.#t(op, "grads", grads),
      this.#t(op, "m", m),
      this.#t(op, "v", v),
      this.#tn(op, "decayMask", decayMask),
      clip ? this.#t(op, "clip.normSquared", clip.normSquared) : null,
    ];
    // The vec4 kernel does the first 4·⌊n/4⌋ elements, the scalar one the tail.
    const n4 = n - (n % 4);
    const f = [
      hp.lr,
      hp.beta1,
      hp.beta2,
      hp.eps,
      hp.weightDecay,
      1 - Math.pow(hp.beta1, hp.step),
      1 - Math.pow(hp.beta2, hp.step),
      hp.gradScale,
    ];
    const flags = [decayMask ? 1 : 0, clip ? 1 : 0];
    if (n4 > 0) {
      this.#run(K.adamw4, bind, { u: [n4, ...flags, 0, maxNormBits], f }, strideGroups(n4 / 4));
    }
    if (n4 === n) return;
    this.#run(K.adamw, bind, {
      u: [n, ...flags, n4, maxNormBits],
      f,
    }, strideGroups(n - n4));
  }

  // ---- RWKV-4 ops ----------------------------------------------------------------------------

  tokenShift({ out, x, mix, prev, B, T }: TokenShiftArgs): void {
    const op = "tokenShift";
    const C = channels(x, B, T);
    if (C === 0) return;
    this.#run(
      K.tokenShift,
      [
        this.#t(op, "out", out),
        this.#t(op, "x", x),
        this.#t(op, "mix", mix),
        this.#tn(op, "prev", prev),
      ],
      { u: [B, T, C, prev ? 1 : 0] },
      strideGroups(B * T * C),
    );
  }

  tokenShiftBackward({ dx, dmix, dout, x, mix, prev, B, T }: TokenShiftBackwardArgs): void {
    const op = "tokenShiftBackward";
    const C = channels(x, B, T);
    if (C === 0) return;
    const gx = this.#t(op, "x", x), gm = this.#t(op, "mix", mix);
    const gp = this.#tn(op, "prev", prev), go = this.#t(op, "dout", dout);
    const s: Scalars = { u: [B, T, C, prev ? 1 : 0] };
    this.#run(
      K.tokenShiftBwdX,
      [this.#t(op, "dx", dx), gx, gm, gp, go],
      s,
      strideGroups(B * T * C),
    );
    this.#run(K.tokenShiftBwdMix, [null, gx, gm, gp, go, this.#t(op, "dmix", dmix)], s, [
      Math.ceil(C / 64),
    ]);
  }

  wkv({ y, k, v, timeDecay, timeFirst, state, B, T }: WkvArgs): void {
    const op = "wkv";
    const C = channels(k, B, T);
    if (C === 0) return;
    this.#run(
      K.wkv,
      [
        this.#t(op, "y", y),
        this.#t(op, "k", k),
        this.#t(op, "v", v),
        this.#t(op, "timeDecay", timeDecay),
        this.#t(op, "timeFirst", timeFirst),
        this.#tn(op, "state", state),
      ],
      { u: [B, T, C, state ? 1 : 0] },
      [Math.ceil((B * C) / 64)],
    );
  }

  wkvBackward({ dw, du, dk, dv, dy, k, v, timeDecay, timeFirst, B, T }: WkvBackwardArgs): void {
    const op = "wkvBackward";
    const C = channels(k, B, T);
    if (C === 0) return;
    // Scratch: y, q, r (3·B·T·C), then copies of timeDecay and timeFirst at aligned offsets
    // (the kernel already uses the 8 storage bindings every device offers).
    const N = B * T * C;
    const offW = Math.ceil((3 * N) / VIEW_ALIGN) * VIEW_ALIGN;
    const offU = offW + Math.ceil(C / VIEW_ALIGN) * VIEW_ALIGN;
    const scratch = this.#scratch(offU + C);
    const td = this.#t(op, "timeDecay", timeDecay), tf = this.#t(op, "timeFirst", timeFirst);
    const enc = this.ctx.encoder();
    enc.copyBufferToBuffer(td.buffer.buffer, td.offset * 4, scratch.buffer.buffer, offW * 4, C * 4);
    enc.copyBufferToBuffer(tf.buffer.buffer, tf.offset * 4, scratch.buffer.buffer, offU * 4, C * 4);
    this.#run(
      K.wkvBwd,
      [
        this.#t(op, "dw", dw),
        this.#t(op, "du", du),
        this.#t(op, "dk", dk),
        this.#t(op, "dv", dv),
        this.#t(op, "dy", dy),
        this.#t(op, "k", k),
        this.#t(op, "v", v),
        scratch,
      ],
      { u: [B, T, C, 0, offW, offU] },
      [Math.ceil(C / 64)],
    );
  }

  reluSquared(out: Tensor, x: Tensor): void {
    this.#elementwise(K.relu2, out.size, [
      this.#t("reluSquared", "out", out),
      this.#t("reluSquared", "x", x),
    ]);
  }

  reluSquaredBackward(dx: Tensor, x: Tensor, dout: Tensor): void {
    const op = "reluSquaredBackward";
    this.#elementwise(K.relu2Bwd, dx.size, [
      this.#t(op, "dx", dx),
      this.#t(op, "x", x),
      this.#t(op, "dout", dout),
    ]);
  }

  sigmoid(out: Tensor, x: Tensor): void {
    this.#elementwise(K.sigmoid, out.size, [
      this.#t("sigmoid", "out", out),
      this.#t("sigmoid", "x", x),
    ]);
  }

  sigmoidBackward(dx: Tensor, y: Tensor, dout: Tensor): void {
    const op = "sigmoidBackward";
    this.#elementwise(K.sigmoidBwd, dx.size, [
      this.#t(op, "dx", dx),
      this.#t(op, "y", y),
      this.#t(op, "dout", dout),
    ]);
  }
}

/** Elements per workgroup in the first stage of a large sum. */
const SUM_CHUNK = 16384;

/** Rows per invocation in the vec4 attention kernels (each k/v load serves this many rows). */
const ATTN_ROWS = 4;

/** Invocations of the decoding attention's chunk pass the chunking aims at. */
const DECODE_INVOCATIONS = 64;
/** Fewest cached positions per chunk (below this the merge costs more than it saves). */
const DECODE_MIN_CHUNK = 16;

/**
 * One-dimensional dispatch of `invocations` in workgroups of `size`; the error, when that
 * exceeds the 65 535-workgroup limit, names the op and what is being counted (`unit`).
 */
function flatGroups(op: string, invocations: number, unit: string, size: number): [number] {
  const groups = Math.ceil(invocations / size);
  if (groups > 65535) {
    throw new BenteviError(
      `${op}: ${invocations} ${unit} exceed the dispatch limit; use a smaller batch`,
    );
  }
  return [groups];
}

/** Workgroups of 64 for the attention kernels (one invocation per row block). */
function attnGroups(invocations: number): [number] {
  return flatGroups("attention", invocations, "row blocks", 64);
}

/** Workgroups for one invocation per item, 64 per group (2-D beyond 65 535 groups). */
function threadGroups(n: number): [number, number] {
  const groups = Math.max(1, Math.ceil(n / 64));
  return [Math.min(groups, 65535), Math.ceil(groups / 65535)];
}

function checkBh(op: string, bh: number): void {
  if (bh > 65535) {
    throw new BenteviError(
      `${op}: B·NH = ${bh} exceeds 65535 (the dispatch limit); use a smaller batch`,
    );
  }
}
