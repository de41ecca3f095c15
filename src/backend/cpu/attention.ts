/**
 * Causal multi-head self-attention of the CPU backend: forward (saving the per-row
 * log-sum-exp), backward, and the KV-cached form used for generation.
 *
 * Layout: `qkv [B, T, W]` holds q, k, v side by side: q `[NH·hs]`, then k and v `[NKV·hs]` each
 * (W = 3C without grouped-query attention, NKV = NH). Query head `h` uses channels
 * `h·hs … h·hs+hs−1` of q and key/value head `h / (NH/NKV)` of k and v (hs = C / NH). Scores
 * are scaled by 1/√hs.
 *
 * @module
 */
import type { AttentionDims } from "../backend.ts";
import { attentionWidths } from "../checks.ts";
import { matmul } from "./matmul.ts";
import type { FloatArray } from "./tensor.ts";

/** Query rows per block: scores are computed for a block of queries against keys 0…t1. */
const QUERY_BLOCK = 64;

// Scratch for one block of scores / probabilities and their gradients, reused across calls.
let scores = new Float64Array(0);
let dscores = new Float64Array(0);

function scratch(size: number): [Float64Array, Float64Array] {
  if (scores.length < size) {
    scores = new Float64Array(size);
    dscores = new Float64Array(size);
  }
  return [scores, dscores];
}

/**
 * Offsets of the q, k and v slices of head `h` in batch `b` of `qkv`, and of its output in
 * `out`, for `dims` (the kv head is `h / (NH/NKV)`, as Hugging Face's `repeat_kv`).
 */
function headOffsets(
  dims: AttentionDims,
  b: number,
  h: number,
): { q: number; k: number; v: number; o: number } {
  const { T, C, NH } = dims, { hd, NKV, KV, W } = attentionWidths(dims);
  const kvh = Math.floor(h / (NH / NKV));
  const q = b * T * W + h * hd, k = b * T * W + C + kvh * hd;
  return { q, k, v: k + KV, o: b * T * C + h * hd };
}

/**
 * `out [B, T, C]` and `lse [B, NH, T]` from `qkv [B, T, W]`. Per batch, head and block of
 * queries `t0…t1−1`: `S = Q·Kᵀ/√hs` over keys `0…t1−1` (one strided matmul, reading the
 * head's slices of `qkv` in place), a causal softmax per row, then `out = P·V`.
 */
export function attention(
  out: FloatArray,
  lse: FloatArray,
  qkv: FloatArray,
  dims: AttentionDims,
): void {
  const { B, T, C, NH } = dims, hs = C / NH, scale = 1 / Math.sqrt(hs);
  const W = attentionWidths(dims).W; // the qkv row width
  const [S] = scratch(Math.min(T, QUERY_BLOCK) * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const { q, k, v, o } = headOffsets(dims, b, h);
      for (let t0 = 0; t0 < T; t0 += QUERY_BLOCK) {
        const t1 = Math.min(T, t0 + QUERY_BLOCK), nq = t1 - t0, nk = t1;
        // S[r, s] = q_{t0+r} · k_s for keys s < t1.
        matmul(S, qkv.subarray(q + t0 * W), qkv.subarray(k), null, {
          M: nq,
          N: nk,
          K: hs,
          transA: false,
          transB: true,
          lda: W,
          ldb: W,
        }, false);
        for (let r = 0; r < nq; r++) {
          const t = t0 + r, row = r * nk;
          let max = -Infinity;
          for (let s = 0; s <= t; s++) {
            const x = S[row + s] * scale;
            S[row + s] = x;
            if (x > max) max = x;
          }
          let sum = 0;
          for (let s = 0; s <= t; s++) sum += S[row + s] = Math.exp(S[row + s] - max);
          const inv = 1 / sum;
          for (let s = 0; s <= t; s++) S[row + s] *= inv;
          for (let s = t + 1; s < nk; s++) S[row + s] = 0; // the causal mask
          lse[(b * NH + h) * T + t] = max + Math.log(sum);
        }
        // out[t0…t1−1] = P · V.
        matmul(out.subarray(o + t0 * C), S, qkv.subarray(v), null, {
          M: nq,
          N: hs,
          K: nk,
          transA: false,
          transB: false,
          ldb: W,
          ldc: C,
        }, false);
      }
    }
  }
}

/**
 * Accumulates `dqkv` from `dout`, block by block of queries as in the forward:
 * `P = exp(S − lse)` rebuilt from the saved `lse`; `dV += Pᵀ·dO`; `dP = dO·Vᵀ`;
 * `dS = P ∘ (dP − D)/√hs` with `D = dout·out` (= Σ p·dp, as flash-attention does);
 * `dQ += dS·K`; `dK += dSᵀ·Q`.
 */
export function attentionBackward(
  dqkv: FloatArray,
  dout: FloatArray,
  out: FloatArray,
  lse: FloatArray,
  qkv: FloatArray,
  dims: AttentionDims,
): void {
  const { B, T, C, NH } = dims, hs = C / NH, scale = 1 / Math.sqrt(hs);
  const W = attentionWidths(dims).W; // the qkv row width
  const [P, dS] = scratch(Math.min(T, QUERY_BLOCK) * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      // Query heads sharing a kv head all accumulate into its dK and dV.
      const { q, k, v, o } = headOffsets(dims, b, h);
      for (let t0 = 0; t0 < T; t0 += QUERY_BLOCK) {
        const t1 = Math.min(T, t0 + QUERY_BLOCK), nq = t1 - t0, nk = t1;
        const qBlock = q + t0 * W, oBlock = o + t0 * C;
        matmul(P, qkv.subarray(qBlock), qkv.subarray(k), null, {
          M: nq,
          N: nk,
          K: hs,
          transA: false,
          transB: true,
          lda: W,
          ldb: W,
        }, false);
        for (let r = 0; r < nq; r++) {
          const t = t0 + r, row = r * nk, l = lse[(b * NH + h) * T + t];
          for (let s = 0; s <= t; s++) P[row + s] = Math.exp(P[row + s] * scale - l);
          for (let s = t + 1; s < nk; s++) P[row + s] = 0;
        }
        // dV[0…t1−1] += Pᵀ · dO.
        matmul(dqkv.subarray(v), P, dout.subarray(oBlock), null, {
          M: nk,
          N: hs,
          K: nq,
          transA: true,
          transB: false,
          lda: nk,
          ldb: C,
          ldc: W,
        }, true);
        // dP = dO · Vᵀ, then dS = P ∘ (dP − D) · scale in place.
        matmul(dS, dout.subarray(oBlock), qkv.subarray(v), null, {
          M: nq,
          N: nk,
          K: hs,
          transA: false,
          transB: true,
          lda: C,
          ldb: W,
        }, false);
        for (let r = 0; r < nq; r++) {
          const row = r * nk, or = oBlock + r * C;
          let D = 0;
          for (let d = 0; d < hs; d++) D += dout[or + d] * out[or + d];
          for (let s = 0; s < nk; s++) dS[row + s] = P[row + s] * (dS[row + s] - D) * scale;
        }
        // dQ[t0…t1−1] += dS · K;  dK[0…t1−1] += dSᵀ · Q.
        matmul(dqkv.subarray(qBlock), dS, qkv.subarray(k), null, {
          M: nq,
          N: hs,
          K: nk,
          transA: false,
          transB: false,
          ldb: W,
          ldc: W,
        }, true);
        matmul(dqkv.subarray(k), dS, qkv.subarray(qBlock), null, {
          M: nk,
          N: hs,
          K: nq,
          transA: true,
          transB: false,
          lda: nk,
          ldb: W,
          ldc: W,
        }, true);
      }
    }
  }
}

/**
 * Writes the k, v of `qkv [B, T, W]` into `kCache`/`vCache [B, Tmax, NKV·hs]` at positions
 * `pos … pos+T−1`, then attends each query `t` over cache positions `0 … pos+t`.
 */
export function attentionCached(
  out: FloatArray,
  qkv: FloatArray,
  kCache: FloatArray,
  vCache: FloatArray,
  pos: number,
  Tmax: number,
  dims: AttentionDims,
): void {
  const { B, T, C, NH } = dims, hs = C / NH, scale = 1 / Math.sqrt(hs);
  const { NKV, KV, W } = attentionWidths(dims);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const src = (b * T + t) * W, dst = (b * Tmax + pos + t) * KV;
      for (let c = 0; c < KV; c++) {
        kCache[dst + c] = qkv[src + C + c];
        vCache[dst + c] = qkv[src + C + KV + c];
      }
    }
  }
  const p = new Float64Array(pos + T), acc = new Float64Array(hs);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const kvh = Math.floor(h / (NH / NKV)) * hs; // offset of the kv head in a cache row
      for (let t = 0; t < T; t++) {
        const q = (b * T + t) * W + h * hs;
        const last = pos + t;
        let max = -Infinity;
        for (let s = 0; s <= last; s++) {
          const k = (b * Tmax + s) * KV + kvh;
          let dot = 0;
          for (let d = 0; d < hs; d++) dot += qkv[q + d] * kCache[k + d];
          p[s] = dot * scale;
          if (p[s] > max) max = p[s];
        }
        let sum = 0;
        for (let s = 0; s <= last; s++) sum += p[s] = Math.exp(p[s] - max);
        const o = (b * T + t) * C + h * hs;
        acc.fill(0);
        for (let s = 0; s <= last; s++) {
          const v = (b * Tmax + s) * KV + kvh;
          const w = p[s] / sum;
          for (let d = 0; d < hs; d++) acc[d] += w * vCache[v + d];
        }
        for (let d = 0; d < hs; d++) out[o + d] = acc[d];
      }
    }
  }
}
