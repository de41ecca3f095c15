/**
 * Reading token files (mapped zero-copy through the native shim, or read into memory) and
 * the batch loader that feeds training: seeded random windows or a sequential walk, written
 * into caller-owned buffers (no allocation per batch), with exact resume.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import { mapFile } from "../../native/mmap.ts";
import { Xoshiro128 } from "../../random.ts";
import { HEADER_BYTES, MAX_VOCAB_SIZE, parseHeader } from "./format.ts";

/** An opened token file. */
export interface TokenDataset {
  /** The file it came from. */
  readonly path: string;
  /** The tokens (a view on the mapped file when mmapped: do not use after `close`). */
  readonly tokens: Uint16Array | Uint32Array;
  /** 1: uint16 tokens, 2: uint32 tokens. */
  readonly version: 1 | 2;
  /** Largest token id present (-1 when empty). */
  readonly maxTokenId: number;
  /** Vocabulary size recorded in the header (0 = unknown, e.g. files written by llm.c). */
  readonly vocabSize: number;
  /** True when the file is memory-mapped through the native shim. */
  readonly mapped: boolean;
  /** Releases the mapping (idempotent). */
  close(): void;
}

/** Options for {@link openTokenDataset}. */
export interface OpenTokenDatasetOptions {
  /** Use the shim's mmap (default: when it loads); `false` reads the file into memory. */
  native?: boolean;
}

function maxOf(tokens: Uint16Array | Uint32Array): number {
  let max = -1;
  for (let i = 0; i < tokens.length; i++) if (tokens[i] > max) max = tokens[i];
  return max;
}

/**
 * Opens an llm.c token file (`.bin`): validates the header and the size, then maps the
 * tokens (zero-copy) or reads them. Throws a {@link BenteviError} naming the file on a bad
 * magic, version or size.
 *
 * @example
 * ```ts
 * import { openTokenDataset, writeTokenDataset } from "../mod.ts";
 * const path = (await Deno.makeTempDir()) + "/train.bin";
 * await writeTokenDataset(path, [5, 6, 7], { vocabSize: 256 });
 * const ds = await openTokenDataset(path);
 * console.log(ds.tokens.length, ds.version, ds.maxTokenId); // 3 1 7
 * ds.close();
 * ```
 */
export function openTokenDataset(
  path: string,
  options: OpenTokenDatasetOptions = {},
): Promise<TokenDataset> {
  try {
    return Promise.resolve(openTokenDatasetSync(path, options));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** Synchronous {@link openTokenDataset}. */
export function openTokenDatasetSync(
  path: string,
  options: OpenTokenDatasetOptions = {},
): TokenDataset {
  const file = mapFile(path, { native: options.native, advice: "random" });
  try {
    const bytes = file.bytes;
    const header = parseHeader(bytes, path, bytes.length);
    const offset = bytes.byteOffset + HEADER_BYTES;
    const tokens = header.version === 1
      ? new Uint16Array(bytes.buffer, offset, header.count)
      : new Uint32Array(bytes.buffer, offset, header.count);
    const maxTokenId = maxOf(tokens);
    if (maxTokenId >= MAX_VOCAB_SIZE) {
      throw new BenteviError(
        `${path}: token id ${maxTokenId} is past the largest vocabulary accepted (${MAX_VOCAB_SIZE}); the file is corrupt`,
      );
    }
    if (header.vocabSize > 0 && maxTokenId >= header.vocabSize) {
      throw new BenteviError(
        `${path}: token id ${maxTokenId} is outside the vocabulary size ${header.vocabSize} recorded in the header`,
      );
    }
    return {
      path,
      tokens,
      version: header.version,
      maxTokenId,
      vocabSize: header.vocabSize,
      mapped: file.mapped,
      close: () => file.close(),
    };
  } catch (e) {
    file.close();
    throw e;
  }
}

/** A {@link BatchLoader}'s position, for exact resume (JSON-serialisable). */
export interface BatchLoaderState {
  /** Sequential mode: offset of the next window; random mode: windows drawn so far. */
  position: number;
  /** The xoshiro128** generator's four 32-bit words. */
  rng: [number, number, number, number] | number[];
}

/** Options for {@link BatchLoader}. */
export interface BatchLoaderOptions {
  /** Rows per batch (B). */
  batchSize: number;
  /** Tokens per row (T); each row reads a window of T+1 tokens. */
  context: number;
  /** Seed of the window sampler. */
  seed: number;
  /** "random" (default): seeded random windows; "sequential": consecutive windows, wrapping. */
  mode?: "random" | "sequential";
}

/**
 * Batches of `batchSize × context` input tokens and their next tokens, drawn from any
 * `{ tokens }` (an opened {@link TokenDataset} or an in-memory array). Deterministic for a
 * seed; `getState`/`setState` resume exactly.
 *
 * @example
 * ```ts
 * import { BatchLoader } from "../mod.ts";
 * const tokens = Uint16Array.from({ length: 100 }, (_, i) => i);
 * const loader = new BatchLoader({ tokens }, { batchSize: 2, context: 4, seed: 1 });
 * const x = new Int32Array(8), y = new Int32Array(8);
 * loader.next(x, y);
 * console.log(y[0] === x[0] + 1); // true
 * ```
 */
export class BatchLoader {
  readonly batchSize: number;
  readonly context: number;
  readonly mode: "random" | "sequential";
  #tokens: ArrayLike<number>;
  #typed: Uint16Array | Uint32Array | Int32Array | null;
  #rng: Xoshiro128;
  #position = 0;

  constructor(
    dataset: { tokens: ArrayLike<number>; path?: string },
    options: BatchLoaderOptions,
  ) {
    const { batchSize, context, seed } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new BenteviError(`batch size must be a positive integer, got ${batchSize}`);
    }
    if (!Number.isInteger(context) || context < 1) {
      throw new BenteviError(`context must be a positive integer, got ${context}`);
    }
    const mode = options.mode ?? "random";
    if (mode !== "random" && mode !== "sequential") {
      throw new BenteviError(`batch mode must be "random" or "sequential", got "${mode}"`);
    }
    const n = dataset.tokens.length;
    if (n < context + 1) {
      throw new BenteviError(
        `${
          dataset.path ?? "dataset"
        }: ${n} tokens is too short for context ${context} (needs at least ${context + 1})`,
      );
    }
    this.batchSize = batchSize;
    this.context = context;
    this.mode = mode;
    this.#tokens = dataset.tokens;
    const t = dataset.tokens;
    this.#typed = t instanceof Uint16Array || t instanceof Uint32Array || t instanceof Int32Array
      ? t
      : null;
    this.#rng = new Xoshiro128(seed);
  }

  #copy(start: number, inputs: Int32Array, targets: Int32Array, at: number): void {
    const T = this.context;
    const typed = this.#typed;
    if (typed) {
      inputs.set(typed.subarray(start, start + T), at);
      targets.set(typed.subarray(start + 1, start + T + 1), at);
    } else {
      const src = this.#tokens;
      for (let i = 0; i < T; i++) {
        inputs[at + i] = src[start + i];
        targets[at + i] = src[start + i + 1];
      }
    }
  }

  /**
   * Fills `inputs` and `targets` (each `batchSize × context`, row-major) with the next batch:
   * `targets[i]` is the token after `inputs[i]`.
   */
  next(inputs: Int32Array, targets: Int32Array): void {
    const B = this.batchSize, T = this.context;
    if (inputs.length !== B * T || targets.length !== B * T) {
      throw new RangeError(
        `BatchLoader.next: buffers must hold ${B}×${T} = ${
          B * T
        } values, got ${inputs.length} and ${targets.length}`,
      );
    }
    const n = this.#tokens.length;
    for (let b = 0; b < B; b++) {
      let start: number;
      if (this.mode === "random") {
        start = this.#rng.below(n - T);
        this.#position++;
      } else {
        if (this.#position + T + 1 > n) this.#position = 0;
        start = this.#position;
        this.#position += T;
      }
      this.#copy(start, inputs, targets, b * T);
    }
  }

  /** The loader's state (a copy), for checkpoints. */
  getState(): BatchLoaderState {
    return { position: this.#position, rng: this.#rng.getState() };
  }

  /** Restores a state from {@link BatchLoader.getState}: the next batches are identical. */
  setState(state: BatchLoaderState): void {
    const ok = state && Number.isInteger(state.position) && state.position >= 0 &&
      Array.isArray(state.rng) && state.rng.length === 4 &&
      state.rng.every((v) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff) &&
      state.rng.some((v) => v !== 0);
    if (!ok) throw new BenteviError("invalid batch loader state (position and 4 rng words)");
    this.#position = state.position;
    this.#rng.setState(state.rng);
  }
}
