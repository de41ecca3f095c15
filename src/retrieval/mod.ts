/**
 * Public API of src/retrieval (re-exported by the top-level mod.ts): an index of the user's
 * documents (text, Markdown, JSONL wiki shards, HTML, PDF, DOCX) in SQLite with FTS5 BM25 and
 * optional dense vectors, search (BM25, dense, hybrid by reciprocal-rank fusion), evaluation
 * (recall@k, MRR) and the grounded-answer prompt.
 *
 * @example
 * ```ts
 * import { buildIndex, retrieve } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/cafe.md`, "# Café\n\nO café chegou ao Brasil em 1727.");
 * await buildIndex([dir], { index: `${dir}/i.db` });
 * for (const h of await retrieve(`${dir}/i.db`, "cafe brasil", 3)) console.log(h.score, h.text);
 * ```
 *
 * @module
 */
export { analyzeTerms, foldAccents, ftsQuery, isStopword } from "./analyzer.ts";
export {
  buildIndex,
  type BuildIndexOptions,
  type BuildReport,
  updateIndex,
  type UpdateIndexOptions,
} from "./build.ts";
export {
  htmlMainText,
  readSections,
  type Section,
  sectionText,
  SOURCE_EXTENSIONS,
  type SourceKind,
  sourceKind,
  UnreadableFile,
} from "./ingest.ts";
export { type IndexInfo, indexInfo } from "./info.ts";
export { type EvalQuery, type EvalReport, evaluateRetrieval, readQueries } from "./eval.ts";
export {
  formatSource,
  retrieve,
  Retriever,
  RRF_K,
  SEARCH_MODES,
  type SearchHit,
  type SearchMode,
  type SearchOptions,
} from "./search.ts";
export { INDEX_FORMAT, INDEX_VERSION, type IndexSettings } from "./store.ts";
export {
  citationLines,
  fitPassages,
  GROUNDED_INSTRUCTION,
  groundedExample,
  groundedPrompt,
  type GroundedPromptOptions,
  type GroundedTurn,
  groundedTurn,
  type GroundedTurnOptions,
  type Passage,
  promptRoom,
  RAG_HELP,
  type RagState,
  runRagCommand,
  tokenCounter,
} from "./rag.ts";
