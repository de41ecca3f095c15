/**
 * Rotary position embeddings of the WebGPU backend (`wgsl/rope.wgsl`), forward and backward,
 * Hugging Face's `rotate_half` layout. One invocation per rotated pair (or copied element) in
 * a grid-stride loop; the vec4 variant (generated) runs when half a head and the row width are
 * multiples of 4, rotating four pairs at once.
 *
 * @module
 */
import type { RopeArgs, RopeBackwardArgs } from "../backend.ts";
import { type GpuContext, gpuTensors } from "./context.ts";
import { widths } from "./kernel.ts";
import { strideGroups } from "./grid.ts";
import src from "../../../wgsl/rope.wgsl" with { type: "text" };

const SHAPE = {
  rows: "u32",
  T: "u32",
  rowW: "u32",
  half: "u32",
  pairs: "u32",
  rest: "u32",
  pos: "u32",
} as const;

const FORWARD = widths({
  source: src,
  entry: "rope_forward",
  bindings: { out: "T", x: "T", cosTab: "T", sinTab: "T" },
  uniforms: SHAPE,
});
const BACKWARD = widths({
  source: src,
  entry: "rope_backward",
  bindings: { dx: "T", dout: "T", cosTab: "T", sinTab: "T" },
  uniforms: SHAPE,
});

/** The uniforms (in elements of the chosen width) and the width for one call. */
function shape(
  a: { B: number; T: number; headDim: number; rotatedHeads: number },
  size: number,
  pos: number,
) {
  const rows = a.B * a.T, rowW = size / rows, half = a.headDim / 2;
  const width: 1 | 4 = half % 4 === 0 && rowW % 4 === 0 ? 4 : 1;
  const u = {
    rows,
    T: a.T,
    rowW: rowW / width,
    half: half / width,
    pairs: (a.rotatedHeads * half) / width,
    rest: (rowW - a.rotatedHeads * a.headDim) / width,
    pos,
  };
  return { width, u };
}

/** RoPE over the first `rotatedHeads` heads of each row of `x [B, T, W]` (see `Backend.rope`). */
export function rope(ctx: GpuContext, a: RopeArgs): void {
  const t = gpuTensors("rope", { out: a.out, x: a.x, cosTab: a.cos, sinTab: a.sin });
  const { width, u } = shape(a, t.x.size, a.posOffset ?? 0);
  // In place: the copied columns are already there.
  if (t.out.buffer === t.x.buffer && t.out.offset === t.x.offset) u.rest = 0;
  ctx.dispatch(FORWARD[width], t, u, strideGroups(u.rows * (u.pairs + u.rest)));
}

/** Backward of `rope`: `dx += Rᵀ·dout` on the rotated heads, `dx += dout` on the rest. */
export function ropeBackward(ctx: GpuContext, a: RopeBackwardArgs): void {
  const t = gpuTensors("ropeBackward", { dx: a.dx, dout: a.dout, cosTab: a.cos, sinTab: a.sin });
  const { width, u } = shape(a, t.dx.size, 0);
  ctx.dispatch(BACKWARD[width], t, u, strideGroups(u.rows * (u.pairs + u.rest)));
}
