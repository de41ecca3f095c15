// LayerNorm, vec4 form for C a multiple of 4 (layernorm.wgsl handles any C): one invocation
// per row for out/dx, one per 4 columns for dw/db. Bindings: 1, 4, 5, 6 vec4 tensors; 2 and 3
// the scalar mean and rstd [N].

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> b1: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> b5: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> b6: array<vec4<f32>>;

fn hsum(v: vec4<f32>) -> f32 { return v.x + v.y + v.z + v.w; }

// b1 out, b2 mean, b3 rstd, b4 x, b5 w, b6 b; p.u0.x = N, p.u0.y = C, p.f0.x = eps
@compute @workgroup_size(64)
fn ln4_forward(@builtin(global_invocation_id) g: vec3<u32>) {
  let row = g.x + g.y * 65535u * 64u;
  let N = p.u0.x;
  let C4 = p.u0.y / 4u;
  if (row >= N) { return; }
  let base = row * C4;
  var s = vec4<f32>(0.0);
  for (var c = 0u; c < C4; c++) { s += b4[base + c]; }
  let mean = hsum(s) / f32(p.u0.y);
  var v = vec4<f32>(0.0);
  for (var c = 0u; c < C4; c++) {
    let d = b4[base + c] - mean;
    v += d * d;
  }
  let rstd = 1.0 / sqrt(hsum(v) / f32(p.u0.y) + p.f0.x);
  for (var c = 0u; c < C4; c++) {
    b1[base + c] = (b4[base + c] - mean) * rstd * b5[c] + b6[c];
  }
  b2[row] = mean;
  b3[row] = rstd;
}

// b1 dx (+=), b2 mean, b3 rstd, b4 w, b5 dout, b6 x
@compute @workgroup_size(64)
fn ln4_backward_dx(@builtin(global_invocation_id) g: vec3<u32>) {
  let row = g.x + g.y * 65535u * 64u;
  let N = p.u0.x;
  let C4 = p.u0.y / 4u;
  if (row >= N) { return; }
  let base = row * C4;
  let mean = b2[row];
  let rstd = b3[row];
  var dnm = vec4<f32>(0.0);
  var dnnm = vec4<f32>(0.0);
  for (var c = 0u; c < C4; c++) {
    let norm = (b6[base + c] - mean) * rstd;
    let dn = b4[c] * b5[base + c];
    dnm += dn;
    dnnm += dn * norm;
  }
  let m1 = hsum(dnm) / f32(p.u0.y);
  let m2 = hsum(dnnm) / f32(p.u0.y);
  for (var c = 0u; c < C4; c++) {
    let norm = (b6[base + c] - mean) * rstd;
    let dn = b4[c] * b5[base + c];
    b1[base + c] = b1[base + c] + (dn - m1 - norm * m2) * rstd;
  }
}

// b1 dw (+=), b2 mean, b3 rstd, b4 db (+=), b5 dout, b6 x: one invocation per 4 columns.
@compute @workgroup_size(64)
fn ln4_backward_dwdb(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  let N = p.u0.x;
  let C4 = p.u0.y / 4u;
  if (c >= C4) { return; }
  var dw = vec4<f32>(0.0);
  var db = vec4<f32>(0.0);
  for (var r = 0u; r < N; r++) {
    let d = b5[r * C4 + c];
    dw += (b6[r * C4 + c] - b2[r]) * b3[r] * d;
    db += d;
  }
  b1[c] = b1[c] + dw;
  b4[c] = b4[c] + db;
}
