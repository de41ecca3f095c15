/**
 * The fused AdamW update of the WebGPU backend (`wgsl/adamw.wgsl`), with the gradient
 * clipping scale read on the device. The kernel is written once over the element type `T`:
 * its generated vec4 variant updates the first 4·⌊n/4⌋ elements, the scalar one the tail.
 *
 * @module
 */
import type { AdamWArgs } from "../backend.ts";
import { type GpuContext, gpuTensor, gpuTensors } from "./context.ts";
import { widths } from "./kernel.ts";
import { strideGroups } from "./grid.ts";
import src from "../../../wgsl/adamw.wgsl" with { type: "text" };

const ADAMW = widths({
  source: src,
  entry: "adamw",
  bindings: { params: "T", grads: "T", m: "T", v: "T", decayMask: "T", normSquared: "f32" },
  uniforms: {
    begin: "u32",
    end: "u32",
    hasMask: "u32",
    clip: "u32",
    maxNorm: "f32",
    lr: "f32",
    beta1: "f32",
    beta2: "f32",
    eps: "f32",
    weightDecay: "f32",
    bc1: "f32",
    bc2: "f32",
    gradScale: "f32",
  },
});

/** One AdamW step over flat `params` (see `Backend.adamw`). */
export function adamw(ctx: GpuContext, a: AdamWArgs): void {
  const { hp, clip } = a;
  const t = gpuTensors("adamw", {
    params: a.params,
    grads: a.grads,
    m: a.m,
    v: a.v,
    decayMask: a.decayMask,
  });
  const normSquared = clip ? gpuTensor("adamw", "clip.normSquared", clip.normSquared) : null;
  const n = a.params.size;
  if (n === 0) return;
  const bind = { ...t, normSquared };
  const u = {
    hasMask: a.decayMask ? 1 : 0,
    clip: clip ? 1 : 0,
    maxNorm: clip?.maxNorm ?? 0,
    lr: hp.lr,
    beta1: hp.beta1,
    beta2: hp.beta2,
    eps: hp.eps,
    weightDecay: hp.weightDecay,
    bc1: 1 - Math.pow(hp.beta1, hp.step),
    bc2: 1 - Math.pow(hp.beta2, hp.step),
    gradScale: hp.gradScale,
  };
  const n4 = n - (n % 4);
  if (n4 > 0) ctx.dispatch(ADAMW[4], bind, { ...u, begin: 0, end: n4 / 4 }, strideGroups(n4 / 4));
  if (n4 < n) ctx.dispatch(ADAMW[1], bind, { ...u, begin: n4, end: n }, strideGroups(n - n4));
}
