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
import type { LanguageModel, WeightMap } from "../../generate/inference.ts";
import { allocatePlan, f32 } from "../buffers.ts";
import { checkedWeight, layerNormBy, uploadWeights } from "../inference_support.ts";
import { type RecurrentLayerState, RecurrentModel } from "../recurrent_model.ts";
import { rwkvChannelMix, rwkvScratchPlan } from "../rwkv/rnn.ts";
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

/** The activations of one forward over `T` tokens: RWKV-4's and the gate's. */
function scratchPlan(c: Rwkv5Config, T: number) {
  const C = c.dModel;
  return {
    ...rwkvScratchPlan(c, T),
    xg: f32(T, C),
    gp: f32(T, C),
    g: f32(T, C),
    ones: f32(T, C),
    o: f32(T, C),
  };
}
type Scratch = Record<keyof ReturnType<typeof scratchPlan>, Tensor>;

/** RWKV-5 as an RNN. See the module documentation. */
export class Rwkv5Inference extends RecurrentModel<Scratch> implements LanguageModel {
  readonly config: Rwkv5Config;
  readonly backend: Backend;
  #w: Map<string, Tensor>;
  #owned: Tensor[] = [];
  #layers: (RecurrentLayerState & { decay: Tensor; bonus: Tensor })[] = [];
  #zeroC: Tensor;

  /** Uploads `weights` and allocates the state. */
  constructor(backend: Backend, config: Rwkv5Config, weights: WeightMap, source = "checkpoint") {
    super();
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
  }

  /** The buffers of a forward over `T` tokens. */
  protected workspace(T: number, list: Tensor[]): Scratch {
    const s = allocatePlan(this.backend, scratchPlan(this.config, T), list);
    this.backend.fill(s.ones, 1);
    return s;
  }

  /** `ln_out`'s output, what the head reads. */
  protected finalNorm(s: Scratch): Tensor {
    return s.xx;
  }

  /** Runs the model over `ids` (see {@link RecurrentModel.run}). */
  protected run(ids: readonly number[], s: Scratch, carry: boolean, head: boolean): void {
    const b = this.backend, c = this.config, T = ids.length;
    const H = c.dModel / c.headSize, w = (n: string) => this.#w.get(n)!;
    const ln = layerNormBy(b, w, s, c.layerNormEps);
    b.write(s.ids, Int32Array.from(ids));
    b.embedding({ out: s.x0, ids: s.ids, wte: w("emb.weight"), wpe: null, T });
    ln(s.x, s.x0, "blocks.0.ln0");
    for (let l = 0; l < c.nLayer; l++) {
      const p = `blocks.${l}.`, L = this.#layers[l];
      const shift = (out: Tensor, mix: string) =>
        b.tokenShift({ out, x: s.xx, mix: w(p + mix), prev: carry ? L.att : null, B: 1, T });
      ln(s.xx, s.x, p + "ln1");
      shift(s.xk, "att.time_mix_k");
      shift(s.xv, "att.time_mix_v");
      shift(s.xr, "att.time_mix_r");
      if (c.version === "5.2") shift(s.xg, "att.time_mix_g");
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
      rwkvChannelMix(b, w, p, s, carry ? L.ffn : null, T);
    }
    if (!head) return;
    ln(s.xx, s.x, "ln_out");
    b.matmul(s.logits, s.xx, w("head.weight"), { transB: true });
  }

  /** Each layer's token-shift inputs and WKV state. */
  protected layerStates(): readonly RecurrentLayerState[] {
    return this.#layers;
  }

  /** The weights, the state and the decay tables. */
  protected ownedTensors(): Tensor[] {
    return [...this.#w.values(), ...this.#owned];
  }
}
