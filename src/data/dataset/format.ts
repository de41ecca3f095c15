/**
 * The token file format, llm.c's: a header of 256 little-endian int32 — magic 20240520,
 * version (1: uint16 tokens, 2: uint32 tokens, used when the vocabulary exceeds 65,536),
 * token count — then the tokens. Bentevi also stores the vocabulary size in header[3]
 * (0 = unknown: llm.c writes 0 there); it must be 0…65,536 for version 1 and at most
 * {@link MAX_VOCAB_SIZE} for version 2, and every token id must be below it.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";

/** llm.c's magic number (header[0]). */
export const TOKEN_FILE_MAGIC = 20240520;
/** Header size in int32 values. */
export const HEADER_INTS = 256;
/** Header size in bytes. */
export const HEADER_BYTES = HEADER_INTS * 4;
/** Largest vocabulary stored as uint16 (version 1). */
export const MAX_U16_VOCAB = 65536;

/**
 * Largest vocabulary size a header may record (2^24): far above any real tokenizer (the
 * largest have about 256k tokens), far below what would make a table sized by it a hazard.
 */
export const MAX_VOCAB_SIZE = 1 << 24;

/** The decoded header of a token file. */
export interface TokenFileHeader {
  /** 1 (uint16 tokens) or 2 (uint32 tokens). */
  version: 1 | 2;
  /** Number of tokens after the header. */
  count: number;
  /** Vocabulary size recorded by the writer (0 = unknown). */
  vocabSize: number;
}

/** Bytes per token for a version. */
export function bytesPerToken(version: 1 | 2): 2 | 4 {
  return version === 1 ? 2 : 4;
}

/** The version to use for a vocabulary size. */
export function versionForVocab(vocabSize: number): 1 | 2 {
  return vocabSize > MAX_U16_VOCAB ? 2 : 1;
}

/**
 * Encodes a header.
 *
 * @example
 * ```ts
 * import { encodeHeader, parseHeader } from "./format.ts";
 * const bytes = encodeHeader({ version: 1, count: 3, vocabSize: 256 });
 * console.log(parseHeader(bytes, "x.bin", 1024 + 6).count); // 3
 * ```
 */
export function encodeHeader(header: TokenFileHeader): Uint8Array {
  const bytes = new Uint8Array(HEADER_BYTES);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, TOKEN_FILE_MAGIC, true);
  view.setInt32(4, header.version, true);
  if (header.count > 0x7fffffff) {
    throw new BenteviError(
      `too many tokens for one llm.c file (${header.count} > 2^31-1); split the corpus`,
    );
  }
  view.setInt32(8, header.count, true);
  view.setInt32(12, header.vocabSize, true);
  return bytes;
}

/**
 * Parses and validates a header; `fileSize` (when known) must match the token count.
 * Throws a {@link BenteviError} naming `path` on a bad magic, version or size.
 *
 * @example
 * ```ts
 * import { encodeHeader, parseHeader } from "./format.ts";
 * const h = parseHeader(encodeHeader({ version: 2, count: 0, vocabSize: 70000 }), "y.bin");
 * console.log(h.version); // 2
 * ```
 */
export function parseHeader(bytes: Uint8Array, path: string, fileSize?: number): TokenFileHeader {
  if (bytes.length < HEADER_BYTES) {
    throw new BenteviError(
      `${path}: too short for an llm.c token file (${bytes.length} bytes, the header alone is ${HEADER_BYTES})`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const magic = view.getInt32(0, true);
  if (magic !== TOKEN_FILE_MAGIC) {
    throw new BenteviError(
      `${path}: not an llm.c token file (magic ${magic} at byte 0, expected ${TOKEN_FILE_MAGIC})`,
    );
  }
  const version = view.getInt32(4, true);
  if (version !== 1 && version !== 2) {
    throw new BenteviError(
      `${path}: unsupported token file version ${version} at byte 4 (expected 1 = uint16 or 2 = uint32)`,
    );
  }
  const count = view.getInt32(8, true);
  if (count < 0) throw new BenteviError(`${path}: negative token count ${count} at byte 8`);
  const vocabSize = view.getInt32(12, true);
  const vocabLimit = version === 1 ? MAX_U16_VOCAB : MAX_VOCAB_SIZE;
  if (vocabSize < 0 || vocabSize > vocabLimit) {
    throw new BenteviError(
      `${path}: header field vocab_size (byte 12) is ${vocabSize}; ${
        vocabSize < 0
          ? "a vocabulary size cannot be negative"
          : version === 1
          ? `a version 1 file stores uint16 tokens, so its vocabulary is at most ${MAX_U16_VOCAB}`
          : `the largest vocabulary accepted is ${MAX_VOCAB_SIZE}`
      } (0 means unknown)`,
    );
  }
  if (fileSize !== undefined) {
    const expected = HEADER_BYTES + count * bytesPerToken(version);
    if (fileSize !== expected) {
      throw new BenteviError(
        `${path}: size ${fileSize} bytes does not match the header's ${count} tokens (expected ${expected} bytes; truncated or corrupt)`,
      );
    }
  }
  return { version, count, vocabSize };
}
