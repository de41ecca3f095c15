// Fused softmax + cross-entropy, vec4 form for V a multiple of 4 (softmax_xent.wgsl handles
// any V): one workgroup per row, logits and dlogits read and written four at a time.
// b1 losses [N], b2 dlogits [N, V] (when p.u0.z = 1), b3 logits [N, V], b4 targets (i32) [N].
// p.u0.x = N, p.u0.y = V, p.f0.x = gradScale. Negative (or ≥ V) targets: loss 0, gradient 0.

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> losses: array<f32>;
@group(0) @binding(2) var<storage, read_write> dlogits: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> logits: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> targets: array<i32>;

const WG: u32 = 64u;
var<workgroup> red: array<f32, 64>;

fn max4(v: vec4<f32>) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }

@compute @workgroup_size(64)
fn softmax_xent(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) w: vec3<u32>) {
  let row = w.x + w.y * 65535u;
  let N = p.u0.x;
  let V4 = p.u0.y / 4u;
  if (row >= N) { return; }
  let base = row * V4;
  var m = vec4<f32>(-3.402823e38);
  for (var v = l.x; v < V4; v += WG) { m = max(m, logits[base + v]); }
  red[l.x] = max4(m);
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (l.x < s) { red[l.x] = max(red[l.x], red[l.x + s]); }
    workgroupBarrier();
  }
  let mx = red[0];
  workgroupBarrier();
  var sum = vec4<f32>(0.0);
  for (var v = l.x; v < V4; v += WG) { sum += exp(logits[base + v] - mx); }
  red[l.x] = sum.x + sum.y + sum.z + sum.w;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (l.x < s) { red[l.x] += red[l.x + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  let t = targets[row];
  let valid = t >= 0 && u32(t) < p.u0.y;
  if (l.x == 0u) {
    var loss = 0.0;
    if (valid) {
      let tv = logits[base + u32(t) / 4u];
      loss = log(total) + mx - tv[u32(t) % 4u];
    }
    losses[row] = loss;
  }
  if (p.u0.z != 0u) {
    let inv = 1.0 / total;
    let gs = p.f0.x;
    let lanes = vec4<i32>(0, 1, 2, 3);
    for (var v = l.x; v < V4; v += WG) {
      var d = vec4<f32>(0.0);
      if (valid) {
        let onehot = select(vec4<f32>(0.0), vec4<f32>(1.0), lanes + vec4<i32>(i32(v * 4u)) == vec4<i32>(t));
        d = (exp(logits[base + v] - mx) * inv - onehot) * gs;
      }
      dlogits[base + v] = d;
    }
  }
}

// The same, one invocation per row (no workgroup memory, no barriers): the better fit for CPU
// adapters, where a workgroup runs as one thread and barriers cost context switches.
@compute @workgroup_size(64)
fn softmax_xent_rows(@builtin(global_invocation_id) g: vec3<u32>) {
  let row = g.x + g.y * 65535u * 64u;
  let N = p.u0.x;
  let V4 = p.u0.y / 4u;
  if (row >= N) { return; }
  let base = row * V4;
  var m4 = vec4<f32>(-3.402823e38);
  for (var v = 0u; v < V4; v++) { m4 = max(m4, logits[base + v]); }
  let mx = max4(m4);
  var sum = vec4<f32>(0.0);
  for (var v = 0u; v < V4; v++) { sum += exp(logits[base + v] - mx); }
  let total = sum.x + sum.y + sum.z + sum.w;
  let t = targets[row];
  let valid = t >= 0 && u32(t) < p.u0.y;
  var loss = 0.0;
  if (valid) {
    let tv = logits[base + u32(t) / 4u];
    loss = log(total) + mx - tv[u32(t) % 4u];
  }
  losses[row] = loss;
  if (p.u0.z != 0u) {
    let inv = 1.0 / total;
    let gs = p.f0.x;
    let lanes = vec4<i32>(0, 1, 2, 3);
    for (var v = 0u; v < V4; v++) {
      var d = vec4<f32>(0.0);
      if (valid) {
        let onehot = select(vec4<f32>(0.0), vec4<f32>(1.0), lanes + vec4<i32>(i32(v * 4u)) == vec4<i32>(t));
        d = (exp(logits[base + v] - mx) * inv - onehot) * gs;
      }
      dlogits[base + v] = d;
    }
  }
}
