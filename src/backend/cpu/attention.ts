/**
 * Causal multi-head self-attention of the CPU backend: forward (saving the per-row
 * log-sum-exp), backward, and the KV-cached form used for generation.
 *
 * Layout: `qkv [B, T, 3C]` holds q, k, v side by side; head `h` uses channels
 * `h·hs … h·hs+hs−1` of each (hs = C / NH). Scores are scaled by 1/√hs.
 *
 * @module
 */
import type { AttentionDims } from "../backend.ts";
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
 * `out [B, T, C]` and `lse [B, NH, T]` from `qkv [B, T, 3C]`. Per batch, head and block of
 * queries `t0…t1−1`: `S = Q·Kᵀ/√hs` over keys `0…t1−1` (one strided matmul, reading the
 * head's slices of `qkv` in place), a causal softmax per row, then `out = P·V`.
 */
export function attention(
  out: FloatArray,
  lse: FloatArray,
  qkv: FloatArray,
  { B, T, C, NH }: AttentionDims,
): void {
  const hs = C / NH, scale = 1 / Math.sqrt(hs), C3 = 3 * C;
  const [S] = scratch(Math.min(T, QUERY_BLOCK) * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const q = b * T * C3 + h * hs, k = q + C, v = q + 2 * C, o = b * T * C + h * hs;
      for (let t0 = 0; t0 < T; t0 += QUERY_BLOCK) {
        const t1 = Math.min(T, t0 + QUERY_BLOCK), nq = t1 - t0, nk = t1;
        // S[r, s] = q_{t0+r} · k_s for keys s < t1.
        matmul(S, qkv.subarray(q + t0 * C3), qkv.subarray(k), null, {
          M: nq,
          N: nk,
          K: hs,
          transA: false,
          transB: true,
          lda: C3,
          ldb: C3,
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
          ldb: C3,
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
  { B, T, C, NH }: AttentionDims,
): void {
  const hs = C / NH, scale = 1 / Math.sqrt(hs), C3 = 3 * C;
  const [P, dS] = scratch(Math.min(T, QUERY_BLOCK) * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const q = b * T * C3 + h * hs, k = q + C, v = q + 2 * C, o = b * T * C + h * hs;
      for (let t0 = 0; t0 < T; t0 += QUERY_BLOCK) {
        const t1 = Math.min(T, t0 + QUERY_BLOCK), nq = t1 - t0, nk = t1;
        const qBlock = q + t0 * C3, oBlock = o + t0 * C;
        matmul(P, qkv.subarray(qBlock), qkv.subarray(k), null, {
          M: nq,
          N: nk,
          K: hs,
          transA: false,
          transB: true,
          lda: C3,
          ldb: C3,
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
          ldc: C3,
        }, true);
        // dP = dO · Vᵀ, then dS = P ∘ (dP − D) · scale in place.
        matmul(dS, dout.subarray(oBlock), qkv.subarray(v), null, {
          M: nq,
          N: nk,
          K: hs,
          transA: false,
          transB: true,
          lda: C,
          ldb: C3,
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
          ldb: C3,
          ldc: C3,
        }, true);
        matmul(dqkv.subarray(k), dS, qkv.subarray(qBlock), null, {
          M: nk,
          N: hs,
          K: nq,
          transA: true,
          transB: false,
          lda: nk,
          ldb: C3,
          ldc: C3,
        }, true);
      }
    }
  }
}

/**
 * Writes the k, v of `qkv [B, T, 3C]` into `kCache`/`vCache [B, Tmax, C]` at positions
 * `pos … pos+T−1`, then attends each query `t` over cache positions `0 … pos+t`.
 */
export function attentionCached(
  out: FloatArray,
  qkv: FloatArray,
  kCache: FloatArray,
  vCache: FloatArray,
  pos: number,
  Tmax: number,
  { B, T, C, NH }: AttentionDims,
): void {
  const hs = C / NH, scale = 1 / Math.sqrt(hs), C3 = 3 * C;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const src = (b * T + t) * C3, dst = (b * Tmax + pos + t) * C;
      for (let c = 0; c < C; c++) {
        kCache[dst + c] = qkv[src + C + c];
        vCache[dst + c] = qkv[src + 2 * C + c];
      }
    }
  }
  const p = new Float64Array(pos + T), acc = new Float64Array(hs);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const q = (b * T + t) * C3 + h * hs;
        const last = pos + t;
        let max = -Infinity;
        for (let s = 0; s <= last; s++) {
          const k = (b * Tmax + s) * C + h * hs;
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
          const v = (b * Tmax + s) * C + h * hs;
          const w = p[s] / sum;
          for (let d = 0; d < hs; d++) acc[d] += w * vCache[v + d];
        }
        for (let d = 0; d < hs; d++) out[o + d] = acc[d];
      }
    }
  }
}
