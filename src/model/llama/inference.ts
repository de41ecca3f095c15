/**
 * Llama for generation: the prompt runs once (prefill, all positions in one pass) and every
 * new token reuses per-layer K/V caches through `attentionCached`. The caches hold only the
 * key/value heads (`[1, capacity, NKV·hd]`: grouped-query attention shrinks them by NH/NKV),
 * with the keys stored after RoPE at their own positions (`posOffset`). The caches and the
 * RoPE tables grow with the tokens fed (doubling, up to `max_position_embeddings`), so a
 * checkpoint with a 128k context costs memory for the tokens it sees, not for 128k.
 * {@link LlamaInference.forwardAll} is the stateless recompute the cached path is checked
 * against.
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
  freeAll,
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
import type { LlamaConfig } from "./config.ts";
import { llamaWidths, ropeTables } from "./training.ts";
import {
  fusedQkvName,
  layerPrefix,
  LLAMA_EMBEDDING,
  LLAMA_HEAD,
  llamaWeightSpecs,
} from "./weights.ts";

/** Positions the caches and RoPE tables hold before they first grow. */
const INITIAL_CAPACITY = 64;

/** The activations of one Llama forward over `T` positions. */
interface LlamaWorkspace {
  T: number;
  x: Tensor;
  ln: Tensor;
  rstd: Tensor;
  qkv: Tensor;
  att: Tensor;
  gate: Tensor;
  up: Tensor;
  h: Tensor;
  /** Saved log-sum-exp of uncached attention (null: the KV-cached path). */
  lse: Tensor | null;
  logits: Tensor | null;
  /** Everything allocated, to free. */
  all: Tensor[];
}

/** The weights of Llama's linear layers besides q/k/v (what `quantize` stores as blocks). */
const LINEAR = /\.(self_attn\.o_proj|mlp\.gate_proj|mlp\.up_proj|mlp\.down_proj)\.weight$/;

/** Llama with a KV cache of its key/value heads. See the module documentation. */
export class LlamaInference extends KvCachedModel<LlamaWorkspace> implements LanguageModel {
  readonly config: LlamaConfig;
  readonly backend: Backend;
  readonly maxContext: number;
  #w: Map<string, Tensor>;
  #qkvW: LinearWeight[] = [];
  /** o_proj, gate_proj, up_proj, down_proj of every layer (floats, or quantized rows). */
  #lin = new Map<string, LinearWeight>();
  #k: Tensor[] = [];
  #v: Tensor[] = [];
  #cos: Tensor | undefined;
  #sin: Tensor | undefined;
  /** Positions the caches and RoPE tables hold now. */
  #capacity = 0;
  #headSliceBytes: number;
  /** The output head (`lm_head`, or the tied embeddings): floats, or quantized rows. */
  #head!: LinearWeight;
  /** The embedding table for the lookup: floats, or a tied head's quantized rows. */
  #embHost!: Float32Array | QuantRows;

  /**
   * Uploads `weights` (q, k and v of a layer as one fused `[(NH + 2·NKV)·hd, C]` matrix),
   * the RoPE tables and the caches. `headSliceBytes` bounds the slice of the output head one
   * matmul binds.
   */
  constructor(
    backend: Backend,
    config: LlamaConfig,
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
    const specs = llamaWeightSpecs(config);
    const { W } = llamaWidths(config), C = config.dModel;
    // Everything but the q/k/v projections, which are uploaded fused below, the embedding
    // table (its rows are copied on the host) and the output head (uploaded below).
    const uploaded = specs.filter((s) =>
      !s.fusedAs && s.name !== LLAMA_EMBEDDING && s.name !== LLAMA_HEAD && !LINEAR.test(s.name)
    );
    this.#w = uploadWeights(backend, uploaded, weights, "llama", source);
    const owned = [...this.#w.values()];
    for (const spec of specs.filter((s) => LINEAR.test(s.name))) {
      try {
        const data = checkedWeight(spec, weights, "llama", source);
        const lw = uploadLinear(backend, data, spec.shape, "out-in", options.quantize);
        this.#lin.set(spec.name, lw);
        owned.push(lw.t);
      } catch (e) {
        freeAll(backend, owned);
        throw e;
      }
    }
    try {
      const embedding = specs.find((s) => s.name === LLAMA_EMBEDDING)!;
      const emb = checkedWeight(embedding, weights, "llama", source);
      const headSpec = config.tieEmbeddings ? embedding : specs.find((s) => s.name === LLAMA_HEAD)!;
      const headData = config.tieEmbeddings
        ? emb
        : checkedWeight(headSpec, weights, "llama", source);
      const head = uploadHead(backend, headData, headSpec.shape, options.quantize);
      owned.push(head.w.t);
      this.#head = head.w;
      // A tied quantized head: the lookup dequantizes its rows (no float copy of the table).
      this.#embHost = config.tieEmbeddings && head.rows ? head.rows : emb;
      // q, k and v of a layer, each checked (presence, size), stacked on the host.
      const fusedSpecs = specs.filter((s) => s.fusedAs);
      for (let l = 0; l < config.nLayer; l++) {
        const parts = fusedSpecs.filter((s) => s.fusedAs === fusedQkvName(l));
        const fused = new Float32Array(W * C);
        let offset = 0;
        for (const spec of parts) {
          const data = checkedWeight(spec, weights, "llama", source);
          fused.set(data, offset);
          offset += data.length;
        }
        const lw = uploadLinear(backend, fused, [W, C], "out-in", options.quantize);
        owned.push(lw.t);
        this.#qkvW.push(lw);
      }
      this.#grow(Math.min(config.contextLength, INITIAL_CAPACITY));
    } catch (e) {
      freeAll(backend, [...owned, ...this.#grown()]);
      throw e;
    }
  }

  #grown(): Tensor[] {
    return [...this.#k, ...this.#v, ...(this.#cos ? [this.#cos, this.#sin!] : [])];
  }

  /**
   * Makes the caches and RoPE tables hold `n` positions: new ones of `max(n, 2·capacity)`
   * (at most the context length), the cached positions copied over.
   */
  #grow(n: number): void {
    if (n <= this.#capacity) return;
    const b = this.backend, c = this.config, { KV } = llamaWidths(c), old = this.#capacity;
    const cap = Math.min(c.contextLength, Math.max(n, 2 * old));
    const previous = this.#grown();
    for (let l = 0; l < c.nLayer; l++) {
      for (const caches of [this.#k, this.#v]) {
        const t = b.zeros([1, cap, KV]);
        if (old > 0) b.copy(b.view(t, 0, [1, old, KV]), caches[l]);
        caches[l] = t;
      }
    }
    const { cos, sin } = ropeTables(cap, c.headDim, c.ropeTheta);
    this.#cos = b.fromArray([cap, c.headDim / 2], cos);
    this.#sin = b.fromArray([cap, c.headDim / 2], sin);
    this.#capacity = cap;
    freeAll(b, previous);
  }

  /** The head's block type (undefined: a float head). */
  #quantHead(): QuantType | undefined {
    return this.#head.kind === "quant" ? this.#head.type : undefined;
  }

  #weight(name: string): Tensor {
    return this.#w.get(name)!;
  }

  /**
   * Overwrites a linear layer's matrix (see {@link LanguageModel.writeWeight}); q, k and v go
   * into their rows of the layer's fused matrix.
   */
  writeWeight(name: string, data: Float32Array): void {
    const m = /^model\.layers\.(\d+)\.self_attn\.([qkv])_proj\.weight$/.exec(name);
    if (!m) {
      const lin = this.#lin.get(name);
      if (lin) return writeLinear(this.backend, lin, data, "out-in");
      return writeUploadedWeight(this.backend, this.#w, name, data);
    }
    const l = Number(m[1]), c = this.config, { Q, KV } = llamaWidths(c);
    const rows = m[2] === "q" ? Q : KV;
    const first = m[2] === "q" ? 0 : m[2] === "k" ? Q : Q + KV;
    if (l >= c.nLayer || data.length !== rows * c.dModel) {
      throw new Error(`writeWeight: ${name} does not fit this model`);
    }
    writeLinear(this.backend, this.#qkvW[l], data, "out-in", first);
  }

  /** Buffers for a block of `T` positions (`head`: also the logits). */
  protected workspace(T: number, cached: boolean, head: boolean): LlamaWorkspace {
    const b = this.backend, c = this.config, C = c.dModel, M = c.ffnDim;
    const { Q, W } = llamaWidths(c);
    const all: Tensor[] = [];
    const z = (shape: number[]) => {
      const t = b.zeros(shape);
      all.push(t);
      return t;
    };
    return {
      T,
      x: z([T, C]),
      ln: z([T, C]),
      rstd: z([T]),
      qkv: z([T, W]),
      att: z([T, Q]),
      gate: z([T, M]),
      up: z([T, M]),
      h: z([T, M]),
      lse: cached ? null : z([c.nHead, T]),
      // Sliced heads over several rows assemble the logits on the host instead.
      logits: head &&
          headNeedsLogits(T, c.vocabSize, C, this.#headSliceBytes, this.#quantHead())
        ? z([T, c.vocabSize])
        : null,
      all,
    };
  }

  /** Runs the blocks over `ids` at positions `pos…`, leaving the residual stream in `ws.x`. */
  protected blocks(ids: readonly number[], pos: number, ws: LlamaWorkspace, B = 1): void {
    const b = this.backend, c = this.config, T = ids.length / B, C = c.dModel;
    const { x, ln, rstd, qkv, att, gate, up, h } = ws;
    const dims: AttentionDims = { B, T, C: llamaWidths(c).Q, NH: c.nHead, NKV: c.nKvHead };
    const eps = c.rmsNormEps;
    // The embedding rows are copied on the host: a handful of rows per call, and the table
    // never has to be bound whole.
    const rows = new Float32Array(B * T * C), emb = this.#embHost;
    for (let t = 0; t < B * T; t++) {
      const dst = rows.subarray(t * C, t * C + C);
      if (emb instanceof QuantRows) emb.row(ids[t], dst);
      else dst.set(emb.subarray(ids[t] * C, ids[t] * C + C));
    }
    b.write(x, rows);
    this.#grow(pos + T);
    const rope = {
      cos: this.#cos!,
      sin: this.#sin!,
      B,
      T,
      headDim: c.headDim,
      rotatedHeads: c.nHead + c.nKvHead,
      posOffset: pos,
    };
    for (let l = 0; l < c.nLayer; l++) {
      const p = `${layerPrefix(l)}.`, w = (n: string) => this.#weight(p + n);
      b.rmsNorm({ out: ln, rstd, x, w: w("input_layernorm.weight"), eps });
      const lin = (n: string) => this.#lin.get(`${layerPrefix(l)}.${n}`)!;
      linear(b, qkv, ln, this.#qkvW[l]);
      b.rope({ out: qkv, x: qkv, ...rope });
      if (ws.lse) b.attention({ out: att, lse: ws.lse, qkv, dims });
      else b.attentionCached({ out: att, qkv, kCache: this.#k[l], vCache: this.#v[l], pos, dims });
      linear(b, x, att, lin("self_attn.o_proj.weight"), { accumulate: true });
      b.rmsNorm({ out: ln, rstd, x, w: w("post_attention_layernorm.weight"), eps });
      linear(b, gate, ln, lin("mlp.gate_proj.weight"));
      linear(b, up, ln, lin("mlp.up_proj.weight"));
      b.swiglu(h, gate, up);
      linear(b, x, h, lin("mlp.down_proj.weight"), { accumulate: true });
    }
  }

  /** The final RMSNorm (`model.norm`) over `ws.x`, into `ws.ln`. */
  protected finalNorm(ws: LlamaWorkspace): Tensor {
    this.backend.rmsNorm({
      out: ws.ln,
      rstd: ws.rstd,
      x: ws.x,
      w: this.#weight("model.norm.weight"),
      eps: this.config.rmsNormEps,
    });
    return ws.ln;
  }

  /** Final RMSNorm and the output head over `ws.x` → logits `[T, V]`. */
  protected async head(ws: LlamaWorkspace, into?: Float32Array): Promise<Float32Array> {
    const b = this.backend, c = this.config;
    const dims = { T: ws.T, V: c.vocabSize, C: c.dModel };
    const x = this.finalNorm(ws);
    return await headLogits(b, x, this.#head, ws.logits, dims, this.#headSliceBytes, into);
  }

  async exportState(): Promise<Map<string, NamedTensor>> {
    const T = this.tokens.length, { KV } = llamaWidths(this.config);
    const m = new Map<string, NamedTensor>();
    for (let l = 0; l < this.config.nLayer; l++) {
      const k = await this.backend.read(this.#k[l]) as Float32Array;
      const v = await this.backend.read(this.#v[l]) as Float32Array;
      m.set(`${layerPrefix(l)}.k_cache`, { shape: [T, KV], data: k.slice(0, T * KV) });
      m.set(`${layerPrefix(l)}.v_cache`, { shape: [T, KV], data: v.slice(0, T * KV) });
    }
    return m;
  }

  importState(state: Map<string, NamedTensor>, tokens: readonly number[]): void {
    const T = tokens.length, { KV } = llamaWidths(this.config);
    if (T > this.maxContext) {
      throw new BenteviError(`state holds ${T} tokens; context is ${this.maxContext}`);
    }
    this.#grow(T);
    for (let l = 0; l < this.config.nLayer; l++) {
      for (const [name, cache] of [["k_cache", this.#k[l]], ["v_cache", this.#v[l]]] as const) {
        const key = `${layerPrefix(l)}.${name}`;
        const t = state.get(key);
        if (!t || t.data.length !== T * KV) {
          throw new BenteviError(`state: ${key} is missing or has the wrong size`);
        }
        if (T > 0) this.backend.write(cache, t.data);
      }
    }
    this.setTokens(tokens);
  }

  protected lastBlockAttention(): { layer: number; kCache: Tensor; dims: AttentionDims } {
    const c = this.config, layer = c.nLayer - 1;
    const dims = { B: 1, T: 1, C: llamaWidths(c).Q, NH: c.nHead, NKV: c.nKvHead };
    return { layer, kCache: this.#k[layer], dims };
  }

  protected ownedTensors(): Tensor[] {
    const lin = [...this.#qkvW, ...this.#lin.values(), this.#head].map((l) => l.t);
    return [...this.#w.values(), ...lin, ...this.#grown()];
  }
}
