/**
 * Public API of src/chunking (re-exported by the top-level mod.ts): token-aware, lossless
 * chunking of (Portuguese) text with the fixed, sentence, semantic, adaptive and recursive
 * strategies, overlap for any of them, streaming, quality analysis and a benchmark.
 *
 * @example
 * ```ts
 * import { chunkText } from "./mod.ts";
 * const text = "O Sr. Silva chegou cedo. Trouxe 3,14 kg de café.\n\nNinguém o esperava.";
 * for (const c of chunkText(text, { strategy: "sentence", maxTokens: 60 })) {
 *   console.log(c.index, c.start, c.end, c.tokens, JSON.stringify(c.text));
 * }
 * ```
 *
 * @module
 */
export {
  charCounter,
  type Chunk,
  type ChunkOptions,
  type ResolvedOptions,
  resolveOptions,
  STRATEGIES,
  type Strategy,
  type TextEmbed,
  type TokenCounter,
} from "./types.ts";
export { Chunker, chunkStream, chunkText } from "./engine.ts";
export {
  EMBEDDER_KIND,
  embedderOf,
  type ModelEmbedder,
  modelEmbedder,
  type ModelEmbedderOptions,
} from "./embedding.ts";
export { denseCosine } from "./semantic.ts";
export {
  type AnalysisReport,
  analyzeChunks,
  type ChunkSizeStats,
  endsOnSentence,
  parseChunksJsonl,
  sentenceEndShare,
} from "./analyze.ts";
export {
  benchChunking,
  type ChunkBenchOptions,
  type ChunkBenchRow,
  chunkBenchTable,
} from "./bench.ts";
