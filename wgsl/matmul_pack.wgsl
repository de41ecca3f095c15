// Packs a matmul operand into an rgba32float texture for matmul_tex.wgsl: transposes resolved,
// zero padded to the register tile, so the matmul kernel needs no bounds checks on loads.

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;

// ---- pack: texel (x, y) = X[y, 4x … 4x+3] of the logical R × Cc matrix X (zero outside).
// b1 src, stored [R, Cc], or [Cc, R] when u0.z = 1. u0 = (R, Cc, trans, -), u1 = (texW, texH).
@group(0) @binding(5) var packed: texture_storage_2d<rgba32float, write>;

fn src_at(r: u32, c: u32) -> f32 {
  let R = p.u0.x; let Cc = p.u0.y;
  if (r >= R || c >= Cc) { return 0.0; }
  if (p.u0.z != 0u) { return b1[c * R + r]; }
  return b1[r * Cc + c];
}

@compute @workgroup_size(8, 8)
fn pack(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x >= p.u1.x || g.y >= p.u1.y) { return; }
  let c = g.x * 4u;
  let v = vec4<f32>(src_at(g.y, c), src_at(g.y, c + 1u), src_at(g.y, c + 2u), src_at(g.y, c + 3u));
  textureStore(packed, vec2<u32>(g.x, g.y), v);
}
