/**
 * `chunk bench`: every strategy on the same in-memory text, timed (one warm-up pass of every strategy, then the median of a few runs, as the peer scripts time theirs), with chunk
 * counts, sizes and quality.
 *
 * @module
 */
import { charClasses } from "../text/chars.ts";
import { sentenceEndShare } from "./analyze.ts";
import { chunkText } from "./engine.ts";
import { STRATEGIES, type Strategy, type TokenCounter } from "./types.ts";

/** One strategy's figures. */
export interface ChunkBenchRow {
  /** MB (10^6 bytes of UTF-8 input) per second, median run. */
  mb_per_s: number;
  /** Median seconds. */
  seconds: number;
  /** Number of chunks. */
  chunks: number;
  /** Share of chunks ending on `.`, `!`, `?`, `…`, `"` or the end of the text. */
  sentence_end_share: number;
  /** Mean chunk size in the budget's unit. */
  mean_tokens: number;
  /** Smallest chunk. */
  min_tokens: number;
  /** Largest chunk. */
  max_tokens: number;
  /** Chunks over the budget (always 0; reported so the claim is checked on every run). */
  over_budget: number;
  /** Whether the chunks concatenate back to the input. */
  lossless: boolean;
}

/** Options for {@link benchChunking}. */
export interface ChunkBenchOptions {
  /** The budget. */
  maxTokens: number;
  /** How sizes are counted (characters by default). */
  counter?: TokenCounter;
  /** Runs per strategy; the median is reported (default 3). */
  repeat?: number;
  /** Which strategies (default: all). */
  strategies?: readonly Strategy[];
  /** Called after each strategy (for progress). */
  onResult?: (strategy: Strategy, row: ChunkBenchRow) => void;
}

/**
 * Runs every strategy on `text` (`bytes` = its UTF-8 size, for MB/s).
 *
 * @example
 * ```ts
 * import { benchChunking } from "./bench.ts";
 * const text = "Uma frase curta. ".repeat(200);
 * const rows = benchChunking(text, text.length, { maxTokens: 100, repeat: 1 });
 * console.log(rows.sentence.over_budget, rows.sentence.lossless); // 0 true
 * ```
 */
export function benchChunking(
  text: string,
  bytes: number,
  options: ChunkBenchOptions,
): Record<string, ChunkBenchRow> {
  const out: Record<string, ChunkBenchRow> = {};
  const repeat = Math.max(1, options.repeat ?? 3);
  charClasses(); // the one-time character table is start-up work, not chunking
  const strategies = options.strategies ?? STRATEGIES;
  // one warm-up pass of every strategy before any timing, so that the JIT-compiled code is
  // timed rather than the compiler, and no strategy gains from running after another
  const first = new Map(strategies.map((strategy) => [
    strategy,
    chunkText(text, { strategy, maxTokens: options.maxTokens, counter: options.counter }),
  ]));
  for (const strategy of strategies) {
    const secs: number[] = [];
    let chunks = first.get(strategy)!;
    for (let r = 0; r < repeat; r++) {
      const t0 = performance.now();
      chunks = chunkText(text, {
        strategy,
        maxTokens: options.maxTokens,
        counter: options.counter,
      });
      secs.push((performance.now() - t0) / 1000);
    }
    secs.sort((a, b) => a - b);
    const med = secs[Math.floor((secs.length - 1) / 2)];
    const sizes = chunks.map((c) => c.tokens);
    let joined = chunks.length === 0 ? text.length === 0 : chunks[0].start === 0;
    for (let i = 1; i < chunks.length && joined; i++) {
      joined = chunks[i].start === chunks[i - 1].end;
    }
    joined = joined && (chunks.length === 0 || chunks[chunks.length - 1].end === text.length);
    const row: ChunkBenchRow = {
      mb_per_s: Math.round((bytes / 1e6 / med) * 100) / 100,
      seconds: Math.round(med * 10000) / 10000,
      chunks: chunks.length,
      sentence_end_share: Math.round(sentenceEndShare(chunks) * 10000) / 10000,
      mean_tokens: chunks.length
        ? Math.round((sizes.reduce((a, b) => a + b, 0) / chunks.length) * 10) / 10
        : 0,
      min_tokens: chunks.length ? Math.min(...sizes) : 0,
      max_tokens: chunks.length ? Math.max(...sizes) : 0,
      over_budget: sizes.filter((s) => s > options.maxTokens).length,
      lossless: joined,
    };
    out[strategy] = row;
    options.onResult?.(strategy, row);
  }
  return out;
}

/**
 * Renders {@link benchChunking}'s rows as a table.
 *
 * @example
 * ```ts
 * import { chunkBenchTable } from "./bench.ts";
 * console.log(chunkBenchTable({}, "chars").split("\n")[0].startsWith("strategy")); // true
 * ```
 */
export function chunkBenchTable(rows: Record<string, ChunkBenchRow>, unit: string): string {
  const head = [
    "strategy",
    "MB/s",
    "chunks",
    `mean ${unit}`,
    `min`,
    `max`,
    "sentence-end",
    "lossless",
  ];
  const lines = [head];
  for (const [name, r] of Object.entries(rows)) {
    lines.push([
      name,
      r.mb_per_s.toFixed(1),
      String(r.chunks),
      r.mean_tokens.toFixed(0),
      String(r.min_tokens),
      String(r.max_tokens),
      r.sentence_end_share.toFixed(3),
      r.lossless ? "yes" : "NO",
    ]);
  }
  const widths = head.map((_, k) => Math.max(...lines.map((l) => l[k].length)));
  return lines.map((l) =>
    l.map((c, k) => (k === 0 ? c.padEnd(widths[k]) : c.padStart(widths[k]))).join("  ")
  )
    .join("\n");
}
