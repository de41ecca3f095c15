// Causal multi-head self-attention for head sizes that are multiples of 4 (the common case):
// the flash-style algorithm of attention.wgsl, but q, k, v, out are read as vec4, every
// per-head vector lives in named vec4 variables, and each invocation handles R consecutive
// query rows (forward, dq) or key rows (dk, dv), so each k/v (or q/dout) load serves R rows.
//
// This file is a template: the host expands each `//@REPEAT x < N: …` line N times with {x}
// = 0 … N−1 (nested markers expand in turn; HS4 = headDim / 4). On llvmpipe, loops over
// private arrays are spilled to memory; straight-line code over named variables is not.
//
// Grouped-query attention as in attention.wgsl: qkv [B, T, QW] with rows [q: C | k: KVC |
// v: KVC] (KVC = NKV·headDim, QW = C + 2·KVC; in vec4 units QW4, C4, KVC4), query head h
// reads kv head h / (NH / NKV). out [B, T, C] (vec4), lse and dsum [B, NH, T] (f32).
// p.blocks = blocks of R rows per head, p.scale = 1/√headDim. Bindings, uniforms, HS4 and R
// are declared by the host (src/backend/webgpu/attention.ts).
// Dispatch: one invocation per (b, h, block) — per (b, kv head, block) for the k/v gradients —
// 64 per workgroup, flattened on x.

fn kv_width4() -> u32 { return p.NKV * HS4; }
fn row_width4() -> u32 { return p.C / 4u + 2u * p.NKV * HS4; }
// Offset of the k part of query head h in a qkv row (vec4 units).
fn k_offset4(h: u32) -> u32 { return p.C / 4u + h / (p.NH / p.NKV) * HS4; }

//@kernel attn4_forward
@compute @workgroup_size(64)
fn attn4_forward(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.B; let T = p.T; let C = p.C; let NH = p.NH;
  let blocks = p.blocks;
  if (g.x >= B * NH * blocks) { return; }
  let bh = g.x / blocks;
  let b = bh / NH;
  let h = bh % NH;
  let t0 = (g.x % blocks) * R;
  let C4 = C / 4u;
  let QW4 = row_width4();
  let kvo = k_offset4(h);
  let scale = p.scale;
  let last = min(t0 + R - 1u, T - 1u);
  //@REPEAT r < R: let qo{r} = (b * T + min(t0 + {r}u, T - 1u)) * QW4 + h * HS4;
  //@REPEAT r < R: //@REPEAT i < HS4: let q{r}_{i} = qkv[qo{r} + {i}u] * scale;
  //@REPEAT r < R: //@REPEAT i < HS4: var acc{r}_{i} = vec4<f32>(0.0);
  //@REPEAT r < R: var m{r} = -3.402823e38;
  //@REPEAT r < R: var s{r} = 0.0;
  for (var j = 0u; j <= last; j++) {
    let ko = (b * T + j) * QW4 + kvo;
    let vo = ko + kv_width4();
    //@REPEAT i < HS4: let k{i} = qkv[ko + {i}u];
    //@REPEAT r < R: var d{r} = 0.0;
    //@REPEAT r < R: //@REPEAT i < HS4: d{r} += dot(q{r}_{i}, k{i});
    //@REPEAT r < R: let ok{r} = j <= t0 + {r}u;
    //@REPEAT r < R: let mn{r} = select(m{r}, max(m{r}, d{r}), ok{r});
    //@REPEAT r < R: let corr{r} = exp(m{r} - mn{r});
    //@REPEAT r < R: let e{r} = select(0.0, exp(d{r} - mn{r}), ok{r});
    //@REPEAT r < R: s{r} = s{r} * corr{r} + e{r};
    //@REPEAT r < R: m{r} = mn{r};
    //@REPEAT i < HS4: let v{i} = qkv[vo + {i}u];
    //@REPEAT r < R: //@REPEAT i < HS4: acc{r}_{i} = acc{r}_{i} * corr{r} + e{r} * v{i};
  }
  //@REPEAT r < R: if (t0 + {r}u < T) { lse[bh * T + t0 + {r}u] = m{r} + log(s{r}); }
  //@REPEAT r < R: let oo{r} = (b * T + min(t0 + {r}u, T - 1u)) * C4 + h * HS4;
  //@REPEAT r < R: //@REPEAT i < HS4: if (t0 + {r}u < T) { out[oo{r} + {i}u] = acc{r}_{i} / s{r}; }
}

//@kernel attn4_backward_q
// dqkv (+=) for q, and dsum (D = Σ dout·out per row) for the kv pass: R query rows.
@compute @workgroup_size(64)
fn attn4_backward_q(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.B; let T = p.T; let C = p.C; let NH = p.NH;
  let blocks = p.blocks;
  if (g.x >= B * NH * blocks) { return; }
  let bh = g.x / blocks;
  let b = bh / NH;
  let h = bh % NH;
  let t0 = (g.x % blocks) * R;
  let C4 = C / 4u;
  let QW4 = row_width4();
  let kvo = k_offset4(h);
  let scale = p.scale;
  let last = min(t0 + R - 1u, T - 1u);
  //@REPEAT r < R: let tr{r} = min(t0 + {r}u, T - 1u);
  //@REPEAT r < R: let qo{r} = (b * T + tr{r}) * QW4 + h * HS4;
  //@REPEAT r < R: let oo{r} = (b * T + tr{r}) * C4 + h * HS4;
  //@REPEAT r < R: //@REPEAT i < HS4: let q{r}_{i} = qkv[qo{r} + {i}u] * scale;
  //@REPEAT r < R: //@REPEAT i < HS4: let go{r}_{i} = dout[oo{r} + {i}u];
  //@REPEAT r < R: //@REPEAT i < HS4: var dq{r}_{i} = vec4<f32>(0.0);
  //@REPEAT r < R: var D{r} = 0.0;
  //@REPEAT r < R: //@REPEAT i < HS4: D{r} += dot(go{r}_{i}, out[oo{r} + {i}u]);
  //@REPEAT r < R: if (t0 + {r}u < T) { dsum[bh * T + t0 + {r}u] = D{r}; }
  //@REPEAT r < R: let l{r} = lse[bh * T + tr{r}];
  for (var j = 0u; j <= last; j++) {
    let ko = (b * T + j) * QW4 + kvo;
    let vo = ko + kv_width4();
    //@REPEAT i < HS4: let k{i} = qkv[ko + {i}u];
    //@REPEAT i < HS4: let v{i} = qkv[vo + {i}u];
    //@REPEAT r < R: var s{r} = 0.0;
    //@REPEAT r < R: var dp{r} = 0.0;
    //@REPEAT r < R: //@REPEAT i < HS4: s{r} += dot(q{r}_{i}, k{i});
    //@REPEAT r < R: //@REPEAT i < HS4: dp{r} += dot(go{r}_{i}, v{i});
    //@REPEAT r < R: let ds{r} = select(0.0, exp(s{r} - l{r}) * (dp{r} - D{r}), j <= t0 + {r}u);
    //@REPEAT r < R: //@REPEAT i < HS4: dq{r}_{i} += ds{r} * k{i};
  }
  //@REPEAT r < R: //@REPEAT i < HS4: if (t0 + {r}u < T) { dqkv[qo{r} + {i}u] += dq{r}_{i} * scale; }
}

//@kernel attn4_backward_kv
// dqkv (+=) for k and v: R key rows of one kv head, looping over the query heads of its group
// and their queries t ≥ j (a fixed order: no atomics).
@compute @workgroup_size(64)
fn attn4_backward_kv(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.B; let T = p.T; let NH = p.NH; let NKV = p.NKV;
  let blocks = p.blocks;
  if (g.x >= B * NKV * blocks) { return; }
  let bk = g.x / blocks;
  let b = bk / NKV;
  let kh = bk % NKV;
  let G = NH / NKV;
  let j0 = (g.x % blocks) * R;
  let C4 = p.C / 4u;
  let QW4 = row_width4();
  let KVC4 = kv_width4();
  let scale = p.scale;
  //@REPEAT r < R: let ko{r} = (b * T + min(j0 + {r}u, T - 1u)) * QW4 + C4 + kh * HS4;
  //@REPEAT r < R: //@REPEAT i < HS4: let k{r}_{i} = qkv[ko{r} + {i}u] * scale;
  //@REPEAT r < R: //@REPEAT i < HS4: let v{r}_{i} = qkv[ko{r} + KVC4 + {i}u];
  //@REPEAT r < R: //@REPEAT i < HS4: var dk{r}_{i} = vec4<f32>(0.0);
  //@REPEAT r < R: //@REPEAT i < HS4: var dv{r}_{i} = vec4<f32>(0.0);
  for (var h = kh * G; h < (kh + 1u) * G; h++) {
    for (var t = j0; t < T; t++) {
      let qo = (b * T + t) * QW4 + h * HS4;
      let oo = (b * T + t) * C4 + h * HS4;
      let row = (b * NH + h) * T + t;
      let l = lse[row];
      let D = dsum[row];
      //@REPEAT i < HS4: let q{i} = qkv[qo + {i}u];
      //@REPEAT i < HS4: let go{i} = dout[oo + {i}u];
      //@REPEAT r < R: var s{r} = 0.0;
      //@REPEAT r < R: var dp{r} = 0.0;
      //@REPEAT r < R: //@REPEAT i < HS4: s{r} += dot(k{r}_{i}, q{i});
      //@REPEAT r < R: //@REPEAT i < HS4: dp{r} += dot(go{i}, v{r}_{i});
      //@REPEAT r < R: let pr{r} = select(0.0, exp(s{r} - l), t >= j0 + {r}u);
      //@REPEAT r < R: let ds{r} = pr{r} * (dp{r} - D) * scale;
      //@REPEAT r < R: //@REPEAT i < HS4: dv{r}_{i} += pr{r} * go{i};
      //@REPEAT r < R: //@REPEAT i < HS4: dk{r}_{i} += ds{r} * q{i};
    }
  }
  //@REPEAT r < R: //@REPEAT i < HS4: if (j0 + {r}u < T) { dqkv[ko{r} + {i}u] += dk{r}_{i}; }
  //@REPEAT r < R: //@REPEAT i < HS4: if (j0 + {r}u < T) { dqkv[ko{r} + KVC4 + {i}u] += dv{r}_{i}; }
}
