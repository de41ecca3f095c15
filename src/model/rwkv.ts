/**
 * The RWKV-4 model (BlinkDL) on a {@link Backend}, trained in parallel over the sequence with
 * the WKV kernel, written layer by layer: time mixing (token shift, key/value/receptance, WKV,
 * sigmoid gate, output) and channel mixing (token shift, squared ReLU, receptance gate).
 *
 * @module
 */
import type { Backend, Tensor } from "../backend/backend.ts";
import type { RwkvConfig } from "./config.ts";
import type { TrainableModel } from "./model.ts";
import type { ParameterStore } from "./params.ts";

interface RwkvLayerActs {
  xin: Tensor; // residual input of the block
  xa: Tensor; // ln1 output
  ln1Mean: Tensor;
  ln1Rstd: Tensor;
  xk: Tensor;
  xv: Tensor;
  xr: Tensor;
  k: Tensor;
  v: Tensor;
  r: Tensor; // sigmoid(receptance)
  y: Tensor; // wkv
  ry: Tensor;
  x1: Tensor; // after time mixing
  xf: Tensor; // ln2 output
  ln2Mean: Tensor;
  ln2Rstd: Tensor;
  fk: Tensor;
  fr: Tensor;
  kk: Tensor; // [N, F] key pre-activation
  ksq: Tensor; // [N, F]
  kv: Tensor;
  r2: Tensor;
  x2: Tensor; // block output
}

/**
 * RWKV-4 for a batch shape `[B, T]`.
 *
 * @example
 * ```ts
 * import { RwkvModel, ParameterStore, initWeights, presetConfig } from "../../mod.ts";
 * import { createBackend } from "../backend/select.ts";
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
  readonly #g: Tensor[]; // 5 × [N, C]
  readonly #gf: Tensor[]; // 2 × [N, F]
  readonly #owned: Tensor[] = [];

  /** Allocates the activations for batch `B` and length `T`. */
  constructor(backend: Backend, config: RwkvConfig, store: ParameterStore, B: number, T: number) {
    this.backend = backend;
    this.config = config;
    this.store = store;
    this.B = B;
    this.T = T;
    const { dModel: C, vocabSize: V, ffnDim: F } = config;
    const N = B * T;
    const z = (shape: number[], dtype: "f32" | "i32" = "f32") => {
      const t = backend.zeros(shape, dtype);
      this.#owned.push(t);
      return t;
    };
    this.ids = z([N], "i32");
    this.targets = z([N], "i32");
    this.losses = z([N]);
    this.logits = z([N, V]);
    this.#dlogits = z([N, V]);
    this.#emb = z([N, C]);
    this.#ln0Mean = z([N]);
    this.#ln0Rstd = z([N]);
    let xin = z([N, C]); // ln0 output = input of block 0
    for (let l = 0; l < config.nLayer; l++) {
      const acts: RwkvLayerActs = {
        xin,
        xa: z([N, C]),
        ln1Mean: z([N]),
        ln1Rstd: z([N]),
        xk: z([N, C]),
        xv: z([N, C]),
        xr: z([N, C]),
        k: z([N, C]),
        v: z([N, C]),
        r: z([N, C]),
        y: z([N, C]),
        ry: z([N, C]),
        x1: z([N, C]),
        xf: z([N, C]),
        ln2Mean: z([N]),
        ln2Rstd: z([N]),
        fk: z([N, C]),
        fr: z([N, C]),
        kk: z([N, F]),
        ksq: z([N, F]),
        kv: z([N, C]),
        r2: z([N, C]),
        x2: z([N, C]),
      };
      this.#layers.push(acts);
      xin = acts.x2;
    }
    this.#xo = z([N, C]);
    this.#lnoMean = z([N]);
    this.#lnoRstd = z([N]);
    this.#scratch = z([N, C]);
    this.#dres = z([N, C]);
    this.#g = [z([N, C]), z([N, C]), z([N, C]), z([N, C]), z([N, C])];
    this.#gf = [z([N, F]), z([N, F])];
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
      be.matmul(a.v, a.xv, s.p(`${p}.att.value.weight`), { transB: true });
      be.matmul(this.#scratch, a.xr, s.p(`${p}.att.receptance.weight`), { transB: true });
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
      be.reluSquared(a.ksq, a.kk);
      be.matmul(a.kv, a.ksq, s.p(`${p}.ffn.value.weight`), { transB: true });
      be.matmul(this.#scratch, a.fr, s.p(`${p}.ffn.receptance.weight`), { transB: true });
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
    const [gA, gB, gC, gD, gE] = this.#g;
    const [gF1, gF2] = this.#gf;
    // head: logits = xo·headᵀ
    be.matmul(gA, this.#dlogits, s.p("head.weight"));
    be.matmul(s.g("head.weight"), this.#dlogits, this.#xo, { transA: true, accumulate: true });
    be.fill(dres, 0);
    be.layerNormBackward({
      dx: dres,
      dw: s.g("ln_out.weight"),
      db: s.g("ln_out.bias"),
      dout: gA,
      x: this.#layers[L - 1].x2,
      w: s.p("ln_out.weight"),
      mean: this.#lnoMean,
      rstd: this.#lnoRstd,
    });
    for (let l = L - 1; l >= 0; l--) {
      const a = this.#layers[l];
      const p = `blocks.${l}`;
      // channel mixing: out = r2 · kv
      be.fill(gA, 0);
      be.fill(gB, 0);
      be.mulBackward({ da: gA, db: gB, dout: dres, a: a.r2, b: a.kv }); // gA = d r2, gB = d kv
      be.matmul(gF1, gB, s.p(`${p}.ffn.value.weight`)); // d ksq
      be.matmul(s.g(`${p}.ffn.value.weight`), gB, a.ksq, { transA: true, accumulate: true });
      be.fill(gF2, 0);
      be.reluSquaredBackward(gF2, a.kk, gF1); // d kk
      be.matmul(gC, gF2, s.p(`${p}.ffn.key.weight`)); // d fk
      be.matmul(s.g(`${p}.ffn.key.weight`), gF2, a.fk, { transA: true, accumulate: true });
      be.fill(gB, 0);
      be.sigmoidBackward(gB, a.r2, gA); // d receptance pre-activation
      be.matmul(gA, gB, s.p(`${p}.ffn.receptance.weight`)); // d fr
      be.matmul(s.g(`${p}.ffn.receptance.weight`), gB, a.fr, { transA: true, accumulate: true });
      be.fill(gD, 0);
      be.tokenShiftBackward({
        dx: gD,
        dmix: s.g(`${p}.ffn.time_mix_k`),
        dout: gC,
        x: a.xf,
        mix: s.p(`${p}.ffn.time_mix_k`),
        prev: null,
        B,
        T,
      });
      be.tokenShiftBackward({
        dx: gD,
        dmix: s.g(`${p}.ffn.time_mix_r`),
        dout: gA,
        x: a.xf,
        mix: s.p(`${p}.ffn.time_mix_r`),
        prev: null,
        B,
        T,
      });
      be.layerNormBackward({
        dx: dres,
        dw: s.g(`${p}.ln2.weight`),
        db: s.g(`${p}.ln2.bias`),
        dout: gD,
        x: a.x1,
        w: s.p(`${p}.ln2.weight`),
        mean: a.ln2Mean,
        rstd: a.ln2Rstd,
      });
      // time mixing: out = output(r · wkv)
      be.matmul(gA, dres, s.p(`${p}.att.output.weight`)); // d ry
      be.matmul(s.g(`${p}.att.output.weight`), dres, a.ry, { transA: true, accumulate: true });
      be.fill(gB, 0);
      be.fill(gC, 0);
      be.mulBackward({ da: gB, db: gC, dout: gA, a: a.r, b: a.y }); // gB = d r, gC = d y
      be.fill(gD, 0);
      be.fill(gE, 0);
      be.wkvBackward({
        dw: s.g(`${p}.att.time_decay`),
        du: s.g(`${p}.att.time_first`),
        dk: gD,
        dv: gE,
        dy: gC,
        k: a.k,
        v: a.v,
        timeDecay: s.p(`${p}.att.time_decay`),
        timeFirst: s.p(`${p}.att.time_first`),
        B,
        T,
      }); // gD = d k, gE = d v
      be.fill(gA, 0);
      be.sigmoidBackward(gA, a.r, gB); // d receptance pre-activation
      be.matmul(gB, gD, s.p(`${p}.att.key.weight`)); // d xk
      be.matmul(s.g(`${p}.att.key.weight`), gD, a.xk, { transA: true, accumulate: true });
      be.matmul(gC, gE, s.p(`${p}.att.value.weight`)); // d xv
      be.matmul(s.g(`${p}.att.value.weight`), gE, a.xv, { transA: true, accumulate: true });
      be.matmul(gD, gA, s.p(`${p}.att.receptance.weight`)); // d xr
      be.matmul(s.g(`${p}.att.receptance.weight`), gA, a.xr, { transA: true, accumulate: true });
      be.fill(gE, 0);
      be.tokenShiftBackward({
        dx: gE,
        dmix: s.g(`${p}.att.time_mix_k`),
        dout: gB,
        x: a.xa,
        mix: s.p(`${p}.att.time_mix_k`),
        prev: null,
        B,
        T,
      });
      be.tokenShiftBackward({
        dx: gE,
        dmix: s.g(`${p}.att.time_mix_v`),
        dout: gC,
        x: a.xa,
        mix: s.p(`${p}.att.time_mix_v`),
        prev: null,
        B,
        T,
      });
      be.tokenShiftBackward({
        dx: gE,
        dmix: s.g(`${p}.att.time_mix_r`),
        dout: gD,
        x: a.xa,
        mix: s.p(`${p}.att.time_mix_r`),
        prev: null,
        B,
        T,
      });
      be.layerNormBackward({
        dx: dres,
        dw: s.g(`${p}.ln1.weight`),
        db: s.g(`${p}.ln1.bias`),
        dout: gE,
        x: a.xin,
        w: s.p(`${p}.ln1.weight`),
        mean: a.ln1Mean,
        rstd: a.ln1Rstd,
      });
    }
    // ln0 and the embedding
    be.fill(gA, 0);
    be.layerNormBackward({
      dx: gA,
      dw: s.g("blocks.0.ln0.weight"),
      db: s.g("blocks.0.ln0.bias"),
      dout: dres,
      x: this.#emb,
      w: s.p("blocks.0.ln0.weight"),
      mean: this.#ln0Mean,
      rstd: this.#ln0Rstd,
    });
    be.embeddingBackward({ dwte: s.g("emb.weight"), dwpe: null, dout: gA, ids: this.ids, T });
  }

  free(): void {
    for (const t of this.#owned) this.backend.free(t);
    this.#owned.length = 0;
  }
}
