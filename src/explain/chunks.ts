/**
 * The chunker made visible (the chat's `/chunk-demo`, `/chunk-stats`, `/optimize-chunks` and
 * `bentevi learn`): a text cut live with its boundaries marked, the quality report of
 * `chunk analyze` on those chunks, and every strategy tried on the same text and budget,
 * ranked — all through the real chunker (`src/chunking/`), nothing re-implemented.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { type AnalysisReport, analyzeChunks } from "../chunking/analyze.ts";
import { chunkText } from "../chunking/engine.ts";
import { type Chunk, type ChunkOptions, STRATEGIES, type Strategy } from "../chunking/types.ts";

/** A text chunked for display: the options used, the chunks, and the text with boundaries. */
export interface ChunkDemo {
  /** The text. */
  text: string;
  /** The options (strategy, budget, overlap, counter). */
  options: ChunkOptions;
  /** The chunks (offsets into `text`). */
  chunks: Chunk[];
}

/** The default budget of a demo: small, so a sentence or two already shows several cuts. */
export const DEMO_MAX_TOKENS = 16;

/**
 * Chunks `text` with `options` (default: recursive, {@link DEMO_MAX_TOKENS} per chunk).
 *
 * @example
 * ```ts
 * import { chunkDemo, formatChunkDemo } from "./chunks.ts";
 * const demo = chunkDemo("O bem-te-vi canta. A chuva cai no telhado. O dia nasce.", { maxTokens: 25 });
 * console.log(demo.chunks.length); // 3
 * console.log(formatChunkDemo(demo));
 * ```
 */
export function chunkDemo(text: string, options: ChunkOptions = {}): ChunkDemo {
  if (!text.trim()) throw new BenteviError("nothing to chunk: give a text");
  const o = { strategy: "recursive" as Strategy, maxTokens: DEMO_MAX_TOKENS, ...options };
  return { text, options: o, chunks: chunkText(text, o) };
}

/** The unit a demo's budget counts. */
function unitOf(options: ChunkOptions): string {
  return options.counter?.unit ?? (options.counter ? "tokens" : "chars");
}

/**
 * A {@link ChunkDemo} for a terminal: one line per chunk (offsets, size, text) and the text
 * with `│` at every boundary.
 *
 * @example
 * ```ts
 * import { chunkDemo, formatChunkDemo } from "./chunks.ts";
 * console.log(formatChunkDemo(chunkDemo("Um. Dois. Três.", { maxTokens: 6 })).split("\n")[0]);
 * ```
 */
export function formatChunkDemo(demo: ChunkDemo): string {
  const o = demo.options, unit = unitOf(o);
  const lines = [
    `${demo.chunks.length} chunks, strategy ${o.strategy}, at most ${o.maxTokens} ${unit}` +
    (o.overlap ? `, overlap ${o.overlap}` : ""),
  ];
  for (const c of demo.chunks) {
    lines.push(
      `  #${c.index} [${c.start}, ${c.end}) ${String(c.tokens).padStart(3)} ${unit}  ${
        JSON.stringify(c.text)
      }`,
    );
  }
  // Boundaries in the text (with overlap a chunk starts before the previous one ends).
  let marked = "", at = 0;
  for (const c of demo.chunks) {
    const cut = Math.max(at, c.end);
    marked += demo.text.slice(at, cut) + (c.index < demo.chunks.length - 1 ? "│" : "");
    at = cut;
  }
  lines.push(`boundaries: ${marked.replace(/\n/g, "⏎")}`);
  return lines.join("\n");
}

/** One strategy's result in {@link compareStrategies}. */
export interface StrategyScore {
  /** The strategy. */
  strategy: Strategy;
  /** Its chunks' quality report (`chunk analyze`). */
  report: AnalysisReport;
}

/**
 * Every strategy on the same text and budget, best first: by the share of chunks ending on a
 * sentence end, then by cohesion (`within − across`), then by even sizes (lower coefficient of
 * variation); on a tie, `options.strategy` first.
 *
 * @example
 * ```ts
 * import { compareStrategies } from "./chunks.ts";
 * const text = "O gato mia. O gato dorme muito.\n\nA bolsa subiu. A bolsa caiu ontem.";
 * console.log(compareStrategies(text, { maxTokens: 40 })[0].report.sentence_end_share); // 1
 * ```
 */
export function compareStrategies(text: string, options: ChunkOptions = {}): StrategyScore[] {
  const rows = STRATEGIES.map((strategy) => {
    const { chunks } = chunkDemo(text, { ...options, strategy, minTokens: undefined });
    return { strategy, report: analyzeChunks(chunks, { source: text }) };
  });
  const current = options.strategy ?? "recursive";
  return rows.sort((a, b) =>
    b.report.sentence_end_share - a.report.sentence_end_share ||
    b.report.cohesion.score - a.report.cohesion.score ||
    a.report.tokens.cv - b.report.tokens.cv ||
    Number(b.strategy === current) - Number(a.strategy === current)
  );
}

/**
 * The `chunk analyze` report of a demo's chunks, for a terminal.
 *
 * @example
 * ```ts
 * import { chunkDemo, formatChunkStats } from "./chunks.ts";
 * console.log(formatChunkStats(chunkDemo("Um. Dois. Três.", { maxTokens: 6 })));
 * ```
 */
export function formatChunkStats(demo: ChunkDemo): string {
  const r = analyzeChunks(demo.chunks, { source: demo.text });
  const unit = unitOf(demo.options);
  const s = r.tokens;
  return [
    `${r.chunks} chunks; ${unit}: min ${s.min}, median ${s.median}, mean ${s.mean}, max ${s.max} ` +
    `(coefficient of variation ${s.cv})`,
    `sentence starts ${pct(r.sentence_start_share)}, sentence ends ${
      pct(r.sentence_end_share)
    }, overlap ${pct(r.overlap_share)}`,
    `cohesion: within chunks ${r.cohesion.within}, across boundaries ${r.cohesion.across}, ` +
    `score ${r.cohesion.score}`,
    `offsets ${r.source_check?.ok ? "match the text exactly" : "DO NOT match the text"}`,
  ].join("\n");
}

const pct = (x: number) => `${Math.round(100 * x)}%`;

/**
 * `/optimize-chunks`: the suggestions of `chunk analyze` for the demo's chunks, then every
 * strategy on the same text and budget, ranked ({@link compareStrategies}).
 *
 * @example
 * ```ts
 * import { chunkDemo, formatOptimization } from "./chunks.ts";
 * console.log(formatOptimization(chunkDemo("Um. Dois. Três. Quatro.", { maxTokens: 8, strategy: "fixed" })));
 * ```
 */
export function formatOptimization(demo: ChunkDemo): string {
  const r = analyzeChunks(demo.chunks, { source: demo.text });
  const lines = ["suggestions for these chunks:", ...r.suggestions.map((s) => `  - ${s}`)];
  const ranked = compareStrategies(demo.text, demo.options);
  lines.push(`every strategy at ${demo.options.maxTokens} ${unitOf(demo.options)}, best first:`);
  for (const { strategy, report: x } of ranked) {
    lines.push(
      `  ${strategy.padEnd(9)} ${String(x.chunks).padStart(3)} chunks, sentence ends ${
        pct(x.sentence_end_share).padStart(4)
      }, cohesion ${x.cohesion.score.toFixed(3)}, size cv ${x.tokens.cv}` +
        (strategy === demo.options.strategy ? "  ← current" : ""),
    );
  }
  if (ranked[0].strategy !== demo.options.strategy) {
    lines.push(`try: /chunk-demo --strategy ${ranked[0].strategy} … (same text)`);
  }
  return lines.join("\n");
}
