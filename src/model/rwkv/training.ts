/**
 * The RWKV-4 model (BlinkDL) on a {@link Backend}, trained in parallel over the sequence with
 * the WKV kernel, written layer by layer: time mixing (token shift, key/value/receptance, WKV,
 * sigmoid gate, output) and channel mixing (token shift, squared ReLU, receptance gate).
 *
 * @module
 */
import type { Backend, Tensor } from "../../backend/backend.ts";
import { allocatePlan, f32, i32, planElements } from "../buffers.ts";
import type { LinearAdapter, TrainingModelOptions } from "../linear.ts";
import type { TrainableModel } from "../model.ts";
import type { ParameterStore } from "../params.ts";
import type { RwkvConfig } from "./config.ts";

/**
 * The activation buffers of RWKV training at batch shape `[B, T]`: `model` once, `layer` per
 * block (a block's input is the previous block's `x2`, block 0's is `x0`). The model
 * allocates from this list and {@link rwkvActivationFloats} counts it.
 */
function rwkvActivationPlan(config: RwkvConfig, B: number, T: number) {
  const { dModel: C, vocabSize: V, ffnDim: F } = config;
  const N = B * T;
  return {
    model: {
      ids: i32(N),
      targets: i32(N),
      losses: f32(N),
      logits: f32(N, V),
      dlogits: f32(N, V),
      emb: f32(N, C),
      ln0Mean: f32(N),
      ln0Rstd: f32(N),
      x0: f32(N, C), // ln0 output = input of block 0
      xo: f32(N, C),
      lnoMean: f32(N),
      lnoRstd: f32(N),
      scratch: f32(N, C),
      dres: f32(N, C),
      // gradient scratch: 5 × [N, C], 2 × [N, F]
      g0: f32(N, C),
      g1: f32(N, C),
      g2: f32(N, C),
      g3: f32(N, C),
      g4: f32(N, C),
      gf0: f32(N, F),
      gf1: f32(N, F),
    },
    layer: {
      xa: f32(N, C), // ln1 output
      ln1Mean: f32(N),
      ln1Rstd: f32(N),
      xk: f32(N, C),
      xv: f32(N, C),
      xr: f32(N, C),
      k: f32(N, C),
      v: f32(N, C),
      r: f32(N, C), // sigmoid(receptance)
      y: f32(N, C), // wkv
      ry: f32(N, C),
      x1: f32(N, C), // after time mixing
      xf: f32(N, C), // ln2 output
      ln2Mean: f32(N),
      ln2Rstd: f32(N),
      fk: f32(N, C),
      fr: f32(N, C),
      kk: f32(N, F), // key pre-activation
      ksq: f32(N, F),
      kv: f32(N, C),
      r2: f32(N, C),
      x2: f32(N, C), // block output
    },
  };
}

/** One block's activations: its input and its own buffers. */
type RwkvLayerActs =
  & { xin: Tensor }
  & Record<keyof ReturnType<typeof rwkvActivationPlan>["layer"], Tensor>;

/**
 * Floats of the activation buffers RWKV training allocates at `[B, T]`.
 *
 * @example
 * ```ts
 * import { rwkvActivationFloats } from "./training.ts";
 * import { RWKV_PRESETS } from "./config.ts";
 * console.log(rwkvActivationFloats({ ...RWKV_PRESETS["rwkv-micro"], vocabSize: 64 }, 1, 1) > 0); // true
 * ```
 */
export function rwkvActivationFloats(config: RwkvConfig, B: number, T: number): number {
  const plan = rwkvActivationPlan(config, B, T);
  return planElements(plan.model) + config.nLayer * planElements(plan.layer);
}

/**
 * RWKV-4 for a batch shape `[B, T]`.
 *
 * @example
 * ```ts
 * import { RwkvModel, ParameterStore, initWeights, presetConfig } from "../../../mod.ts";
 * import { createBackend } from "../../backend/select.ts";
 * const backend = await createBackend("cpu");
 * const config = presetConfig("rwkv-micro", 64) as import("./config.ts").RwkvConfig;
 * const store = new ParameterStore(backend, config);
 * store.load(initWeights(config, 1));
 * const model = new RwkvModel(backend, config, store, 1, 8);
 * backend.write(model.ids, new Int32Array(8));
 * backend.write(model.targets, new Int32Array(8));
 * model.forward(false);
 * console.log((await backend.read(model.losses)).length); // 8
 * ```
 */
export class RwkvModel implements TrainableModel {
  readonly config: RwkvConfig;
  readonly backend: Backend;
  readonly store: ParameterStore;
  readonly B: number;
  readonly T: number;
  readonly ids: Tensor;
  readonly targets: Tensor;
  readonly losses: Tensor;
  readonly logits: Tensor;
  readonly #dlogits: Tensor;
  readonly #emb: Tensor;
  readonly #ln0Mean: Tensor;
  readonly #ln0Rstd: Tensor;
  readonly #layers: RwkvLayerActs[] = [];
  readonly #xo: Tensor;
  readonly #lnoMean: Tensor;
  readonly #lnoRstd: Tensor;
  readonly #scratch: Tensor;
  readonly #dres: Tensor;
  /** Five `[N, C]` gradient buffers reused phase by phase in {@link backward}. */
  readonly #gradC: Tensor[];
  /** Two `[N, F]` gradient buffers for the channel mixing's hidden width. */
  readonly #gradF: Tensor[];
  readonly #owned: Tensor[] = [];
  readonly #adapters: ReadonlyMap<string, LinearAdapter>;
  /** With a frozen base: two `[C]` buffers where the vectors' gradients go (discarded). */
  readonly #sinks: Tensor[] | null;

  /**
   * Allocates the activations for batch `B` and length `T`; `options` attach adapters to
   * linear layers and freeze the base (see {@link TrainingModelOptions}).
   */
  constructor(
    backend: Backend,
    config: RwkvConfig,
    store: ParameterStore,
    B: number,
    T: number,
    options: TrainingModelOptions = {},
  ) {
    this.backend = backend;
    this.config = config;
    this.store = store;
    this.B = B;
    this.T = T;
    const plan = rwkvActivationPlan(config, B, T);
    const m = allocatePlan(backend, plan.model, this.#owned);
    this.ids = m.ids;
    this.targets = m.targets;
    this.losses = m.losses;
    this.logits = m.logits;
    this.#dlogits = m.dlogits;
    this.#emb = m.emb;
    this.#ln0Mean = m.ln0Mean;
    this.#ln0Rstd = m.ln0Rstd;
    let xin = m.x0;
    for (let l = 0; l < config.nLayer; l++) {
      const acts: RwkvLayerActs = { xin, ...allocatePlan(backend, plan.layer, this.#owned) };
      this.#layers.push(acts);
      xin = acts.x2;
    }
    this.#xo = m.xo;
    this.#lnoMean = m.lnoMean;
    this.#lnoRstd = m.lnoRstd;
    this.#scratch = m.scratch;
    this.#dres = m.dres;
    this.#gradC = [m.g0, m.g1, m.g2, m.g3, m.g4];
    this.#gradF = [m.gf0, m.gf1];
    this.#adapters = options.adapters ?? new Map();
    this.#sinks = options.frozen
      ? [backend.zeros([config.dModel]), backend.zeros([config.dModel])]
      : null;
    if (this.#sinks) this.#owned.push(...this.#sinks);
  }

  /** Accumulates `doutᵀ·x` into the gradient of weight `name`, unless frozen. */
  #grad(name: string, dout: Tensor, x: Tensor): void {
    if (this.#sinks) return;
    this.backend.matmul(this.store.g(name), dout, x, { transA: true, accumulate: true });
  }

  /** The gradient of vector `name` (`which` of two discarded sinks when frozen). */
  #vg(name: string, which = 0): Tensor {
    return this.#sinks ? this.#sinks[which] : this.store.g(name);
  }

  forward(withGrad: boolean, gradScale = 1): void {
    const be = this.backend;
    const s = this.store;
    const { B, T } = this;
    const eps = this.config.layerNormEps;
    be.embedding({
      out: this.#emb,
      ids: this.ids,
      wte: s.p("emb.weight"),
      wpe: null,
      T,
      posOffset: 0,
    });
    be.layerNorm({
      out: this.#layers[0].xin,
      mean: this.#ln0Mean,
      rstd: this.#ln0Rstd,
      x: this.#emb,
      w: s.p("blocks.0.ln0.weight"),
      b: s.p("blocks.0.ln0.bias"),
      eps,
    });
    for (let l = 0; l < this.config.nLayer; l++) {
      const a = this.#layers[l];
      const p = `blocks.${l}`;
      // time mixing
      be.layerNorm({
        out: a.xa,
        mean: a.ln1Mean,
        rstd: a.ln1Rstd,
        x: a.xin,
        w: s.p(`${p}.ln1.weight`),
        b: s.p(`${p}.ln1.bias`),
        eps,
      });
      be.tokenShift({ out: a.xk, x: a.xa, mix: s.p(`${p}.att.time_mix_k`), prev: null, B, T });
      be.tokenShift({ out: a.xv, x: a.xa, mix: s.p(`${p}.att.time_mix_v`), prev: null, B, T });
      be.tokenShift({ out: a.xr, x: a.xa, mix: s.p(`${p}.att.time_mix_r`), prev: null, B, T });
      be.matmul(a.k, a.xk, s.p(`${p}.att.key.weight`), { transB: true });
      this.#adapters.get(`${p}.att.key.weight`)?.forward(a.k, a.xk);
      be.matmul(a.v, a.xv, s.p(`${p}.att.value.weight`), { transB: true });
      this.#adapters.get(`${p}.att.value.weight`)?.forward(a.v, a.xv);
      be.matmul(this.#scratch, a.xr, s.p(`${p}.att.receptance.weight`), { transB: true });
      this.#adapters.get(`${p}.att.receptance.weight`)?.forward(this.#scratch, a.xr);
      be.sigmoid(a.r, this.#scratch);
      be.wkv({
        y: a.y,
        k: a.k,
        v: a.v,
        timeDecay: s.p(`${p}.att.time_decay`),
        timeFirst: s.p(`${p}.att.time_first`),
        state: null,
        B,
        T,
      });
      be.mul(a.ry, a.r, a.y);
      be.matmul(this.#scratch, a.ry, s.p(`${p}.att.output.weight`), { transB: true });
      this.#adapters.get(`${p}.att.output.weight`)?.forward(this.#scratch, a.ry);
      be.add(a.x1, a.xin, this.#scratch);
      // channel mixing
      be.layerNorm({
        out: a.xf,
        mean: a.ln2Mean,
        rstd: a.ln2Rstd,
        x: a.x1,
        w: s.p(`${p}.ln2.weight`),
        b: s.p(`${p}.ln2.bias`),
        eps,
      });
      be.tokenShift({ out: a.fk, x: a.xf, mix: s.p(`${p}.ffn.time_mix_k`), prev: null, B, T });
      be.tokenShift({ out: a.fr, x: a.xf, mix: s.p(`${p}.ffn.time_mix_r`), prev: null, B, T });
      be.matmul(a.kk, a.fk, s.p(`${p}.ffn.key.weight`), { transB: true });
      this.#adapters.get(`${p}.ffn.key.weight`)?.forward(a.kk, a.fk);
      be.reluSquared(a.ksq, a.kk);
      be.matmul(a.kv, a.ksq, s.p(`${p}.ffn.value.weight`), { transB: true });
      this.#adapters.get(`${p}.ffn.value.weight`)?.forward(a.kv, a.ksq);
      be.matmul(this.#scratch, a.fr, s.p(`${p}.ffn.receptance.weight`), { transB: true });
      this.#adapters.get(`${p}.ffn.receptance.weight`)?.forward(this.#scratch, a.fr);
      be.sigmoid(a.r2, this.#scratch);
      be.mul(this.#scratch, a.r2, a.kv);
      be.add(a.x2, a.x1, this.#scratch);
    }
    const last = this.#layers[this.config.nLayer - 1].x2;
    be.layerNorm({
      out: this.#xo,
      mean: this.#lnoMean,
      rstd: this.#lnoRstd,
      x: last,
      w: s.p("ln_out.weight"),
      b: s.p("ln_out.bias"),
      eps,
    });
    be.matmul(this.logits, this.#xo, s.p("head.weight"), { transB: true });
    be.softmaxCrossEntropy({
      losses: this.losses,
      dlogits: withGrad ? this.#dlogits : null,
      logits: this.logits,
      targets: this.targets,
      gradScale,
    });
  }

  backward(): void {
    const be = this.backend;
    const s = this.store;
    const { B, T } = this;
    const L = this.config.nLayer;
    const dres = this.#dres;
    // Five [N, C] and two [N, F] gradient buffers serve every phase below. Each name says what
    // a buffer holds at that point; names that share a buffer are used one after the other.
    const [c0, c1, c2, c3, c4] = this.#gradC;
    const [f0, f1] = this.#gradF;
    const dxo = c0, demb = c0; // head and embedding
    const dr2 = c0, dkv = c1, dksq = f0, dkk = f1, dfk = c2; // channel mixing, first half
    const dr2Pre = c1, dfr = c0, dxf = c3; // channel mixing, second half
    const dry = c0, dr = c1, dy = c2, dk = c3, dv = c4; // time mixing, first half
    const drPre = c0, dxk = c1, dxv = c2, dxr = c3, dxa = c4; // time mixing, second half
    // head: logits = xo·headᵀ
    be.matmul(dxo, this.#dlogits, s.p("head.weight"));
    this.#grad("head.weight", this.#dlogits, this.#xo);
    be.fill(dres, 0);
    be.layerNormBackward({
      dx: dres,
      dw: this.#vg("ln_out.weight"),
      db: this.#vg("ln_out.bias", 1),
      dout: dxo,
      x: this.#layers[L - 1].x2,
      w: s.p("ln_out.weight"),
      mean: this.#lnoMean,
      rstd: this.#lnoRstd,
    });
    for (let l = L - 1; l >= 0; l--) {
      const a = this.#layers[l];
      const p = `blocks.${l}`;
      // channel mixing: out = r2 · kv
      be.fill(dr2, 0);
      be.fill(dkv, 0);
      be.mulBackward({ da: dr2, db: dkv, dout: dres, a: a.r2, b: a.kv });
      be.matmul(dksq, dkv, s.p(`${p}.ffn.value.weight`));
      this.#adapters.get(`${p}.ffn.value.weight`)?.backward(dksq, a.ksq, dkv);
      this.#grad(`${p}.ffn.value.weight`, dkv, a.ksq);
      be.fill(dkk, 0);
      be.reluSquaredBackward(dkk, a.kk, dksq);
      be.matmul(dfk, dkk, s.p(`${p}.ffn.key.weight`));
      this.#adapters.get(`${p}.ffn.key.weight`)?.backward(dfk, a.fk, dkk);
      this.#grad(`${p}.ffn.key.weight`, dkk, a.fk);
      be.fill(dr2Pre, 0);
      be.sigmoidBackward(dr2Pre, a.r2, dr2);
      be.matmul(dfr, dr2Pre, s.p(`${p}.ffn.receptance.weight`));
      this.#adapters.get(`${p}.ffn.receptance.weight`)?.backward(dfr, a.fr, dr2Pre);
      this.#grad(`${p}.ffn.receptance.weight`, dr2Pre, a.fr);
      be.fill(dxf, 0);
      be.tokenShiftBackward({
        dx: dxf,
        dmix: this.#vg(`${p}.ffn.time_mix_k`),
        dout: dfk,
        x: a.xf,
        mix: s.p(`${p}.ffn.time_mix_k`),
        prev: null,
        B,
        T,
      });
      be.tokenShiftBackward({
        dx: dxf,
        dmix: this.#vg(`${p}.ffn.time_mix_r`),
        dout: dfr,
        x: a.xf,
        mix: s.p(`${p}.ffn.time_mix_r`),
        prev: null,
        B,
        T,
      });
      be.layerNormBackward({
        dx: dres,
        dw: this.#vg(`${p}.ln2.weight`),
        db: this.#vg(`${p}.ln2.bias`, 1),
        dout: dxf,
        x: a.x1,
        w: s.p(`${p}.ln2.weight`),
        mean: a.ln2Mean,
        rstd: a.ln2Rstd,
      });
      // time mixing: out = output(r · wkv)
      be.matmul(dry, dres, s.p(`${p}.att.output.weight`));
      this.#adapters.get(`${p}.att.output.weight`)?.backward(dry, a.ry, dres);
      this.#grad(`${p}.att.output.weight`, dres, a.ry);
      be.fill(dr, 0);
      be.fill(dy, 0);
      be.mulBackward({ da: dr, db: dy, dout: dry, a: a.r, b: a.y });
      be.fill(dk, 0);
      be.fill(dv, 0);
      be.wkvBackward({
        dw: this.#vg(`${p}.att.time_decay`),
        du: this.#vg(`${p}.att.time_first`, 1),
        dk,
        dv,
        dy,
        k: a.k,
        v: a.v,
        timeDecay: s.p(`${p}.att.time_decay`),
        timeFirst: s.p(`${p}.att.time_first`),
        B,
        T,
      });
      be.fill(drPre, 0);
      be.sigmoidBackward(drPre, a.r, dr);
      be.matmul(dxk, dk, s.p(`${p}.att.key.weight`));
      this.#adapters.get(`${p}.att.key.weight`)?.backward(dxk, a.xk, dk);
      this.#grad(`${p}.att.key.weight`, dk, a.xk);
      be.matmul(dxv, dv, s.p(`${p}.att.value.weight`));
      this.#adapters.get(`${p}.att.value.weight`)?.backward(dxv, a.xv, dv);
      this.#grad(`${p}.att.value.weight`, dv, a.xv);
      be.matmul(dxr, drPre, s.p(`${p}.att.receptance.weight`));
      this.#adapters.get(`${p}.att.receptance.weight`)?.backward(dxr, a.xr, drPre);
      this.#grad(`${p}.att.receptance.weight`, drPre, a.xr);
      be.fill(dxa, 0);
      be.tokenShiftBackward({
        dx: dxa,
        dmix: this.#vg(`${p}.att.time_mix_k`),
        dout: dxk,
        x: a.xa,
        mix: s.p(`${p}.att.time_mix_k`),
        prev: null,
        B,
        T,
      });
      be.tokenShiftBackward({
        dx: dxa,
        dmix: this.#vg(`${p}.att.time_mix_v`),
        dout: dxv,
        x: a.xa,
        mix: s.p(`${p}.att.time_mix_v`),
        prev: null,
        B,
        T,
      });
      be.tokenShiftBackward({
        dx: dxa,
        dmix: this.#vg(`${p}.att.time_mix_r`),
        dout: dxr,
        x: a.xa,
        mix: s.p(`${p}.att.time_mix_r`),
        prev: null,
        B,
        T,
      });
      be.layerNormBackward({
        dx: dres,
        dw: this.#vg(`${p}.ln1.weight`),
        db: this.#vg(`${p}.ln1.bias`, 1),
        dout: dxa,
        x: a.xin,
        w: s.p(`${p}.ln1.weight`),
        mean: a.ln1Mean,
        rstd: a.ln1Rstd,
      });
    }
    // ln0 and the embedding
    be.fill(demb, 0);
    be.layerNormBackward({
      dx: demb,
      dw: this.#vg("blocks.0.ln0.weight"),
      db: this.#vg("blocks.0.ln0.bias", 1),
      dout: dres,
      x: this.#emb,
      w: s.p("blocks.0.ln0.weight"),
      mean: this.#ln0Mean,
      rstd: this.#ln0Rstd,
    });
    if (this.#sinks) return; // frozen: the embeddings' gradient is all that is left
    be.embeddingBackward({ dwte: s.g("emb.weight"), dwpe: null, dout: demb, ids: this.ids, T });
  }

  free(): void {
    for (const t of this.#owned) this.backend.free(t);
    this.#owned.length = 0;
  }
}
