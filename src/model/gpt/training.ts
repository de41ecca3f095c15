/**
 * The GPT-2 model on a {@link Backend}, written layer by layer as llm.c does: every
 * activation has its own buffer allocated once, forward fills them, backward walks back
 * through them accumulating into the parameter gradients.
 *
 * @module
 */
import type { AttentionDims, Backend, Tensor } from "../../backend/backend.ts";
import { allocatePlan, f32, i32, planElements } from "../buffers.ts";
import type { LinearAdapter, TrainingModelOptions } from "../linear.ts";
import type { TrainableModel } from "../model.ts";
import type { ParameterStore } from "../params.ts";
import type { GptConfig } from "./config.ts";

/**
 * The activation buffers of GPT training at batch shape `[B, T]`: `model` once, `layer` per
 * block. The model allocates from this list and {@link gptActivationFloats} counts it.
 */
function gptActivationPlan(config: GptConfig, B: number, T: number) {
  const { dModel: C, vocabSize: V, mlpDim: M, nHead: NH } = config;
  const N = B * T;
  return {
    model: {
      ids: i32(N),
      targets: i32(N),
      losses: f32(N),
      logits: f32(N, V),
      dlogits: f32(N, V),
      encoded: f32(N, C),
      lnf: f32(N, C),
      lnfMean: f32(N),
      lnfRstd: f32(N),
      scratch: f32(N, C), // attproj / fcproj outputs (not needed by backward)
      // gradients of activations, shared by all layers
      dres: f32(N, C),
      dx: f32(N, C),
      dqkv: f32(N, 3 * C),
      dfch: f32(N, M),
      dfchGelu: f32(N, M),
    },
    layer: {
      ln1: f32(N, C),
      ln1Mean: f32(N),
      ln1Rstd: f32(N),
      qkv: f32(N, 3 * C),
      atty: f32(N, C),
      lse: f32(B, NH, T),
      resid2: f32(N, C),
      ln2: f32(N, C),
      ln2Mean: f32(N),
      ln2Rstd: f32(N),
      fch: f32(N, M),
      fchGelu: f32(N, M),
      resid3: f32(N, C),
    },
  };
}

type GptLayerActs = Record<keyof ReturnType<typeof gptActivationPlan>["layer"], Tensor>;

/**
 * Floats of the activation buffers GPT training allocates at `[B, T]`.
 *
 * @example
 * ```ts
 * import { gptActivationFloats } from "./training.ts";
 * import { GPT_PRESETS } from "./config.ts";
 * console.log(gptActivationFloats({ ...GPT_PRESETS["gpt-micro"], vocabSize: 64 }, 1, 1) > 0); // true
 * ```
 */
export function gptActivationFloats(config: GptConfig, B: number, T: number): number {
  const plan = gptActivationPlan(config, B, T);
  return planElements(plan.model) + config.nLayer * planElements(plan.layer);
}

/**
 * GPT-2 (pre-LN, fused QKV, GELU tanh, tied head) for a batch shape `[B, T]`.
 *
 * @example
 * ```ts
 * import { GptModel, ParameterStore, initWeights, presetConfig } from "../../../mod.ts";
 * import { createBackend } from "../../backend/select.ts";
 * const backend = await createBackend("cpu");
 * const config = presetConfig("gpt-micro", 64) as import("./config.ts").GptConfig;
 * const store = new ParameterStore(backend, config);
 * store.load(initWeights(config, 1));
 * const model = new GptModel(backend, config, store, 1, 8);
 * backend.write(model.ids, new Int32Array(8));
 * backend.write(model.targets, new Int32Array(8));
 * model.forward(false);
 * console.log((await backend.read(model.losses)).length); // 8
 * ```
 */
export class GptModel implements TrainableModel {
  readonly config: GptConfig;
  readonly backend: Backend;
  readonly store: ParameterStore;
  readonly B: number;
  readonly T: number;
  readonly ids: Tensor;
  readonly targets: Tensor;
  readonly losses: Tensor;
  readonly logits: Tensor;
  readonly #dlogits: Tensor;
  readonly #encoded: Tensor;
  readonly #layers: GptLayerActs[] = [];
  readonly #lnf: Tensor;
  readonly #lnfMean: Tensor;
  readonly #lnfRstd: Tensor;
  readonly #scratch: Tensor;
  readonly #dres: Tensor;
  readonly #dx: Tensor;
  readonly #dqkv: Tensor;
  readonly #dfch: Tensor;
  readonly #dfchGelu: Tensor;
  readonly #dims: AttentionDims;
  readonly #owned: Tensor[] = [];
  readonly #adapters: ReadonlyMap<string, LinearAdapter>;
  /** With a frozen base: two `[C]` buffers where the norms' gain/bias gradients go (discarded). */
  readonly #sink: Tensor[] | null;

  /**
   * Allocates the activations for batch `B` and length `T ≤ contextLength`; `options` attach
   * adapters to linear layers and freeze the base (see {@link TrainingModelOptions}).
   */
  constructor(
    backend: Backend,
    config: GptConfig,
    store: ParameterStore,
    B: number,
    T: number,
    options: TrainingModelOptions = {},
  ) {
    if (T > config.contextLength) {
      throw new Error(`sequence length ${T} exceeds the context length ${config.contextLength}`);
    }
    this.backend = backend;
    this.config = config;
    this.store = store;
    this.B = B;
    this.T = T;
    const plan = gptActivationPlan(config, B, T);
    const m = allocatePlan(backend, plan.model, this.#owned);
    this.#dims = { B, T, C: config.dModel, NH: config.nHead };
    this.ids = m.ids;
    this.targets = m.targets;
    this.losses = m.losses;
    this.logits = m.logits;
    this.#dlogits = m.dlogits;
    this.#encoded = m.encoded;
    for (let l = 0; l < config.nLayer; l++) {
      this.#layers.push(allocatePlan(backend, plan.layer, this.#owned));
    }
    this.#lnf = m.lnf;
    this.#lnfMean = m.lnfMean;
    this.#lnfRstd = m.lnfRstd;
    this.#scratch = m.scratch;
    this.#dres = m.dres;
    this.#dx = m.dx;
    this.#dqkv = m.dqkv;
    this.#dfch = m.dfch;
    this.#dfchGelu = m.dfchGelu;
    this.#adapters = options.adapters ?? new Map();
    this.#sink = options.frozen
      ? [backend.zeros([config.dModel]), backend.zeros([config.dModel])]
      : null;
    if (this.#sink) this.#owned.push(...this.#sink);
  }

  /** Accumulates `a·b` (options as matmul) into the gradient of `name`, unless frozen. */
  #grad(name: string, a: Tensor, b: Tensor): void {
    if (this.#sink) return;
    this.backend.matmul(this.store.g(name), a, b, { transA: true, accumulate: true });
  }

  /** Accumulates the row sums of `x` into the gradient of bias `name`, unless frozen. */
  #biasGrad(name: string, x: Tensor): void {
    if (!this.#sink) this.backend.sumRows(this.store.g(name), x, true);
  }

  /** The gain and bias gradients of LayerNorm `name` (a discarded sink when frozen). */
  #lnGrads(name: string): { dw: Tensor; db: Tensor } {
    if (this.#sink) return { dw: this.#sink[0], db: this.#sink[1] };
    return { dw: this.store.g(`${name}.weight`), db: this.store.g(`${name}.bias`) };
  }

  forward(withGrad: boolean, gradScale = 1): void {
    const be = this.backend;
    const s = this.store;
    const eps = this.config.layerNormEps;
    be.embedding({
      out: this.#encoded,
      ids: this.ids,
      wte: s.p("wte.weight"),
      wpe: s.p("wpe.weight"),
      T: this.T,
      posOffset: 0,
    });
    let residual = this.#encoded;
    for (let l = 0; l < this.config.nLayer; l++) {
      const a = this.#layers[l];
      const p = `h.${l}`;
      be.layerNorm({
        out: a.ln1,
        mean: a.ln1Mean,
        rstd: a.ln1Rstd,
        x: residual,
        w: s.p(`${p}.ln_1.weight`),
        b: s.p(`${p}.ln_1.bias`),
        eps,
      });
      be.matmul(a.qkv, a.ln1, s.p(`${p}.attn.c_attn.weight`), {
        bias: s.p(`${p}.attn.c_attn.bias`),
      });
      this.#adapters.get(`${p}.attn.c_attn.weight`)?.forward(a.qkv, a.ln1);
      be.attention({ out: a.atty, lse: a.lse, qkv: a.qkv, dims: this.#dims });
      be.matmul(this.#scratch, a.atty, s.p(`${p}.attn.c_proj.weight`), {
        bias: s.p(`${p}.attn.c_proj.bias`),
      });
      this.#adapters.get(`${p}.attn.c_proj.weight`)?.forward(this.#scratch, a.atty);
      be.add(a.resid2, residual, this.#scratch);
      be.layerNorm({
        out: a.ln2,
        mean: a.ln2Mean,
        rstd: a.ln2Rstd,
        x: a.resid2,
        w: s.p(`${p}.ln_2.weight`),
        b: s.p(`${p}.ln_2.bias`),
        eps,
      });
      be.matmul(a.fch, a.ln2, s.p(`${p}.mlp.c_fc.weight`), { bias: s.p(`${p}.mlp.c_fc.bias`) });
      this.#adapters.get(`${p}.mlp.c_fc.weight`)?.forward(a.fch, a.ln2);
      be.gelu(a.fchGelu, a.fch);
      be.matmul(this.#scratch, a.fchGelu, s.p(`${p}.mlp.c_proj.weight`), {
        bias: s.p(`${p}.mlp.c_proj.bias`),
      });
      this.#adapters.get(`${p}.mlp.c_proj.weight`)?.forward(this.#scratch, a.fchGelu);
      be.add(a.resid3, a.resid2, this.#scratch);
      residual = a.resid3;
    }
    be.layerNorm({
      out: this.#lnf,
      mean: this.#lnfMean,
      rstd: this.#lnfRstd,
      x: residual,
      w: s.p("ln_f.weight"),
      b: s.p("ln_f.bias"),
      eps,
    });
    be.matmul(this.logits, this.#lnf, s.p("wte.weight"), { transB: true });
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
    const L = this.config.nLayer;
    const dres = this.#dres;
    // Output head (tied): dlnf = dlogits·wte, dwte += dlogitsᵀ·lnf.
    be.matmul(this.#dx, this.#dlogits, s.p("wte.weight"));
    this.#grad("wte.weight", this.#dlogits, this.#lnf);
    be.fill(dres, 0);
    const last = this.#layers[L - 1].resid3;
    be.layerNormBackward({
      dx: dres,
      ...this.#lnGrads("ln_f"),
      dout: this.#dx,
      x: last,
      w: s.p("ln_f.weight"),
      mean: this.#lnfMean,
      rstd: this.#lnfRstd,
    });
    for (let l = L - 1; l >= 0; l--) {
      const a = this.#layers[l];
      const p = `h.${l}`;
      const residual = l === 0 ? this.#encoded : this.#layers[l - 1].resid3;
      // MLP projection
      be.matmul(this.#dfchGelu, dres, s.p(`${p}.mlp.c_proj.weight`), { transB: true });
      this.#adapters.get(`${p}.mlp.c_proj.weight`)?.backward(this.#dfchGelu, a.fchGelu, dres);
      this.#grad(`${p}.mlp.c_proj.weight`, a.fchGelu, dres);
      this.#biasGrad(`${p}.mlp.c_proj.bias`, dres);
      be.fill(this.#dfch, 0);
      be.geluBackward(this.#dfch, a.fch, this.#dfchGelu);
      // MLP input
      be.matmul(this.#dx, this.#dfch, s.p(`${p}.mlp.c_fc.weight`), { transB: true });
      this.#adapters.get(`${p}.mlp.c_fc.weight`)?.backward(this.#dx, a.ln2, this.#dfch);
      this.#grad(`${p}.mlp.c_fc.weight`, a.ln2, this.#dfch);
      this.#biasGrad(`${p}.mlp.c_fc.bias`, this.#dfch);
      be.layerNormBackward({
        dx: dres,
        ...this.#lnGrads(`${p}.ln_2`),
        dout: this.#dx,
        x: a.resid2,
        w: s.p(`${p}.ln_2.weight`),
        mean: a.ln2Mean,
        rstd: a.ln2Rstd,
      });
      // attention projection
      be.matmul(this.#dx, dres, s.p(`${p}.attn.c_proj.weight`), { transB: true });
      this.#adapters.get(`${p}.attn.c_proj.weight`)?.backward(this.#dx, a.atty, dres);
      this.#grad(`${p}.attn.c_proj.weight`, a.atty, dres);
      this.#biasGrad(`${p}.attn.c_proj.bias`, dres);
      be.fill(this.#dqkv, 0);
      be.attentionBackward({
        dqkv: this.#dqkv,
        dout: this.#dx,
        out: a.atty,
        lse: a.lse,
        qkv: a.qkv,
        dims: this.#dims,
      });
      // QKV
      be.matmul(this.#dx, this.#dqkv, s.p(`${p}.attn.c_attn.weight`), { transB: true });
      this.#adapters.get(`${p}.attn.c_attn.weight`)?.backward(this.#dx, a.ln1, this.#dqkv);
      this.#grad(`${p}.attn.c_attn.weight`, a.ln1, this.#dqkv);
      this.#biasGrad(`${p}.attn.c_attn.bias`, this.#dqkv);
      be.layerNormBackward({
        dx: dres,
        ...this.#lnGrads(`${p}.ln_1`),
        dout: this.#dx,
        x: residual,
        w: s.p(`${p}.ln_1.weight`),
        mean: a.ln1Mean,
        rstd: a.ln1Rstd,
      });
    }
    if (this.#sink) return; // frozen: the embeddings' gradient is all that is left
    be.embeddingBackward({
      dwte: s.g("wte.weight"),
      dwpe: s.g("wpe.weight"),
      dout: dres,
      ids: this.ids,
      T: this.T,
    });
  }

  free(): void {
    for (const t of this.#owned) this.backend.free(t);
    this.#owned.length = 0;
  }
}
