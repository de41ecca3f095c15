/**
 * Causal multi-head attention of the WebGPU backend: training (forward, backward) and
 * generation with a KV cache, with the kernel variant chosen per head size. Every kernel takes
 * grouped-query attention (`dims.NKV` key/value heads, default NH): `qkv` rows are
 * `[q: C | k: NKV·hd | v: NKV·hd]`, the caches `[B, Tmax, NKV·hd]`, and the k/v gradients are
 * summed over each kv head's group of query heads in a fixed order by one invocation.
 *
 * - `wgsl/attention_vec4.wgsl` (head sizes that are multiples of 4, up to 128): hand-written,
 *   not a generated vec4 twin — a different algorithm: R query (or key) rows per invocation
 *   so each k/v load serves R rows, every per-head vector in named vec4 registers
 *   (`//@REPEAT` templates over the constants HS4 and R), and the backward's row sums D
 *   computed once by the dq pass into a scratch buffer for the dk/dv pass.
 * - `wgsl/attention.wgsl`: the generic flash-style kernels (any head size HS, one row per
 *   invocation), the KV-cache append and the cached attention of prompts.
 * - `wgsl/attention_decode.wgsl`: one new token per sequence (decoding) over the cache, split
 *   into chunks across invocations, then merged per head (flash decoding).
 *
 * Each (entry, head size) kernel is generated once and cached.
 *
 * @module
 */
import { BenteviError } from "../../errors.ts";
import type { AttentionArgs, AttentionBackwardArgs, AttentionCachedArgs } from "../backend.ts";
import { attentionWidths, cacheLength } from "../checks.ts";
import { type GpuContext, GpuTensor, gpuTensors } from "./context.ts";
import { type BindingDecls, type Kernel, kernel, type UniformDecls, variant } from "./kernel.ts";
import { flatGroups, MAX_GROUPS, strideGroups } from "./grid.ts";
import attentionSrc from "../../../wgsl/attention.wgsl" with { type: "text" };
import attentionVec4Src from "../../../wgsl/attention_vec4.wgsl" with { type: "text" };
import decodeSrc from "../../../wgsl/attention_decode.wgsl" with { type: "text" };

/** Rows per invocation in the vec4 attention kernels (each k/v load serves this many rows). */
const ATTN_ROWS = 4;
/** Invocations of the decoding attention's chunk pass the chunking aims at. */
const DECODE_INVOCATIONS = 64;
/** Fewest cached positions per chunk (below this the merge costs more than it saves). */
const DECODE_MIN_CHUNK = 16;

const DIMS = { B: "u32", T: "u32", C: "u32", NH: "u32", NKV: "u32", scale: "f32" } as const;
const BLOCKED = { ...DIMS, blocks: "u32" } as const;
const CACHED = { ...DIMS, pos: "u32", Tmax: "u32" } as const;
const DECODE = {
  B: "u32",
  C: "u32",
  NH: "u32",
  NKV: "u32",
  chunks: "u32",
  len: "u32",
  Tmax: "u32",
  S: "u32",
  scale: "f32",
} as const;

// The declarations, at head size 4 (HS4 1); `forHead` makes the variant for a head size.
const one = { HS: 4 }, one4 = { HS4: 1, R: ATTN_ROWS }, oneDecode = { HS4: 1 };
const FORWARD = kernel({
  source: attentionSrc,
  entry: "attn_forward",
  bindings: { out: "f32", lse: "f32", qkv: "f32" },
  uniforms: DIMS,
  consts: one,
});
const BACKWARD = { dqkv: "f32", dout: "f32", out: "f32", lse: "f32", qkv: "f32" } as const;
const BACKWARD_Q = kernel({
  source: attentionSrc,
  entry: "attn_backward_q",
  bindings: BACKWARD,
  uniforms: DIMS,
  consts: one,
});
const BACKWARD_KV = kernel({
  source: attentionSrc,
  entry: "attn_backward_kv",
  bindings: BACKWARD,
  uniforms: DIMS,
  consts: one,
});
const CACHE_APPEND = kernel({
  source: attentionSrc,
  entry: "cache_append",
  bindings: { kCache: "f32", vCache: "f32", qkv: "f32" },
  uniforms: CACHED,
  consts: one,
});
const CACHED_ATTENTION = kernel({
  source: attentionSrc,
  entry: "attn_cached",
  bindings: { out: "f32", kCache: "f32", vCache: "f32", qkv: "f32" },
  uniforms: CACHED,
  consts: one,
});
const FORWARD4 = kernel({
  source: attentionVec4Src,
  entry: "attn4_forward",
  bindings: { out: "vec4<f32>", lse: "f32", qkv: "vec4<f32>" },
  uniforms: BLOCKED,
  consts: one4,
});
const BACKWARD4 = {
  dqkv: "vec4<f32>",
  dout: "vec4<f32>",
  out: "vec4<f32>",
  lse: "f32",
  qkv: "vec4<f32>",
  dsum: "f32",
} as const;
const BACKWARD4_Q = kernel({
  source: attentionVec4Src,
  entry: "attn4_backward_q",
  bindings: BACKWARD4,
  uniforms: BLOCKED,
  consts: one4,
});
const BACKWARD4_KV = kernel({
  source: attentionVec4Src,
  entry: "attn4_backward_kv",
  bindings: { dqkv: "vec4<f32>", dout: "vec4<f32>", lse: "f32", qkv: "vec4<f32>", dsum: "f32" },
  uniforms: BLOCKED,
  consts: one4,
});
const DECODE_PART = kernel({
  source: decodeSrc,
  entry: "attn_decode_part",
  bindings: {
    partAcc: "vec4<f32>",
    partStats: "f32",
    kCache: "vec4<f32>",
    vCache: "vec4<f32>",
    qkv: "vec4<f32>",
  },
  uniforms: DECODE,
  consts: oneDecode,
});
const DECODE_MERGE = kernel({
  source: decodeSrc,
  entry: "attn_decode_merge",
  bindings: { out: "vec4<f32>", partStats: "f32", partAcc: "vec4<f32>" },
  uniforms: DECODE,
  consts: oneDecode,
});

const variants = new Map<Kernel, Map<number, Kernel>>();

/** `k` for head size `hs` (HS, or HS4 = hs/4 for the vec4 kernels), generated once. */
function forHead<B extends BindingDecls, U extends UniformDecls>(
  k: Kernel<B, U>,
  hs: number,
): Kernel<B, U> {
  let byHead = variants.get(k);
  if (!byHead) variants.set(k, byHead = new Map());
  let v = byHead.get(hs);
  if (!v) {
    const consts: Record<string, number> = "HS" in k.decl.consts!
      ? { HS: hs }
      : { ...k.decl.consts, HS4: hs / 4 };
    v = variant(k, { consts });
    byHead.set(hs, v);
  }
  return v as Kernel<B, U>;
}

/** Head sizes with the vec4, register-resident kernels (hs a multiple of 4, up to 128). */
function vec4Heads(C: number, hs: number): boolean {
  return C % 4 === 0 && hs % 4 === 0 && hs <= 128;
}

function checkBh(op: string, bh: number): void {
  if (bh > MAX_GROUPS) {
    throw new BenteviError(
      `${op}: B·NH = ${bh} exceeds 65535 (the dispatch limit); use a smaller batch`,
    );
  }
}

/** Workgroups of 64 for the vec4 attention kernels (one invocation per row block). */
function blockGroups(invocations: number): [number] {
  return flatGroups("attention", invocations, "row blocks", 64);
}

/** Causal self-attention over `qkv [B, T, 3C]` into `out`, saving `lse`. */
export function attention(ctx: GpuContext, a: AttentionArgs): void {
  const { B, T, C, NH } = a.dims;
  const { NKV } = attentionWidths(a.dims);
  const hs = C / NH;
  checkBh("attention", B * NH);
  const t = gpuTensors("attention", { out: a.out, lse: a.lse, qkv: a.qkv });
  const scale = 1 / Math.sqrt(hs);
  if (vec4Heads(C, hs)) {
    const blocks = Math.ceil(T / ATTN_ROWS);
    const u = { B, T, C, NH, NKV, scale, blocks };
    ctx.dispatch(forHead(FORWARD4, hs), t, u, blockGroups(B * NH * blocks));
    return;
  }
  const u = { B, T, C, NH, NKV, scale };
  ctx.dispatch(forHead(FORWARD, hs), t, u, [Math.ceil(T / 64), B * NH]);
}

/** Backward of `attention`: accumulates into `dqkv`. */
export function attentionBackward(ctx: GpuContext, a: AttentionBackwardArgs): void {
  const { B, T, C, NH } = a.dims;
  const { NKV } = attentionWidths(a.dims);
  const hs = C / NH;
  checkBh("attentionBackward", B * NH);
  const { dqkv, dout, out, lse, qkv } = a;
  const t = gpuTensors("attentionBackward", { dqkv, dout, out, lse, qkv });
  const scale = 1 / Math.sqrt(hs);
  if (vec4Heads(C, hs)) {
    const dsum = new GpuTensor([B * NH * T], "f32", ctx.tempBuf(B * NH * T * 4), 0, true);
    const blocks = Math.ceil(T / ATTN_ROWS);
    const u = { B, T, C, NH, NKV, scale, blocks };
    ctx.dispatch(forHead(BACKWARD4_Q, hs), { ...t, dsum }, u, blockGroups(B * NH * blocks));
    ctx.dispatch(forHead(BACKWARD4_KV, hs), { ...t, dsum }, u, blockGroups(B * NKV * blocks));
    return;
  }
  const u = { B, T, C, NH, NKV, scale };
  ctx.dispatch(forHead(BACKWARD_Q, hs), t, u, [Math.ceil(T / 64), B * NH]);
  ctx.dispatch(forHead(BACKWARD_KV, hs), t, u, [Math.ceil(T / 64), B * NKV]);
}

/** Attention for generation over KV caches `[B, Tmax, NKV·hd]` (see `Backend.attentionCached`). */
export function attentionCached(ctx: GpuContext, a: AttentionCachedArgs): void {
  const op = "attentionCached";
  const { B, T, C, NH } = a.dims;
  const { NKV } = attentionWidths(a.dims);
  const hs = C / NH;
  checkBh(op, B * NH);
  const { kCache, vCache, qkv, out } = gpuTensors(op, {
    kCache: a.kCache,
    vCache: a.vCache,
    qkv: a.qkv,
    out: a.out,
  });
  const Tmax = cacheLength(kCache, a.dims), pos = a.pos, scale = 1 / Math.sqrt(hs);
  if (T === 1 && vec4Heads(C, hs)) {
    decode(ctx, { out, kCache, vCache, qkv }, { B, C, NH, NKV, len: pos + 1, Tmax, scale });
    return;
  }
  const u = { B, T, C, NH, NKV, scale, pos, Tmax };
  const append = strideGroups(B * T * NKV * hs);
  ctx.dispatch(forHead(CACHE_APPEND, hs), { kCache, vCache, qkv }, u, append);
  ctx.dispatch(forHead(CACHED_ATTENTION, hs), { out, kCache, vCache, qkv }, u, [
    Math.ceil(T / 64),
    B * NH,
  ]);
}

/**
 * One new token per sequence over `len` cached positions (the new one included, appended to
 * the caches by the first pass), split into chunks so that the work spreads over many
 * invocations (see wgsl/attention_decode.wgsl), then merged per head.
 */
function decode(
  ctx: GpuContext,
  t: { out: GpuTensor; kCache: GpuTensor; vCache: GpuTensor; qkv: GpuTensor },
  d: {
    B: number;
    C: number;
    NH: number;
    NKV: number;
    len: number;
    Tmax: number;
    scale: number;
  },
): void {
  const hs = d.C / d.NH, BH = d.B * d.NH;
  // About DECODE_INVOCATIONS in all, at least DECODE_MIN_CHUNK positions per chunk.
  const chunks = Math.max(
    1,
    Math.min(Math.ceil(d.len / DECODE_MIN_CHUNK), Math.ceil(DECODE_INVOCATIONS / BH)),
  );
  const S = Math.ceil(d.len / chunks);
  const n = Math.ceil(d.len / S);
  const scratch = (size: number) => new GpuTensor([size], "f32", ctx.tempBuf(size * 4), 0, true);
  const partAcc = scratch(BH * n * hs), partStats = scratch(BH * n * 2);
  const u = { ...d, chunks: n, S };
  // Workgroups of 8: llvmpipe vectorises along x in groups of 8 (see the kernel).
  const groups = (count: number) => flatGroups("attentionCached", count, "invocations", 8);
  ctx.dispatch(forHead(DECODE_PART, hs), { ...t, partAcc, partStats }, u, groups(BH * n));
  ctx.dispatch(
    forHead(DECODE_MERGE, hs),
    { out: t.out, partAcc, partStats },
    u,
    groups(BH * (hs / 4)),
  );
}
