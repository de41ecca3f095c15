// Fused AdamW with decoupled weight decay, a decay mask and an on-device clipping scale:
// params, grads, m, v, decayMask (when p.hasMask = 1), normSquared[0] (when p.clip = 1: gradients
// scaled by min(1, maxNorm / sqrt(normSquared))). Written once over the element type T (f32,
// or vec4<f32> for the generated vec4 variant): a grid-stride loop over the T elements
// p.begin … p.end − 1. Bindings, uniforms and T are declared by the host
// (src/backend/webgpu/optimizer.ts). bc1, bc2 = 1 − beta1^t, 1 − beta2^t.

//@kernel adamw
@compute @workgroup_size(64)
fn adamw(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let lr = p.lr;
  let b1 = p.beta1;
  let b2 = p.beta2;
  let eps = p.eps;
  let wd = p.weightDecay;
  let bc1 = p.bc1;
  let bc2 = p.bc2;
  let hasMask = p.hasMask != 0u;
  var gs = p.gradScale;
  if (p.clip != 0u) {
    let total = sqrt(normSquared[0]);
    if (total > p.maxNorm) { gs = gs * (p.maxNorm / total); }
  }
  let end = p.end;
  for (var i = p.begin + g.x; i < end; i += nwg.x * 64u) {
    let gr = grads[i] * gs;
    let mi = b1 * m[i] + (1.0 - b1) * gr;
    let vi = b2 * v[i] + (1.0 - b2) * gr * gr;
    m[i] = mi;
    v[i] = vi;
    let mhat = mi / bc1;
    let vhat = vi / bc2;
    var decay = T(wd);
    if (hasMask) { decay = wd * decayMask[i]; }
    let w = params[i];
    params[i] = w - lr * (mhat / (sqrt(vhat) + eps) + decay * w);
  }
}
