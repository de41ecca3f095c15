/**
 * The RWKV-7 model on a {@link Backend} for training: the blocks' forward from `block.ts`
 * over per-layer activations, and the explicit backward, llm.c style.
 *
 * @module
 */
import type { Backend, Tensor } from "../../backend/backend.ts";
import { allocatePlan, f32, i32, planElements } from "../buffers.ts";
import type { TrainableModel } from "../model.ts";
import type { ParameterStore } from "../params.ts";
import type { Rwkv7Config } from "./config.ts";
import { rwkv7BlockForward, type Rwkv7LayerActs, rwkv7LayerPlan } from "./block.ts";
import { RWKV7_ATT_MIXES } from "./weights.ts";

/** The activation and gradient buffers of RWKV-7 training at `[B, T]`. */
function rwkv7ActivationPlan(config: Rwkv7Config, B: number, T: number) {
  const { dModel: C, vocabSize: V, ffnDim: F } = config;
  const { decayLora: Dw, aLora: Da, vLora: Dv, gateLora: Dg } = config;
  const n = B * T;
  const model = {
    ids: i32(n),
    targets: i32(n),
    losses: f32(n),
    logits: f32(n, V),
    dlogits: f32(n, V),
    emb: f32(n, C),
    ln0Mean: f32(n),
    ln0Rstd: f32(n),
    x0: f32(n, C),
    vFirst: f32(n, C),
    xo: f32(n, C),
    lnoMean: f32(n),
    lnoRstd: f32(n),
  };
  // Gradient buffers shared by every layer.
  const grads = {
    dres: f32(n, C),
    dvFirst: f32(n, C),
    dxa: f32(n, C),
    dxm: f32(n, C),
    dxo: f32(n, C),
    dout: f32(n, C),
    dy: f32(n, C),
    dr: f32(n, C),
    dkt: f32(n, C),
    dvv: f32(n, C),
    dg: f32(n, C),
    dw: f32(n, C),
    dna: f32(n, C),
    dnb: f32(n, C),
    dk: f32(n, C),
    da: f32(n, C),
    dv: f32(n, C),
    dal: f32(n, C),
    dvs: f32(n, C),
    dvl: f32(n, C),
    dvdiff: f32(n, C),
    dxf: f32(n, C),
    dfk: f32(n, C),
    dtw: f32(n, Dw),
    dhw: f32(n, Dw),
    dha: f32(n, Da),
    dhv: f32(n, Dv),
    dsg: f32(n, Dg),
    dhg: f32(n, Dg),
    dksq: f32(n, F),
    dkk: f32(n, F),
  };
  return { model, grads, layer: rwkv7LayerPlan(config, n) };
}

/**
 * Floats of the activation buffers RWKV-7 training allocates at `[B, T]`.
 *
 * @example
 * ```ts
 * import { rwkv7ActivationFloats } from "./training.ts";
 * import { RWKV7_PRESETS } from "./config.ts";
 * console.log(rwkv7ActivationFloats({ ...RWKV7_PRESETS["rwkv7-micro"], vocabSize: 64 }, 1, 1) > 0); // true
 * ```
 */
export function rwkv7ActivationFloats(config: Rwkv7Config, B: number, T: number): number {
  const plan = rwkv7ActivationPlan(config, B, T);
  return planElements(plan.model) + planElements(plan.grads) +
    config.nLayer * planElements(plan.layer);
}

/**
 * RWKV-7 for a batch shape `[B, T]`.
 *
 * @example
 * ```ts
 * import { Rwkv7Model } from "./training.ts";
 * import { initWeights, ParameterStore, presetConfig } from "../mod.ts";
 * import { createBackend } from "../../backend/select.ts";
 * const backend = await createBackend("cpu");
 * const config = presetConfig("rwkv7-micro", 64) as import("./config.ts").Rwkv7Config;
 * const store = new ParameterStore(backend, config);
 * store.load(initWeights(config, 1));
 * const model = new Rwkv7Model(backend, config, store, 1, 4);
 * backend.write(model.ids, new Int32Array(4));
 * backend.write(model.targets, new Int32Array(4));
 * model.forward(false);
 * console.log((await backend.read(model.losses)).length); // 4
 * ```
 */
export class Rwkv7Model implements TrainableModel {
  readonly config: Rwkv7Config;
  readonly backend: Backend;
  readonly store: ParameterStore;
  readonly B: number;
  readonly T: number;
  readonly ids: Tensor;
  readonly targets: Tensor;
  readonly losses: Tensor;
  readonly logits: Tensor;
  readonly #m: Record<keyof ReturnType<typeof rwkv7ActivationPlan>["model"], Tensor>;
  readonly #g: Record<keyof ReturnType<typeof rwkv7ActivationPlan>["grads"], Tensor>;
  readonly #layers: Rwkv7LayerActs[] = [];
  readonly #owned: Tensor[] = [];

  /** Allocates the activations for batch `B` and length `T`. */
  constructor(backend: Backend, config: Rwkv7Config, store: ParameterStore, B: number, T: number) {
    this.backend = backend;
    this.config = config;
    this.store = store;
    this.B = B;
    this.T = T;
    const plan = rwkv7ActivationPlan(config, B, T);
    this.#m = allocatePlan(backend, plan.model, this.#owned);
    this.#g = allocatePlan(backend, plan.grads, this.#owned);
    this.ids = this.#m.ids;
    this.targets = this.#m.targets;
    this.losses = this.#m.losses;
    this.logits = this.#m.logits;
    let xin = this.#m.x0;
    for (let l = 0; l < config.nLayer; l++) {
      const acts: Rwkv7LayerActs = { xin, ...allocatePlan(backend, plan.layer, this.#owned) };
      this.#layers.push(acts);
      xin = acts.x2;
    }
  }

  forward(withGrad: boolean, gradScale = 1): void {
    const be = this.backend, s = this.store, m = this.#m, { B, T } = this;
    const p = (n: string) => s.p(n);
    const eps = this.config.layerNormEps;
    be.embedding({ out: m.emb, ids: this.ids, wte: p("emb.weight"), wpe: null, T, posOffset: 0 });
    be.layerNorm({
      out: m.x0,
      mean: m.ln0Mean,
      rstd: m.ln0Rstd,
      x: m.emb,
      w: p("blocks.0.ln0.weight"),
      b: p("blocks.0.ln0.bias"),
      eps,
    });
    for (let l = 0; l < this.config.nLayer; l++) {
      rwkv7BlockForward(
        {
          be,
          config: this.config,
          p,
          vFirst: m.vFirst,
          state: null,
          B,
          T,
        },
        l,
        this.#layers[l],
      );
    }
    be.layerNorm({
      out: m.xo,
      mean: m.lnoMean,
      rstd: m.lnoRstd,
      x: this.#layers[this.config.nLayer - 1].x2,
      w: p("ln_out.weight"),
      b: p("ln_out.bias"),
      eps,
    });
    be.matmul(this.logits, m.xo, p("head.weight"), { transB: true });
    be.softmaxCrossEntropy({
      losses: this.losses,
      dlogits: withGrad ? m.dlogits : null,
      logits: this.logits,
      targets: this.targets,
      gradScale,
    });
  }

  backward(): void {
    const be = this.backend, s = this.store, m = this.#m, d = this.#g, { B, T } = this;
    const L = this.config.nLayer, H = this.config.dModel / this.config.headSize;
    const p = (n: string) => s.p(n), g = (n: string) => s.g(n);
    const acc = { transA: true, accumulate: true } as const;
    /** `dx = dy·W` and `gW += dyᵀ·x` for a linear layer `y = x·Wᵀ`. */
    const linearBack = (dx: Tensor, dy: Tensor, x: Tensor, w: string, accumulate = false) => {
      be.matmul(dx, dy, p(w), { accumulate });
      be.matmul(g(w), dy, x, acc);
    };
    /** `dx = dh·W1ᵀ` and `gW1 += xᵀ·dh` for `h = x·W1` (a low-rank first factor). */
    const loraBack = (dx: Tensor, dh: Tensor, x: Tensor, w: string, accumulate = false) => {
      be.matmul(dx, dh, p(w), { transB: true, accumulate });
      be.matmul(g(w), x, dh, acc);
    };
    const zero = (...ts: Tensor[]) => ts.forEach((t) => be.fill(t, 0));
    // head
    be.matmul(d.dxo, m.dlogits, p("head.weight"));
    be.matmul(g("head.weight"), m.dlogits, m.xo, acc);
    zero(d.dres, d.dvFirst);
    be.layerNormBackward({
      dx: d.dres,
      dw: g("ln_out.weight"),
      db: g("ln_out.bias"),
      dout: d.dxo,
      x: this.#layers[L - 1].x2,
      w: p("ln_out.weight"),
      mean: m.lnoMean,
      rstd: m.lnoRstd,
    });
    for (let l = L - 1; l >= 0; l--) {
      const a = this.#layers[l], q = `blocks.${l}.`;
      const shiftBack = (dout: Tensor, dx: Tensor, x: Tensor, name: string) => {
        const mix = p(q + name), dmix = g(q + name);
        be.tokenShiftBackward({ dx, dmix, dout, x, mix, prev: null, B, T, lerp: true });
      };
      // channel mixing: x2 = x1 + W_v'·relu(W_k'·fk)²
      linearBack(d.dksq, d.dres, a.ksq, q + "ffn.value.weight");
      zero(d.dkk);
      be.reluSquaredBackward(d.dkk, a.kk, d.dksq);
      linearBack(d.dfk, d.dkk, a.fk, q + "ffn.key.weight");
      zero(d.dxf);
      shiftBack(d.dfk, d.dxf, a.xf, "ffn.x_k");
      be.layerNormBackward({
        dx: d.dres,
        dw: g(q + "ln2.weight"),
        db: g(q + "ln2.bias"),
        dout: d.dxf,
        x: a.x1,
        w: p(q + "ln2.weight"),
        mean: a.ln2Mean,
        rstd: a.ln2Rstd,
      });
      // time mixing: x1 = xin + W_o·o
      linearBack(d.dout, d.dres, a.o, q + "att.output.weight");
      zero(d.dy, d.dr, d.dkt, d.dvv, d.dg);
      be.rwkv7OutputBackward({
        dy: d.dy,
        dr: d.dr,
        dk: d.dkt,
        dv: d.dvv,
        dg: d.dg,
        dlnW: g(q + "att.ln_x.weight"),
        dlnB: g(q + "att.ln_x.bias"),
        drK: g(q + "att.r_k"),
        dout: d.dout,
        y: a.y,
        r: a.r,
        k: a.kt,
        v: a.vv,
        g: a.g,
        lnW: p(q + "att.ln_x.weight"),
        lnB: p(q + "att.ln_x.bias"),
        rK: p(q + "att.r_k"),
        H,
        eps: this.config.groupNormEps,
      });
      zero(d.dw, d.dna, d.dnb);
      be.wkv7Backward({
        dr: d.dr,
        dw: d.dw,
        dk: d.dkt,
        dv: d.dvv,
        da: d.dna,
        db: d.dnb,
        dy: d.dy,
        r: a.r,
        w: a.w,
        k: a.kt,
        v: a.vv,
        a: a.na,
        b: a.nb,
        B,
        T,
        H,
      });
      zero(d.dk, d.da);
      be.rwkv7KeysBackward({
        dk: d.dk,
        da: d.da,
        dkK: g(q + "att.k_k"),
        dkA: g(q + "att.k_a"),
        dkt: d.dkt,
        dna: d.dna,
        dnb: d.dnb,
        k: a.k,
        a: a.a,
        kK: p(q + "att.k_k"),
        kA: p(q + "att.k_a"),
        H,
      });
      // value: vv = v + (v_first − v)⊙vs for l > 0; layer 0's v is v_first itself
      be.copy(d.dv, d.dvv);
      if (l > 0) {
        zero(d.dvdiff, d.dvs, d.dvl);
        be.mulBackward({ da: d.dvdiff, db: d.dvs, dout: d.dvv, a: a.vdiff, b: a.vs });
        be.addInto(d.dv, d.dvdiff, -1);
        be.addInto(d.dvFirst, d.dvdiff);
        be.sigmoidBackward(d.dvl, a.vs, d.dvs);
        be.matmul(g(q + "att.v2"), a.hv, d.dvl, acc);
        be.sumRows(g(q + "att.v0"), d.dvl, true);
        be.matmul(d.dhv, d.dvl, p(q + "att.v2"), { transB: true });
      } else {
        be.addInto(d.dv, d.dvFirst);
      }
      // in-context learning rate a = σ(a0 + x_a·a1·a2)
      zero(d.dal);
      be.sigmoidBackward(d.dal, a.a, d.da);
      be.matmul(g(q + "att.a2"), a.ha, d.dal, acc);
      be.sumRows(g(q + "att.a0"), d.dal, true);
      be.matmul(d.dha, d.dal, p(q + "att.a2"), { transB: true });
      // gate g = σ(x_g·g1)·g2
      be.matmul(d.dsg, d.dg, p(q + "att.g2"), { transB: true });
      be.matmul(g(q + "att.g2"), a.sg, d.dg, acc);
      zero(d.dhg);
      be.sigmoidBackward(d.dhg, a.sg, d.dsg);
      // decay logits w = w0 + tanh(x_w·w1)·w2
      be.matmul(g(q + "att.w2"), a.tw, d.dw, acc);
      be.sumRows(g(q + "att.w0"), d.dw, true);
      be.matmul(d.dtw, d.dw, p(q + "att.w2"), { transB: true });
      zero(d.dhw);
      be.tanhBackward(d.dhw, a.tw, d.dtw);
      // The six inputs of time mixing, each through its token shift into dxa.
      zero(d.dxa);
      const branches: [Tensor, () => void][] = [
        [a.xr, () => linearBack(d.dxm, d.dr, a.xr, q + "att.receptance.weight")],
        [a.xw, () => loraBack(d.dxm, d.dhw, a.xw, q + "att.w1")],
        [a.xk, () => linearBack(d.dxm, d.dk, a.xk, q + "att.key.weight")],
        [a.xv, () => {
          linearBack(d.dxm, d.dv, a.xv, q + "att.value.weight");
          if (l > 0) loraBack(d.dxm, d.dhv, a.xv, q + "att.v1", true);
        }],
        [a.xaa, () => loraBack(d.dxm, d.dha, a.xaa, q + "att.a1")],
        [a.xg, () => loraBack(d.dxm, d.dhg, a.xg, q + "att.g1")],
      ];
      branches.forEach(([_, back], i) => {
        back();
        shiftBack(d.dxm, d.dxa, a.xa, `att.${RWKV7_ATT_MIXES[i]}`);
      });
      be.layerNormBackward({
        dx: d.dres,
        dw: g(q + "ln1.weight"),
        db: g(q + "ln1.bias"),
        dout: d.dxa,
        x: a.xin,
        w: p(q + "ln1.weight"),
        mean: a.ln1Mean,
        rstd: a.ln1Rstd,
      });
    }
    zero(d.dxo);
    be.layerNormBackward({
      dx: d.dxo,
      dw: g("blocks.0.ln0.weight"),
      db: g("blocks.0.ln0.bias"),
      dout: d.dres,
      x: m.emb,
      w: p("blocks.0.ln0.weight"),
      mean: m.ln0Mean,
      rstd: m.ln0Rstd,
    });
    be.embeddingBackward({ dwte: g("emb.weight"), dwpe: null, dout: d.dxo, ids: this.ids, T });
  }

  free(): void {
    for (const t of this.#owned) this.backend.free(t);
    this.#owned.length = 0;
  }
}
