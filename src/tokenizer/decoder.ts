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
  /** `tokenBytes[id]`: the bytes of token `id` (undefined for ids not in the vocabulary). */
  readonly tokenBytes: (Uint8Array | undefined)[];

  /** @param idToToken token string of each id (byte-level form; added tokens as written). */
  constructor(idToToken: readonly (string | undefined)[]) {
    this.tokenBytes = idToToken.map((t) =>
      t === undefined ? undefined : (byteLevelToBytes(t) ?? utf8.encode(t))
    );
  }

  /** Concatenated bytes of `ids`, skipping ids for which `skip(id)` is true. */
  bytes(ids: ArrayLike<number>, skip?: (id: number) => boolean): Uint8Array {
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (skip?.(id)) continue;
      total += this.tokenBytes[id]!.length;
    }
    const out = new Uint8Array(total);
    let off = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (skip?.(id)) continue;
      const b = this.tokenBytes[id]!;
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
