// Matmul with a block-quantized weight: out[M,N] (=|+=) a[M,K] · Wᵀ (+ bias), W being N rows of
// ggml Q8_0 (34-byte) or Q4_0 (18-byte) blocks of 32 values (p.q4 = 1), stored as i32 words of
// the blocks' little-endian bytes. One invocation per output; dispatch (ceil(N/64), M).
// Bindings and uniforms are declared by the host (src/backend/webgpu/matmul_quant.ts).

//@kernel matmul_quant
fn qbyte(i: u32) -> u32 {
  return (bitcast<u32>(w[i >> 2u]) >> ((i & 3u) * 8u)) & 0xffu;
}

fn scale(o: u32) -> f32 {
  return unpack2x16float(qbyte(o) | (qbyte(o + 1u) << 8u)).x;
}

@compute @workgroup_size(64)
fn matmul_quant(@builtin(global_invocation_id) g: vec3<u32>) {
  let n = g.x;
  let m = g.y;
  if (n >= p.N || m >= p.M) { return; }
  let nb = p.K / 32u;
  let bytes = select(34u, 18u, p.q4 != 0u);
  var acc = 0.0;
  for (var b = 0u; b < nb; b++) {
    let o = (n * nb + b) * bytes;
    let x = m * p.K + b * 32u;
    var s = 0.0;
    if (p.q4 != 0u) {
      for (var j = 0u; j < 16u; j++) {
        let q = qbyte(o + 2u + j);
        s += f32(i32(q & 15u) - 8) * a[x + j] + f32(i32(q >> 4u) - 8) * a[x + j + 16u];
      }
    } else {
      for (var j = 0u; j < 32u; j++) {
        let q = bitcast<i32>(qbyte(o + 2u + j) << 24u) >> 24u;
        s += f32(q) * a[x + j];
      }
    }
    acc += scale(o) * s;
  }
  if (p.hasBias != 0u) { acc += bias[n]; }
  let i = m * p.N + n;
  if (p.accumulate != 0u) { out[i] += acc; } else { out[i] = acc; }
}
