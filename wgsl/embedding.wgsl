// Token (+ position) embedding and its deterministic backward (fixed summation order).
// ids (i32) [N] of N = B·T tokens, wte [V, C], wpe [Tmax, C]. Bindings and uniforms are
// declared by the host (src/backend/webgpu/embedding.ts).

//@kernel embed
// out [N, C] = wte[ids] (+ wpe[posOffset + n % T] when p.hasWpe = 1).
@compute @workgroup_size(64)
fn embed(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let C = p.C;
  let total = p.N * C;
  for (var i = g.x; i < total; i += nwg.x * 64u) {
    let n = i / C;
    let c = i % C;
    let id = ids[n];
    var val = 0.0;
    if (id >= 0 && u32(id) < p.V) { val = wte[u32(id) * C + c]; }
    if (p.hasWpe != 0u) { val += wpe[(p.posOffset + n % p.T) * C + c]; }
    out[i] = val;
  }
}

//@kernel embed_bwd_wte
// dwte [V, C] += dout rows by id: one invocation per channel, positions in order.
@compute @workgroup_size(64)
fn embed_bwd_wte(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  let C = p.C;
  if (c >= C) { return; }
  for (var n = 0u; n < p.N; n++) {
    let id = ids[n];
    if (id >= 0 && u32(id) < p.V) {
      let j = u32(id) * C + c;
      dwte[j] = dwte[j] + dout[n * C + c];
    }
  }
}

//@kernel embed_bwd_wpe
// dwpe [Tmax, C] += Σ_b dout[b, t]: one invocation per (t, c), batches in order.
@compute @workgroup_size(64)
fn embed_bwd_wpe(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let C = p.C;
  let T = p.T;
  let B = p.N / T;
  for (var i = g.x; i < T * C; i += nwg.x * 64u) {
    let t = i / C;
    let c = i % C;
    var acc = 0.0;
    for (var b = 0u; b < B; b++) { acc += dout[(b * T + t) * C + c]; }
    dwpe[i] = dwpe[i] + acc;
  }
}
