// Fused AdamW with decoupled weight decay, a decay mask and an on-device clipping scale.
// b1 params, b2 grads, b3 m, b4 v, b5 decay mask (when p.u0.y = 1), b6 normSquared[1] (when
// p.u0.z = 1). Elements p.u0.w … p.u0.x − 1 (the vec4 kernel in adamw_vec4.wgsl does the
// rest when sizes allow); p.u1.x = bits of maxNorm. f0 = (lr, beta1, beta2, eps),
// f1 = (weightDecay, 1 − beta1^t, 1 − beta2^t, gradScale).

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> params: array<f32>;
@group(0) @binding(2) var<storage, read_write> grads: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> mask: array<f32>;
@group(0) @binding(6) var<storage, read_write> norm: array<f32>;

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
    let total = sqrt(norm[0]);
    if (total > maxNorm) { gs = gs * (maxNorm / total); }
  }
  for (var i = p.u0.w + g.x; i < p.u0.x; i += nwg.x * 64u) {
    let gr = grads[i] * gs;
    let mi = b1 * m[i] + (1.0 - b1) * gr;
    let vi = b2 * v[i] + (1.0 - b2) * gr * gr;
    m[i] = mi;
    v[i] = vi;
    let mhat = mi / bc1;
    let vhat = vi / bc2;
    var decay = wd;
    if (p.u0.y != 0u) { decay = wd * mask[i]; }
    let w = params[i];
    params[i] = w - lr * (mhat / (sqrt(vhat) + eps) + decay * w);
  }
}
