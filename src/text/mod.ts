/**
 * Public API of src/text (re-exported by the top-level mod.ts): Portuguese sentence and
 * paragraph boundaries, character classes, and reading input text — encodings and strict
 * UTF-8 (encoding.ts), listing input files (inputs.ts), streaming files in chunks and line
 * ranges (read.ts), and documents from text and JSONL files (documents.ts).
 *
 * @example
 * ```ts
 * import { segmentSentences } from "./mod.ts";
 * console.log(segmentSentences("A Sra. Lima chegou. Saiu.").length); // 2
 * ```
 *
 * @module
 */
export {
  type Boundaries,
  BOUNDARY,
  type BoundaryLevel,
  type BoundarySink,
  findBoundaries,
  PT_ABBREVIATIONS,
  SCAN_LOOKBEHIND,
  scanBoundaries,
  type SegmentOptions,
  segmentSentences,
  type Sentence,
} from "./sentences.ts";
export {
  bytePosition,
  ChunkDecoder,
  type ChunkDecoderOptions,
  decodeLatin1,
  decodeTextStream,
  decodeTextStrict,
  findInvalidUtf8,
  InvalidUtf8Error,
  parseEncoding,
  type TextEncoding,
  type Utf8ErrorPosition,
} from "./encoding.ts";
export { type InputFile, listInputFiles, type ListInputOptions } from "./inputs.ts";
export {
  type LineRange,
  positionInFile,
  type ReadChunksOptions,
  readLineRange,
  readText,
  readTextChunks,
  type ReadTextOptions,
} from "./read.ts";
export {
  isJsonlPath,
  type PlainTextSplit,
  readDocuments,
  type ReadDocumentsOptions,
  type TextDocument,
} from "./documents.ts";
export { charClasses, snapToCodePoint } from "./chars.ts";
