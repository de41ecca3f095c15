/**
 * RWKV-4 kernels of the CPU backend: token shift with mixing and the WKV recurrence,
 * forward and backward.
 *
 * WKV per channel c, with w = −exp(timeDecay[c]) and u = timeFirst[c]:
 * ```
 * y_t = (a_t + e^(u+k_t)·v_t) / (b_t + e^(u+k_t))
 * a_{t+1} = e^w·a_t + e^(k_t)·v_t,   b_{t+1} = e^w·b_t + e^(k_t)
 * ```
 * computed in the numerically stable form of the RWKV-4 CUDA kernel: `a = aa·e^pp`,
 * `b = bb·e^pp`, where `pp` tracks the running maximum exponent, so nothing overflows
 * whatever the size of k. Arithmetic is float64 inside.
 *
 * @module
 */
import type { FloatArray } from "./tensor.ts";

/** The exponent of an empty state (a = b = 0), as in the RWKV-4 kernels. */
export const WKV_EMPTY_PP = -1e38;

/**
 * `out[b,t] = x[b,t]·mix + x[b,t−1]·(1−mix)`, or with `lerp` `x[b,t] + (x[b,t−1] − x[b,t])·mix`;
 * position −1 is `prev [B, C]` or zero.
 */
export function tokenShift(
  out: FloatArray,
  x: FloatArray,
  mix: FloatArray,
  prev: FloatArray | null,
  B: number,
  T: number,
  C: number,
  lerp = false,
): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * C;
      for (let c = 0; c < C; c++) {
        const before = t > 0 ? x[o - C + c] : prev ? prev[b * C + c] : 0;
        const m = lerp ? 1 - mix[c] : mix[c];
        out[o + c] = x[o + c] * m + before * (1 - m);
      }
    }
  }
}

/** Accumulates `dx` and `dmix` (prev is a constant). */
export function tokenShiftBackward(
  dx: FloatArray,
  dmix: FloatArray,
  dout: FloatArray,
  x: FloatArray,
  mix: FloatArray,
  prev: FloatArray | null,
  B: number,
  T: number,
  C: number,
  lerp = false,
): void {
  const sign = lerp ? -1 : 1;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * C;
      for (let c = 0; c < C; c++) {
        const g = dout[o + c], m = lerp ? 1 - mix[c] : mix[c];
        const before = t > 0 ? x[o - C + c] : prev ? prev[b * C + c] : 0;
        dx[o + c] += g * m;
        if (t > 0) dx[o - C + c] += g * (1 - m);
        dmix[c] += sign * g * (x[o + c] - before);
      }
    }
  }
}

/**
 * The WKV forward. `state [B, 3, C]` (aa, bb, pp) is the initial state when given and is
 * overwritten with the final one; otherwise each sequence starts empty.
 */
export function wkv(
  y: FloatArray,
  k: FloatArray,
  v: FloatArray,
  timeDecay: FloatArray,
  timeFirst: FloatArray,
  state: FloatArray | null,
  B: number,
  T: number,
  C: number,
): void {
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const w = -Math.exp(timeDecay[c]), u = timeFirst[c];
      const s = b * 3 * C + c;
      let aa = state ? state[s] : 0;
      let bb = state ? state[s + C] : 0;
      let pp = state ? state[s + 2 * C] : WKV_EMPTY_PP;
      for (let t = 0; t < T; t++) {
        const i = (b * T + t) * C + c;
        const kk = k[i], vv = v[i];
        // Output: mix the state with the current token, which gets the bonus u.
        let ww = u + kk;
        let p = Math.max(pp, ww);
        let e1 = Math.exp(pp - p), e2 = Math.exp(ww - p);
        y[i] = (e1 * aa + e2 * vv) / (e1 * bb + e2);
        // State: decay it by e^w and add the current token.
        ww = w + pp;
        p = Math.max(ww, kk);
        e1 = Math.exp(ww - p);
        e2 = Math.exp(kk - p);
        aa = e1 * aa + e2 * vv;
        bb = e1 * bb + e2;
        pp = p;
      }
      if (state) {
        state[s] = aa;
        state[s + C] = bb;
        state[s + 2 * C] = pp;
      }
    }
  }
}

/**
 * The WKV backward from an empty initial state; accumulates `dw` (w.r.t. timeDecay, summed
 * over the batch), `du`, `dk`, `dv`. A forward sweep recomputes y and carries ∂a/∂w, ∂b/∂w
 * (forward mode); a backward sweep carries α = Σ_{s>t} e^((s−1−t)w)·g_s/D_s and
 * β = Σ_{s>t} e^((s−1−t)w)·g_s·y_s/D_s (D_s the denominator), all in the same
 * max-exponent-scaled form as the forward.
 */
export function wkvBackward(
  dw: FloatArray,
  du: FloatArray,
  dk: FloatArray,
  dv: FloatArray,
  dy: FloatArray,
  k: FloatArray,
  v: FloatArray,
  timeDecay: FloatArray,
  timeFirst: FloatArray,
  B: number,
  T: number,
  C: number,
): void {
  const ys = new Float64Array(T); // y_t
  const zs = new Float64Array(T); // 1 / D̃_t, where D_t = D̃_t · e^(no_t)
  const nos = new Float64Array(T); // no_t, the exponent of D_t's scale
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < C; c++) {
      const w = -Math.exp(timeDecay[c]), u = timeFirst[c];
      let gw = 0, gu = 0;
      let aa = 0, bb = 0, pp = WKV_EMPTY_PP;
      let daa = 0, dbb = 0; // ∂a/∂w, ∂b/∂w in the scale e^pp
      for (let t = 0; t < T; t++) {
        const i = (b * T + t) * C + c;
        const kk = k[i], vv = v[i], g = dy[i];
        let no = Math.max(pp, u + kk);
        let A = Math.exp(pp - no), E = Math.exp(u + kk - no);
        const z = 1 / (A * bb + E);
        const yt = (A * aa + E * vv) * z;
        ys[t] = yt;
        zs[t] = z;
        nos[t] = no;
        gw += g * (daa - dbb * yt) * z * A;
        gu += g * (vv - yt) * E * z;
        no = Math.max(w + pp, kk);
        A = Math.exp(w + pp - no);
        E = Math.exp(kk - no);
        daa = A * (aa + daa);
        dbb = A * (bb + dbb);
        aa = A * aa + E * vv;
        bb = A * bb + E;
        pp = no;
      }
      // Backward sweep: alpha = ga·e^o, beta = gb·e^o hold the sums over later positions.
      let ga = 0, gb = 0, o = WKV_EMPTY_PP;
      for (let t = T - 1; t >= 0; t--) {
        const i = (b * T + t) * C + c;
        const kk = k[i], vv = v[i], g = dy[i], yt = ys[t];
        const direct = g * zs[t] * Math.exp(u + kk - nos[t]); // g·e^(u+k)/D
        const later = Math.exp(kk + o); // e^k in alpha's scale
        dk[i] += direct * (vv - yt) + later * (ga * vv - gb);
        dv[i] += direct + later * ga;
        // Fold position t into alpha/beta: alpha_{t−1} = g_t/D_t + e^w·alpha_t.
        const no = Math.max(w + o, -nos[t]);
        const A = Math.exp(w + o - no);
        const E = g * zs[t] * Math.exp(-nos[t] - no);
        ga = A * ga + E;
        gb = A * gb + E * yt;
        o = no;
      }
      // w = −exp(timeDecay): ∂w/∂timeDecay = w.
      dw[c] += gw * w;
      du[c] += gu;
    }
  }
}
