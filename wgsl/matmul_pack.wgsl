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

// The same for an untransposed source whose rows are whole vec4s (Cc % 4 = 0): one vec4 load
// per texel instead of four bounds-checked scalar loads. b3 src as vec4 (b1, b2 unused).
@group(0) @binding(3) var<storage, read_write> src4: array<vec4<f32>>;

@compute @workgroup_size(8, 8)
fn pack_vec4(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x >= p.u1.x || g.y >= p.u1.y) { return; }
  let C4 = p.u0.y / 4u;
  var v = vec4<f32>(0.0);
  if (g.y < p.u0.x && g.x < C4) { v = src4[g.y * C4 + g.x]; }
  textureStore(packed, vec2<u32>(g.x, g.y), v);
}

// The same for a transposed source ([Cc, R] in memory) with R % 4 = 0: each invocation packs
// the 4 texels (x, 4y … 4y+3) from 4 vec4 loads (a 4×4 block transposed in registers) instead
// of 16 strided scalar loads. b3 src as vec4. Dispatch (ceil(texW / 8), ceil(texH / 32)).
@compute @workgroup_size(8, 8)
fn pack_t4(@builtin(global_invocation_id) g: vec3<u32>) {
  let x = g.x;
  let y0 = g.y * 4u;
  if (x >= p.u1.x || y0 >= p.u1.y) { return; }
  let R4 = p.u0.x / 4u;
  let Cc = p.u0.y;
  let c = x * 4u;
  var r0 = vec4<f32>(0.0);
  var r1 = vec4<f32>(0.0);
  var r2 = vec4<f32>(0.0);
  var r3 = vec4<f32>(0.0);
  // rE = src row c+E, elements y0 … y0+3 (= X[y0 … y0+3, c+E])
  if (g.y < R4) {
    if (c < Cc) { r0 = src4[c * R4 + g.y]; }
    if (c + 1u < Cc) { r1 = src4[(c + 1u) * R4 + g.y]; }
    if (c + 2u < Cc) { r2 = src4[(c + 2u) * R4 + g.y]; }
    if (c + 3u < Cc) { r3 = src4[(c + 3u) * R4 + g.y]; }
  }
  textureStore(packed, vec2<u32>(x, y0), vec4<f32>(r0.x, r1.x, r2.x, r3.x));
  if (y0 + 1u < p.u1.y) { textureStore(packed, vec2<u32>(x, y0 + 1u), vec4<f32>(r0.y, r1.y, r2.y, r3.y)); }
  if (y0 + 2u < p.u1.y) { textureStore(packed, vec2<u32>(x, y0 + 2u), vec4<f32>(r0.z, r1.z, r2.z, r3.z)); }
  if (y0 + 3u < p.u1.y) { textureStore(packed, vec2<u32>(x, y0 + 3u), vec4<f32>(r0.w, r1.w, r2.w, r3.w)); }
}
