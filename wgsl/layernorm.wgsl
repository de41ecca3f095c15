// LayerNorm (and RMSNorm, below) over the last dim of x [N, C]: one invocation per row for out and dx (llvmpipe
// vectorises across rows), one per T of columns for the weight/bias gradients, summing rows in
// order. Written once over the element type T (f32; vec4<f32> when C % 4 = 0, generated):
// rows are C / W elements of T, mean and rstd [N] are f32. Bindings, uniforms and T are
// declared by the host (src/backend/webgpu/layernorm.ts).

//@kernel ln_forward
@compute @workgroup_size(64)
fn ln_forward(@builtin(global_invocation_id) g: vec3<u32>) {
  let row = g.x + g.y * 65535u * 64u;
  let CW = p.C / W;
  if (row >= p.N) { return; }
  let base = row * CW;
  var s = T(0.0);
  for (var c = 0u; c < CW; c++) { s += x[base + c]; }
  let m = hsum(s) / f32(p.C);
  var v = T(0.0);
  for (var c = 0u; c < CW; c++) {
    let d = x[base + c] - m;
    v += d * d;
  }
  let r = 1.0 / sqrt(hsum(v) / f32(p.C) + p.eps);
  for (var c = 0u; c < CW; c++) {
    out[base + c] = (x[base + c] - m) * r * w[c] + b[c];
  }
  mean[row] = m;
  rstd[row] = r;
}

//@kernel ln_backward_dx
// dx += the input gradient, one row per invocation.
@compute @workgroup_size(64)
fn ln_backward_dx(@builtin(global_invocation_id) g: vec3<u32>) {
  let row = g.x + g.y * 65535u * 64u;
  let CW = p.C / W;
  if (row >= p.N) { return; }
  let base = row * CW;
  let m = mean[row];
  let r = rstd[row];
  var dnm = T(0.0);
  var dnnm = T(0.0);
  for (var c = 0u; c < CW; c++) {
    let norm = (x[base + c] - m) * r;
    let dn = w[c] * dout[base + c];
    dnm += dn;
    dnnm += dn * norm;
  }
  let m1 = hsum(dnm) / f32(p.C);
  let m2 = hsum(dnnm) / f32(p.C);
  for (var c = 0u; c < CW; c++) {
    let norm = (x[base + c] - m) * r;
    let dn = w[c] * dout[base + c];
    dx[base + c] = dx[base + c] + (dn - m1 - norm * m2) * r;
  }
}

//@kernel ln_backward_dwdb
// dw += Σ_rows norm·dout, db += Σ_rows dout: one invocation per T of columns.
@compute @workgroup_size(64)
fn ln_backward_dwdb(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  let CW = p.C / W;
  if (c >= CW) { return; }
  var gw = T(0.0);
  var gb = T(0.0);
  for (var r = 0u; r < p.N; r++) {
    let d = dout[r * CW + c];
    gw += (x[r * CW + c] - mean[r]) * rstd[r] * d;
    gb += d;
  }
  dw[c] = dw[c] + gw;
  db[c] = db[c] + gb;
}

// RMSNorm (Llama): out = x · rstd · w with rstd = 1/sqrt(mean(x²) + eps), no mean, no bias.
// The same layout as LayerNorm: one invocation per row for out and dx, one per T of columns
// for dw (rows summed in order: deterministic).

//@kernel rms_forward
@compute @workgroup_size(64)
fn rms_forward(@builtin(global_invocation_id) g: vec3<u32>) {
  let row = g.x + g.y * 65535u * 64u;
  let CW = p.C / W;
  if (row >= p.N) { return; }
  let base = row * CW;
  var s = T(0.0);
  for (var c = 0u; c < CW; c++) {
    let v = x[base + c];
    s += v * v;
  }
  let r = 1.0 / sqrt(hsum(s) / f32(p.C) + p.eps);
  for (var c = 0u; c < CW; c++) { out[base + c] = x[base + c] * r * w[c]; }
  rstd[row] = r;
}

//@kernel rms_backward_dx
// dx += r · (w·dout − n · mean(w·dout·n)), n = x·r: one row per invocation.
@compute @workgroup_size(64)
fn rms_backward_dx(@builtin(global_invocation_id) g: vec3<u32>) {
  let row = g.x + g.y * 65535u * 64u;
  let CW = p.C / W;
  if (row >= p.N) { return; }
  let base = row * CW;
  let r = rstd[row];
  var dnn = T(0.0);
  for (var c = 0u; c < CW; c++) { dnn += w[c] * dout[base + c] * x[base + c]; }
  let m = hsum(dnn) * r / f32(p.C);
  for (var c = 0u; c < CW; c++) {
    let n = x[base + c] * r;
    dx[base + c] = dx[base + c] + (w[c] * dout[base + c] - n * m) * r;
  }
}

//@kernel rms_backward_dw
// dw += Σ_rows x·rstd·dout: one invocation per T of columns.
@compute @workgroup_size(64)
fn rms_backward_dw(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  let CW = p.C / W;
  if (c >= CW) { return; }
  var gw = T(0.0);
  for (var r = 0u; r < p.N; r++) { gw += x[r * CW + c] * rstd[r] * dout[r * CW + c]; }
  dw[c] = dw[c] + gw;
}
