// Fused softmax + cross-entropy over the vocabulary: losses [N], dlogits [N, V] (when
// p.withGrad = 1, scaled by p.gradScale), logits [N, V], targets (i32) [N]. Negative (or ≥ V)
// targets: loss 0, gradient 0. Written once over the element type T (f32; vec4<f32> when
// V % 4 = 0, generated): rows are V / W elements of T. Bindings, uniforms and T are declared
// by the host (src/backend/webgpu/softmax.ts).

const WG: u32 = 64u;
var<workgroup> red: array<f32, 64>;

//@kernel softmax_xent
// One workgroup per row (GPUs).
@compute @workgroup_size(64)
fn softmax_xent(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) w: vec3<u32>) {
  let row = w.x + w.y * 65535u;
  if (row >= p.N) { return; }
  let VW = p.V / W;
  let base = row * VW;
  var mv = T(-3.402823e38);
  for (var v = l.x; v < VW; v += WG) { mv = max(mv, logits[base + v]); }
  red[l.x] = hmax(mv);
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (l.x < s) { red[l.x] = max(red[l.x], red[l.x + s]); }
    workgroupBarrier();
  }
  let mx = red[0];
  workgroupBarrier();
  var sum = T(0.0);
  for (var v = l.x; v < VW; v += WG) { sum += exp(logits[base + v] - mx); }
  red[l.x] = hsum(sum);
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (l.x < s) { red[l.x] += red[l.x + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  let t = targets[row];
  let valid = t >= 0 && u32(t) < p.V;
  if (l.x == 0u) {
    var loss = 0.0;
    if (valid) { loss = log(total) + mx - lane(logits[base + u32(t) / W], u32(t) % W); }
    losses[row] = loss;
  }
  if (p.withGrad != 0u) {
    let inv = 1.0 / total;
    for (var v = l.x; v < VW; v += WG) {
      var d = T(0.0);
      if (valid) { d = (exp(logits[base + v] - mx) * inv - onehot(v, t)) * p.gradScale; }
      dlogits[base + v] = d;
    }
  }
}

//@kernel softmax_xent_rows
// The same, one invocation per row (no workgroup memory, no barriers): the better fit for CPU
// adapters, where a workgroup runs as one thread and barriers cost context switches.
@compute @workgroup_size(64)
fn softmax_xent_rows(@builtin(global_invocation_id) g: vec3<u32>) {
  let row = g.x + g.y * 65535u * 64u;
  if (row >= p.N) { return; }
  let VW = p.V / W;
  let base = row * VW;
  var mv = T(-3.402823e38);
  for (var v = 0u; v < VW; v++) { mv = max(mv, logits[base + v]); }
  let mx = hmax(mv);
  var sum = T(0.0);
  for (var v = 0u; v < VW; v++) { sum += exp(logits[base + v] - mx); }
  let total = hsum(sum);
  let t = targets[row];
  let valid = t >= 0 && u32(t) < p.V;
  var loss = 0.0;
  if (valid) { loss = log(total) + mx - lane(logits[base + u32(t) / W], u32(t) % W); }
  losses[row] = loss;
  if (p.withGrad != 0u) {
    let inv = 1.0 / total;
    for (var v = 0u; v < VW; v++) {
      var d = T(0.0);
      if (valid) { d = (exp(logits[base + v] - mx) * inv - onehot(v, t)) * p.gradScale; }
      dlogits[base + v] = d;
    }
  }
}
