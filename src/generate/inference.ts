/**
 * Inference forms of the two models on a {@link Backend}, built for generation:
 *
 * - {@link GptInference}: the prompt runs once (prefill, all positions in one pass) and every
 *   new token reuses per-layer K/V caches through `attentionCached`, so a step costs one
 *   token's matmuls plus attention over the cache.
 * - {@link RwkvInference}: the RNN form — per layer the token-shift inputs of time and channel
 *   mixing and the WKV state (aa, bb, pp); a step costs the same at any position.
 *
 * Both keep the tokens fed so far ({@link LanguageModel.tokens}), can export their state
 * (to continue a conversation later, {@link saveModelState}), and have a stateless
 * {@link LanguageModel.forwardAll} over a whole sequence — the recompute the cached paths
 * are checked against, and what perplexity uses.
 *
 * @module
 */
import { type Backend, type Tensor, VIEW_ALIGN } from "../backend/backend.ts";
import type { GptConfig, ModelConfig, RwkvConfig } from "../model/config.ts";
import { BenteviError, fsError } from "../errors.ts";
import { type NamedTensor, readSafetensors, writeSafetensors } from "../io/safetensors.ts";
import { weightSpecs } from "../model/weights.ts";

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
   * last one. GPT throws when the cache would overflow {@link maxContext}.
   */
  feed(ids: readonly number[]): Promise<Float32Array>;
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
  /** Frees the device memory. */
  dispose(): void;
}

/** Weights by canonical name, as `loadCheckpoint` returns them. */
export type WeightMap = Map<string, { shape: readonly number[]; data: Float32Array }>;

/** Uploads the weights a config needs, checking each one's presence and size. */
function uploadWeights(
  backend: Backend,
  config: ModelConfig,
  weights: WeightMap,
  source: string,
): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  try {
    for (const { name, shape } of weightSpecs(config)) {
      const w = weights.get(name);
      if (!w) {
        throw new BenteviError(
          `${source}: weight "${name}" is missing (incompatible checkpoint for ${config.arch})`,
        );
      }
      const size = shape.reduce((a, b) => a * b, 1);
      if (w.data.length !== size) {
        throw new BenteviError(
          `${source}: weight "${name}" has shape [${w.shape}], the config needs [${shape}]`,
        );
      }
      out.set(name, backend.fromArray(shape, w.data));
    }
  } catch (e) {
    for (const t of out.values()) backend.free(t);
    throw e;
  }
  return out;
}

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
): LanguageModel {
  return config.arch === "gpt"
    ? new GptInference(backend, config, weights, source)
    : new RwkvInference(backend, config, weights, source);
}

/** Largest slice of the token table one head matmul binds (under WebGPU's 128 MiB default). */
const HEAD_SLICE_BYTES = 64 * 1024 * 1024;

/** The activations of one GPT forward over `T` positions. */
interface GptWorkspace {
  T: number;
  x: Tensor;
  ln: Tensor;
  mean: Tensor;
  rstd: Tensor;
  qkv: Tensor;
  att: Tensor;
  fc: Tensor;
  g: Tensor;
  /** Saved log-sum-exp of uncached attention (null: the KV-cached path). */
  lse: Tensor | null;
  logits: Tensor | null;
  /** Everything allocated, to free. */
  all: Tensor[];
}

/** Submits pending work and frees the tensors. */
function freeAll(backend: Backend, tensors: Iterable<Tensor>): void {
  backend.flush();
  for (const t of tensors) backend.free(t);
}

/** GPT-2 with a KV cache. See the module documentation. */
export class GptInference implements LanguageModel {
  readonly config: GptConfig;
  readonly backend: Backend;
  readonly maxContext: number;
  #w: Map<string, Tensor>;
  #k: Tensor[] = [];
  #v: Tensor[] = [];
  #tokens: number[] = [];
  #one: GptWorkspace | undefined;
  #headSliceBytes: number;
  #wteHost: Float32Array;
  #wpeHost: Float32Array;
  #disposed = false;

  /**
   * Uploads `weights` and allocates the caches (`[1, contextLength, C]` per layer).
   * `headSliceBytes` bounds the slice of the token table one head matmul binds.
   */
  constructor(
    backend: Backend,
    config: GptConfig,
    weights: WeightMap,
    source = "checkpoint",
    headSliceBytes = HEAD_SLICE_BYTES,
  ) {
    this.#headSliceBytes = headSliceBytes;
    this.backend = backend;
    this.config = config;
    this.maxContext = config.contextLength;
    this.#w = uploadWeights(backend, config, weights, source);
    this.#wteHost = weights.get("wte.weight")!.data;
    this.#wpeHost = weights.get("wpe.weight")!.data;
    for (let l = 0; l < config.nLayer; l++) {
      this.#k.push(backend.zeros([1, config.contextLength, config.dModel]));
      this.#v.push(backend.zeros([1, config.contextLength, config.dModel]));
    }
  }

  get tokens(): readonly number[] {
    return this.#tokens;
  }

  #weight(name: string): Tensor {
    return this.#w.get(name)!;
  }

  /** Buffers for a block of `T` positions (`head`: also the final LayerNorm and logits). */
  #workspace(T: number, cached: boolean, head: boolean): GptWorkspace {
    const b = this.backend, c = this.config, C = c.dModel, M = c.mlpDim;
    const all: Tensor[] = [];
    const z = (shape: number[], dtype: "f32" | "i32" = "f32") => {
      const t = b.zeros(shape, dtype);
      all.push(t);
      return t;
    };
    return {
      T,
      x: z([T, C]),
      ln: z([T, C]),
      mean: z([T]),
      rstd: z([T]),
      qkv: z([T, 3 * C]),
      att: z([T, C]),
      fc: z([T, M]),
      g: z([T, M]),
      lse: cached ? null : z([c.nHead, T]),
      // Sliced heads over several rows assemble the logits on the host instead.
      logits: head && (T === 1 || c.vocabSize * C * 4 <= this.#headSliceBytes)
        ? z([T, c.vocabSize])
        : null,
      all,
    };
  }

  /** The one-token workspace, kept for the life of the model (decode steps allocate nothing). */
  #step(): GptWorkspace {
    return this.#one ??= this.#workspace(1, true, true);
  }

  /** Runs the blocks over `ids` at positions `pos…`, leaving the residual stream in `ws.x`. */
  #blocks(ids: readonly number[], pos: number, ws: GptWorkspace): void {
    const b = this.backend, c = this.config, T = ids.length, C = c.dModel;
    const { x, ln, mean, rstd, qkv, att, fc, g } = ws;
    const dims = { B: 1, T, C, NH: c.nHead };
    // The embedding rows are summed on the host: a handful of rows per call, and the token
    // table never has to be bound whole (GPT-2's is 154 MB, over some devices' binding limit).
    const rows = new Float32Array(T * C);
    for (let t = 0; t < T; t++) {
      const e = ids[t] * C, p = (pos + t) * C;
      for (let i = 0; i < C; i++) rows[t * C + i] = this.#wteHost[e + i] + this.#wpeHost[p + i];
    }
    b.write(x, rows);
    for (let l = 0; l < c.nLayer; l++) {
      const p = `h.${l}.`, w = (n: string) => this.#weight(p + n);
      b.layerNorm({
        out: ln,
        mean,
        rstd,
        x,
        w: w("ln_1.weight"),
        b: w("ln_1.bias"),
        eps: c.layerNormEps,
      });
      b.matmul(qkv, ln, w("attn.c_attn.weight"), { bias: w("attn.c_attn.bias") });
      if (ws.lse) b.attention({ out: att, lse: ws.lse, qkv, dims });
      else b.attentionCached({ out: att, qkv, kCache: this.#k[l], vCache: this.#v[l], pos, dims });
      b.matmul(x, att, w("attn.c_proj.weight"), { bias: w("attn.c_proj.bias"), accumulate: true });
      b.layerNorm({
        out: ln,
        mean,
        rstd,
        x,
        w: w("ln_2.weight"),
        b: w("ln_2.bias"),
        eps: c.layerNormEps,
      });
      b.matmul(fc, ln, w("mlp.c_fc.weight"), { bias: w("mlp.c_fc.bias") });
      b.gelu(g, fc);
      b.matmul(x, g, w("mlp.c_proj.weight"), { bias: w("mlp.c_proj.bias"), accumulate: true });
    }
  }

  /** Final LayerNorm and the tied head over `ws.x` → `ws.logits [T, V]`. */
  async #head(ws: GptWorkspace): Promise<Float32Array> {
    const b = this.backend, c = this.config, C = c.dModel, V = c.vocabSize, T = ws.T;
    const wte = this.#weight("wte.weight"), logits = ws.logits!;
    b.layerNorm({
      out: ws.ln,
      mean: ws.mean,
      rstd: ws.rstd,
      x: ws.x,
      w: this.#weight("ln_f.weight"),
      b: this.#weight("ln_f.bias"),
      eps: c.layerNormEps,
    });
    // A big vocabulary goes in slices of the table, each binding at most headSliceBytes.
    const slice = this.#headSliceBytes;
    const rows = Math.floor(slice / (4 * C) / VIEW_ALIGN) * VIEW_ALIGN;
    if (V * C * 4 <= slice || rows === 0) {
      b.matmul(logits, ws.ln, wte, { transB: true });
      return await b.read(logits) as Float32Array;
    }
    if (T === 1) {
      // One row: each slice writes straight into its part of the logits.
      for (let start = 0; start < V; start += rows) {
        const n = Math.min(rows, V - start);
        b.matmul(b.view(logits, start, [1, n]), ws.ln, b.view(wte, start * C, [n, C]), {
          transB: true,
        });
      }
      return await b.read(logits) as Float32Array;
    }
    // Several rows: slice by slice into a [T, n] buffer, assembled on the host.
    const out = new Float32Array(T * V);
    const part = b.zeros([T, rows]);
    try {
      for (let start = 0; start < V; start += rows) {
        const n = Math.min(rows, V - start);
        const dst = n === rows ? part : b.view(part, 0, [T, n]);
        b.matmul(dst, ws.ln, b.view(wte, start * C, [n, C]), { transB: true });
        const got = await b.read(dst) as Float32Array;
        for (let t = 0; t < T; t++) out.set(got.subarray(t * n, t * n + n), t * V + start);
      }
    } finally {
      freeAll(b, [part]);
    }
    return out;
  }

  async feed(ids: readonly number[]): Promise<Float32Array> {
    this.#check();
    if (ids.length === 0) throw new Error("feed: no tokens");
    const pos = this.#tokens.length;
    if (pos + ids.length > this.maxContext) {
      throw new BenteviError(
        `the context holds ${this.maxContext} tokens; ${pos} used, ${ids.length} more do not fit`,
      );
    }
    for (const id of ids) this.#checkId(id);
    // Prefill all but the last token without the head, then the last one with it: the
    // head (the biggest matmul with a large vocabulary) runs for one row only.
    if (ids.length > 1) {
      const ws = this.#workspace(ids.length - 1, true, false);
      try {
        this.#blocks(ids.slice(0, -1), pos, ws);
      } finally {
        freeAll(this.backend, ws.all);
      }
    }
    const one = this.#step();
    this.#blocks(ids.slice(-1), pos + ids.length - 1, one);
    const out = await this.#head(one);
    this.#tokens.push(...ids);
    return out;
  }

  async forwardAll(ids: readonly number[]): Promise<Float32Array> {
    this.#check();
    if (ids.length === 0 || ids.length > this.maxContext) {
      throw new BenteviError(`forwardAll needs 1…${this.maxContext} tokens, got ${ids.length}`);
    }
    for (const id of ids) this.#checkId(id);
    const ws = this.#workspace(ids.length, false, true);
    try {
      this.#blocks(ids, 0, ws);
      return await this.#head(ws);
    } finally {
      freeAll(this.backend, ws.all);
    }
  }

  reset(): void {
    this.#tokens = [];
  }

  truncate(n: number): boolean {
    if (n < 0 || n > this.#tokens.length) return false;
    this.#tokens.length = n; // later positions of the cache are simply overwritten
    return true;
  }

  async exportState(): Promise<Map<string, NamedTensor>> {
    const T = this.#tokens.length, C = this.config.dModel;
    const m = new Map<string, NamedTensor>();
    for (let l = 0; l < this.config.nLayer; l++) {
      const k = await this.backend.read(this.#k[l]) as Float32Array;
      const v = await this.backend.read(this.#v[l]) as Float32Array;
      m.set(`h.${l}.k_cache`, { shape: [T, C], data: k.slice(0, T * C) });
      m.set(`h.${l}.v_cache`, { shape: [T, C], data: v.slice(0, T * C) });
    }
    return m;
  }

  importState(state: Map<string, NamedTensor>, tokens: readonly number[]): void {
    const T = tokens.length, C = this.config.dModel;
    if (T > this.maxContext) {
      throw new BenteviError(`state holds ${T} tokens; context is ${this.maxContext}`);
    }
    for (let l = 0; l < this.config.nLayer; l++) {
      for (const [name, cache] of [["k_cache", this.#k[l]], ["v_cache", this.#v[l]]] as const) {
        const t = state.get(`h.${l}.${name}`);
        if (!t || t.data.length !== T * C) {
          throw new BenteviError(`state: h.${l}.${name} is missing or has the wrong size`);
        }
        if (T > 0) this.backend.write(cache, t.data);
      }
    }
    this.#tokens = [...tokens];
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    freeAll(this.backend, [...this.#w.values(), ...this.#k, ...this.#v, ...(this.#one?.all ?? [])]);
  }

  #check() {
    if (this.#disposed) throw new Error("model used after dispose()");
  }

  #checkId(id: number) {
    if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
      throw new BenteviError(
        `token id ${id} is outside the model's vocabulary (${this.config.vocabSize})`,
      );
    }
  }
}

/** Per-layer RNN state of RWKV-4. */
interface RwkvLayerState {
  /** Last LayerNorm-ed input of time mixing `[1, C]`. */
  att: Tensor;
  /** Last LayerNorm-ed input of channel mixing `[1, C]`. */
  ffn: Tensor;
  /** WKV state (aa, bb, pp) `[1, 3, C]`. */
  wkv: Tensor;
}

/** RWKV-4 as an RNN. See the module documentation. */
export class RwkvInference implements LanguageModel {
  readonly config: RwkvConfig;
  readonly backend: Backend;
  readonly maxContext = Infinity;
  #w: Map<string, Tensor>;
  #state: RwkvLayerState[] = [];
  #step: Tensor[];
  #s: Record<string, Tensor>;
  #tokens: number[] = [];
  #disposed = false;

  /** Uploads `weights` and allocates the state and the one-token scratch buffers. */
  constructor(backend: Backend, config: RwkvConfig, weights: WeightMap, source = "checkpoint") {
    this.backend = backend;
    this.config = config;
    this.#w = uploadWeights(backend, config, weights, source);
    for (let l = 0; l < config.nLayer; l++) {
      this.#state.push({
        att: backend.zeros([1, config.dModel]),
        ffn: backend.zeros([1, config.dModel]),
        wkv: backend.zeros([1, 3, config.dModel]),
      });
    }
    this.reset();
    this.#step = [];
    this.#s = this.#scratch(1, this.#step);
  }

  get tokens(): readonly number[] {
    return this.#tokens;
  }

  #scratch(T: number, list: Tensor[]): Record<string, Tensor> {
    const b = this.backend, C = this.config.dModel, F = this.config.ffnDim;
    const s: Record<string, Tensor> = {};
    const shapes: Record<string, number[]> = {
      x: [T, C],
      x0: [T, C],
      xx: [T, C],
      mean: [T],
      rstd: [T],
      xk: [T, C],
      xv: [T, C],
      xr: [T, C],
      k: [T, C],
      v: [T, C],
      r: [T, C],
      rs: [T, C],
      y: [T, C],
      ry: [T, C],
      fk: [T, F],
      fk2: [T, F],
      kv: [T, C],
      logits: [T, this.config.vocabSize],
    };
    for (const [name, shape] of Object.entries(shapes)) list.push(s[name] = b.zeros(shape));
    list.push(s.ids = b.zeros([T], "i32"));
    return s;
  }

  /**
   * Runs the model over `ids` (one position when `carry`, using and updating the RNN state;
   * any length from zero state otherwise). Leaves the logits in `s.logits` when `head`.
   */
  #run(ids: readonly number[], s: Record<string, Tensor>, carry: boolean, head: boolean): void {
    const b = this.backend, c = this.config, T = ids.length, eps = c.layerNormEps;
    const w = (n: string) => this.#w.get(n)!;
    b.write(s.ids, Int32Array.from(ids));
    b.embedding({ out: s.x0, ids: s.ids, wte: w("emb.weight"), wpe: null, T });
    b.layerNorm({
      out: s.x,
      mean: s.mean,
      rstd: s.rstd,
      x: s.x0,
      w: w("blocks.0.ln0.weight"),
      b: w("blocks.0.ln0.bias"),
      eps,
    });
    for (let l = 0; l < c.nLayer; l++) {
      const p = `blocks.${l}.`, st = carry ? this.#state[l] : null;
      b.layerNorm({
        out: s.xx,
        mean: s.mean,
        rstd: s.rstd,
        x: s.x,
        w: w(p + "ln1.weight"),
        b: w(p + "ln1.bias"),
        eps,
      });
      b.tokenShift({
        out: s.xk,
        x: s.xx,
        mix: w(p + "att.time_mix_k"),
        prev: st?.att ?? null,
        B: 1,
        T,
      });
      b.tokenShift({
        out: s.xv,
        x: s.xx,
        mix: w(p + "att.time_mix_v"),
        prev: st?.att ?? null,
        B: 1,
        T,
      });
      b.tokenShift({
        out: s.xr,
        x: s.xx,
        mix: w(p + "att.time_mix_r"),
        prev: st?.att ?? null,
        B: 1,
        T,
      });
      if (st) b.copy(st.att, s.xx);
      b.matmul(s.k, s.xk, w(p + "att.key.weight"), { transB: true });
      b.matmul(s.v, s.xv, w(p + "att.value.weight"), { transB: true });
      b.matmul(s.r, s.xr, w(p + "att.receptance.weight"), { transB: true });
      b.sigmoid(s.rs, s.r);
      b.wkv({
        y: s.y,
        k: s.k,
        v: s.v,
        timeDecay: w(p + "att.time_decay"),
        timeFirst: w(p + "att.time_first"),
        state: st?.wkv ?? null,
        B: 1,
        T,
      });
      b.mul(s.ry, s.rs, s.y);
      b.matmul(s.x, s.ry, w(p + "att.output.weight"), { transB: true, accumulate: true });
      b.layerNorm({
        out: s.xx,
        mean: s.mean,
        rstd: s.rstd,
        x: s.x,
        w: w(p + "ln2.weight"),
        b: w(p + "ln2.bias"),
        eps,
      });
      b.tokenShift({
        out: s.xk,
        x: s.xx,
        mix: w(p + "ffn.time_mix_k"),
        prev: st?.ffn ?? null,
        B: 1,
        T,
      });
      b.tokenShift({
        out: s.xr,
        x: s.xx,
        mix: w(p + "ffn.time_mix_r"),
        prev: st?.ffn ?? null,
        B: 1,
        T,
      });
      if (st) b.copy(st.ffn, s.xx);
      b.matmul(s.fk, s.xk, w(p + "ffn.key.weight"), { transB: true });
      b.reluSquared(s.fk2, s.fk);
      b.matmul(s.kv, s.fk2, w(p + "ffn.value.weight"), { transB: true });
      b.matmul(s.r, s.xr, w(p + "ffn.receptance.weight"), { transB: true });
      b.sigmoid(s.rs, s.r);
      b.mul(s.ry, s.rs, s.kv);
      b.addInto(s.x, s.ry);
    }
    if (head) {
      b.layerNorm({
        out: s.xx,
        mean: s.mean,
        rstd: s.rstd,
        x: s.x,
        w: w("ln_out.weight"),
        b: w("ln_out.bias"),
        eps,
      });
      b.matmul(s.logits, s.xx, w("head.weight"), { transB: true });
    }
  }

  async feed(ids: readonly number[]): Promise<Float32Array> {
    this.#check();
    if (ids.length === 0) throw new Error("feed: no tokens");
    for (const id of ids) this.#checkId(id);
    // One position at a time: the state after each token is what the next one needs.
    for (let i = 0; i < ids.length; i++) {
      this.#run([ids[i]], this.#s, true, i === ids.length - 1);
      if (i % 64 === 63) this.backend.flush();
    }
    const out = await this.backend.read(this.#s.logits) as Float32Array;
    this.#tokens.push(...ids);
    return out;
  }

  async forwardAll(ids: readonly number[]): Promise<Float32Array> {
    this.#check();
    if (ids.length === 0) throw new BenteviError("forwardAll needs at least one token");
    for (const id of ids) this.#checkId(id);
    const list: Tensor[] = [];
    try {
      const s = this.#scratch(ids.length, list);
      this.#run(ids, s, false, true);
      return await this.backend.read(s.logits) as Float32Array;
    } finally {
      freeAll(this.backend, list);
    }
  }

  reset(): void {
    const C = this.config.dModel;
    const wkv0 = new Float32Array(3 * C);
    wkv0.fill(-1e38, 2 * C); // pp: running maximum exponent starts at "minus infinity"
    for (const st of this.#state) {
      this.backend.fill(st.att, 0);
      this.backend.fill(st.ffn, 0);
      this.backend.write(st.wkv, wkv0);
    }
    this.#tokens = [];
  }

  truncate(n: number): boolean {
    if (n === this.#tokens.length) return true;
    if (n === 0) {
      this.reset();
      return true;
    }
    return false;
  }

  async exportState(): Promise<Map<string, NamedTensor>> {
    const C = this.config.dModel, m = new Map<string, NamedTensor>();
    for (let l = 0; l < this.config.nLayer; l++) {
      const st = this.#state[l];
      m.set(`blocks.${l}.att_prev`, {
        shape: [C],
        data: await this.backend.read(st.att) as Float32Array,
      });
      m.set(`blocks.${l}.ffn_prev`, {
        shape: [C],
        data: await this.backend.read(st.ffn) as Float32Array,
      });
      m.set(`blocks.${l}.wkv`, {
        shape: [3, C],
        data: await this.backend.read(st.wkv) as Float32Array,
      });
    }
    return m;
  }

  importState(state: Map<string, NamedTensor>, tokens: readonly number[]): void {
    const C = this.config.dModel;
    const get = (name: string, size: number) => {
      const t = state.get(name);
      if (!t || t.data.length !== size) {
        throw new BenteviError(`state: ${name} is missing or has the wrong size`);
      }
      return t.data;
    };
    for (let l = 0; l < this.config.nLayer; l++) {
      const st = this.#state[l];
      this.backend.write(st.att, get(`blocks.${l}.att_prev`, C));
      this.backend.write(st.ffn, get(`blocks.${l}.ffn_prev`, C));
      this.backend.write(st.wkv, get(`blocks.${l}.wkv`, 3 * C));
    }
    this.#tokens = [...tokens];
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const all = [...this.#w.values(), ...this.#step];
    for (const st of this.#state) all.push(st.att, st.ffn, st.wkv);
    freeAll(this.backend, all);
  }

  #check() {
    if (this.#disposed) throw new Error("model used after dispose()");
  }

  #checkId(id: number) {
    if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
      throw new BenteviError(
        `token id ${id} is outside the model's vocabulary (${this.config.vocabSize})`,
      );
    }
  }
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
