// Matmul for CPU adapters (llvmpipe): both operands were packed into rgba32float textures by
// matmul_pack.wgsl (transposes resolved, zero padded), and each invocation computes a
// TM × 4·TN4 register tile from textureLoads — no workgroup memory, no barriers (LLVMPIPE.md).
//
// This file is a template: the host expands the `//@` lines into straight-line code for the
// chosen tile (one named vec4 accumulator per 4 outputs, so they stay in registers — loops
// over private arrays end up in memory on llvmpipe).
//
// out [M, N], bias [N]; At: texel (k4, m) = A[m, 4k4 … 4k4+3]; Bt: texel (n4, k) =
// B[k, 4n4 … 4n4+3]. p.hasBias, p.accumulate (0 or 1). Bindings, uniforms and the tile
// constants TM, TN4, WGX, WGY are declared by the host (src/backend/webgpu/matmul.ts).

//@kernel matmul_tex
fn store4(m: u32, n4: u32, v: vec4<f32>) {
  let M = p.M; let N = p.N; let hasBias = p.hasBias != 0u; let accumulate = p.accumulate != 0u;
  if (m >= M) { return; }
  for (var e = 0u; e < 4u; e++) {
    let n = n4 * 4u + e;
    if (n < N) {
      var x = v[e];
      if (hasBias) { x += bias[n]; }
      if (accumulate) { x += out[m * N + n]; }
      out[m * N + n] = x;
    }
  }
}

@compute @workgroup_size(WGX, WGY)
fn matmul_tex(@builtin(global_invocation_id) g: vec3<u32>) {
  let M = p.M; let N = p.N; let K4 = p.K4;
  let c4 = g.x * TN4;
  let r0 = g.y * TM;
  if (r0 >= M || c4 * 4u >= N) { return; }
  //@DECLARE
  for (var k4 = 0u; k4 < K4; k4++) {
    let k = 4u * k4;
    //@LOAD_B
    //@MULTIPLY
  }
  //@STORE
}
