// Matmul with few rows (M ≤ 8: generation, one token at a time): out[M, N] (=|+=) a·op(b)
// (+ bias), reading the weights straight from their buffer as vec4 — no packing, each weight
// loaded once and used for up to 4 rows. K % 4 = 0 (and N % 4 = 0 when b is not transposed).
// Bindings: 1 out (f32), 2 a (f32), 3 b (vec4), 4 bias (f32), 5 a (vec4).
// u0 = (M, N, K, flags): 4 bias, 8 accumulate. Dispatch: x over N (or N/4), y over ⌈M/4⌉.

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> outb: array<f32>;
@group(0) @binding(2) var<storage, read_write> a: array<f32>;
@group(0) @binding(3) var<storage, read_write> b4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> a4: array<vec4<f32>>;

fn put(m: u32, n: u32, v: f32) {
  let M = p.u0.x; let N = p.u0.y; let flags = p.u0.w;
  if (m >= M || n >= N) { return; }
  var x = v;
  if ((flags & 4u) != 0u) { x += bias[n]; }
  if ((flags & 8u) != 0u) { x += outb[m * N + n]; }
  outb[m * N + n] = x;
}

fn hsum(v: vec4<f32>) -> f32 { return v.x + v.y + v.z + v.w; }

// b stored [N, K]: one invocation per output column n, dot products along K.
@compute @workgroup_size(64)
fn matvec_tb(@builtin(global_invocation_id) g: vec3<u32>) {
  let M = p.u0.x; let N = p.u0.y; let K4 = p.u0.z / 4u;
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
    let bv = b4[n * K4 + k];
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

// b stored [K, N]: one invocation per 4 output columns, rows of b read as vec4.
@compute @workgroup_size(64)
fn matvec_nb(@builtin(global_invocation_id) g: vec3<u32>) {
  let M = p.u0.x; let N = p.u0.y; let K = p.u0.z;
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
    let bv = b4[k * N4 + n4];
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
