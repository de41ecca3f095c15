// Rotary position embeddings as Hugging Face applies them (`rotate_half`): in each of the first
// rotated heads of a row, element i and i + half (half = headDim / 2) rotate by the angle of
// (position, i): out_i = x_i·cos − x_{i+half}·sin, out_{i+half} = x_{i+half}·cos + x_i·sin.
// The columns after the rotated heads are copied (p.rest = 0 when out is x itself).
// Written once over the element type T (f32; vec4<f32> when half and the row width are
// multiples of 4, generated): every size below is in T elements, HALF (a constant, so that
// splitting an item into head and pair is no runtime division) too. x, out [B, T, rowW];
// cosTab, sinTab [Tmax, HALF]; position p.pos + t. One invocation owns a pair (or a copied
// T), so out may be x (in place). Bindings, uniforms and HALF are declared by the host
// (src/backend/webgpu/rope.ts).
// Dispatch: x over the p.pairs + p.rest items of a row, y over t (workgroups of 8 × 8: rows
// are short, and llvmpipe vectorises along x in eights), z over b.

//@kernel rope_forward
@compute @workgroup_size(8, 8)
fn rope_forward(@builtin(global_invocation_id) g: vec3<u32>) {
  let k = g.x;
  if (k >= p.pairs + p.rest || g.y >= p.T) { return; }
  let base = (g.z * p.T + g.y) * p.rowW;
  if (k < p.pairs) {
    let head = k / HALF;
    let j = k - head * HALF;
    let lo = base + head * 2u * HALF + j;
    let hi = lo + HALF;
    let a = (g.y + p.pos) * HALF + j;
    let c = cosTab[a];
    let s = sinTab[a];
    let x0 = x[lo];
    let x1 = x[hi];
    out[lo] = x0 * c - x1 * s;
    out[hi] = x1 * c + x0 * s;
  } else {
    let o = base + p.pairs + k;
    out[o] = x[o];
  }
}

//@kernel rope_backward
// dx += Rᵀ·dout on the rotated heads, dx += dout on the rest.
@compute @workgroup_size(8, 8)
fn rope_backward(@builtin(global_invocation_id) g: vec3<u32>) {
  let k = g.x;
  if (k >= p.pairs + p.rest || g.y >= p.T) { return; }
  let base = (g.z * p.T + g.y) * p.rowW;
  if (k < p.pairs) {
    let head = k / HALF;
    let j = k - head * HALF;
    let lo = base + head * 2u * HALF + j;
    let hi = lo + HALF;
    let a = g.y * HALF + j;
    let c = cosTab[a];
    let s = sinTab[a];
    let g0 = dout[lo];
    let g1 = dout[hi];
    dx[lo] = dx[lo] + g0 * c + g1 * s;
    dx[hi] = dx[hi] + g1 * c - g0 * s;
  } else {
    let o = base + p.pairs + k;
    dx[o] = dx[o] + dout[o];
  }
}
