/**
 * Block quantization (ggml's Q8_0 and Q4_0, bit-compatible with GGUF files) and the
 * quantized matrix–vector products that decode with them.
 *
 * @example
 * ```ts
 * import { dequantize, quantize } from "./mod.ts";
 * const x = Float32Array.from({ length: 32 }, (_, i) => Math.sin(i));
 * const y = dequantize("q8_0", quantize("q8_0", x), 32);
 * console.log(Math.abs(y[3] - x[3]) < 0.01); // true
 * ```
 *
 * @module
 */
export * from "./blocks.ts";
