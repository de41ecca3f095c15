/**
 * Public API of src/tokenizer (re-exported by the top-level mod.ts): a byte-level BPE
 * tokenizer in the Hugging Face design, reading and writing `tokenizer.json`, and its trainer.
 *
 * @example
 * ```ts
 * import { Tokenizer, trainTokenizer } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/corpus.txt`, "Olá, mundo! Olá, bem-te-vi!\n".repeat(50));
 * const tok = await trainTokenizer([dir], { vocabSize: 300 }); // files or folders
 * await tok.save(`${dir}/tokenizer.json`);
 * const again = await Tokenizer.fromFile(`${dir}/tokenizer.json`);
 * console.log(again.decode(again.encode("Olá, mundo!"))); // "Olá, mundo!"
 * ```
 *
 * @module
 */
export {
  type DecodeOptions,
  type EncodeOptions,
  type EncodingWithOffsets,
  type StreamDecoder,
  Tokenizer,
} from "./tokenizer.ts";
export {
  countPieces,
  DEFAULT_SPECIAL_TOKENS,
  learnMerges,
  learnMergesJson,
  type PieceCounts,
  SPM_DEFAULT_EXTRA_SPECIALS,
  type TrainOptions as TokenizerTrainOptions,
  trainTokenizer,
  trainTokenizerJson,
} from "./trainer.ts";
export { spmPieces } from "./sentencepiece.ts";
export { type AddedToken } from "./hf_json.ts";
export {
  BENTEVI_CHAT_TEMPLATE,
  benteviTokenizerConfig,
  type ChatMessage,
  type ChatRenderOptions,
  ChatTemplate,
  type ChatTemplateTokens,
} from "./chat_template.ts";
export { NORMALIZE_STEPS } from "./normalizer.ts";
export {
  GPT2_PATTERN,
  GPT4_PATTERN,
  type PrependScheme,
  PreTokenizer,
  type SplitBehavior,
} from "./pre_tokenizer.ts";
export { Decoder } from "./decoders.ts";
export { PostProcessor, type SpecialIds } from "./post_processor.ts";
// Reading input text lives in src/text; these names stay importable from here too.
export {
  listInputFiles,
  parseEncoding,
  readText,
  readTextChunks,
  type TextEncoding,
} from "../text/mod.ts";
