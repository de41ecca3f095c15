/**
 * Fine-tuning: `finetune`'s workflow ({@link startFinetune}), its data (chat records and
 * documents → examples whose loss is taken on the answers), the example sampler, the vocabulary
 * growth for chat tokens a base lacks, learning from the chat's feedback (DPO), and LoRA
 * adapters (the adapted training model, PEFT files, merging).
 *
 * @example
 * ```ts
 * import { LORA_DEFAULTS, LoraPlan, parseChatText } from "./mod.ts";
 * import { presetConfig } from "../model/mod.ts";
 * const plan = new LoraPlan(presetConfig("llama-micro", 64), { ...LORA_DEFAULTS });
 * console.log(plan.settings.targets.length, plan.parameterCount); // 7 77824
 * console.log(parseChatText("<|user|>Oi\n<|assistant|>Olá!", "x")?.length); // 2
 * ```
 *
 * @module
 */
export {
  LORA_DEFAULTS,
  LoraModel,
  type LoraModelOptions,
  LoraPlan,
  type LoraSettings,
  type LoraSite,
  loraTensorNames,
  type LoraUpdate,
  mergeLora,
  mergeUpdates,
} from "./lora.ts";
export {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  type AdapterContents,
  type BaseIdentity,
  baseIdentity,
  isAdapterDir,
  loadAdapter,
  type LoadedAdapter,
  PEFT_PREFIX,
  peftConfigJson,
  saveAdapter,
} from "./adapter_files.ts";
export { mergeAdapter, type MergeAdapterOptions, type MergeAdapterResult } from "./merge.ts";
export {
  AdapterBank,
  type AdapterRef,
  loadAdapters,
  type NamedAdapter,
  parseAdapterRef,
  resolveAdapterDir,
  withAdapters,
} from "./bank.ts";
export {
  buildExamples,
  CHAT_ROLES,
  type ChatRecord,
  checkMessages,
  type DocumentRecord,
  type Example,
  type ExampleOptions,
  fillRow,
  type FinetuneRecord,
  parseChatText,
  readFinetuneRecords,
  type SkipCounts,
} from "./data.ts";
export { evaluateExamples, ExampleSampler, exampleSource, ShuffledDeck } from "./source.ts";
export { addSpecialTokens, growVocabulary } from "./vocab.ts";
export { FINETUNE_DEFAULTS, type FinetuneSpec } from "./options.ts";
export { type LoraRun, loraRunModel, type LoraRunOptions, type LoraRunSpec } from "./lora_run.ts";
export {
  DPO_BETA,
  type FeedbackCounts,
  type FeedbackData,
  type FeedbackItem,
  feedbackSource,
  type FeedbackSourceOptions,
  pairExamples,
  type PreferencePair,
  readFeedback,
  sequenceLogProb,
} from "./feedback.ts";
export {
  finetuneContextOf,
  type FinetuneOptions,
  type FinetuneSummary,
  startFinetune,
} from "./finetune.ts";
