/**
 * Fused softmax + cross-entropy of the WebGPU backend (`wgsl/softmax_xent.wgsl`). Two
 * layouts: one workgroup per row (GPUs) and one invocation per row without barriers (CPU
 * adapters, where a workgroup is one thread); the kernels are written once over the element
 * type `T` and their vec4 variants (V a multiple of 4) are generated. Rows of any V use the
 * scalar workgroup kernel.
 *
 * @module
 */
import type { SoftmaxCrossEntropyArgs } from "../backend.ts";
import { type GpuContext, gpuTensors } from "./context.ts";
import { kernel, widths } from "./kernel.ts";
import { rowGroups, threadGroups } from "./grid.ts";
import src from "../../../wgsl/softmax_xent.wgsl" with { type: "text" };

const DECL = {
  source: src,
  bindings: { losses: "f32", dlogits: "T", logits: "T", targets: "i32" },
  uniforms: { N: "u32", V: "u32", withGrad: "u32", gradScale: "f32" },
} as const;

const PER_WORKGROUP = widths({ ...DECL, entry: "softmax_xent" });
const PER_INVOCATION4 = kernel({ ...DECL, entry: "softmax_xent_rows", width: 4 });

/** Softmax cross-entropy over `logits [N, V]`; `rows` picks the one-invocation-per-row layout. */
export function softmaxCrossEntropy(
  ctx: GpuContext,
  a: SoftmaxCrossEntropyArgs,
  rows: boolean,
): void {
  const { losses, dlogits, logits, targets } = a;
  const t = gpuTensors("softmaxCrossEntropy", { losses, dlogits, logits, targets }, {
    targets: "i32",
  });
  const N = losses.size;
  if (N === 0) return;
  const V = logits.size / N;
  const u = { N, V, withGrad: dlogits ? 1 : 0, gradScale: a.gradScale ?? 1 };
  if (V % 4 !== 0) ctx.dispatch(PER_WORKGROUP[1], t, u, rowGroups(N));
  else if (rows) ctx.dispatch(PER_INVOCATION4, t, u, threadGroups(N));
  else ctx.dispatch(PER_WORKGROUP[4], t, u, rowGroups(N));
}
