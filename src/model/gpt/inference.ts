/**
 * GPT-2 for generation: the prompt runs once (prefill, all positions in one pass) and every
 * new token reuses per-layer K/V caches through `attentionCached`, so a step costs one
 * token's matmuls plus attention over the cache. {@link GptInference.forwardAll} is the
 * stateless recompute the cached path is checked against.
 *
 * @module
 */
import type { AttentionDims, Backend, Tensor } from "../../backend/backend.ts";
import { BenteviError } from "../../errors.ts";
import type { LanguageModel, WeightMap } from "../../generate/inference.ts";
import type { NamedTensor } from "../../io/safetensors.ts";
import type { QuantType } from "../../quant/mod.ts";
import {
  checkedWeight,
  headLogits,
  headNeedsLogits,
  headSliceBytesFor,
  type InferenceOptions,
  linear,
  type LinearWeight,
  QuantRows,
  uploadHead,
  uploadLinear,
  uploadWeights,
  writeLinear,
  writeUploadedWeight,
} from "../inference_support.ts";
import { KvCachedModel } from "../kv_cached_model.ts";
import type { GptConfig } from "./config.ts";
import { gptWeightSpecs } from "./weights.ts";

/** The activations of one GPT forward over `T` positions. */
interface GptWorkspace {
  T: number;
  x: Tensor;
  ln: Tensor;
  mean: Tensor;
  rstd: Tensor;
  qkv: Tensor;
  att: Tensor;
  fc: Tensor;
  g: Tensor;
  /** Saved log-sum-exp of uncached attention (null: the KV-cached path). */
  lse: Tensor | null;
  logits: Tensor | null;
  /** Everything allocated, to free. */
  all: Tensor[];
}

/** The weights of GPT-2's linear layers (what `quantize` stores as blocks). */
const LINEAR = /\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$/;

/** GPT-2 with a KV cache. See the module documentation. */
export class GptInference extends KvCachedModel<GptWorkspace> implements LanguageModel {
  readonly config: GptConfig;
  readonly backend: Backend;
  readonly maxContext: number;
  #w: Map<string, Tensor>;
  /** The linear layers' weights (Conv1D `[in, out]` as floats, or quantized rows). */
  #lin = new Map<string, LinearWeight>();
  #k: Tensor[] = [];
  #v: Tensor[] = [];
  #headSliceBytes: number;
  /** The tied head (`wte`): a float table, or quantized rows with `quantize`. */
  #head: LinearWeight;
  /** The token table for the lookup: floats, or the head's quantized rows. */
  #wteHost: Float32Array | QuantRows;
  #wpeHost: Float32Array;

  /**
   * Uploads `weights` and allocates the caches (`[1, contextLength, C]` per layer).
   * `headSliceBytes` bounds the slice of the token table one head matmul binds.
   */
  constructor(
    backend: Backend,
    config: GptConfig,
    weights: WeightMap,
    source = "checkpoint",
    headSliceBytes: number = headSliceBytesFor(backend),
    options: InferenceOptions = {},
  ) {
    super();
    this.#headSliceBytes = headSliceBytes;
    this.backend = backend;
    this.config = config;
    this.maxContext = config.contextLength;
    const specs = gptWeightSpecs(config);
    const isLinear = (name: string) => LINEAR.test(name);
    const wteSpec = specs.find((s) => s.name === "wte.weight")!;
    const wte = checkedWeight(wteSpec, weights, config.arch, source);
    this.#w = uploadWeights(
      backend,
      specs.filter((s) => !isLinear(s.name) && s !== wteSpec),
      weights,
      config.arch,
      source,
    );
    let head: { w: LinearWeight; rows: QuantRows | null } | undefined;
    try {
      head = uploadHead(backend, wte, wteSpec.shape, options.quantize);
      for (const spec of specs.filter((s) => isLinear(s.name))) {
        const data = checkedWeight(spec, weights, config.arch, source);
        this.#lin.set(
          spec.name,
          uploadLinear(backend, data, spec.shape, "in-out", options.quantize),
        );
      }
    } catch (e) {
      const lin = [...this.#lin.values(), ...(head ? [head.w] : [])].map((l) => l.t);
      for (const t of [...this.#w.values(), ...lin]) backend.free(t);
      throw e;
    }
    this.#head = head.w;
    this.#wteHost = head.rows ?? wte;
    this.#wpeHost = weights.get("wpe.weight")!.data;
    for (let l = 0; l < config.nLayer; l++) {
      this.#k.push(backend.zeros([1, config.contextLength, config.dModel]));
      this.#v.push(backend.zeros([1, config.contextLength, config.dModel]));
    }
  }

  /** The head's block type (undefined: a float head). */
  #quantHead(): QuantType | undefined {
    return this.#head.kind === "quant" ? this.#head.type : undefined;
  }

  #weight(name: string): Tensor {
    return this.#w.get(name)!;
  }

  /** Overwrites a linear layer's matrix (see {@link LanguageModel.writeWeight}). */
  writeWeight(name: string, data: Float32Array): void {
    const lin = this.#lin.get(name);
    if (lin) return writeLinear(this.backend, lin, data, "in-out");
    writeUploadedWeight(this.backend, this.#w, name, data);
  }

  /** Buffers for a block of `T` positions (`head`: also the final LayerNorm and logits). */
  protected workspace(T: number, cached: boolean, head: boolean): GptWorkspace {
    const b = this.backend, c = this.config, C = c.dModel, M = c.mlpDim;
    const all: Tensor[] = [];
    const z = (shape: number[], dtype: "f32" | "i32" = "f32") => {
      const t = b.zeros(shape, dtype);
      all.push(t);
      return t;
    };
    return {
      T,
      x: z([T, C]),
      ln: z([T, C]),
      mean: z([T]),
      rstd: z([T]),
      qkv: z([T, 3 * C]),
      att: z([T, C]),
      fc: z([T, M]),
      g: z([T, M]),
      lse: cached ? null : z([c.nHead, T]),
      // Sliced heads over several rows assemble the logits on the host instead.
      logits: head && headNeedsLogits(T, c.vocabSize, C, this.#headSliceBytes, this.#quantHead())
        ? z([T, c.vocabSize])
        : null,
      all,
    };
  }

  /** Runs the blocks over `ids` at positions `pos…`, leaving the residual stream in `ws.x`. */
  protected blocks(ids: readonly number[], pos: number, ws: GptWorkspace, B = 1): void {
    const b = this.backend, c = this.config, T = ids.length / B, C = c.dModel;
    const { x, ln, mean, rstd, qkv, att, fc, g } = ws;
    const dims = { B, T, C, NH: c.nHead };
    // The embedding rows are summed on the host: a handful of rows per call, and the token
    // table never has to be bound whole (GPT-2's is 154 MB, over some devices' binding limit).
    // A quantized table dequantizes the rows it looks up.
    const rows = new Float32Array(B * T * C), wte = this.#wteHost;
    for (let t = 0; t < B * T; t++) {
      const p = (pos + t % T) * C;
      const [e, table] = wte instanceof QuantRows ? [0, wte.row(ids[t])] : [ids[t] * C, wte];
      for (let i = 0; i < C; i++) rows[t * C + i] = table[e + i] + this.#wpeHost[p + i];
    }
    b.write(x, rows);
    for (let l = 0; l < c.nLayer; l++) {
      const p = `h.${l}.`, w = (n: string) => this.#weight(p + n);
      b.layerNorm({
        out: ln,
        mean,
        rstd,
        x,
        w: w("ln_1.weight"),
        b: w("ln_1.bias"),
        eps: c.layerNormEps,
      });
      const lin = (n: string) => this.#lin.get(p + n)!;
      linear(b, qkv, ln, lin("attn.c_attn.weight"), { bias: w("attn.c_attn.bias") });
      if (ws.lse) b.attention({ out: att, lse: ws.lse, qkv, dims });
      else b.attentionCached({ out: att, qkv, kCache: this.#k[l], vCache: this.#v[l], pos, dims });
      linear(b, x, att, lin("attn.c_proj.weight"), {
        bias: w("attn.c_proj.bias"),
        accumulate: true,
      });
      b.layerNorm({
        out: ln,
        mean,
        rstd,
        x,
        w: w("ln_2.weight"),
        b: w("ln_2.bias"),
        eps: c.layerNormEps,
      });
      linear(b, fc, ln, lin("mlp.c_fc.weight"), { bias: w("mlp.c_fc.bias") });
      b.gelu(g, fc);
      linear(b, x, g, lin("mlp.c_proj.weight"), { bias: w("mlp.c_proj.bias"), accumulate: true });
    }
  }

  /** The final LayerNorm (`ln_f`) over `ws.x`, into `ws.ln`. */
  protected finalNorm(ws: GptWorkspace): Tensor {
    this.backend.layerNorm({
      out: ws.ln,
      mean: ws.mean,
      rstd: ws.rstd,
      x: ws.x,
      w: this.#weight("ln_f.weight"),
      b: this.#weight("ln_f.bias"),
      eps: this.config.layerNormEps,
    });
    return ws.ln;
  }

  /** Final LayerNorm and the tied head over `ws.x` → `ws.logits [T, V]`. */
  protected async head(ws: GptWorkspace, into?: Float32Array): Promise<Float32Array> {
    const b = this.backend, c = this.config, C = c.dModel, V = c.vocabSize, T = ws.T;
    const ln = this.finalNorm(ws);
    const head = this.#head, slice = this.#headSliceBytes;
    return await headLogits(b, ln, head, ws.logits, { T, V, C }, slice, into);
  }

  async exportState(): Promise<Map<string, NamedTensor>> {
    const T = this.tokens.length, C = this.config.dModel;
    const m = new Map<string, NamedTensor>();
    for (let l = 0; l < this.config.nLayer; l++) {
      const k = await this.backend.read(this.#k[l]) as Float32Array;
      const v = await this.backend.read(this.#v[l]) as Float32Array;
      m.set(`h.${l}.k_cache`, { shape: [T, C], data: k.slice(0, T * C) });
      m.set(`h.${l}.v_cache`, { shape: [T, C], data: v.slice(0, T * C) });
    }
    return m;
  }

  importState(state: Map<string, NamedTensor>, tokens: readonly number[]): void {
    const T = tokens.length, C = this.config.dModel;
    if (T > this.maxContext) {
      throw new BenteviError(`state holds ${T} tokens; context is ${this.maxContext}`);
    }
    for (let l = 0; l < this.config.nLayer; l++) {
      for (const [name, cache] of [["k_cache", this.#k[l]], ["v_cache", this.#v[l]]] as const) {
        const t = state.get(`h.${l}.${name}`);
        if (!t || t.data.length !== T * C) {
          throw new BenteviError(`state: h.${l}.${name} is missing or has the wrong size`);
        }
        if (T > 0) this.backend.write(cache, t.data);
      }
    }
    this.setTokens(tokens);
  }

  protected lastBlockAttention(): { layer: number; kCache: Tensor; dims: AttentionDims } {
    const c = this.config, layer = c.nLayer - 1;
    return { layer, kCache: this.#k[layer], dims: { B: 1, T: 1, C: c.dModel, NH: c.nHead } };
  }

  protected ownedTensors(): Tensor[] {
    return [
      ...this.#w.values(),
      ...[...this.#lin.values()].map((l) => l.t),
      this.#head.t,
      ...this.#k,
      ...this.#v,
    ];
  }
}
