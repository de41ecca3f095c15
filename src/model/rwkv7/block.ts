/**
 * One RWKV-7 block's forward pass, written once for training (per-layer activations kept for
 * the backward) and generation (one set of buffers, the recurrent state carried):
 *
 * ```
 * xa = LN1(x);  x_m = lerp(xa, xa_{t−1}, mix_m) for m in r, w, k, v, a, g
 * r = W_r·x_r   k = W_k·x_k   v = W_v·x_v
 * w = w0 + tanh(x_w·w1)·w2           (decay logits; the WKV op decays by exp(−e^−0.5·σ(w)))
 * a = σ(a0 + x_a·a1·a2)              (in-context learning rate)
 * g = σ(x_g·g1)·g2                   (output gate)
 * kt, −κ̂, κ̂⊙a = rwkv7Keys(k, a)      (κ̂: per-head L2-normalised k⊙k_k; kt = k⊙(1+(a−1)⊙k_a))
 * v ← v + (v_first − v)⊙σ(v0 + x_v·v1·v2)   (layers > 0; layer 0's v is v_first)
 * y = WKV7(r, w, kt, v, −κ̂, κ̂⊙a);  x += W_o·rwkv7Output(y, r, kt, v, g)   (ln_x, bonus, gate)
 * xf = LN2(x);  x += W_v'·relu(W_k'·lerp(xf, xf_{t−1}, ffn.x_k))²
 * ```
 *
 * BlinkDL's lerp `x + (x_prev − x)·mix` is the token shift op's `lerp` form.
 *
 * @module
 */
import type { Backend, Tensor } from "../../backend/backend.ts";
import { f32 } from "../buffers.ts";
import type { RecurrentLayerState } from "../recurrent_model.ts";
import type { Rwkv7Config } from "./config.ts";
import { RWKV7_ATT_MIXES } from "./weights.ts";

/** The buffers of one block for `n = B·T` rows (the block's input `xin` comes from outside). */
export function rwkv7LayerPlan(config: Rwkv7Config, n: number) {
  const { dModel: C, ffnDim: F, decayLora: Dw, aLora: Da, vLora: Dv, gateLora: Dg } = config;
  return {
    xa: f32(n, C), // ln1 output
    ln1Mean: f32(n),
    ln1Rstd: f32(n),
    xr: f32(n, C),
    xw: f32(n, C),
    xk: f32(n, C),
    xv: f32(n, C),
    xaa: f32(n, C),
    xg: f32(n, C),
    r: f32(n, C),
    hw: f32(n, Dw),
    tw: f32(n, Dw), // tanh(hw)
    w: f32(n, C), // decay logits
    k: f32(n, C),
    v: f32(n, C), // W_v·x_v
    ha: f32(n, Da),
    al: f32(n, C), // a0 + x_a·a1·a2
    a: f32(n, C), // σ(al)
    hg: f32(n, Dg),
    sg: f32(n, Dg), // σ(hg)
    g: f32(n, C),
    kt: f32(n, C),
    na: f32(n, C),
    nb: f32(n, C),
    hv: f32(n, Dv),
    vl: f32(n, C), // v0 + x_v·v1·v2
    vs: f32(n, C), // σ(vl): the share of v_first
    vdiff: f32(n, C), // v_first − v
    vv: f32(n, C), // the value the WKV uses
    y: f32(n, C),
    o: f32(n, C), // rwkv7Output
    x1: f32(n, C), // after time mixing
    xf: f32(n, C), // ln2 output
    ln2Mean: f32(n),
    ln2Rstd: f32(n),
    fk: f32(n, C),
    kk: f32(n, F),
    ksq: f32(n, F),
    x2: f32(n, C), // block output
  };
}

/** One block's buffers: its input and its own. */
export type Rwkv7LayerActs =
  & { xin: Tensor }
  & Record<keyof ReturnType<typeof rwkv7LayerPlan>, Tensor>;

/** The recurrent state of one block during generation (WKV `[1, H, N, N]`). */
export type Rwkv7LayerState = RecurrentLayerState;

/** Everything {@link rwkv7BlockForward} needs besides the block's buffers. */
export interface Rwkv7BlockContext {
  /** The backend. */
  be: Backend;
  /** The configuration. */
  config: Rwkv7Config;
  /** A weight by canonical name. */
  p: (name: string) => Tensor;
  /** `v_first [n, C]`: written by layer 0, read by the others. */
  vFirst: Tensor;
  /** Generation state of this layer, or null (zero state, training). */
  state: Rwkv7LayerState | null;
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
}

/** The forward of block `l` from `a.xin` into `a.x2` (see the module documentation). */
export function rwkv7BlockForward(ctx: Rwkv7BlockContext, l: number, a: Rwkv7LayerActs): void {
  const { be, config, p, vFirst, state, B, T } = ctx;
  const H = config.dModel / config.headSize;
  const q = `blocks.${l}.`;
  const eps = config.layerNormEps;
  be.layerNorm({
    out: a.xa,
    mean: a.ln1Mean,
    rstd: a.ln1Rstd,
    x: a.xin,
    w: p(q + "ln1.weight"),
    b: p(q + "ln1.bias"),
    eps,
  });
  const prev = state?.att ?? null;
  [a.xr, a.xw, a.xk, a.xv, a.xaa, a.xg].forEach((out, i) =>
    be.tokenShift({ out, x: a.xa, mix: p(`${q}att.${RWKV7_ATT_MIXES[i]}`), prev, B, T, lerp: true })
  );
  if (state) be.copy(state.att, a.xa);
  be.matmul(a.r, a.xr, p(q + "att.receptance.weight"), { transB: true });
  be.matmul(a.hw, a.xw, p(q + "att.w1"));
  be.tanh(a.tw, a.hw);
  be.matmul(a.w, a.tw, p(q + "att.w2"), { bias: p(q + "att.w0") });
  be.matmul(a.k, a.xk, p(q + "att.key.weight"), { transB: true });
  be.matmul(a.v, a.xv, p(q + "att.value.weight"), { transB: true });
  be.matmul(a.ha, a.xaa, p(q + "att.a1"));
  be.matmul(a.al, a.ha, p(q + "att.a2"), { bias: p(q + "att.a0") });
  be.sigmoid(a.a, a.al);
  be.matmul(a.hg, a.xg, p(q + "att.g1"));
  be.sigmoid(a.sg, a.hg);
  be.matmul(a.g, a.sg, p(q + "att.g2"));
  be.rwkv7Keys({
    kt: a.kt,
    na: a.na,
    nb: a.nb,
    k: a.k,
    a: a.a,
    kK: p(q + "att.k_k"),
    kA: p(q + "att.k_a"),
    H,
  });
  if (l === 0) {
    be.copy(vFirst, a.v);
    be.copy(a.vv, a.v);
  } else {
    be.matmul(a.hv, a.xv, p(q + "att.v1"));
    be.matmul(a.vl, a.hv, p(q + "att.v2"), { bias: p(q + "att.v0") });
    be.sigmoid(a.vs, a.vl);
    be.copy(a.vdiff, vFirst);
    be.addInto(a.vdiff, a.v, -1);
    be.mul(a.vv, a.vdiff, a.vs);
    be.addInto(a.vv, a.v);
  }
  be.wkv7({
    y: a.y,
    r: a.r,
    w: a.w,
    k: a.kt,
    v: a.vv,
    a: a.na,
    b: a.nb,
    state: state?.wkv ?? null,
    B,
    T,
    H,
  });
  be.rwkv7Output({
    out: a.o,
    y: a.y,
    r: a.r,
    k: a.kt,
    v: a.vv,
    g: a.g,
    lnW: p(q + "att.ln_x.weight"),
    lnB: p(q + "att.ln_x.bias"),
    rK: p(q + "att.r_k"),
    H,
    eps: config.groupNormEps,
  });
  be.copy(a.x1, a.xin);
  be.matmul(a.x1, a.o, p(q + "att.output.weight"), { transB: true, accumulate: true });
  // channel mixing
  be.layerNorm({
    out: a.xf,
    mean: a.ln2Mean,
    rstd: a.ln2Rstd,
    x: a.x1,
    w: p(q + "ln2.weight"),
    b: p(q + "ln2.bias"),
    eps,
  });
  const mix = p(q + "ffn.x_k");
  be.tokenShift({ out: a.fk, x: a.xf, mix, prev: state?.ffn ?? null, B, T, lerp: true });
  if (state) be.copy(state.ffn, a.xf);
  be.matmul(a.kk, a.fk, p(q + "ffn.key.weight"), { transB: true });
  be.reluSquared(a.ksq, a.kk);
  be.copy(a.x2, a.x1);
  be.matmul(a.x2, a.ksq, p(q + "ffn.value.weight"), { transB: true, accumulate: true });
}
