/**
 * Writing token files in llm.c's format, atomically: all at once
 * ({@link writeTokenDataset}) or streamed in pieces ({@link TokenDatasetWriter}).
 *
 * @module
 */
import { BenteviError, osErrorPhrase, writeError } from "../../errors.ts";
import { tempPathFor, withAtomicFile } from "../../io/atomic.ts";
import { dirname } from "node:path";
import {
  encodeHeader,
  HEADER_BYTES,
  MAX_VOCAB_SIZE,
  type TokenFileHeader,
  versionForVocab,
} from "./format.ts";

/** Options for {@link writeTokenDataset}. */
export interface WriteTokenDatasetOptions {
  /** Vocabulary size: > 65,536 writes version 2 (uint32). Default: max token id + 1. */
  vocabSize?: number;
}

function checkVocab(vocabSize: number, path: string): void {
  if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize > MAX_VOCAB_SIZE) {
    throw new BenteviError(`${path}: invalid vocabulary size ${vocabSize}`);
  }
}

function toTyped(
  tokens: ArrayLike<number>,
  start: number,
  end: number,
  version: 1 | 2,
  limit: number,
  path: string,
): Uint8Array {
  const out = version === 1 ? new Uint16Array(end - start) : new Uint32Array(end - start);
  for (let i = start; i < end; i++) {
    const t = tokens[i];
    if (!Number.isInteger(t) || t < 0 || t >= limit) {
      throw new BenteviError(
        `${path}: token ${t} at index ${i} is outside the vocabulary (0..${limit - 1})`,
      );
    }
    out[i - start] = t;
  }
  return new Uint8Array(out.buffer);
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await file.write(bytes.subarray(off));
}

/**
 * Writes `tokens` to `path` in llm.c's format (atomically). Version 2 (uint32) when the
 * vocabulary exceeds 65,536.
 *
 * @example
 * ```ts
 * import { writeTokenDataset } from "../mod.ts";
 * const path = (await Deno.makeTempDir()) + "/val.bin";
 * await writeTokenDataset(path, [1, 2, 3], { vocabSize: 50257 });
 * console.log((await Deno.stat(path)).size); // 1030
 * ```
 */
export async function writeTokenDataset(
  path: string,
  tokens: ArrayLike<number>,
  options: WriteTokenDatasetOptions = {},
): Promise<void> {
  let vocabSize = options.vocabSize;
  if (vocabSize === undefined) {
    let max = -1;
    for (let i = 0; i < tokens.length; i++) if (tokens[i] > max) max = tokens[i];
    vocabSize = Math.max(1, max + 1);
  }
  checkVocab(vocabSize, path);
  const version = versionForVocab(vocabSize);
  await withAtomicFile(path, async (file) => {
    await writeAll(file, encodeHeader({ version, count: tokens.length, vocabSize }));
    const step = 1 << 20;
    for (let i = 0; i < tokens.length; i += step) {
      const end = Math.min(tokens.length, i + step);
      await writeAll(file, toTyped(tokens, i, end, version, vocabSize!, path));
    }
  });
}

/**
 * Streams a token file: `append` pieces, then `finish` (writes the header and renames the
 * temporary file into place) or `abort` (removes it).
 *
 * @example
 * ```ts
 * import { TokenDatasetWriter } from "../mod.ts";
 * const path = (await Deno.makeTempDir()) + "/train.bin";
 * const w = await TokenDatasetWriter.create(path, { vocabSize: 300 });
 * await w.append([1, 2]);
 * await w.append([3]);
 * console.log(await w.finish()); // 3
 * ```
 */
export class TokenDatasetWriter {
  readonly path: string;
  readonly version: 1 | 2;
  readonly vocabSize: number;
  #file: Deno.FsFile;
  #tmp: string;
  #count = 0;
  #done = false;

  private constructor(path: string, tmp: string, file: Deno.FsFile, vocabSize: number) {
    this.path = path;
    this.#tmp = tmp;
    this.#file = file;
    this.vocabSize = vocabSize;
    this.version = versionForVocab(vocabSize);
  }

  /** Opens a temporary file beside `path` for writing. */
  static async create(
    path: string,
    options: { vocabSize: number },
  ): Promise<TokenDatasetWriter> {
    checkVocab(options.vocabSize, path);
    try {
      await Deno.mkdir(dirname(path), { recursive: true });
    } catch (e) {
      throw new BenteviError(
        `${path}: cannot create its folder ${dirname(path)} (${
          osErrorPhrase(e) ?? (e as Error).message
        })`,
      );
    }
    const tmp = tempPathFor(path);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(tmp, { read: true, write: true, create: true, truncate: true });
    } catch (e) {
      throw writeError(e, path);
    }
    const w = new TokenDatasetWriter(path, tmp, file, options.vocabSize);
    try {
      await writeAll(file, encodeHeader({ version: w.version, count: 0, vocabSize: w.vocabSize }));
    } catch (e) {
      await w.abort();
      throw writeError(e, path);
    }
    return w;
  }

  /** Tokens appended so far. */
  get count(): number {
    return this.#count;
  }

  /** Appends tokens (validated against the vocabulary size). */
  async append(tokens: ArrayLike<number>): Promise<void> {
    if (this.#done) throw new Error("TokenDatasetWriter used after finish/abort");
    try {
      await writeAll(
        this.#file,
        toTyped(tokens, 0, tokens.length, this.version, this.vocabSize, this.path),
      );
    } catch (e) {
      await this.abort();
      throw writeError(e, this.path);
    }
    this.#count += tokens.length;
  }

  /**
   * Removes the tokens from index `from` to the end and returns them (used to move the last
   * document of one split to the other).
   */
  async takeTail(from: number): Promise<Uint32Array> {
    if (this.#done) throw new Error("TokenDatasetWriter used after finish/abort");
    if (!(from >= 0 && from <= this.#count)) throw new RangeError(`takeTail(${from})`);
    const bpt = this.version === 1 ? 2 : 4;
    const bytes = new Uint8Array((this.#count - from) * bpt);
    try {
      await this.#file.seek(HEADER_BYTES + from * bpt, Deno.SeekMode.Start);
      let off = 0;
      while (off < bytes.length) {
        const n = await this.#file.read(bytes.subarray(off));
        if (n === null) break;
        off += n;
      }
      await this.#file.truncate(HEADER_BYTES + from * bpt);
      await this.#file.seek(0, Deno.SeekMode.End);
    } catch (e) {
      await this.abort();
      throw writeError(e, this.path);
    }
    this.#count = from;
    return Uint32Array.from(
      this.version === 1 ? new Uint16Array(bytes.buffer) : new Uint32Array(bytes.buffer),
    );
  }

  /** Writes the header, closes and renames into place; returns the token count. */
  async finish(): Promise<number> {
    if (this.#done) throw new Error("TokenDatasetWriter used after finish/abort");
    try {
      const header: TokenFileHeader = {
        version: this.version,
        count: this.#count,
        vocabSize: this.vocabSize,
      };
      await this.#file.seek(0, Deno.SeekMode.Start);
      await writeAll(this.#file, encodeHeader(header));
      this.#file.close();
      this.#done = true;
      await Deno.rename(this.#tmp, this.path);
    } catch (e) {
      await this.abort();
      throw writeError(e, this.path);
    }
    return this.#count;
  }

  /** Discards the temporary file. */
  async abort(): Promise<void> {
    if (!this.#done) {
      this.#done = true;
      try {
        this.#file.close();
      } catch { /* already closed */ }
    }
    await Deno.remove(this.#tmp).catch(() => {});
  }
}
