// Matmul for CPU adapters (llvmpipe): both operands were packed into rgba32float textures by
// matmul_pack.wgsl (transposes resolved, zero padded), and each invocation computes a
// TM × 4·TN4 register tile from textureLoads — no workgroup memory, no barriers (LLVMPIPE.md).
//
// This file is a template: the host expands the `//@` lines into straight-line code for the
// chosen tile (one named vec4 accumulator per 4 outputs, so they stay in registers — loops
// over private arrays end up in memory on llvmpipe) and substitutes the workgroup size.
//
// b1 out [M, N], b2 bias [N]; At: texel (k4, m) = A[m, 4k4 … 4k4+3]; Bt: texel (n4, k) =
// B[k, 4n4 … 4n4+3]. u0 = (M, N, K4, flags): 4 bias, 8 accumulate.

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var At: texture_2d<f32>;
@group(0) @binding(4) var Bt: texture_2d<f32>;

fn store4(m: u32, n4: u32, v: vec4<f32>) {
  let M = p.u0.x; let N = p.u0.y; let flags = p.u0.w;
  if (m >= M) { return; }
  for (var e = 0u; e < 4u; e++) {
    let n = n4 * 4u + e;
    if (n < N) {
      var x = v[e];
      if ((flags & 4u) != 0u) { x += b2[n]; }
      if ((flags & 8u) != 0u) { x += b1[m * N + n]; }
      b1[m * N + n] = x;
    }
  }
}

@compute @workgroup_size(WGX, WGY)
fn matmul_tex(@builtin(global_invocation_id) g: vec3<u32>) {
  let M = p.u0.x; let N = p.u0.y; let K4 = p.u0.z;
  let c4 = g.x * TN4u;
  let r0 = g.y * TMu;
  if (r0 >= M || c4 * 4u >= N) { return; }
  //@DECLARE
  for (var k4 = 0u; k4 < K4; k4++) {
    let k = 4u * k4;
    //@LOAD_B
    //@MULTIPLY
  }
  //@STORE
}
