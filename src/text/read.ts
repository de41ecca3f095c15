/**
 * Reading text files: whole (small files) or streamed in chunks (a 1 GB corpus is never in
 * memory at once), optionally only the lines that start in a byte range — so parallel
 * Workers can split one file between them — with exact positions for invalid UTF-8.
 *
 * @module
 */
import { type BenteviError, fsError } from "../errors.ts";
import { readFileChunks } from "../io/read_chunks.ts";
import {
  bytePosition,
  ChunkDecoder,
  decodeTextStrict,
  InvalidUtf16Error,
  InvalidUtf8Error,
  type TextEncoding,
  type Utf8ErrorPosition,
  Utf8Fault,
} from "./encoding.ts";

/** A part of a file: the lines that start at a byte offset in `[start, end)`. */
export interface LineRange {
  /** First byte offset (a line starting here or later is included). */
  start: number;
  /** Lines starting at or after this offset are left out (default: end of file). */
  end?: number;
}

/** How to read a file in chunks. */
export interface ReadChunksOptions {
  /** Bytes per read (default 1 MiB). */
  chunkBytes?: number;
  /** Called after each read with the number of bytes read (for progress). */
  onBytes?: (n: number) => void;
  /** Only the lines starting in this byte range (default: the whole file). */
  range?: LineRange;
}

/** Options of {@link readTextChunks}. */
export interface ReadTextOptions extends ReadChunksOptions {
  /** Encoding (default `utf-8`, strict). */
  encoding?: TextEncoding;
  /**
   * Remove NUL characters (U+0000: stray bytes of a binary or UTF-16 file, never text) and call
   * this with how many, each time some are removed. Default: keep them.
   */
  onNul?: (count: number) => void;
}

// deno-lint-ignore no-control-regex -- NUL is what is removed
const NUL = /\u0000/g;

/**
 * `text` without its NUL characters (U+0000), calling `onNul` with how many there were (when
 * there were any); `text` itself when `onNul` is not given.
 *
 * @example
 * ```ts
 * import { stripNul } from "./read.ts";
 * console.log(JSON.stringify(stripNul("a\0b\0", (n) => console.log(n)))); // 2, then "ab"
 * ```
 */
export function stripNul(text: string, onNul: ((count: number) => void) | undefined): string {
  if (!onNul || !text.includes("\0")) return text;
  const out = text.replace(NUL, "");
  onNul(text.length - out.length);
  return out;
}

/**
 * The bytes of the lines of `path` that start in `range`, in chunks of about `chunkBytes`,
 * each with its byte offset in the file. Chunks are cut anywhere, except that the first starts
 * and the last ends on a line boundary.
 *
 * @example
 * ```ts
 * import { readLineRange } from "./read.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "um\ndois\ntrês\n");
 * for await (const c of readLineRange(path, { range: { start: 1, end: 4 } })) {
 *   console.log(c.offset, new TextDecoder().decode(c.bytes)); // 3 "dois\n"
 * }
 * ```
 */
export async function* readLineRange(
  path: string,
  options: ReadChunksOptions = {},
): AsyncGenerator<{ bytes: Uint8Array; offset: number }> {
  const range = options.range ?? { start: 0 };
  const end = range.end ?? Infinity;
  // Starting inside the file: read from the byte before `start`, and skip to the first line
  // that starts at or after `start`.
  let pos = Math.max(0, range.start - 1);
  let skipping = range.start > 0;
  let atLineStart = true;
  for await (const buf of readFileChunks(path, options.chunkBytes ?? 1 << 20, pos)) {
    options.onBytes?.(buf.length);
    let chunk = buf;
    let at = pos;
    pos += buf.length;
    if (skipping) {
      const nl = chunk.indexOf(10);
      if (nl < 0) continue;
      chunk = chunk.subarray(nl + 1);
      at += nl + 1;
      skipping = false;
    }
    // A line starting at or after `end` belongs to the next range.
    if (at >= end && atLineStart) return;
    if (at + chunk.length >= end) {
      // Finish the line that holds byte end - 1, then stop.
      const nl = chunk.indexOf(10, Math.max(0, end - 1 - at));
      if (nl >= 0) {
        yield { bytes: chunk.subarray(0, nl + 1), offset: at };
        return;
      }
    }
    if (chunk.length) {
      yield { bytes: chunk, offset: at };
      atLineStart = chunk[chunk.length - 1] === 10;
    }
  }
}

/**
 * Line and column of byte `offset` of the file at `path`, found by reading the file up to it
 * (for error messages: only paid when something is wrong). The column is left out (0) when
 * the line is longer than 1 MiB before `offset`.
 *
 * @example
 * ```ts
 * import { positionInFile } from "./read.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "um\ndoïs\n");
 * console.log(await positionInFile(path, 7)); // { offset: 7, line: 2, column: 4 }
 * ```
 */
export async function positionInFile(path: string, offset: number): Promise<Utf8ErrorPosition> {
  let line = 1;
  let lineStart = 0;
  let at = 0;
  let lineBytes: Uint8Array[] = []; // the bytes of the current line before `offset`
  let lineLength = 0;
  for await (const buf of readFileChunks(path)) {
    const chunk = buf.subarray(0, Math.max(0, Math.min(buf.length, offset - at)));
    let from = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, nl + 1)) {
      line++;
      lineStart = at + nl + 1;
      from = nl + 1;
      lineBytes = [];
      lineLength = 0;
    }
    if (lineLength <= 1 << 20) {
      lineBytes.push(chunk.slice(from));
      lineLength += chunk.length - from;
    }
    at += buf.length;
    if (at >= offset) break;
  }
  let column = 0;
  if (lineLength <= 1 << 20) {
    const joined = new Uint8Array(lineLength);
    let o = 0;
    for (const b of lineBytes) {
      joined.set(b, o);
      o += b.length;
    }
    column = bytePosition(joined, joined.length).column;
  }
  return { offset, line, column: offset - lineStart === lineLength ? column : 0 };
}

/**
 * The user error for a {@link Utf8Fault} met while decoding `path`: an
 * {@link InvalidUtf8Error} with the line and column (found by reading the file up to the bad
 * byte), or an {@link InvalidUtf16Error} for UTF-16 input.
 *
 * @example
 * ```ts
 * import { decodeError } from "./read.ts";
 * import { Utf8Fault } from "./encoding.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array([0x61, 0x0a, 0xff]));
 * console.log((await decodeError(path, new Utf8Fault(2))).message);
 * // ".../tmpXXXX: invalid UTF-8 at byte 2 (line 2, column 1); if the file is Latin-1, pass --encoding latin1"
 * ```
 */
export async function decodeError(path: string, fault: Utf8Fault): Promise<BenteviError> {
  if (fault.utf16) return new InvalidUtf16Error(path, fault.utf16, fault.offset);
  return new InvalidUtf8Error(path, await positionInFile(path, fault.offset));
}

/**
 * Yields the text of `path` (or of the lines of `options.range`) in chunks of about
 * `chunkBytes`. Chunks end on character boundaries; a range starts and ends on line
 * boundaries, so ranges can be read in parallel. Invalid UTF-8 is an
 * {@link InvalidUtf8Error} with the file, byte, line and column.
 *
 * @example
 * ```ts
 * import { readTextChunks } from "./read.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "linha 1\nlinha 2\n");
 * for await (const chunk of readTextChunks(path, { chunkBytes: 8 })) console.log(chunk);
 * // "linha 1\n", then "linha 2\n"
 * ```
 */
export async function* readTextChunks(
  path: string,
  options: ReadTextOptions = {},
): AsyncGenerator<string> {
  const start = options.range?.start ?? 0;
  const decoder = new ChunkDecoder(options.encoding ?? "utf-8", { ignoreBOM: start > 0 });
  try {
    for await (const { bytes, offset } of readLineRange(path, options)) {
      const text = stripNul(decoder.decode(bytes, offset), options.onNul);
      if (text) yield text;
    }
    const tail = stripNul(decoder.end(), options.onNul);
    if (tail) yield tail;
  } catch (e) {
    if (e instanceof Utf8Fault) {
      throw await decodeError(path, e);
    }
    throw e;
  }
}

/**
 * Reads and decodes a whole file (for small inputs; large ones stream with
 * {@link readTextChunks}). Invalid UTF-8 is an {@link InvalidUtf8Error}.
 *
 * @example
 * ```ts
 * import { readText } from "./read.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeFile(path, new Uint8Array([0x4f, 0x6c, 0xe1])); // "Olá" in ISO-8859-1
 * console.log(await readText(path, "latin1")); // "Olá"
 * ```
 */
export async function readText(path: string, encoding: TextEncoding = "utf-8"): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw fsError(e, path);
  }
  return decodeTextStrict(bytes, { encoding, path });
}
