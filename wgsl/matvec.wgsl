// Matmul with few rows (M ≤ 8: generation, one token at a time): out[M, N] (=|+=) a·op(b)
// (+ bias), reading the weights straight from their buffer as vec4 — no packing, each weight
// loaded once and used for up to 4 rows. K % 4 = 0 (and N % 4 = 0 when b is not transposed).
// out [M, N], a [M, K] (as f32, and as vec4 rows a4), b as vec4, bias [N]; p.hasBias,
// p.accumulate (0 or 1). Bindings and uniforms are declared by the host
// (src/backend/webgpu/matmul.ts). Dispatch: x over N (or N/4), y over ⌈M/4⌉.

fn put(m: u32, n: u32, v: f32) {
  let M = p.M; let N = p.N; let hasBias = p.hasBias != 0u; let accumulate = p.accumulate != 0u;
  if (m >= M || n >= N) { return; }
  var x = v;
  if (hasBias) { x += bias[n]; }
  if (accumulate) { x += out[m * N + n]; }
  out[m * N + n] = x;
}

fn hsum(v: vec4<f32>) -> f32 { return v.x + v.y + v.z + v.w; }

//@kernel matvec_tb
// b stored [N, K]: one invocation per output column n, dot products along K.
@compute @workgroup_size(64)
fn matvec_tb(@builtin(global_invocation_id) g: vec3<u32>) {
  let M = p.M; let N = p.N; let K4 = p.K / 4u;
  let n = g.x;
  if (n >= N) { return; }
  let m0 = g.y * 4u;
  let r0 = min(m0, M - 1u) * K4;
  let r1 = min(m0 + 1u, M - 1u) * K4;
  let r2 = min(m0 + 2u, M - 1u) * K4;
  let r3 = min(m0 + 3u, M - 1u) * K4;
  var s0 = vec4<f32>(0.0);
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  var s3 = vec4<f32>(0.0);
  for (var k = 0u; k < K4; k++) {
    let bv = b[n * K4 + k];
    s0 += a4[r0 + k] * bv;
    s1 += a4[r1 + k] * bv;
    s2 += a4[r2 + k] * bv;
    s3 += a4[r3 + k] * bv;
  }
  put(m0, n, hsum(s0));
  put(m0 + 1u, n, hsum(s1));
  put(m0 + 2u, n, hsum(s2));
  put(m0 + 3u, n, hsum(s3));
}

//@kernel matvec_nb
// b stored [K, N]: one invocation per 4 output columns, rows of b read as vec4.
@compute @workgroup_size(64)
fn matvec_nb(@builtin(global_invocation_id) g: vec3<u32>) {
  let M = p.M; let N = p.N; let K = p.K;
  let N4 = N / 4u;
  let n4 = g.x;
  if (n4 >= N4) { return; }
  let m0 = g.y * 4u;
  let r0 = min(m0, M - 1u) * K;
  let r1 = min(m0 + 1u, M - 1u) * K;
  let r2 = min(m0 + 2u, M - 1u) * K;
  let r3 = min(m0 + 3u, M - 1u) * K;
  var s0 = vec4<f32>(0.0);
  var s1 = vec4<f32>(0.0);
  var s2 = vec4<f32>(0.0);
  var s3 = vec4<f32>(0.0);
  for (var k = 0u; k < K; k++) {
    let bv = b[k * N4 + n4];
    s0 += a[r0 + k] * bv;
    s1 += a[r1 + k] * bv;
    s2 += a[r2 + k] * bv;
    s3 += a[r3 + k] * bv;
  }
  for (var e = 0u; e < 4u; e++) {
    put(m0, n4 * 4u + e, s0[e]);
    put(m0 + 1u, n4 * 4u + e, s1[e]);
    put(m0 + 2u, n4 * 4u + e, s2[e]);
    put(m0 + 3u, n4 * 4u + e, s3[e]);
  }
}
