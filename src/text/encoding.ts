/**
 * Decoding input files: strict UTF-8 that says exactly where a file is not UTF-8 (byte offset,
 * line and column), Latin-1 and the other WHATWG encodings on request, whole or streamed.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";

/** Where the first invalid UTF-8 sequence of some bytes is. */
export interface Utf8ErrorPosition {
  /** Byte offset of the first byte of the invalid sequence. */
  offset: number;
  /** 1-based line of that byte (counting `\n`). */
  line: number;
  /** 1-based column, in characters, within that line. */
  column: number;
}

/**
 * Offset of the first byte that starts an invalid UTF-8 sequence (overlong forms, surrogates,
 * values above U+10FFFF, stray continuation bytes, or a truncated sequence at the end unless
 * `partialEndOk`), or -1 when all of `bytes` is valid.
 *
 * @example
 * ```ts
 * import { findInvalidUtf8 } from "./encoding.ts";
 * console.log(findInvalidUtf8(new TextEncoder().encode("ação"))); // -1
 * console.log(findInvalidUtf8(new Uint8Array([0x61, 0xe7, 0x61]))); // 1
 * ```
 */
export function findInvalidUtf8(bytes: Uint8Array, partialEndOk = false): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number, lo = 0x80, hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return i;
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return partialEndOk ? -1 : i;
      const c = bytes[i + k];
      if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

/**
 * Line and column of byte `offset` in `bytes` (columns count characters, decoding leniently).
 *
 * @example
 * ```ts
 * import { bytePosition } from "./encoding.ts";
 * console.log(bytePosition(new TextEncoder().encode("a\nbç"), 4)); // { offset: 4, line: 2, column: 3 }
 * ```
 */
export function bytePosition(bytes: Uint8Array, offset: number, lineBase = 1): Utf8ErrorPosition {
  let line = lineBase;
  let lineStart = 0;
  for (let k = 0; k < offset && k < bytes.length; k++) {
    if (bytes[k] === 10) {
      line++;
      lineStart = k + 1;
    }
  }
  const column = new TextDecoder().decode(bytes.subarray(lineStart, offset)).length + 1;
  return { offset, line, column };
}

/** Encodings accepted by `--encoding` (any WHATWG label works; these are the usual ones). */
export type TextEncodingName = "utf-8" | "latin1" | "windows-1252" | "utf-16le" | string;

function invalidUtf8(path: string, pos: Utf8ErrorPosition): BenteviError {
  return new BenteviError(
    `${path}: invalid UTF-8 at byte ${pos.offset} (line ${pos.line}` +
      `${pos.column > 0 ? `, column ${pos.column}` : ""}); ` +
      `if the file is Latin-1, pass --encoding latin1`,
  );
}

function makeDecoder(encoding: string): TextDecoder {
  try {
    return new TextDecoder(encoding, { fatal: isUtf8(encoding) });
  } catch {
    throw new BenteviError(`--encoding: unknown encoding "${encoding}" (try utf-8 or latin1)`);
  }
}

function isUtf8(encoding: string): boolean {
  const e = encoding.toLowerCase();
  return e === "utf-8" || e === "utf8" || e === "unicode-1-1-utf-8";
}

/**
 * Decodes a whole file's bytes. UTF-8 (the default) is strict: invalid bytes throw a
 * {@link BenteviError} naming `path`, the byte offset, line and column. A leading BOM is dropped.
 *
 * @example
 * ```ts
 * import { decodeTextStrict } from "./encoding.ts";
 * console.log(decodeTextStrict(new Uint8Array([0x63, 0xe3, 0x6f]), { encoding: "latin1" })); // "cão"
 * ```
 */
export function decodeTextStrict(
  bytes: Uint8Array,
  options: { encoding?: TextEncodingName; path?: string } = {},
): string {
  const encoding = options.encoding ?? "utf-8";
  const path = options.path ?? "input";
  const decoder = makeDecoder(encoding);
  try {
    return decoder.decode(bytes);
  } catch {
    const at = findInvalidUtf8(bytes);
    throw invalidUtf8(path, bytePosition(bytes, at < 0 ? bytes.length : at));
  }
}

/**
 * Decodes a stream of byte chunks into strings, strictly for UTF-8 (the error names the byte
 * offset, line and column of the first invalid sequence in the whole stream). Characters split
 * across chunks are joined correctly.
 *
 * @example
 * ```ts
 * import { decodeTextStream } from "./encoding.ts";
 * async function* bytes() {
 *   yield new Uint8Array([0x61, 0xc3]);
 *   yield new Uint8Array([0xa7, 0x62]);
 * }
 * let s = "";
 * for await (const part of decodeTextStream(bytes())) s += part;
 * console.log(s); // "açb"
 * ```
 */
export async function* decodeTextStream(
  chunks: AsyncIterable<Uint8Array>,
  options: { encoding?: TextEncodingName; path?: string } = {},
): AsyncGenerator<string> {
  const encoding = options.encoding ?? "utf-8";
  const path = options.path ?? "input";
  const decoder = makeDecoder(encoding);
  const strict = isUtf8(encoding);
  let offset = 0; // bytes before the current chunk
  let line = 1;
  let carry = new Uint8Array(0); // incomplete sequence at the end of the previous chunk
  for await (const chunk of chunks) {
    try {
      const s = decoder.decode(chunk, { stream: true });
      if (s) yield s;
    } catch {
      const joined = new Uint8Array(carry.length + chunk.length);
      joined.set(carry);
      joined.set(chunk, carry.length);
      const at = Math.max(0, findInvalidUtf8(joined, true));
      const pos = bytePosition(joined, at, line);
      const lineStartsHere = offset - carry.length === 0 || joined.subarray(0, at).includes(10);
      if (!lineStartsHere) pos.column = 0; // the line began in an earlier chunk
      pos.offset = offset - carry.length + at;
      throw invalidUtf8(path, pos);
    }
    if (strict) {
      // remember the tail that may be an unfinished sequence, and count lines for messages
      let k = chunk.length;
      while (k > 0 && chunk.length - k < 3 && (chunk[k - 1] & 0xc0) === 0x80) k--;
      carry = k > 0 && chunk[k - 1] >= 0xc0 ? chunk.slice(k - 1) : new Uint8Array(0);
      for (let j = 0; j < chunk.length - carry.length; j++) if (chunk[j] === 10) line++;
    }
    offset += chunk.length;
  }
  try {
    const s = decoder.decode();
    if (s) yield s;
  } catch {
    const pos = bytePosition(carry, 0, line);
    pos.column = 0;
    pos.offset = offset - carry.length;
    throw invalidUtf8(path, pos);
  }
}
