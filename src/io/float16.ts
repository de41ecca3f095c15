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

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * The float16 bits nearest to `x` (round to nearest, ties to even; overflow → ±∞, NaN kept),
 * as ggml's `GGML_FP32_TO_FP16` and numpy's `astype(float16)` round.
 *
 * @example
 * ```ts
 * import { floatToHalf } from "./float16.ts";
 * console.log(floatToHalf(1).toString(16), floatToHalf(-2).toString(16)); // 3c00 c000
 * ```
 */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal
    const m = mant | 0x800000; // implicit bit
    const shift = 14 - e; // 14..24
    const half = 1 << (shift - 1);
    let h = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    if (rest > half || (rest === half && (h & 1))) h++;
    return sign | h; // a carry into the exponent field is the right answer
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h++; // may carry to ∞: correct
  return sign | h;
}

/**
 * The bfloat16 bits nearest to `x` (round to nearest, ties to even; NaN stays a quiet NaN), as
 * ggml's `GGML_FP32_TO_BF16` rounds.
 *
 * @example
 * ```ts
 * import { floatToBfloat16 } from "./float16.ts";
 * console.log(floatToBfloat16(1).toString(16)); // 3f80
 * ```
 */
export function floatToBfloat16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 64) & 0xffff;
  return ((b + (0x7fff + ((b >>> 16) & 1))) >>> 16) & 0xffff;
}

/**
 * The value of the bfloat16 with bits `h`.
 *
 * @example
 * ```ts
 * import { bfloat16ToFloat } from "./float16.ts";
 * console.log(bfloat16ToFloat(0x3f80)); // 1
 * ```
 */
export function bfloat16ToFloat(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0];
}

let halfTable: Float32Array | undefined;

/**
 * The float32 value of every float16 bit pattern (65,536 entries, built once): converting
 * through it is a lookup.
 *
 * @example
 * ```ts
 * import { halfToFloatTable } from "./float16.ts";
 * console.log(halfToFloatTable()[0x3c00]); // 1
 * ```
 */
export function halfToFloatTable(): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfTable[h] = halfToFloat(h);
  }
  return halfTable;
}
