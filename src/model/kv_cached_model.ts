/**
 * The generation driver the KV-cached families (GPT, Llama) share: the tokens fed so far,
 * prefill then one-token steps (`feed`), the stateless recompute (`forwardAll`), rewinding,
 * and disposal. A family supplies only its layers: a workspace of activations, the blocks
 * (which write the caches at the positions given), the output head, and the tensors it owns.
 *
 * @module
 */
import type { AttentionDims, Backend, Tensor } from "../backend/backend.ts";
import { BenteviError } from "../errors.ts";
import { EMBED_ROWS, EMBED_WINDOW, pooledEmbeddings } from "./embed.ts";
import { checkTokenId, freeAll } from "./inference_support.ts";

/** The activations of one forward over some positions; `all` lists what to free. */
export interface CachedWorkspace {
  /**
   * The last block's queries, keys and values after it ran, `[T, W]` with the queries first
   * (`[q: NH·hd | k | v]`, see `AttentionDims`): what {@link KvCachedModel.lastAttention} reads.
   */
  qkv: Tensor;
  /** Every tensor the workspace allocated. */
  all: Tensor[];
}

/**
 * Where the last fed token looked: the attention weights of each head of the model's last
 * block, over every position fed so far (the query is the last token, predicting the next).
 */
export interface AttentionWeights {
  /** The block they come from (the last one), 0-based. */
  layer: number;
  /** Query heads. */
  heads: number;
  /** Positions attended to (`tokens.length` when read). */
  positions: number;
  /** `weights[h][s]`: head h's weight on position s; each row sums to 1. */
  weights: Float64Array[];
}

/**
 * A decoder with per-layer K/V caches. Subclasses implement the abstract members; the
 * {@link LanguageModel} methods `feed`, `forwardAll`, `reset`, `truncate` and `dispose`
 * live here once.
 *
 * @example
 * ```ts
 * import { createBackend } from "../backend/select.ts";
 * import { initWeights, presetConfig } from "./mod.ts";
 * import { familyOf } from "./registry.ts";
 * const config = presetConfig("llama-micro", 32);
 * const model = familyOf(config).createInferenceModel(
 *   await createBackend("cpu"), config, initWeights(config, 1), "example");
 * const logits = await model.feed([1, 2, 3]);
 * console.log(logits.length, model.tokens.length); // 32 3
 * model.dispose();
 * ```
 */
export abstract class KvCachedModel<W extends CachedWorkspace> {
  /** The device the model runs on. */
  abstract readonly backend: Backend;
  /** The most tokens the caches can hold. */
  abstract readonly maxContext: number;
  /** The model's configuration (its vocabulary bounds the token ids fed). */
  abstract readonly config: { readonly vocabSize: number; readonly dModel: number };
  #tokens: number[] = [];
  #one: W | undefined;
  /** Whether the one-token workspace holds the last token fed (not after a rewind or import). */
  #fresh = false;
  #disposed = false;

  /**
   * Buffers for a block of `T` rows (`cached`: the KV-cached path; `head`: logits too). An
   * uncached workspace of `B·T` rows holds a batch of `B` sequences of `T` positions.
   */
  protected abstract workspace(T: number, cached: boolean, head: boolean): W;
  /**
   * Runs the blocks over `ids` at positions `pos…` (writing the caches there when the
   * workspace is a cached one), leaving the residual stream in the workspace. With `B > 1`
   * (uncached only) `ids` holds `B` sequences of `ids.length / B` tokens each, every one at
   * positions `0…`.
   */
  protected abstract blocks(ids: readonly number[], pos: number, ws: W, B?: number): void;
  /**
   * The final norm over the workspace's residual stream, into a tensor of the workspace
   * (`[rows, C]`) that it returns: what the output head reads, and what {@link embed} pools.
   */
  protected abstract finalNorm(ws: W): Tensor;
  /** The final norm and output head over the workspace's last position(s): the logits. */
  protected abstract head(ws: W, into?: Float32Array): Promise<Float32Array>;
  /** Every tensor the model owns besides its workspaces (weights, caches, tables). */
  protected abstract ownedTensors(): Tensor[];
  /**
   * The last block's key cache and its attention layout (`C` = query width, `NH`, `NKV`),
   * for {@link lastAttention}.
   */
  protected abstract lastBlockAttention(): { layer: number; kCache: Tensor; dims: AttentionDims };

  /** The tokens whose keys and values the caches hold. */
  get tokens(): readonly number[] {
    return this.#tokens;
  }

  /** Replaces the token list (after a state import wrote the caches). */
  protected setTokens(tokens: readonly number[]): void {
    this.#tokens = [...tokens];
    this.#fresh = false;
  }

  /**
   * Feeds `ids` after the tokens already seen; returns the next-token logits (in `into`, a
   * `[V]` array, when given).
   */
  async feed(ids: readonly number[], into?: Float32Array): Promise<Float32Array> {
    this.check();
    if (ids.length === 0) throw new Error("feed: no tokens");
    const pos = this.#tokens.length;
    if (pos + ids.length > this.maxContext) {
      throw new BenteviError(
        `the context holds ${this.maxContext} tokens; ${pos} used, ${ids.length} more do not fit`,
      );
    }
    for (const id of ids) checkTokenId(id, this.config.vocabSize);
    // Prefill all but the last token without the head, then the last one with it: the
    // head (the biggest matmul with a large vocabulary) runs for one row only.
    if (ids.length > 1) {
      const ws = this.workspace(ids.length - 1, true, false);
      try {
        this.blocks(ids.slice(0, -1), pos, ws);
      } finally {
        freeAll(this.backend, ws.all);
      }
    }
    // The one-token workspace is kept for the life of the model (steps allocate nothing).
    const one = this.#one ??= this.workspace(1, true, true);
    this.blocks(ids.slice(-1), pos + ids.length - 1, one);
    const out = await this.head(one, into);
    this.#tokens.push(...ids);
    this.#fresh = true;
    return out;
  }

  /** The logits of every position of `ids`, recomputed without the caches (which it leaves). */
  async forwardAll(ids: readonly number[]): Promise<Float32Array> {
    this.check();
    if (ids.length === 0 || ids.length > this.maxContext) {
      throw new BenteviError(`forwardAll needs 1…${this.maxContext} tokens, got ${ids.length}`);
    }
    for (const id of ids) checkTokenId(id, this.config.vocabSize);
    const ws = this.workspace(ids.length, false, true);
    try {
      this.blocks(ids, 0, ws);
      return await this.head(ws);
    } finally {
      freeAll(this.backend, ws.all);
    }
  }

  /**
   * The attention weights of the last block's heads for the last token fed, over all the
   * positions fed — read from the model's own state after {@link feed} (the query that block
   * computed for that token, and the keys in its cache) and put through the same scaled
   * softmax, `softmax(q·kᵀ/√hd)`, on the host in float64. Works on every backend (two small
   * reads). Null before anything is fed, or when the last call was not a `feed`.
   *
   * @example
   * ```ts
   * import { createBackend } from "../backend/select.ts";
   * import { initWeights, presetConfig } from "./mod.ts";
   * import { familyOf } from "./registry.ts";
   * const config = presetConfig("gpt-micro", 32);
   * const model = familyOf(config).createInferenceModel(
   *   await createBackend("cpu"), config, initWeights(config, 1), "example");
   * await model.feed([1, 2, 3]);
   * const att = await model.lastAttention!();
   * console.log(att!.positions, att!.weights[0].reduce((a, b) => a + b)); // 3 ≈1
   * model.dispose();
   * ```
   */
  async lastAttention(): Promise<AttentionWeights | null> {
    this.check();
    const n = this.#tokens.length;
    if (n === 0 || !this.#one || !this.#fresh) return null;
    const { layer, kCache, dims } = this.lastBlockAttention();
    const NH = dims.NH, NKV = dims.NKV ?? NH, hd = dims.C / NH, KV = NKV * hd;
    const q = await this.backend.read(this.backend.view(this.#one.qkv, 0, [1, dims.C]));
    const k = await this.backend.read(this.backend.view(kCache, 0, [n, KV]));
    const scale = 1 / Math.sqrt(hd);
    const weights: Float64Array[] = [];
    for (let h = 0; h < NH; h++) {
      const kv = Math.floor(h / (NH / NKV)) * hd; // the kv head this query head reads
      const row = new Float64Array(n);
      let max = -Infinity;
      for (let s = 0; s < n; s++) {
        let dot = 0;
        for (let d = 0; d < hd; d++) dot += q[h * hd + d] * k[s * KV + kv + d];
        row[s] = dot * scale;
        if (row[s] > max) max = row[s];
      }
      let z = 0;
      for (let s = 0; s < n; s++) z += row[s] = Math.exp(row[s] - max);
      for (let s = 0; s < n; s++) row[s] /= z;
      weights.push(row);
    }
    return { layer, heads: NH, positions: n, weights };
  }

  /**
   * Sentence embeddings: for each token sequence, the mean over its positions of the last
   * block's output after the final norm (GPT's `ln_f`, Llama's `model.norm` — the
   * `last_hidden_state` of Hugging Face's base models, llama.cpp's pooled `result_norm`),
   * accumulated in float64 and L2-normalised (an empty sequence gives zeros). A prefill only:
   * the sequences run in batches of at most `rows` positions (right-padded: causal attention
   * keeps padding out of every real position), and neither the caches nor the tokens fed are
   * touched. A sequence longer than `EMBED_WINDOW` (or the context) is pooled over
   * consecutive windows, each from position 0 (see `pooledEmbeddings`).
   *
   * @example
   * ```ts
   * import { createBackend } from "../backend/select.ts";
   * import { initWeights, presetConfig } from "./mod.ts";
   * import { familyOf } from "./registry.ts";
   * const config = presetConfig("gpt-micro", 32);
   * const model = familyOf(config).createInferenceModel(
   *   await createBackend("cpu"), config, initWeights(config, 1), "example");
   * const [a, b] = await model.embed!([[1, 2, 3], [4, 5]]);
   * console.log(a.length, Math.hypot(...b).toFixed(3)); // 64 "1.000"
   * model.dispose();
   * ```
   */
  async embed(
    sequences: readonly (readonly number[])[],
    rows: number = EMBED_ROWS,
  ): Promise<Float32Array[]> {
    this.check();
    return await pooledEmbeddings(
      {
        backend: this.backend,
        dModel: this.config.dModel,
        vocabSize: this.config.vocabSize,
        window: Math.min(this.maxContext, EMBED_WINDOW),
        maxBatch: Infinity,
        forward: (ids, B) => {
          const ws = this.workspace(ids.length, false, false);
          try {
            this.blocks(ids, 0, ws, B);
            return { hidden: this.finalNorm(ws), free: () => freeAll(this.backend, ws.all) };
          } catch (e) {
            freeAll(this.backend, ws.all);
            throw e;
          }
        },
      },
      sequences,
      rows,
    );
  }

  /** Forgets every token. */
  reset(): void {
    this.#tokens = [];
    this.#fresh = false;
  }

  /** Keeps the first `n` tokens; false when `n` is out of range. */
  truncate(n: number): boolean {
    if (n < 0 || n > this.#tokens.length) return false;
    if (n !== this.#tokens.length) this.#fresh = false;
    this.#tokens.length = n; // later positions of the cache are simply overwritten
    return true;
  }

  /** Frees every tensor (after the pending work); later use throws. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    freeAll(this.backend, [...this.ownedTensors(), ...(this.#one?.all ?? [])]);
  }

  /** Throws when the model was disposed. */
  protected check(): void {
    if (this.#disposed) throw new Error("model used after dispose()");
  }
}
