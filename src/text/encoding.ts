/**
 * Decoding input bytes — the one place for it: the encodings Bentevi reads and their names,
 * the UTF-8 validator, the ISO-8859-1 decoder, a chunk decoder that joins characters split
 * across chunks, and the one message for a file that is not valid UTF-8 (file, byte offset,
 * line and column, and the `--encoding latin1` hint). UTF-16 text is read when it starts with
 * its byte-order mark (what Windows' "Unicode" saves): `utf16Bom`. Reading files is in
 * read.ts, on top.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";

/**
 * Encodings Bentevi reads: UTF-8 (strict: invalid bytes are an error that says where),
 * `latin1` (ISO-8859-1: every byte is the code point of the same value) and `windows-1252`.
 * All three keep ASCII as is, so line boundaries can be found in the bytes.
 */
export type TextEncoding = "utf-8" | "latin1" | "windows-1252";

/**
 * Checks an encoding name: `utf-8`/`utf8`, `latin1`/`latin-1`/`iso-8859-1`,
 * `windows-1252`/`cp1252` (any case). Anything else is a {@link BenteviError}.
 *
 * @example
 * ```ts
 * import { parseEncoding } from "./encoding.ts";
 * console.log(parseEncoding("ISO-8859-1")); // "latin1"
 * ```
 */
export function parseEncoding(name: string): TextEncoding {
  const n = name.trim().toLowerCase().replace(/_/g, "-");
  if (n === "utf-8" || n === "utf8" || n === "unicode-1-1-utf-8") return "utf-8";
  if (["latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1"].includes(n)) return "latin1";
  if (n === "windows-1252" || n === "cp1252" || n === "windows1252") return "windows-1252";
  throw new BenteviError(
    `unknown encoding "${name}"; use utf-8, latin1 (ISO-8859-1) or windows-1252`,
  );
}

/**
 * The UTF-16 encoding whose byte-order mark `bytes` starts with (`FF FE`: little-endian,
 * `FE FF`: big-endian), or `undefined`. Where the encoding is UTF-8 (the default), a file that
 * starts with one is read as UTF-16 instead — it cannot be UTF-8, whose first byte is never
 * `FE` or `FF`.
 *
 * @example
 * ```ts
 * import { utf16Bom } from "./encoding.ts";
 * console.log(utf16Bom(new Uint8Array([0xff, 0xfe, 0x61, 0x00]))); // "utf-16le"
 * ```
 */
export function utf16Bom(bytes: Uint8Array): "utf-16le" | "utf-16be" | undefined {
  if (bytes.length < 2) return undefined;
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return "utf-16le";
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return "utf-16be";
  return undefined;
}

/**
 * The error for UTF-16 input (see {@link utf16Bom}) with an unpaired surrogate, or cut in the
 * middle of a code unit.
 *
 * @example
 * ```ts
 * import { InvalidUtf16Error } from "./encoding.ts";
 * console.log(new InvalidUtf16Error("a.txt", "utf-16le", 4).message);
 * // "a.txt: invalid UTF-16LE (an unpaired surrogate or an odd byte) in the bytes from 4"
 * ```
 */
export class InvalidUtf16Error extends BenteviError {
  /** @param from where the chunk with the bad code unit starts (bytes) */
  constructor(path: string, encoding: "utf-16le" | "utf-16be", from: number) {
    super(
      `${path}: invalid ${encoding.toUpperCase()} (an unpaired surrogate or an odd byte) in the bytes from ${from}`,
    );
  }
}

/** Where a byte is in a text: offset, and 1-based line and column when known. */
export interface Utf8ErrorPosition {
  /** Byte offset. */
  offset: number;
  /** 1-based line of that byte (counting `\n`); 0 when unknown. */
  line: number;
  /** 1-based column, in characters, within that line; 0 when unknown. */
  column: number;
}

/**
 * Offset of the first byte that starts an invalid UTF-8 sequence (overlong forms, surrogates,
 * values above U+10FFFF, stray continuation bytes, or a truncated sequence at the end unless
 * `partialEndOk`), or -1 when all of `bytes` is valid. The one UTF-8 validator.
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
 * Line and column of byte `offset` in `bytes` (columns count characters, decoding leniently);
 * `lineBase` is the line `bytes` starts on.
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
  const end = Math.min(offset, bytes.length);
  for (let nl = bytes.indexOf(10); nl >= 0 && nl < end; nl = bytes.indexOf(10, nl + 1)) {
    line++;
    lineStart = nl + 1;
  }
  const column = new TextDecoder().decode(bytes.subarray(lineStart, offset)).length + 1;
  return { offset, line, column };
}

/**
 * Decodes ISO-8859-1 bytes: each byte is the code point of the same value (so, unlike the
 * WHATWG "latin1" label, bytes 0x80–0x9F stay C1 characters; `clean` repairs those).
 *
 * @example
 * ```ts
 * import { decodeLatin1 } from "./encoding.ts";
 * console.log(decodeLatin1(new Uint8Array([0x4f, 0x6c, 0xe1]))); // "Olá"
 * ```
 */
export function decodeLatin1(bytes: Uint8Array): string {
  const parts: string[] = [];
  const step = 1 << 13;
  for (let i = 0; i < bytes.length; i += step) {
    parts.push(String.fromCharCode.apply(null, bytes.subarray(i, i + step) as unknown as number[]));
  }
  return parts.join("");
}

/**
 * The error for input that is not valid UTF-8 — one message format everywhere: the file, the
 * byte offset, the line and column when known, and the remedy (by default: pass
 * `--encoding latin1`). It carries the path and position, so a caller can restate the remedy.
 *
 * @example
 * ```ts
 * import { InvalidUtf8Error } from "./encoding.ts";
 * const e = new InvalidUtf8Error("a.txt", { offset: 2, line: 1, column: 3 });
 * console.log(e.message);
 * // "a.txt: invalid UTF-8 at byte 2 (line 1, column 3); if the file is Latin-1, pass --encoding latin1"
 * ```
 */
export class InvalidUtf8Error extends BenteviError {
  /** The file (or input name). */
  readonly path: string;
  /** Where the first invalid sequence starts. */
  readonly position: Utf8ErrorPosition;

  /**
   * Builds the message from `path` and `position`.
   *
   * @param remedy what to do, after "if the file is Latin-1, " (default: pass --encoding latin1)
   */
  constructor(path: string, position: Utf8ErrorPosition, remedy = "pass --encoding latin1") {
    const where = position.line > 0
      ? ` (line ${position.line}${position.column > 0 ? `, column ${position.column}` : ""})`
      : "";
    super(
      `${path}: invalid UTF-8 at byte ${position.offset}${where}; if the file is Latin-1, ${remedy}`,
    );
    this.path = path;
    this.position = position;
  }
}

/**
 * Decodes a whole buffer. UTF-8 (the default) is strict: invalid bytes throw an
 * {@link InvalidUtf8Error} naming `path`, the byte offset, line and column. A leading BOM is
 * dropped; a UTF-16 one makes it UTF-16 (see {@link utf16Bom}). `encoding` is any name
 * {@link parseEncoding} accepts.
 *
 * @example
 * ```ts
 * import { decodeTextStrict } from "./encoding.ts";
 * console.log(decodeTextStrict(new Uint8Array([0x63, 0xe3, 0x6f]), { encoding: "latin1" })); // "cão"
 * ```
 */
export function decodeTextStrict(
  bytes: Uint8Array,
  options: { encoding?: TextEncoding | string; path?: string } = {},
): string {
  const encoding = parseEncoding(options.encoding ?? "utf-8");
  if (encoding === "latin1") return decodeLatin1(bytes);
  if (encoding === "windows-1252") return new TextDecoder("windows-1252").decode(bytes);
  const utf16 = utf16Bom(bytes);
  if (utf16) {
    try {
      return new TextDecoder(utf16, { fatal: true }).decode(bytes);
    } catch {
      throw new InvalidUtf16Error(options.path ?? "input", utf16, 0);
    }
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const at = findInvalidUtf8(bytes);
    throw new InvalidUtf8Error(
      options.path ?? "input",
      bytePosition(bytes, at < 0 ? bytes.length : at),
    );
  }
}

/**
 * Thrown by {@link ChunkDecoder} at invalid UTF-8: the byte offset of the bad sequence (or, for
 * UTF-16 input, `utf16` is set and `offset` is where the chunk holding it starts).
 */
export class Utf8Fault extends Error {
  /** Offset of the first byte of the invalid sequence, in the decoder's offsets. */
  readonly offset: number;
  /** Set when the input was UTF-16 (found by its byte-order mark). */
  readonly utf16: "utf-16le" | "utf-16be" | undefined;
  constructor(offset: number, utf16?: "utf-16le" | "utf-16be") {
    super(`invalid ${utf16 ?? "UTF-8"} at byte ${offset}`);
    this.offset = offset;
    this.utf16 = utf16;
  }
}

/** Options of {@link ChunkDecoder}. */
export interface ChunkDecoderOptions {
  /** Keep a leading U+FEFF (default false: a BOM at the start is dropped). */
  ignoreBOM?: boolean;
  /**
   * Decode invalid UTF-8 as U+FFFD instead of throwing, and call this once, with the offset of
   * the first invalid sequence (for reports such as `audit`).
   */
  onInvalidUtf8?: (offset: number) => void;
}

const EMPTY = new Uint8Array(0);

/**
 * Decodes consecutive chunks of one byte stream into strings: characters split between
 * chunks are joined, and invalid UTF-8 throws a {@link Utf8Fault} with the exact byte offset
 * (offsets count from the first chunk's `offset`). Costs nothing extra on valid input. In
 * UTF-8 mode, a stream whose first chunk (at offset 0, BOM not kept) starts with a UTF-16
 * byte-order mark is decoded as UTF-16 (see {@link utf16Bom} and {@link ChunkDecoder.utf16}).
 *
 * @example
 * ```ts
 * import { ChunkDecoder } from "./encoding.ts";
 * const d = new ChunkDecoder("utf-8");
 * console.log(d.decode(new Uint8Array([0x61, 0xc3])) + d.decode(new Uint8Array([0xa7])) + d.end()); // "aç"
 * ```
 */
export class ChunkDecoder {
  /** The encoding. */
  readonly encoding: TextEncoding;
  #utf8: TextDecoder | undefined;
  #cp1252: TextDecoder | undefined;
  #sniff: boolean;
  #utf16dec: TextDecoder | undefined;
  /** The UTF-16 encoding found by its byte-order mark at the start, if any. */
  utf16: "utf-16le" | "utf-16be" | undefined;
  #onInvalid: ((offset: number) => void) | undefined;
  #reported = false;
  /** The last (up to 3) bytes decoded, which may hold an unfinished character. */
  #tail: Uint8Array = EMPTY;
  #tailOffset = 0;
  #next = 0;

  /** A decoder for one stream in `encoding`. */
  constructor(encoding: TextEncoding, options: ChunkDecoderOptions = {}) {
    this.encoding = encoding;
    this.#onInvalid = options.onInvalidUtf8;
    this.#sniff = encoding === "utf-8" && !options.ignoreBOM;
    if (encoding === "utf-8") {
      // Never fatal: V8 decodes valid UTF-8 several times faster without the check (see
      // decodeUtf8Pieces); invalid input is found from the U+FFFD it leaves (#badOffset).
      this.#utf8 = new TextDecoder("utf-8", { ignoreBOM: options.ignoreBOM ?? false });
    } else if (encoding === "windows-1252") this.#cp1252 = new TextDecoder("windows-1252");
  }

  /** Decodes the next chunk, which starts at byte `offset` (default: after the last one). */
  decode(chunk: Uint8Array, offset: number = this.#next): string {
    const pieces = this.decodePieces(chunk, offset);
    return pieces.length === 1 ? pieces[0] : pieces.join("");
  }

  /**
   * {@link ChunkDecoder.decode}, the text left in pieces of at most 64 KiB of input each:
   * cheaper for a consumer that takes text in pieces anyway (a streaming parser), as V8 makes
   * big strings slowly (see {@link decodeUtf8Pieces}).
   */
  decodePieces(chunk: Uint8Array, offset: number = this.#next): string[] {
    this.#next = offset + chunk.length;
    if (this.#sniff) {
      this.#sniff = false;
      this.utf16 = offset === 0 ? utf16Bom(chunk) : undefined;
      if (this.utf16) {
        this.#utf16dec = new TextDecoder(this.utf16, { fatal: !this.#onInvalid });
      }
    }
    if (this.#utf16dec) {
      try {
        return [this.#utf16dec.decode(chunk, { stream: true })];
      } catch {
        throw new Utf8Fault(offset, this.utf16);
      }
    }
    if (this.#cp1252) return [this.#cp1252.decode(chunk)];
    if (!this.#utf8) return [decodeLatin1(chunk)];
    const text = decodeUtf8Pieces(this.#utf8, chunk);
    if (text.some((t) => t.includes("\ufffd")) && (!this.#onInvalid || !this.#reported)) {
      // a replacement character: invalid input, or a U+FFFD that was in the text
      const at = this.#badOffset(chunk, offset, true);
      if (at >= 0) {
        if (!this.#onInvalid) throw new Utf8Fault(at);
        this.#report(at);
      }
    }
    this.#remember(chunk, offset);
    return text;
  }

  /** Ends the stream: the rest of the text, or a {@link Utf8Fault} for a cut-off character. */
  end(): string {
    if (this.#utf16dec) {
      try {
        return this.#utf16dec.decode();
      } catch {
        throw new Utf8Fault(this.#next, this.utf16);
      }
    }
    if (!this.#utf8) return "";
    const text = this.#utf8.decode(); // "\ufffd" for a character cut off, else ""
    if (text) {
      const at = this.#badOffset(EMPTY, this.#next, false);
      if (!this.#onInvalid) throw new Utf8Fault(at);
      this.#report(at);
    }
    return text;
  }

  #report(offset: number): void {
    if (this.#reported) return;
    this.#reported = true;
    this.#onInvalid!(offset);
  }

  // The bad sequence may begin in the tail of the previous chunk: scan from the first
  // character boundary in the tail (skipping continuation bytes of a finished character).
  #badOffset(chunk: Uint8Array, offset: number, partialEndOk: boolean): number {
    const contiguous = this.#tail.length > 0 && this.#tailOffset + this.#tail.length === offset;
    const tail = contiguous ? this.#tail : EMPTY;
    let k = 0;
    while (k < tail.length && (tail[k] & 0xc0) === 0x80) k++;
    const joined = new Uint8Array(tail.length - k + chunk.length);
    joined.set(tail.subarray(k));
    joined.set(chunk, tail.length - k);
    const at = findInvalidUtf8(joined, partialEndOk);
    if (at < 0) return partialEndOk ? -1 : offset + chunk.length;
    return offset - (tail.length - k) + at;
  }

  #remember(chunk: Uint8Array, offset: number): void {
    if (chunk.length >= 3) {
      this.#tail = chunk.slice(chunk.length - 3);
      this.#tailOffset = offset + chunk.length - 3;
      return;
    }
    const contiguous = this.#tailOffset + this.#tail.length === offset;
    const prev = contiguous ? this.#tail : EMPTY;
    const joined = new Uint8Array(prev.length + chunk.length);
    joined.set(prev);
    joined.set(chunk, prev.length);
    this.#tail = joined.slice(Math.max(0, joined.length - 3));
    this.#tailOffset = offset + chunk.length - this.#tail.length;
  }
}

/** Bytes per `TextDecoder.decode` call in {@link decodeUtf8Pieces}. */
const DECODE_PIECE = 64 << 10;

/**
 * Decodes `bytes` with a streaming `decoder` (`stream: true`) in pieces of 64 KiB of input:
 * on Deno 2 (V8 15) a non-fatal UTF-8 decode of 64 KiB runs at ~1.6 GB/s, of 1 MiB at ~0.35
 * GB/s and of 4 MiB at ~0.03 GB/s, and a fatal one at 0.03–0.2 GB/s (measured on the
 * Wikipedia XML of `bench/make_multistream.ts`): making big strings is what costs.
 *
 * @example
 * ```ts
 * import { decodeUtf8Pieces } from "./encoding.ts";
 * console.log(decodeUtf8Pieces(new TextDecoder(), new TextEncoder().encode("olá"))); // ["olá"]
 * ```
 */
export function decodeUtf8Pieces(decoder: TextDecoder, bytes: Uint8Array): string[] {
  if (bytes.length <= DECODE_PIECE) return [decoder.decode(bytes, { stream: true })];
  const parts: string[] = [];
  for (let o = 0; o < bytes.length; o += DECODE_PIECE) {
    parts.push(decoder.decode(bytes.subarray(o, o + DECODE_PIECE), { stream: true }));
  }
  return parts;
}

/**
 * Decodes a stream of byte chunks into strings, strictly for UTF-8: the error names the byte
 * offset, line and column of the first invalid sequence in the whole stream. Characters split
 * across chunks are joined correctly. For files, `readTextChunks` (read.ts) does the same.
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
  options: { encoding?: TextEncoding | string; path?: string } = {},
): AsyncGenerator<string> {
  const path = options.path ?? "input";
  const decoder = new ChunkDecoder(parseEncoding(options.encoding ?? "utf-8"));
  let offset = 0; // where the current chunk starts
  let line = 1; // the line at `offset`
  let recent: Uint8Array = EMPTY; // the bytes before the current chunk (a bad sequence may start there)
  const fail = (fault: Utf8Fault, chunk: Uint8Array): never => {
    if (fault.utf16) throw new InvalidUtf16Error(path, fault.utf16, fault.offset);
    const start = offset - recent.length;
    const joined = new Uint8Array(recent.length + chunk.length);
    joined.set(recent);
    joined.set(chunk, recent.length);
    const at = fault.offset - start;
    const pos = bytePosition(joined, at, line - count10(recent));
    if (start > 0 && !joined.subarray(0, at).includes(10)) pos.column = 0; // line began earlier
    pos.offset = fault.offset;
    throw new InvalidUtf8Error(path, pos);
  };
  for await (const chunk of chunks) {
    let text: string;
    try {
      text = decoder.decode(chunk, offset);
    } catch (e) {
      if (e instanceof Utf8Fault) fail(e, chunk);
      throw e;
    }
    if (text) yield text;
    line += count10(chunk);
    // keep at least the 3 bytes before the next chunk, where a bad sequence may begin
    if (chunk.length >= 3) recent = chunk;
    else {
      const r = new Uint8Array(Math.min(3, recent.length) + chunk.length);
      r.set(recent.subarray(recent.length - (r.length - chunk.length)));
      r.set(chunk, r.length - chunk.length);
      recent = r;
    }
    offset += chunk.length;
  }
  let text: string;
  try {
    text = decoder.end();
  } catch (e) {
    if (e instanceof Utf8Fault) fail(e, EMPTY);
    throw e;
  }
  if (text) yield text;
}

function count10(bytes: Uint8Array): number {
  let n = 0;
  for (let i = bytes.indexOf(10); i >= 0; i = bytes.indexOf(10, i + 1)) n++;
  return n;
}
