/**
 * Public API of src/data (re-exported by the top-level mod.ts): token datasets in llm.c's
 * format (reader, writer, batch loader), the Wikipedia dump reader and wikitext cleaner, and
 * the corpus tools.
 *
 * @module
 */
export {
  encodeHeader,
  HEADER_BYTES,
  parseHeader,
  TOKEN_FILE_MAGIC,
  type TokenFileHeader,
} from "./dataset/format.ts";
export {
  BatchLoader,
  type BatchLoaderOptions,
  type BatchLoaderState,
  openTokenDataset,
  type OpenTokenDatasetOptions,
  openTokenDatasetSync,
  type TokenDataset,
} from "./dataset/loader.ts";
export {
  TokenDatasetWriter,
  writeTokenDataset,
  type WriteTokenDatasetOptions,
} from "./dataset/writer.ts";
export { cleanWikitext, countResidue, isRedirectText, type ResidueCounts } from "./wiki/cleaner.ts";
export { detectXmlEncoding, type WikiPage, WikiXmlParser } from "./wiki/xml.ts";
export { convertWikiDump, readWikiDump } from "./wiki/dump.ts";
export {
  type ConvertWikiOptions,
  processPage,
  type WikiArticle,
  type WikiDumpOptions,
  type WikiFormat,
  type WikiStats,
} from "./wiki/shards.ts";
export { cleanCorpus, type CleanStats, cleanText, type CleanTextOptions } from "./corpus/clean.ts";
export {
  auditCorpus,
  type AuditReport,
  type EncodingProblem,
  formatAudit,
} from "./corpus/audit.ts";
export {
  buildDataset,
  type BuildDatasetOptions,
  type BuildDatasetResult,
} from "./dataset/build.ts";
export { type DatasetInfo, datasetInfo } from "./dataset/info.ts";
