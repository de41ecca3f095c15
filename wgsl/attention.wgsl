// Causal multi-head self-attention, flash style: one invocation per (query row, head) with an
// online softmax; the backward recomputes probabilities from the saved log-sum-exp. The
// generic kernels for any head size (attention_vec4.wgsl has the faster ones for head sizes
// that are multiples of 4). HS (head size) is a constant, so q and the accumulators live in
// registers. Bindings, uniforms and HS are declared by the host (src/backend/webgpu/attention.ts).
//
// Grouped-query attention: p.NKV key/value heads (p.NKV = p.NH for plain multi-head), rows of
// qkv [B, T, QW] are [q: C | k: KVC | v: KVC] with C = NH·HS, KVC = NKV·HS, QW = C + 2·KVC;
// query head h reads kv head h / (NH / NKV). out [B, T, C], lse [B, NH, T], caches
// [B, Tmax, KVC].
// Dispatch: x over T (64 per group), y over B·NH (B·NKV for the k/v gradients).

fn kv_width() -> u32 { return p.NKV * HS; }
fn row_width() -> u32 { return p.C + 2u * p.NKV * HS; }
// The kv head of query head h.
fn kv_head(h: u32) -> u32 { return h / (p.NH / p.NKV); }

//@kernel attn_forward
@compute @workgroup_size(64)
fn attn_forward(@builtin(global_invocation_id) g: vec3<u32>) {
  let T = p.T; let C = p.C; let NH = p.NH;
  let t = g.x;
  if (t >= T) { return; }
  let b = g.y / NH;
  let h = g.y % NH;
  let QW = row_width();
  let qo = (b * T + t) * QW + h * HS;
  let kvo = C + kv_head(h) * HS;
  var q: array<f32, HS>;
  var acc: array<f32, HS>;
  for (var i = 0u; i < HS; i++) { q[i] = qkv[qo + i] * p.scale; acc[i] = 0.0; }
  var m = -3.402823e38;
  var s = 0.0;
  for (var j = 0u; j <= t; j++) {
    let ko = (b * T + j) * QW + kvo;
    var d = 0.0;
    for (var i = 0u; i < HS; i++) { d += q[i] * qkv[ko + i]; }
    let mn = max(m, d);
    let corr = exp(m - mn);
    let e = exp(d - mn);
    s = s * corr + e;
    let vo = ko + kv_width();
    for (var i = 0u; i < HS; i++) { acc[i] = acc[i] * corr + e * qkv[vo + i]; }
    m = mn;
  }
  let oo = (b * T + t) * C + h * HS;
  let inv = 1.0 / s;
  for (var i = 0u; i < HS; i++) { out[oo + i] = acc[i] * inv; }
  lse[(b * NH + h) * T + t] = m + log(s);
}

//@kernel attn_backward_q
// dqkv (+=) for q: one invocation per query row.
@compute @workgroup_size(64)
fn attn_backward_q(@builtin(global_invocation_id) g: vec3<u32>) {
  let T = p.T; let C = p.C; let NH = p.NH;
  let scale = p.scale;
  let t = g.x;
  if (t >= T) { return; }
  let b = g.y / NH;
  let h = g.y % NH;
  let QW = row_width();
  let qo = (b * T + t) * QW + h * HS;
  let kvo = C + kv_head(h) * HS;
  let oo = (b * T + t) * C + h * HS;
  var q: array<f32, HS>;
  var go: array<f32, HS>;
  var dq: array<f32, HS>;
  var D = 0.0;
  for (var i = 0u; i < HS; i++) {
    q[i] = qkv[qo + i] * scale;
    go[i] = dout[oo + i];
    D += go[i] * out[oo + i];
    dq[i] = 0.0;
  }
  let l = lse[(b * NH + h) * T + t];
  for (var j = 0u; j <= t; j++) {
    let ko = (b * T + j) * QW + kvo;
    let vo = ko + kv_width();
    var s = 0.0;
    var dp = 0.0;
    for (var i = 0u; i < HS; i++) {
      s += q[i] * qkv[ko + i];
      dp += go[i] * qkv[vo + i];
    }
    let ds = exp(s - l) * (dp - D);
    for (var i = 0u; i < HS; i++) { dq[i] += ds * qkv[ko + i]; }
  }
  for (var i = 0u; i < HS; i++) { dqkv[qo + i] = dqkv[qo + i] + dq[i] * scale; }
}

//@kernel attn_backward_kv
// dqkv (+=) for k and v: one invocation per key row j of a kv head, looping over the query
// heads of its group and their queries t ≥ j (a fixed order: no atomics).
@compute @workgroup_size(64)
fn attn_backward_kv(@builtin(global_invocation_id) g: vec3<u32>) {
  let T = p.T; let C = p.C; let NH = p.NH; let NKV = p.NKV;
  let scale = p.scale;
  let j = g.x;
  if (j >= T) { return; }
  let b = g.y / NKV;
  let kh = g.y % NKV;
  let G = NH / NKV;
  let QW = row_width();
  let ko = (b * T + j) * QW + C + kh * HS;
  let vo = ko + kv_width();
  var k: array<f32, HS>;
  var v: array<f32, HS>;
  var dk: array<f32, HS>;
  var dv: array<f32, HS>;
  for (var i = 0u; i < HS; i++) {
    k[i] = qkv[ko + i] * scale;
    v[i] = qkv[vo + i];
    dk[i] = 0.0;
    dv[i] = 0.0;
  }
  for (var h = kh * G; h < (kh + 1u) * G; h++) {
    for (var t = j; t < T; t++) {
      let qo = (b * T + t) * QW + h * HS;
      let oo = (b * T + t) * C + h * HS;
      var s = 0.0;
      var dp = 0.0;
      var D = 0.0;
      for (var i = 0u; i < HS; i++) {
        let d = dout[oo + i];
        s += k[i] * qkv[qo + i];
        dp += d * v[i];
        D += d * out[oo + i];
      }
      let pr = exp(s - lse[(b * NH + h) * T + t]);
      let ds = pr * (dp - D) * scale;
      for (var i = 0u; i < HS; i++) {
        dv[i] += pr * dout[oo + i];
        dk[i] += ds * qkv[qo + i];
      }
    }
  }
  for (var i = 0u; i < HS; i++) {
    dqkv[ko + i] = dqkv[ko + i] + dk[i];
    dqkv[vo + i] = dqkv[vo + i] + dv[i];
  }
}

//@kernel cache_append
// Appends the k and v of qkv [B, T, QW] at positions pos … pos+T−1 of the caches [B, Tmax, KVC].
@compute @workgroup_size(64)
fn cache_append(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let B = p.B; let T = p.T; let C = p.C;
  let pos = p.pos; let Tmax = p.Tmax;
  let KVC = kv_width();
  let QW = row_width();
  for (var i = g.x; i < B * T * KVC; i += nwg.x * 64u) {
    let c = i % KVC;
    let bt = i / KVC;
    let t = bt % T;
    let b = bt / T;
    let dst = (b * Tmax + pos + t) * KVC + c;
    kCache[dst] = qkv[bt * QW + C + c];
    vCache[dst] = qkv[bt * QW + C + KVC + c];
  }
}

//@kernel attn_cached
// Attention over the caches: query t sees positions 0 … pos+t.
@compute @workgroup_size(64)
fn attn_cached(@builtin(global_invocation_id) g: vec3<u32>) {
  let T = p.T; let C = p.C; let NH = p.NH;
  let pos = p.pos; let Tmax = p.Tmax;
  let t = g.x;
  if (t >= T) { return; }
  let b = g.y / NH;
  let h = g.y % NH;
  let KVC = kv_width();
  let qo = (b * T + t) * row_width() + h * HS;
  let kvo = kv_head(h) * HS;
  var q: array<f32, HS>;
  var acc: array<f32, HS>;
  for (var i = 0u; i < HS; i++) { q[i] = qkv[qo + i] * p.scale; acc[i] = 0.0; }
  var m = -3.402823e38;
  var s = 0.0;
  for (var j = 0u; j <= pos + t; j++) {
    let ko = (b * Tmax + j) * KVC + kvo;
    var d = 0.0;
    for (var i = 0u; i < HS; i++) { d += q[i] * kCache[ko + i]; }
    let mn = max(m, d);
    let corr = exp(m - mn);
    let e = exp(d - mn);
    s = s * corr + e;
    for (var i = 0u; i < HS; i++) { acc[i] = acc[i] * corr + e * vCache[ko + i]; }
    m = mn;
  }
  let oo = (b * T + t) * C + h * HS;
  for (var i = 0u; i < HS; i++) { out[oo + i] = acc[i] / s; }
}
