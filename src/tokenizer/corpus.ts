/**
 * Reading training/encoding input: files and folders expanded in a fixed order, read in
 * chunks (a 1 GB corpus is never in memory at once), decoded as UTF-8 — with the file and
 * byte offset of the first invalid byte when it is not — or as ISO-8859-1 on request.
 *
 * @module
 */
import { join } from "node:path";
import { BenteviError, fsError } from "../errors.ts";

/** Text encodings Bentevi reads. */
export type TextEncoding = "utf-8" | "latin1";

/** Checks an encoding name (`utf8`, `UTF-8`, `latin1`, `iso-8859-1`).
 *
 * @example
 * ```ts
 * import { parseEncoding } from "./mod.ts";
 * console.log(parseEncoding("ISO-8859-1")); // "latin1"
 * ```
 */
export function parseEncoding(name: string): TextEncoding {
  const n = name.toLowerCase().replace(/_/g, "-");
  if (n === "utf-8" || n === "utf8") return "utf-8";
  if (n === "latin1" || n === "latin-1" || n === "iso-8859-1" || n === "iso8859-1") return "latin1";
  throw new BenteviError(`unknown encoding "${name}"; use utf-8 or latin1`);
}

/** A file to read and its size in bytes. */
export interface InputFile {
  /** Path as given or found under a folder. */
  path: string;
  /** Size in bytes. */
  size: number;
}

/** Expands files and folders (recursively, names sorted, hidden entries skipped).
 *
 * @example
 * ```ts
 * import { listInputFiles } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "olá");
 * console.log(await listInputFiles([dir])); // [{ path: ".../a.txt", size: 4 }]
 * ```
 */
export async function listInputFiles(inputs: string[]): Promise<InputFile[]> {
  const out: InputFile[] = [];
  const visit = async (path: string, top: boolean) => {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(path);
    } catch (e) {
      throw fsError(e, path);
    }
    if (info.isDirectory) {
      const names: string[] = [];
      try {
        for await (const e of Deno.readDir(path)) if (!e.name.startsWith(".")) names.push(e.name);
      } catch (e) {
        throw fsError(e, path);
      }
      names.sort();
      for (const n of names) await visit(join(path, n), false);
    } else if (info.isFile || top) {
      out.push({ path, size: info.size });
    }
  };
  for (const p of inputs) await visit(p, true);
  return out;
}

/**
 * Offset of the first byte of `bytes` that is not valid UTF-8, -1 when all is valid, or
 * `-(k + 2)` when the input is valid but ends inside a character starting at `k`.
 */
export function utf8Check(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let min: number;
    if (b >= 0xc2 && b <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      if (i + k >= n) return -(i + 2);
      const c = bytes[i + k];
      if ((c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
      // Reject overlong forms, surrogates and > U+10FFFF as early as the second byte allows.
      if (k === 1) {
        if (b === 0xe0 && c < 0xa0) return i;
        if (b === 0xed && c > 0x9f) return i;
        if (b === 0xf0 && c < 0x90) return i;
        if (b === 0xf4 && c > 0x8f) return i;
      }
    }
    if (cp < min) return i;
    i += need + 1;
  }
  return -1;
}

function invalidUtf8(path: string, offset: number): BenteviError {
  return new BenteviError(
    `${path}: not valid UTF-8 at byte ${offset}; if the file is ISO-8859-1 (latin1), use --encoding latin1`,
  );
}

/** Decodes ISO-8859-1 bytes (each byte is the code point; not windows-1252). */
export function decodeLatin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  }
  return s;
}

/** Decodes a whole buffer; throws {@link BenteviError} naming `name` and the byte offset. */
export function decodeText(bytes: Uint8Array, encoding: TextEncoding, name: string): string {
  if (encoding === "latin1") return decodeLatin1(bytes);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const at = utf8Check(bytes);
    throw invalidUtf8(name, at >= 0 ? at : -(at + 2));
  }
}

/** Reads and decodes a whole file (for encoding; training streams with {@link readTextChunks}).
 *
 * @example
 * ```ts
 * import { readText } from "./mod.ts";
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
  return decodeText(bytes, encoding, path);
}

/** A part of a file: the lines that start at a byte offset in `[start, end)`. */
export interface LineRange {
  /** First byte offset (a line starting here or later is included). */
  start: number;
  /** Lines starting at or after this offset are left out (default: end of file). */
  end?: number;
}

async function* readLineRange(
  path: string,
  range: LineRange,
  chunkBytes: number,
  onBytes?: (n: number) => void,
): AsyncGenerator<{ bytes: Uint8Array; offset: number }> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw fsError(e, path);
  }
  try {
    const end = range.end ?? Infinity;
    let pos = Math.max(0, range.start - 1);
    // Starting inside the file: skip to the first line that starts at or after `start`.
    let skipping = range.start > 0;
    let atLineStart = true;
    if (pos > 0) await file.seek(pos, Deno.SeekMode.Start);
    for (;;) {
      const buf = new Uint8Array(chunkBytes);
      let n: number | null;
      try {
        n = await file.read(buf);
      } catch (e) {
        throw fsError(e, path);
      }
      if (n === null) return;
      onBytes?.(n);
      let chunk = buf.subarray(0, n);
      let at = pos;
      pos += n;
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
  } finally {
    file.close();
  }
}

/**
 * Yields the text of `path` (or of the lines of `range`) in chunks of about `chunkBytes`,
 * calling `onBytes(n)` after each chunk of `n` bytes is read. Chunks end on character
 * boundaries; a range starts and ends on line boundaries, so ranges can be read in parallel.
 *
 * @example
 * ```ts
 * import { readTextChunks } from "./mod.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "linha 1\nlinha 2\n");
 * for await (const chunk of readTextChunks(path)) console.log(chunk);
 * ```
 */
export async function* readTextChunks(
  path: string,
  encoding: TextEncoding = "utf-8",
  onBytes?: (n: number) => void,
  chunkBytes = 1 << 20,
  range: LineRange = { start: 0 },
): AsyncGenerator<string> {
  const td = new TextDecoder("utf-8", { fatal: true, ignoreBOM: range.start > 0 });
  let carry = new Uint8Array(0); // an incomplete character from the previous chunk
  let carryOffset = range.start;
  for await (const { bytes, offset } of readLineRange(path, range, chunkBytes, onBytes)) {
    if (encoding === "latin1") {
      yield decodeLatin1(bytes);
      continue;
    }
    let data = bytes;
    let dataOffset = offset;
    if (carry.length) {
      data = new Uint8Array(carry.length + bytes.length);
      data.set(carry);
      data.set(bytes, carry.length);
      dataOffset = carryOffset;
    }
    const check = utf8Check(data);
    if (check >= 0) throw invalidUtf8(path, dataOffset + check);
    const end = check === -1 ? data.length : -(check + 2);
    const text = td.decode(data.subarray(0, end), { stream: true });
    if (text) yield text;
    carry = data.slice(end);
    carryOffset = dataOffset + end;
  }
  if (carry.length) throw invalidUtf8(path, carryOffset);
  const tail = td.decode();
  if (tail) yield tail;
}
