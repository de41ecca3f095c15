/**
 * The Llama model on a {@link Backend}, written layer by layer as llm.c does (as the GPT
 * model is): every activation has its own buffer allocated once, forward fills them, backward
 * walks back through them accumulating into the parameter gradients.
 *
 * One block: RMSNorm → `qkv = x·[Wq; Wk; Wv]ᵀ` (one matmul over the fused view) → RoPE on
 * the q and k heads, in place → causal attention with NKV key/value heads → `o_proj` →
 * residual → RMSNorm → `gate`, `up` → `silu(gate)·up` → `down_proj` → residual.
 *
 * @module
 */
import type { AttentionDims, Backend, Tensor } from "../../backend/backend.ts";
import { allocatePlan, f32, i32, planElements } from "../buffers.ts";
import type { LinearAdapter, TrainingModelOptions } from "../linear.ts";
import type { TrainableModel } from "../model.ts";
import type { ParameterStore } from "../params.ts";
import type { LlamaConfig } from "./config.ts";
import { fusedQkvName, layerPrefix, LLAMA_EMBEDDING, LLAMA_HEAD } from "./weights.ts";

/**
 * RoPE tables for positions `0 … T−1` of heads of `headDim`, computed in float64 as Hugging
 * Face does (`inv_freq = θ^(−2i/headDim)`, angle `p · inv_freq`): `cos`, `sin` `[T, headDim/2]`.
 *
 * @example
 * ```ts
 * import { ropeTables } from "./training.ts";
 * const { cos, sin } = ropeTables(4, 8, 10000);
 * console.log(cos.length, cos[0], sin[4]); // 16 1 0.8414709568023682
 * ```
 */
export function ropeTables(
  T: number,
  headDim: number,
  theta: number,
): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(T * half), sin = new Float32Array(T * half);
  for (let i = 0; i < half; i++) {
    const invFreq = Math.pow(theta, (-2 * i) / headDim);
    for (let p = 0; p < T; p++) {
      const angle = p * invFreq;
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/** Widths of a Llama: queries `Q = NH·hd`, keys/values `KV = NKV·hd`, fused rows `W = Q + 2·KV`. */
export function llamaWidths(c: LlamaConfig): { Q: number; KV: number; W: number } {
  const Q = c.nHead * c.headDim, KV = c.nKvHead * c.headDim;
  return { Q, KV, W: Q + 2 * KV };
}

/**
 * The activation buffers of Llama training at batch shape `[B, T]`: `model` once, `layer` per
 * block. The model allocates from this list and {@link llamaActivationFloats} counts it.
 */
function llamaActivationPlan(config: LlamaConfig, B: number, T: number) {
  const { dModel: C, vocabSize: V, ffnDim: M, nHead: NH, headDim: hd } = config;
  const { Q, W } = llamaWidths(config);
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
      lnfRstd: f32(N),
      // RoPE tables of positions 0…B·T−1 (only 0…T−1 are read): sized per token, so that
      // the activation memory stays B·T times the per-token count.
      ropeCos: f32(N, hd / 2),
      ropeSin: f32(N, hd / 2),
      scratch: f32(N, C), // o_proj / down_proj outputs (not needed by backward)
      // gradients of activations, shared by all layers
      dres: f32(N, C),
      dx: f32(N, C),
      datty: f32(N, Q),
      dqkv: f32(N, W),
      dqkvPre: f32(N, W),
      dh: f32(N, M),
      dgate: f32(N, M),
      dup: f32(N, M),
    },
    layer: {
      ln1: f32(N, C),
      ln1Rstd: f32(N),
      qkv: f32(N, W), // after RoPE
      atty: f32(N, Q),
      lse: f32(B, NH, T),
      resid2: f32(N, C),
      ln2: f32(N, C),
      ln2Rstd: f32(N),
      gate: f32(N, M),
      up: f32(N, M),
      h: f32(N, M),
      resid3: f32(N, C),
    },
  };
}

type LlamaLayerActs = Record<keyof ReturnType<typeof llamaActivationPlan>["layer"], Tensor>;
type LlamaModelActs = Record<keyof ReturnType<typeof llamaActivationPlan>["model"], Tensor>;

/**
 * Floats of the activation buffers Llama training allocates at `[B, T]`.
 *
 * @example
 * ```ts
 * import { llamaActivationFloats } from "./training.ts";
 * import { LLAMA_PRESETS } from "./config.ts";
 * console.log(llamaActivationFloats({ ...LLAMA_PRESETS["llama-micro"], vocabSize: 64 }, 1, 1) > 0); // true
 * ```
 */
export function llamaActivationFloats(config: LlamaConfig, B: number, T: number): number {
  const plan = llamaActivationPlan(config, B, T);
  return planElements(plan.model) + config.nLayer * planElements(plan.layer);
}

/**
 * Llama (RMSNorm, RoPE, grouped-query attention, SwiGLU, tied or untied head) for a batch
 * shape `[B, T]`.
 *
 * @example
 * ```ts
 * import { initWeights, ParameterStore, presetConfig } from "../../../mod.ts";
 * import { LlamaModel } from "./training.ts";
 * import { createBackend } from "../../backend/select.ts";
 * const backend = await createBackend("cpu");
 * const config = presetConfig("llama-micro", 64) as import("./config.ts").LlamaConfig;
 * const store = new ParameterStore(backend, config);
 * store.load(initWeights(config, 1));
 * const model = new LlamaModel(backend, config, store, 1, 8);
 * backend.write(model.ids, new Int32Array(8));
 * backend.write(model.targets, new Int32Array(8));
 * model.forward(false);
 * console.log((await backend.read(model.losses)).length); // 8
 * ```
 */
export class LlamaModel implements TrainableModel {
  readonly config: LlamaConfig;
  readonly backend: Backend;
  readonly store: ParameterStore;
  readonly B: number;
  readonly T: number;
  readonly ids: Tensor;
  readonly targets: Tensor;
  readonly losses: Tensor;
  readonly logits: Tensor;
  readonly #m: LlamaModelActs;
  readonly #layers: LlamaLayerActs[] = [];
  readonly #dims: AttentionDims;
  readonly #owned: Tensor[] = [];
  readonly #adapters: ReadonlyMap<string, LinearAdapter>;
  /** With a frozen base: where the norms' gain gradients go (discarded). */
  readonly #sink: Tensor | null;

  /**
   * Allocates the activations for batch `B` and length `T ≤ contextLength`; `options` attach
   * adapters to linear layers and freeze the base (see {@link TrainingModelOptions}).
   */
  constructor(
    backend: Backend,
    config: LlamaConfig,
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
    const plan = llamaActivationPlan(config, B, T);
    const m = this.#m = allocatePlan(backend, plan.model, this.#owned);
    this.#dims = {
      B,
      T,
      C: llamaWidths(config).Q,
      NH: config.nHead,
      NKV: config.nKvHead,
    };
    this.ids = m.ids;
    this.targets = m.targets;
    this.losses = m.losses;
    this.logits = m.logits;
    for (let l = 0; l < config.nLayer; l++) {
      this.#layers.push(allocatePlan(backend, plan.layer, this.#owned));
    }
    const { cos, sin } = ropeTables(B * T, config.headDim, config.ropeTheta);
    backend.write(m.ropeCos, cos);
    backend.write(m.ropeSin, sin);
    this.#adapters = options.adapters ?? new Map();
    this.#sink = options.frozen ? backend.zeros([config.dModel]) : null;
    if (this.#sink) this.#owned.push(this.#sink);
  }

  /** Accumulates `doutᵀ·x` into the gradient of weight `name`, unless frozen. */
  #grad(name: string, dout: Tensor, x: Tensor): void {
    if (this.#sink) return;
    this.backend.matmul(this.store.g(name), dout, x, { transA: true, accumulate: true });
  }

  /** The gain gradient of RMSNorm weight `name` (a discarded sink when frozen). */
  #normGrad(name: string): Tensor {
    return this.#sink ?? this.store.g(name);
  }

  /** The output head `[V, C]`: the embeddings when tied. */
  #headName(): string {
    return this.config.tieEmbeddings ? LLAMA_EMBEDDING : LLAMA_HEAD;
  }

  /** The RoPE arguments of this model's `qkv` rows (the q and k heads rotated). */
  #rope() {
    const c = this.config;
    return {
      cos: this.#m.ropeCos,
      sin: this.#m.ropeSin,
      B: this.B,
      T: this.T,
      headDim: c.headDim,
      rotatedHeads: c.nHead + c.nKvHead,
    };
  }

  forward(withGrad: boolean, gradScale = 1): void {
    const be = this.backend, s = this.store, m = this.#m;
    const eps = this.config.rmsNormEps;
    be.embedding({
      out: m.encoded,
      ids: this.ids,
      wte: s.p(LLAMA_EMBEDDING),
      wpe: null,
      T: this.T,
    });
    let residual = m.encoded;
    for (let l = 0; l < this.config.nLayer; l++) {
      const a = this.#layers[l];
      const p = layerPrefix(l);
      be.rmsNorm({
        out: a.ln1,
        rstd: a.ln1Rstd,
        x: residual,
        w: s.p(`${p}.input_layernorm.weight`),
        eps,
      });
      be.matmul(a.qkv, a.ln1, s.p(fusedQkvName(l)), { transB: true });
      this.#adapters.get(fusedQkvName(l))?.forward(a.qkv, a.ln1);
      be.rope({ out: a.qkv, x: a.qkv, ...this.#rope() });
      be.attention({ out: a.atty, lse: a.lse, qkv: a.qkv, dims: this.#dims });
      be.matmul(m.scratch, a.atty, s.p(`${p}.self_attn.o_proj.weight`), { transB: true });
      this.#adapters.get(`${p}.self_attn.o_proj.weight`)?.forward(m.scratch, a.atty);
      be.add(a.resid2, residual, m.scratch);
      be.rmsNorm({
        out: a.ln2,
        rstd: a.ln2Rstd,
        x: a.resid2,
        w: s.p(`${p}.post_attention_layernorm.weight`),
        eps,
      });
      be.matmul(a.gate, a.ln2, s.p(`${p}.mlp.gate_proj.weight`), { transB: true });
      this.#adapters.get(`${p}.mlp.gate_proj.weight`)?.forward(a.gate, a.ln2);
      be.matmul(a.up, a.ln2, s.p(`${p}.mlp.up_proj.weight`), { transB: true });
      this.#adapters.get(`${p}.mlp.up_proj.weight`)?.forward(a.up, a.ln2);
      be.swiglu(a.h, a.gate, a.up);
      be.matmul(m.scratch, a.h, s.p(`${p}.mlp.down_proj.weight`), { transB: true });
      this.#adapters.get(`${p}.mlp.down_proj.weight`)?.forward(m.scratch, a.h);
      be.add(a.resid3, a.resid2, m.scratch);
      residual = a.resid3;
    }
    be.rmsNorm({ out: m.lnf, rstd: m.lnfRstd, x: residual, w: s.p("model.norm.weight"), eps });
    be.matmul(this.logits, m.lnf, s.p(this.#headName()), { transB: true });
    be.softmaxCrossEntropy({
      losses: this.losses,
      dlogits: withGrad ? m.dlogits : null,
      logits: this.logits,
      targets: this.targets,
      gradScale,
    });
  }

  backward(): void {
    const be = this.backend, s = this.store, m = this.#m;
    const L = this.config.nLayer;
    const dres = m.dres;
    // Output head: dlnf = dlogits·W, dW += dlogitsᵀ·lnf.
    const head = this.#headName();
    be.matmul(m.dx, m.dlogits, s.p(head));
    this.#grad(head, m.dlogits, m.lnf);
    be.fill(dres, 0);
    be.rmsNormBackward({
      dx: dres,
      dw: this.#normGrad("model.norm.weight"),
      dout: m.dx,
      x: this.#layers[L - 1].resid3,
      w: s.p("model.norm.weight"),
      rstd: m.lnfRstd,
    });
    for (let l = L - 1; l >= 0; l--) {
      const a = this.#layers[l];
      const p = layerPrefix(l);
      const residual = l === 0 ? m.encoded : this.#layers[l - 1].resid3;
      // down_proj: h = dres·Wd, dWd += dresᵀ·h.
      be.matmul(m.dh, dres, s.p(`${p}.mlp.down_proj.weight`));
      this.#adapters.get(`${p}.mlp.down_proj.weight`)?.backward(m.dh, a.h, dres);
      this.#grad(`${p}.mlp.down_proj.weight`, dres, a.h);
      be.fill(m.dgate, 0);
      be.fill(m.dup, 0);
      be.swigluBackward({ dgate: m.dgate, dup: m.dup, dout: m.dh, gate: a.gate, up: a.up });
      // gate and up projections
      be.matmul(m.dx, m.dgate, s.p(`${p}.mlp.gate_proj.weight`));
      be.matmul(m.dx, m.dup, s.p(`${p}.mlp.up_proj.weight`), { accumulate: true });
      this.#adapters.get(`${p}.mlp.gate_proj.weight`)?.backward(m.dx, a.ln2, m.dgate);
      this.#adapters.get(`${p}.mlp.up_proj.weight`)?.backward(m.dx, a.ln2, m.dup);
      this.#grad(`${p}.mlp.gate_proj.weight`, m.dgate, a.ln2);
      this.#grad(`${p}.mlp.up_proj.weight`, m.dup, a.ln2);
      be.rmsNormBackward({
        dx: dres,
        dw: this.#normGrad(`${p}.post_attention_layernorm.weight`),
        dout: m.dx,
        x: a.resid2,
        w: s.p(`${p}.post_attention_layernorm.weight`),
        rstd: a.ln2Rstd,
      });
      // o_proj
      be.matmul(m.datty, dres, s.p(`${p}.self_attn.o_proj.weight`));
      this.#adapters.get(`${p}.self_attn.o_proj.weight`)?.backward(m.datty, a.atty, dres);
      this.#grad(`${p}.self_attn.o_proj.weight`, dres, a.atty);
      be.fill(m.dqkv, 0);
      be.attentionBackward({
        dqkv: m.dqkv,
        dout: m.datty,
        out: a.atty,
        lse: a.lse,
        qkv: a.qkv,
        dims: this.#dims,
      });
      be.fill(m.dqkvPre, 0);
      be.ropeBackward({ dx: m.dqkvPre, dout: m.dqkv, ...this.#rope() });
      // the fused q|k|v projection
      const qkv = fusedQkvName(l);
      be.matmul(m.dx, m.dqkvPre, s.p(qkv));
      this.#adapters.get(qkv)?.backward(m.dx, a.ln1, m.dqkvPre);
      this.#grad(qkv, m.dqkvPre, a.ln1);
      be.rmsNormBackward({
        dx: dres,
        dw: this.#normGrad(`${p}.input_layernorm.weight`),
        dout: m.dx,
        x: residual,
        w: s.p(`${p}.input_layernorm.weight`),
        rstd: a.ln1Rstd,
      });
    }
    if (this.#sink) return; // frozen: the embeddings' gradient is all that is left
    be.embeddingBackward({
      dwte: s.g(LLAMA_EMBEDDING),
      dwpe: null,
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
