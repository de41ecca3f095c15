/**
 * Token and position embeddings of the CPU backend, forward and backward.
 *
 * @module
 */
import type { FloatArray } from "./tensor.ts";

/** Throws a RangeError naming the op and position when `ids[i]` is outside `[0, V)`. */
function checkId(op: string, ids: Int32Array, i: number, V: number): number {
  const id = ids[i];
  if (id < 0 || id >= V) {
    throw new RangeError(
      `${op}: token id ${id} at position ${i} is outside the vocabulary [0, ${V})`,
    );
  }
  return id;
}

/** `out[n] = wte[ids[n]] + wpe[posOffset + n mod T]` for rows of width C. */
export function embedding(
  out: FloatArray,
  ids: Int32Array,
  wte: FloatArray,
  wpe: FloatArray | null,
  T: number,
  posOffset: number,
  C: number,
): void {
  const V = wte.length / C;
  for (let n = 0; n < ids.length; n++) {
    const tok = checkId("embedding", ids, n, V) * C;
    const o = n * C;
    if (wpe) {
      const pos = (posOffset + (n % T)) * C;
      for (let c = 0; c < C; c++) out[o + c] = wte[tok + c] + wpe[pos + c];
    } else {
      for (let c = 0; c < C; c++) out[o + c] = wte[tok + c];
    }
  }
}

/** `dwte[ids[n]] += dout[n]`, `dwpe[n mod T] += dout[n]`, in a fixed order (deterministic). */
export function embeddingBackward(
  dwte: FloatArray,
  dwpe: FloatArray | null,
  dout: FloatArray,
  ids: Int32Array,
  T: number,
  C: number,
): void {
  const V = dwte.length / C;
  for (let n = 0; n < ids.length; n++) {
    const tok = checkId("embeddingBackward", ids, n, V) * C;
    const o = n * C;
    for (let c = 0; c < C; c++) dwte[tok + c] += dout[o + c];
    if (dwpe) {
      const pos = (n % T) * C;
      for (let c = 0; c < C; c++) dwpe[pos + c] += dout[o + c];
    }
  }
}
