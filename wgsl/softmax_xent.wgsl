// Fused softmax + cross-entropy over the vocabulary: one workgroup per row.
// b1 losses [N], b2 dlogits [N, V] (when p.u0.z = 1), b3 logits [N, V], b4 targets (i32) [N].
// p.u0.x = N, p.u0.y = V, p.f0.x = gradScale. Negative (or ≥ V) targets: loss 0, gradient 0.

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(3) var<storage, read_write> logits: array<f32>;
@group(0) @binding(4) var<storage, read_write> targets: array<i32>;

const WG: u32 = 64u;
var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn softmax_xent(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) w: vec3<u32>) {
  let row = w.x + w.y * 65535u;
  let N = p.u0.x;
  let V = p.u0.y;
  if (row >= N) { return; }
  let base = row * V;
  var m = -3.402823e38;
  for (var v = l.x; v < V; v += WG) { m = max(m, logits[base + v]); }
  red[l.x] = m;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (l.x < s) { red[l.x] = max(red[l.x], red[l.x + s]); }
    workgroupBarrier();
  }
  let mx = red[0];
  workgroupBarrier();
  var sum = 0.0;
  for (var v = l.x; v < V; v += WG) { sum += exp(logits[base + v] - mx); }
  red[l.x] = sum;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (l.x < s) { red[l.x] += red[l.x + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  let t = targets[row];
  let valid = t >= 0 && u32(t) < V;
  if (l.x == 0u) {
    var loss = 0.0;
    if (valid) { loss = log(total) + mx - logits[base + u32(t)]; }
    losses[row] = loss;
  }
  if (p.u0.z != 0u) {
    let inv = 1.0 / total;
    let gs = p.f0.x;
    for (var v = l.x; v < V; v += WG) {
      var d = 0.0;
      if (valid) {
        d = exp(logits[base + v] - mx) * inv;
        if (i32(v) == t) { d -= 1.0; }
        d *= gs;
      }
      dlogits[base + v] = d;
    }
  }
}
