/**
 * RWKV-7 ops of the WebGPU backend (`wgsl/rwkv7.wgsl`), and RWKV-5's recurrence:
 *
 * - `wkv7`: one workgroup per batch row and head (invocation i owns row i of the state, so
 *   the head size is at most 64), time in chunks of {@link WKV7_CHUNK} steps per dispatch,
 *   the state carried in the state tensor (a zeroed temporary when none is given).
 * - `wkv7Backward`: a checkpoint pass (the state before every chunk, one dispatch per chunk),
 *   then per chunk from the last: recompute the chunk's states, run the adjoint back in time.
 *   Each invocation keeps a row and a column of dS (two copies), so no sum crosses invocations.
 * - `rwkv7Keys`, `rwkv7Output` (+ backwards): one invocation per row and head. The backwards
 *   write their contributions to a temporary and add them in (`addInto`, `sumRows` for the
 *   per-channel parameters): WebGPU guarantees 8 storage bindings per kernel, fewer than
 *   these ops have tensors.
 *
 * @module
 */
import {
  type Rwkv7KeysArgs,
  type Rwkv7KeysBackwardArgs,
  type Rwkv7OutputArgs,
  type Rwkv7OutputBackwardArgs,
  type Tensor,
  VIEW_ALIGN,
  type Wkv5Args,
  type Wkv7Args,
  type Wkv7BackwardArgs,
} from "../backend.ts";
import { asMatrix, channels } from "../checks.ts";
import { BenteviError } from "../../errors.ts";
import { type GpuContext, GpuTensor, gpuTensors } from "./context.ts";
import { addInto, fill } from "./elementwise.ts";
import { sumRows } from "./reduce.ts";
import { kernel } from "./kernel.ts";
import { strideGroups } from "./grid.ts";
import src from "../../../wgsl/rwkv7.wgsl" with { type: "text" };

/** Time steps per WKV-7 dispatch (a long sequence is several dispatches). */
export const WKV7_CHUNK = 32;

const WKV7 = kernel({
  source: src,
  entry: "wkv7_forward",
  bindings: {
    y: "f32",
    r: "f32",
    w: "f32",
    k: "f32",
    v: "f32",
    ka: "f32",
    kb: "f32",
    state: "f32",
  },
  uniforms: { N: "u32", C: "u32", H: "u32", T: "u32", t0: "u32", t1: "u32" },
});
const CHUNK_UNIFORMS = {
  N: "u32",
  C: "u32",
  H: "u32",
  T: "u32",
  S: "u32",
  L: "u32",
  c: "u32",
  nCh: "u32",
} as const;
const WKV7_CKPT = kernel({
  source: src,
  entry: "wkv7_ckpt",
  bindings: { ins: "f32", scratch: "f32" },
  uniforms: CHUNK_UNIFORMS,
});
const WKV7_BWD = kernel({
  source: src,
  entry: "wkv7_backward",
  bindings: {
    ins: "f32",
    scratch: "f32",
    dr: "f32",
    dw: "f32",
    dk: "f32",
    dv: "f32",
    da: "f32",
    db: "f32",
  },
  uniforms: { ...CHUNK_UNIFORMS, offCh: "u32", offDr: "u32", offDc: "u32" },
});
const ROWS = { rows: "u32", H: "u32", N: "u32", C: "u32" } as const;
const KEYS = kernel({
  source: src,
  entry: "rwkv7_keys",
  bindings: { kt: "f32", na: "f32", nb: "f32", k: "f32", a: "f32", kK: "f32", kA: "f32" },
  uniforms: ROWS,
});
const KEYS_BWD = kernel({
  source: src,
  entry: "rwkv7_keys_bwd",
  bindings: {
    out: "f32",
    dkt: "f32",
    dna: "f32",
    dnb: "f32",
    k: "f32",
    a: "f32",
    kK: "f32",
    kA: "f32",
  },
  uniforms: { ...ROWS, S: "u32" },
});
const OUTPUT = kernel({
  source: src,
  entry: "rwkv7_output",
  bindings: { out: "f32", y: "f32", r: "f32", k: "f32", v: "f32", gate: "f32", par: "f32" },
  uniforms: { ...ROWS, P: "u32", eps: "f32" },
});
const OUTPUT_BWD = kernel({
  source: src,
  entry: "rwkv7_output_bwd",
  bindings: {
    out: "f32",
    dout: "f32",
    y: "f32",
    r: "f32",
    k: "f32",
    v: "f32",
    gate: "f32",
    par: "f32",
  },
  uniforms: { ...ROWS, P: "u32", S: "u32", eps: "f32" },
});
const WKV5 = kernel({
  source: src,
  entry: "wkv5_forward",
  bindings: {
    y: "f32",
    r: "f32",
    k: "f32",
    v: "f32",
    decay: "f32",
    bonus: "f32",
    state: "f32",
  },
  uniforms: { N: "u32", C: "u32", H: "u32", T: "u32", PT: "u32" },
});

/** `n` rounded up to a multiple of the view alignment. */
const aligned = (n: number) => Math.ceil(n / VIEW_ALIGN) * VIEW_ALIGN;

/** Throws unless the head size fits a workgroup (the state row lives in one invocation). */
function headSize(op: string, C: number, H: number): number {
  const N = C / H;
  if (N > 64) {
    throw new BenteviError(`${op}: head size ${N} is over 64, the most the WebGPU kernel handles`);
  }
  return N;
}

/** A temporary of `sections` × `stride` floats, and the view of section `i` shaped `shape`. */
function sections(ctx: GpuContext, count: number, stride: number) {
  const buf = ctx.tempBuf(count * stride * 4);
  const whole = new GpuTensor([count * stride], "f32", buf, 0, true);
  const view = (i: number, shape: readonly number[]) =>
    new GpuTensor(shape, "f32", buf, i * stride, false);
  return { whole, view };
}

/** Copies `tensors` into consecutive sections of `dst` (stride `stride`). */
function pack(ctx: GpuContext, dst: GpuTensor, stride: number, tensors: GpuTensor[]): void {
  const enc = ctx.encoder();
  tensors.forEach((t, i) =>
    enc.copyBufferToBuffer(
      t.buffer.buffer,
      t.offset * 4,
      dst.buffer.buffer,
      (dst.offset + i * stride) * 4,
      t.size * 4,
    )
  );
}

/** WKV-7 forward (see `Backend.wkv7`). */
export function wkv7(ctx: GpuContext, a: Wkv7Args): void {
  const { B, T, H } = a;
  const C = channels(a.k, B, T);
  if (C === 0) return;
  const N = headSize("wkv7", C, H);
  const t = gpuTensors("wkv7", {
    y: a.y,
    r: a.r,
    w: a.w,
    k: a.k,
    v: a.v,
    ka: a.a,
    kb: a.b,
    state: a.state,
  });
  let state = t.state;
  if (!state) {
    state = sections(ctx, 1, aligned(B * H * N * N)).whole;
    fill(ctx, state, 0);
  }
  for (let t0 = 0; t0 < T; t0 += WKV7_CHUNK) {
    const t1 = Math.min(T, t0 + WKV7_CHUNK);
    ctx.dispatch(WKV7, { ...t, state }, { N, C, H, T, t0, t1 }, [B * H]);
  }
}

/** WKV-7 backward from a zero state (see `Backend.wkv7Backward`). */
export function wkv7Backward(ctx: GpuContext, a: Wkv7BackwardArgs): void {
  const { B, T, H } = a;
  const C = channels(a.k, B, T);
  if (C === 0) return;
  const N = headSize("wkv7Backward", C, H), NN = N * N, BH = B * H;
  const L = WKV7_CHUNK, nCh = Math.ceil(T / L);
  const S = aligned(B * T * C);
  const ins = sections(ctx, 7, S).whole;
  const x = gpuTensors("wkv7Backward", {
    r: a.r,
    w: a.w,
    k: a.k,
    v: a.v,
    a: a.a,
    b: a.b,
    dy: a.dy,
  });
  pack(ctx, ins, S, [x.r, x.w, x.k, x.v, x.a, x.b, x.dy]);
  // scratch: checkpoints [BH, nCh, N, N] | the chunk's states [BH, L, N, N] | dS rows | dS columns
  const offCh = aligned(BH * nCh * NN), offDr = offCh + aligned(BH * L * NN);
  const offDc = offDr + aligned(BH * NN), total = offDc + aligned(BH * NN);
  if (total * 4 > ctx.maxBinding) {
    throw new BenteviError(
      `wkv7Backward: B ${B}, T ${T}, ${H} heads of ${N} need ${total * 4} bytes of state ` +
        `checkpoints, over the device's maxStorageBufferBindingSize (${ctx.maxBinding})`,
    );
  }
  const scratch = sections(ctx, 1, total);
  // dS starts at zero (the checkpoints and chunk states are written before they are read).
  fill(ctx, new GpuTensor([total - offDr], "f32", scratch.whole.buffer, offDr, false), 0);
  const u = { N, C, H, T, S, L, nCh };
  for (let c = 0; c < nCh - 1; c++) {
    ctx.dispatch(WKV7_CKPT, { ins, scratch: scratch.whole }, { ...u, c }, [BH]);
  }
  const g = gpuTensors("wkv7Backward", {
    dr: a.dr,
    dw: a.dw,
    dk: a.dk,
    dv: a.dv,
    da: a.da,
    db: a.db,
  });
  for (let c = nCh - 1; c >= 0; c--) {
    ctx.dispatch(
      WKV7_BWD,
      { ins, scratch: scratch.whole, ...g },
      { ...u, c, offCh, offDr, offDc },
      [BH],
    );
  }
}

/** RWKV-7 key preparation (see `Backend.rwkv7Keys`). */
export function rwkv7Keys(ctx: GpuContext, a: Rwkv7KeysArgs): void {
  const [rows, C] = asMatrix(a.k);
  if (rows * C === 0) return;
  const t = gpuTensors("rwkv7Keys", {
    kt: a.kt,
    na: a.na,
    nb: a.nb,
    k: a.k,
    a: a.a,
    kK: a.kK,
    kA: a.kA,
  });
  ctx.dispatch(KEYS, t, { rows, H: a.H, N: C / a.H, C }, strideGroups(rows * a.H));
}

/** Backward of `rwkv7Keys`: contributions into a temporary, then added in. */
export function rwkv7KeysBackward(ctx: GpuContext, a: Rwkv7KeysBackwardArgs): void {
  const [rows, C] = asMatrix(a.k);
  if (rows * C === 0) return;
  const S = aligned(rows * C);
  const tmp = sections(ctx, 4, S);
  const t = gpuTensors("rwkv7KeysBackward", {
    dkt: a.dkt,
    dna: a.dna,
    dnb: a.dnb,
    k: a.k,
    a: a.a,
    kK: a.kK,
    kA: a.kA,
  });
  const u = { rows, H: a.H, N: C / a.H, C, S };
  ctx.dispatch(KEYS_BWD, { ...t, out: tmp.whole }, u, strideGroups(rows * a.H));
  addInto(ctx, a.dk, tmp.view(0, [rows * C]), 1);
  addInto(ctx, a.da, tmp.view(1, [rows * C]), 1);
  sumRows(ctx, a.dkK, tmp.view(2, [rows, C]), true);
  sumRows(ctx, a.dkA, tmp.view(3, [rows, C]), true);
}

/** lnW, lnB, rK packed at multiples of an aligned stride P. */
function packParams(ctx: GpuContext, op: string, lnW: Tensor, lnB: Tensor, rK: Tensor) {
  const p = gpuTensors(op, { lnW, lnB, rK });
  const P = aligned(p.lnW.size);
  const par = sections(ctx, 3, P).whole;
  pack(ctx, par, P, [p.lnW, p.lnB, p.rK]);
  return { par, P };
}

/** RWKV-7 time-mixing output (see `Backend.rwkv7Output`). */
export function rwkv7Output(ctx: GpuContext, a: Rwkv7OutputArgs): void {
  const [rows, C] = asMatrix(a.y);
  if (rows * C === 0) return;
  const { par, P } = packParams(ctx, "rwkv7Output", a.lnW, a.lnB, a.rK);
  const t = gpuTensors("rwkv7Output", { out: a.out, y: a.y, r: a.r, k: a.k, v: a.v, gate: a.g });
  const u = { rows, H: a.H, N: C / a.H, C, P, eps: a.eps };
  ctx.dispatch(OUTPUT, { ...t, par }, u, strideGroups(rows * a.H));
}

/** Backward of `rwkv7Output`: contributions into a temporary, then added in. */
export function rwkv7OutputBackward(ctx: GpuContext, a: Rwkv7OutputBackwardArgs): void {
  const [rows, C] = asMatrix(a.y);
  if (rows * C === 0) return;
  const op = "rwkv7OutputBackward";
  const { par, P } = packParams(ctx, op, a.lnW, a.lnB, a.rK);
  const S = aligned(rows * C);
  const tmp = sections(ctx, 8, S);
  const t = gpuTensors(op, { dout: a.dout, y: a.y, r: a.r, k: a.k, v: a.v, gate: a.g });
  const u = { rows, H: a.H, N: C / a.H, C, P, S, eps: a.eps };
  ctx.dispatch(OUTPUT_BWD, { ...t, par, out: tmp.whole }, u, strideGroups(rows * a.H));
  [a.dy, a.dr, a.dk, a.dv, a.dg].forEach((d, i) => addInto(ctx, d, tmp.view(i, [rows * C]), 1));
  [a.dlnW, a.dlnB, a.drK].forEach((d, i) => sumRows(ctx, d, tmp.view(5 + i, [rows, C]), true));
}

/** RWKV-5's recurrence, and RWKV-6's with a decay per token (see `Backend.wkv5`). */
export function wkv5(ctx: GpuContext, a: Wkv5Args): void {
  const { B, T, H } = a;
  const C = channels(a.k, B, T);
  if (C === 0) return;
  const N = headSize("wkv5", C, H);
  const t = gpuTensors("wkv5", {
    y: a.y,
    r: a.r,
    k: a.k,
    v: a.v,
    decay: (a.w ?? a.decay)!,
    bonus: a.bonus,
    state: a.state,
  });
  let state = t.state;
  if (!state) {
    state = sections(ctx, 1, aligned(B * H * N * N)).whole;
    fill(ctx, state, 0);
  }
  ctx.dispatch(WKV5, { ...t, state }, { N, C, H, T, PT: a.w ? 1 : 0 }, [B * H]);
}
