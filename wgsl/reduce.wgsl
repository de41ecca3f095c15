// Reductions: sum and sum of squares into a 1-element tensor, column sums (bias gradients),
// row argmax and top-k of a vector. Deterministic: fixed per-thread order, fixed tree.
// Bindings and uniforms are declared by the host (src/backend/webgpu/reduce.ts).

var<workgroup> red: array<f32, 256>;
var<workgroup> redi: array<i32, 256>;

//@kernel sum_partial
// Stage 1 of a large sum: workgroup w sums (or sums the squares of) its contiguous chunk of
// p.chunk elements of x[0 … p.n) into partials[w].
@compute @workgroup_size(256)
fn sum_partial(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) w: vec3<u32>) {
  var acc = 0.0;
  let sq = p.square != 0u;
  let start = w.x * p.chunk;
  let end = min(start + p.chunk, p.n);
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
  if (l.x == 0u) { partials[w.x] = red[0]; }
}

//@kernel sum_all
// out[0] (=|+=) Σ x[i] (or Σ x[i]²) in one workgroup (small inputs, and stage 2 of a large
// sum over the stage-1 partials).
@compute @workgroup_size(256)
fn sum_all(@builtin(local_invocation_id) l: vec3<u32>) {
  var acc = 0.0;
  let sq = p.square != 0u;
  for (var i = l.x; i < p.n; i += 256u) {
    let v = x[i];
    acc += select(v, v * v, sq);
  }
  red[l.x] = acc;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (l.x < s) { red[l.x] += red[l.x + s]; }
    workgroupBarrier();
  }
  if (l.x == 0u) { out[0] = select(0.0, out[0], p.accumulate != 0u) + red[0]; }
}

//@kernel sum_rows
// out[n] (=|+=) Σ_m x[m, n] over x [M, N].
@compute @workgroup_size(64)
fn sum_rows(@builtin(global_invocation_id) g: vec3<u32>) {
  let n = g.x;
  if (n >= p.N) { return; }
  var acc = 0.0;
  for (var m = 0u; m < p.M; m++) { acc += x[m * p.N + n]; }
  out[n] = select(0.0, out[n], p.accumulate != 0u) + acc;
}

//@kernel argmax_rows
// out[r] = argmax x[r, :] (first index on ties) over x [rows, V]. One workgroup per row.
@compute @workgroup_size(64)
fn argmax_rows(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) w: vec3<u32>) {
  let r = w.x + w.y * 65535u;
  if (r >= p.rows) { return; }
  let V = p.V;
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
  if (l.x == 0u) { out[r] = max(redi[0], 0); }
}

//@kernel top_k
// The k largest of x[0..n) into values and indices (descending; ties by lower index first).
@compute @workgroup_size(256)
fn top_k(@builtin(local_invocation_id) l: vec3<u32>) {
  let n = p.n;
  var pv = 3.402823e38;
  var pi = -1;
  for (var j = 0u; j < p.k; j++) {
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
      values[j] = pv;
      indices[j] = pi;
    }
    workgroupBarrier();
  }
}
