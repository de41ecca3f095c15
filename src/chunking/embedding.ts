/**
 * Embeddings for the semantic strategy from a trained model: a text's vector is the mean of the
 * model's token-embedding rows (its family's `embeddingWeight`: `wte` for GPT, `emb` for RWKV) over the text's tokens, computed
 * on the host from the checkpoint's weights (no device, no forward pass). Neighbouring
 * sentences about the same thing share tokens whose embeddings the model has pulled together,
 * so the vectors of two windows are closer within a topic than across a shift.
 *
 * @module
 */
import { BenteviError } from "../errors.ts";
import { loadCheckpoint } from "../model/checkpoint.ts";
import { familyOf } from "../model/registry.ts";
import { Tokenizer } from "../tokenizer/tokenizer.ts";

/** What {@link modelEmbedder} returns. */
export interface ModelEmbedder {
  /** Text → mean token-embedding vector (zeros for a text without tokens). */
  embed: (text: string) => Float32Array;
  /** Width of the vectors. */
  dimension: number;
  /** The checkpoint's tokenizer (usable as the chunker's counter too). */
  tokenizer: Tokenizer;
}

/**
 * A text embedder from a checkpoint directory (Bentevi, Hugging Face GPT-2, converted RWKV-4)
 * and its tokenizer (or `tokenizerPath`).
 *
 * @example
 * ```ts
 * import { modelEmbedder } from "./embedding.ts";
 * import { chunkText } from "./engine.ts";
 * try {
 *   const { embed } = await modelEmbedder("runs/demo");
 *   const chunks = chunkText("Uma frase. Outra frase.", { strategy: "semantic", maxTokens: 12, embed });
 *   console.log(chunks.length);
 * } catch (e) {
 *   console.log((e as Error).message); // no such checkpoint here
 * }
 * ```
 */
export async function modelEmbedder(
  checkpoint: string,
  options: { tokenizerPath?: string } = {},
): Promise<ModelEmbedder> {
  const ckpt = await loadCheckpoint(checkpoint, { lazy: true }); // only the embeddings are read
  const tokPath = options.tokenizerPath ?? ckpt.tokenizerPath;
  if (!tokPath) {
    throw new BenteviError(`${checkpoint}: no tokenizer.json in the checkpoint (pass --tokenizer)`);
  }
  const tokenizer = await Tokenizer.fromFile(tokPath);
  const name = familyOf(ckpt.config).embeddingWeight;
  const table = ckpt.weights.get(name);
  if (!table) throw new BenteviError(`${checkpoint}: no ${name} in the weights`);
  const [rows, dimension] = table.shape;
  if (tokenizer.vocabSize > rows) {
    throw new BenteviError(
      `${tokPath}: the tokenizer has ${tokenizer.vocabSize} tokens but the model in ${checkpoint} ` +
        `only ${rows} (incompatible tokenizer)`,
    );
  }
  const data = table.data;
  const embed = (text: string): Float32Array => {
    const out = new Float32Array(dimension);
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    for (const id of ids) {
      const row = id * dimension;
      for (let i = 0; i < dimension; i++) out[i] += data[row + i];
    }
    if (ids.length) { for (let i = 0; i < dimension; i++) out[i] /= ids.length; }
    return out;
  };
  return { embed, dimension, tokenizer };
}
