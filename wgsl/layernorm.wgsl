// LayerNorm over the last dim of x [N, C]: one invocation per row (llvmpipe vectorises across
// rows), and the weight/bias gradients one invocation per column, summing rows in order.

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;
@group(0) @binding(5) var<storage, read_write> b5: array<f32>;
@group(0) @binding(6) var<storage, read_write> b6: array<f32>;
@group(0) @binding(7) var<storage, read_write> b7: array<f32>;

// b1 out, b2 mean, b3 rstd, b4 x, b5 w, b6 b; p.u0.x = N, p.u0.y = C, p.f0.x = eps
@compute @workgroup_size(64)
fn ln_forward(@builtin(global_invocation_id) g: vec3<u32>) {
  let row = g.x + g.y * 65535u * 64u;
  let N = p.u0.x;
  let C = p.u0.y;
  if (row >= N) { return; }
  let base = row * C;
  var s = 0.0;
  for (var c = 0u; c < C; c++) { s += b4[base + c]; }
  let mean = s / f32(C);
  var v = 0.0;
  for (var c = 0u; c < C; c++) {
    let d = b4[base + c] - mean;
    v += d * d;
  }
  let rstd = 1.0 / sqrt(v / f32(C) + p.f0.x);
  for (var c = 0u; c < C; c++) {
    b1[base + c] = (b4[base + c] - mean) * rstd * b5[c] + b6[c];
  }
  b2[row] = mean;
  b3[row] = rstd;
}

// b1 dx (+=), b2 dout, b3 x, b4 w, b5 mean, b6 rstd
@compute @workgroup_size(64)
fn ln_backward_dx(@builtin(global_invocation_id) g: vec3<u32>) {
  let row = g.x + g.y * 65535u * 64u;
  let N = p.u0.x;
  let C = p.u0.y;
  if (row >= N) { return; }
  let base = row * C;
  let mean = b5[row];
  let rstd = b6[row];
  var dnm = 0.0;
  var dnnm = 0.0;
  for (var c = 0u; c < C; c++) {
    let norm = (b3[base + c] - mean) * rstd;
    let dn = b4[c] * b2[base + c];
    dnm += dn;
    dnnm += dn * norm;
  }
  dnm = dnm / f32(C);
  dnnm = dnnm / f32(C);
  for (var c = 0u; c < C; c++) {
    let norm = (b3[base + c] - mean) * rstd;
    let dn = b4[c] * b2[base + c];
    b1[base + c] = b1[base + c] + (dn - dnm - norm * dnnm) * rstd;
  }
}

// b1 dw (+=), b2 db (+=), b3 dout, b4 x, b5 mean, b6 rstd
@compute @workgroup_size(64)
fn ln_backward_dwdb(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  let N = p.u0.x;
  let C = p.u0.y;
  if (c >= C) { return; }
  var dw = 0.0;
  var db = 0.0;
  for (var r = 0u; r < N; r++) {
    let d = b3[r * C + c];
    dw += (b4[r * C + c] - b5[r]) * b6[r] * d;
    db += d;
  }
  b1[c] = b1[c] + dw;
  b2[c] = b2[c] + db;
}
