// Fused AdamW, vec4 form: the first 4·⌊n/4⌋ elements, four at a time (adamw.wgsl does the
// tail and any size). Bindings and parameters as in adamw.wgsl, except norm[0] is read as
// the first lane of a vec4.

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> params: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> grads: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> m: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> v: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> mask: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> norm: array<vec4<f32>>;

@compute @workgroup_size(64)
fn adamw(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let lr = p.f0.x;
  let b1 = p.f0.y;
  let b2 = p.f0.z;
  let eps = p.f0.w;
  let wd = p.f1.x;
  let bc1 = p.f1.y;
  let bc2 = p.f1.z;
  var gs = p.f1.w;
  if (p.u0.z != 0u) {
    let maxNorm = bitcast<f32>(p.u1.x);
    let total = sqrt(norm[0].x);
    if (total > maxNorm) { gs = gs * (maxNorm / total); }
  }
  for (var i = g.x; i < p.u0.x / 4u; i += nwg.x * 64u) {
    let gr = grads[i] * gs;
    let mi = b1 * m[i] + (1.0 - b1) * gr;
    let vi = b2 * v[i] + (1.0 - b2) * gr * gr;
    m[i] = mi;
    v[i] = vi;
    let mhat = mi / bc1;
    let vhat = vi / bc2;
    var decay = vec4<f32>(wd);
    if (p.u0.y != 0u) { decay = wd * mask[i]; }
    let w = params[i];
    params[i] = w - lr * (mhat / (sqrt(vhat) + eps) + decay * w);
  }
}
