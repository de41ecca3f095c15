/**
 * RWKV-4 for generation, as an RNN: per layer the token-shift inputs of time and channel
 * mixing and the WKV state (aa, bb, pp); a step costs the same at any position.
 * {@link RwkvInference.forwardAll} runs the parallel form from an empty state.
 *
 * @module
 */
import type { Backend, Tensor } from "../../backend/backend.ts";
import { BenteviError } from "../../errors.ts";
import type { LanguageModel, WeightMap } from "../../generate/inference.ts";
import type { NamedTensor } from "../../io/safetensors.ts";
import { checkTokenId, freeAll, uploadWeights, writeUploadedWeight } from "../inference_support.ts";
import { recurrentEmbeddings } from "../embed.ts";
import type { RwkvConfig } from "./config.ts";
import { rwkvWeightSpecs } from "./weights.ts";

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
    this.#w = uploadWeights(backend, rwkvWeightSpecs(config), weights, config.arch, source);
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

  /** Overwrites a linear layer's matrix (see {@link LanguageModel.writeWeight}). */
  writeWeight(name: string, data: Float32Array): void {
    writeUploadedWeight(this.backend, this.#w, name, data);
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
    for (const id of ids) checkTokenId(id, this.config.vocabSize);
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
    for (const id of ids) checkTokenId(id, this.config.vocabSize);
    const list: Tensor[] = [];
    try {
      const s = this.#scratch(ids.length, list);
      this.#run(ids, s, false, true);
      return await this.backend.read(s.logits) as Float32Array;
    } finally {
      freeAll(this.backend, list);
    }
  }

  /**
   * Sentence embeddings (see `LanguageModel.embed`): the output of `ln_out` pooled over each
   * sequence, run from the zero state one window at a time (the state untouched).
   */
  async embed(sequences: readonly (readonly number[])[]): Promise<Float32Array[]> {
    this.#check();
    return await recurrentEmbeddings(this, (ids, list) => {
      const s = this.#scratch(ids.length, list);
      this.#run(ids, s, false, true); // the head reads s.xx, the final LayerNorm's output, and leaves it
      return s.xx;
    }, sequences);
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
}
