/**
 * RWKV-7 for generation, as an RNN: per layer the last ln1 and ln2 outputs (token shift) and
 * the `[H, N, N]` WKV state; a step costs the same at any position. `forwardAll` runs the
 * parallel form from an empty state.
 *
 * @module
 */
import type { Backend, Tensor } from "../../backend/backend.ts";
import { BenteviError } from "../../errors.ts";
import type { LanguageModel, WeightMap } from "../../generate/inference.ts";
import type { NamedTensor } from "../../io/safetensors.ts";
import { allocatePlan, f32, i32 } from "../buffers.ts";
import { checkTokenId, freeAll, uploadWeights } from "../inference_support.ts";
import { recurrentEmbeddings } from "../embed.ts";
import {
  rwkv7BlockForward,
  type Rwkv7LayerActs,
  rwkv7LayerPlan,
  type Rwkv7LayerState,
} from "./block.ts";
import type { Rwkv7Config } from "./config.ts";
import { rwkv7WeightSpecs } from "./weights.ts";

/** Buffers of one forward over T tokens (one block's set, reused by every block). */
interface Scratch {
  acts: Rwkv7LayerActs;
  ids: Tensor;
  emb: Tensor;
  x: Tensor;
  mean: Tensor;
  rstd: Tensor;
  vFirst: Tensor;
  xo: Tensor;
  logits: Tensor;
}

/** RWKV-7 as an RNN. See the module documentation. */
export class Rwkv7Inference implements LanguageModel {
  readonly config: Rwkv7Config;
  readonly backend: Backend;
  readonly maxContext = Infinity;
  #w: Map<string, Tensor>;
  #state: Rwkv7LayerState[] = [];
  #owned: Tensor[] = [];
  #step: Scratch;
  #tokens: number[] = [];
  #disposed = false;

  /** Uploads `weights` and allocates the state and the one-token buffers. */
  constructor(backend: Backend, config: Rwkv7Config, weights: WeightMap, source = "checkpoint") {
    this.backend = backend;
    this.config = config;
    this.#w = uploadWeights(backend, rwkv7WeightSpecs(config), weights, config.arch, source);
    const C = config.dModel, N = config.headSize, H = C / N;
    for (let l = 0; l < config.nLayer; l++) {
      const st = {
        att: backend.zeros([1, C]),
        ffn: backend.zeros([1, C]),
        wkv: backend.zeros([1, H, N, N]),
      };
      this.#owned.push(st.att, st.ffn, st.wkv);
      this.#state.push(st);
    }
    this.#step = this.#scratch(1, this.#owned);
  }

  get tokens(): readonly number[] {
    return this.#tokens;
  }

  #scratch(T: number, list: Tensor[]): Scratch {
    const c = this.config, C = c.dModel;
    const m = allocatePlan(this.backend, {
      ids: i32(T),
      emb: f32(T, C),
      x: f32(T, C),
      mean: f32(T),
      rstd: f32(T),
      vFirst: f32(T, C),
      xo: f32(T, C),
      logits: f32(T, c.vocabSize),
    }, list);
    const acts = { xin: m.x, ...allocatePlan(this.backend, rwkv7LayerPlan(c, T), list) };
    return { ...m, acts };
  }

  /** Runs every block over `ids` (with the state when `carry`); logits in `s.logits`. */
  #run(ids: readonly number[], s: Scratch, carry: boolean): void {
    const be = this.backend, c = this.config, T = ids.length;
    const p = (n: string) => this.#w.get(n)!;
    be.write(s.ids, Int32Array.from(ids));
    be.embedding({ out: s.emb, ids: s.ids, wte: p("emb.weight"), wpe: null, T });
    be.layerNorm({
      out: s.x,
      mean: s.mean,
      rstd: s.rstd,
      x: s.emb,
      w: p("blocks.0.ln0.weight"),
      b: p("blocks.0.ln0.bias"),
      eps: c.layerNormEps,
    });
    for (let l = 0; l < c.nLayer; l++) {
      rwkv7BlockForward(
        {
          be,
          config: c,
          p,
          vFirst: s.vFirst,
          state: carry ? this.#state[l] : null,
          B: 1,
          T,
        },
        l,
        s.acts,
      );
      be.copy(s.x, s.acts.x2);
    }
    be.layerNorm({
      out: s.xo,
      mean: s.mean,
      rstd: s.rstd,
      x: s.x,
      w: p("ln_out.weight"),
      b: p("ln_out.bias"),
      eps: c.layerNormEps,
    });
    be.matmul(s.logits, s.xo, p("head.weight"), { transB: true });
  }

  async feed(ids: readonly number[]): Promise<Float32Array> {
    this.#check();
    if (ids.length === 0) throw new Error("feed: no tokens");
    for (const id of ids) checkTokenId(id, this.config.vocabSize);
    // One position at a time: the state after each token is what the next one needs.
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
      this.#run(ids, s, false); // the head reads s.xo, the final LayerNorm's output, and leaves it
      return s.xo;
    }, sequences);
  }

  reset(): void {
    for (const st of this.#state) {
      this.backend.fill(st.att, 0);
      this.backend.fill(st.ffn, 0);
      this.backend.fill(st.wkv, 0);
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
    const m = new Map<string, NamedTensor>();
    for (let l = 0; l < this.config.nLayer; l++) {
      const st = this.#state[l];
      for (
        const [name, t] of [["att_prev", st.att], ["ffn_prev", st.ffn], ["wkv", st.wkv]] as const
      ) {
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
      const st = this.#state[l];
      for (
        const [name, t] of [["att_prev", st.att], ["ffn_prev", st.ffn], ["wkv", st.wkv]] as const
      ) {
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
