/**
 * Streaming bzip2 decompression: the native shim over the system libbz2, or the pure
 * JavaScript `unbzip2-stream` decoder as the fallback, behind one interface. Both decompress
 * multi-stream files (several bz2 streams back to back, as Wikipedia's multistream dumps are)
 * and turn truncated or corrupt input into a {@link BenteviError} naming the file and byte.
 *
 * @module
 */
import { unbzip2Stream } from "../deps.ts";
import { BenteviError } from "../errors.ts";
import { loadNative, NativeError, type NativeLibrary } from "./loader.ts";
import { readFileChunks } from "../io/read_chunks.ts";

// Reading a file in chunks lives in src/io (text input uses it too); re-exported for the
// native module's public API.
export { readFileChunks };

/** A push-style bzip2 decompressor. */
export interface Bz2Decompressor {
  /** True when backed by the native shim. */
  readonly native: boolean;
  /** Feeds compressed bytes; returns the decompressed bytes available so far (maybe none). */
  push(chunk: Uint8Array): Uint8Array[];
  /** Declares the end of input; returns the remaining output or throws when truncated. */
  end(): Uint8Array[];
  /** Releases native memory (idempotent; `end` calls it). */
  close(): void;
}

/** Options for {@link createBz2Decompressor} and friends. */
export interface Bz2Options {
  /** Name used in error messages (the file). */
  name?: string;
  /** Use the shim (default: when it loads); `false` forces the pure fallback. */
  native?: boolean;
}

/** True when `bytes` start with a bzip2 stream header (`BZh1`…`BZh9`). */
export function isBz2(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x42 && bytes[1] === 0x5a && bytes[2] === 0x68 &&
    bytes[3] >= 0x31 && bytes[3] <= 0x39;
}

function nativeErrorMessage(name: string, code: number, position: number, streams: number) {
  switch (code) {
    case NativeError.MAGIC:
      return streams === 0 && position <= 4
        ? `${name}: not a bzip2 file (bad header)`
        : `${name}: bytes after bzip2 stream ${streams} (near byte ${position}) are not bzip2 data`;
    case NativeError.DATA:
      return `${name}: corrupt bzip2 data near byte ${position}`;
    case NativeError.TRUNCATED:
      return `${name}: truncated bzip2 file (input ends inside a stream at byte ${position})`;
    case NativeError.EMPTY:
      return `${name}: empty bzip2 file`;
    case NativeError.MEMORY:
      return `${name}: out of memory while decompressing`;
    default:
      return `${name}: bzip2 decompression failed (code ${code}) near byte ${position}`;
  }
}

const OUT_CHUNK = 1 << 20;
/** Compressed bytes {@link decompressBz2} keeps fed ahead of the decoder (≈4 output chunks). */
const INPUT_AHEAD = 1 << 20;

class NativeBz2 implements Bz2Decompressor {
  readonly native = true;
  #lib: NativeLibrary;
  #handle: Deno.PointerValue;
  #out = new Uint8Array(OUT_CHUNK);
  #name: string;

  constructor(lib: NativeLibrary, name: string) {
    this.#lib = lib;
    this.#name = name;
    this.#handle = lib.symbols.bn_bz2_new();
    if (this.#handle === null) throw new BenteviError(`${name}: out of memory`);
  }

  #fail(code: number): never {
    const s = this.#lib.symbols;
    const pos = Number(s.bn_bz2_position(this.#handle));
    const streams = Number(s.bn_bz2_streams(this.#handle));
    this.close();
    throw new BenteviError(nativeErrorMessage(this.#name, code, pos, streams));
  }

  #drain(result: Uint8Array[]): void {
    const s = this.#lib.symbols;
    for (;;) {
      const out = this.#out;
      const n = Number(s.bn_bz2_pull(this.#handle, out, OUT_CHUNK));
      if (n < 0) this.#fail(n);
      if (n === 0) return;
      if (n >= OUT_CHUNK / 2) {
        // hand the buffer over without copying; pull into a fresh one next
        result.push(out.subarray(0, n));
        this.#out = new Uint8Array(OUT_CHUNK);
      } else {
        result.push(out.slice(0, n));
      }
    }
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#handle === null) throw new Error("bz2 decompressor used after close");
    const result: Uint8Array[] = [];
    const rc = this.#lib.symbols.bn_bz2_feed(this.#handle, chunk, chunk.length);
    if (rc !== 0) this.#fail(rc);
    this.#drain(result);
    return result;
  }

  end(): Uint8Array[] {
    if (this.#handle === null) throw new Error("bz2 decompressor used after close");
    const result: Uint8Array[] = [];
    this.#drain(result);
    const rc = this.#lib.symbols.bn_bz2_finish(this.#handle);
    if (rc !== 0) this.#fail(rc);
    this.close();
    return result;
  }

  close(): void {
    if (this.#handle !== null) {
      this.#lib.symbols.bn_bz2_free(this.#handle);
      this.#handle = null;
    }
  }
}

interface ThroughStream {
  on(event: string, fn: (arg: unknown) => void): void;
  write(data: Uint8Array): void;
  end(): void;
}

class FallbackBz2 implements Bz2Decompressor {
  readonly native = false;
  #stream: ThroughStream;
  #pending: Uint8Array[] = [];
  #error: unknown = null;
  #fed = 0;
  #name: string;
  #first = true;
  #head = new Uint8Array(0);
  #closed = false;

  constructor(name: string) {
    this.#name = name;
    this.#stream = unbzip2Stream() as unknown as ThroughStream;
    this.#stream.on("data", (b) => this.#pending.push(b as Uint8Array));
    this.#stream.on("error", (e) => {
      this.#error ??= e;
    });
  }

  #take(atEnd: boolean): Uint8Array[] {
    if (this.#error !== null) {
      const msg = String((this.#error as Error)?.message ?? this.#error);
      this.#closed = true;
      if (/magic|header/i.test(msg) && this.#fed > 0) {
        throw new BenteviError(`${this.#name}: not bzip2 data (bad stream header)`);
      }
      if (atEnd) {
        throw new BenteviError(
          `${this.#name}: truncated or corrupt bzip2 file (input ends at byte ${this.#fed})`,
        );
      }
      throw new BenteviError(
        `${this.#name}: corrupt bzip2 data at or before byte ${this.#fed} (${msg})`,
      );
    }
    const out = this.#pending;
    this.#pending = [];
    return out;
  }

  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#closed) throw new Error("bz2 decompressor used after close");
    if (chunk.length === 0) return [];
    if (this.#first) {
      // check the stream header before handing anything to the decoder
      const head = new Uint8Array(this.#head.length + chunk.length);
      head.set(this.#head);
      head.set(chunk, this.#head.length);
      if (head.length < 4) {
        this.#head = head;
        return [];
      }
      this.#first = false;
      this.#head = new Uint8Array(0);
      if (!isBz2(head)) {
        this.#closed = true;
        throw new BenteviError(`${this.#name}: not a bzip2 file (bad header)`);
      }
      chunk = head;
    }
    this.#fed += chunk.length;
    // unbzip2-stream keeps a reference to the buffer: pass a copy.
    this.#stream.write(chunk.slice());
    return this.#take(false);
  }

  end(): Uint8Array[] {
    if (this.#closed) throw new Error("bz2 decompressor used after close");
    if (this.#fed === 0) {
      this.#closed = true;
      throw new BenteviError(
        this.#head.length
          ? `${this.#name}: not a bzip2 file (bad header)`
          : `${this.#name}: empty bzip2 file`,
      );
    }
    try {
      this.#stream.end();
    } catch (e) {
      this.#error ??= e;
    }
    const out = this.#take(true);
    this.#closed = true;
    return out;
  }

  close(): void {
    this.#closed = true;
  }
}

/**
 * Creates a decompressor: the native one when the shim loads (unless `native: false`),
 * otherwise the pure fallback.
 *
 * @example
 * ```ts
 * import { createBz2Decompressor } from "./bz2.ts";
 * const bz = createBz2Decompressor({ name: "x.bz2", native: false });
 * console.log(bz.native); // false
 * bz.close();
 * ```
 */
export function createBz2Decompressor(options: Bz2Options = {}): Bz2Decompressor {
  const name = options.name ?? "bzip2 input";
  const lib = options.native === false ? null : loadNative();
  if (options.native === true && !lib) {
    throw new BenteviError(`${name}: the native shim is not available for bzip2`);
  }
  return lib ? new NativeBz2(lib, name) : new FallbackBz2(name);
}

/**
 * Decompresses a whole bzip2 buffer (one or more streams back to back) in one call, writing
 * into `into` when given — so a caller that decompresses many pieces reuses one buffer instead
 * of allocating (and zero-filling) fresh memory each time — or into a larger buffer when the
 * output does not fit. Returns the decompressed bytes: a view from the start of `into` or of
 * its replacement (keep `result.buffer` to reuse it next time).
 *
 * @example
 * ```ts ignore
 * import { decompressBz2Bytes } from "./bz2.ts";
 * let buf = new Uint8Array(1 << 20);
 * const xml = decompressBz2Bytes(await Deno.readFile("part.bz2"), { name: "part.bz2", into: buf });
 * buf = new Uint8Array(xml.buffer); // maybe grown
 * ```
 */
export function decompressBz2Bytes(
  input: Uint8Array,
  options: Bz2Options & { into?: Uint8Array } = {},
): Uint8Array {
  const name = options.name ?? "bzip2 input";
  const lib = options.native === false ? null : loadNative();
  if (options.native === true && !lib) {
    throw new BenteviError(`${name}: the native shim is not available for bzip2`);
  }
  let out = options.into ?? new Uint8Array(Math.max(1 << 16, input.length * 4));
  let written = 0;
  const grow = (need: number) => {
    const bigger = new Uint8Array(Math.max(out.length * 2, need));
    bigger.set(out.subarray(0, written));
    out = bigger;
  };
  if (!lib) {
    const bz = new FallbackBz2(name);
    try {
      for (const c of [...bz.push(input), ...bz.end()]) {
        if (written + c.length > out.length) grow(written + c.length);
        out.set(c, written);
        written += c.length;
      }
    } finally {
      bz.close();
    }
    return out.subarray(0, written);
  }
  const s = lib.symbols;
  const handle = s.bn_bz2_new();
  if (handle === null) throw new BenteviError(`${name}: out of memory`);
  const fail = (code: number): never => {
    const pos = Number(s.bn_bz2_position(handle));
    const streams = Number(s.bn_bz2_streams(handle));
    throw new BenteviError(nativeErrorMessage(name, code, pos, streams));
  };
  try {
    const rc = s.bn_bz2_feed(handle, input, input.length);
    if (rc !== 0) fail(rc);
    for (;;) {
      if (written === out.length) grow(out.length * 2);
      const room = Math.min(out.length - written, 0x7fffffff);
      const n = Number(s.bn_bz2_pull(handle, out.subarray(written), room));
      if (n < 0) fail(n);
      if (n === 0) break;
      written += n;
    }
    const end = s.bn_bz2_finish(handle);
    if (end !== 0) fail(end);
  } finally {
    s.bn_bz2_free(handle);
  }
  return out.subarray(0, written);
}

/**
 * Decompresses a stream of bzip2 chunks, yielding decompressed chunks as they come. With the
 * native shim the next chunk is decompressed on a background thread while the caller works on
 * the current one, so decompression and parsing use two cores.
 *
 * @example
 * ```ts ignore
 * import { decompressBz2 } from "./bz2.ts";
 * const file = await Deno.open("dump.xml.bz2");
 * for await (const chunk of decompressBz2(file.readable, { name: "dump.xml.bz2" })) {
 *   console.log(chunk.length);
 * }
 * ```
 */
export async function* decompressBz2(
  source: AsyncIterable<Uint8Array>,
  options: Bz2Options = {},
): AsyncGenerator<Uint8Array> {
  const name = options.name ?? "bzip2 input";
  const lib = options.native === false ? null : loadNative();
  if (options.native === true && !lib) {
    throw new BenteviError(`${name}: the native shim is not available for bzip2`);
  }
  if (!lib) {
    const bz = new FallbackBz2(name);
    try {
      for await (const chunk of source) yield* bz.push(chunk);
      yield* bz.end();
    } finally {
      bz.close();
    }
    return;
  }
  const s = lib.symbols;
  const handle = s.bn_bz2_new();
  if (handle === null) throw new BenteviError(`${name}: out of memory`);
  const fail = (code: number): never => {
    const pos = Number(s.bn_bz2_position(handle));
    const streams = Number(s.bn_bz2_streams(handle));
    throw new BenteviError(nativeErrorMessage(name, code, pos, streams));
  };
  const input = source[Symbol.asyncIterator]();
  let out = new Uint8Array(OUT_CHUNK);
  let fed = 0;
  let inputDone = false;
  // Keeps compressed input waiting in the decoder, so that every pull can fill a whole output
  // chunk on the background thread while the caller works on the previous one (feeding only
  // when a pull ran dry would make the caller wait for every other chunk).
  const refill = async () => {
    while (!inputDone && fed - Number(s.bn_bz2_position(handle)) < INPUT_AHEAD) {
      const next = await input.next();
      if (next.done) {
        inputDone = true;
        return;
      }
      const rc = s.bn_bz2_feed(handle, next.value, next.value.length);
      if (rc !== 0) fail(rc);
      fed += next.value.length;
    }
  };
  // at most one call into the decoder at a time: `pending` is the pull in flight
  let pending: Promise<number | bigint> | null = null;
  try {
    await refill();
    pending = s.bn_bz2_pull_async(handle, out, OUT_CHUNK);
    for (;;) {
      const n = Number(await pending);
      pending = null;
      if (n < 0) fail(n);
      if (n > 0) {
        const chunk = n >= OUT_CHUNK / 2 ? out.subarray(0, n) : out.slice(0, n);
        if (n >= OUT_CHUNK / 2) out = new Uint8Array(OUT_CHUNK);
        await refill();
        pending = s.bn_bz2_pull_async(handle, out, OUT_CHUNK); // runs while the caller works
        yield chunk;
        continue;
      }
      if (inputDone) {
        const rc = s.bn_bz2_finish(handle);
        if (rc !== 0) fail(rc);
        return;
      }
      await refill();
      pending = s.bn_bz2_pull_async(handle, out, OUT_CHUNK);
    }
  } finally {
    if (pending) await pending.catch(() => 0); // never free under a running pull
    s.bn_bz2_free(handle);
    await input.return?.();
  }
}

/**
 * Decompresses the bzip2 file at `path`, streaming.
 *
 * @example
 * ```ts ignore
 * import { readBz2File } from "./bz2.ts";
 * let total = 0;
 * for await (const chunk of readBz2File("dump.xml.bz2")) total += chunk.length;
 * ```
 */
export function readBz2File(path: string, options: Bz2Options = {}): AsyncGenerator<Uint8Array> {
  return decompressBz2(readFileChunks(path, 256 << 10), { name: path, ...options });
}
