/**
 * The parts of RWKV-4's RNN forward (`inference.ts`) that RWKV-5 reuses: the buffers of a
 * forward and the channel mixing.
 *
 * @module
 */
import type { Backend, Tensor } from "../../backend/backend.ts";
import { type BufferPlan, f32, i32 } from "../buffers.ts";
import type { RwkvConfig } from "./config.ts";

/** The buffers {@link rwkvChannelMix} uses: `[T, C]`, but `fk` and `fk2` `[T, F]`. */
export interface ChannelMixBuffers {
  /** The residual stream, added to. */
  x: Tensor;
  /** The block's ln2 output: the input. */
  xx: Tensor;
  xk: Tensor;
  xr: Tensor;
  fk: Tensor;
  fk2: Tensor;
  kv: Tensor;
  r: Tensor;
  /** σ(r). */
  rs: Tensor;
  /** σ(r)·kv, added to `x`. */
  ry: Tensor;
}

/**
 * RWKV-4's channel mixing (RWKV-5 keeps it) of block prefix `p` (`"blocks.L."`) over the
 * ln2 output `s.xx` of `T` tokens: `x += σ(W_r'·x_r')·W_v'·relu(W_k'·x_k')²`, the token
 * shift reading `prev` (the last ln2 output of the state, then overwritten; null: a zero
 * state). `maa` (RWKV-6): the mixes are `ffn.time_maa_k/r` in BlinkDL's lerp form
 * `x + (x_{t−1} − x)·maa`.
 */
export function rwkvChannelMix(
  b: Backend,
  w: (name: string) => Tensor,
  p: string,
  s: ChannelMixBuffers,
  prev: Tensor | null,
  T: number,
  maa = false,
): void {
  const shift = (out: Tensor, mix: string) =>
    b.tokenShift({ out, x: s.xx, mix: w(p + mix), prev, B: 1, T, lerp: maa });
  shift(s.xk, maa ? "ffn.time_maa_k" : "ffn.time_mix_k");
  shift(s.xr, maa ? "ffn.time_maa_r" : "ffn.time_mix_r");
  if (prev) b.copy(prev, s.xx);
  b.matmul(s.fk, s.xk, w(p + "ffn.key.weight"), { transB: true });
  b.reluSquared(s.fk2, s.fk);
  b.matmul(s.kv, s.fk2, w(p + "ffn.value.weight"), { transB: true });
  b.matmul(s.r, s.xr, w(p + "ffn.receptance.weight"), { transB: true });
  b.sigmoid(s.rs, s.r);
  b.mul(s.ry, s.rs, s.kv);
  b.addInto(s.x, s.ry);
}

/** The buffers of an RWKV-4 forward: {@link ChannelMixBuffers} and the rest of the block. */
export type RwkvScratchName =
  | keyof ChannelMixBuffers
  | "ids"
  | "x0"
  | "mean"
  | "rstd"
  | "xv"
  | "k"
  | "v"
  | "y"
  | "logits";

/**
 * The activations of one RWKV-4 forward over `T` tokens (RWKV-5 adds its own): the residual
 * stream, the mixes, the channel mixing's buffers ({@link ChannelMixBuffers}) and the logits.
 */
export function rwkvScratchPlan(
  c: Pick<RwkvConfig, "dModel" | "ffnDim" | "vocabSize">,
  T: number,
): BufferPlan<RwkvScratchName> {
  const C = c.dModel, F = c.ffnDim;
  return {
    ids: i32(T),
    x: f32(T, C),
    x0: f32(T, C),
    xx: f32(T, C),
    mean: f32(T),
    rstd: f32(T),
    xk: f32(T, C),
    xv: f32(T, C),
    xr: f32(T, C),
    k: f32(T, C),
    v: f32(T, C),
    r: f32(T, C),
    rs: f32(T, C),
    y: f32(T, C),
    ry: f32(T, C),
    fk: f32(T, F),
    fk2: f32(T, F),
    kv: f32(T, C),
    logits: f32(T, c.vocabSize),
  };
}
