/**
 * RWKV-4 ops of the WebGPU backend (`wgsl/rwkv.wgsl`): token shift and its backward, and the
 * WKV recurrence (one invocation per batch and channel forward, per channel backward).
 *
 * @module
 */
import {
  type TokenShiftArgs,
  type TokenShiftBackwardArgs,
  VIEW_ALIGN,
  type WkvArgs,
  type WkvBackwardArgs,
} from "../backend.ts";
import { channels } from "../checks.ts";
import { type GpuContext, GpuTensor, gpuTensors } from "./context.ts";
import { kernel } from "./kernel.ts";
import { lineGroups, strideGroups } from "./grid.ts";
import src from "../../../wgsl/rwkv.wgsl" with { type: "text" };

const BTC = { B: "u32", T: "u32", C: "u32" } as const;

const TOKEN_SHIFT = kernel({
  source: src,
  entry: "token_shift",
  bindings: { out: "f32", x: "f32", mix: "f32", prev: "f32" },
  uniforms: { ...BTC, hasPrev: "u32", lerp: "u32" },
});
const TOKEN_SHIFT_BWD_X = kernel({
  source: src,
  entry: "token_shift_bwd_x",
  bindings: { dx: "f32", mix: "f32", dout: "f32" },
  uniforms: { ...BTC, lerp: "u32" },
});
const TOKEN_SHIFT_BWD_MIX = kernel({
  source: src,
  entry: "token_shift_bwd_mix",
  bindings: { dmix: "f32", x: "f32", prev: "f32", dout: "f32" },
  uniforms: { ...BTC, hasPrev: "u32", lerp: "u32" },
});
const WKV = kernel({
  source: src,
  entry: "wkv_forward",
  bindings: { y: "f32", k: "f32", v: "f32", timeDecay: "f32", timeFirst: "f32", state: "f32" },
  uniforms: { ...BTC, hasState: "u32" },
});
const WKV_BACKWARD = kernel({
  source: src,
  entry: "wkv_backward",
  bindings: {
    dw: "f32",
    du: "f32",
    dk: "f32",
    dv: "f32",
    dy: "f32",
    k: "f32",
    v: "f32",
    scratch: "f32",
  },
  uniforms: { ...BTC, offW: "u32", offU: "u32" },
});

/** Token shift with mixing (see `Backend.tokenShift`). */
export function tokenShift(ctx: GpuContext, a: TokenShiftArgs): void {
  const { out, x, mix, prev, B, T, lerp } = a;
  const C = channels(x, B, T);
  if (C === 0) return;
  const t = gpuTensors("tokenShift", { out, x, mix, prev });
  const u = { B, T, C, hasPrev: prev ? 1 : 0, lerp: lerp ? 1 : 0 };
  ctx.dispatch(TOKEN_SHIFT, t, u, strideGroups(B * T * C));
}

/** Backward of `tokenShift`: accumulates into `dx` and `dmix`. */
export function tokenShiftBackward(ctx: GpuContext, a: TokenShiftBackwardArgs): void {
  const { dx, dmix, dout, x, mix, prev, B, T, lerp } = a;
  const C = channels(x, B, T);
  if (C === 0) return;
  const t = gpuTensors("tokenShiftBackward", { x, mix, prev, dout, dx, dmix });
  const u = { B, T, C, hasPrev: prev ? 1 : 0, lerp: lerp ? 1 : 0 };
  ctx.dispatch(TOKEN_SHIFT_BWD_X, t, u, strideGroups(B * T * C));
  ctx.dispatch(TOKEN_SHIFT_BWD_MIX, t, u, lineGroups(C));
}

/** The WKV recurrence (see `Backend.wkv`). */
export function wkv(ctx: GpuContext, a: WkvArgs): void {
  const { y, k, v, timeDecay, timeFirst, state, B, T } = a;
  const C = channels(k, B, T);
  if (C === 0) return;
  const t = gpuTensors("wkv", { y, k, v, timeDecay, timeFirst, state });
  ctx.dispatch(WKV, t, { B, T, C, hasState: state ? 1 : 0 }, lineGroups(B * C));
}

/** Backward of `wkv` from a zero state: accumulates into `dw`, `du`, `dk`, `dv`. */
export function wkvBackward(ctx: GpuContext, a: WkvBackwardArgs): void {
  const { B, T } = a;
  const C = channels(a.k, B, T);
  if (C === 0) return;
  // Scratch: y, q, r (3·B·T·C), then copies of timeDecay and timeFirst at aligned offsets
  // (the kernel already uses the 8 storage bindings every device offers).
  const N = B * T * C;
  const offW = Math.ceil((3 * N) / VIEW_ALIGN) * VIEW_ALIGN;
  const offU = offW + Math.ceil(C / VIEW_ALIGN) * VIEW_ALIGN;
  const scratch = new GpuTensor([offU + C], "f32", ctx.tempBuf((offU + C) * 4), 0, true);
  const { timeDecay, timeFirst } = gpuTensors("wkvBackward", {
    timeDecay: a.timeDecay,
    timeFirst: a.timeFirst,
  });
  const enc = ctx.encoder();
  const copyTo = (src: GpuTensor, off: number) =>
    enc.copyBufferToBuffer(
      src.buffer.buffer,
      src.offset * 4,
      scratch.buffer.buffer,
      off * 4,
      C * 4,
    );
  copyTo(timeDecay, offW);
  copyTo(timeFirst, offU);
  const { dw, du, dk, dv, dy, k, v } = a;
  const t = gpuTensors("wkvBackward", { dw, du, dk, dv, dy, k, v });
  ctx.dispatch(WKV_BACKWARD, { ...t, scratch }, { B, T, C, offW, offU }, lineGroups(C));
}
