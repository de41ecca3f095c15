/**
 * Byte-pattern helpers for splitting dumps without decoding them.
 *
 * @module
 */

/** First index of `needle` in `hay` at or after `from`, or -1. */
export function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0];
  const last = hay.length - needle.length;
  let i = hay.indexOf(first, from);
  while (i >= 0 && i <= last) {
    let k = 1;
    while (k < needle.length && hay[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
    i = hay.indexOf(first, i + 1);
  }
  return -1;
}

/** Last index of `needle` in `hay`, or -1. */
export function lastIndexOfBytes(hay: Uint8Array, needle: Uint8Array): number {
  const first = needle[0];
  let i = hay.lastIndexOf(first, hay.length - needle.length);
  while (i >= 0) {
    let k = 1;
    while (k < needle.length && hay[i + k] === needle[k]) k++;
    if (k === needle.length) return i;
    if (i === 0) return -1;
    i = hay.lastIndexOf(first, i - 1);
  }
  return -1;
}

/** The ASCII bytes of `text`. */
export function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** The bzip2 block magic (π digits) that follows a stream header `BZh1`…`BZh9`. */
export const BZ2_BLOCK_MAGIC: Uint8Array = new Uint8Array([0x31, 0x41, 0x59, 0x26, 0x53, 0x59]);

/**
 * Offsets in `chunk` (which starts at file offset `base`) where a bzip2 stream begins: a
 * `BZh[1-9]` header directly followed by the block magic. Inside a stream the block magic is
 * not byte-aligned to a header, so these are the stream starts of a multistream file.
 *
 * @example
 * ```ts
 * import { findBz2StreamStarts } from "./bytes.ts";
 * const bytes = new Uint8Array([0, 0x42, 0x5a, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59]);
 * console.log(findBz2StreamStarts(bytes, 100)); // [101]
 * ```
 */
export function findBz2StreamStarts(chunk: Uint8Array, base: number): number[] {
  const starts: number[] = [];
  let i = indexOfBytes(chunk, BZ2_BLOCK_MAGIC, 4);
  while (i >= 0) {
    const h = i - 4;
    if (
      chunk[h] === 0x42 && chunk[h + 1] === 0x5a && chunk[h + 2] === 0x68 &&
      chunk[h + 3] >= 0x31 && chunk[h + 3] <= 0x39
    ) starts.push(base + h);
    i = indexOfBytes(chunk, BZ2_BLOCK_MAGIC, i + 1);
  }
  return starts;
}
