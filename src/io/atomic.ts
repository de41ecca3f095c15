/**
 * Atomic file output: everything Bentevi writes goes to a temporary name beside the final
 * one and is renamed into place only when complete, so a failure or Ctrl-C never leaves a
 * half-written file under the final name.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";
import { BenteviError, osErrorPhrase, writeError } from "../errors.ts";

/** The temporary name used while `path` is being written. */
export function tempPathFor(path: string): string {
  const rand = crypto.getRandomValues(new Uint32Array(1))[0].toString(36);
  return join(dirname(path), `.${basename(path)}.${rand}.tmp`);
}

async function ensureWritableDir(path: string): Promise<void> {
  const dir = dirname(path);
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    const what = osErrorPhrase(e) ?? (e as Error).message;
    throw new BenteviError(`${path}: cannot create its folder ${dir} (${what})`);
  }
}

/**
 * Writes `data` to `path` atomically (temp file + rename).
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from "./atomic.ts";
 * const path = await Deno.makeTempFile();
 * await writeFileAtomic(path, "olá\n");
 * console.log(await Deno.readTextFile(path)); // "olá\n"
 * ```
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await withAtomicFile(path, async (file) => {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    let off = 0;
    while (off < bytes.length) off += await file.write(bytes.subarray(off));
  });
}

/**
 * Opens a temporary file beside `path`, lets `fn` write it, then renames it to `path`.
 * If `fn` throws, the temporary file is removed and the error re-thrown; `path` is untouched.
 * An OS error on write (no space left, read-only file system, permission denied…) becomes a
 * one-line `BenteviError` naming `path` (see `writeError`).
 *
 * @example
 * ```ts
 * import { withAtomicFile } from "./atomic.ts";
 * const path = await Deno.makeTempFile();
 * await withAtomicFile(path, async (file) => {
 *   await file.write(new TextEncoder().encode("linha 1\n"));
 * });
 * ```
 */
export async function withAtomicFile<T>(
  path: string,
  fn: (file: Deno.FsFile, tempPath: string) => Promise<T>,
): Promise<T> {
  await ensureWritableDir(path);
  const tmp = tempPathFor(path);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  } catch (e) {
    throw writeError(e, path);
  }
  let closed = false;
  try {
    const result = await fn(file, tmp);
    file.close();
    closed = true;
    await Deno.rename(tmp, path);
    return result;
  } catch (e) {
    if (!closed) {
      try {
        file.close();
      } catch { /* already closed */ }
    }
    await Deno.remove(tmp).catch(() => {});
    throw writeError(e, path);
  }
}

/**
 * Builds a directory atomically: `fn` fills a temporary directory beside `path`, which is
 * then renamed to `path` (replacing an existing one only when `replace` is true).
 *
 * @example
 * ```ts
 * import { withAtomicDir } from "./atomic.ts";
 * const root = await Deno.makeTempDir();
 * await withAtomicDir(`${root}/ckpt`, async (dir) => {
 *   await Deno.writeTextFile(`${dir}/config.json`, "{}");
 * });
 * ```
 */
export async function withAtomicDir<T>(
  path: string,
  fn: (tempDir: string) => Promise<T>,
  replace = false,
): Promise<T> {
  await ensureWritableDir(path);
  const tmp = tempPathFor(path);
  try {
    await Deno.mkdir(tmp, { recursive: true });
  } catch (e) {
    throw writeError(e, path);
  }
  try {
    const result = await fn(tmp);
    if (replace) {
      const old = `${tmp}.old`;
      let moved = false;
      try {
        await Deno.rename(path, old);
        moved = true;
      } catch { /* nothing to replace */ }
      try {
        await Deno.rename(tmp, path);
      } catch (e) {
        if (moved) await Deno.rename(old, path).catch(() => {}); // keep the earlier content
        throw e;
      }
      if (moved) await Deno.remove(old, { recursive: true }).catch(() => {});
    } else {
      await Deno.rename(tmp, path);
    }
    return result;
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw writeError(e, path);
  }
}
