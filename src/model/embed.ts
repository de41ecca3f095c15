/**
 * Sentence embeddings from an inference model, shared by every family: token sequences cut
 * into windows, run in right-padded batches through the family's forward (a prefill from
 * position 0 — or, for an RNN, from the zero state — that stops at the final norm), the
 * final norm's output summed per sequence in float64 and L2-normalised. Causal attention and
 * recurrence both keep the padding after a sequence out of its positions, so a vector does not
 * depend on the batch it ran in.
 *
 * @module
 */
import type { Backend, Tensor } from "../backend/backend.ts";
import { checkTokenId, freeAll } from "./inference_support.ts";

/** Most positions one batch runs (a longer window runs alone). */
export const EMBED_ROWS = 1024;

/** Longest window fed at once (at most the model's context). */
export const EMBED_WINDOW = 1024;

/** How a family runs its forward for {@link pooledEmbeddings}. */
export interface EmbedForward {
  /** The device. */
  backend: Backend;
  /** Vector width. */
  dModel: number;
  /** Token ids must be below it. */
  vocabSize: number;
  /** Longest window (the model's context, or {@link EMBED_WINDOW} if smaller). */
  window: number;
  /** Most sequences one forward can batch (1 when the family runs one at a time). */
  maxBatch: number;
  /**
   * Runs `B` sequences of `ids.length / B` tokens each (right-padded) and returns the final
   * norm's output `[B·T, dModel]` and a function that frees the forward's buffers.
   */
  forward(ids: readonly number[], B: number): { hidden: Tensor; free: () => void };
}

/**
 * The mean over each sequence's positions of the final norm's output, L2-normalised (zeros
 * for an empty sequence); batches of at most `rows` positions.
 *
 * @example
 * ```ts
 * import { createBackend } from "../backend/select.ts";
 * import { initWeights, presetConfig } from "./mod.ts";
 * import { familyOf } from "./registry.ts";
 * const config = presetConfig("llama-micro", 32);
 * const model = familyOf(config).createInferenceModel(
 *   await createBackend("cpu"), config, initWeights(config, 1), "example");
 * const [v] = await model.embed!([[1, 2, 3]]); // pooledEmbeddings under the hood
 * console.log(v.length); // 64
 * model.dispose();
 * ```
 */
export async function pooledEmbeddings(
  f: EmbedForward,
  sequences: readonly (readonly number[])[],
  rows: number = EMBED_ROWS,
): Promise<Float32Array[]> {
  const C = f.dModel, window = f.window, budget = Math.max(rows, window);
  const sums = sequences.map(() => new Float64Array(C));
  const windows: { seq: number; ids: readonly number[] }[] = [];
  sequences.forEach((ids, seq) => {
    for (const id of ids) checkTokenId(id, f.vocabSize);
    for (let s = 0; s < ids.length; s += window) {
      windows.push({ seq, ids: ids.slice(s, s + window) });
    }
  });
  windows.sort((a, b) => b.ids.length - a.ids.length || a.seq - b.seq);
  for (let i = 0; i < windows.length;) {
    const T = windows[i].ids.length; // the longest of the batch: the others are padded to it
    const B = Math.max(1, Math.min(windows.length - i, f.maxBatch, Math.floor(budget / T)));
    const batch = windows.slice(i, i + B);
    i += B;
    const ids = new Array<number>(B * T).fill(0);
    batch.forEach((w, b) => w.ids.forEach((id, t) => ids[b * T + t] = id));
    const { hidden, free } = f.forward(ids, B);
    try {
      const h = await f.backend.read(hidden);
      batch.forEach((w, b) => {
        const sum = sums[w.seq];
        for (let t = 0; t < w.ids.length; t++) {
          const o = (b * T + t) * C;
          for (let c = 0; c < C; c++) sum[c] += h[o + c];
        }
      });
    } finally {
      free();
    }
  }
  return sums.map((sum) => {
    let n = 0;
    for (let c = 0; c < C; c++) n += sum[c] * sum[c];
    const inv = n > 0 ? 1 / Math.sqrt(n) : 0; // the mean's 1/T cancels in the normalisation
    return Float32Array.from(sum, (v) => v * inv);
  });
}

/**
 * {@link pooledEmbeddings} for a recurrent model (RWKV): each window runs alone from the zero
 * state through `forward`, which allocates its buffers into `list` (freed after the read) and
 * returns the final norm's output `[T, dModel]`.
 *
 * @example
 * ```ts
 * import { createBackend } from "../backend/select.ts";
 * import { initWeights, presetConfig } from "./mod.ts";
 * import { familyOf } from "./registry.ts";
 * const config = presetConfig("rwkv-micro", 32);
 * const model = familyOf(config).createInferenceModel(
 *   await createBackend("cpu"), config, initWeights(config, 1), "example");
 * const [v] = await model.embed!([[1, 2, 3]]); // recurrentEmbeddings under the hood
 * console.log(v.length); // 64
 * model.dispose();
 * ```
 */
export async function recurrentEmbeddings(
  model: { backend: Backend; config: { dModel: number; vocabSize: number } },
  forward: (ids: readonly number[], list: Tensor[]) => Tensor,
  sequences: readonly (readonly number[])[],
): Promise<Float32Array[]> {
  const backend = model.backend;
  return await pooledEmbeddings({
    backend,
    dModel: model.config.dModel,
    vocabSize: model.config.vocabSize,
    window: EMBED_WINDOW,
    maxBatch: 1,
    forward: (ids) => {
      const list: Tensor[] = [];
      const free = () => freeAll(backend, list);
      try {
        return { hidden: forward(ids, list), free };
      } catch (e) {
        free();
        throw e;
      }
    },
  }, sequences);
}
