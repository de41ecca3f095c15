/**
 * The compute interface every model is written against. Two implementations: the WebGPU
 * backend (WGSL kernels in `wgsl/`) and the CPU backend (plain TypeScript, the reference).
 *
 * Conventions (llm.c style — nothing is magic):
 * - Tensors are row-major f32 (or i32 for token ids) device buffers with a shape. The caller
 *   allocates every output up front; ops write into the tensors they are given, so a training
 *   step allocates nothing.
 * - Forward ops overwrite their outputs. **Backward ops accumulate (`+=`) into every gradient
 *   they write**; the trainer zeroes gradients once per optimizer step. This makes residual
 *   branches and gradient accumulation free.
 * - Ops are recorded, not awaited: on WebGPU they are encoded into the current command
 *   buffer and only {@link Backend.flush} or a read submits. Scalars passed as numbers
 *   (learning rate, step…) are captured at record time.
 * - {@link Backend.view} gives a tensor that aliases part of another (offset in elements,
 *   a multiple of {@link VIEW_ALIGN}), so all parameters can live in one buffer and the
 *   optimizer and gradient norm run as one dispatch each.
 *
 * @module
 */

/** Element type of a tensor. */
export type DType = "f32" | "i32";

/** Views must start at a multiple of this many elements (256 bytes, WebGPU's binding alignment). */
export const VIEW_ALIGN = 64;

/** A device buffer (or a view into one) with a shape. */
export interface Tensor {
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Number of elements (product of the shape). */
  readonly size: number;
  /** Element type. */
  readonly dtype: DType;
}

/** Options of {@link Backend.matmul}. */
export interface MatmulOptions {
  /** Read `a` as its transpose: `a` is stored `[K, M]`. */
  transA?: boolean;
  /** Read `b` as its transpose: `b` is stored `[N, K]`. */
  transB?: boolean;
  /** Add this `[N]` row vector to every output row. */
  bias?: Tensor;
  /** `out += a·b` instead of `out = a·b`. */
  accumulate?: boolean;
}

/**
 * Arguments of {@link Backend.matmulQuant}: `out[M, N] (=|+=) a[M, K] · Wᵀ (+ bias)`, where `W`
 * is `N` rows of `K` values stored as ggml blocks (Q8_0 or Q4_0, `src/quant/`) — the rows of
 * a linear layer's `[out, in]` matrix — in an i32 tensor of the blocks' bytes (zero-padded to
 * whole words).
 */
export interface MatmulQuantArgs {
  /** `[M, N]` output. */
  out: Tensor;
  /** `[M, K]` input rows. */
  a: Tensor;
  /** The blocks, as i32 words (`ceil(N · K/32 · blockBytes / 4)` of them). */
  w: Tensor;
  /** Block format. */
  type: "q8_0" | "q4_0";
  /** Rows of `W` (outputs). */
  N: number;
  /** Values per row of `W` (inputs; a multiple of 32). */
  K: number;
  /** Added to every output row (`[N]`). */
  bias?: Tensor;
  /** `out += …` instead of `out = …`. */
  accumulate?: boolean;
}

/**
 * Shape of a causal multi-head attention call. `qkv` is `[B, T, 3·C]` (q, k, v concatenated),
 * or `[B, T, (NH + 2·NKV)·headDim]` with grouped-query attention (see {@link AttentionDims.NKV}).
 */
export interface AttentionDims {
  /** Batch size. */
  B: number;
  /** Sequence length of this call (query positions). */
  T: number;
  /** Model width C = NH · headDim (the width of the queries and of the output). */
  C: number;
  /** Number of (query) heads. */
  NH: number;
  /**
   * Key/value heads (grouped-query attention; default NH; must divide NH). With it, `qkv`
   * rows are `[q: NH·hd | k: NKV·hd | v: NKV·hd]`, hd = C/NH, and query head h reads kv head
   * floor(h / (NH/NKV)) (Hugging Face `repeat_kv`). KV caches are `[B, Tmax, NKV·hd]`.
   */
  NKV?: number;
}

/** Hyper-parameters of one fused AdamW update. */
export interface AdamWParams {
  /** Learning rate for this step. */
  lr: number;
  /** First-moment decay (e.g. 0.9). */
  beta1: number;
  /** Second-moment decay (e.g. 0.95). */
  beta2: number;
  /** Denominator epsilon (e.g. 1e-8). */
  eps: number;
  /** Decoupled weight decay (applied only where the decay mask is 1). */
  weightDecay: number;
  /** 1-based step number, for bias correction. */
  step: number;
  /** Gradients are multiplied by this before use (e.g. 1/accumulation steps). */
  gradScale: number;
}

/** Arguments of {@link Backend.embedding}. */
export interface EmbeddingArgs {
  /** Output `[B·T, C]`. */
  out: Tensor;
  /** Token ids, i32 `[B·T]`. */
  ids: Tensor;
  /** Token embeddings `[V, C]`. */
  wte: Tensor;
  /** Position embeddings `[Tmax, C]`, or null (RWKV has none). */
  wpe: Tensor | null;
  /** Sequence length: `ids` holds whole sequences of `T` tokens. */
  T: number;
  /** Position of the first token of each sequence in `wpe` (default 0). */
  posOffset?: number;
}

/** Arguments of {@link Backend.embeddingBackward}. */
export interface EmbeddingBackwardArgs {
  /** Gradient of the token embeddings `[V, C]` (accumulated). */
  dwte: Tensor;
  /** Gradient of the position embeddings `[Tmax, C]` (accumulated), or null. */
  dwpe: Tensor | null;
  /** Gradient of the output `[B·T, C]`. */
  dout: Tensor;
  /** Token ids of the forward pass, i32 `[B·T]`. */
  ids: Tensor;
  /** Sequence length of the forward pass. */
  T: number;
}

/** Arguments of {@link Backend.layerNorm}. */
export interface LayerNormArgs {
  /** Output `[N, C]`. */
  out: Tensor;
  /** Saved per-row mean `[N]`, for the backward pass. */
  mean: Tensor;
  /** Saved per-row reciprocal standard deviation `[N]`, for the backward pass. */
  rstd: Tensor;
  /** Input `[N, C]`. */
  x: Tensor;
  /** Gain `[C]`. */
  w: Tensor;
  /** Bias `[C]`. */
  b: Tensor;
  /** Variance epsilon (default 1e-5). */
  eps?: number;
}

/** Arguments of {@link Backend.layerNormBackward}. */
export interface LayerNormBackwardArgs {
  /** Gradient of the input `[N, C]` (accumulated). */
  dx: Tensor;
  /** Gradient of the gain `[C]` (accumulated). */
  dw: Tensor;
  /** Gradient of the bias `[C]` (accumulated). */
  db: Tensor;
  /** Gradient of the output `[N, C]`. */
  dout: Tensor;
  /** Input of the forward pass `[N, C]`. */
  x: Tensor;
  /** Gain `[C]`. */
  w: Tensor;
  /** Per-row mean `[N]` saved by the forward pass. */
  mean: Tensor;
  /** Per-row reciprocal standard deviation `[N]` saved by the forward pass. */
  rstd: Tensor;
}

/** Arguments of {@link Backend.attention}. */
export interface AttentionArgs {
  /** Output `[B, T, C]`. */
  out: Tensor;
  /** Saved per-row log-sum-exp `[B, NH, T]`, for the backward pass. */
  lse: Tensor;
  /** Queries, keys and values `[B, T, 3C]` (`[B, T, (NH + 2·NKV)·hd]` with NKV). */
  qkv: Tensor;
  /** Batch, sequence length, width and heads. */
  dims: AttentionDims;
}

/** Arguments of {@link Backend.attentionBackward}. */
export interface AttentionBackwardArgs {
  /** Gradient of `qkv`, the same shape (accumulated). */
  dqkv: Tensor;
  /** Gradient of the output `[B, T, C]`. */
  dout: Tensor;
  /** Output of the forward pass `[B, T, C]`. */
  out: Tensor;
  /** Log-sum-exp `[B, NH, T]` saved by the forward pass. */
  lse: Tensor;
  /** Queries, keys and values of the forward pass (see {@link AttentionArgs.qkv}). */
  qkv: Tensor;
  /** Batch, sequence length, width and heads. */
  dims: AttentionDims;
}

/** Arguments of {@link Backend.attentionCached}. */
export interface AttentionCachedArgs {
  /** Output `[B, T, C]`. */
  out: Tensor;
  /** Queries, keys and values of the new positions `[B, T, 3C]` (or the GQA row width). */
  qkv: Tensor;
  /** Key cache `[B, Tmax, NKV·headDim]`; the new keys are written at `pos …`. */
  kCache: Tensor;
  /** Value cache `[B, Tmax, NKV·headDim]`; the new values are written at `pos …`. */
  vCache: Tensor;
  /** Position of the first new token. */
  pos: number;
  /** Batch, new positions (T), width and heads. */
  dims: AttentionDims;
}

/** Arguments of {@link Backend.rmsNorm}. */
export interface RmsNormArgs {
  /** Output `[N, C]`. */
  out: Tensor;
  /** Saved per-row `1/√(mean(x²) + eps)` `[N]`, for the backward pass. */
  rstd: Tensor;
  /** Input `[N, C]`. */
  x: Tensor;
  /** Gain `[C]`. */
  w: Tensor;
  /** Epsilon added to the mean square (Llama's `rms_norm_eps`). */
  eps: number;
}

/** Arguments of {@link Backend.rmsNormBackward}. */
export interface RmsNormBackwardArgs {
  /** Gradient of the input `[N, C]` (accumulated). */
  dx: Tensor;
  /** Gradient of the gain `[C]` (accumulated). */
  dw: Tensor;
  /** Gradient of the output `[N, C]`. */
  dout: Tensor;
  /** Input of the forward pass `[N, C]`. */
  x: Tensor;
  /** Gain `[C]`. */
  w: Tensor;
  /** Per-row reciprocal root mean square `[N]` saved by the forward pass. */
  rstd: Tensor;
}

/** Arguments of {@link Backend.rope}. */
export interface RopeArgs {
  /** Output `[B, T, W]`; may be `x` itself (in place: one invocation owns a pair). */
  out: Tensor;
  /** Input `[B, T, W]`, e.g. fused q|k|v rows. */
  x: Tensor;
  /** `[Tmax, headDim/2]`: `cos(p · theta^(−2i/headDim))`, computed on the host in float64. */
  cos: Tensor;
  /** `[Tmax, headDim/2]`: the sines of the same angles. */
  sin: Tensor;
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
  /** Head size (even). */
  headDim: number;
  /**
   * The first `rotatedHeads·headDim` columns of a row are rotated (Hugging Face
   * `rotate_half`: pairs `(i, i + headDim/2)` of each head); the rest are copied.
   */
  rotatedHeads: number;
  /** Position of each sequence's first token (default 0). */
  posOffset?: number;
}

/** Arguments of {@link Backend.ropeBackward}. */
export interface RopeBackwardArgs {
  /** Gradient of the input `[B, T, W]` (accumulated): `Rᵀ·dout` on rotated columns, `dout` on the rest. */
  dx: Tensor;
  /** Gradient of the output `[B, T, W]`. */
  dout: Tensor;
  /** The cosine table of the forward pass `[Tmax, headDim/2]`. */
  cos: Tensor;
  /** The sine table of the forward pass `[Tmax, headDim/2]`. */
  sin: Tensor;
  /** Batch size. */
  B: number;
  /** Sequence length (positions 0…T−1). */
  T: number;
  /** Head size (even). */
  headDim: number;
  /** Heads rotated by the forward pass. */
  rotatedHeads: number;
}

/** Arguments of {@link Backend.swigluBackward}. */
export interface SwigluBackwardArgs {
  /** Gradient of the gate (accumulated). */
  dgate: Tensor;
  /** Gradient of the up projection (accumulated). */
  dup: Tensor;
  /** Gradient of the output. */
  dout: Tensor;
  /** Gate of the forward pass. */
  gate: Tensor;
  /** Up projection of the forward pass. */
  up: Tensor;
}

/** Arguments of {@link Backend.softmaxCrossEntropy}. */
export interface SoftmaxCrossEntropyArgs {
  /** Per-row loss `[N]`. */
  losses: Tensor;
  /** Gradient of the logits `[N, V]` (overwritten), or null for the loss only. */
  dlogits: Tensor | null;
  /** Logits `[N, V]`. */
  logits: Tensor;
  /** Target ids, i32 `[N]`; a negative target is ignored. */
  targets: Tensor;
  /** `dlogits` is multiplied by this (default 1). */
  gradScale?: number;
}

/** Arguments of {@link Backend.adamw}. */
export interface AdamWArgs {
  /** Flat parameters, updated in place. */
  params: Tensor;
  /** Gradients, same size as `params`. */
  grads: Tensor;
  /** First moments, same size, updated in place. */
  m: Tensor;
  /** Second moments, same size, updated in place. */
  v: Tensor;
  /** 1 = decay, 0 = no decay, per element; null decays everything. */
  decayMask: Tensor | null;
  /** Hyper-parameters of this step. */
  hp: AdamWParams;
  /** Gradient clipping by the global norm, read on the device (none when absent). */
  clip?: {
    /** 1-element tensor holding the squared global gradient norm. */
    normSquared: Tensor;
    /** Largest allowed gradient norm. */
    maxNorm: number;
  };
}

/** Arguments of {@link Backend.mulBackward}. */
export interface MulBackwardArgs {
  /** Gradient of `a` (accumulated), or null when not needed. */
  da: Tensor | null;
  /** Gradient of `b` (accumulated), or null when not needed. */
  db: Tensor | null;
  /** Gradient of the output. */
  dout: Tensor;
  /** First factor of the forward pass. */
  a: Tensor;
  /** Second factor of the forward pass. */
  b: Tensor;
}

/** Arguments of {@link Backend.tokenShift}. */
export interface TokenShiftArgs {
  /** Output `[B, T, C]`. */
  out: Tensor;
  /** Input `[B, T, C]`. */
  x: Tensor;
  /** Mixing weights `[C]`. */
  mix: Tensor;
  /** The input at position −1 `[B, C]` (generation state), or null for zero. */
  prev: Tensor | null;
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
  /**
   * BlinkDL's RWKV-5+ form `out = x + (x[t−1] − x)·mix` (mix weighs the previous token)
   * instead of RWKV-4's `x·mix + x[t−1]·(1 − mix)`. Default false.
   */
  lerp?: boolean;
}

/** Arguments of {@link Backend.tokenShiftBackward}. */
export interface TokenShiftBackwardArgs {
  /** Gradient of the input `[B, T, C]` (accumulated). */
  dx: Tensor;
  /** Gradient of the mixing weights `[C]` (accumulated). */
  dmix: Tensor;
  /** Gradient of the output `[B, T, C]`. */
  dout: Tensor;
  /** Input of the forward pass `[B, T, C]`. */
  x: Tensor;
  /** Mixing weights `[C]`. */
  mix: Tensor;
  /** The forward pass's `prev` `[B, C]` (a constant), or null. */
  prev: Tensor | null;
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
  /** The forward pass's `lerp`. */
  lerp?: boolean;
}

/** Arguments of {@link Backend.wkv}. */
export interface WkvArgs {
  /** Output `[B, T, C]`. */
  y: Tensor;
  /** Keys `[B, T, C]`. */
  k: Tensor;
  /** Values `[B, T, C]`. */
  v: Tensor;
  /** w `[C]`; the decay used is −exp(w). */
  timeDecay: Tensor;
  /** u `[C]`, the bonus of the current token. */
  timeFirst: Tensor;
  /** Recurrent state `[B, 3, C]` (aa, bb, pp), read and overwritten; null starts from zero. */
  state: Tensor | null;
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
}

/** Arguments of {@link Backend.wkvBackward}. */
export interface WkvBackwardArgs {
  /** Gradient of `timeDecay` `[C]` (accumulated). */
  dw: Tensor;
  /** Gradient of `timeFirst` `[C]` (accumulated). */
  du: Tensor;
  /** Gradient of the keys `[B, T, C]` (accumulated). */
  dk: Tensor;
  /** Gradient of the values `[B, T, C]` (accumulated). */
  dv: Tensor;
  /** Gradient of the output `[B, T, C]`. */
  dy: Tensor;
  /** Keys of the forward pass `[B, T, C]`. */
  k: Tensor;
  /** Values of the forward pass `[B, T, C]`. */
  v: Tensor;
  /** w `[C]` of the forward pass. */
  timeDecay: Tensor;
  /** u `[C]` of the forward pass. */
  timeFirst: Tensor;
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
}

/** Arguments of {@link Backend.wkv7}. Every `[B, T, C]` tensor is `H` heads of `C / H` channels. */
export interface Wkv7Args {
  /** Output `[B, T, C]`: `y_t = S_t·r_t` per head. */
  y: Tensor;
  /** Receptance `[B, T, C]`. */
  r: Tensor;
  /** Decay logits `[B, T, C]`: the decay used is `exp(−e^(−0.5)·σ(w))`, in (0.545, 1). */
  w: Tensor;
  /** Keys `[B, T, C]`. */
  k: Tensor;
  /** Values `[B, T, C]`. */
  v: Tensor;
  /** The state-update vector a `[B, T, C]` (RWKV-7 passes −κ̂). */
  a: Tensor;
  /** The state-update vector b `[B, T, C]` (RWKV-7 passes κ̂ ⊙ the in-context rate). */
  b: Tensor;
  /**
   * Recurrent state `[B, H, N, N]` (`S[i][j]`: value channel i, key channel j), read and
   * overwritten with the final state; null starts from zero.
   */
  state: Tensor | null;
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
  /** Number of heads. */
  H: number;
}

/** Arguments of {@link Backend.wkv7Backward}: gradients accumulate (`+=`). */
export interface Wkv7BackwardArgs {
  /** Gradient of `r`. */
  dr: Tensor;
  /** Gradient of the decay logits `w`. */
  dw: Tensor;
  /** Gradient of `k`. */
  dk: Tensor;
  /** Gradient of `v`. */
  dv: Tensor;
  /** Gradient of `a`. */
  da: Tensor;
  /** Gradient of `b`. */
  db: Tensor;
  /** Gradient of the output `y`. */
  dy: Tensor;
  /** Forward input `r`. */
  r: Tensor;
  /** Forward input `w`. */
  w: Tensor;
  /** Forward input `k`. */
  k: Tensor;
  /** Forward input `v`. */
  v: Tensor;
  /** Forward input `a`. */
  a: Tensor;
  /** Forward input `b`. */
  b: Tensor;
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
  /** Number of heads. */
  H: number;
}

/** Arguments of {@link Backend.rwkv7Keys} (rows `[n, C]`, `H` heads). */
export interface Rwkv7KeysArgs {
  /** Output k̃ = k ⊙ (1 + (a − 1) ⊙ kA) `[n, C]`. */
  kt: Tensor;
  /** Output −κ̂ `[n, C]`, κ̂ = per-head L2-normalised k ⊙ kK. */
  na: Tensor;
  /** Output κ̂ ⊙ a `[n, C]`. */
  nb: Tensor;
  /** Keys `[n, C]`. */
  k: Tensor;
  /** In-context learning rate a (after its sigmoid) `[n, C]`. */
  a: Tensor;
  /** `k_k [C]`. */
  kK: Tensor;
  /** `k_a [C]`. */
  kA: Tensor;
  /** Number of heads. */
  H: number;
}

/** Arguments of {@link Backend.rwkv7KeysBackward}: gradients accumulate. */
export interface Rwkv7KeysBackwardArgs {
  /** Gradient of `k`. */
  dk: Tensor;
  /** Gradient of `a`. */
  da: Tensor;
  /** Gradient of `kK [C]`. */
  dkK: Tensor;
  /** Gradient of `kA [C]`. */
  dkA: Tensor;
  /** Gradient of the output `kt`. */
  dkt: Tensor;
  /** Gradient of the output `na`. */
  dna: Tensor;
  /** Gradient of the output `nb`. */
  dnb: Tensor;
  /** Forward input `k`. */
  k: Tensor;
  /** Forward input `a`. */
  a: Tensor;
  /** Forward input `kK`. */
  kK: Tensor;
  /** Forward input `kA`. */
  kA: Tensor;
  /** Number of heads. */
  H: number;
}

/** Arguments of {@link Backend.rwkv7Output} (rows `[n, C]`, `H` heads). */
export interface Rwkv7OutputArgs {
  /** Output `[n, C]`: `(GroupNorm(y)·lnW + lnB + (Σ_head r⊙k⊙rK)·v) ⊙ g`. */
  out: Tensor;
  /** WKV output `[n, C]`. */
  y: Tensor;
  /** Receptance `[n, C]`. */
  r: Tensor;
  /** Keys k̃ `[n, C]`. */
  k: Tensor;
  /** Values `[n, C]`. */
  v: Tensor;
  /** Gate `[n, C]`. */
  g: Tensor;
  /** `ln_x` gain `[C]`. */
  lnW: Tensor;
  /** `ln_x` bias `[C]`. */
  lnB: Tensor;
  /** `r_k [C]`, the weight of the current token's bonus. */
  rK: Tensor;
  /** Number of heads (the groups of the group norm). */
  H: number;
  /** Group-norm epsilon. */
  eps: number;
}

/** Arguments of {@link Backend.rwkv7OutputBackward}: gradients accumulate. */
export interface Rwkv7OutputBackwardArgs {
  /** Gradient of `y`. */
  dy: Tensor;
  /** Gradient of `r`. */
  dr: Tensor;
  /** Gradient of `k`. */
  dk: Tensor;
  /** Gradient of `v`. */
  dv: Tensor;
  /** Gradient of `g`. */
  dg: Tensor;
  /** Gradient of `lnW [C]`. */
  dlnW: Tensor;
  /** Gradient of `lnB [C]`. */
  dlnB: Tensor;
  /** Gradient of `rK [C]`. */
  drK: Tensor;
  /** Gradient of the output. */
  dout: Tensor;
  /** Forward input `y`. */
  y: Tensor;
  /** Forward input `r`. */
  r: Tensor;
  /** Forward input `k`. */
  k: Tensor;
  /** Forward input `v`. */
  v: Tensor;
  /** Forward input `g`. */
  g: Tensor;
  /** Forward input `lnW`. */
  lnW: Tensor;
  /** Forward input `lnB`. */
  lnB: Tensor;
  /** Forward input `rK`. */
  rK: Tensor;
  /** Number of heads. */
  H: number;
  /** Group-norm epsilon. */
  eps: number;
}

/**
 * Arguments of {@link Backend.wkv5} (RWKV-5 and RWKV-6 inference: no backward). Exactly one of
 * `decay` (RWKV-5: one decay per channel) and `w` (RWKV-6: one per token and channel) is given.
 */
export interface Wkv5Args {
  /** Output `[B, T, C]`: `y_t = (S + u ⊙ kᵀv)·r` per head, then `S ← w ⊙ S + kᵀv`. */
  y: Tensor;
  /** Receptance `[B, T, C]`. */
  r: Tensor;
  /** Keys `[B, T, C]`. */
  k: Tensor;
  /** Values `[B, T, C]`. */
  v: Tensor;
  /** Decay factor per key channel `[C]` (in (0, 1)), or null when `w` is given. */
  decay: Tensor | null;
  /**
   * RWKV-6's data-dependent decay `[B, T, C]` in BlinkDL's raw form: the decay of key channel
   * i at token t is `exp(−exp(w[t][i]))`. Null or absent when `decay` is given.
   */
  w?: Tensor | null;
  /** Bonus u per key channel `[C]`. */
  bonus: Tensor;
  /** State `[B, H, N, N]` (`S[i][j]`: key channel i, value channel j), or null for zero. */
  state: Tensor | null;
  /** Batch size. */
  B: number;
  /** Sequence length. */
  T: number;
  /** Number of heads. */
  H: number;
}

/**
 * A compute device that runs the ops of the GPT, Llama and RWKV models, forward and backward.
 *
 * Ops with more than four arguments take one named-argument object, e.g.
 * `backend.layerNorm({ out, mean, rstd, x, w, b })`.
 */
export interface Backend {
  /** `"webgpu"`, `"cpu"` (TypeScript) or `"native"` (C kernels and OpenBLAS on the CPU). */
  readonly kind: "webgpu" | "cpu" | "native";
  /** Human description: adapter name and driver, or "CPU (TypeScript reference)". */
  readonly description: string;

  // ---- memory -------------------------------------------------------------------------
  /** A new zero-filled tensor. */
  zeros(shape: readonly number[], dtype?: DType): Tensor;
  /** A new tensor holding a copy of `data`. */
  fromArray(shape: readonly number[], data: Float32Array | Int32Array): Tensor;
  /** A tensor aliasing `base` from element `offset` (multiple of {@link VIEW_ALIGN}). */
  view(base: Tensor, offset: number, shape: readonly number[]): Tensor;
  /** Overwrites `t` (from element `offset`) with `data`; ordered with recorded ops. */
  write(t: Tensor, data: Float32Array | Int32Array, offset?: number): void;
  /**
   * Submits pending work and reads `t` back (f32 as Float32Array, i32 as Int32Array): into
   * `into` when given (of `t`'s dtype and element count; it is returned), else into a new
   * array. A loop that reads the same tensor every step passes one array: a fresh one per
   * step costs a page fault per 4 KiB until the garbage collector hands memory back.
   */
  read(t: Tensor, into?: Float32Array | Int32Array): Promise<Float32Array | Int32Array>;
  /** Releases a tensor created by `zeros`/`fromArray` (views need no release). */
  free(t: Tensor): void;
  /** Submits everything recorded so far (no-op on the CPU). */
  flush(): void;
  /** Waits until all submitted work has finished. */
  sync(): Promise<void>;
  /** Releases every resource held by the backend. */
  destroy(): void;

  // ---- elementwise and small helpers ----------------------------------------------------
  /** `t[i] = value`. */
  fill(t: Tensor, value: number): void;
  /** `dst[i] = src[i]` (same size). */
  copy(dst: Tensor, src: Tensor): void;
  /** `t[i] *= s`. */
  scale(t: Tensor, s: number): void;
  /** `out[i] = a[i] + b[i]` (residual connection). */
  add(out: Tensor, a: Tensor, b: Tensor): void;
  /** `dst[i] += alpha · src[i]`. */
  addInto(dst: Tensor, src: Tensor, alpha?: number): void;
  /** `out[i] = a[i] · b[i]`. */
  mul(out: Tensor, a: Tensor, b: Tensor): void;
  /** Backward of `mul`: `da += dout·b`, `db += dout·a` (either may be null). */
  mulBackward(args: MulBackwardArgs): void;
  /** `out[0] (=|+=) Σ x[i]` (out is a 1-element tensor). */
  sum(out: Tensor, x: Tensor, accumulate?: boolean): void;
  /** `out[0] (=|+=) Σ x[i]²` — for the global gradient norm. */
  sumSquares(out: Tensor, x: Tensor, accumulate?: boolean): void;
  /** `out[n] (=|+=) Σ_m x[m, n]` — bias gradients. `x` is `[M, N]`. */
  sumRows(out: Tensor, x: Tensor, accumulate?: boolean): void;

  // ---- GPT ops ---------------------------------------------------------------------------
  /** `out[M,N] = op(a)·op(b) (+ bias)` with optional transposes; see {@link MatmulOptions}. */
  matmul(out: Tensor, a: Tensor, b: Tensor, options?: MatmulOptions): void;
  /**
   * Matmul with a block-quantized right operand (weight-only quantization for decoding and
   * prefill): `out[M, N] (=|+=) a[M, K] · dequantize(w)ᵀ (+ bias)`; see {@link MatmulQuantArgs}.
   */
  matmulQuant(args: MatmulQuantArgs): void;
  /**
   * Token (+ position) embedding: `out[b·T+t] = wte[ids[b·T+t]] + wpe[posOffset+t]`.
   * `ids` is i32 `[B·T]`, `wte` `[V, C]`, `wpe` `[Tmax, C]` or null (RWKV).
   */
  embedding(args: EmbeddingArgs): void;
  /** Backward of `embedding` into `dwte` (and `dwpe`), accumulating, deterministically. */
  embeddingBackward(args: EmbeddingBackwardArgs): void;
  /** LayerNorm over the last dim of `x [N, C]`; saves `mean [N]` and `rstd [N]` for backward. */
  layerNorm(args: LayerNormArgs): void;
  /** Backward of `layerNorm`: accumulates into `dx`, `dw`, `db`. */
  layerNormBackward(args: LayerNormBackwardArgs): void;
  /** GELU, tanh approximation (GPT-2's `gelu_new`). */
  gelu(out: Tensor, x: Tensor): void;
  /** Backward of `gelu`: `dx += gelu'(x)·dout`. */
  geluBackward(dx: Tensor, x: Tensor, dout: Tensor): void;
  /**
   * Causal multi-head self-attention over `qkv [B, T, 3C]` into `out [B, T, C]`, scale
   * 1/√headDim; saves the per-row log-sum-exp `lse [B, NH, T]` for backward. With
   * `dims.NKV` (grouped-query attention) `qkv` is `[B, T, (NH + 2·NKV)·headDim]`.
   */
  attention(args: AttentionArgs): void;
  /** Backward of `attention`: accumulates into `dqkv` (the shape of `qkv`). */
  attentionBackward(args: AttentionBackwardArgs): void;
  /**
   * Attention for generation with a KV cache: appends the k and v of `qkv` at positions
   * `pos … pos+T-1` of `kCache`/`vCache` (`[B, Tmax, NKV·headDim]`, NKV = NH by default),
   * then attends each new query causally over positions `0 … pos+t`. Writes `out [B, T, C]`.
   */
  attentionCached(args: AttentionCachedArgs): void;
  /**
   * Fused softmax + cross-entropy over the vocabulary. `logits [N, V]`, i32 `targets [N]`
   * (a negative target is ignored: loss 0, gradient 0). Writes `losses [N]` and, when
   * `dlogits` is given, `dlogits = (softmax − onehot) · gradScale` (overwrites).
   */
  softmaxCrossEntropy(args: SoftmaxCrossEntropyArgs): void;

  // ---- Llama ops -------------------------------------------------------------------------
  /**
   * RMSNorm over the last dim of `x [N, C]`: `out = x · rstd · w` with
   * `rstd = 1/√(mean(x²) + eps)`, saved `[N]` for backward (Llama's `LlamaRMSNorm`).
   */
  rmsNorm(args: RmsNormArgs): void;
  /** Backward of `rmsNorm`: accumulates into `dx`, `dw`. */
  rmsNormBackward(args: RmsNormBackwardArgs): void;
  /**
   * Rotary position embedding as Hugging Face applies it (`rotate_half`, not Meta's
   * interleaved pairs): in each of the first `rotatedHeads` heads of a row of `x [B, T, W]`,
   * at position `p = posOffset + t`, `out[i] = x[i]·cos[p,i] − x[i+h]·sin[p,i]` and
   * `out[i+h] = x[i+h]·cos[p,i] + x[i]·sin[p,i]` for `i < h = headDim/2`; other columns are
   * copied. `out` may be `x` (in place).
   */
  rope(args: RopeArgs): void;
  /** Backward of `rope` (positions 0…T−1): accumulates `Rᵀ·dout` into `dx`. */
  ropeBackward(args: RopeBackwardArgs): void;
  /** `out = silu(gate) · up` (silu(x) = x·sigmoid(x)): the SwiGLU MLP's gating. */
  swiglu(out: Tensor, gate: Tensor, up: Tensor): void;
  /** Backward of `swiglu`: `dgate += dout·up·silu'(gate)`, `dup += dout·silu(gate)`. */
  swigluBackward(args: SwigluBackwardArgs): void;
  /** i32 `out[n] = argmax_v x[n, v]` — next-token accuracy. */
  argmaxRows(out: Tensor, x: Tensor): void;
  /** The `k` largest values of the 1-D `x` and their indices (descending), for sampling. */
  topK(values: Tensor, indices: Tensor, x: Tensor, k: number): void;

  // ---- optimizer ----------------------------------------------------------------------
  /**
   * Fused AdamW over flat `params`, `grads`, moments `m`, `v` (same size). `decayMask`
   * (1 = decay, 0 = no decay; null = decay everything). When `clip` is given, gradients
   * are also scaled by `min(1, maxNorm / sqrt(normSquared[0]))`, read on the device.
   */
  adamw(args: AdamWArgs): void;

  // ---- RWKV-4 ops ------------------------------------------------------------------------
  /**
   * Token shift with mixing: `out[b,t] = x[b,t]·mix + x[b,t−1]·(1−mix)`, `x [B, T, C]`,
   * `mix [C]`. Position −1 is `prev [B, C]` when given (generation state), else zero.
   */
  tokenShift(args: TokenShiftArgs): void;
  /** Backward of `tokenShift` (prev treated as a constant): accumulates into `dx`, `dmix`. */
  tokenShiftBackward(args: TokenShiftBackwardArgs): void;
  /**
   * RWKV-4 WKV recurrence, numerically stable (tracks the running maximum exponent):
   * `k, v, y [B, T, C]`, `timeDecay [C]` (w; the decay used is −exp(w)), `timeFirst [C]` (u).
   * `state [B, 3, C]` (aa, bb, pp) is read as the initial state and overwritten with the final
   * one when given; otherwise the recurrence starts from zero (pp = −1e38).
   */
  wkv(args: WkvArgs): void;
  /** Backward of `wkv` from a zero initial state: accumulates into `dw`, `du`, `dk`, `dv`. */
  wkvBackward(args: WkvBackwardArgs): void;
  /** `out = max(x, 0)²` (channel-mix key). */
  reluSquared(out: Tensor, x: Tensor): void;
  /** Backward of `reluSquared`: `dx += 2·max(x,0)·dout`. */
  reluSquaredBackward(dx: Tensor, x: Tensor, dout: Tensor): void;
  /** `out = 1 / (1 + exp(−x))`. */
  sigmoid(out: Tensor, x: Tensor): void;
  /** Backward of `sigmoid` given its output `y`: `dx += y·(1−y)·dout`. */
  sigmoidBackward(dx: Tensor, y: Tensor, dout: Tensor): void;
  /** `out = tanh(x)`. */
  tanh(out: Tensor, x: Tensor): void;
  /** Backward of `tanh` given its output `y`: `dx += (1 − y²)·dout`. */
  tanhBackward(dx: Tensor, y: Tensor, dout: Tensor): void;

  // ---- RWKV-7 (and RWKV-5 inference) ops -------------------------------------------------
  /**
   * RWKV-7's WKV recurrence per head (N = C/H channels): with the decay
   * `d = exp(−e^(−0.5)·σ(w))`, `S_t = S_{t−1}·diag(d_t) + (S_{t−1}·a_t)·b_tᵀ + v_t·k_tᵀ` and
   * `y_t = S_t·r_t`. `state [B, H, N, N]` is the initial state and receives the final one.
   */
  wkv7(args: Wkv7Args): void;
  /** Backward of `wkv7` from a zero initial state: accumulates into every `d…`. */
  wkv7Backward(args: Wkv7BackwardArgs): void;
  /**
   * RWKV-7's key preparation per row: `kt = k⊙(1 + (a−1)⊙kA)`, `na = −κ̂`, `nb = κ̂⊙a` with
   * κ̂ the L2-normalised (per head, ‖·‖ ≥ 1e-12) `k⊙kK`.
   */
  rwkv7Keys(args: Rwkv7KeysArgs): void;
  /** Backward of `rwkv7Keys`: accumulates into `dk`, `da`, `dkK`, `dkA`. */
  rwkv7KeysBackward(args: Rwkv7KeysBackwardArgs): void;
  /**
   * RWKV-7's time-mixing output before the projection:
   * `out = (GroupNorm_H(y)⊙lnW + lnB + (Σ_head r⊙k⊙rK)·v) ⊙ g`.
   */
  rwkv7Output(args: Rwkv7OutputArgs): void;
  /** Backward of `rwkv7Output`: accumulates into every `d…`. */
  rwkv7OutputBackward(args: Rwkv7OutputBackwardArgs): void;
  /** RWKV-5's WKV recurrence per head, for inference (see {@link Wkv5Args}). */
  wkv5(args: Wkv5Args): void;
}

/** The name of a {@link Backend} method: every op, memory ops included. */
export type BackendOp = {
  [K in keyof Backend]: Backend[K] extends (...args: never[]) => unknown ? K : never;
}[keyof Backend];
