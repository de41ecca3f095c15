/**
 * What one model architecture tells the rest of Bentevi. Each family lives in its own folder
 * (`src/model/gpt/`, `src/model/rwkv/`, `src/model/llama/`) and exports one {@link ModelFamily}; the registry
 * (`registry.ts`) is the only list of them. Configurations, checkpoints, training, generation,
 * chat and chunking ask the family of a configuration instead of testing its `arch`.
 *
 * Adding a family: a folder with its config, weights, training model, inference model and a
 * `family.ts` exporting a `ModelFamily`, then one line in `registry.ts`.
 *
 * @example
 * ```ts
 * import { familyOf, presetConfig } from "./mod.ts";
 * const config = presetConfig("rwkv-micro", 256);
 * const family = familyOf(config);
 * console.log(family.arch, family.embeddingWeight, family.maxContext(config)); // rwkv emb.weight Infinity
 * ```
 *
 * @module
 */
import type { Backend } from "../backend/backend.ts";
import { BenteviError } from "../errors.ts";
import type { NamedTensor } from "../io/safetensors.ts";
import type { LanguageModel, WeightMap } from "../generate/inference.ts";
import type { LinearTarget, TrainingModelOptions } from "./linear.ts";
import type { TrainableModel } from "./model.ts";
import type { ParameterStore } from "./params.ts";
import type { WeightSpec } from "./weight_spec.ts";
import type { GgufWriteValue } from "../gguf/writer.ts";
import type { InferenceOptions } from "./inference_support.ts";

/** The fields every family's configuration has. */
export interface BaseConfig {
  /** Architecture tag: the {@link ModelFamily.arch} of its family. */
  arch: string;
  /** Vocabulary size (from the tokenizer). */
  vocabSize: number;
  /** Context length: the position table (GPT) or the training length (RWKV). */
  contextLength: number;
  /** Model width C. */
  dModel: number;
  /** Number of blocks. */
  nLayer: number;
}

/** A configuration without its vocabulary size (which comes from the tokenizer). */
export type PresetShape<C extends BaseConfig> = Omit<C, "vocabSize">;

/** A tensor as a checkpoint file stores it. */
export interface FileTensor {
  /** Name in `model.safetensors`. */
  name: string;
  /** Shape in the file. */
  shape: number[];
}

/**
 * One stage of a forward pass as the educational mode walks through it (`/explain`,
 * `bentevi learn`): what it computes, the shape of what it produces for `T` positions, and
 * the weights it reads (names as in {@link ModelFamily.weightSpecs}, layer 0 for a block).
 */
export interface ForwardStage {
  /** What the stage computes, in a few words. */
  name: string;
  /** Shape of its output for `T` positions. */
  shape: number[];
  /** The weights it reads (block stages: those of block 0). */
  weights: string[];
  /** Repeated in every block. */
  perBlock: boolean;
  /** One sentence on why it is there. */
  note: string;
}

/**
 * A {@link ForwardStage}, positionally (a family's `forwardStages` is a list of these).
 *
 * @example
 * ```ts
 * import { forwardStage } from "./family.ts";
 * console.log(forwardStage("final norm", [4, 64], ["ln_f.weight"], "last normalisation", false).perBlock); // false
 * ```
 */
export function forwardStage(
  name: string,
  shape: number[],
  weights: string[],
  note: string,
  perBlock = true,
): ForwardStage {
  return { name, shape, weights, perBlock, note };
}

/**
 * Everything Bentevi needs to know about one architecture. `C` is the family's configuration
 * type; the registry's `ModelConfig` is the union of them.
 */
export interface ModelFamily<C extends BaseConfig = BaseConfig> {
  /** The configuration's `arch` tag (also `bentevi_arch` in checkpoint metadata). */
  readonly arch: C["arch"];
  /** Named presets of this family, without the vocabulary size. */
  readonly presets: Readonly<Record<string, PresetShape<C>>>;
  /**
   * The vocabulary a preset was published with (`llama-160m`: TeenyTinyLlama's 32000), used
   * where no tokenizer gives one (`info --model`); presets not listed have none.
   */
  readonly presetVocabSizes?: Readonly<Record<string, number>>;
  /** `config.json` `model_type` values this family reads; the first is the one it writes. */
  readonly modelTypes: readonly string[];
  /** Name of the token-embedding table `[V, C]` (what chunking's embedder averages). */
  readonly embeddingWeight: string;
  /**
   * Whether the inference state is a fixed-size recurrence: it cannot be cut back to a prefix
   * (`truncate` fails), and it is small, so a chat saves it with the conversation.
   */
  readonly recurrent: boolean;

  /** Checks the family's own fields (the shared ones are checked by `validateConfig`). */
  validate(config: C, source: string): void;
  /** The `config.json` object written with a checkpoint (Hugging Face's form when there is one). */
  toJson(config: C): Record<string, unknown>;
  /** Reads a `config.json` object whose `model_type` is one of {@link modelTypes} (unvalidated). */
  fromJson(json: Record<string, unknown>, source: string): C;
  /** A one-line human description. */
  describe(config: C): string;
  /** Every weight in canonical order (layout, initialisation and checkpoints read this list). */
  weightSpecs(config: C): WeightSpec[];
  /** How a weight is named and shaped in `model.safetensors`. */
  fileTensor(spec: WeightSpec): FileTensor;
  /**
   * The canonical name of a tensor read from a weights file (its own or an external tool's
   * naming), or null for a tensor that is ignored. Throws a {@link BenteviError} for a naming
   * scheme that is recognised but not supported.
   */
  canonicalName(fileName: string, source: string): string | null;
  /**
   * Whether a tensor left over after every weight was found is accounted for (a tied head
   * equal to the embeddings); throws a {@link BenteviError} when it contradicts the model.
   */
  acceptsExtraTensor(
    name: string,
    tensor: NamedTensor,
    weights: Map<string, NamedTensor>,
    source: string,
  ): boolean;
  /** Most positions one sequence may have: a position table's length, or Infinity. */
  maxContext(config: C): number;
  /** The configuration a run at context `T` records (a recurrent model records `T`). */
  withContext(config: C, T: number): C;
  /**
   * Floats of activations and activation gradients the training model allocates at batch
   * shape `[B, T]`, counted from the same buffer list it allocates from.
   */
  activationFloats(config: C, B: number, T: number): number;
  /**
   * The training model (forward/backward) over `store` for batch shape `[B, T]`. Its
   * `store` holds the parameters it trains; `options` attach adapters to the linear layers
   * of {@link linearTargets} and freeze the base.
   */
  createTrainingModel(
    backend: Backend,
    config: C,
    store: ParameterStore,
    B: number,
    T: number,
    options?: TrainingModelOptions,
  ): TrainableModel;
  /**
   * The linear layers an adapter (LoRA) can be attached to, in canonical order, under their
   * Hugging Face PEFT module names; absent: the family takes no adapters.
   */
  linearTargets?(config: C): LinearTarget[];
  /**
   * The stages of one forward pass over `T` positions, in order, with their output shapes
   * and weights: embedding → blocks → final norm → logits (what `/explain` and
   * `bentevi learn` walk through). Optional: a family without it is walked through from its
   * logits on.
   */
  forwardStages?(config: C, T: number): ForwardStage[];
  /**
   * The inference model (cached or recurrent step) over uploaded copies of `weights`;
   * `options.quantize` stores its linear layers as ggml blocks (a family that cannot ignores
   * it: RWKV-4).
   */
  createInferenceModel(
    backend: Backend,
    config: C,
    weights: WeightMap,
    source: string,
    options?: InferenceOptions,
  ): LanguageModel;
  /**
   * How the family is written to and read from GGUF files as a llama.cpp architecture, or
   * (a string) why it cannot be; absent: it cannot, for no stated reason.
   */
  readonly gguf?: GgufArchitecture<C> | string;
}

/** Reads hyper-parameters from a GGUF file's metadata (a missing key is a one-line error). */
export interface GgufMetadataReader {
  /** The number under `key`; `fallback` when absent, else an error naming the key. */
  num(key: string, fallback?: number): number;
  /** Whether the file has `key`. */
  has(key: string): boolean;
}

/** One tensor of a GGUF file and the canonical weight it holds. */
export interface GgufTensorMapping {
  /** Its name in the GGUF file (`blk.0.attn_qkv.weight`…). */
  gguf: string;
  /** The canonical weight (see `weightSpecs`). */
  canonical: string;
  /** Its shape in the file, outermost first (ggml lists the dimensions the other way). */
  shape: number[];
  /** The canonical values → the file's layout (a transpose, a permutation) or `undefined`. */
  toGguf?: (x: Float32Array) => Float32Array;
  /** The file's layout → the canonical values. */
  fromGguf?: (x: Float32Array) => Float32Array;
  /** A second copy of a weight (a tied output head): written, and read only to check. */
  duplicate?: boolean;
}

/** A family as a llama.cpp architecture in GGUF files. */
export interface GgufArchitecture<C extends BaseConfig> {
  /** `general.architecture` (`gpt2`, `llama`). */
  readonly name: string;
  /** The hyper-parameter keys llama.cpp reads (`gpt2.block_count`…), in order. */
  metadata(config: C): [string, GgufWriteValue][];
  /** The configuration from a file's hyper-parameters and its vocabulary size. */
  configFromMetadata(read: GgufMetadataReader, vocabSize: number, source: string): C;
  /** Every tensor of the file, in the order written. */
  tensors(config: C): GgufTensorMapping[];
}

/**
 * Throws a {@link BenteviError} naming `source` and `name` unless `v` is a positive integer.
 *
 * @example
 * ```ts
 * import { checkPositiveInteger } from "./family.ts";
 * checkPositiveInteger("config.json", "nHead", 4); // ok
 * ```
 */
export function checkPositiveInteger(source: string, name: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new BenteviError(`${source}: ${name} must be a positive integer, got ${v}`);
  }
}

/**
 * Throws a {@link BenteviError} naming `source` and `name` unless `v` is a finite number > 0
 * (epsilons, RoPE's base).
 *
 * @example
 * ```ts
 * import { checkPositiveNumber } from "./family.ts";
 * checkPositiveNumber("config.json", "layerNormEps", 1e-5); // ok
 * ```
 */
export function checkPositiveNumber(source: string, name: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new BenteviError(`${source}: ${name} must be a positive number, got ${v}`);
  }
}

/**
 * A reader of numeric `config.json` fields: the value of `key`, `fallback` when it is absent,
 * else a {@link BenteviError} naming `source`.
 *
 * @example
 * ```ts
 * import { jsonNumbers } from "./family.ts";
 * const num = jsonNumbers({ n_embd: 64 }, "config.json");
 * console.log(num("n_embd"), num("n_layer", 2)); // 64 2
 * ```
 */
export function jsonNumbers(
  json: Record<string, unknown>,
  source: string,
): (key: string, fallback?: number) => number {
  return (key, fallback) => {
    const v = json[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new BenteviError(`${source}: missing field "${key}"`);
    }
    if (typeof v !== "number") throw new BenteviError(`${source}: field "${key}" is not a number`);
    return v;
  };
}
