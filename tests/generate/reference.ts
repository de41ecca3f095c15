/**
 * Independent float64 reference forwards of GPT-2, RWKV-4 and RWKV-6, written straight from the
 * papers' equations (no Backend, no shared code), for the tests to check the inference
 * models and real checkpoints against. (Llama's is `tests/_llama_reference.ts`.)
 */

type W = Map<string, { shape: readonly number[]; data: Float32Array }>;

function get(w: W, name: string): Float32Array {
  const t = w.get(name);
  if (!t) throw new Error(`reference: missing ${name}`);
  return t.data;
}

function layerNorm(x: Float64Array, g: Float32Array, b: Float32Array, eps: number): Float64Array {
  const n = x.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += x[i];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (x[i] - mean) ** 2;
  v /= n;
  const r = 1 / Math.sqrt(v + eps);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = (x[i] - mean) * r * g[i] + b[i];
  return out;
}

/** y = x·W + b with W stored [in, out] (HF Conv1D). */
function conv1d(x: Float64Array, w: Float32Array, b: Float32Array | null, nOut: number) {
  const y = new Float64Array(nOut);
  for (let o = 0; o < nOut; o++) y[o] = b ? b[o] : 0;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i];
    for (let o = 0; o < nOut; o++) y[o] += xi * w[i * nOut + o];
  }
  return y;
}

/** y = W·x with W stored [out, in] (PyTorch Linear). */
function linear(x: Float64Array, w: Float32Array, nOut: number) {
  const y = new Float64Array(nOut);
  const n = x.length;
  for (let o = 0; o < nOut; o++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += w[o * n + i] * x[i];
    y[o] = s;
  }
  return y;
}

const geluNew = (x: number) =>
  0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/**
 * GPT-2 logits for every position of `ids` ([T][V]). `lastAttention`, when given, receives
 * the last block's attention weights of the last position, per head; `hidden`, the output of
 * the final LayerNorm at every position (`[T][C]`, what the head multiplies).
 */
export function gpt2Reference(
  w: W,
  cfg: {
    nLayer: number;
    nHead: number;
    dModel: number;
    vocabSize: number;
    layerNormEps: number;
    mlpDim: number;
  },
  ids: number[],
  lastAttention?: number[][],
  hidden?: Float64Array[],
): Float64Array[] {
  const C = cfg.dModel, H = cfg.nHead, hs = C / H, T = ids.length;
  const wte = get(w, "wte.weight"), wpe = get(w, "wpe.weight");
  let xs = ids.map((id, t) => {
    const x = new Float64Array(C);
    for (let c = 0; c < C; c++) x[c] = wte[id * C + c] + wpe[t * C + c];
    return x;
  });
  for (let l = 0; l < cfg.nLayer; l++) {
    const p = `h.${l}.`;
    const qkv = xs.map((x) =>
      conv1d(
        layerNorm(x, get(w, p + "ln_1.weight"), get(w, p + "ln_1.bias"), cfg.layerNormEps),
        get(w, p + "attn.c_attn.weight"),
        get(w, p + "attn.c_attn.bias"),
        3 * C,
      )
    );
    const att = xs.map(() => new Float64Array(C));
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const scores: number[] = [];
        for (let s = 0; s <= t; s++) {
          let d = 0;
          for (let e = 0; e < hs; e++) d += qkv[t][h * hs + e] * qkv[s][C + h * hs + e];
          scores.push(d / Math.sqrt(hs));
        }
        const m = Math.max(...scores);
        const ex = scores.map((s) => Math.exp(s - m));
        const z = ex.reduce((a, b) => a + b, 0);
        if (lastAttention && l === cfg.nLayer - 1 && t === T - 1) {
          lastAttention[h] = ex.map((e) => e / z);
        }
        for (let s = 0; s <= t; s++) {
          for (let e = 0; e < hs; e++) att[t][h * hs + e] += ex[s] / z * qkv[s][2 * C + h * hs + e];
        }
      }
    }
    xs = xs.map((x, t) => {
      const proj = conv1d(
        att[t],
        get(w, p + "attn.c_proj.weight"),
        get(w, p + "attn.c_proj.bias"),
        C,
      );
      const x1 = x.map((v, c) => v + proj[c]);
      const ln = layerNorm(
        x1,
        get(w, p + "ln_2.weight"),
        get(w, p + "ln_2.bias"),
        cfg.layerNormEps,
      );
      const hmid = conv1d(
        ln,
        get(w, p + "mlp.c_fc.weight"),
        get(w, p + "mlp.c_fc.bias"),
        cfg.mlpDim,
      )
        .map(geluNew);
      const m2 = conv1d(hmid, get(w, p + "mlp.c_proj.weight"), get(w, p + "mlp.c_proj.bias"), C);
      return x1.map((v, c) => v + m2[c]);
    });
  }
  return xs.map((x) => {
    const ln = layerNorm(x, get(w, "ln_f.weight"), get(w, "ln_f.bias"), cfg.layerNormEps);
    hidden?.push(ln);
    return linear(ln, wte, cfg.vocabSize);
  });
}

/**
 * RWKV-4 logits after each token of `ids` ([T][V]), as an RNN from the zero state; `hidden`,
 * when given, receives the output of `ln_out` at every position (`[T][C]`).
 */
export function rwkv4Reference(
  w: W,
  cfg: { nLayer: number; dModel: number; vocabSize: number; ffnDim: number; layerNormEps: number },
  ids: number[],
  hidden?: Float64Array[],
): Float64Array[] {
  const C = cfg.dModel, L = cfg.nLayer, eps = cfg.layerNormEps;
  const attPrev: Float64Array[] = Array.from({ length: L }, () => new Float64Array(C));
  const ffnPrev: Float64Array[] = Array.from({ length: L }, () => new Float64Array(C));
  const aa = Array.from({ length: L }, () => new Float64Array(C));
  const bb = Array.from({ length: L }, () => new Float64Array(C));
  const pp = Array.from({ length: L }, () => new Float64Array(C).fill(-1e30));
  const emb = get(w, "emb.weight");
  const out: Float64Array[] = [];
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  for (const id of ids) {
    let x = layerNorm(
      Float64Array.from(emb.subarray(id * C, id * C + C)),
      get(w, "blocks.0.ln0.weight"),
      get(w, "blocks.0.ln0.bias"),
      eps,
    );
    for (let l = 0; l < L; l++) {
      const p = `blocks.${l}.`;
      const xx = layerNorm(x, get(w, p + "ln1.weight"), get(w, p + "ln1.bias"), eps);
      const mix = (name: string, prev: Float64Array) => {
        const m = get(w, p + name);
        return xx.map((v, c) => v * m[c] + prev[c] * (1 - m[c]));
      };
      const k = linear(mix("att.time_mix_k", attPrev[l]), get(w, p + "att.key.weight"), C);
      const v = linear(mix("att.time_mix_v", attPrev[l]), get(w, p + "att.value.weight"), C);
      const r = linear(mix("att.time_mix_r", attPrev[l]), get(w, p + "att.receptance.weight"), C)
        .map(sig);
      attPrev[l] = xx;
      const u = get(w, p + "att.time_first"), wd = get(w, p + "att.time_decay");
      const y = new Float64Array(C);
      for (let c = 0; c < C; c++) {
        const ww = u[c] + k[c];
        const q = Math.max(pp[l][c], ww);
        const e1 = Math.exp(pp[l][c] - q), e2 = Math.exp(ww - q);
        y[c] = r[c] * (e1 * aa[l][c] + e2 * v[c]) / (e1 * bb[l][c] + e2);
        const ww2 = pp[l][c] - Math.exp(wd[c]);
        const q2 = Math.max(ww2, k[c]);
        const f1 = Math.exp(ww2 - q2), f2 = Math.exp(k[c] - q2);
        aa[l][c] = f1 * aa[l][c] + f2 * v[c];
        bb[l][c] = f1 * bb[l][c] + f2;
        pp[l][c] = q2;
      }
      const o = linear(y, get(w, p + "att.output.weight"), C);
      x = x.map((val, c) => val + o[c]);
      const x2 = layerNorm(x, get(w, p + "ln2.weight"), get(w, p + "ln2.bias"), eps);
      const fm = (name: string) => {
        const m = get(w, p + name);
        return x2.map((val, c) => val * m[c] + ffnPrev[l][c] * (1 - m[c]));
      };
      const fk = linear(fm("ffn.time_mix_k"), get(w, p + "ffn.key.weight"), cfg.ffnDim)
        .map((val) => Math.max(val, 0) ** 2);
      const fr = linear(fm("ffn.time_mix_r"), get(w, p + "ffn.receptance.weight"), C).map(sig);
      ffnPrev[l] = x2;
      const kv = linear(fk, get(w, p + "ffn.value.weight"), C);
      x = x.map((val, c) => val + fr[c] * kv[c]);
    }
    const ln = layerNorm(x, get(w, "ln_out.weight"), get(w, "ln_out.bias"), eps);
    hidden?.push(ln);
    out.push(linear(ln, get(w, "head.weight"), cfg.vocabSize));
  }
  return out;
}

/**
 * RWKV-6 ("Finch", BlinkDL's x060) logits after each token of `ids` ([T][V]), as an RNN from
 * the zero state, from BlinkDL's published equations and `.pth` names and shapes:
 * data-dependent token shift (`time_maa_*`, `time_maa_w1 [C, 5·D]`, `time_maa_w2 [5, D, C]`
 * with tanh), data-dependent decay `exp(−exp(time_decay + tanh(x_w·time_decay_w1)·
 * time_decay_w2))`, bonus `time_faaaa [H, N]`, `ln_x` group norm per head, SiLU gate, and the
 * channel mix with `ffn.time_maa_k/r`.
 */
export function rwkv6Reference(
  w: W,
  cfg: {
    nLayer: number;
    dModel: number;
    vocabSize: number;
    ffnDim: number;
    headSize: number;
    layerNormEps: number;
    groupNormEps: number;
    mixLowRank?: number;
    decayLowRank?: number;
  },
  ids: number[],
): Float64Array[] {
  const C = cfg.dModel, L = cfg.nLayer, N = cfg.headSize, H = C / N, eps = cfg.layerNormEps;
  const D = cfg.mixLowRank!, D2 = cfg.decayLowRank!;
  const zeros = (): Float64Array[] => Array.from({ length: L }, () => new Float64Array(C));
  const attPrev = zeros(), ffnPrev = zeros();
  const S = Array.from({ length: L }, () => new Float64Array(H * N * N)); // [h][i key][j value]
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const out: Float64Array[] = [];
  for (const id of ids) {
    const emb = get(w, "emb.weight").subarray(id * C, id * C + C);
    let x = layerNorm(
      Float64Array.from(emb),
      get(w, "blocks.0.ln0.weight"),
      get(w, "blocks.0.ln0.bias"),
      eps,
    );
    for (let l = 0; l < L; l++) {
      const p = `blocks.${l}.att.`, q = `blocks.${l}.`;
      const xa = layerNorm(x, get(w, q + "ln1.weight"), get(w, q + "ln1.bias"), eps);
      const sx = xa.map((v, c) => attPrev[l][c] - v);
      attPrev[l] = xa;
      const maaX = get(w, p + "time_maa_x");
      const xxx = xa.map((v, c) => v + sx[c] * maaX[c]);
      const w1 = get(w, p + "time_maa_w1"), w2 = get(w, p + "time_maa_w2");
      const mixed: Float64Array[] = ["w", "k", "v", "r", "g"].map((name, m) => {
        const hidden = new Float64Array(D);
        for (let d = 0; d < D; d++) {
          let a = 0;
          for (let c = 0; c < C; c++) a += xxx[c] * w1[c * 5 * D + m * D + d];
          hidden[d] = Math.tanh(a);
        }
        const maa = get(w, p + `time_maa_${name}`);
        return xa.map((v, c) => {
          let delta = 0;
          for (let d = 0; d < D; d++) delta += hidden[d] * w2[(m * D + d) * C + c];
          return v + sx[c] * (maa[c] + delta);
        });
      });
      const [xw, xk, xv, xr, xg] = mixed;
      const r = linear(xr, get(w, p + "receptance.weight"), C);
      const k = linear(xk, get(w, p + "key.weight"), C);
      const v = linear(xv, get(w, p + "value.weight"), C);
      const g = linear(xg, get(w, p + "gate.weight"), C).map((z) => z * sig(z));
      const dw1 = get(w, p + "time_decay_w1"), dw2 = get(w, p + "time_decay_w2");
      const td = get(w, p + "time_decay"), u = get(w, p + "time_faaaa");
      const dh = new Float64Array(D2);
      for (let e = 0; e < D2; e++) {
        let a = 0;
        for (let c = 0; c < C; c++) a += xw[c] * dw1[c * D2 + e];
        dh[e] = Math.tanh(a);
      }
      const decay = new Float64Array(C);
      for (let c = 0; c < C; c++) {
        let a = td[c];
        for (let e = 0; e < D2; e++) a += dh[e] * dw2[e * C + c];
        decay[c] = Math.exp(-Math.exp(a));
      }
      const y = new Float64Array(C);
      for (let h = 0; h < H; h++) {
        const st = S[l].subarray(h * N * N, (h + 1) * N * N);
        for (let j = 0; j < N; j++) {
          let acc = 0;
          for (let i = 0; i < N; i++) {
            acc += r[h * N + i] * (st[i * N + j] + u[h * N + i] * k[h * N + i] * v[h * N + j]);
          }
          y[h * N + j] = acc;
        }
        for (let i = 0; i < N; i++) {
          for (let j = 0; j < N; j++) {
            st[i * N + j] = decay[h * N + i] * st[i * N + j] + k[h * N + i] * v[h * N + j];
          }
        }
      }
      const lnW = get(w, p + "ln_x.weight"), lnB = get(w, p + "ln_x.bias");
      const o = new Float64Array(C);
      for (let h = 0; h < H; h++) {
        const part = y.subarray(h * N, (h + 1) * N);
        const mean = part.reduce((a, b) => a + b, 0) / N;
        const varr = part.reduce((a, b) => a + (b - mean) ** 2, 0) / N;
        for (let j = 0; j < N; j++) {
          const c = h * N + j;
          o[c] = ((part[j] - mean) / Math.sqrt(varr + cfg.groupNormEps) * lnW[c] + lnB[c]) * g[c];
        }
      }
      const att = linear(o, get(w, p + "output.weight"), C);
      x = x.map((val, c) => val + att[c]);
      const xb = layerNorm(x, get(w, q + "ln2.weight"), get(w, q + "ln2.bias"), eps);
      const fk = get(w, q + "ffn.time_maa_k"), fr = get(w, q + "ffn.time_maa_r");
      const kIn = xb.map((val, c) => val + (ffnPrev[l][c] - val) * fk[c]);
      const rIn = xb.map((val, c) => val + (ffnPrev[l][c] - val) * fr[c]);
      ffnPrev[l] = xb;
      const kk = linear(kIn, get(w, q + "ffn.key.weight"), cfg.ffnDim)
        .map((val) => Math.max(val, 0) ** 2);
      const rr = linear(rIn, get(w, q + "ffn.receptance.weight"), C).map(sig);
      const kv = linear(kk, get(w, q + "ffn.value.weight"), C);
      x = x.map((val, c) => val + rr[c] * kv[c]);
    }
    const ln = layerNorm(x, get(w, "ln_out.weight"), get(w, "ln_out.bias"), eps);
    out.push(linear(ln, get(w, "head.weight"), cfg.vocabSize));
  }
  return out;
}

/** Largest absolute difference. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
