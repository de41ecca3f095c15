/**
 * Rotary position embeddings of the WebGPU backend (`wgsl/rope.wgsl`), forward and backward,
 * Hugging Face's `rotate_half` layout. One invocation per rotated pair (or copied element), on
 * a grid of (row items, t, b); the vec4 variant (generated) runs when half a head and the row
 * width are multiples of 4, rotating four pairs at once. Each (kernel, width, half a head)
 * is generated once, half a head being a constant (no runtime division on llvmpipe).
 *
 * @module
 */
import type { RopeArgs, RopeBackwardArgs } from "../backend.ts";
import { type GpuContext, gpuTensors } from "./context.ts";
import { BenteviError } from "../../errors.ts";
import { type BindingDecls, type Kernel, variant, widths } from "./kernel.ts";
import { MAX_GROUPS } from "./grid.ts";
import src from "../../../wgsl/rope.wgsl" with { type: "text" };

const SHAPE = {
  T: "u32",
  rowW: "u32",
  pairs: "u32",
  rest: "u32",
  pos: "u32",
} as const;

const FORWARD = widths({
  source: src,
  entry: "rope_forward",
  bindings: { out: "T", x: "T", cosTab: "T", sinTab: "T" },
  uniforms: SHAPE,
  consts: { HALF: 1 },
});
const BACKWARD = widths({
  source: src,
  entry: "rope_backward",
  bindings: { dx: "T", dout: "T", cosTab: "T", sinTab: "T" },
  uniforms: SHAPE,
  consts: { HALF: 1 },
});

const variants = new Map<Kernel, Map<number, Kernel>>();

/** `k` with HALF = `half` (in elements of its width), generated once. */
function forHalf<B extends BindingDecls>(
  k: Kernel<B, typeof SHAPE>,
  half: number,
): Kernel<B, typeof SHAPE> {
  let byHalf = variants.get(k);
  if (!byHalf) variants.set(k, byHalf = new Map());
  let v = byHalf.get(half);
  if (!v) byHalf.set(half, v = variant(k, { consts: { HALF: half } }));
  return v as Kernel<B, typeof SHAPE>;
}

/** The uniforms (in elements of the chosen width) and the width for one call. */
function shape(
  a: { B: number; T: number; headDim: number; rotatedHeads: number },
  size: number,
  pos: number,
) {
  const rowW = size / (a.B * a.T), half = a.headDim / 2;
  const width: 1 | 4 = half % 4 === 0 && rowW % 4 === 0 ? 4 : 1;
  const u = {
    T: a.T,
    rowW: rowW / width,
    pairs: (a.rotatedHeads * half) / width,
    rest: (rowW - a.rotatedHeads * a.headDim) / width,
    pos,
  };
  return { width, u, half: half / width };
}

/** Workgroups of 8 × 8: x over a row's items, y over t, z over b. */
function groups(op: string, items: number, T: number, B: number): [number, number, number] {
  const x = Math.max(1, Math.ceil(items / 8)), y = Math.ceil(T / 8);
  if (x > MAX_GROUPS || y > MAX_GROUPS || B > MAX_GROUPS) {
    throw new BenteviError(`${op}: B ${B}, T ${T} or the row width exceed the dispatch limit`);
  }
  return [x, y, B];
}

/** RoPE over the first `rotatedHeads` heads of each row of `x [B, T, W]` (see `Backend.rope`). */
export function rope(ctx: GpuContext, a: RopeArgs): void {
  const t = gpuTensors("rope", { out: a.out, x: a.x, cosTab: a.cos, sinTab: a.sin });
  const { width, u, half } = shape(a, t.x.size, a.posOffset ?? 0);
  // In place: the copied columns are already there.
  if (t.out.buffer === t.x.buffer && t.out.offset === t.x.offset) u.rest = 0;
  const k = forHalf(FORWARD[width], half);
  ctx.dispatch(k, t, u, groups("rope", u.pairs + u.rest, a.T, a.B));
}

/** Backward of `rope`: `dx += Rᵀ·dout` on the rotated heads, `dx += dout` on the rest. */
export function ropeBackward(ctx: GpuContext, a: RopeBackwardArgs): void {
  const t = gpuTensors("ropeBackward", { dx: a.dx, dout: a.dout, cosTab: a.cos, sinTab: a.sin });
  const { width, u, half } = shape(a, t.dx.size, 0);
  const k = forHalf(BACKWARD[width], half);
  ctx.dispatch(k, t, u, groups("ropeBackward", u.pairs + u.rest, a.T, a.B));
}
