// Causal multi-head self-attention, flash style: one invocation per (query row, head) with an
// online softmax; the backward recomputes probabilities from the saved log-sum-exp.
// qkv [B, T, 3C] (q | k | v), out [B, T, C], lse [B, NH, T]. HS (head size) is substituted
// by the host before compiling, so q and the accumulators live in registers.
// u0 = (B, T, C, NH), f0.x = scale. Dispatch: x over T (64 per group), y over B·NH.

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;
@group(0) @binding(5) var<storage, read_write> b5: array<f32>;

const HS: u32 = 32u;

// b1 out, b2 lse, b3 qkv
@compute @workgroup_size(64)
fn attn_forward(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.u0.x; let T = p.u0.y; let C = p.u0.z; let NH = p.u0.w;
  let t = g.x;
  if (t >= T) { return; }
  let b = g.y / NH;
  let h = g.y % NH;
  let C3 = 3u * C;
  let qo = (b * T + t) * C3 + h * HS;
  var q: array<f32, HS>;
  var acc: array<f32, HS>;
  for (var i = 0u; i < HS; i++) { q[i] = b3[qo + i] * p.f0.x; acc[i] = 0.0; }
  var m = -3.402823e38;
  var s = 0.0;
  for (var j = 0u; j <= t; j++) {
    let ko = (b * T + j) * C3 + C + h * HS;
    var d = 0.0;
    for (var i = 0u; i < HS; i++) { d += q[i] * b3[ko + i]; }
    let mn = max(m, d);
    let corr = exp(m - mn);
    let e = exp(d - mn);
    s = s * corr + e;
    let vo = ko + C;
    for (var i = 0u; i < HS; i++) { acc[i] = acc[i] * corr + e * b3[vo + i]; }
    m = mn;
  }
  let oo = (b * T + t) * C + h * HS;
  let inv = 1.0 / s;
  for (var i = 0u; i < HS; i++) { b1[oo + i] = acc[i] * inv; }
  b2[(b * NH + h) * T + t] = m + log(s);
}

// dq: b1 dqkv (+=), b2 dout, b3 out, b4 lse, b5 qkv. One invocation per query row.
@compute @workgroup_size(64)
fn attn_backward_q(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.u0.x; let T = p.u0.y; let C = p.u0.z; let NH = p.u0.w;
  let scale = p.f0.x;
  let t = g.x;
  if (t >= T) { return; }
  let b = g.y / NH;
  let h = g.y % NH;
  let C3 = 3u * C;
  let qo = (b * T + t) * C3 + h * HS;
  let oo = (b * T + t) * C + h * HS;
  var q: array<f32, HS>;
  var dout: array<f32, HS>;
  var dq: array<f32, HS>;
  var D = 0.0;
  for (var i = 0u; i < HS; i++) {
    q[i] = b5[qo + i] * scale;
    dout[i] = b2[oo + i];
    D += dout[i] * b3[oo + i];
    dq[i] = 0.0;
  }
  let lse = b4[(b * NH + h) * T + t];
  for (var j = 0u; j <= t; j++) {
    let ko = (b * T + j) * C3 + C + h * HS;
    let vo = ko + C;
    var s = 0.0;
    var dp = 0.0;
    for (var i = 0u; i < HS; i++) {
      s += q[i] * b5[ko + i];
      dp += dout[i] * b5[vo + i];
    }
    let ds = exp(s - lse) * (dp - D);
    for (var i = 0u; i < HS; i++) { dq[i] += ds * b5[ko + i]; }
  }
  for (var i = 0u; i < HS; i++) { b1[qo + i] = b1[qo + i] + dq[i] * scale; }
}

// dk, dv: one invocation per key row j, looping over the queries t ≥ j.
@compute @workgroup_size(64)
fn attn_backward_kv(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.u0.x; let T = p.u0.y; let C = p.u0.z; let NH = p.u0.w;
  let scale = p.f0.x;
  let j = g.x;
  if (j >= T) { return; }
  let b = g.y / NH;
  let h = g.y % NH;
  let C3 = 3u * C;
  let ko = (b * T + j) * C3 + C + h * HS;
  let vo = ko + C;
  var k: array<f32, HS>;
  var v: array<f32, HS>;
  var dk: array<f32, HS>;
  var dv: array<f32, HS>;
  for (var i = 0u; i < HS; i++) {
    k[i] = b5[ko + i] * scale;
    v[i] = b5[vo + i];
    dk[i] = 0.0;
    dv[i] = 0.0;
  }
  for (var t = j; t < T; t++) {
    let qo = (b * T + t) * C3 + h * HS;
    let oo = (b * T + t) * C + h * HS;
    var s = 0.0;
    var dp = 0.0;
    var D = 0.0;
    for (var i = 0u; i < HS; i++) {
      let d = b2[oo + i];
      s += k[i] * b5[qo + i];
      dp += d * v[i];
      D += d * b3[oo + i];
    }
    let pr = exp(s - b4[(b * NH + h) * T + t]);
    let ds = pr * (dp - D) * scale;
    for (var i = 0u; i < HS; i++) {
      dv[i] += pr * b2[oo + i];
      dk[i] += ds * b5[qo + i];
    }
  }
  for (var i = 0u; i < HS; i++) {
    b1[ko + i] = b1[ko + i] + dk[i];
    b1[vo + i] = b1[vo + i] + dv[i];
  }
}

// KV-cache append: b1 kCache [B, Tmax, C], b2 vCache, b3 qkv [B, T, 3C]. u1.x = pos, u1.y = Tmax.
@compute @workgroup_size(64)
fn cache_append(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let B = p.u0.x; let T = p.u0.y; let C = p.u0.z;
  let pos = p.u1.x; let Tmax = p.u1.y;
  for (var i = g.x; i < B * T * C; i += nwg.x * 64u) {
    let c = i % C;
    let bt = i / C;
    let t = bt % T;
    let b = bt / T;
    let dst = (b * Tmax + pos + t) * C + c;
    b1[dst] = b3[bt * 3u * C + C + c];
    b2[dst] = b3[bt * 3u * C + 2u * C + c];
  }
}

// Cached attention: b1 out [B, T, C], b2 kCache, b3 vCache, b4 qkv. Query t sees 0 … pos+t.
@compute @workgroup_size(64)
fn attn_cached(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.u0.x; let T = p.u0.y; let C = p.u0.z; let NH = p.u0.w;
  let pos = p.u1.x; let Tmax = p.u1.y;
  let t = g.x;
  if (t >= T) { return; }
  let b = g.y / NH;
  let h = g.y % NH;
  let qo = (b * T + t) * 3u * C + h * HS;
  var q: array<f32, HS>;
  var acc: array<f32, HS>;
  for (var i = 0u; i < HS; i++) { q[i] = b4[qo + i] * p.f0.x; acc[i] = 0.0; }
  var m = -3.402823e38;
  var s = 0.0;
  for (var j = 0u; j <= pos + t; j++) {
    let ko = (b * Tmax + j) * C + h * HS;
    var d = 0.0;
    for (var i = 0u; i < HS; i++) { d += q[i] * b2[ko + i]; }
    let mn = max(m, d);
    let corr = exp(m - mn);
    let e = exp(d - mn);
    s = s * corr + e;
    for (var i = 0u; i < HS; i++) { acc[i] = acc[i] * corr + e * b3[ko + i]; }
    m = mn;
  }
  let oo = (b * T + t) * C + h * HS;
  for (var i = 0u; i < HS; i++) { b1[oo + i] = acc[i] / s; }
}
