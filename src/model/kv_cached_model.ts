/**
 * The generation driver the KV-cached families (GPT, Llama) share: the tokens fed so far,
 * prefill then one-token steps (`feed`), the stateless recompute (`forwardAll`), rewinding,
 * and disposal. A family supplies only its layers: a workspace of activations, the blocks
 * (which write the caches at the positions given), the output head, and the tensors it owns.
 *
 * @module
 */
import type { Backend, Tensor } from "../backend/backend.ts";
import { BenteviError } from "../errors.ts";
import { checkTokenId, freeAll } from "./inference_support.ts";

/** The activations of one forward over some positions; `all` lists what to free. */
export interface CachedWorkspace {
  /** Every tensor the workspace allocated. */
  all: Tensor[];
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
  abstract readonly config: { readonly vocabSize: number };
  #tokens: number[] = [];
  #one: W | undefined;
  #disposed = false;

  /** Buffers for a block of `T` positions (`cached`: the KV-cached path; `head`: logits too). */
  protected abstract workspace(T: number, cached: boolean, head: boolean): W;
  /**
   * Runs the blocks over `ids` at positions `pos…` (writing the caches there when the
   * workspace is a cached one), leaving the residual stream in the workspace.
   */
  protected abstract blocks(ids: readonly number[], pos: number, ws: W): void;
  /** The final norm and output head over the workspace's last position(s): the logits. */
  protected abstract head(ws: W): Promise<Float32Array>;
  /** Every tensor the model owns besides its workspaces (weights, caches, tables). */
  protected abstract ownedTensors(): Tensor[];

  /** The tokens whose keys and values the caches hold. */
  get tokens(): readonly number[] {
    return this.#tokens;
  }

  /** Replaces the token list (after a state import wrote the caches). */
  protected setTokens(tokens: readonly number[]): void {
    this.#tokens = [...tokens];
  }

  /** Feeds `ids` after the tokens already seen; returns the next-token logits. */
  async feed(ids: readonly number[]): Promise<Float32Array> {
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
    const out = await this.head(one);
    this.#tokens.push(...ids);
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

  /** Forgets every token. */
  reset(): void {
    this.#tokens = [];
  }

  /** Keeps the first `n` tokens; false when `n` is out of range. */
  truncate(n: number): boolean {
    if (n < 0 || n > this.#tokens.length) return false;
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
