// Causal multi-head self-attention for head sizes that are multiples of 4 (the common case):
// the same flash-style algorithm as attention.wgsl, but q, k, v, out are read as vec4 and
// every per-head vector lives in named vec4 registers. The host expands each
// `//@REPEAT i < HS4: …` line HS4 times with {i} = 0 … HS4−1 (HS4 = headDim / 4); loops over
// private arrays are spilled to memory on llvmpipe, straight-line code is not.
//
// qkv [B, T, 3C], out [B, T, C] (as vec4, C4 = C / 4), lse and D [B, NH, T] (f32).
// u0 = (B, T, C, NH), f0.x = 1/√headDim. Dispatch: x over T (64 per group), y over B·NH.

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> b1: array<vec4<f32>>; // out / dqkv
@group(0) @binding(2) var<storage, read_write> b2: array<vec4<f32>>; // dout
@group(0) @binding(3) var<storage, read_write> b3: array<vec4<f32>>; // out (backward)
@group(0) @binding(4) var<storage, read_write> lse: array<f32>;
@group(0) @binding(5) var<storage, read_write> qkv: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> dsum: array<f32>; // D = Σ dout·out per row

const HS4: u32 = 8u;

// b1 out, lse, qkv
@compute @workgroup_size(64)
fn attn4_forward(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.u0.x; let T = p.u0.y; let C = p.u0.z; let NH = p.u0.w;
  let t = g.x;
  if (t >= T) { return; }
  let b = g.y / NH;
  let h = g.y % NH;
  let C4 = C / 4u;
  let qo = (b * T + t) * 3u * C4 + h * HS4;
  let scale = p.f0.x;
  //@REPEAT i < HS4: let q{i} = qkv[qo + {i}u] * scale;
  //@REPEAT i < HS4: var acc{i} = vec4<f32>(0.0);
  var m = -3.402823e38;
  var s = 0.0;
  for (var j = 0u; j <= t; j++) {
    let ko = (b * T + j) * 3u * C4 + C4 + h * HS4;
    var d = 0.0;
    //@REPEAT i < HS4: d += dot(q{i}, qkv[ko + {i}u]);
    let mn = max(m, d);
    let corr = exp(m - mn);
    let e = exp(d - mn);
    s = s * corr + e;
    let vo = ko + C4;
    //@REPEAT i < HS4: acc{i} = acc{i} * corr + e * qkv[vo + {i}u];
    m = mn;
  }
  let oo = (b * T + t) * C4 + h * HS4;
  let inv = 1.0 / s;
  //@REPEAT i < HS4: b1[oo + {i}u] = acc{i} * inv;
  lse[(b * NH + h) * T + t] = m + log(s);
}

// dq (and D for the kv pass): b1 dqkv (+=), b2 dout, b3 out, lse, qkv, dsum. Per query row.
@compute @workgroup_size(64)
fn attn4_backward_q(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.u0.x; let T = p.u0.y; let C = p.u0.z; let NH = p.u0.w;
  let scale = p.f0.x;
  let t = g.x;
  if (t >= T) { return; }
  let b = g.y / NH;
  let h = g.y % NH;
  let C4 = C / 4u;
  let qo = (b * T + t) * 3u * C4 + h * HS4;
  let oo = (b * T + t) * C4 + h * HS4;
  //@REPEAT i < HS4: let q{i} = qkv[qo + {i}u] * scale;
  //@REPEAT i < HS4: let go{i} = b2[oo + {i}u];
  //@REPEAT i < HS4: var dq{i} = vec4<f32>(0.0);
  var D = 0.0;
  //@REPEAT i < HS4: D += dot(go{i}, b3[oo + {i}u]);
  let row = (b * NH + h) * T + t;
  dsum[row] = D;
  let l = lse[row];
  for (var j = 0u; j <= t; j++) {
    let ko = (b * T + j) * 3u * C4 + C4 + h * HS4;
    let vo = ko + C4;
    //@REPEAT i < HS4: let k{i} = qkv[ko + {i}u];
    var s = 0.0;
    var dp = 0.0;
    //@REPEAT i < HS4: s += dot(q{i}, k{i});
    //@REPEAT i < HS4: dp += dot(go{i}, qkv[vo + {i}u]);
    let ds = exp(s - l) * (dp - D);
    //@REPEAT i < HS4: dq{i} += ds * k{i};
  }
  //@REPEAT i < HS4: b1[qo + {i}u] += dq{i} * scale;
}

// dk, dv: b1 dqkv (+=), b2 dout, lse, qkv, dsum. One invocation per key row j, queries t ≥ j.
@compute @workgroup_size(64)
fn attn4_backward_kv(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.u0.x; let T = p.u0.y; let C = p.u0.z; let NH = p.u0.w;
  let scale = p.f0.x;
  let j = g.x;
  if (j >= T) { return; }
  let b = g.y / NH;
  let h = g.y % NH;
  let C4 = C / 4u;
  let ko = (b * T + j) * 3u * C4 + C4 + h * HS4;
  let vo = ko + C4;
  //@REPEAT i < HS4: let k{i} = qkv[ko + {i}u] * scale;
  //@REPEAT i < HS4: let v{i} = qkv[vo + {i}u];
  //@REPEAT i < HS4: var dk{i} = vec4<f32>(0.0);
  //@REPEAT i < HS4: var dv{i} = vec4<f32>(0.0);
  for (var t = j; t < T; t++) {
    let qo = (b * T + t) * 3u * C4 + h * HS4;
    let oo = (b * T + t) * C4 + h * HS4;
    let row = (b * NH + h) * T + t;
    //@REPEAT i < HS4: let q{i} = qkv[qo + {i}u];
    //@REPEAT i < HS4: let go{i} = b2[oo + {i}u];
    var s = 0.0;
    var dp = 0.0;
    //@REPEAT i < HS4: s += dot(k{i}, q{i});
    //@REPEAT i < HS4: dp += dot(go{i}, v{i});
    let pr = exp(s - lse[row]);
    let ds = pr * (dp - dsum[row]) * scale;
    //@REPEAT i < HS4: dv{i} += pr * go{i};
    //@REPEAT i < HS4: dk{i} += ds * q{i};
  }
  //@REPEAT i < HS4: b1[ko + {i}u] += dk{i};
  //@REPEAT i < HS4: b1[vo + {i}u] += dv{i};
}
