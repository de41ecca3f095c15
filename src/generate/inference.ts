/**
 * The model interface generation works with, {@link LanguageModel}: feed tokens, get
 * next-token logits. Each model family builds its own inference form (GPT-2 with a KV cache
 * in `src/model/gpt/inference.ts`, RWKV-4 as an RNN in `src/model/rwkv/inference.ts`);
 * {@link createLanguageModel} asks the configuration's family for it.
 *
 * Every inference model keeps the tokens fed so far ({@link LanguageModel.tokens}), can export
 * its state (to continue a conversation later, {@link saveModelState}), and has a stateless
 * {@link LanguageModel.forwardAll} over a whole sequence — the recompute the cached paths
 * are checked against, and what perplexity uses.
 *
 * @module
 */
import type { InferenceOptions } from "../model/inference_support.ts";
import type { Backend } from "../backend/backend.ts";
import type { ModelConfig } from "../model/config.ts";
import type { AttentionWeights } from "../model/kv_cached_model.ts";
import { familyOf } from "../model/registry.ts";
import { BenteviError, fsError } from "../errors.ts";
import { type NamedTensor, readSafetensors, writeSafetensors } from "../io/safetensors.ts";

/** A model ready to generate: feed tokens, get next-token logits. */
export interface LanguageModel {
  /** The architecture and sizes. */
  readonly config: ModelConfig;
  /** The backend the weights live on. */
  readonly backend: Backend;
  /** Most tokens the state can hold: GPT's context length; RWKV has no limit (Infinity). */
  readonly maxContext: number;
  /** The tokens fed since the last reset (what the state has seen), oldest first. */
  readonly tokens: readonly number[];
  /**
   * Appends `ids` to the state and returns the logits `[V]` predicting the token after the
   * last one: in `into` (a `[V]` array, returned) when given, else in a new array — a decode
   * loop that passes the same array every step allocates nothing per token. GPT throws when
   * the cache would overflow {@link maxContext}.
   */
  feed(ids: readonly number[], into?: Float32Array): Promise<Float32Array>;
  /** Forgets everything fed. */
  reset(): void;
  /**
   * Keeps only the first `n` tokens of the state. Cheap for GPT (the cache is cut); RWKV
   * cannot undo its recurrence, so it returns false (and changes nothing) unless `n` is the
   * current length or 0.
   */
  truncate(n: number): boolean;
  /** Logits `[T, V]` of every position of `ids`, from an empty state (state untouched). */
  forwardAll(ids: readonly number[]): Promise<Float32Array>;
  /** The state as named tensors (and the tokens fed), for {@link saveModelState}. */
  exportState(): Promise<Map<string, NamedTensor>>;
  /** Restores a state made by {@link exportState} (with the same model). */
  importState(state: Map<string, NamedTensor>, tokens: readonly number[]): void;
  /**
   * Overwrites the canonical weight `name` — the matrix of a linear layer (one of its family's
   * `linearTargets`) — with `data` of the same size, in place on the device: how a LoRA
   * adapter is merged in or taken out without reloading the base. The state is not updated:
   * call {@link reset} (or feed again) before generating. Families without it cannot switch
   * adapters (they still load with them merged).
   */
  writeWeight?(name: string, data: Float32Array): void;
  /** Frees the device memory. */
  dispose(): void;
  /**
   * Attention models (GPT, Llama): the last block's attention weights for the last token fed,
   * per head over every position (see `KvCachedModel.lastAttention`). Absent for RWKV.
   */
  lastAttention?(): Promise<AttentionWeights | null>;
  /**
   * Sentence embeddings of token sequences: the mean-pooled last hidden state after the final
   * norm, L2-normalised, `[dModel]` each — a prefill that leaves the state untouched
   * (`KvCachedModel.embed`, batched; RWKV: from the zero state, one window at a time; both
   * through `pooledEmbeddings`). What `modelEmbedder` (semantic chunking, dense retrieval,
   * `/v1/embeddings`) runs.
   */
  embed?(sequences: readonly (readonly number[])[]): Promise<Float32Array[]>;
}

/** Weights by canonical name, as `loadCheckpoint` returns them. */
export type WeightMap = Map<string, { shape: readonly number[]; data: Float32Array }>;

/**
 * Builds the inference model for a configuration and its weights (canonical names).
 * `source` names the checkpoint in error messages.
 *
 * @example
 * ```ts
 * import { createLanguageModel } from "./inference.ts";
 * import { initWeights } from "../model/init.ts";
 * import { createBackend } from "../backend/mod.ts";
 * import { presetConfig } from "../model/config.ts";
 * const config = presetConfig("gpt-micro", 64);
 * const backend = await createBackend("cpu");
 * const model = createLanguageModel(backend, config, initWeights(config, 1));
 * const logits = await model.feed([1, 2, 3]);
 * console.log(logits.length); // 64
 * model.dispose();
 * ```
 */
export function createLanguageModel(
  backend: Backend,
  config: ModelConfig,
  weights: WeightMap,
  source = "checkpoint",
  options: InferenceOptions = {},
): LanguageModel {
  return familyOf(config).createInferenceModel(backend, config, weights, source, options);
}

/**
 * Writes a model's state (GPT: the K/V cache; RWKV: the recurrent state) and the tokens it
 * has seen to a safetensors file, atomically — to continue a conversation later.
 *
 * @example
 * ```ts
 * import { createLanguageModel, loadModelState, saveModelState } from "./inference.ts";
 * import { initWeights } from "../model/init.ts";
 * import { createBackend } from "../backend/mod.ts";
 * import { presetConfig } from "../model/config.ts";
 * const config = presetConfig("rwkv-micro", 32);
 * const model = createLanguageModel(await createBackend("cpu"), config, initWeights(config, 1));
 * await model.feed([1, 2, 3]);
 * const path = await Deno.makeTempFile({ suffix: ".safetensors" });
 * await saveModelState(model, path);
 * model.reset();
 * await loadModelState(model, path);
 * console.log(model.tokens); // [1, 2, 3]
 * ```
 */
export async function saveModelState(model: LanguageModel, path: string): Promise<void> {
  const tensors = await model.exportState();
  await writeSafetensors(path, tensors, {
    format: "bentevi-state",
    arch: model.config.arch,
    config: JSON.stringify(model.config),
    tokens: JSON.stringify(model.tokens),
  });
}

/** Restores a state written by {@link saveModelState}; a state of another model is refused. */
export async function loadModelState(model: LanguageModel, path: string): Promise<void> {
  let file;
  try {
    file = await readSafetensors(path);
  } catch (e) {
    throw fsError(e, path);
  }
  const meta = file.metadata;
  if (meta.format !== "bentevi-state") {
    throw new BenteviError(`${path}: not a Bentevi model state file`);
  }
  if (meta.config !== JSON.stringify(model.config)) {
    throw new BenteviError(`${path}: the state was saved by a different model (${meta.arch})`);
  }
  let tokens: number[];
  try {
    tokens = JSON.parse(meta.tokens);
    if (!Array.isArray(tokens) || !tokens.every((t) => Number.isInteger(t))) throw new Error();
  } catch {
    throw new BenteviError(`${path}: the state's token list is damaged`);
  }
  model.importState(file.tensors, tokens);
}
