// General matmul for real GPUs (and any shape): out[M,N] (=|+=) op(a)·op(b) (+ bias).
// 64×64 output tile per 16×16 workgroup, 4×4 outputs per invocation, K staged through
// workgroup memory in steps of 16. Bounds-checked, so no size needs to be a tile multiple.
// out (=|+=) op(a)·op(b) (+ bias): p.transA, p.transB, p.hasBias, p.accumulate (0 or 1).
// Bindings and uniforms are declared by the host (src/backend/webgpu/matmul.ts).
// Dispatch: (ceil(N/64), ceil(M/64)).

var<workgroup> As: array<f32, 1024>; // [k][m], 16 × 64
var<workgroup> Bs: array<f32, 1024>; // [k][n], 16 × 64

//@kernel matmul_tiled
fn load_a(m: u32, k: u32) -> f32 {
  let M = p.M; let K = p.K;
  if (m >= M || k >= K) { return 0.0; }
  if (p.transA != 0u) { return a[k * M + m]; }
  return a[m * K + k];
}

fn load_b(k: u32, n: u32) -> f32 {
  let N = p.N; let K = p.K;
  if (n >= N || k >= K) { return 0.0; }
  if (p.transB != 0u) { return b[n * K + k]; }
  return b[k * N + n];
}

@compute @workgroup_size(16, 16)
fn matmul_tiled(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) w: vec3<u32>) {
  let M = p.M; let N = p.N; let K = p.K;
  let hasBias = p.hasBias != 0u; let accumulate = p.accumulate != 0u;
  let m0 = w.y * 64u;
  let n0 = w.x * 64u;
  let tid = l.y * 16u + l.x;
  var acc: array<f32, 16>;
  for (var i = 0u; i < 16u; i++) { acc[i] = 0.0; }
  for (var k0 = 0u; k0 < K; k0 += 16u) {
    for (var r = 0u; r < 4u; r++) {
      let e = tid + r * 256u;
      let kk = e / 64u;
      let mm = e % 64u;
      As[kk * 64u + mm] = load_a(m0 + mm, k0 + kk);
      Bs[kk * 64u + mm] = load_b(k0 + kk, n0 + mm);
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        av[i] = As[kk * 64u + l.y * 4u + i];
        bv[i] = Bs[kk * 64u + l.x * 4u + i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i * 4u + j] += av[i] * bv[j]; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + l.y * 4u + i;
    if (m >= M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + l.x * 4u + j;
      if (n >= N) { continue; }
      var v = acc[i * 4u + j];
      if (hasBias) { v += bias[n]; }
      if (accumulate) { v += out[m * N + n]; }
      out[m * N + n] = v;
    }
  }
}
