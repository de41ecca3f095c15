/**
 * LayerNorm and RMSNorm of the WebGPU backend (`wgsl/layernorm.wgsl`): forward one invocation
 * per row, backward in two passes (dx per row, dw (and db) per column). The kernels are written once over
 * the element type `T`; the vec4 variant (generated) runs when C is a multiple of 4, the
 * scalar one otherwise.
 *
 * @module
 */
import type {
  LayerNormArgs,
  LayerNormBackwardArgs,
  RmsNormArgs,
  RmsNormBackwardArgs,
} from "../backend.ts";
import { asMatrix } from "../checks.ts";
import { type GpuContext, gpuTensors } from "./context.ts";
import { widths } from "./kernel.ts";
import { lineGroups, threadGroups } from "./grid.ts";
import src from "../../../wgsl/layernorm.wgsl" with { type: "text" };

const DIMS = { N: "u32", C: "u32" } as const;

const FORWARD = widths({
  source: src,
  entry: "ln_forward",
  bindings: { out: "T", mean: "f32", rstd: "f32", x: "T", w: "T", b: "T" },
  uniforms: { ...DIMS, eps: "f32" },
});
const BACKWARD_DX = widths({
  source: src,
  entry: "ln_backward_dx",
  bindings: { dx: "T", dout: "T", x: "T", w: "T", mean: "f32", rstd: "f32" },
  uniforms: DIMS,
});
const BACKWARD_DWDB = widths({
  source: src,
  entry: "ln_backward_dwdb",
  bindings: { dw: "T", db: "T", dout: "T", x: "T", mean: "f32", rstd: "f32" },
  uniforms: DIMS,
});

/** LayerNorm over the last dim of `x [N, C]`; saves `mean [N]` and `rstd [N]`. */
export function layerNorm(ctx: GpuContext, a: LayerNormArgs): void {
  const { out, mean, rstd, x, w, b } = a;
  const t = gpuTensors("layerNorm", { out, mean, rstd, x, w, b });
  const [N, C] = asMatrix(x);
  const k = FORWARD[C % 4 === 0 ? 4 : 1];
  ctx.dispatch(k, t, { N, C, eps: a.eps ?? 1e-5 }, threadGroups(N));
}

/** Backward of `layerNorm`: accumulates into `dx`, `dw`, `db`. */
export function layerNormBackward(ctx: GpuContext, a: LayerNormBackwardArgs): void {
  const { dx, dw, db, dout, x, w, mean, rstd } = a;
  const t = gpuTensors("layerNormBackward", { x, dout, mean, rstd, w, dx, dw, db });
  const [N, C] = asMatrix(x);
  const width = C % 4 === 0 ? 4 : 1;
  ctx.dispatch(BACKWARD_DX[width], t, { N, C }, threadGroups(N));
  ctx.dispatch(BACKWARD_DWDB[width], t, { N, C }, lineGroups(C / width));
}

const RMS_FORWARD = widths({
  source: src,
  entry: "rms_forward",
  bindings: { out: "T", rstd: "f32", x: "T", w: "T" },
  uniforms: { ...DIMS, eps: "f32" },
});
const RMS_BACKWARD_DX = widths({
  source: src,
  entry: "rms_backward_dx",
  bindings: { dx: "T", dout: "T", x: "T", w: "T", rstd: "f32" },
  uniforms: DIMS,
});
const RMS_BACKWARD_DW = widths({
  source: src,
  entry: "rms_backward_dw",
  bindings: { dw: "T", dout: "T", x: "T", rstd: "f32" },
  uniforms: DIMS,
});

/** RMSNorm over the last dim of `x [N, C]`; saves `rstd [N]`. */
export function rmsNorm(ctx: GpuContext, a: RmsNormArgs): void {
  const { out, rstd, x, w } = a;
  const t = gpuTensors("rmsNorm", { out, rstd, x, w });
  const [N, C] = asMatrix(x);
  ctx.dispatch(RMS_FORWARD[C % 4 === 0 ? 4 : 1], t, { N, C, eps: a.eps }, threadGroups(N));
}

/** Backward of `rmsNorm`: accumulates into `dx` and `dw` (dw summed over rows in order). */
export function rmsNormBackward(ctx: GpuContext, a: RmsNormBackwardArgs): void {
  const { dx, dw, dout, x, w, rstd } = a;
  const t = gpuTensors("rmsNormBackward", { dx, dw, dout, x, w, rstd });
  const [N, C] = asMatrix(x);
  const width = C % 4 === 0 ? 4 : 1;
  ctx.dispatch(RMS_BACKWARD_DX[width], t, { N, C }, threadGroups(N));
  ctx.dispatch(RMS_BACKWARD_DW[width], t, { N, C }, lineGroups(C / width));
}
