/**
 * Whole-file read-only mapping: `mmap` through the native shim (zero-copy; the bytes are the
 * page cache) or `Deno.readFile` into memory as the fallback. Both give a `Uint8Array`.
 *
 * @module
 */
import { BenteviError, fsError } from "../errors.ts";
import { loadNative, NativeError } from "./loader.ts";

/** Access-pattern hint passed to `madvise`. */
export type MapAdvice = "normal" | "sequential" | "random" | "willneed";

/** Options for {@link mapFile}. */
export interface MapFileOptions {
  /** Use the shim (default: when it loads); `false` forces the `Deno.readFile` fallback. */
  native?: boolean;
  /** `madvise` hint (default "random"; ignored by the fallback). */
  advice?: MapAdvice;
}

/** A file's bytes, mapped or read. */
export interface MappedFile {
  /** The file's bytes (must not be used after {@link MappedFile.close}). */
  readonly bytes: Uint8Array;
  /** True when memory-mapped through the shim. */
  readonly mapped: boolean;
  /** Unmaps the file (no-op for the fallback); idempotent. */
  close(): void;
}

const ADVICE: Record<MapAdvice, number> = { normal: 0, sequential: 1, random: 2, willneed: 3 };

function errnoMessage(errno: number): string {
  switch (errno) {
    case 2:
      return "file not found";
    case 13:
      return "permission denied";
    case 19:
    case 21:
      return "is not a regular file";
    case 12:
      return "not enough address space to map it";
    default:
      return `cannot map it (errno ${errno})`;
  }
}

/**
 * Maps `path` read-only (private copy-on-write pages, so a write to the array can never reach
 * the file), or reads it when the shim is unavailable.
 *
 * @example
 * ```ts
 * import { mapFile } from "./mmap.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "olá");
 * const file = mapFile(path);
 * console.log(file.bytes.length); // 4
 * file.close();
 * ```
 */
export function mapFile(path: string, options: MapFileOptions = {}): MappedFile {
  const lib = options.native === false ? null : loadNative();
  if (options.native === true && !lib) {
    throw new BenteviError(`${path}: the native shim is not available for mmap`);
  }
  // The shim bypasses Deno's permission checks, so check --allow-read here.
  const readable = Deno.permissions.querySync({ name: "read", path }).state === "granted";
  if (!lib || !readable) {
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(path);
    } catch (e) {
      throw fsError(e, path);
    }
    return { bytes, mapped: false, close() {} };
  }
  const size = new BigUint64Array(1);
  const err = new Int32Array(1);
  const errno = new Int32Array(1);
  const cpath = new TextEncoder().encode(path + "\0");
  const ptr = lib.symbols.bn_mmap_file(cpath, ADVICE[options.advice ?? "random"], size, err, errno);
  if (err[0] !== 0) {
    const what = err[0] === NativeError.OPEN || err[0] === NativeError.MMAP
      ? errnoMessage(errno[0])
      : `native error ${err[0]}`;
    throw new BenteviError(`${path}: ${what}`);
  }
  const length = Number(size[0]);
  if (ptr === null || length === 0) return { bytes: new Uint8Array(0), mapped: true, close() {} };
  const bytes = new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(ptr, length));
  let open = true;
  return {
    bytes,
    mapped: true,
    close() {
      if (!open) return;
      open = false;
      lib.symbols.bn_munmap(ptr, size[0]);
    },
  };
}
