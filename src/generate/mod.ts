/**
 * Public API of src/generate (re-exported by the top-level mod.ts): sampling, the inference
 * models (GPT with a KV cache, RWKV as an RNN), the generation loop with streaming, the chat
 * session with personas and slash commands, perplexity, and the decode benchmark.
 *
 * @example
 * ```ts
 * import { Sampler } from "./mod.ts";
 * const sampler = new Sampler({ temperature: 0.7, topK: 40, seed: 42 });
 * console.log(sampler.sample(new Float32Array([0.5, 2.0, -1.0])));
 * ```
 *
 * @module
 */
export {
  applyRepetitionPenalty,
  type Candidate,
  checkSamplingValue,
  type ResolvedSampling,
  resolveSampling,
  Rng,
  type SampledCandidate,
  Sampler,
  type SamplingOptions,
  type SamplingTrace,
  topCandidates,
} from "./sampler.ts";
export {
  createLanguageModel,
  type LanguageModel,
  loadModelState,
  saveModelState,
  type WeightMap,
} from "./inference.ts";
export { GptInference } from "../model/gpt/inference.ts";
export { RwkvInference } from "../model/rwkv/inference.ts";
export { LlamaInference } from "../model/llama/inference.ts";
export {
  checkLogits,
  EXPLAIN_DEFAULTS,
  type ExplainedCandidate,
  explainedChoice,
  feedTo,
  type FinishReason,
  generate,
  type GenerateOptions,
  type GenerationResult,
  type GenerationTokenizer,
  type HeadFocus,
  probabilityOf,
  type TokenAttention,
  tokenAttention,
  type TokenStep,
} from "./generator.ts";
export {
  type GenerationModel,
  openGenerationModel,
  type OpenOptions,
  perplexity,
  type PerplexityResult,
} from "./load.ts";
export {
  type ChatFormat,
  chatFormatFor,
  type ChatFormatTokenizer,
  type EncodableMessage,
  encodeChat,
  type EncodedChat,
} from "./chat_format.ts";
export {
  CHAT_TOKENS,
  type ChatOptions,
  type ChatReply,
  ChatSession,
  type ChatStats,
  type ChatTurn,
  ContextLengthError,
  type ReplyOptions,
} from "./chat.ts";
export {
  appendFeedback,
  CHAT_HELP,
  type CommandContext,
  type CommandResult,
  type FeedbackRecord,
  formatExplain,
  runCommand,
} from "./commands.ts";
export { DEFAULT_SYSTEM_PROMPT, findPersona, type Persona, PERSONAS } from "./personas.ts";
export {
  type DecodeBenchOptions,
  type DecodeFigure,
  measureDecode,
  measureKvSpeedup,
  measureRwkvPositions,
  runDecodeBench,
} from "./bench.ts";
