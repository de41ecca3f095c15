/**
 * Elementwise ops of the WebGPU backend (`wgsl/elementwise.wgsl`): fill, copy, scale, add,
 * addInto, mul and mul's backward, GELU, ReLU², sigmoid, SwiGLU and their backwards.
 *
 * Every kernel is written once over the element type `T`; its vec4 variant is generated
 * (`widths()` in kernel.ts). An op over n elements runs the vec4 kernel over the first
 * 4·⌊n/4⌋ and the scalar one over the tail, each as a grid-stride loop.
 *
 * @module
 */
import type { MulBackwardArgs, SwigluBackwardArgs, Tensor } from "../backend.ts";
import { type GpuContext, gpuTensor, gpuTensors } from "./context.ts";
import type { BindingDecls, Kernel, Resources, UniformValues } from "./kernel.ts";
import { widths } from "./kernel.ts";
import { strideGroups } from "./grid.ts";
import src from "../../../wgsl/elementwise.wgsl" with { type: "text" };

const RANGE = { begin: "u32", end: "u32" } as const;

/** The elementwise kernels, scalar (1) and vec4 (4) forms. */
export const ELEMENTWISE = {
  fill: widths({
    source: src,
    entry: "fill",
    bindings: { t: "T" },
    uniforms: { ...RANGE, bits: "u32" },
  }),
  copy: widths({ source: src, entry: "copy", bindings: { dst: "T", src: "T" }, uniforms: RANGE }),
  scale: widths({
    source: src,
    entry: "scale",
    bindings: { t: "T" },
    uniforms: { ...RANGE, s: "f32" },
  }),
  add: widths({
    source: src,
    entry: "add",
    bindings: { out: "T", a: "T", b: "T" },
    uniforms: RANGE,
  }),
  addInto: widths({
    source: src,
    entry: "add_into",
    bindings: { dst: "T", src: "T" },
    uniforms: { ...RANGE, alpha: "f32" },
  }),
  mul: widths({
    source: src,
    entry: "mul",
    bindings: { out: "T", a: "T", b: "T" },
    uniforms: RANGE,
  }),
  mulAcc: widths({
    source: src,
    entry: "mul_acc",
    bindings: { acc: "T", a: "T", b: "T" },
    uniforms: RANGE,
  }),
  gelu: widths({ source: src, entry: "gelu", bindings: { out: "T", x: "T" }, uniforms: RANGE }),
  geluBwd: widths({
    source: src,
    entry: "gelu_bwd",
    bindings: { dx: "T", x: "T", dout: "T" },
    uniforms: RANGE,
  }),
  relu2: widths({ source: src, entry: "relu2", bindings: { out: "T", x: "T" }, uniforms: RANGE }),
  relu2Bwd: widths({
    source: src,
    entry: "relu2_bwd",
    bindings: { dx: "T", x: "T", dout: "T" },
    uniforms: RANGE,
  }),
  sigmoid: widths({
    source: src,
    entry: "sigmoid",
    bindings: { out: "T", x: "T" },
    uniforms: RANGE,
  }),
  sigmoidBwd: widths({
    source: src,
    entry: "sigmoid_bwd",
    bindings: { dx: "T", y: "T", dout: "T" },
    uniforms: RANGE,
  }),
  tanh: widths({ source: src, entry: "tanh_fwd", bindings: { out: "T", x: "T" }, uniforms: RANGE }),
  tanhBwd: widths({
    source: src,
    entry: "tanh_bwd",
    bindings: { dx: "T", y: "T", dout: "T" },
    uniforms: RANGE,
  }),
  swiglu: widths({
    source: src,
    entry: "swiglu",
    bindings: { out: "T", gate: "T", up: "T" },
    uniforms: RANGE,
  }),
  swigluBwd: widths({
    source: src,
    entry: "swiglu_bwd",
    bindings: { dgate: "T", dup: "T", dout: "T", gate: "T", up: "T" },
    uniforms: RANGE,
  }),
};

/** Uniforms of an elementwise kernel other than its range. */
type Extra<U> = Omit<UniformValues<U & typeof RANGE>, "begin" | "end">;

/**
 * Records `k` over `n` elements: the vec4 form for 4·⌊n/4⌋, the scalar form for the tail.
 *
 * @example
 * ```ts ignore
 * elementwise(ctx, ELEMENTWISE.add, out.size, { out, a, b }, {});
 * ```
 */
export function elementwise<B extends BindingDecls, U extends typeof RANGE>(
  ctx: GpuContext,
  k: { 1: Kernel<B, U>; 4: Kernel<B, U> },
  n: number,
  bindings: Resources<B>,
  extra: Extra<U>,
): void {
  if (n === 0) return;
  const n4 = n - (n % 4);
  if (n4 > 0) {
    const u = { ...extra, begin: 0, end: n4 / 4 } as UniformValues<U>;
    ctx.dispatch(k[4], bindings, u, strideGroups(n4 / 4));
  }
  if (n4 < n) {
    const u = { ...extra, begin: n4, end: n } as UniformValues<U>;
    ctx.dispatch(k[1], bindings, u, strideGroups(n - n4));
  }
}

/** `t[i] = value` (as bits: an i32 tensor gets the integer's bit pattern). */
export function fill(ctx: GpuContext, tensor: Tensor, value: number): void {
  const t = gpuTensor("fill", "tensor", tensor, tensor.dtype);
  const bits = t.dtype === "i32"
    ? value >>> 0
    : new Uint32Array(new Float32Array([value]).buffer)[0];
  elementwise(ctx, ELEMENTWISE.fill, t.size, { t }, { bits });
}

/**
 * `dst[i] = src[i]`: a buffer copy, or a kernel for views of one buffer (WebGPU cannot copy
 * a buffer onto itself).
 */
export function copy(ctx: GpuContext, dstTensor: Tensor, srcTensor: Tensor): void {
  const dst = gpuTensor("copy", "dst", dstTensor, dstTensor.dtype);
  const src = gpuTensor("copy", "src", srcTensor, srcTensor.dtype);
  if (dst.size === 0) return;
  if (dst.buffer === src.buffer) {
    elementwise(ctx, ELEMENTWISE.copy, dst.size, { dst, src }, {});
    return;
  }
  ctx.encoder().copyBufferToBuffer(
    src.buffer.buffer,
    src.offset * 4,
    dst.buffer.buffer,
    dst.offset * 4,
    dst.size * 4,
  );
}

/** `t[i] *= s`. */
export function scale(ctx: GpuContext, tensor: Tensor, s: number): void {
  const t = gpuTensor("scale", "tensor", tensor);
  elementwise(ctx, ELEMENTWISE.scale, t.size, { t }, { s });
}

/** `dst[i] += alpha · src[i]`. */
export function addInto(ctx: GpuContext, dst: Tensor, src: Tensor, alpha: number): void {
  const t = gpuTensors("addInto", { dst, src });
  elementwise(ctx, ELEMENTWISE.addInto, t.dst.size, t, { alpha });
}

/** `out = a + b` or `out = a · b`. */
export function binary(
  ctx: GpuContext,
  op: "add" | "mul",
  out: Tensor,
  a: Tensor,
  b: Tensor,
): void {
  const t = gpuTensors(op, { out, a, b });
  elementwise(ctx, ELEMENTWISE[op], out.size, t, {});
}

/** Backward of `mul`: `da += dout·b`, `db += dout·a` (either may be null). */
export function mulBackward(ctx: GpuContext, args: MulBackwardArgs): void {
  const { dout, a, b } = gpuTensors("mulBackward", { dout: args.dout, a: args.a, b: args.b });
  const { da, db } = gpuTensors("mulBackward", { da: args.da, db: args.db });
  if (da) elementwise(ctx, ELEMENTWISE.mulAcc, a.size, { acc: da, a: dout, b }, {});
  if (db) elementwise(ctx, ELEMENTWISE.mulAcc, a.size, { acc: db, a: dout, b: a }, {});
}

const UNARY = {
  gelu: ELEMENTWISE.gelu,
  reluSquared: ELEMENTWISE.relu2,
  sigmoid: ELEMENTWISE.sigmoid,
  tanh: ELEMENTWISE.tanh,
};

/** `out = f(x)` for GELU, ReLU², the sigmoid and tanh. */
export function unary(ctx: GpuContext, op: keyof typeof UNARY, out: Tensor, x: Tensor): void {
  const t = gpuTensors(op, { out, x });
  elementwise(ctx, UNARY[op], out.size, t, {});
}

/** `dx += f'(x) · dout` for GELU and ReLU² (x: the op's input). */
export function unaryBackward(
  ctx: GpuContext,
  op: "geluBackward" | "reluSquaredBackward",
  dx: Tensor,
  x: Tensor,
  dout: Tensor,
): void {
  const t = gpuTensors(op, { dx, x, dout });
  const k = op === "geluBackward" ? ELEMENTWISE.geluBwd : ELEMENTWISE.relu2Bwd;
  elementwise(ctx, k, dx.size, t, {});
}

/** `dx += y·(1−y)·dout`, the sigmoid's backward from its output `y`. */
export function sigmoidBackward(ctx: GpuContext, dx: Tensor, y: Tensor, dout: Tensor): void {
  const t = gpuTensors("sigmoidBackward", { dx, y, dout });
  elementwise(ctx, ELEMENTWISE.sigmoidBwd, dx.size, t, {});
}

/** `dx += (1−y²)·dout`, tanh's backward from its output `y`. */
export function tanhBackward(ctx: GpuContext, dx: Tensor, y: Tensor, dout: Tensor): void {
  const t = gpuTensors("tanhBackward", { dx, y, dout });
  elementwise(ctx, ELEMENTWISE.tanhBwd, dx.size, t, {});
}

/** `out = silu(gate) · up` (Llama's MLP). */
export function swiglu(ctx: GpuContext, out: Tensor, gate: Tensor, up: Tensor): void {
  const t = gpuTensors("swiglu", { out, gate, up });
  elementwise(ctx, ELEMENTWISE.swiglu, t.out.size, t, {});
}

/** Backward of `swiglu`: `dgate += dout·up·silu'(gate)`, `dup += dout·silu(gate)`. */
export function swigluBackward(ctx: GpuContext, a: SwigluBackwardArgs): void {
  const { dgate, dup, dout, gate, up } = a;
  const t = gpuTensors("swigluBackward", { dgate, dup, dout, gate, up });
  elementwise(ctx, ELEMENTWISE.swigluBwd, t.dout.size, t, {});
}
