// Rotary position embeddings as Hugging Face applies them (`rotate_half`): in each of the first
// rotated heads of a row, element i and i + half (half = headDim / 2) rotate by the angle of
// (position, i): out_i = x_i·cos − x_{i+half}·sin, out_{i+half} = x_{i+half}·cos + x_i·sin.
// The columns after the rotated heads are copied (p.rest = 0 when out is x itself).
// Written once over the element type T (f32; vec4<f32> when half and the row width are
// multiples of 4, generated): every size below is in T elements. x, out [rows, rowW], rows =
// B·T with position t = row % T (+ p.pos); cosTab, sinTab [Tmax, half]. One invocation owns a
// pair (or a copied T), so out may be x (in place). Bindings, uniforms and T are declared by
// the host (src/backend/webgpu/rope.ts).
// Dispatch: a grid-stride loop over rows · (pairs + rest) items.

fn stride(nwg: vec3<u32>) -> u32 { return nwg.x * 64u; }

//@kernel rope_forward
@compute @workgroup_size(64)
fn rope_forward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let items = p.pairs + p.rest;
  for (var i = g.x; i < p.rows * items; i += stride(nwg)) {
    let row = i / items;
    let k = i % items;
    let base = row * p.rowW;
    if (k < p.pairs) {
      let j = k % p.half;
      let lo = base + (k / p.half) * 2u * p.half + j;
      let hi = lo + p.half;
      let a = (row % p.T + p.pos) * p.half + j;
      let c = cosTab[a];
      let s = sinTab[a];
      let x0 = x[lo];
      let x1 = x[hi];
      out[lo] = x0 * c - x1 * s;
      out[hi] = x1 * c + x0 * s;
    } else {
      let o = base + 2u * p.pairs + k - p.pairs;
      out[o] = x[o];
    }
  }
}

//@kernel rope_backward
// dx += Rᵀ·dout on the rotated heads, dx += dout on the rest.
@compute @workgroup_size(64)
fn rope_backward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let items = p.pairs + p.rest;
  for (var i = g.x; i < p.rows * items; i += stride(nwg)) {
    let row = i / items;
    let k = i % items;
    let base = row * p.rowW;
    if (k < p.pairs) {
      let j = k % p.half;
      let lo = base + (k / p.half) * 2u * p.half + j;
      let hi = lo + p.half;
      let a = (row % p.T + p.pos) * p.half + j;
      let c = cosTab[a];
      let s = sinTab[a];
      let g0 = dout[lo];
      let g1 = dout[hi];
      dx[lo] = dx[lo] + g0 * c + g1 * s;
      dx[hi] = dx[hi] + g1 * c - g0 * s;
    } else {
      let o = base + 2u * p.pairs + k - p.pairs;
      dx[o] = dx[o] + dout[o];
    }
  }
}
