/**
 * Public API of src/text (re-exported by the top-level mod.ts): Portuguese sentence and
 * paragraph boundaries, character classes, and strict decoding of input files.
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
  decodeTextStream,
  decodeTextStrict,
  findInvalidUtf8,
  type TextEncodingName,
  type Utf8ErrorPosition,
} from "./encoding.ts";
export { charClasses, snapToCodePoint } from "./chars.ts";
