// RWKV-4 ops: token shift (+ backward) and the WKV recurrence in its numerically stable form
// (tracks the running maximum exponent, as the reference CUDA kernel), forward and backward.
// x, out, k, v, y [B, T, C]; mix, timeDecay, timeFirst [C]. Bindings and uniforms are
// declared by the host (src/backend/webgpu/rwkv.ts).

const MIN_EXP: f32 = -1e38;

//@kernel token_shift
// out = x·m + x[t−1]·(1 − m), m = mix (or 1 − mix when p.lerp = 1: BlinkDL's RWKV-5+ form);
// position −1 is prev [B, C] when p.hasPrev = 1, else zero.
@compute @workgroup_size(64)
fn token_shift(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let B = p.B; let T = p.T; let C = p.C;
  for (var i = g.x; i < B * T * C; i += nwg.x * 64u) {
    let c = i % C;
    let t = (i / C) % T;
    let b = i / (C * T);
    var before = 0.0;
    if (t > 0u) { before = x[i - C]; } else if (p.hasPrev != 0u) { before = prev[b * C + c]; }
    let m = select(mix[c], 1.0 - mix[c], p.lerp != 0u);
    out[i] = x[i] * m + before * (1.0 - m);
  }
}

//@kernel token_shift_bwd_x
// dx[t] += dout[t]·m + dout[t+1]·(1 − m), m as in token_shift.
@compute @workgroup_size(64)
fn token_shift_bwd_x(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let B = p.B; let T = p.T; let C = p.C;
  for (var i = g.x; i < B * T * C; i += nwg.x * 64u) {
    let c = i % C;
    let t = (i / C) % T;
    let m = select(mix[c], 1.0 - mix[c], p.lerp != 0u);
    var d = dout[i] * m;
    if (t + 1u < T) { d += dout[i + C] * (1.0 - m); }
    dx[i] = dx[i] + d;
  }
}

//@kernel token_shift_bwd_mix
// dmix += Σ dout·(x − x[t−1]) (negated when p.lerp = 1): one invocation per channel, rows in order.
@compute @workgroup_size(64)
fn token_shift_bwd_mix(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.B; let T = p.T; let C = p.C;
  let c = g.x;
  if (c >= C) { return; }
  var acc = 0.0;
  for (var b = 0u; b < B; b++) {
    for (var t = 0u; t < T; t++) {
      let i = (b * T + t) * C + c;
      var before = 0.0;
      if (t > 0u) { before = x[i - C]; } else if (p.hasPrev != 0u) { before = prev[b * C + c]; }
      acc += dout[i] * (x[i] - before);
    }
  }
  dmix[c] = dmix[c] + select(acc, -acc, p.lerp != 0u);
}

//@kernel wkv_forward
// y from k, v, timeDecay (w; the decay is −exp(w)), timeFirst (u). state [B, 3, C] (aa, bb,
// pp) is read and overwritten when p.hasState = 1. One invocation per (b, c).
@compute @workgroup_size(64)
fn wkv_forward(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.B; let T = p.T; let C = p.C;
  let idx = g.x;
  if (idx >= B * C) { return; }
  let b = idx / C;
  let c = idx % C;
  let w = -exp(timeDecay[c]);
  let u = timeFirst[c];
  var aa = 0.0;
  var bb = 0.0;
  var pp = MIN_EXP;
  let so = b * 3u * C + c;
  if (p.hasState != 0u) { aa = state[so]; bb = state[so + C]; pp = state[so + 2u * C]; }
  for (var t = 0u; t < T; t++) {
    let i = (b * T + t) * C + c;
    let kk = k[i];
    let vv = v[i];
    var ww = u + kk;
    var q = max(pp, ww);
    var e1 = exp(pp - q);
    var e2 = exp(ww - q);
    y[i] = (e1 * aa + e2 * vv) / (e1 * bb + e2);
    ww = w + pp;
    q = max(ww, kk);
    e1 = exp(ww - q);
    e2 = exp(kk - q);
    aa = e1 * aa + e2 * vv;
    bb = e1 * bb + e2;
    pp = q;
  }
  if (p.hasState != 0u) { state[so] = aa; state[so + C] = bb; state[so + 2u * C] = pp; }
}

//@kernel wkv_backward
// Backward from a zero state: dw, du, dk, dv (+=) from dy, k, v. scratch holds (y, q, r)
// [3, B, T, C], then copies of timeDecay and timeFirst at p.offW and p.offU (a kernel may use
// only 8 storage bindings). One invocation per channel, batches in order (deterministic sums
// for dw, du).
@compute @workgroup_size(64)
fn wkv_backward(@builtin(global_invocation_id) g: vec3<u32>) {
  let B = p.B; let T = p.T; let C = p.C;
  let c = g.x;
  if (c >= C) { return; }
  let N = B * T * C;
  let w = -exp(scratch[p.offW + c]);
  let u = scratch[p.offU + c];
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
      let kk = k[i];
      let vv = v[i];
      var ww = u + kk;
      var q = max(pp, ww);
      var e1 = exp(pp - q);
      var e2 = exp(ww - q);
      let den = e1 * bb + e2;
      let yy = (e1 * aa + e2 * vv) / den;
      let qq = dy[i] / den;
      gw += (ga - gb * yy) * e1 * qq;
      gu += (vv - yy) * e2 * qq;
      scratch[i] = yy;
      scratch[N + i] = qq;
      scratch[2u * N + i] = ww - q;
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
      let kk = k[i];
      let vv = v[i];
      let yy = scratch[i];
      let qq = scratch[N + i];
      let rr = scratch[2u * N + i];
      var e1 = qq * exp(rr);
      var e2 = exp(kk + pp);
      dk[i] = dk[i] + e1 * (vv - yy) + e2 * (aa * vv + bb);
      dv[i] = dv[i] + e1 + e2 * aa;
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
  dw[c] = dw[c] + gwt;
  du[c] = du[c] + gut;
}
