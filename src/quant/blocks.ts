/**
 * ggml's block quantizations Q8_0 and Q4_0, bit for bit as llama.cpp writes them
 * (`quantize_row_q8_0_ref` / `quantize_row_q4_0_ref` in ggml-quants.c, and gguf-py's numpy
 * twins), so a GGUF file written here needs no re-quantization there and one read here
 * dequantizes to the very floats llama.cpp computes with.
 *
 * A row of `n` values (n a multiple of 32) is `n / 32` blocks, each a float16 scale `d` then
 * the quants:
 *
 * - **Q8_0** (34 bytes): `d = max|x| / 127`, `q = roundf(x / d)` as int8; value `q · d`.
 * - **Q4_0** (18 bytes): `d = m / −8` where `m` is the value of largest magnitude (sign kept),
 *   `q = min(15, trunc(x / d + 8.5))`; byte `j` holds element `j` in its low nibble and element
 *   `j + 16` in its high nibble; value `(q − 8) · d`.
 *
 * Arithmetic is float32 as in C (`Math.fround` at each step), and `roundf` rounds half away
 * from zero.
 *
 * @module
 */
import { floatToHalf, halfToFloatTable } from "../io/float16.ts";

/** The block quantizations Bentevi reads, writes and computes with. */
export type QuantType = "q8_0" | "q4_0";

/** The quantization types, as command-line options spell them. */
export const QUANT_TYPES: readonly QuantType[] = ["q8_0", "q4_0"];

/** Values per block (ggml's `QK8_0` and `QK4_0`). */
export const QK = 32;

/** Bytes per block of each type (`sizeof(block_q8_0)`, `sizeof(block_q4_0)`). */
export const BLOCK_BYTES: Readonly<Record<QuantType, number>> = { q8_0: 34, q4_0: 18 };

/** A matrix stored quantized: `rows` rows of `cols` values, each row `cols / 32` blocks. */
export interface QuantizedMatrix {
  /** The block format. */
  type: QuantType;
  /** Number of rows (outputs of a matrix–vector product). */
  rows: number;
  /** Values per row (inputs; a multiple of 32). */
  cols: number;
  /** The blocks, row after row (`rows · cols / 32 · BLOCK_BYTES[type]` bytes). */
  bytes: Uint8Array;
}

const f16 = halfToFloatTable();

/** Bytes that `count` values take in `type` (count must be a multiple of 32). */
export function quantizedByteLength(type: QuantType, count: number): number {
  return (count / QK) * BLOCK_BYTES[type];
}

/** Whether a row of `count` values can be stored in blocks. */
export function blockAligned(count: number): boolean {
  return count > 0 && count % QK === 0;
}

function checkCount(what: string, count: number): void {
  if (!Number.isInteger(count) || count % QK !== 0) {
    throw new RangeError(`${what}: ${count} values is not a multiple of the block size ${QK}`);
  }
}

function roundf(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * Quantizes `x` (length a multiple of 32) to Q8_0 blocks, as `quantize_row_q8_0_ref`.
 *
 * @example
 * ```ts
 * import { dequantizeQ8_0, quantizeQ8_0 } from "./blocks.ts";
 * const x = Float32Array.from({ length: 32 }, (_, i) => i - 16);
 * const q = quantizeQ8_0(x);
 * console.log(q.length, dequantizeQ8_0(q, 32)[31]); // 34 15
 * ```
 */
export function quantizeQ8_0(x: Float32Array, out?: Uint8Array): Uint8Array {
  checkCount("quantizeQ8_0", x.length);
  const nb = x.length / QK;
  const y = out ?? new Uint8Array(nb * 34);
  for (let b = 0; b < nb; b++) {
    const base = b * QK, o = b * 34;
    let amax = 0;
    for (let j = 0; j < QK; j++) {
      const a = Math.abs(x[base + j]);
      if (a > amax) amax = a;
    }
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    const h = floatToHalf(d);
    y[o] = h & 0xff;
    y[o + 1] = h >> 8;
    for (let j = 0; j < QK; j++) y[o + 2 + j] = roundf(Math.fround(x[base + j] * id)) & 0xff;
  }
  return y;
}

/**
 * Quantizes `x` (length a multiple of 32) to Q4_0 blocks, as `quantize_row_q4_0_ref`.
 *
 * @example
 * ```ts
 * import { dequantizeQ4_0, quantizeQ4_0 } from "./blocks.ts";
 * const x = Float32Array.from({ length: 32 }, (_, i) => i - 16);
 * console.log(quantizeQ4_0(x).length, dequantizeQ4_0(quantizeQ4_0(x), 32)[0]); // 18 -16
 * ```
 */
export function quantizeQ4_0(x: Float32Array, out?: Uint8Array): Uint8Array {
  checkCount("quantizeQ4_0", x.length);
  const nb = x.length / QK;
  const y = out ?? new Uint8Array(nb * 18);
  for (let b = 0; b < nb; b++) {
    const base = b * QK, o = b * 18;
    let amax = 0, max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[base + j];
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = Math.fround(max / -8);
    const id = d ? Math.fround(1 / d) : 0;
    const h = floatToHalf(d);
    y[o] = h & 0xff;
    y[o + 1] = h >> 8;
    for (let j = 0; j < 16; j++) {
      const x0 = Math.fround(x[base + j] * id);
      const x1 = Math.fround(x[base + 16 + j] * id);
      // C's (int8_t) cast truncates; the values are ≥ 0.5 here, and NaN casts to 0.
      const q0 = Math.min(15, Math.trunc(Math.fround(x0 + 8.5)) || 0);
      const q1 = Math.min(15, Math.trunc(Math.fround(x1 + 8.5)) || 0);
      y[o + 2 + j] = q0 | (q1 << 4);
    }
  }
  return y;
}

/**
 * The values of `count` Q8_0-quantized values (as `dequantize_row_q8_0`).
 *
 * @example
 * ```ts
 * import { dequantizeQ8_0, quantizeQ8_0 } from "./blocks.ts";
 * console.log(dequantizeQ8_0(quantizeQ8_0(new Float32Array(32).fill(0.5)), 32)[0]); // 0.5
 * ```
 */
export function dequantizeQ8_0(bytes: Uint8Array, count: number, out?: Float32Array): Float32Array {
  checkCount("dequantizeQ8_0", count);
  const y = out ?? new Float32Array(count);
  const nb = count / QK;
  for (let b = 0; b < nb; b++) {
    const o = b * 34, base = b * QK;
    const d = f16[bytes[o] | (bytes[o + 1] << 8)];
    for (let j = 0; j < QK; j++) y[base + j] = ((bytes[o + 2 + j] << 24) >> 24) * d;
  }
  return y;
}

/**
 * The values of `count` Q4_0-quantized values (as `dequantize_row_q4_0`).
 *
 * @example
 * ```ts
 * import { dequantizeQ4_0, quantizeQ4_0 } from "./blocks.ts";
 * console.log(dequantizeQ4_0(quantizeQ4_0(new Float32Array(32).fill(-8)), 32)[5]); // -8
 * ```
 */
export function dequantizeQ4_0(bytes: Uint8Array, count: number, out?: Float32Array): Float32Array {
  checkCount("dequantizeQ4_0", count);
  const y = out ?? new Float32Array(count);
  const nb = count / QK;
  for (let b = 0; b < nb; b++) {
    const o = b * 18, base = b * QK;
    const d = f16[bytes[o] | (bytes[o + 1] << 8)];
    for (let j = 0; j < 16; j++) {
      const q = bytes[o + 2 + j];
      y[base + j] = ((q & 15) - 8) * d;
      y[base + 16 + j] = ((q >> 4) - 8) * d;
    }
  }
  return y;
}

/**
 * Quantizes `x` to `type`.
 *
 * @example
 * ```ts
 * import { quantize } from "./blocks.ts";
 * console.log(quantize("q4_0", new Float32Array(64)).length); // 36
 * ```
 */
export function quantize(type: QuantType, x: Float32Array): Uint8Array {
  return type === "q8_0" ? quantizeQ8_0(x) : quantizeQ4_0(x);
}

/**
 * Dequantizes `count` values of `type`.
 *
 * @example
 * ```ts
 * import { dequantize, quantize } from "./blocks.ts";
 * console.log(dequantize("q8_0", quantize("q8_0", new Float32Array(32).fill(1)), 32)[0]); // 1
 * ```
 */
export function dequantize(
  type: QuantType,
  bytes: Uint8Array,
  count: number,
  out?: Float32Array,
): Float32Array {
  return type === "q8_0" ? dequantizeQ8_0(bytes, count, out) : dequantizeQ4_0(bytes, count, out);
}

/**
 * A `[rows, cols]` float matrix quantized row by row.
 *
 * @example
 * ```ts
 * import { quantizeMatrix } from "./blocks.ts";
 * const m = quantizeMatrix("q8_0", new Float32Array(2 * 64), 2, 64);
 * console.log(m.bytes.length); // 136
 * ```
 */
export function quantizeMatrix(
  type: QuantType,
  data: Float32Array,
  rows: number,
  cols: number,
): QuantizedMatrix {
  if (data.length !== rows * cols) {
    throw new RangeError(`quantizeMatrix: ${data.length} values is not ${rows} × ${cols}`);
  }
  checkCount("quantizeMatrix", cols);
  return { type, rows, cols, bytes: quantize(type, data) };
}

/**
 * Block bytes as the little-endian i32 words a backend tensor holds (zero-padded to a whole
 * word): the `w` of `Backend.matmulQuant`.
 *
 * @example
 * ```ts
 * import { blockWords, quantize } from "./blocks.ts";
 * console.log(blockWords(quantize("q8_0", new Float32Array(32))).length); // 9
 * ```
 */
export function blockWords(bytes: Uint8Array): Int32Array {
  const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4);
  padded.set(bytes);
  return new Int32Array(padded.buffer);
}
