/**
 * RWKV-5 and RWKV-6 for generation, as an RNN (per layer: the last ln1 and ln2 outputs and
 * the `[H, N, N]` WKV state), with the parallel form from an empty state for `forwardAll`:
 *
 * ```
 * xa = LN1(x);  x_m = xa·mix_m + xa_{t−1}·(1 − mix_m)    (m = k, v, r, and g for 5.2)
 * y = WKV5(W_r·x_r, W_k·x_k, W_v·x_v; decay exp(−exp(time_decay)), bonus u)
 * x += W_o·(GroupNorm_H(y)·ln_x.w + ln_x.b) ⊙ (5.2: silu(W_g·x_g))
 * x += σ(W_r'·x_r')·W_v'·relu(W_k'·x_k')²                  (RWKV-4's channel mixing)
 * ```
 *
 * RWKV-6 (BlinkDL's x060) makes the token shift and the decay depend on the token
 * (`sx = xa_{t−1} − xa`; for m = w, k, v, r, g with `w1_m`, `w2_m` the m-th blocks of
 * `time_maa_w1 [C, 5·D]` and `time_maa_w2 [5, D, C]`):
 *
 * ```
 * x_m = xa + sx·(maa_m + tanh((xa + sx·maa_x)·w1_m)·w2_m)
 * w_t = time_decay + tanh(x_w·time_decay_w1)·time_decay_w2     decay exp(−exp(w_t)) per token
 * y = WKV5(r, k, v; w_t, bonus time_faaaa);  x += W_o·(GroupNorm_H(y)·ln_x.w + ln_x.b) ⊙ silu(W_g·x_g)
 * x += σ(W_r'·x_r')·W_v'·relu(W_k'·x_k')²  with x_k' = xb + (xb_{t−1} − xb)·ffn.time_maa_k
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

/**
 * The per-channel decay `exp(−exp(w))` and bonus of layer `l`, expanded to `[C]` (RWKV-6:
 * the bonus, and the decay of `time_decay` alone, which its data-dependent part adds to).
 */
export function rwkv5DecayBonus(
  config: Rwkv5Config,
  weights: WeightMap,
  l: number,
  source: string,
): { decay: Float32Array; bonus: Float32Array } {
  const C = config.dModel, N = config.headSize, v52 = config.version !== "5.1";
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

/** The activations of one forward over `T` tokens: RWKV-4's, the gate's and RWKV-6's. */
function scratchPlan(c: Rwkv5Config, T: number) {
  const C = c.dModel, v6 = c.version === "6";
  const D = v6 ? c.mixLowRank ?? 1 : 1, D2 = v6 ? c.decayLowRank ?? 1 : 1;
  const TC = v6 ? T : 1; // RWKV-6's buffers; one row otherwise
  return {
    ...rwkvScratchPlan(c, T),
    xg: f32(T, C),
    gp: f32(T, C),
    g: f32(T, C),
    ones: f32(T, C),
    o: f32(T, C),
    sx: f32(TC, C),
    xw: f32(TC, C),
    mm: f32(TC, C),
    tmp: f32(TC, C),
    wt: f32(TC, C),
    lora: f32(TC, D),
    lora2: f32(TC, D2),
  };
}
type Scratch = Record<keyof ReturnType<typeof scratchPlan>, Tensor>;

/** RWKV-5 as an RNN. See the module documentation. */
export class Rwkv5Inference extends RecurrentModel<Scratch> implements LanguageModel {
  readonly config: Rwkv5Config;
  readonly backend: Backend;
  #w: Map<string, Tensor>;
  #owned: Tensor[] = [];
  #layers: (RecurrentLayerState & { decay: Tensor; bonus: Tensor; w1: Tensor[]; w2: Tensor[] })[] =
    [];
  #zeroC: Tensor;
  #onesC: Tensor;

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
        ...this.#lowRankBlocks(weights, l, source),
      };
      this.#owned.push(layer.decay, layer.bonus, layer.att, layer.ffn, layer.wkv);
      this.#owned.push(...layer.w1, ...layer.w2);
      this.#layers.push(layer);
    }
    this.#zeroC = backend.zeros([C]);
    this.#onesC = backend.fromArray([C], new Float32Array(C).fill(1));
    this.#owned.push(this.#zeroC, this.#onesC);
  }

  /**
   * RWKV-6: the five blocks of layer `l`'s token-shift factors, `w1_m [C, D]` (columns
   * m·D … m·D + D − 1 of `time_maa_w1`) and `w2_m [D, C]`, so that each is one matmul.
   */
  #lowRankBlocks(weights: WeightMap, l: number, source: string): { w1: Tensor[]; w2: Tensor[] } {
    const c = this.config;
    if (c.version !== "6") return { w1: [], w2: [] };
    const C = c.dModel, D = c.mixLowRank!, specs = rwkv5WeightSpecs(c);
    const host = (n: string) =>
      checkedWeight(specs.find((s) => s.name === n)!, weights, "rwkv5", source);
    const all1 = host(`blocks.${l}.att.time_maa_w1`), all2 = host(`blocks.${l}.att.time_maa_w2`);
    const w1: Tensor[] = [], w2: Tensor[] = [];
    for (let m = 0; m < 5; m++) {
      const b1 = new Float32Array(C * D);
      for (let i = 0; i < C; i++) {
        const from = i * 5 * D + m * D;
        b1.set(all1.subarray(from, from + D), i * D);
      }
      w1.push(this.backend.fromArray([C, D], b1));
      w2.push(this.backend.fromArray([D, C], all2.slice(m * D * C, (m + 1) * D * C)));
    }
    return { w1, w2 };
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
      if (c.version === "6") this.#ddlerp(s, p, L, carry, T);
      else {
        shift(s.xk, "att.time_mix_k");
        shift(s.xv, "att.time_mix_v");
        shift(s.xr, "att.time_mix_r");
        if (c.version === "5.2") shift(s.xg, "att.time_mix_g");
      }
      if (carry) b.copy(L.att, s.xx);
      b.matmul(s.k, s.xk, w(p + "att.key.weight"), { transB: true });
      b.matmul(s.v, s.xv, w(p + "att.value.weight"), { transB: true });
      b.matmul(s.r, s.xr, w(p + "att.receptance.weight"), { transB: true });
      b.wkv5({
        y: s.y,
        r: s.r,
        k: s.k,
        v: s.v,
        ...(c.version === "6" ? { decay: null, w: s.wt } : { decay: L.decay }),
        bonus: L.bonus,
        state: carry ? L.wkv : null,
        B: 1,
        T,
        H,
      });
      let gate = s.ones;
      if (c.version !== "5.1") {
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
      rwkvChannelMix(b, w, p, s, carry ? L.ffn : null, T, c.version === "6");
    }
    if (!head) return;
    ln(s.xx, s.x, "ln_out");
    b.matmul(s.logits, s.xx, w("head.weight"), { transB: true });
  }

  /**
   * RWKV-6's data-dependent token shift of `s.xx` (block prefix `p`) into `s.xk`, `s.xv`,
   * `s.xr`, `s.xg`, and its decay exponent into `s.wt` (see the module documentation).
   */
  #ddlerp(
    s: Scratch,
    p: string,
    L: { att: Tensor; w1: Tensor[]; w2: Tensor[] },
    carry: boolean,
    T: number,
  ): void {
    const b = this.backend, w = (n: string) => this.#w.get(n)!;
    const prev = carry ? L.att : null;
    const shift = (out: Tensor, mix: Tensor) =>
      b.tokenShift({ out, x: s.xx, mix, prev, B: 1, T, lerp: true });
    shift(s.sx, this.#onesC); // xa_{t−1}
    b.addInto(s.sx, s.xx, -1); // sx = xa_{t−1} − xa
    shift(s.tmp, w(p + "att.time_maa_x"));
    const outs = [s.xw, s.xk, s.xv, s.xr, s.xg];
    ["w", "k", "v", "r", "g"].forEach((m, i) => {
      b.matmul(s.lora, s.tmp, L.w1[i]);
      b.tanh(s.lora, s.lora);
      b.matmul(s.mm, s.lora, L.w2[i]);
      b.mul(s.mm, s.mm, s.sx);
      shift(outs[i], w(`${p}att.time_maa_${m}`));
      b.addInto(outs[i], s.mm);
    });
    // w_t = time_decay + tanh(x_w·time_decay_w1)·time_decay_w2
    b.matmul(s.lora2, s.xw, w(p + "att.time_decay_w1"));
    b.tanh(s.lora2, s.lora2);
    b.matmul(s.wt, s.lora2, w(p + "att.time_decay_w2"), { bias: w(p + "att.time_decay") });
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
