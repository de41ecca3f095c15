/**
 * RWKV-4 for generation, as an RNN: per layer the token-shift inputs of time and channel
 * mixing and the WKV state (aa, bb, pp); a step costs the same at any position.
 * {@link RwkvInference.forwardAll} runs the parallel form from an empty state.
 *
 * @module
 */
import type { Backend, Tensor } from "../../backend/backend.ts";
import type { LanguageModel, WeightMap } from "../../generate/inference.ts";
import { allocatePlan } from "../buffers.ts";
import { layerNormBy, uploadWeights, writeUploadedWeight } from "../inference_support.ts";
import { type RecurrentLayerState, RecurrentModel } from "../recurrent_model.ts";
import type { RwkvConfig } from "./config.ts";
import { rwkvChannelMix, type RwkvScratchName, rwkvScratchPlan } from "./rnn.ts";
import { rwkvWeightSpecs } from "./weights.ts";

/** The activations of one forward. */
type Scratch = Record<RwkvScratchName, Tensor>;

/** RWKV-4 as an RNN (the WKV state: aa, bb, pp `[1, 3, C]`). See the module documentation. */
export class RwkvInference extends RecurrentModel<Scratch> implements LanguageModel {
  readonly config: RwkvConfig;
  readonly backend: Backend;
  #w: Map<string, Tensor>;
  #state: RecurrentLayerState[] = [];

  /** Uploads `weights` and allocates the state. */
  constructor(backend: Backend, config: RwkvConfig, weights: WeightMap, source = "checkpoint") {
    super();
    this.backend = backend;
    this.config = config;
    this.#w = uploadWeights(backend, rwkvWeightSpecs(config), weights, config.arch, source);
    for (let l = 0; l < config.nLayer; l++) {
      this.#state.push({
        att: backend.zeros([1, config.dModel]),
        ffn: backend.zeros([1, config.dModel]),
        wkv: backend.zeros([1, 3, config.dModel]),
      });
    }
    this.reset();
  }

  /** Overwrites a linear layer's matrix (see {@link LanguageModel.writeWeight}). */
  writeWeight(name: string, data: Float32Array): void {
    writeUploadedWeight(this.backend, this.#w, name, data);
  }

  /** The buffers of a forward over `T` tokens. */
  protected workspace(T: number, list: Tensor[]): Scratch {
    return allocatePlan(this.backend, rwkvScratchPlan(this.config, T), list);
  }

  /** `ln_out`'s output, what the head reads. */
  protected finalNorm(s: Scratch): Tensor {
    return s.xx;
  }

  /**
   * Runs the model over `ids` (one position when `carry`, using and updating the RNN state;
   * any length from zero state otherwise). Leaves the logits in `s.logits` when `head`.
   */
  protected run(ids: readonly number[], s: Scratch, carry: boolean, head: boolean): void {
    const b = this.backend, c = this.config, T = ids.length;
    const w = (n: string) => this.#w.get(n)!;
    const ln = layerNormBy(b, w, s, c.layerNormEps);
    b.write(s.ids, Int32Array.from(ids));
    b.embedding({ out: s.x0, ids: s.ids, wte: w("emb.weight"), wpe: null, T });
    ln(s.x, s.x0, "blocks.0.ln0");
    for (let l = 0; l < c.nLayer; l++) {
      const p = `blocks.${l}.`, st = carry ? this.#state[l] : null;
      const shift = (out: Tensor, mix: string) =>
        b.tokenShift({ out, x: s.xx, mix: w(p + mix), prev: st?.att ?? null, B: 1, T });
      ln(s.xx, s.x, p + "ln1");
      shift(s.xk, "att.time_mix_k");
      shift(s.xv, "att.time_mix_v");
      shift(s.xr, "att.time_mix_r");
      if (st) b.copy(st.att, s.xx);
      b.matmul(s.k, s.xk, w(p + "att.key.weight"), { transB: true });
      b.matmul(s.v, s.xv, w(p + "att.value.weight"), { transB: true });
      b.matmul(s.r, s.xr, w(p + "att.receptance.weight"), { transB: true });
      b.sigmoid(s.rs, s.r);
      b.wkv({
        y: s.y,
        k: s.k,
        v: s.v,
        timeDecay: w(p + "att.time_decay"),
        timeFirst: w(p + "att.time_first"),
        state: st?.wkv ?? null,
        B: 1,
        T,
      });
      b.mul(s.ry, s.rs, s.y);
      b.matmul(s.x, s.ry, w(p + "att.output.weight"), { transB: true, accumulate: true });
      ln(s.xx, s.x, p + "ln2");
      rwkvChannelMix(b, w, p, s, st?.ffn ?? null, T);
    }
    if (!head) return;
    ln(s.xx, s.x, "ln_out");
    b.matmul(s.logits, s.xx, w("head.weight"), { transB: true });
  }

  /** Zeros, but the WKV's pp (a running maximum exponent) starts at "minus infinity". */
  protected override clearState(): void {
    const C = this.config.dModel;
    const wkv0 = new Float32Array(3 * C);
    wkv0.fill(-1e38, 2 * C);
    for (const st of this.#state) {
      this.backend.fill(st.att, 0);
      this.backend.fill(st.ffn, 0);
      this.backend.write(st.wkv, wkv0);
    }
  }

  /** Each layer's token-shift inputs and WKV state. */
  protected layerStates(): readonly RecurrentLayerState[] {
    return this.#state;
  }

  /** The weights and the state. */
  protected ownedTensors(): Tensor[] {
    return [...this.#w.values(), ...this.#state.flatMap((st) => [st.att, st.ffn, st.wkv])];
  }
}
