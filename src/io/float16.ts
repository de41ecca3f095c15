/**
 * IEEE 754 half-precision (float16) decoding, for weight files stored in F16.
 *
 * @module
 */

/**
 * The value of the float16 with bits `h` (subnormals, infinities and NaN included).
 *
 * @example
 * ```ts
 * import { halfToFloat } from "./float16.ts";
 * console.log(halfToFloat(0x3c00), halfToFloat(0xc000)); // 1 -2
 * ```
 */
export function halfToFloat(h: number): number {
  const s = (h & 0x8000) ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}
