/**
 * The byte-level decoder: token ids → the bytes their tokens stand for → UTF-8 text.
 * Invalid or incomplete UTF-8 never throws: `decode` gives U+FFFD (as Hugging Face's lossy
 * decoding does), and the stream decoder holds an incomplete character until its last byte.
 *
 * @module
 */
import { byteLevelToBytes } from "./byte_level.ts";

const utf8 = new TextEncoder();

/** Bytes of each token id, for decoding. */
export class ByteLevelDecoder {
  private table: (Uint8Array | undefined)[] | undefined;

  /** @param idToToken token string of each id (byte-level form; added tokens as written). */
  constructor(private readonly idToToken: readonly (string | undefined)[]) {}

  /**
   * `tokenBytes[id]`: the bytes of token `id` (undefined for ids not in the vocabulary); built
   * on first use, so that loading a large vocabulary does not pay for it.
   */
  get tokenBytes(): (Uint8Array | undefined)[] {
    for (let id = 0; id < this.idToToken.length; id++) this.bytesOf(id);
    return this.table!;
  }

  /** The bytes of token `id` (computed on first use). */
  bytesOf(id: number): Uint8Array | undefined {
    this.table ??= new Array(this.idToToken.length);
    let b = this.table[id];
    if (b === undefined) {
      const t = this.idToToken[id];
      if (t === undefined) return undefined;
      b = this.table[id] = byteLevelToBytes(t) ?? utf8.encode(t);
    }
    return b;
  }

  /** Concatenated bytes of `ids`, skipping ids for which `skip(id)` is true. */
  bytes(ids: ArrayLike<number>, skip?: (id: number) => boolean): Uint8Array {
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (skip?.(id)) continue;
      total += this.bytesOf(id)!.length;
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (skip?.(id)) continue;
      const b = this.bytesOf(id)!;
      out.set(b, off);
      off += b.length;
    }
    return out;
  }

  /** Hugging Face `tokenizer.json` form. */
  toJSON(): unknown {
    return { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true };
  }
}
