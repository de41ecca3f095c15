// Reductions: sum and sum of squares into a 1-element tensor, column sums (bias gradients),
// row argmax and top-k of a vector. Deterministic: fixed per-thread order, fixed tree.

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> idx: array<i32>;

var<workgroup> red: array<f32, 256>;
var<workgroup> redi: array<i32, 256>;

// Stage 1 of a large sum: workgroup w sums (or sums the squares of) its contiguous chunk of
// p.u0.w elements of x[0 … p.u0.x) into out[w]. p.u0.z = square.
@compute @workgroup_size(256)
fn sum_partial(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) w: vec3<u32>) {
  var acc = 0.0;
  let sq = p.u0.z != 0u;
  let start = w.x * p.u0.w;
  let end = min(start + p.u0.w, p.u0.x);
  for (var i = start + l.x; i < end; i += 256u) {
    let v = x[i];
    acc += select(v, v * v, sq);
  }
  red[l.x] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (l.x < s) { red[l.x] += red[l.x + s]; }
    workgroupBarrier();
  }
  if (l.x == 0u) { out[w.x] = red[0]; }
}

// out[0] (=|+=) Σ x[i] (or Σ x[i]², p.u0.z = 1) in one workgroup (small inputs, and stage 2
// of a large sum over the stage-1 partials). p.u0.x = n, p.u0.y = accumulate.
@compute @workgroup_size(256)
fn sum_all(@builtin(local_invocation_id) l: vec3<u32>) {
  var acc = 0.0;
  let sq = p.u0.z != 0u;
  for (var i = l.x; i < p.u0.x; i += 256u) {
    let v = x[i];
    acc += select(v, v * v, sq);
  }
  red[l.x] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (l.x < s) { red[l.x] += red[l.x + s]; }
    workgroupBarrier();
  }
  if (l.x == 0u) { out[0] = select(0.0, out[0], p.u0.y != 0u) + red[0]; }
}

// out[n] (=|+=) Σ_m x[m, n]; p.u0.x = M, p.u0.y = N, p.u0.z = accumulate
@compute @workgroup_size(64)
fn sum_rows(@builtin(global_invocation_id) g: vec3<u32>) {
  let n = g.x;
  if (n >= p.u0.y) { return; }
  var acc = 0.0;
  for (var m = 0u; m < p.u0.x; m++) { acc += x[m * p.u0.y + n]; }
  out[n] = select(0.0, out[n], p.u0.z != 0u) + acc;
}

// idx[r] = argmax x[r, :] (first index on ties); p.u0.x = rows, p.u0.y = V. One workgroup per row.
@compute @workgroup_size(64)
fn argmax_rows(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) w: vec3<u32>) {
  let r = w.x + w.y * 65535u;
  if (r >= p.u0.x) { return; }
  let V = p.u0.y;
  var best = -3.402823e38;
  var bi = -1;
  for (var v = l.x; v < V; v += 64u) {
    let val = x[r * V + v];
    if (bi < 0 || val > best) { best = val; bi = i32(v); }
  }
  red[l.x] = best;
  redi[l.x] = bi;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (l.x < s) {
      let ov = red[l.x + s];
      let oi = redi[l.x + s];
      if (oi >= 0 && (redi[l.x] < 0 || ov > red[l.x] || (ov == red[l.x] && oi < redi[l.x]))) {
        red[l.x] = ov;
        redi[l.x] = oi;
      }
    }
    workgroupBarrier();
  }
  if (l.x == 0u) { idx[r] = max(redi[0], 0); }
}

// The k largest of x[0..n) (descending; ties by lower index first). p.u0.x = n, p.u0.y = k.
@compute @workgroup_size(256)
fn top_k(@builtin(local_invocation_id) l: vec3<u32>) {
  let n = p.u0.x;
  var pv = 3.402823e38;
  var pi = -1;
  for (var j = 0u; j < p.u0.y; j++) {
    var best = -3.402823e38;
    var bi = -1;
    for (var v = l.x; v < n; v += 256u) {
      let val = x[v];
      let iv = i32(v);
      // strictly after (pv, pi) in (value desc, index asc) order
      let after = val < pv || (val == pv && iv > pi);
      if (after && (bi < 0 || val > best)) { best = val; bi = iv; }
    }
    red[l.x] = best;
    redi[l.x] = bi;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s >>= 1u) {
      if (l.x < s) {
        let ov = red[l.x + s];
        let oi = redi[l.x + s];
        if (oi >= 0 && (redi[l.x] < 0 || ov > red[l.x] || (ov == red[l.x] && oi < redi[l.x]))) {
          red[l.x] = ov;
          redi[l.x] = oi;
        }
      }
      workgroupBarrier();
    }
    pv = red[0];
    pi = redi[0];
    if (l.x == 0u) {
      out[j] = pv;
      idx[j] = pi;
    }
    workgroupBarrier();
  }
}
