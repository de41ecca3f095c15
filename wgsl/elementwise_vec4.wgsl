// Elementwise ops, vec4 form: the same entry points as elementwise.wgsl over the first
// 4·⌊n/4⌋ elements, four at a time (elementwise.wgsl does the tail). n = p.u0.x.

struct P { u0: vec4<u32>, u1: vec4<u32>, f0: vec4<f32>, f1: vec4<f32> }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> a: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> b: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> c: array<vec4<f32>>;

const GELU_S: f32 = 0.7978845608028654; // sqrt(2/pi)

fn stride(nwg: vec3<u32>) -> u32 { return nwg.x * 64u; }

@compute @workgroup_size(64)
fn fill(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = g.x; i < p.u0.x / 4u; i += stride(nwg)) { a[i] = vec4<f32>(p.f0.x); }
}

@compute @workgroup_size(64)
fn copy(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = g.x; i < p.u0.x / 4u; i += stride(nwg)) { a[i] = b[i]; }
}

@compute @workgroup_size(64)
fn scale(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = g.x; i < p.u0.x / 4u; i += stride(nwg)) { a[i] = a[i] * p.f0.x; }
}

@compute @workgroup_size(64)
fn add(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = g.x; i < p.u0.x / 4u; i += stride(nwg)) { a[i] = b[i] + c[i]; }
}

@compute @workgroup_size(64)
fn add_into(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = g.x; i < p.u0.x / 4u; i += stride(nwg)) { a[i] = a[i] + p.f0.x * b[i]; }
}

@compute @workgroup_size(64)
fn mul(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = g.x; i < p.u0.x / 4u; i += stride(nwg)) { a[i] = b[i] * c[i]; }
}

// a += b · c (both halves of mul's backward).
@compute @workgroup_size(64)
fn mul_acc(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = g.x; i < p.u0.x / 4u; i += stride(nwg)) { a[i] = a[i] + b[i] * c[i]; }
}

fn tanh_safe(x: vec4<f32>) -> vec4<f32> { return tanh(clamp(x, vec4<f32>(-15.0), vec4<f32>(15.0))); }

@compute @workgroup_size(64)
fn gelu(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = g.x; i < p.u0.x / 4u; i += stride(nwg)) {
    let x = b[i];
    a[i] = 0.5 * x * (1.0 + tanh_safe(GELU_S * (x + 0.044715 * x * x * x)));
  }
}

// a (dx) += gelu'(b) · c (dout)
@compute @workgroup_size(64)
fn gelu_bwd(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = g.x; i < p.u0.x / 4u; i += stride(nwg)) {
    let x = b[i];
    let t = tanh_safe(GELU_S * (x + 0.044715 * x * x * x));
    let sech2 = 1.0 - t * t;
    let grad = 0.5 * (1.0 + t) + x * 0.5 * sech2 * GELU_S * (1.0 + 3.0 * 0.044715 * x * x);
    a[i] = a[i] + grad * c[i];
  }
}

@compute @workgroup_size(64)
fn relu2(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = g.x; i < p.u0.x / 4u; i += stride(nwg)) {
    let r = max(b[i], vec4<f32>(0.0));
    a[i] = r * r;
  }
}

@compute @workgroup_size(64)
fn relu2_bwd(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = g.x; i < p.u0.x / 4u; i += stride(nwg)) {
    a[i] = a[i] + 2.0 * max(b[i], vec4<f32>(0.0)) * c[i];
  }
}

@compute @workgroup_size(64)
fn sigmoid(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = g.x; i < p.u0.x / 4u; i += stride(nwg)) {
    a[i] = 1.0 / (1.0 + exp(-clamp(b[i], vec4<f32>(-80.0), vec4<f32>(80.0))));
  }
}

// a (dx) += y·(1−y)·dout, b = y
@compute @workgroup_size(64)
fn sigmoid_bwd(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = g.x; i < p.u0.x / 4u; i += stride(nwg)) {
    let y = b[i];
    a[i] = a[i] + y * (1.0 - y) * c[i];
  }
}
