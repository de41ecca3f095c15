/**
 * Shared types of the chunkers: the chunk record, the token-counter interface that budgets are
 * measured with, and the options every strategy takes.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";

/** One chunk: a span of the exact input plus its size in the budget's unit. */
export interface Chunk {
  /** 0-based position in the output. */
  index: number;
  /** Offset of the first character in the input (UTF-16 code units, as JavaScript strings index). */
  start: number;
  /** Offset just past the last character. */
  end: number;
  /** Size of `text` in the budget's unit (tokens, or characters with a character budget), counted exactly. */
  tokens: number;
  /** `input.slice(start, end)`. */
  text: string;
}

/** Counting options of the chunker: a chunk's own tokens (no template tokens such as `<s>`). */
export const OWN_TOKENS: { readonly addSpecialTokens: false } = { addSpecialTokens: false };

/**
 * What a budget is measured with. Any Bentevi `Tokenizer` fits (it has `countTokens` and
 * `encodeWithOffsets`); {@link charCounter} measures characters.
 */
export interface TokenCounter {
  /**
   * Number of tokens of `text` on its own. The chunker passes `addSpecialTokens: false`: a
   * chunk's size is its own tokens, not those a tokenizer's template adds (e.g. `<s>`).
   */
  countTokens(text: string, options?: { addSpecialTokens?: boolean }): number;
  /** Token ids with each token's `[start, end)` UTF-16 offsets in `text` (lets `fixed` cut exactly at N tokens). */
  encodeWithOffsets?(
    text: string,
    options?: { addSpecialTokens?: boolean },
  ): { ids: ArrayLike<number>; offsets: ArrayLike<readonly [number, number]> };
  /** True when the count of a concatenation is always the sum of the counts (characters). */
  readonly additive?: boolean;
  /** What a count counts ("tokens", "chars"), for messages. */
  readonly unit?: string;
}

/**
 * Counts UTF-16 code units (JavaScript `length`, as LangChain's splitters do): the counter
 * behind `--max-chars`.
 *
 * @example
 * ```ts
 * import { charCounter } from "./types.ts";
 * console.log(charCounter.countTokens("ação")); // 4
 * ```
 */
export const charCounter: TokenCounter = {
  countTokens: (text: string) => text.length,
  additive: true,
  unit: "chars",
};

/** The chunking strategies. */
export const STRATEGIES = ["fixed", "sentence", "semantic", "adaptive", "recursive"] as const;

/** One of {@link STRATEGIES}. */
export type Strategy = typeof STRATEGIES[number];

/** Options for every chunker. */
export interface ChunkOptions {
  /** Which strategy (default "recursive"). */
  strategy?: Strategy;
  /** Budget: no chunk is larger than this, in the counter's unit (default 1000 characters). */
  maxTokens?: number;
  /** Preferred lower bound for semantic/adaptive (default max/4) and recursive/sentence (default 0). */
  minTokens?: number;
  /** Share of the budget repeated from the end of one chunk at the start of the next, 0 to 0.5. */
  overlap?: number;
  /** How sizes are measured (default {@link charCounter}). */
  counter?: TokenCounter;
  /** For "fixed": snap cuts back to a sentence or word boundary (default "none"). */
  preserve?: "none" | "words" | "sentences";
  /**
   * For "semantic": texts → vectors (e.g. a model's embeddings, `modelEmbedder(…).embed`);
   * topic shifts are then found by the cosine of the vectors of the sentences on each side of
   * a break instead of by their shared words. The chunker asks for the vectors of every unit
   * it holds at once (a batch); an asynchronous embedder (a model on a device) needs
   * `chunkStream` (or `Chunker.waiting`/`resume`), a synchronous one works everywhere.
   */
  embed?: TextEmbed;
}

/** Texts → one vector each, at once or later (see {@link ChunkOptions.embed}). */
export type TextEmbed = (texts: readonly string[]) => Float32Array[] | Promise<Float32Array[]>;

/** Options with every default filled in and checked. */
export interface ResolvedOptions {
  /** The strategy. */
  strategy: Strategy;
  /** The budget. */
  maxTokens: number;
  /** The preferred minimum. */
  minTokens: number;
  /** The overlap share. */
  overlap: number;
  /** The counter. */
  counter: TokenCounter;
  /** The `fixed` snap mode. */
  preserve: "none" | "words" | "sentences";
  /** The semantic strategy's embedder, if any. */
  embed?: TextEmbed;
}

/**
 * Fills defaults and rejects impossible options with a {@link BenteviError}.
 *
 * @example
 * ```ts
 * import { resolveOptions } from "./types.ts";
 * console.log(resolveOptions({ strategy: "semantic", maxTokens: 400 }).minTokens); // 100
 * ```
 */
export function resolveOptions(options: ChunkOptions = {}): ResolvedOptions {
  const strategy = options.strategy ?? "recursive";
  if (!(STRATEGIES as readonly string[]).includes(strategy)) {
    throw new BenteviError(
      `--strategy: unknown "${strategy}"; use one of ${STRATEGIES.join(", ")}`,
    );
  }
  const counter = options.counter ?? charCounter;
  const unit = counter.unit ?? "tokens";
  const maxTokens = options.maxTokens ?? 1000;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new BenteviError(
      `budget must be a whole number of at least 1 ${unit} (a chunk holds at least one token), got ${maxTokens}`,
    );
  }
  const defaultMin = strategy === "semantic" || strategy === "adaptive"
    ? Math.floor(maxTokens / 4)
    : 0;
  const minTokens = options.minTokens ?? defaultMin;
  if (!Number.isInteger(minTokens) || minTokens < 0 || minTokens > maxTokens) {
    throw new BenteviError(
      `--min-tokens must be a whole number between 0 and the budget (${maxTokens}), got ${minTokens}`,
    );
  }
  const overlap = options.overlap ?? 0;
  if (!Number.isFinite(overlap) || overlap < 0 || overlap > 0.5) {
    throw new BenteviError(
      `--overlap must be between 0 and 0.5 (a share of the budget), got ${overlap}`,
    );
  }
  const preserve = options.preserve ?? "none";
  if (!["none", "words", "sentences"].includes(preserve)) {
    throw new BenteviError(`--preserve must be none, words or sentences, got "${preserve}"`);
  }
  return { strategy, maxTokens, minTokens, overlap, counter, preserve, embed: options.embed };
}
