// An independent float64 forward pass of Hugging Face's LlamaForCausalLM, for tests: written
// from transformers' modeling_llama.py (not from Bentevi's code), plain loops, no backend.
//   h = embed[ids]
//   per layer: h += o_proj(attn(rope(q_proj(n)), rope(k_proj(n)), v_proj(n))), n = rmsnorm(h)
//              h += down_proj(silu(gate_proj(n)) * up_proj(n)),                n = rmsnorm(h)
//   logits = lm_head(rmsnorm(h))   (lm_head = embed_tokens when tied)
// RMSNorm: w · x / sqrt(mean(x²) + eps). RoPE (rotate_half): inv_freq_i = theta^(-2i/d),
// q' = q·cos + rotate_half(q)·sin with cos/sin repeated over both halves, rotate_half(x) =
// [-x2, x1]. Attention: causal softmax(q·k / sqrt(d)) · v; query head h uses KV head
// floor(h / (H / KV)) (repeat_kv).
import type { HfLlamaShape, RefWeights } from "./_hf_llama.ts";

function rmsNorm(x: Float64Array, w: Float64Array, eps: number): Float64Array {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i] * x[i];
  const r = 1 / Math.sqrt(ss / x.length + eps);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = w[i] * (x[i] * r);
  return out;
}

/** y = W x with W `[out, in]` row-major (a torch Linear without bias). */
function linear(w: { shape: number[]; data: Float64Array }, x: Float64Array): Float64Array {
  const [out, inp] = w.shape;
  if (inp !== x.length) throw new Error(`linear: [${w.shape}] · ${x.length}`);
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = 0;
    const row = o * inp;
    for (let i = 0; i < inp; i++) s += w.data[row + i] * x[i];
    y[o] = s;
  }
  return y;
}

/** Rotates each of `heads` heads of `x` (width heads·d) at position `pos`, HF rotate_half. */
function rope(x: Float64Array, heads: number, d: number, pos: number, theta: number): Float64Array {
  const out = new Float64Array(x.length);
  const half = d / 2;
  for (let h = 0; h < heads; h++) {
    const b = h * d;
    for (let i = 0; i < half; i++) {
      const invFreq = 1 / Math.pow(theta, (2 * i) / d);
      const c = Math.cos(pos * invFreq), s = Math.sin(pos * invFreq);
      const x1 = x[b + i], x2 = x[b + half + i];
      out[b + i] = x1 * c - x2 * s;
      out[b + half + i] = x2 * c + x1 * s;
    }
  }
  return out;
}

/**
 * Logits `[T][V]` of every position of `ids`, in float64. `lastAttention`, when given,
 * receives the last layer's attention weights of the last position, per query head;
 * `hidden`, the output of the final RMSNorm at every position (`[T][C]`).
 */
export function llamaReferenceLogits(
  s: HfLlamaShape,
  w: RefWeights,
  ids: readonly number[],
  lastAttention?: number[][],
  hidden?: Float64Array[],
): Float64Array[] {
  const C = s.hidden_size, H = s.num_attention_heads, KV = s.num_key_value_heads;
  const d = s.head_dim ?? C / H;
  const group = H / KV;
  const get = (n: string) => {
    const t = w.get(n);
    if (!t) throw new Error(`reference: no ${n}`);
    return t;
  };
  const emb = get("model.embed_tokens.weight");
  const T = ids.length;
  let hs: Float64Array[] = ids.map((id) => emb.data.slice(id * C, (id + 1) * C));
  for (let l = 0; l < s.num_hidden_layers; l++) {
    const p = `model.layers.${l}`;
    const qs: Float64Array[] = [], ks: Float64Array[] = [], vs: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const n = rmsNorm(hs[t], get(`${p}.input_layernorm.weight`).data, s.rms_norm_eps);
      qs.push(rope(linear(get(`${p}.self_attn.q_proj.weight`), n), H, d, t, s.rope_theta));
      ks.push(rope(linear(get(`${p}.self_attn.k_proj.weight`), n), KV, d, t, s.rope_theta));
      vs.push(linear(get(`${p}.self_attn.v_proj.weight`), n));
    }
    const next: Float64Array[] = [];
    for (let t = 0; t < T; t++) {
      const att = new Float64Array(H * d);
      for (let h = 0; h < H; h++) {
        const kh = Math.floor(h / group);
        const scores = new Float64Array(t + 1);
        let max = -Infinity;
        for (let u = 0; u <= t; u++) {
          let dot = 0;
          for (let i = 0; i < d; i++) dot += qs[t][h * d + i] * ks[u][kh * d + i];
          scores[u] = dot / Math.sqrt(d);
          if (scores[u] > max) max = scores[u];
        }
        let z = 0;
        for (let u = 0; u <= t; u++) z += scores[u] = Math.exp(scores[u] - max);
        if (lastAttention && l === s.num_hidden_layers - 1 && t === T - 1) {
          lastAttention[h] = Array.from(scores, (e) => e / z);
        }
        for (let u = 0; u <= t; u++) {
          const pr = scores[u] / z;
          for (let i = 0; i < d; i++) att[h * d + i] += pr * vs[u][kh * d + i];
        }
      }
      const o = linear(get(`${p}.self_attn.o_proj.weight`), att);
      const x = hs[t].map((v, i) => v + o[i]);
      const n = rmsNorm(x, get(`${p}.post_attention_layernorm.weight`).data, s.rms_norm_eps);
      const g = linear(get(`${p}.mlp.gate_proj.weight`), n);
      const u = linear(get(`${p}.mlp.up_proj.weight`), n);
      const a = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]);
      const dn = linear(get(`${p}.mlp.down_proj.weight`), a);
      next.push(x.map((v, i) => v + dn[i]));
    }
    hs = next;
  }
  const head = s.tie_word_embeddings ? emb : get("lm_head.weight");
  return hs.map((h) => {
    const n = rmsNorm(h, get("model.norm.weight").data, s.rms_norm_eps);
    hidden?.push(n);
    return linear(head, n);
  });
}

/** Largest |a − b| over all logits, and the largest |b| (to scale a tolerance). */
export function maxDiff(a: ArrayLike<number>[], b: ArrayLike<number>[]): {
  diff: number;
  scale: number;
} {
  let diff = 0, scale = 0;
  for (let t = 0; t < b.length; t++) {
    for (let v = 0; v < b[t].length; v++) {
      diff = Math.max(diff, Math.abs(a[t][v] - b[t][v]));
      scale = Math.max(scale, Math.abs(b[t][v]));
    }
  }
  return { diff, scale };
}
