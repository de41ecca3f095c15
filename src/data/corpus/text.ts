/**
 * Reading corpus files: UTF-8 (strict: invalid bytes are an error naming the file and byte
 * offset) or ISO-8859-1, and listing the files of folders.
 *
 * @module
 */
import { join, relative } from "node:path";
import { BenteviError, fsError } from "../../errors.ts";

/** Input encodings the corpus tools accept. */
export type CorpusEncoding = "utf-8" | "latin1";

/** Offset of the first invalid UTF-8 sequence in `bytes`, or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number, min: number;
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
    if (i + need >= n) return i;
    let cp = b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** Decodes ISO-8859-1 (every byte is the code point of the same value). */
export function decodeLatin1(bytes: Uint8Array): string {
  const parts: string[] = [];
  const step = 1 << 15;
  for (let i = 0; i < bytes.length; i += step) {
    parts.push(String.fromCharCode.apply(null, Array.from(bytes.subarray(i, i + step))));
  }
  return parts.join("");
}

/**
 * Decodes a file's bytes; invalid UTF-8 is a {@link BenteviError} with the byte offset.
 *
 * @example
 * ```ts
 * import { decodeText } from "./text.ts";
 * console.log(decodeText(new Uint8Array([0x6f, 0x6c, 0xe1]), "a.txt", "latin1")); // "olá"
 * ```
 */
export function decodeText(bytes: Uint8Array, path: string, encoding: CorpusEncoding): string {
  if (encoding === "latin1") return decodeLatin1(bytes);
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    throw new BenteviError(
      `${path}: invalid UTF-8 at byte ${at} (0x${
        bytes[at]?.toString(16).padStart(2, "0")
      }); if the file is ISO-8859-1, pass --encoding latin1`,
    );
  }
}

/** Reads and decodes a text file. */
export async function readCorpusFile(path: string, encoding: CorpusEncoding): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw fsError(e, path);
  }
  return decodeText(bytes, path, encoding);
}

/** An input file and the name it gets under an output folder. */
export interface CorpusInput {
  path: string;
  /** Relative name (the file name, or the path inside a folder input). */
  name: string;
}

/**
 * Expands files and folders (recursively, sorted, hidden files skipped) into input files.
 *
 * @example
 * ```ts
 * import { listInputs } from "./text.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "x");
 * console.log((await listInputs([dir])).map((i) => i.name)); // ["a.txt"]
 * ```
 */
export async function listInputs(inputs: string[]): Promise<CorpusInput[]> {
  const out: CorpusInput[] = [];
  for (const input of inputs) {
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(input);
    } catch (e) {
      throw fsError(e, input);
    }
    if (info.isFile) {
      out.push({ path: input, name: input.split("/").pop()! });
      continue;
    }
    const files: string[] = [];
    const walk = async (dir: string) => {
      const entries: Deno.DirEntry[] = [];
      for await (const e of Deno.readDir(dir)) entries.push(e);
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        if (e.name.startsWith(".")) continue;
        const p = join(dir, e.name);
        if (e.isDirectory) await walk(p);
        else if (e.isFile) files.push(p);
      }
    };
    await walk(input);
    for (const f of files) out.push({ path: f, name: relative(input, f) });
  }
  if (out.length === 0) throw new BenteviError(`no input files in ${inputs.join(", ")}`);
  return out;
}
