// Packs a matmul operand into an rgba32float texture for matmul_tex.wgsl: transposes resolved,
// zero padded to the register tile, so the matmul kernel needs no bounds checks on loads.

// The source is the logical R × Cc matrix X, stored [R, Cc], or [Cc, R] when p.trans = 1;
// the texture is p.texW × p.texH texels. Bindings and uniforms are declared by the host
// (src/backend/webgpu/matmul.ts).

//@kernel pack
// texel (x, y) = X[y, 4x … 4x+3] (zero outside).
fn src_at(r: u32, c: u32) -> f32 {
  let R = p.R; let Cc = p.Cc;
  if (r >= R || c >= Cc) { return 0.0; }
  if (p.trans != 0u) { return src[c * R + r]; }
  return src[r * Cc + c];
}

@compute @workgroup_size(8, 8)
fn pack(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x >= p.texW || g.y >= p.texH) { return; }
  let c = g.x * 4u;
  let v = vec4<f32>(src_at(g.y, c), src_at(g.y, c + 1u), src_at(g.y, c + 2u), src_at(g.y, c + 3u));
  textureStore(packed, vec2<u32>(g.x, g.y), v);
}

//@kernel pack_vec4
// The same for an untransposed source whose rows are whole vec4s (Cc % 4 = 0): one vec4 load
// per texel instead of four bounds-checked scalar loads.
@compute @workgroup_size(8, 8)
fn pack_vec4(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x >= p.texW || g.y >= p.texH) { return; }
  let C4 = p.Cc / 4u;
  var v = vec4<f32>(0.0);
  if (g.y < p.R && g.x < C4) { v = src4[g.y * C4 + g.x]; }
  textureStore(packed, vec2<u32>(g.x, g.y), v);
}

//@kernel pack_t4
// The same for a transposed source ([Cc, R] in memory) with R % 4 = 0: each invocation packs
// the 4 texels (x, 4y … 4y+3) from 4 vec4 loads (a 4×4 block transposed in registers) instead
// of 16 strided scalar loads. Dispatch (ceil(texW / 8), ceil(texH / 32)).
@compute @workgroup_size(8, 8)
fn pack_t4(@builtin(global_invocation_id) g: vec3<u32>) {
  let x = g.x;
  let y0 = g.y * 4u;
  if (x >= p.texW || y0 >= p.texH) { return; }
  let R4 = p.R / 4u;
  let Cc = p.Cc;
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
  if (y0 + 1u < p.texH) { textureStore(packed, vec2<u32>(x, y0 + 1u), vec4<f32>(r0.y, r1.y, r2.y, r3.y)); }
  if (y0 + 2u < p.texH) { textureStore(packed, vec2<u32>(x, y0 + 2u), vec4<f32>(r0.z, r1.z, r2.z, r3.z)); }
  if (y0 + 3u < p.texH) { textureStore(packed, vec2<u32>(x, y0 + 3u), vec4<f32>(r0.w, r1.w, r2.w, r3.w)); }
}
