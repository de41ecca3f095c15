// Elementwise ops: fill, copy, scale, add, add_into, mul, mul_acc, gelu (+bwd), relu² (+bwd),
// sigmoid (+bwd), swiglu (+bwd). Written once over the element type T (f32, or vec4<f32> for
// the generated vec4 variant): grid-stride loops over the T elements p.begin … p.end − 1. Bindings,
// uniforms and T are declared by the host (src/backend/webgpu/elementwise.ts).

const GELU_S: f32 = 0.7978845608028654; // sqrt(2/pi)

fn stride(nwg: vec3<u32>) -> u32 { return nwg.x * 64u; }

fn tanh_safe(x: T) -> T { return tanh(clamp(x, T(-15.0), T(15.0))); }

fn sigmoid_safe(x: T) -> T { return 1.0 / (1.0 + exp(-clamp(x, T(-80.0), T(80.0)))); }

//@kernel fill
// t = the f32 whose bits are p.bits (i32 tensors are filled through it, bit for bit).
@compute @workgroup_size(64)
fn fill(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) { t[i] = T(bitcast<f32>(p.bits)); }
}

//@kernel copy
@compute @workgroup_size(64)
fn copy(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) { dst[i] = src[i]; }
}

//@kernel scale
@compute @workgroup_size(64)
fn scale(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) { t[i] = t[i] * p.s; }
}

//@kernel add
@compute @workgroup_size(64)
fn add(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) { out[i] = a[i] + b[i]; }
}

//@kernel add_into
@compute @workgroup_size(64)
fn add_into(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) { dst[i] = dst[i] + p.alpha * src[i]; }
}

//@kernel mul
@compute @workgroup_size(64)
fn mul(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) { out[i] = a[i] * b[i]; }
}

//@kernel mul_acc
// acc += a · b (both halves of mul's backward).
@compute @workgroup_size(64)
fn mul_acc(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) { acc[i] = acc[i] + a[i] * b[i]; }
}

//@kernel gelu
@compute @workgroup_size(64)
fn gelu(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) {
    let v = x[i];
    out[i] = 0.5 * v * (1.0 + tanh_safe(GELU_S * (v + 0.044715 * v * v * v)));
  }
}

//@kernel gelu_bwd
// dx += gelu'(x) · dout
@compute @workgroup_size(64)
fn gelu_bwd(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) {
    let v = x[i];
    let t = tanh_safe(GELU_S * (v + 0.044715 * v * v * v));
    let sech2 = 1.0 - t * t;
    let grad = 0.5 * (1.0 + t) + v * 0.5 * sech2 * GELU_S * (1.0 + 3.0 * 0.044715 * v * v);
    dx[i] = dx[i] + grad * dout[i];
  }
}

//@kernel relu2
@compute @workgroup_size(64)
fn relu2(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) {
    let r = max(x[i], T(0.0));
    out[i] = r * r;
  }
}

//@kernel relu2_bwd
@compute @workgroup_size(64)
fn relu2_bwd(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) {
    dx[i] = dx[i] + 2.0 * max(x[i], T(0.0)) * dout[i];
  }
}

//@kernel sigmoid
@compute @workgroup_size(64)
fn sigmoid(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) {
    out[i] = 1.0 / (1.0 + exp(-clamp(x[i], T(-80.0), T(80.0))));
  }
}

//@kernel tanh_fwd
// out = tanh(x) (the argument clamped to ±15, where tanh is ±1 in f32)
@compute @workgroup_size(64)
fn tanh_fwd(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) {
    out[i] = tanh(clamp(x[i], T(-15.0), T(15.0)));
  }
}

//@kernel tanh_bwd
// dx += (1 − y²)·dout
@compute @workgroup_size(64)
fn tanh_bwd(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) {
    let v = y[i];
    dx[i] = dx[i] + (1.0 - v * v) * dout[i];
  }
}

//@kernel sigmoid_bwd
// dx += y·(1−y)·dout
@compute @workgroup_size(64)
fn sigmoid_bwd(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) {
    let v = y[i];
    dx[i] = dx[i] + v * (1.0 - v) * dout[i];
  }
}

//@kernel swiglu
// out = silu(gate) · up, silu(x) = x · sigmoid(x) (Llama's MLP).
@compute @workgroup_size(64)
fn swiglu(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) {
    let a = gate[i];
    out[i] = a * sigmoid_safe(a) * up[i];
  }
}

//@kernel swiglu_bwd
// dgate += dout · up · silu'(gate), silu'(x) = s·(1 + x·(1 − s)); dup += dout · silu(gate).
@compute @workgroup_size(64)
fn swiglu_bwd(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  for (var i = p.begin + g.x; i < p.end; i += stride(nwg)) {
    let a = gate[i];
    let s = sigmoid_safe(a);
    let d = dout[i];
    dgate[i] = dgate[i] + d * up[i] * s * (1.0 + a * (1.0 - s));
    dup[i] = dup[i] + d * a * s;
  }
}
