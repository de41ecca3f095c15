/**
 * Matmul with a block-quantized weight on the WebGPU backend (`wgsl/matmul_quant.wgsl`): one
 * invocation per output, the Q8_0/Q4_0 bytes read from i32 words and the float16 scales
 * unpacked in the shader.
 *
 * @module
 */
import type { MatmulQuantArgs } from "../backend.ts";
import { type GpuContext, gpuTensors } from "./context.ts";
import { kernel } from "./kernel.ts";
import src from "../../../wgsl/matmul_quant.wgsl" with { type: "text" };

const MATMUL_QUANT = kernel({
  source: src,
  entry: "matmul_quant",
  bindings: { out: "f32", a: "f32", w: "i32", bias: "f32" },
  uniforms: { M: "u32", N: "u32", K: "u32", q4: "u32", hasBias: "u32", accumulate: "u32" },
});

/** Records `out (=|+=) a · dequantize(w)ᵀ (+ bias)`. */
export function matmulQuant(ctx: GpuContext, args: MatmulQuantArgs): void {
  const { out, a, w, bias, N, K } = args;
  const t = gpuTensors("matmulQuant", { out, a, w, bias: bias ?? null }, { w: "i32" });
  const M = a.size / K;
  const u = {
    M,
    N,
    K,
    q4: args.type === "q4_0" ? 1 : 0,
    hasBias: bias ? 1 : 0,
    accumulate: args.accumulate ? 1 : 0,
  };
  ctx.dispatch(MATMUL_QUANT, t, u, [Math.ceil(N / 64), M]);
}
