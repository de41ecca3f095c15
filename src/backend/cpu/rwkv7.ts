/**
 * RWKV-7 kernels of the CPU backend (and RWKV-5's inference recurrence): the WKV-7 state
 * update, the key preparation and the output (group norm, bonus, gate), forward and backward.
 * Every reduction runs in float64.
 *
 * WKV-7 per head, state `S [N, N]` (`S[i][j]`: value channel i, key channel j), decay
 * `d = exp(−e^(−0.5)·σ(w))` (BlinkDL's `exp(−exp(−softplus(−w) − 0.5))`):
 * ```
 * S_t = S_{t−1}·diag(d_t) + (S_{t−1}·a_t)·b_tᵀ + v_t·k_tᵀ,   y_t = S_t·r_t
 * ```
 * The backward keeps every `S_t` of one head (T·N² floats) and runs the adjoint
 * `dS_{t−1} = dS_t·diag(d_t) + (dS_t·b_t)·a_tᵀ` back in time.
 *
 * @module
 */
import type { FloatArray } from "./tensor.ts";

/** e^(−0.5): RWKV-7's decay is `exp(−e^(−0.5)·σ(w))`, between 0.545 and 1. */
export const WKV7_DECAY_SCALE = Math.exp(-0.5);

/** The L2 norm floor of the key normalisation (PyTorch `F.normalize`'s eps). */
export const RWKV7_NORM_EPS = 1e-12;

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** WKV-7 forward; `state [B, H, N, N]` (or null = zero) is read and overwritten. */
export function wkv7(
  y: FloatArray,
  r: FloatArray,
  w: FloatArray,
  k: FloatArray,
  v: FloatArray,
  a: FloatArray,
  b: FloatArray,
  state: FloatArray | null,
  B: number,
  T: number,
  C: number,
  H: number,
): void {
  const N = C / H;
  const S = new Float64Array(N * N), d = new Float64Array(N);
  for (let bb = 0; bb < B; bb++) {
    for (let h = 0; h < H; h++) {
      const so = (bb * H + h) * N * N;
      if (state) { for (let i = 0; i < N * N; i++) S[i] = state[so + i]; }
      else S.fill(0);
      for (let t = 0; t < T; t++) {
        const o = (bb * T + t) * C + h * N;
        for (let j = 0; j < N; j++) d[j] = Math.exp(-WKV7_DECAY_SCALE * sigmoid(w[o + j]));
        for (let i = 0; i < N; i++) {
          const row = i * N;
          let sa = 0;
          for (let j = 0; j < N; j++) sa += S[row + j] * a[o + j];
          const vi = v[o + i];
          let yi = 0;
          for (let j = 0; j < N; j++) {
            const s = S[row + j] * d[j] + sa * b[o + j] + vi * k[o + j];
            S[row + j] = s;
            yi += s * r[o + j];
          }
          y[o + i] = yi;
        }
      }
      if (state) { for (let i = 0; i < N * N; i++) state[so + i] = S[i]; }
    }
  }
}

/** WKV-7 backward from a zero initial state; accumulates every gradient. */
export function wkv7Backward(
  g: {
    dr: FloatArray;
    dw: FloatArray;
    dk: FloatArray;
    dv: FloatArray;
    da: FloatArray;
    db: FloatArray;
    dy: FloatArray;
  },
  r: FloatArray,
  w: FloatArray,
  k: FloatArray,
  v: FloatArray,
  a: FloatArray,
  b: FloatArray,
  B: number,
  T: number,
  C: number,
  H: number,
): void {
  const N = C / H, NN = N * N;
  const states = new Float64Array(T * NN);
  const dS = new Float64Array(NN), d = new Float64Array(N), sa = new Float64Array(N);
  const dsa = new Float64Array(N), zero = new Float64Array(NN);
  const { dr, dw, dk, dv, da, db, dy } = g;
  for (let bb = 0; bb < B; bb++) {
    for (let h = 0; h < H; h++) {
      // Forward sweep: keep S_t for every t.
      for (let t = 0; t < T; t++) {
        const o = (bb * T + t) * C + h * N;
        const prev = t > 0 ? (t - 1) * NN : -1, cur = t * NN;
        for (let j = 0; j < N; j++) d[j] = Math.exp(-WKV7_DECAY_SCALE * sigmoid(w[o + j]));
        for (let i = 0; i < N; i++) {
          let s = 0;
          if (prev >= 0) { for (let j = 0; j < N; j++) s += states[prev + i * N + j] * a[o + j]; }
          const vi = v[o + i];
          for (let j = 0; j < N; j++) {
            const old = prev >= 0 ? states[prev + i * N + j] : 0;
            states[cur + i * N + j] = old * d[j] + s * b[o + j] + vi * k[o + j];
          }
        }
      }
      // Backward sweep.
      dS.fill(0);
      for (let t = T - 1; t >= 0; t--) {
        const o = (bb * T + t) * C + h * N;
        const cur = t * NN;
        const Sp = t > 0 ? states : zero, po = t > 0 ? (t - 1) * NN : 0;
        for (let j = 0; j < N; j++) d[j] = Math.exp(-WKV7_DECAY_SCALE * sigmoid(w[o + j]));
        // y_t = S_t·r_t
        for (let j = 0; j < N; j++) {
          let acc = 0;
          for (let i = 0; i < N; i++) acc += states[cur + i * N + j] * dy[o + i];
          dr[o + j] += acc;
        }
        for (let i = 0; i < N; i++) {
          const gi = dy[o + i];
          for (let j = 0; j < N; j++) dS[i * N + j] += gi * r[o + j];
        }
        // S_t = S_{t−1}·diag(d) + sa·bᵀ + v·kᵀ, sa = S_{t−1}·a
        for (let i = 0; i < N; i++) {
          let s = 0, dvi = 0, ds = 0;
          for (let j = 0; j < N; j++) {
            s += Sp[po + i * N + j] * a[o + j];
            dvi += dS[i * N + j] * k[o + j];
            ds += dS[i * N + j] * b[o + j];
          }
          sa[i] = s;
          dsa[i] = ds;
          dv[o + i] += dvi;
        }
        for (let j = 0; j < N; j++) {
          let dkj = 0, dbj = 0, daj = 0, ddj = 0;
          for (let i = 0; i < N; i++) {
            const gs = dS[i * N + j], sp = Sp[po + i * N + j];
            dkj += gs * v[o + i];
            dbj += gs * sa[i];
            daj += sp * dsa[i];
            ddj += gs * sp;
          }
          dk[o + j] += dkj;
          db[o + j] += dbj;
          da[o + j] += daj;
          const s = sigmoid(w[o + j]);
          dw[o + j] += ddj * d[j] * -WKV7_DECAY_SCALE * s * (1 - s);
        }
        for (let i = 0; i < N; i++) {
          for (let j = 0; j < N; j++) {
            dS[i * N + j] = dS[i * N + j] * d[j] + dsa[i] * a[o + j];
          }
        }
      }
    }
  }
}

/** RWKV-7 key preparation over rows `[n, C]` (see `Backend.rwkv7Keys`). */
export function rwkv7Keys(
  kt: FloatArray,
  na: FloatArray,
  nb: FloatArray,
  k: FloatArray,
  a: FloatArray,
  kK: FloatArray,
  kA: FloatArray,
  C: number,
  H: number,
): void {
  const N = C / H, rows = k.length / C;
  for (let n = 0; n < rows; n++) {
    for (let h = 0; h < H; h++) {
      const o = n * C + h * N, c0 = h * N;
      let ss = 0;
      for (let j = 0; j < N; j++) {
        const q = k[o + j] * kK[c0 + j];
        ss += q * q;
      }
      const inv = 1 / Math.max(Math.sqrt(ss), RWKV7_NORM_EPS);
      for (let j = 0; j < N; j++) {
        const c = c0 + j, q = k[o + j] * kK[c] * inv;
        na[o + j] = -q;
        nb[o + j] = q * a[o + j];
        kt[o + j] = k[o + j] * (1 + (a[o + j] - 1) * kA[c]);
      }
    }
  }
}

/** Backward of {@link rwkv7Keys}; accumulates. */
export function rwkv7KeysBackward(
  g: {
    dk: FloatArray;
    da: FloatArray;
    dkK: FloatArray;
    dkA: FloatArray;
    dkt: FloatArray;
    dna: FloatArray;
    dnb: FloatArray;
  },
  k: FloatArray,
  a: FloatArray,
  kK: FloatArray,
  kA: FloatArray,
  C: number,
  H: number,
): void {
  const { dk, da, dkK, dkA, dkt, dna, dnb } = g;
  const N = C / H, rows = k.length / C;
  const q = new Float64Array(N), dq = new Float64Array(N);
  for (let n = 0; n < rows; n++) {
    for (let h = 0; h < H; h++) {
      const o = n * C + h * N, c0 = h * N;
      let ss = 0;
      for (let j = 0; j < N; j++) {
        q[j] = k[o + j] * kK[c0 + j];
        ss += q[j] * q[j];
      }
      const norm = Math.sqrt(ss), clamped = norm <= RWKV7_NORM_EPS;
      const inv = 1 / Math.max(norm, RWKV7_NORM_EPS);
      let dot = 0;
      for (let j = 0; j < N; j++) {
        const qh = q[j] * inv, aj = a[o + j];
        dq[j] = -dna[o + j] + dnb[o + j] * aj; // ∂/∂κ̂
        dot += qh * dq[j];
        da[o + j] += dnb[o + j] * qh + dkt[o + j] * k[o + j] * kA[c0 + j];
      }
      for (let j = 0; j < N; j++) {
        const c = c0 + j, kj = k[o + j], aj = a[o + j];
        const dqRaw = clamped ? dq[j] * inv : (dq[j] - q[j] * inv * dot) * inv; // ∂/∂κ
        dk[o + j] += dkt[o + j] * (1 + (aj - 1) * kA[c]) + dqRaw * kK[c];
        dkK[c] += dqRaw * kj;
        dkA[c] += dkt[o + j] * kj * (aj - 1);
      }
    }
  }
}

/** RWKV-7 time-mixing output over rows `[n, C]` (see `Backend.rwkv7Output`). */
export function rwkv7Output(
  out: FloatArray,
  y: FloatArray,
  r: FloatArray,
  k: FloatArray,
  v: FloatArray,
  g: FloatArray,
  lnW: FloatArray,
  lnB: FloatArray,
  rK: FloatArray,
  C: number,
  H: number,
  eps: number,
): void {
  const N = C / H, rows = y.length / C;
  for (let n = 0; n < rows; n++) {
    for (let h = 0; h < H; h++) {
      const o = n * C + h * N, c0 = h * N;
      let mean = 0, s = 0;
      for (let j = 0; j < N; j++) {
        mean += y[o + j];
        s += r[o + j] * k[o + j] * rK[c0 + j];
      }
      mean /= N;
      let vr = 0;
      for (let j = 0; j < N; j++) vr += (y[o + j] - mean) ** 2;
      const rstd = 1 / Math.sqrt(vr / N + eps);
      for (let j = 0; j < N; j++) {
        const c = c0 + j;
        const u = (y[o + j] - mean) * rstd * lnW[c] + lnB[c] + s * v[o + j];
        out[o + j] = u * g[o + j];
      }
    }
  }
}

/** Backward of {@link rwkv7Output}; accumulates. */
export function rwkv7OutputBackward(
  d: {
    dy: FloatArray;
    dr: FloatArray;
    dk: FloatArray;
    dv: FloatArray;
    dg: FloatArray;
    dlnW: FloatArray;
    dlnB: FloatArray;
    drK: FloatArray;
    dout: FloatArray;
  },
  y: FloatArray,
  r: FloatArray,
  k: FloatArray,
  v: FloatArray,
  g: FloatArray,
  lnW: FloatArray,
  lnB: FloatArray,
  rK: FloatArray,
  C: number,
  H: number,
  eps: number,
): void {
  const N = C / H, rows = y.length / C;
  const xh = new Float64Array(N), dxh = new Float64Array(N);
  for (let n = 0; n < rows; n++) {
    for (let h = 0; h < H; h++) {
      const o = n * C + h * N, c0 = h * N;
      let mean = 0, s = 0;
      for (let j = 0; j < N; j++) {
        mean += y[o + j];
        s += r[o + j] * k[o + j] * rK[c0 + j];
      }
      mean /= N;
      let vr = 0;
      for (let j = 0; j < N; j++) vr += (y[o + j] - mean) ** 2;
      const rstd = 1 / Math.sqrt(vr / N + eps);
      let ds = 0, m1 = 0, m2 = 0;
      for (let j = 0; j < N; j++) {
        const c = c0 + j;
        xh[j] = (y[o + j] - mean) * rstd;
        const u = xh[j] * lnW[c] + lnB[c] + s * v[o + j];
        const du = d.dout[o + j] * g[o + j];
        d.dg[o + j] += d.dout[o + j] * u;
        d.dlnW[c] += du * xh[j];
        d.dlnB[c] += du;
        d.dv[o + j] += du * s;
        ds += du * v[o + j];
        dxh[j] = du * lnW[c];
        m1 += dxh[j];
        m2 += dxh[j] * xh[j];
      }
      m1 /= N;
      m2 /= N;
      for (let j = 0; j < N; j++) {
        const c = c0 + j;
        d.dy[o + j] += rstd * (dxh[j] - m1 - xh[j] * m2);
        d.dr[o + j] += ds * k[o + j] * rK[c];
        d.dk[o + j] += ds * r[o + j] * rK[c];
        d.drK[c] += ds * r[o + j] * k[o + j];
      }
    }
  }
}

/**
 * RWKV-5's recurrence per head (`S[i][j]`: key channel i, value channel j):
 * `y_j = Σ_i r_i·(S[i][j] + u_i·k_i·v_j)`, then `S[i][j] ← w_i·S[i][j] + k_i·v_j`. With
 * `perToken` (RWKV-6), `decay` is `[B, T, C]` in the raw form: `w_i = exp(−exp(decay[t][i]))`.
 */
export function wkv5(
  y: FloatArray,
  r: FloatArray,
  k: FloatArray,
  v: FloatArray,
  decay: FloatArray,
  perToken: boolean,
  bonus: FloatArray,
  state: FloatArray | null,
  B: number,
  T: number,
  C: number,
  H: number,
): void {
  const N = C / H;
  const S = new Float64Array(N * N), acc = new Float64Array(N);
  for (let bb = 0; bb < B; bb++) {
    for (let h = 0; h < H; h++) {
      const so = (bb * H + h) * N * N, c0 = h * N;
      if (state) { for (let i = 0; i < N * N; i++) S[i] = state[so + i]; }
      else S.fill(0);
      for (let t = 0; t < T; t++) {
        const o = (bb * T + t) * C + c0;
        acc.fill(0);
        for (let i = 0; i < N; i++) {
          const ri = r[o + i], ki = k[o + i], ui = bonus[c0 + i];
          const wi = perToken ? Math.exp(-Math.exp(decay[o + i])) : decay[c0 + i];
          for (let j = 0; j < N; j++) {
            const kv = ki * v[o + j];
            acc[j] += ri * (S[i * N + j] + ui * kv);
            S[i * N + j] = wi * S[i * N + j] + kv;
          }
        }
        for (let j = 0; j < N; j++) y[o + j] = acc[j];
      }
      if (state) { for (let i = 0; i < N * N; i++) state[so + i] = S[i]; }
    }
  }
}
