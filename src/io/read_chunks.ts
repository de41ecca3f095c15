/**
 * Reading a file in chunks, from any byte offset: the one place Bentevi opens a file for
 * streaming (text input in src/text, compressed dumps in src/native), so a 1 GB file is never
 * in memory at once and every read error names the file.
 *
 * @module
 */
import { fsError } from "../errors.ts";

/**
 * Reads `path` in chunks of `chunkSize` bytes from byte `start` on (never the whole file in
 * memory). Each chunk is a fresh buffer the caller may keep.
 *
 * @example
 * ```ts
 * import { readFileChunks } from "./read_chunks.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abcdef");
 * for await (const c of readFileChunks(path, 4, 1)) console.log(c.length); // 4, then 1
 * ```
 */
export async function* readFileChunks(
  path: string,
  chunkSize = 1 << 20,
  start = 0,
): AsyncGenerator<Uint8Array> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
    if (start > 0) await file.seek(start, Deno.SeekMode.Start);
  } catch (e) {
    throw fsError(e, path);
  }
  try {
    for (;;) {
      const buf = new Uint8Array(chunkSize);
      let n: number | null;
      try {
        n = await file.read(buf);
      } catch (e) {
        throw fsError(e, path);
      }
      if (n === null) return;
      yield n === chunkSize ? buf : buf.subarray(0, n);
    }
  } finally {
    file.close();
  }
}
