/**
 * RWKV-7 for generation, as an RNN: per layer the last ln1 and ln2 outputs (token shift) and
 * the `[H, N, N]` WKV state; a step costs the same at any position. `forwardAll` runs the
 * parallel form from an empty state.
 *
 * @module
 */
import type { Backend, Tensor } from "../../backend/backend.ts";
import type { LanguageModel, WeightMap } from "../../generate/inference.ts";
import { allocatePlan, f32, i32 } from "../buffers.ts";
import { layerNormBy, uploadWeights } from "../inference_support.ts";
import { RecurrentModel } from "../recurrent_model.ts";
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
export class Rwkv7Inference extends RecurrentModel<Scratch> implements LanguageModel {
  readonly config: Rwkv7Config;
  readonly backend: Backend;
  #w: Map<string, Tensor>;
  #state: Rwkv7LayerState[] = [];
  #owned: Tensor[] = [];

  /** Uploads `weights` and allocates the state. */
  constructor(backend: Backend, config: Rwkv7Config, weights: WeightMap, source = "checkpoint") {
    super();
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
  }

  /** The buffers of a forward over `T` tokens. */
  protected workspace(T: number, list: Tensor[]): Scratch {
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

  /** `ln_out`'s output, what the head reads. */
  protected finalNorm(s: Scratch): Tensor {
    return s.xo;
  }

  /** Runs every block over `ids` (with the state when `carry`); logits in `s.logits` when `head`. */
  protected run(ids: readonly number[], s: Scratch, carry: boolean, head: boolean): void {
    const be = this.backend, c = this.config, T = ids.length;
    const p = (n: string) => this.#w.get(n)!;
    const ln = layerNormBy(be, p, s, c.layerNormEps);
    be.write(s.ids, Int32Array.from(ids));
    be.embedding({ out: s.emb, ids: s.ids, wte: p("emb.weight"), wpe: null, T });
    ln(s.x, s.emb, "blocks.0.ln0");
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
    if (!head) return;
    ln(s.xo, s.x, "ln_out");
    be.matmul(s.logits, s.xo, p("head.weight"), { transB: true });
  }

  /** Each layer's token-shift inputs and WKV state. */
  protected layerStates(): readonly Rwkv7LayerState[] {
    return this.#state;
  }

  /** The weights and the state. */
  protected ownedTensors(): Tensor[] {
    return [...this.#w.values(), ...this.#owned];
  }
}
