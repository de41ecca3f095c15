/**
 * The generation driver the recurrent families (RWKV-4, RWKV-5, RWKV-7) share: the tokens fed
 * so far, one step per token through the RNN state (`feed`), the parallel form from an empty
 * state (`forwardAll`), rewinding to the start, the state file export and import, and
 * disposal. A family supplies only its layers: a workspace of activations, the forward over
 * some tokens (one carried step, or any length from zero state), its per-layer state tensors
 * and the tensors it owns.
 *
 * @module
 */
import type { Backend, Tensor } from "../backend/backend.ts";
import { BenteviError } from "../errors.ts";
import type { NamedTensor } from "../io/safetensors.ts";
import { recurrentEmbeddings } from "./embed.ts";
import { checkTokenId, freeAll } from "./inference_support.ts";

/**
 * One layer's recurrent state, each tensor with a leading batch dimension of 1 (dropped in
 * the exported shapes).
 */
export interface RecurrentLayerState {
  /** The last LayerNorm-ed input of time mixing (token shift) `[1, C]`. */
  att: Tensor;
  /** The last LayerNorm-ed input of channel mixing (token shift) `[1, C]`. */
  ffn: Tensor;
  /** The WKV state (RWKV-4: aa, bb, pp `[1, 3, C]`; RWKV-5/7: `[1, H, N, N]`). */
  wkv: Tensor;
}

/** The activations of one forward; the logits `[T, V]` are what the driver reads. */
export interface RecurrentWorkspace {
  /** The logits of every position run, written when the forward runs the head. */
  logits: Tensor;
}

/** Steps fed between flushes of the backend's queue (a long prompt is many small steps). */
const FLUSH_EVERY = 64;

/**
 * A recurrent language model. Subclasses implement the abstract members; the
 * {@link LanguageModel} methods `feed`, `forwardAll`, `reset`, `truncate`, `exportState`,
 * `importState` and `dispose` live here once.
 *
 * @example
 * ```ts
 * import { createBackend } from "../backend/select.ts";
 * import { initWeights, presetConfig } from "./mod.ts";
 * import { familyOf } from "./registry.ts";
 * const config = presetConfig("rwkv-micro", 32);
 * const model = familyOf(config).createInferenceModel(
 *   await createBackend("cpu"), config, initWeights(config, 1), "example");
 * const logits = await model.feed([1, 2, 3]);
 * console.log(logits.length, model.tokens.length, model.truncate(1)); // 32 3 false
 * model.dispose();
 * ```
 */
export abstract class RecurrentModel<W extends RecurrentWorkspace> {
  /** The device the model runs on. */
  abstract readonly backend: Backend;
  /** The model's configuration (its vocabulary bounds the token ids fed). */
  abstract readonly config: { readonly vocabSize: number; readonly dModel: number };
  /** An RNN has no context limit: a step costs the same at any position. */
  readonly maxContext = Infinity;
  #tokens: number[] = [];
  #step: W | undefined;
  #stepTensors: Tensor[] = [];
  #disposed = false;

  /** Buffers for a forward over `T` tokens; every tensor allocated is pushed to `list`. */
  protected abstract workspace(T: number, list: Tensor[]): W;
  /**
   * Runs the model over `ids`: one token using and updating the state when `carry`, any
   * length from a zero state otherwise. Leaves the logits in `ws.logits` when `head`.
   */
  protected abstract run(ids: readonly number[], ws: W, carry: boolean, head: boolean): void;
  /** The final norm's output `[T, dModel]` in `ws` after a {@link run} with `head`. */
  protected abstract finalNorm(ws: W): Tensor;
  /** Each layer's state tensors, in layer order. */
  protected abstract layerStates(): readonly RecurrentLayerState[];
  /** Every tensor the model owns besides its workspaces (weights, state, tables). */
  protected abstract ownedTensors(): Tensor[];

  /** Puts the state back to its value before any token: zeros (RWKV-4 overrides its `wkv`). */
  protected clearState(): void {
    for (const st of this.layerStates()) {
      for (const t of [st.att, st.ffn, st.wkv]) this.backend.fill(t, 0);
    }
  }

  /** The tokens the state has seen. */
  get tokens(): readonly number[] {
    return this.#tokens;
  }

  /**
   * Feeds `ids` after the tokens already seen, one step each; returns the next-token logits
   * (in `into`, a `[V]` array, when given).
   */
  async feed(ids: readonly number[], into?: Float32Array): Promise<Float32Array> {
    this.check();
    if (ids.length === 0) throw new Error("feed: no tokens");
    for (const id of ids) checkTokenId(id, this.config.vocabSize);
    // The one-token workspace is kept for the life of the model (steps allocate nothing).
    const one = this.#step ??= this.workspace(1, this.#stepTensors);
    // One position at a time: the state after each token is what the next one needs; only
    // the last one runs the head.
    for (let i = 0; i < ids.length; i++) {
      this.run([ids[i]], one, true, i === ids.length - 1);
      if (i % FLUSH_EVERY === FLUSH_EVERY - 1) this.backend.flush();
    }
    const out = await this.backend.read(one.logits, into) as Float32Array;
    this.#tokens.push(...ids);
    return out;
  }

  /** The logits `[T, V]` of every position of `ids`, from a zero state (the state untouched). */
  async forwardAll(ids: readonly number[]): Promise<Float32Array> {
    this.check();
    if (ids.length === 0) throw new BenteviError("forwardAll needs at least one token");
    for (const id of ids) checkTokenId(id, this.config.vocabSize);
    const list: Tensor[] = [];
    try {
      const ws = this.workspace(ids.length, list);
      this.run(ids, ws, false, true);
      return await this.backend.read(ws.logits) as Float32Array;
    } finally {
      freeAll(this.backend, list);
    }
  }

  /**
   * Sentence embeddings (see `LanguageModel.embed`): the final norm's output pooled over each
   * sequence, run from the zero state one window at a time (the state untouched).
   */
  async embed(sequences: readonly (readonly number[])[]): Promise<Float32Array[]> {
    this.check();
    return await recurrentEmbeddings(this, (ids, list) => {
      const ws = this.workspace(ids.length, list);
      this.run(ids, ws, false, true); // the head reads the final norm's output and leaves it
      return this.finalNorm(ws);
    }, sequences);
  }

  /** Forgets every token (the state back to its start). */
  reset(): void {
    this.clearState();
    this.#tokens = [];
  }

  /** The recurrence cannot be undone: true only for the current length or 0 (a reset). */
  truncate(n: number): boolean {
    if (n === this.#tokens.length) return true;
    if (n === 0) {
      this.reset();
      return true;
    }
    return false;
  }

  /** `[name, tensor]` of every state tensor, `blocks.L.{att_prev, ffn_prev, wkv}`. */
  #named(): [string, Tensor][] {
    return this.layerStates().flatMap((st, l): [string, Tensor][] => [
      [`blocks.${l}.att_prev`, st.att],
      [`blocks.${l}.ffn_prev`, st.ffn],
      [`blocks.${l}.wkv`, st.wkv],
    ]);
  }

  /** The state, each layer's tensors without their batch dimension. */
  async exportState(): Promise<Map<string, NamedTensor>> {
    const m = new Map<string, NamedTensor>();
    for (const [name, t] of this.#named()) {
      m.set(name, { shape: t.shape.slice(1), data: await this.backend.read(t) as Float32Array });
    }
    return m;
  }

  /** Restores a state made by {@link exportState}; a missing or mis-sized tensor is refused. */
  importState(state: Map<string, NamedTensor>, tokens: readonly number[]): void {
    const named = this.#named();
    // Every tensor is checked before any is written: a refused state leaves the model as it was.
    for (const [name, t] of named) {
      const x = state.get(name);
      if (!x || x.data.length !== t.size) {
        throw new BenteviError(`state: ${name} is missing or has the wrong size`);
      }
    }
    for (const [name, t] of named) this.backend.write(t, state.get(name)!.data);
    this.#tokens = [...tokens];
  }

  /** Frees every tensor (after the pending work); later use throws. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    freeAll(this.backend, [...this.ownedTensors(), ...this.#stepTensors]);
  }

  /** Throws when the model was disposed. */
  protected check(): void {
    if (this.#disposed) throw new Error("model used after dispose()");
  }
}
