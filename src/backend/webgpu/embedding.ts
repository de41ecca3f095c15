/**
 * Token (+ position) embedding of the WebGPU backend (`wgsl/embedding.wgsl`) and its
 * deterministic backward: one invocation per channel walks the tokens in order for `dwte`,
 * one per (position, channel) sums the batch in order for `dwpe`.
 *
 * @module
 */
import type { EmbeddingArgs, EmbeddingBackwardArgs } from "../backend.ts";
import { asMatrix } from "../checks.ts";
import { type GpuContext, gpuTensors } from "./context.ts";
import { kernel } from "./kernel.ts";
import { lineGroups, strideGroups } from "./grid.ts";
import src from "../../../wgsl/embedding.wgsl" with { type: "text" };

const EMBED = kernel({
  source: src,
  entry: "embed",
  bindings: { out: "f32", ids: "i32", wte: "f32", wpe: "f32" },
  uniforms: { N: "u32", C: "u32", T: "u32", posOffset: "u32", V: "u32", hasWpe: "u32" },
});
const BACKWARD = { N: "u32", C: "u32", T: "u32", V: "u32" } as const;
const BACKWARD_WTE = kernel({
  source: src,
  entry: "embed_bwd_wte",
  bindings: { dwte: "f32", ids: "i32", dout: "f32" },
  uniforms: BACKWARD,
});
const BACKWARD_WPE = kernel({
  source: src,
  entry: "embed_bwd_wpe",
  bindings: { dwpe: "f32", dout: "f32" },
  uniforms: BACKWARD,
});

/** `out[b·T+t] = wte[ids[b·T+t]] + wpe[posOffset+t]` (see `Backend.embedding`). */
export function embedding(ctx: GpuContext, a: EmbeddingArgs): void {
  const { out, ids, wte, wpe, T } = a;
  const t = gpuTensors("embedding", { out, ids, wte, wpe }, { ids: "i32" });
  const [V, C] = asMatrix(wte);
  const u = { N: ids.size, C, T, posOffset: a.posOffset ?? 0, V, hasWpe: wpe ? 1 : 0 };
  ctx.dispatch(EMBED, t, u, strideGroups(ids.size * C));
}

/** Backward of `embedding` into `dwte` (and `dwpe`), accumulating, deterministically. */
export function embeddingBackward(ctx: GpuContext, a: EmbeddingBackwardArgs): void {
  const { dwte, dwpe, dout, ids, T } = a;
  const t = gpuTensors("embeddingBackward", { ids, dout, dwte, dwpe }, { ids: "i32" });
  const [V, C] = asMatrix(dwte);
  const u = { N: ids.size, C, T, V };
  ctx.dispatch(BACKWARD_WTE, t, u, lineGroups(C));
  if (t.dwpe) ctx.dispatch(BACKWARD_WPE, { dwpe: t.dwpe, dout: t.dout }, u, strideGroups(T * C));
}
