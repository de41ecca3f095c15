// RWKV-4 ops: token shift (+ backward) and the WKV recurrence in its numerically stable form
// (tracks the running maximum exponent, as the reference CUDA kernel), forward and backward.

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;
@group(0) @binding(5) var<storage, read_write> b5: array<f32>;
@group(0) @binding(6) var<storage, read_write> b6: array<f32>;
@group(0) @binding(7) var<storage, read_write> b7: array<f32>;
@group(0) @binding(8) var<storage, read_write> b8: array<f32>;

const MIN_EXP: f32 = -1e38;

// b1 out, b2 x, b3 mix, b4 prev [B, C] (when u0.w = 1). u0 = (B, T, C, hasPrev)
@compute @workgroup_size(64)
fn token_shift(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let B = p.u0.x; let T = p.u0.y; let C = p.u0.z;
  for (var i = g.x; i < B * T * C; i += nwg.x * 64u) {
    let c = i % C;
    let t = (i / C) % T;
    let b = i / (C * T);
    var prev = 0.0;
    if (t > 0u) { prev = b2[i - C]; } else if (p.u0.w != 0u) { prev = b4[b * C + c]; }
    let m = b3[c];
    b1[i] = b2[i] * m + prev * (1.0 - m);
  }
}

// b1 dx (+=), b3 mix, b5 dout. dx[t] += dout[t]·mix + dout[t+1]·(1 − mix).
@compute @workgroup_size(64)
fn token_shift_bwd_x(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let B = p.u0.x; let T = p.u0.y; let C = p.u0.z;
  for (var i = g.x; i < B * T * C; i += nwg.x * 64u) {
    let c = i % C;
    let t = (i / C) % T;
    let m = b3[c];
    var d = b5[i] * m;
    if (t + 1u < T) { d += b5[i + C] * (1.0 - m); }
    b1[i] = b1[i] + d;
  }
}

// b6 dmix (+=), b2 x, b4 prev, b5 dout. One invocation per channel, rows in order.
@compute @workgroup_size(64)
fn token_shift_bwd_mix(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.u0.x; let T = p.u0.y; let C = p.u0.z;
  let c = g.x;
  if (c >= C) { return; }
  var acc = 0.0;
  for (var b = 0u; b < B; b++) {
    for (var t = 0u; t < T; t++) {
      let i = (b * T + t) * C + c;
      var prev = 0.0;
      if (t > 0u) { prev = b2[i - C]; } else if (p.u0.w != 0u) { prev = b4[b * C + c]; }
      acc += b5[i] * (b2[i] - prev);
    }
  }
  b6[c] = b6[c] + acc;
}

// b1 y, b2 k, b3 v, b4 timeDecay, b5 timeFirst, b6 state [B, 3, C] (when u0.w = 1).
// One invocation per (b, c). u0 = (B, T, C, hasState)
@compute @workgroup_size(64)
fn wkv_forward(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.u0.x; let T = p.u0.y; let C = p.u0.z;
  let idx = g.x;
  if (idx >= B * C) { return; }
  let b = idx / C;
  let c = idx % C;
  let w = -exp(b4[c]);
  let u = b5[c];
  var aa = 0.0;
  var bb = 0.0;
  var pp = MIN_EXP;
  let so = b * 3u * C + c;
  if (p.u0.w != 0u) { aa = b6[so]; bb = b6[so + C]; pp = b6[so + 2u * C]; }
  for (var t = 0u; t < T; t++) {
    let i = (b * T + t) * C + c;
    let kk = b2[i];
    let vv = b3[i];
    var ww = u + kk;
    var q = max(pp, ww);
    var e1 = exp(pp - q);
    var e2 = exp(ww - q);
    b1[i] = (e1 * aa + e2 * vv) / (e1 * bb + e2);
    ww = w + pp;
    q = max(ww, kk);
    e1 = exp(ww - q);
    e2 = exp(kk - q);
    aa = e1 * aa + e2 * vv;
    bb = e1 * bb + e2;
    pp = q;
  }
  if (p.u0.w != 0u) { b6[so] = aa; b6[so + C] = bb; b6[so + 2u * C] = pp; }
}

// Backward from a zero state. b1 dw (+=), b2 du (+=), b3 dk (+=), b4 dv (+=), b5 dy, b6 k, b7 v,
// b8 scratch [3, B, T, C] for (y, q, r), then timeDecay, timeFirst packed after it:
// u1.x = offset of timeDecay in b8, u1.y = offset of timeFirst. One invocation per channel,
// batches in order (deterministic sums for dw, du).
@compute @workgroup_size(64)
fn wkv_backward(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.u0.x; let T = p.u0.y; let C = p.u0.z;
  let c = g.x;
  if (c >= C) { return; }
  let N = B * T * C;
  let w = -exp(b8[p.u1.x + c]);
  let u = b8[p.u1.y + c];
  var gwt = 0.0;
  var gut = 0.0;
  for (var b = 0u; b < B; b++) {
    var gw = 0.0;
    var gu = 0.0;
    var aa = 0.0;
    var bb = 0.0;
    var ga = 0.0;
    var gb = 0.0;
    var pp = MIN_EXP;
    for (var t = 0u; t < T; t++) {
      let i = (b * T + t) * C + c;
      let kk = b6[i];
      let vv = b7[i];
      var ww = u + kk;
      var q = max(pp, ww);
      var e1 = exp(pp - q);
      var e2 = exp(ww - q);
      let den = e1 * bb + e2;
      let yy = (e1 * aa + e2 * vv) / den;
      let qq = b5[i] / den;
      gw += (ga - gb * yy) * e1 * qq;
      gu += (vv - yy) * e2 * qq;
      b8[i] = yy;
      b8[N + i] = qq;
      b8[2u * N + i] = ww - q;
      ww = w + pp;
      q = max(ww, kk);
      e1 = exp(ww - q);
      e2 = exp(kk - q);
      ga = e1 * (aa + ga);
      gb = e1 * (bb + gb);
      aa = e1 * aa + e2 * vv;
      bb = e1 * bb + e2;
      pp = q;
    }
    gwt += gw * w;
    gut += gu;
    aa = 0.0;
    bb = 0.0;
    pp = MIN_EXP;
    for (var tt = 0u; tt < T; tt++) {
      let t = T - 1u - tt;
      let i = (b * T + t) * C + c;
      let kk = b6[i];
      let vv = b7[i];
      let yy = b8[i];
      let qq = b8[N + i];
      let rr = b8[2u * N + i];
      var e1 = qq * exp(rr);
      var e2 = exp(kk + pp);
      b3[i] = b3[i] + e1 * (vv - yy) + e2 * (aa * vv + bb);
      b4[i] = b4[i] + e1 + e2 * aa;
      let ww = w + pp;
      let www = rr - u - kk;
      let q = max(ww, www);
      e1 = exp(ww - q);
      e2 = qq * exp(www - q);
      aa = e1 * aa + e2;
      bb = e1 * bb - yy * e2;
      pp = q;
    }
  }
  b1[c] = b1[c] + gwt;
  b2[c] = b2[c] + gut;
}
