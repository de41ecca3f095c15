/**
 * Text embeddings from a trained model — the one embedder of the toolkit (semantic chunking,
 * dense retrieval, the server's `/v1/embeddings`). A text's vector is the **mean-pooled last
 * hidden state after the final norm, L2-normalised**: the text's tokens run through the model
 * (a prefill on its backend — CPU, native or WebGPU — batched, no generation) and the output of
 * the final norm (GPT's `ln_f`, Llama's `model.norm`) is averaged over the tokens, the pooling
 * of sentence-transformers' `mean` mode over a Hugging Face base model's `last_hidden_state`
 * and of llama.cpp's `--pooling mean` embeddings. The model's own method does the work
 * (`LanguageModel.embed`: `KvCachedModel.embed` for GPT and Llama; RWKV-4/5/7 pool `ln_out`'s
 * output over a run from the zero state, one window at a time).
 *
 * {@link EMBEDDER_KIND} names the method and its version; an index stores it and refuses
 * vectors of another kind (the token-embedding averages of earlier versions).
 *
 * @module
 */
import type { DeviceChoice } from "../backend/mod.ts";
import { BenteviError } from "../errors.ts";
import type { LanguageModel } from "../generate/inference.ts";
import { openGenerationModel } from "../generate/load.ts";
import type { Tokenizer } from "../tokenizer/tokenizer.ts";

/**
 * The embedding method and its version, stored with the vectors: the mean over a text's tokens
 * of the final norm's output, L2-normalised.
 */
export const EMBEDDER_KIND = "hidden-mean-l2/1";

/** What {@link modelEmbedder} returns. */
export interface ModelEmbedder {
  /** {@link EMBEDDER_KIND}. */
  readonly kind: string;
  /** Texts → unit vectors (zeros for a text without tokens), computed in batches. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
  /** Width of the vectors (the model's `dModel`). */
  readonly dimension: number;
  /** The checkpoint's tokenizer (usable as the chunker's counter too). */
  readonly tokenizer: Tokenizer;
  /** The model the vectors come from (its backend names the device). */
  readonly model: LanguageModel;
  /** Frees the model and its backend (when the embedder loaded them). */
  close(): void;
}

/** Options of {@link modelEmbedder}. */
export interface ModelEmbedderOptions {
  /** A `tokenizer.json` instead of the checkpoint's. */
  tokenizerPath?: string;
  /** Compute device (default `"auto"`). */
  device?: DeviceChoice;
  /** One-line notices (backend fallback); default `console.error`. */
  log?: (line: string) => void;
}

/**
 * The embedder of a model already loaded (e.g. the one a server generates with); `close`
 * leaves the model alone.
 *
 * @example
 * ```ts
 * import { embedderOf } from "./embedding.ts";
 * import { createLanguageModel } from "../generate/inference.ts";
 * import { createBackend } from "../backend/mod.ts";
 * import { initWeights, presetConfig } from "../model/mod.ts";
 * import { Tokenizer } from "../tokenizer/mod.ts";
 * const tokenizer = Tokenizer.byteLevel();
 * const config = presetConfig("gpt-micro", tokenizer.vocabSize);
 * const model = createLanguageModel(await createBackend("cpu"), config, initWeights(config, 1));
 * const [v] = await embedderOf(model, tokenizer).embed(["uma frase"]);
 * console.log(v.length); // 64
 * ```
 */
export function embedderOf(model: LanguageModel, tokenizer: Tokenizer): ModelEmbedder {
  const embedTokens = model.embed?.bind(model);
  if (!embedTokens) {
    throw new BenteviError(
      `embeddings need a model with an embed method (the ${model.config.arch} family has none)`,
    );
  }
  return {
    kind: EMBEDDER_KIND,
    embed: (texts) =>
      embedTokens(texts.map((t) => tokenizer.encode(t, { addSpecialTokens: false }))),
    dimension: model.config.dModel,
    tokenizer,
    model,
    close: () => {},
  };
}

/**
 * A text embedder from a checkpoint directory (any family generation opens) and its
 * tokenizer (or `tokenizerPath`), loaded on `device`.
 *
 * @example
 * ```ts
 * import { modelEmbedder } from "./embedding.ts";
 * try {
 *   const e = await modelEmbedder("runs/demo", { device: "cpu" });
 *   const [a, b] = await e.embed(["O gato mia.", "A bolsa subiu."]);
 *   console.log(a.length === e.dimension, b.length === e.dimension); // true true
 *   e.close();
 * } catch (err) {
 *   console.log((err as Error).message); // no such checkpoint here
 * }
 * ```
 */
export async function modelEmbedder(
  checkpoint: string,
  options: ModelEmbedderOptions = {},
): Promise<ModelEmbedder> {
  const opened = await openGenerationModel(checkpoint, {
    device: options.device,
    tokenizerPath: options.tokenizerPath,
    log: options.log,
    workload: "compute",
  });
  const close = () => {
    opened.model.dispose();
    opened.model.backend.destroy();
  };
  try {
    return { ...embedderOf(opened.model, opened.tokenizer), close };
  } catch (e) {
    close();
    throw e instanceof BenteviError ? new BenteviError(`${checkpoint}: ${e.message}`) : e;
  }
}
