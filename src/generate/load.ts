/**
 * Opening a checkpoint directory for generation (a Bentevi checkpoint, a Hugging Face GPT-2
 * directory, or a converted RWKV-4 one): weights onto a backend, plus its tokenizer.
 *
 * @module
 */
import type { QuantType } from "../quant/mod.ts";
import { join } from "node:path";
import { createBackend, type DeviceChoice } from "../backend/mod.ts";
import { BenteviError } from "../errors.ts";
import { type Progress, silentProgress } from "../progress.ts";
import { loadCheckpoint, type LoadedCheckpoint } from "../model/mod.ts";
import type { GenerationDefaults } from "../model/generation_config.ts";
import { ChatTemplate, Tokenizer } from "../tokenizer/mod.ts";
import { createLanguageModel, type LanguageModel } from "./inference.ts";
import { checkLogits } from "./generator.ts";
import { AdapterBank, type AdapterRef, loadAdapters, withAdapters } from "../finetune/bank.ts";

/** A model and tokenizer ready for generation. */
export interface GenerationModel {
  /** The model on its backend. */
  model: LanguageModel;
  /** The checkpoint's tokenizer. */
  tokenizer: Tokenizer;
  /**
   * The `tokenizer.json` it was read from (its `tokenizer_config.json` sits beside it);
   * undefined for a tokenizer embedded in the weights file (GGUF).
   */
  tokenizerPath?: string;
  /** The chat template (`tokenizer_config.json`'s, or the GGUF's `tokenizer.chat_template`). */
  chatTemplate?: ChatTemplate;
  /** The directory it came from. */
  dir: string;
  /** The checkpoint's `generation_config.json` defaults, when it has one. */
  generation?: GenerationDefaults;
  /** The LoRA adapters loaded with it (see {@link OpenOptions.adapters}). */
  adapters?: AdapterBank;
  /** The ggml block type its linear layers compute with; undefined: float32. */
  quantize?: QuantType;
}

/** Options of {@link openGenerationModel}. */
export interface OpenOptions {
  /** Compute device (default `"auto"`: WebGPU when present, else the CPU). */
  device?: DeviceChoice;
  /** A `tokenizer.json` to use instead of the checkpoint's. */
  tokenizerPath?: string;
  /**
   * Store the linear layers as ggml blocks and decode with them (`"f32"`: keep floats). A GGUF
   * file's own block type is the default for it; a checkpoint directory's is `"f32"`.
   */
  quantize?: QuantType | "f32";
  /** One-line notices (backend fallback); defaults to `console.error`. */
  log?: (line: string) => void;
  /**
   * `"decode"` (default: generation, chat, next-token prediction) lets `auto` prefer the CPU
   * backend over a software WebGPU adapter; `"compute"` (whole sequences, e.g. perplexity)
   * takes any adapter.
   */
  workload?: "compute" | "decode";
  /**
   * LoRA adapters to load with the model (each checked against it). The model starts with
   * those named in `activeAdapters` merged in — by default all of them (their updates add up).
   */
  adapters?: readonly AdapterRef[];
  /** The adapters merged in at the start (default: all of {@link adapters}). */
  activeAdapters?: readonly string[];
}

/** A checkpoint's tokenizer and chat template ({@link checkpointTokenizer}). */
export interface CheckpointTokenizer {
  tokenizer: Tokenizer;
  chatTemplate: ChatTemplate | undefined;
  /** Its `tokenizer.json`; undefined for a tokenizer embedded in the weights file (GGUF). */
  tokenizerPath?: string;
}

/**
 * The tokenizer and chat template of a loaded checkpoint: `override` (a `tokenizer.json`
 * path) when given, else its own `tokenizer.json` (with `tokenizer_config.json` beside it),
 * else the one embedded in its weights file (GGUF). None of them, or a tokenizer with more
 * tokens than the model has rows: a one-line error.
 *
 * @example
 * ```ts
 * import { checkpointTokenizer } from "./load.ts";
 * import { loadCheckpoint } from "../model/checkpoint.ts";
 * try {
 *   const ck = await loadCheckpoint("../shared/data/models/fake-gpt2", { lazy: true });
 *   console.log((await checkpointTokenizer(ck)).tokenizer.vocabSize);
 * } catch (e) {
 *   console.log((e as Error).message);
 * }
 * ```
 */
export async function checkpointTokenizer(
  ckpt: LoadedCheckpoint,
  override?: string,
): Promise<CheckpointTokenizer> {
  const tokenizerPath = override ?? ckpt.tokenizerPath;
  const embedded = ckpt.embeddedTokenizer;
  let found: CheckpointTokenizer;
  if (tokenizerPath) {
    found = {
      tokenizer: await Tokenizer.fromFile(tokenizerPath),
      chatTemplate: await ChatTemplate.forTokenizer(tokenizerPath),
      tokenizerPath,
    };
  } else if (embedded) {
    found = {
      tokenizer: Tokenizer.fromJSON(embedded.json, `${ckpt.dir} (embedded tokenizer)`),
      chatTemplate: ChatTemplate.fromConfig(
        embedded.config,
        `${ckpt.dir} (tokenizer.chat_template)`,
      ),
    };
  } else {
    throw new BenteviError(
      `${ckpt.dir}: no tokenizer.json in the checkpoint (pass --tokenizer FILE)`,
    );
  }
  if (found.tokenizer.vocabSize > ckpt.config.vocabSize) {
    throw new BenteviError(
      `${
        tokenizerPath ?? ckpt.dir
      }: the tokenizer has ${found.tokenizer.vocabSize} tokens but the ` +
        `model in ${ckpt.dir} only ${ckpt.config.vocabSize} (incompatible tokenizer)`,
    );
  }
  return found;
}

/**
 * Loads a checkpoint directory and its tokenizer onto a backend. The weights go from their
 * files to the backend one tensor at a time (the checkpoint is never held twice in memory).
 *
 * @example
 * ```ts
 * import { openGenerationModel } from "./load.ts";
 * try {
 *   const { model } = await openGenerationModel("../shared/data/models/fake-gpt2", { device: "cpu" });
 *   console.log(model.config.arch); // "gpt"
 * } catch (e) {
 *   console.log((e as Error).message);
 * }
 * ```
 */
export async function openGenerationModel(
  dir: string,
  options: OpenOptions = {},
): Promise<GenerationModel> {
  const ckpt = await loadCheckpoint(dir, { lazy: true });
  const { tokenizer, chatTemplate, tokenizerPath: tokPath } = await checkpointTokenizer(
    ckpt,
    options.tokenizerPath,
  );
  const named = await loadAdapters(options.adapters ?? [], ckpt.config, ckpt.weights);
  const active = options.activeAdapters ?? named.map((a) => a.name);
  const byName = new Map(named.map((a) => [a.name, a.adapter]));
  for (const n of active) {
    if (!byName.has(n)) {
      throw new BenteviError(`no adapter "${n}"; loaded: ${[...byName.keys()].join(", ")}`);
    }
  }
  const backend = await createBackend(options.device ?? "auto", {
    log: options.log,
    workload: options.workload ?? "decode",
  });
  const quantize = options.quantize ?? ckpt.quantization ?? "f32";
  const model = createLanguageModel(
    backend,
    ckpt.config,
    withAdapters(ckpt.weights, active.map((n) => byName.get(n)!)),
    ckpt.weightsSource,
    quantize === "f32" ? {} : { quantize },
  );
  const adapters = named.length ? new AdapterBank(model, ckpt.weights, named, active) : undefined;
  // Without a generation_config.json, config.json's eos_token_id (as transformers does).
  const eos = (ckpt.config as { eosTokenId?: number | number[] }).eosTokenId;
  const generation = ckpt.generation ??
    (eos !== undefined
      ? { source: join(ckpt.dir, "config.json"), eosTokenIds: [eos].flat() }
      : undefined);
  return {
    model,
    tokenizer,
    tokenizerPath: tokPath,
    chatTemplate,
    dir,
    generation,
    adapters,
    ...(quantize === "f32" ? {} : { quantize }),
  };
}

/** What {@link perplexity} returns. */
export interface PerplexityResult {
  /** exp(mean negative log-likelihood). */
  perplexity: number;
  /** Mean negative log-likelihood per token (nats). */
  meanLoss: number;
  /** Tokens predicted. */
  tokens: number;
  /** Windows the text was split into. */
  windows: number;
}

/**
 * Perplexity of a model on a token sequence: the text is cut into consecutive windows of the
 * model's context length (training length for RWKV), each scored from an empty state; every
 * token but each window's first is predicted.
 *
 * @example
 * ```ts
 * import { perplexity } from "./load.ts";
 * import { createLanguageModel } from "./inference.ts";
 * import { createBackend } from "../backend/mod.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * const config = presetConfig("gpt-micro", 16);
 * const model = createLanguageModel(await createBackend("cpu"), config, initWeights(config, 1));
 * console.log((await perplexity(model, [1, 2, 3, 4, 5])).perplexity > 1); // true
 * ```
 */
export async function perplexity(
  model: LanguageModel,
  ids: readonly number[],
  progress: Progress = silentProgress,
): Promise<PerplexityResult> {
  if (ids.length < 2) throw new BenteviError("perplexity needs a text of at least 2 tokens");
  const window = Math.min(model.config.contextLength, 1024);
  const V = model.config.vocabSize;
  let nll = 0, count = 0, windows = 0;
  progress.start("perplexity", ids.length, "tokens");
  for (let start = 0; start < ids.length - 1; start += window) {
    const chunk = ids.slice(start, start + window);
    if (chunk.length < 2) break;
    const logits = await model.forwardAll(chunk);
    for (let t = 0; t < chunk.length - 1; t++) {
      const row = logits.subarray(t * V, (t + 1) * V);
      checkLogits(row);
      let max = -Infinity;
      for (let v = 0; v < V; v++) if (row[v] > max) max = row[v];
      let z = 0;
      for (let v = 0; v < V; v++) z += Math.exp(row[v] - max);
      nll += max + Math.log(z) - row[chunk[t + 1]];
      count++;
    }
    windows++;
    progress.update(
      Math.min(start + window, ids.length),
      `ppl ${Math.exp(nll / count).toFixed(2)}`,
    );
  }
  const meanLoss = nll / count;
  progress.end();
  return { perplexity: Math.exp(meanLoss), meanLoss, tokens: count, windows };
}
