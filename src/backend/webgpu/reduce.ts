/**
 * Reductions of the WebGPU backend (`wgsl/reduce.wgsl`): sum and sum of squares (one
 * workgroup, or two fixed-order stages for large inputs), column sums, row argmax and top-k.
 * All deterministic.
 *
 * @module
 */
import type { Tensor } from "../backend.ts";
import { asMatrix } from "../checks.ts";
import { type GpuContext, GpuTensor, gpuTensors } from "./context.ts";
import { kernel } from "./kernel.ts";
import { lineGroups, rowGroups } from "./grid.ts";
import src from "../../../wgsl/reduce.wgsl" with { type: "text" };

const SUM_PARTIAL = kernel({
  source: src,
  entry: "sum_partial",
  bindings: { partials: "f32", x: "f32" },
  uniforms: { n: "u32", square: "u32", chunk: "u32" },
});
const SUM_ALL = kernel({
  source: src,
  entry: "sum_all",
  bindings: { out: "f32", x: "f32" },
  uniforms: { n: "u32", accumulate: "u32", square: "u32" },
});
const SUM_ROWS = kernel({
  source: src,
  entry: "sum_rows",
  bindings: { out: "f32", x: "f32" },
  uniforms: { M: "u32", N: "u32", accumulate: "u32" },
});
const ARGMAX_ROWS = kernel({
  source: src,
  entry: "argmax_rows",
  bindings: { x: "f32", out: "i32" },
  uniforms: { rows: "u32", V: "u32" },
});
const TOP_K = kernel({
  source: src,
  entry: "top_k",
  bindings: { values: "f32", x: "f32", indices: "i32" },
  uniforms: { n: "u32", k: "u32" },
});

/** Elements per workgroup in the first stage of a large sum. */
const SUM_CHUNK = 16384;

/** `out[0] (=|+=) Σ x[i]` (or `Σ x[i]²` when `square`). */
export function sumAll(
  ctx: GpuContext,
  op: "sum" | "sumSquares",
  out: Tensor,
  x: Tensor,
  accumulate: boolean,
  square: boolean,
): void {
  const t = gpuTensors(op, { out, x });
  const n = x.size;
  const acc = accumulate ? 1 : 0, sq = square ? 1 : 0;
  if (n <= SUM_CHUNK) {
    ctx.dispatch(SUM_ALL, t, { n, accumulate: acc, square: sq }, [1]);
    return;
  }
  // Two stages, both in a fixed order: chunk sums in parallel, then their sum.
  const parts = Math.ceil(n / SUM_CHUNK);
  const partials = new GpuTensor([parts], "f32", ctx.tempBuf(parts * 4), 0, true);
  ctx.dispatch(SUM_PARTIAL, { partials, x: t.x }, { n, square: sq, chunk: SUM_CHUNK }, [parts]);
  ctx.dispatch(SUM_ALL, { out: t.out, x: partials }, { n: parts, accumulate: acc, square: 0 }, [
    1,
  ]);
}

/** `out[n] (=|+=) Σ_m x[m, n]` over `x [M, N]`. */
export function sumRows(ctx: GpuContext, out: Tensor, x: Tensor, accumulate: boolean): void {
  const t = gpuTensors("sumRows", { out, x });
  const [M, N] = asMatrix(x);
  ctx.dispatch(SUM_ROWS, t, { M, N, accumulate: accumulate ? 1 : 0 }, lineGroups(N));
}

/** i32 `out[n] = argmax_v x[n, v]` over `x [N, V]`. */
export function argmaxRows(ctx: GpuContext, out: Tensor, x: Tensor): void {
  const t = gpuTensors("argmaxRows", { x, out }, { out: "i32" });
  const [rows, V] = asMatrix(x);
  if (rows === 0) return;
  ctx.dispatch(ARGMAX_ROWS, t, { rows, V }, rowGroups(rows));
}

/** The `k` largest values of `x` and their indices, descending. */
export function topK(ctx: GpuContext, values: Tensor, indices: Tensor, x: Tensor, k: number): void {
  const t = gpuTensors("topK", { values, x, indices }, { indices: "i32" });
  ctx.dispatch(TOP_K, t, { n: x.size, k }, [1]);
}
