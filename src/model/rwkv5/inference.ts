/**
 * RWKV-5 for generation, as an RNN (per layer: the last ln1 and ln2 outputs and the
 * `[H, N, N]` WKV state), with the parallel form from an empty state for `forwardAll`:
 *
 * ```
 * xa = LN1(x);  x_m = xa·mix_m + xa_{t−1}·(1 − mix_m)    (m = k, v, r, and g for 5.2)
 * y = WKV5(W_r·x_r, W_k·x_k, W_v·x_v; decay exp(−exp(time_decay)), bonus u)
 * x += W_o·(GroupNorm_H(y)·ln_x.w + ln_x.b) ⊙ (5.2: silu(W_g·x_g))
 * x += σ(W_r'·x_r')·W_v'·relu(W_k'·x_k')²                  (RWKV-4's channel mixing)
 * ```
 *
 * @module
 */
import type { Backend, Tensor } from "../../backend/backend.ts";
import { BenteviError } from "../../errors.ts";
import type { LanguageModel, WeightMap } from "../../generate/inference.ts";
import type { NamedTensor } from "../../io/safetensors.ts";
import { allocatePlan, f32, i32 } from "../buffers.ts";
import { checkedWeight, checkTokenId, freeAll, uploadWeights } from "../inference_support.ts";
import { recurrentEmbeddings } from "../embed.ts";
import type { Rwkv5Config } from "./config.ts";
import { rwkv5WeightSpecs } from "./weights.ts";

/** The per-channel decay `exp(−exp(w))` and bonus of layer `l`, expanded to `[C]`. */
export function rwkv5DecayBonus(
  config: Rwkv5Config,
  weights: WeightMap,
  l: number,
  source: string,
): { decay: Float32Array; bonus: Float32Array } {
  const C = config.dModel, N = config.headSize, v52 = config.version === "5.2";
  const specs = rwkv5WeightSpecs(config);
  const get = (n: string) =>
    checkedWeight(specs.find((s) => s.name === n)!, weights, "rwkv5", source);
  const w = get(`blocks.${l}.att.time_decay`);
  const u = get(`blocks.${l}.att.${v52 ? "time_faaaa" : "time_first"}`);
  const decay = new Float32Array(C), bonus = new Float32Array(C);
  for (let c = 0; c < C; c++) {
    const i = v52 ? c : Math.floor(c / N);
    decay[c] = Math.exp(-Math.exp(w[i]));
    bonus[c] = v52 ? u[i] : Math.exp(u[i]);
  }
  return { decay, bonus };
}

/** RWKV-5 as an RNN. See the module documentation. */
export class Rwkv5Inference implements LanguageModel {
  readonly config: Rwkv5Config;
  readonly backend: Backend;
  readonly maxContext = Infinity;
  #w: Map<string, Tensor>;
  #owned: Tensor[] = [];
  #layers: { decay: Tensor; bonus: Tensor; att: Tensor; ffn: Tensor; wkv: Tensor }[] = [];
  #zeroC: Tensor;
  #step: Record<string, Tensor>;
  #tokens: number[] = [];
  #disposed = false;

  /** Uploads `weights` and allocates the state and the one-token buffers. */
  constructor(backend: Backend, config: Rwkv5Config, weights: WeightMap, source = "checkpoint") {
    this.backend = backend;
    this.config = config;
    this.#w = uploadWeights(backend, rwkv5WeightSpecs(config), weights, config.arch, source);
    const C = config.dModel, N = config.headSize, H = C / N;
    for (let l = 0; l < config.nLayer; l++) {
      const { decay, bonus } = rwkv5DecayBonus(config, weights, l, source);
      const layer = {
        decay: backend.fromArray([C], decay),
        bonus: backend.fromArray([C], bonus),
        att: backend.zeros([1, C]),
        ffn: backend.zeros([1, C]),
        wkv: backend.zeros([1, H, N, N]),
      };
      this.#owned.push(...Object.values(layer));
      this.#layers.push(layer);
    }
    this.#zeroC = backend.zeros([C]);
    this.#owned.push(this.#zeroC);
    this.#step = this.#scratch(1, this.#owned);
  }

  get tokens(): readonly number[] {
    return this.#tokens;
  }

  #scratch(T: number, list: Tensor[]): Record<string, Tensor> {
    const { dModel: C, ffnDim: F, vocabSize: V } = this.config;
    const s = allocatePlan(this.backend, {
      ids: i32(T),
      x0: f32(T, C),
      x: f32(T, C),
      xx: f32(T, C),
      mean: f32(T),
      rstd: f32(T),
      xk: f32(T, C),
      xv: f32(T, C),
      xr: f32(T, C),
      xg: f32(T, C),
      k: f32(T, C),
      v: f32(T, C),
      r: f32(T, C),
      gp: f32(T, C),
      g: f32(T, C),
      ones: f32(T, C),
      y: f32(T, C),
      o: f32(T, C),
      fk: f32(T, F),
      fk2: f32(T, F),
      kv: f32(T, C),
      logits: f32(T, V),
    }, list);
    this.backend.fill(s.ones, 1);
    return s;
  }

  #run(ids: readonly number[], s: Record<string, Tensor>, carry: boolean): void {
    const b = this.backend, c = this.config, T = ids.length, eps = c.layerNormEps;
    const H = c.dModel / c.headSize, w = (n: string) => this.#w.get(n)!;
    const ln = (out: Tensor, x: Tensor, name: string) =>
      b.layerNorm({
        out,
        mean: s.mean,
        rstd: s.rstd,
        x,
        w: w(`${name}.weight`),
        b: w(`${name}.bias`),
        eps,
      });
    b.write(s.ids, Int32Array.from(ids));
    b.embedding({ out: s.x0, ids: s.ids, wte: w("emb.weight"), wpe: null, T });
    ln(s.x, s.x0, "blocks.0.ln0");
    for (let l = 0; l < c.nLayer; l++) {
      const p = `blocks.${l}.`, L = this.#layers[l];
      const shift = (out: Tensor, mix: string, prev: Tensor) =>
        b.tokenShift({ out, x: s.xx, mix: w(p + mix), prev: carry ? prev : null, B: 1, T });
      ln(s.xx, s.x, p + "ln1");
      shift(s.xk, "att.time_mix_k", L.att);
      shift(s.xv, "att.time_mix_v", L.att);
      shift(s.xr, "att.time_mix_r", L.att);
      if (c.version === "5.2") shift(s.xg, "att.time_mix_g", L.att);
      if (carry) b.copy(L.att, s.xx);
      b.matmul(s.k, s.xk, w(p + "att.key.weight"), { transB: true });
      b.matmul(s.v, s.xv, w(p + "att.value.weight"), { transB: true });
      b.matmul(s.r, s.xr, w(p + "att.receptance.weight"), { transB: true });
      b.wkv5({
        y: s.y,
        r: s.r,
        k: s.k,
        v: s.v,
        decay: L.decay,
        bonus: L.bonus,
        state: carry ? L.wkv : null,
        B: 1,
        T,
        H,
      });
      let gate = s.ones;
      if (c.version === "5.2") {
        b.matmul(s.gp, s.xg, w(p + "att.gate.weight"), { transB: true });
        b.swiglu(s.g, s.gp, s.ones); // silu
        gate = s.g;
      }
      // The group norm and gate of RWKV-7's output op, with no bonus term (r_k = 0).
      b.rwkv7Output({
        out: s.o,
        y: s.y,
        r: s.r,
        k: s.k,
        v: s.v,
        g: gate,
        lnW: w(p + "att.ln_x.weight"),
        lnB: w(p + "att.ln_x.bias"),
        rK: this.#zeroC,
        H,
        eps: c.groupNormEps,
      });
      b.matmul(s.x, s.o, w(p + "att.output.weight"), { transB: true, accumulate: true });
      ln(s.xx, s.x, p + "ln2");
      shift(s.xk, "ffn.time_mix_k", L.ffn);
      shift(s.xr, "ffn.time_mix_r", L.ffn);
      if (carry) b.copy(L.ffn, s.xx);
      b.matmul(s.fk, s.xk, w(p + "ffn.key.weight"), { transB: true });
      b.reluSquared(s.fk2, s.fk);
      b.matmul(s.kv, s.fk2, w(p + "ffn.value.weight"), { transB: true });
      b.matmul(s.r, s.xr, w(p + "ffn.receptance.weight"), { transB: true });
      b.sigmoid(s.g, s.r);
      b.mul(s.o, s.g, s.kv);
      b.addInto(s.x, s.o);
    }
    ln(s.xx, s.x, "ln_out");
    b.matmul(s.logits, s.xx, w("head.weight"), { transB: true });
  }

  async feed(ids: readonly number[]): Promise<Float32Array> {
    this.#check();
    if (ids.length === 0) throw new Error("feed: no tokens");
    for (const id of ids) checkTokenId(id, this.config.vocabSize);
    for (let i = 0; i < ids.length; i++) {
      this.#run([ids[i]], this.#step, true);
      if (i % 64 === 63) this.backend.flush();
    }
    const out = await this.backend.read(this.#step.logits) as Float32Array;
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
      this.#run(ids, s, false);
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
      this.#run(ids, s, false); // the head reads s.xx, the final LayerNorm's output, and leaves it
      return s.xx;
    }, sequences);
  }

  reset(): void {
    for (const L of this.#layers) for (const t of [L.att, L.ffn, L.wkv]) this.backend.fill(t, 0);
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
    const m = new Map<string, NamedTensor>();
    for (let l = 0; l < this.config.nLayer; l++) {
      const L = this.#layers[l];
      for (const [name, t] of [["att_prev", L.att], ["ffn_prev", L.ffn], ["wkv", L.wkv]] as const) {
        m.set(`blocks.${l}.${name}`, {
          shape: t.shape.slice(1),
          data: await this.backend.read(t) as Float32Array,
        });
      }
    }
    return m;
  }

  importState(state: Map<string, NamedTensor>, tokens: readonly number[]): void {
    for (let l = 0; l < this.config.nLayer; l++) {
      const L = this.#layers[l];
      for (const [name, t] of [["att_prev", L.att], ["ffn_prev", L.ffn], ["wkv", L.wkv]] as const) {
        const key = `blocks.${l}.${name}`, x = state.get(key);
        if (!x || x.data.length !== t.size) {
          throw new BenteviError(`state: ${key} is missing or has the wrong size`);
        }
        this.backend.write(t, x.data);
      }
    }
    this.#tokens = [...tokens];
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    freeAll(this.backend, [...this.#w.values(), ...this.#owned]);
  }

  #check() {
    if (this.#disposed) throw new Error("model used after dispose()");
  }
}
