// Token (+ position) embedding and its deterministic backward (fixed summation order).

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> ids: array<i32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;

// b1 out [N, C], ids [N], b3 wte [V, C], b4 wpe [Tmax, C]. u0 = (N, C, T, posOffset), u1.x = V,
// u1.y = has wpe.
@compute @workgroup_size(64)
fn embed(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let N = p.u0.x;
  let C = p.u0.y;
  let total = N * C;
  for (var i = g.x; i < total; i += nwg.x * 64u) {
    let n = i / C;
    let c = i % C;
    let id = ids[n];
    var val = 0.0;
    if (id >= 0 && u32(id) < p.u1.x) { val = b3[u32(id) * C + c]; }
    if (p.u1.y != 0u) { val += b4[(p.u0.w + n % p.u0.z) * C + c]; }
    b1[i] = val;
  }
}

// b1 dwte [V, C] (+=), ids [N], b3 dout [N, C]. One invocation per channel, positions in order.
@compute @workgroup_size(64)
fn embed_bwd_wte(@builtin(global_invocation_id) g: vec3<u32>) {
  let c = g.x;
  let N = p.u0.x;
  let C = p.u0.y;
  if (c >= C) { return; }
  for (var n = 0u; n < N; n++) {
    let id = ids[n];
    if (id >= 0 && u32(id) < p.u1.x) {
      let j = u32(id) * C + c;
      b1[j] = b1[j] + b3[n * C + c];
    }
  }
}

// b1 dwpe [Tmax, C] (+=), b3 dout [N, C]: one invocation per (t, c), batches in order.
@compute @workgroup_size(64)
fn embed_bwd_wpe(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let N = p.u0.x;
  let C = p.u0.y;
  let T = p.u0.z;
  let B = N / T;
  for (var i = g.x; i < T * C; i += nwg.x * 64u) {
    let t = i / C;
    let c = i % C;
    var acc = 0.0;
    for (var b = 0u; b < B; b++) { acc += b3[(b * T + t) * C + c]; }
    b1[i] = b1[i] + acc;
  }
}
